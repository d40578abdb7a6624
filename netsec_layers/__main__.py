"""``python -m netsec_layers`` is the ``netsec`` command."""

from netsec_layers.cli.main import main

raise SystemExit(main())
