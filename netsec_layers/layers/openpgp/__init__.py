"""OpenPGP (RFC 4880, RFC 9580) as Scapy layers: packet headers and every packet body.

``dissect_packets(data)`` splits a binary packet sequence into :class:`PGPPacket` layers (an
undecodable tail becomes :class:`PGPUndecoded` with a reason, never an exception);
``bytes(p)`` of each gives the input back byte for byte.  Armor, decryption and verification
live outside the layers (:mod:`netsec_layers.crypto.openpgp_armor`,
:mod:`netsec_layers.session.openpgp`).
"""

from __future__ import annotations

from scapy.packet import Packet, Padding, Raw

from netsec_layers.layers.openpgp.bodies import *  # noqa: F403
from netsec_layers.layers.openpgp.fields import PGPMPI, PGPS2K
from netsec_layers.layers.openpgp.packet import BODY_CLASSES, Framing, PGPPacket, PGPUndecoded

MAX_PACKETS = 100_000


def dissect_packets(data: bytes, *, max_packets: int = MAX_PACKETS) -> list[Packet]:
    """Every packet of ``data``; garbage ends the list as one :class:`PGPUndecoded`."""
    out: list[Packet] = []
    rest = bytes(data)
    while rest:
        reason = ""
        if len(out) >= max_packets:
            reason = f"more than {max_packets} packets"
        elif not rest[0] & 0x80:
            reason = f"octet 0x{rest[0]:02x} is not a packet header"
        if reason:
            u = PGPUndecoded(rest)
            u.reason = reason
            out.append(u)
            break
        try:
            p = PGPPacket(rest)
        except Exception as exc:  # noqa: BLE001 - a layer never raises on bad bytes
            u = PGPUndecoded(rest)
            u.reason = f"dissector error: {type(exc).__name__}"
            out.append(u)
            break
        fr = p.framing
        used = len(rest)
        if not (fr.truncated or fr.indeterminate):
            used = 1 + sum(len(h) for h in fr.headers) + fr.total
        rest = rest[used:]
        if rest:  # the stream's next packets are the last Padding layer Scapy attached
            pads = [lay for lay in p.iterpayloads() if isinstance(lay, Padding)]
            if pads and pads[-1].underlayer is not None and bytes(pads[-1].load) == rest:
                pads[-1].underlayer.remove_payload()
        out.append(p)
    return out


def undecoded_reason(p: Packet) -> str | None:
    """Why ``p`` (a :class:`PGPPacket`) was not fully dissected, or None."""
    if isinstance(p, PGPUndecoded):
        return p.reason
    fr = p.framing if isinstance(p, PGPPacket) else None
    if fr is not None and fr.truncated:
        return "packet length runs past the data"
    if isinstance(p.payload, Raw) and p.tag in BODY_CLASSES:
        return "body does not parse"
    return None


# aliases with the protocol in the name, for `from netsec_layers import *`
dissect_openpgp = dissect_packets
openpgp_undecoded_reason = undecoded_reason
PGPFraming = Framing

__all__ = [
    "PGPFraming",
    "PGPMPI",
    "PGPPacket",
    "PGPS2K",
    "PGPUndecoded",
    "dissect_openpgp",
    "openpgp_undecoded_reason",
    *[c.__name__ for c in BODY_CLASSES.values()],
]
