"""A small, bounded IKE message parser on bytes for the tracker (no Scapy on the hot path).

It reads what key derivation needs: the header, the payload chain (type, offsets), SA
proposals and transforms, nonces, KE, Notify and SKF fields.  Every length is checked against
the bytes present; a malformed message raises :class:`ParseError` (never anything else).
The Scapy layers in :mod:`netsec_layers.layers.ike` are the full dissection.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from netsec_layers.errors import ParseError, TruncatedError

__all__ = [
    "IKEHeader",
    "Payload",
    "Proposal",
    "Transform",
    "parse_header",
    "parse_payloads",
    "parse_sa",
]

_HDR = struct.Struct("!8s8sBBBBII")
HEADER_LEN = 28
MAX_PAYLOADS = 512  # far more than any real message; bounds hostile chains


@dataclass(frozen=True, slots=True)
class IKEHeader:
    spi_i: bytes
    spi_r: bytes
    next_payload: int
    version: int  # major version (1 or 2)
    minor: int
    exchange_type: int
    flags: int
    message_id: int
    length: int

    @property
    def is_response(self) -> bool:
        return bool(self.flags & 0x20)

    @property
    def from_initiator(self) -> bool:
        """IKEv2 §3.1 Initiator bit: set in messages sent by the original initiator."""
        return bool(self.flags & 0x08)


@dataclass(frozen=True, slots=True)
class Payload:
    ptype: int
    next_payload: int
    offset: int  # of the generic header within the message
    length: int  # whole payload incl. header

    def body(self, msg: bytes) -> bytes:
        return msg[self.offset + 4 : self.offset + self.length]


@dataclass(frozen=True, slots=True)
class Transform:
    ttype: int
    tid: int
    key_bits: int | None


@dataclass(slots=True)
class Proposal:
    number: int
    protocol: int
    spi: bytes
    transforms: list[Transform] = field(default_factory=list)

    def get(self, ttype: int) -> Transform | None:
        return next((t for t in self.transforms if t.ttype == ttype), None)


def parse_header(msg: bytes) -> IKEHeader:
    if len(msg) < HEADER_LEN:
        raise TruncatedError(f"IKE message of {len(msg)} bytes shorter than its header")
    spi_i, spi_r, nxt, ver, ex, flags, mid, length = _HDR.unpack_from(msg)
    if length < HEADER_LEN:
        raise ParseError(f"IKE length {length} < 28")
    if length > len(msg):
        raise TruncatedError(f"IKE length {length} > {len(msg)} bytes present")
    return IKEHeader(spi_i, spi_r, nxt, ver >> 4, ver & 15, ex, flags, mid, length)


def parse_payloads(msg: bytes, first: int, start: int, end: int) -> list[Payload]:
    """The chain of generic payload headers from ``start`` to ``end``.

    SK (46) and SKF (53) end the chain (their next_payload names the first inner payload)."""
    out: list[Payload] = []
    ptype, pos = first, start
    while ptype != 0:
        if len(out) >= MAX_PAYLOADS:
            raise ParseError("too many payloads")
        if pos + 4 > end:
            raise TruncatedError(f"payload type {ptype} header beyond the message")
        nxt = msg[pos]
        length = int.from_bytes(msg[pos + 2 : pos + 4], "big")
        if length < 4 or pos + length > end:
            raise ParseError(f"payload type {ptype} has bad length {length}")
        out.append(Payload(ptype, nxt, pos, length))
        pos += length
        if ptype in (46, 53):
            break
        ptype = nxt
    if pos != end and not (out and out[-1].ptype in (46, 53)):
        raise ParseError(f"{end - pos} bytes after the last payload")
    return out


def parse_sa(body: bytes) -> list[Proposal]:
    """Proposals of an IKEv2 SA payload body (RFC 7296 §3.3)."""
    out: list[Proposal] = []
    pos = 0
    while pos < len(body):
        if pos + 8 > len(body):
            raise TruncatedError("proposal header beyond the SA payload")
        last, _, plen, num, proto, spi_size, ntrans = struct.unpack_from("!BBHBBBB", body, pos)
        if plen < 8 + spi_size or pos + plen > len(body):
            raise ParseError(f"proposal length {plen} invalid")
        spi = body[pos + 8 : pos + 8 + spi_size]
        prop = Proposal(num, proto, spi)
        tpos, tend = pos + 8 + spi_size, pos + plen
        while tpos < tend:
            if tpos + 8 > tend:
                raise TruncatedError("transform header beyond the proposal")
            _, _, tlen, ttype, _, tid = struct.unpack_from("!BBHBBH", body, tpos)
            if tlen < 8 or tpos + tlen > tend:
                raise ParseError(f"transform length {tlen} invalid")
            key_bits = None
            apos = tpos + 8
            while apos + 4 <= tpos + tlen:
                atype, aval = struct.unpack_from("!HH", body, apos)
                if atype & 0x8000:
                    if atype & 0x7FFF == 14:
                        key_bits = aval
                    apos += 4
                else:
                    apos += 4 + aval
            prop.transforms.append(Transform(ttype, tid, key_bits))
            tpos += tlen
        if len(prop.transforms) > 255:
            raise ParseError("too many transforms")
        out.append(prop)
        pos += plen
        if last == 0:
            break
    return out


def notify_fields(body: bytes) -> tuple[int, int, bytes, bytes]:
    """(protocol_id, notify_type, spi, data) of a Notify body (RFC 7296 §3.10)."""
    if len(body) < 4:
        raise TruncatedError("Notify body shorter than 4 bytes")
    proto, spi_size, ntype = struct.unpack_from("!BBH", body)
    if 4 + spi_size > len(body):
        raise TruncatedError("Notify SPI beyond the payload")
    return proto, ntype, body[4 : 4 + spi_size], body[4 + spi_size :]


__all__ += ["HEADER_LEN", "notify_fields"]
