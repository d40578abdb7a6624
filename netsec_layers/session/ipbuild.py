"""Small builders for IP/UDP headers on raw bytes (used when crafting ESP and plaintext pcaps)."""

from __future__ import annotations

import socket
import struct
from functools import lru_cache

_HH = struct.Struct("!HH").pack
_H = struct.Struct("!H").pack


def checksum16(data: bytes) -> int:
    """The Internet checksum (RFC 1071), as the 16-bit value to put on the wire (big-endian)."""
    if len(data) % 2:
        data += b"\0"
    # The one's-complement sum of 16-bit words is the data, read as one big number, modulo
    # 0xFFFF (2^16 ≡ 1), except that a non-zero sum of 0 is written 0xFFFF (RFC 1071 §1).
    r = int.from_bytes(data, "big") % 0xFFFF
    if r == 0 and any(data):
        r = 0xFFFF
    return ~r & 0xFFFF


@lru_cache(maxsize=4096)
def _v4(addr: str) -> bytes:
    return socket.inet_pton(socket.AF_INET, addr)


@lru_cache(maxsize=4096)
def _v6(addr: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6, addr)


IPv4Fixed = tuple[bytes, bytes, bytes, int]


def ipv4_fixed(src: str, dst: str, proto: int, ttl: int = 64, tos: int = 0) -> IPv4Fixed:
    """The parts of an IPv4 header that do not change per packet, and their checksum sum
    (for :func:`ipv4_header_from`; a flow keeps its own, :func:`ipv4_header` caches them)."""
    first = bytes((0x45, tos))
    rest = bytes((0x40, 0, ttl, proto))  # flags DF, fragment offset 0, TTL, protocol
    addrs = _v4(src) + _v4(dst)
    fixed = int.from_bytes(first, "big") + int.from_bytes(rest + addrs, "big")
    return first, rest, addrs, fixed


_v4_fixed = lru_cache(maxsize=4096)(ipv4_fixed)


def ipv4_header_from(fixed: IPv4Fixed, payload_len: int, ident: int) -> bytes:
    """A 20-byte IPv4 header (DF set) from :func:`ipv4_fixed` parts, checksum included
    (RFC 791 §3.1, RFC 1071)."""
    first, rest, addrs, base = fixed
    total = 20 + payload_len
    ident &= 0xFFFF
    # Sum by parts (every part 16-bit aligned; see checksum16).  The header is never all zero,
    # so a remainder of 0 is the ones'-complement -0 and the checksum field is 0.
    r = (base + total + ident) % 0xFFFF
    return first + _HH(total, ident) + rest + _H(0xFFFF - r if r else 0) + addrs


def ipv4_header(
    *, src: str, dst: str, proto: int, payload_len: int, ident: int = 0, ttl: int = 64, tos: int = 0
) -> bytes:
    """A 20-byte IPv4 header (DF set), checksum included (RFC 791 §3.1, RFC 1071)."""
    return ipv4_header_from(_v4_fixed(src, dst, proto, ttl, tos), payload_len, ident)


def ipv6_header(
    *, src: str, dst: str, next_header: int, payload_len: int, hop_limit: int = 64
) -> bytes:
    return struct.pack("!IHBB", 6 << 28, payload_len, next_header, hop_limit) + _v6(src) + _v6(dst)


def ip_header(
    *, version: int, src: str, dst: str, proto: int, payload_len: int, ident: int = 0
) -> bytes:
    if version == 4:
        return ipv4_header(src=src, dst=dst, proto=proto, payload_len=payload_len, ident=ident)
    return ipv6_header(src=src, dst=dst, next_header=proto, payload_len=payload_len)


def pseudo_header(*, version: int, src: str, dst: str, proto: int, length: int) -> bytes:
    if version == 4:
        return _v4(src) + _v4(dst) + struct.pack("!BBH", 0, proto, length)
    return _v6(src) + _v6(dst) + struct.pack("!IxxxB", length, proto)


def udp_datagram(
    *,
    version: int,
    src: str,
    dst: str,
    sport: int,
    dport: int,
    payload: bytes,
    zero_checksum: bool = True,
) -> bytes:
    """A UDP header + payload; RFC 3948 §2.1 lets ESP-in-UDP over IPv4 carry a zero checksum."""
    length = 8 + len(payload)
    hdr = struct.pack("!HHHH", sport, dport, length, 0)
    if zero_checksum and version == 4:
        return hdr + payload
    csum = (
        checksum16(
            pseudo_header(version=version, src=src, dst=dst, proto=17, length=length)
            + hdr
            + payload
        )
        or 0xFFFF
    )
    return hdr[:6] + struct.pack("!H", csum) + payload


def ipv4_with_proto(header: bytes, *, proto: int, payload_len: int) -> bytes:
    """An existing IPv4 header with a new protocol and total length, checksum recomputed."""
    ihl = (header[0] & 0x0F) * 4
    h = bytearray(header[:ihl])
    struct.pack_into("!H", h, 2, ihl + payload_len)
    h[9] = proto
    h[10:12] = b"\0\0"
    struct.pack_into("!H", h, 10, checksum16(bytes(h)))
    return bytes(h)
