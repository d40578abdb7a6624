"""AH ICV input (RFC 4302 §3.3.3.1): the IP packet with mutable fields zeroed, on bytes.

IPv4 (§3.3.3.1.1): TOS, flags + fragment offset, TTL and header checksum are zeroed; options
listed immutable in Appendix A.1 are kept, every other option is zeroed whole; with loose or
strict source routing the destination address is the final one (mutable but predictable).
IPv6 (§3.3.3.1.2): traffic class, flow label and hop limit are zeroed; in Hop-by-Hop and
Destination Options headers before AH, the data of options whose type has the "may change"
bit (0x20) set is zeroed.  Routing headers are kept as sent (type 0 is deprecated; RFC 5095).
The ICV itself is zeroed; alignment padding after it is covered as sent (§3.3.3.2.1).
"""

from __future__ import annotations

from netsec_layers.errors import ParseError, TruncatedError

__all__ = ["IPV4_IMMUTABLE_OPTIONS", "ah_icv_input", "find_ah"]

#: RFC 4302 Appendix A.1: immutable IPv4 options (EOL, NOP, Security, Extended Security,
#: Commercial Security, Router Alert, Sender Directed Multi-Destination Delivery).
IPV4_IMMUTABLE_OPTIONS = frozenset({0, 1, 130, 133, 134, 148, 149})
_LSRR, _SSRR = 131, 137
_V6_SKIP = (0, 43, 44, 60)  # Hop-by-Hop, Routing, Fragment, Destination Options


def find_ah(packet: bytes | bytearray | memoryview) -> int:
    """Offset of the AH header in an IPv4/IPv6 packet; ParseError if there is none."""
    if len(packet) < 20:
        raise TruncatedError("IP packet shorter than 20 bytes")
    version = packet[0] >> 4
    if version == 4:
        if packet[9] != 51:
            raise ParseError("IPv4 packet does not carry AH")
        off = (packet[0] & 0x0F) * 4
        if off < 20 or off > len(packet):
            raise ParseError("bad IPv4 header length")
        return off
    if version != 6:
        raise ParseError(f"IP version {version}")
    return _walk_v6(packet)[-1][1]


def _walk_v6(packet: bytes | bytearray | memoryview) -> list[tuple[int, int]]:
    """(header type, offset) of each IPv6 extension header up to AH; ParseError if no AH."""
    if len(packet) < 40:
        raise TruncatedError("IPv6 packet shorter than 40 bytes")
    out: list[tuple[int, int]] = []
    nh, off = packet[6], 40
    while nh != 51:
        if nh not in _V6_SKIP:
            raise ParseError("IPv6 packet does not carry AH")
        if off + 8 > len(packet):
            raise TruncatedError("IPv6 extension header past the end")
        out.append((nh, off))
        length = 8 if nh == 44 else (packet[off + 1] + 1) * 8
        nh = packet[off]
        off += length
    if off + 12 > len(packet):
        raise TruncatedError("AH header past the end")
    out.append((51, off))
    return out


def ah_icv_input(
    packet: bytes | bytearray | memoryview, ah_offset: int | None = None, icv_len: int | None = None
) -> bytearray:
    """A copy of ``packet`` ready for the AH ICV (mutable fields and the ICV zeroed).

    ``icv_len``: ICV bytes to zero; alignment padding after them stays as sent, since it is
    part of the ICV computation (RFC 4302 §3.3.3.2.1).  None zeroes the whole field."""
    buf = bytearray(packet)
    if ah_offset is None:
        ah_offset = find_ah(buf)
    if len(buf) < ah_offset + 12:
        raise TruncatedError("AH header past the end")
    if buf[0] >> 4 == 4:
        _zero_ipv4(buf, ah_offset)
    else:
        for nh, off in _walk_v6(buf)[:-1]:
            if nh in (0, 60):
                _zero_v6_options(buf, off)
        buf[1] = 0  # traffic class (low nibble) + flow label
        buf[0] &= 0xF0
        buf[2] = buf[3] = 0
        buf[7] = 0  # hop limit
    ah_len = (buf[ah_offset + 1] + 2) * 4
    if ah_len < 12 or ah_offset + ah_len > len(buf):
        raise TruncatedError("AH payload length past the end")
    n = ah_len - 12 if icv_len is None else min(icv_len, ah_len - 12)
    buf[ah_offset + 12 : ah_offset + 12 + n] = bytes(n)
    return buf


def _zero_ipv4(buf: bytearray, hlen: int) -> None:
    buf[1] = 0  # TOS (DSCP/ECN)
    buf[6] = buf[7] = 0  # flags + fragment offset
    buf[8] = 0  # TTL
    buf[10] = buf[11] = 0  # header checksum
    i = 20
    while i < hlen:
        t = buf[i]
        if t == 0:
            break
        if t == 1:
            i += 1
            continue
        if i + 1 >= hlen or buf[i + 1] < 2 or i + buf[i + 1] > hlen:
            raise ParseError("bad IPv4 option length")
        n = buf[i + 1]
        if t in (_LSRR, _SSRR) and n >= 7:
            # Final destination = last address of the route data (§3.3.3.1.1.1).
            buf[16:20] = buf[i + n - 4 : i + n]
        if t not in IPV4_IMMUTABLE_OPTIONS:
            buf[i : i + n] = bytes(n)
        i += n


def _zero_v6_options(buf: bytearray, off: int) -> None:
    end = off + (buf[off + 1] + 1) * 8
    i = off + 2
    while i < end:
        t = buf[i]
        if t == 0:  # Pad1
            i += 1
            continue
        if i + 1 >= end:
            raise ParseError("bad IPv6 option")
        n = buf[i + 1]
        if i + 2 + n > end:
            raise ParseError("IPv6 option past its header")
        if t & 0x20:  # RFC 8200 §4.2: option data may change en route
            buf[i + 2 : i + 2 + n] = bytes(n)
        i += 2 + n
