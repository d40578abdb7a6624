"""Every netsec Scapy layer in one import, plus the switch that makes Scapy use them.

``bind_netsec_layers()`` makes ``rdpcap``/``sniff``/``PcapReader`` dissect TLS (recognised by
content on any TCP port) and ESP/AH/NAT-T with netsec's layers; ``unbind_netsec_layers()``
restores Scapy's own behaviour. ``from netsec_layers import *`` calls the first one.
"""

from __future__ import annotations

from netsec_layers.layers.ipsec import *  # noqa: F403
from netsec_layers.layers.ipsec import __all__ as _ipsec_all
from netsec_layers.layers.ipsec import bind_ipsec, unbind_ipsec
from netsec_layers.layers.tls import *  # noqa: F403
from netsec_layers.layers.tls import __all__ as _tls_all
from netsec_layers.layers.tls.bind import bind_tls, unbind_tls


def bind_netsec_layers() -> None:
    """Dissect TLS (any TCP port, by content) and ESP/AH/UDP-4500 with netsec layers."""
    bind_tls()
    bind_ipsec()


def unbind_netsec_layers() -> None:
    """Undo :func:`bind_netsec_layers`: Scapy's built-in layers dissect again."""
    unbind_tls()
    unbind_ipsec()


__all__ = [*_tls_all, *_ipsec_all, "bind_netsec_layers", "unbind_netsec_layers"]
