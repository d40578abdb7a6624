"""Every netsec Scapy layer in one import, plus the switch that makes Scapy use them.

``bind_netsec_layers()`` makes ``rdpcap``/``sniff``/``PcapReader`` dissect TLS (recognised by
content on any TCP port) and ESP/AH/NAT-T with netsec's layers; ``unbind_netsec_layers()``
restores Scapy's own behaviour. ``from netsec_layers import *`` calls the first one.
"""

from __future__ import annotations

from typing import Any

from netsec_layers.layers.dtls import *  # noqa: F403
from netsec_layers.layers.dtls import __all__ as _dtls_all
from netsec_layers.layers.dtls.bind import bind_dtls, unbind_dtls
from netsec_layers.layers.ike import *  # noqa: F403
from netsec_layers.layers.ike import __all__ as _ike_all
from netsec_layers.layers.ike import bind_ike, unbind_ike
from netsec_layers.layers.ipsec import *  # noqa: F403
from netsec_layers.layers.ipsec import __all__ as _ipsec_all
from netsec_layers.layers.ipsec import bind_ipsec, unbind_ipsec
from netsec_layers.layers.openpgp import *  # noqa: F403
from netsec_layers.layers.openpgp import __all__ as _openpgp_all
from netsec_layers.layers.tls import *  # noqa: F403
from netsec_layers.layers.tls import __all__ as _tls_all
from netsec_layers.layers.tls.bind import bind_tls, unbind_tls


def fast_dissect(data: bytes, cls: Any = None) -> Any:
    """``cls(data)`` (default ``Ether``) built by :mod:`netsec_layers.layers.fast`: the same
    Scapy objects, 2-4x faster."""
    from netsec_layers.layers.fast import dissect

    return dissect(data, cls)


def fast_rdpcap(source: Any, count: int = -1) -> Any:
    """``rdpcap(source, count)`` with the packets built by :func:`fast_dissect`."""
    from netsec_layers.layers.fast import fast_rdpcap as _read

    return _read(source, count)


def bind_netsec_layers() -> None:
    """Dissect TLS (any TCP port, by content), ESP/AH/UDP-4500, IKE (UDP 500) and DTLS (any
    UDP port, by content) with netsec layers."""
    bind_tls()
    bind_ipsec()
    bind_ike()
    bind_dtls()


def unbind_netsec_layers() -> None:
    """Undo :func:`bind_netsec_layers`: Scapy's built-in layers dissect again."""
    unbind_tls()
    unbind_ipsec()
    unbind_ike()
    unbind_dtls()


__all__ = [
    *_tls_all,
    *_ipsec_all,
    *_ike_all,
    *_dtls_all,
    *_openpgp_all,
    "bind_netsec_layers",
    "fast_dissect",
    "fast_rdpcap",
    "unbind_netsec_layers",
]
