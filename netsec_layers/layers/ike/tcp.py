"""TCP encapsulation of IKE and ESP (RFC 9329, formerly RFC 8229) as Scapy layers.

The initiator's stream starts with the 6-byte prefix ``IKETCP`` (§3.1); then, in both
directions, each message is a 16-bit Length (counting itself) followed by either the 4-byte
non-ESP marker and an IKE message, or an ESP packet (SPI first, never zero), or one 0xFF byte
(a NAT-keepalive, §3.1).  :func:`dissect_iketcp_stream` splits a direction's bytes into
:class:`IKETCPFrame` packets; the IKE inside dissects with :class:`IKE` (IKEv2 or ISAKMP).
"""

from __future__ import annotations

from typing import Any

from scapy.fields import ShortField, XIntField
from scapy.packet import Packet, Raw

from netsec_layers.layers.ike._common import IKEUndecoded
from netsec_layers.layers.ike.bind import IKE

__all__ = ["IKETCP_PREFIX", "IKETCPFrame", "IKETCPNonESP", "dissect_iketcp_stream"]

IKETCP_PREFIX = b"IKETCP"
MAX_FRAMES = 4096


class IKETCPNonESP(Packet):
    """The four zero bytes before an IKE message (RFC 9329 §3.1)."""

    name = "IKETCP non-ESP marker"
    fields_desc = [XIntField("non_esp_marker", 0)]

    def guess_payload_class(self, payload: bytes) -> Any:
        return IKE


class IKETCPFrame(Packet):
    """One length-framed message of an IKETCP stream (RFC 9329 §3.1)."""

    name = "IKETCP frame"
    fields_desc = [ShortField("length", None)]

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        if self.length is None:
            p = (2 + len(pay)).to_bytes(2, "big")
        return p + pay

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        n = max(0, (self.length or 0) - 2)
        return s[:n], s[n:]

    def guess_payload_class(self, payload: bytes) -> Any:
        if payload[:4] == b"\0\0\0\0" and len(payload) >= 4:
            return IKETCPNonESP
        return Raw  # ESP (opaque here) or the 0xFF keepalive


def dissect_iketcp_stream(data: bytes, *, initiator: bool) -> list[Packet]:
    """Frames of one direction's bytes (``initiator``: the direction that starts with the
    ``IKETCP`` prefix, which is returned as a :class:`Raw` first).  Bytes that cannot be a
    frame (a Length below 2 or beyond the data) end the list as :class:`IKEUndecoded`."""
    out: list[Packet] = []
    pos = 0
    if initiator:
        if data[:6] != IKETCP_PREFIX:
            return [IKEUndecoded(data, reason="no IKETCP prefix")]
        out.append(Raw(IKETCP_PREFIX))
        pos = 6
    while pos < len(data) and len(out) < MAX_FRAMES:
        if pos + 2 > len(data):
            out.append(IKEUndecoded(data[pos:], reason="partial IKETCP length"))
            break
        n = int.from_bytes(data[pos : pos + 2], "big")
        if n < 2 or pos + n > len(data):
            out.append(IKEUndecoded(data[pos:], reason=f"IKETCP length {n} invalid"))
            break
        out.append(IKETCPFrame(data[pos : pos + n]))
        pos += n
    return out
