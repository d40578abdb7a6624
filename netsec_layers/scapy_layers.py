"""Module registered with Scapy's extension loader (``conf.exts.load("netsec-layers")``).

Scapy loads it as ``scapy.layers.netsec``; it exposes every netsec layer and binds them.
"""

from netsec_layers.layers.all import *  # noqa: F403
from netsec_layers.layers.all import bind_netsec_layers

bind_netsec_layers()
