"""IKE as Scapy layers: IKEv2 (RFC 7296, RFC 7383) and IKEv1/ISAKMP (RFC 2408/2409)."""

from __future__ import annotations

from netsec_layers.layers.ike.bind import IKE, bind_ike, unbind_ike
from netsec_layers.layers.ike.tcp import (
    IKETCP_PREFIX,
    IKETCPFrame,
    IKETCPNonESP,
    dissect_iketcp_stream,
)
from netsec_layers.layers.ike.v1 import *  # noqa: F403
from netsec_layers.layers.ike.v1 import __all__ as _v1_all
from netsec_layers.layers.ike.v2 import *  # noqa: F403
from netsec_layers.layers.ike.v2 import __all__ as _v2_all

__all__ = [
    *_v2_all,
    *_v1_all,
    "IKE",
    "IKETCP_PREFIX",
    "IKETCPFrame",
    "IKETCPNonESP",
    "bind_ike",
    "dissect_iketcp_stream",
    "unbind_ike",
]
