"""Module registered with Scapy's extension loader (``conf.exts.load("netsec-layers")``).

Scapy loads it as ``scapy.layers.netsec``; it exposes every netsec layer and binds them.  Its
``__all__`` (what ``load_layer("netsec")`` and ``from scapy.layers.netsec import *`` give) leaves
Scapy's own names (``ESP``, ``AH``, ``ISAKMP``) to Scapy and adds netsec's as ``NetsecESP`` …
(the module attributes ``ESP`` … are netsec's, as before).  Every netsec Packet class is listed
under this module's name in ``conf.layers.ldict`` so that ``explore("netsec")`` shows them.
"""

from netsec_layers import NETSEC_PREFIX, SCAPY_KEEPS
from netsec_layers.interactive import register_for_explore
from netsec_layers.layers.all import *  # noqa: F403
from netsec_layers.layers.all import __all__ as _layers_all
from netsec_layers.layers.all import bind_netsec_layers

bind_netsec_layers()

for _name in SCAPY_KEEPS:
    if _name in _layers_all:
        globals()[NETSEC_PREFIX + _name] = globals()[_name]

__all__ = [NETSEC_PREFIX + n if n in SCAPY_KEEPS else n for n in _layers_all]  # noqa: PLE0605

register_for_explore()
