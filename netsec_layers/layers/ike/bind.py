"""Make Scapy dissect UDP port 500 with the netsec IKE layers (IKEv2 or ISAKMP by version).

:class:`IKE` is a dispatcher: ``IKE(b)`` returns an :class:`IKEv2` for major version 2, an
:class:`ISAKMP` for version 1 (byte 17 of the header), :class:`IKETruncated` below 28 bytes.
:func:`bind_ike` puts ``UDP 500 -> IKE`` ahead of Scapy's own ISAKMP binding; :func:`unbind_ike`
removes it.  Importing this module changes nothing.
"""

from __future__ import annotations

from typing import Any

from scapy.layers.inet import UDP
from scapy.packet import Packet

from netsec_layers.layers.ike._common import IKETruncated
from netsec_layers.layers.ike.v1 import ISAKMP
from netsec_layers.layers.ike.v2 import IKEv2

__all__ = ["IKE", "IKE_PORT", "bind_ike", "is_bound", "unbind_ike"]

IKE_PORT = 500


class IKE(Packet):
    """Chooses IKEv2 or ISAKMP from the header's major version (never instantiated itself)."""

    name = "IKE"

    @classmethod
    def dispatch_hook(cls, _pkt: bytes | None = None, *args: Any, **kw: Any) -> type[Packet]:
        if _pkt is None or len(_pkt) < 28:
            return IKETruncated if _pkt is not None else IKEv2
        return ISAKMP if _pkt[17] >> 4 == 1 else IKEv2


_OURS = [({"dport": IKE_PORT}, IKE), ({"sport": IKE_PORT}, IKE)]


def bind_ike() -> None:
    """UDP 500 dissects as :class:`IKE` (ahead of ``scapy.layers.isakmp``).  Idempotent."""
    unbind_ike()
    UDP.payload_guess = [*_OURS, *UDP.payload_guess]


def is_bound() -> bool:
    """Whether :func:`bind_ike` is in effect (the NAT-T marker then hands IKE to :class:`IKE`)."""
    return any(u is IKE for _f, u in UDP.payload_guess)


def unbind_ike() -> None:
    """Remove what :func:`bind_ike` installed; Scapy's own bindings are untouched."""
    kept = [(f, u) for f, u in UDP.payload_guess if u is not IKE]
    if len(kept) != len(UDP.payload_guess):
        UDP.payload_guess = kept
