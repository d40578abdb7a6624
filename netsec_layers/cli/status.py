"""Exit statuses of every ``netsec`` command (README: "Exit statuses").

- 0 ``DONE``: the command did its job on the whole input.
- 1 ``INCOMPLETE``: it ran to the end, but the input was cut short (a truncated capture: tshark
  exits 2 there, netsec 1, since everything that was there was processed and written), or there
  was nothing it could do (nothing decrypted, no key to export, no IP packet to encrypt, bad
  lines in a key log).  Outputs are written, except where the command says otherwise
  (``keys export`` with no key writes no file).
- 2 ``FAILED``: a usage error or an I/O error (bad option, missing or unreadable file, output
  directory missing, a key that does not load, a capture that is not one).  No output file is
  left behind.
- 130 ``INTERRUPTED``: Ctrl-C (SIGINT), 143 ``TERMINATED``: SIGTERM; no output file is left
  behind.
"""

from __future__ import annotations

DONE = 0
INCOMPLETE = 1
FAILED = 2
INTERRUPTED = 130
TERMINATED = 143


def epilog(incomplete: str) -> str:
    """The ``--help`` epilog of a command; ``incomplete`` says when that command exits 1."""
    return (
        "exit status: 0 done; 1 done, but "
        + incomplete
        + "; 2 usage or I/O error (no output file is left); 130/143 interrupted/terminated."
    )


CUT_SHORT = "the capture was cut short (tshark exits 2 there)"
