"""AH (RFC 4302) verify/build on raw IP packet bytes, using :class:`SADatabase` state."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

from netsec_layers.crypto.ah import ah_icv_input, find_ah
from netsec_layers.crypto.esp import Integrity
from netsec_layers.errors import (
    IntegrityError,
    ParseError,
    ReplayError,
    ReplayVerdict,
    TruncatedError,
    UsageError,
)
from netsec_layers.keys.sa import SecurityAssociation
from netsec_layers.session.ipbuild import checksum16

if TYPE_CHECKING:
    from netsec_layers.session.ipsec_state import SAState

__all__ = ["AHVerified", "build_ah", "verify_ah"]

_AH = struct.Struct("!BBHII")


class SADatabase(Protocol):
    """What AH needs of :class:`~netsec_layers.session.ipsec.SADatabase` (no import cycle)."""

    def lookup(
        self,
        spi: int,
        *,
        src: str | None = None,
        dst: str | None = None,
        protocol: str | None = None,
    ) -> SecurityAssociation: ...

    def state(self, sa: SecurityAssociation, spi: int) -> SAState: ...


class _IPLike(Protocol):
    """What verify_ah needs from a decoded packet (e.g. session.netstack.IPPacket)."""

    header: bytes
    payload: bytes


@dataclass(slots=True)
class AHVerified:
    """An IP packet whose AH ICV verified."""

    spi: int
    seq: int  # full 64-bit number with ESN
    wire_seq: int
    next_header: int
    icv: bytes  # the ICV field as received (incl. alignment padding)
    header: bytes  # the IP header (and IPv6 extension headers) before AH
    payload: bytes  # what follows AH: inner packet (tunnel) or upper-layer data (transport)
    replay: ReplayVerdict
    sa: SecurityAssociation


def _addresses(pkt: bytes) -> tuple[str, str]:
    if pkt[0] >> 4 == 4:
        return str(ipaddress.IPv4Address(pkt[12:16])), str(ipaddress.IPv4Address(pkt[16:20]))
    return str(ipaddress.IPv6Address(pkt[8:24])), str(ipaddress.IPv6Address(pkt[24:40]))


def _integrity(db: SADatabase, sa: SecurityAssociation, spi: int) -> tuple[Integrity, SAState]:
    st = db.state(sa, spi)
    if st.ah_integrity is None:
        st.ah_integrity = Integrity(sa.integrity, sa.auth_key)
    return st.ah_integrity, st


def verify_ah(
    db: SADatabase,
    ip_packet: object,
    *,
    src: str | None = None,
    dst: str | None = None,
    check_replay: bool = True,
    esn_high: int | None = None,
) -> AHVerified:
    """Verify the AH of an IP packet (bytes, or an object with ``header`` and ``payload``).

    Raises UnknownSPIError, TruncatedError/ParseError, IntegrityError, ReplayError.
    """
    if isinstance(ip_packet, (bytes, bytearray, memoryview)):
        pkt = bytes(ip_packet)
        off = find_ah(pkt)
    else:
        ipp = cast(_IPLike, ip_packet)
        header = bytes(ipp.header)
        pkt = header + bytes(ipp.payload)
        off = len(header)
    if len(pkt) < off + 12:
        raise TruncatedError("AH header past the end")
    nh, plen, _res, spi, wire_seq = _AH.unpack_from(pkt, off)
    ah_len = (plen + 2) * 4
    if off + ah_len > len(pkt):
        raise TruncatedError("AH payload length past the end")
    if src is None or dst is None:
        s, d = _addresses(pkt)
        src, dst = src or s, dst or d
    sa = db.lookup(spi, src=src, dst=dst, protocol="ah")
    integ, st = _integrity(db, sa, spi)
    if ah_len - 12 < integ.icv_len:
        raise ParseError(f"AH ICV field of {ah_len - 12} bytes shorter than {integ.icv_len}")
    window = st.window
    if not sa.esn:
        seq = wire_seq
    elif esn_high is not None:
        seq = (esn_high & 0xFFFFFFFF) << 32 | wire_seq
    else:
        seq = window.infer(wire_seq)
    use_window = sa.replay_window > 0 and integ.icv_len > 0
    data = ah_icv_input(pkt, off, integ.icv_len)
    icv_field = pkt[off + 12 : off + ah_len]
    received = icv_field[: integ.icv_len]
    try:
        _check(integ, received, data, seq if sa.esn else None)
    except IntegrityError:
        if not (sa.esn and esn_high is None):
            raise
        seq += 1 << 32  # RFC 4303 Appendix A3 resynchronisation (same rule for AH, RFC 4302 §3.3.2)
        _check(integ, received, data, seq)
    verdict = window.check(seq) if use_window else ReplayVerdict.UNCHECKED
    if check_replay and verdict in (ReplayVerdict.REPLAYED, ReplayVerdict.OUTSIDE_WINDOW):
        raise ReplayError(
            f"SPI 0x{spi:08x} sequence number {seq} {verdict}", seq=seq, verdict=verdict
        )
    if use_window:
        window.update(seq)
    return AHVerified(
        spi, seq, wire_seq, nh, icv_field, pkt[:off], pkt[off + ah_len :], verdict, sa
    )


def _check(integ: Integrity, icv: bytes, data: bytearray, esn_seq: int | None) -> None:
    if esn_seq is None:
        integ.verify(icv, data)
    else:  # RFC 4302 §2.5.1 / §3.3.3.1: ESN high half appended for the ICV only
        integ.verify(icv, data, struct.pack("!I", (esn_seq >> 32) & 0xFFFFFFFF))


def build_ah(
    db: SADatabase,
    ip_packet: bytes,
    *,
    sa: SecurityAssociation,
    seq: int | None = None,
    fault: str | None = None,
    outer_src: str | None = None,
    outer_dst: str | None = None,
) -> bytes:
    """AH-protected IP packet.  Transport: AH inserted after the IP header (IPv4) or after
    Hop-by-Hop/Routing/Fragment headers (IPv6).  Tunnel: a new outer header (``outer_src``/
    ``outer_dst``, else the SA's concrete ``src``/``dst``) + AH + the whole packet."""
    if sa.protocol != "ah":
        raise UsageError("build_ah() needs an AH SA")
    if fault not in (None, "bad-icv", "reuse-seq"):
        raise UsageError(f"AH fault must be 'bad-icv' or 'reuse-seq', not {fault!r}")
    pkt = bytes(ip_packet)
    if len(pkt) < 20 or pkt[0] >> 4 not in (4, 6):
        raise ParseError("not an IPv4/IPv6 packet")
    integ, st = _integrity(db, sa, sa.spi)
    if fault == "reuse-seq" and st.last_out is not None:
        seq = st.last_out
    elif seq is None:
        seq = st.out_seq
    elif sa.esn and seq <= 0xFFFFFFFF:
        seq |= sa.esn_high << 32
    st.last_out, st.out_seq = seq, seq + 1
    version: int
    if sa.mode == "tunnel":
        inner_v = pkt[0] >> 4
        o_src = outer_src or sa.src
        o_dst = outer_dst or sa.dst
        try:
            version = ipaddress.ip_address(o_src).version
            ipaddress.ip_address(o_dst)
        except ValueError:
            raise UsageError("tunnel-mode AH needs concrete outer addresses") from None
        nh = 4 if inner_v == 4 else 41
        before, after = _outer_header(version, o_src, o_dst), pkt
    else:
        version = pkt[0] >> 4
        before, after, nh = _split_transport(pkt)
    align = 4 if version == 4 else 8  # RFC 4302 §3.3.3.2.1: AH length multiple of 32/64 bits
    ah_len = 12 + integ.icv_len
    ah_len += (-ah_len) % align
    ah = _AH.pack(nh, ah_len // 4 - 2, 0, sa.spi, seq & 0xFFFFFFFF) + bytes(ah_len - 12)
    out = bytearray(_with_proto(before, 51, ah_len + len(after)) + ah + after)
    off = len(before)
    data = ah_icv_input(out, off, integ.icv_len)
    if sa.esn:
        icv = integ.compute(data, struct.pack("!I", (seq >> 32) & 0xFFFFFFFF))
    else:
        icv = integ.compute(data)
    if fault == "bad-icv":
        if not icv:
            raise UsageError("bad-icv needs an SA with an ICV")
        icv = icv[:-1] + bytes((icv[-1] ^ 1,))
    out[off + 12 : off + 12 + len(icv)] = icv
    return bytes(out)


def _outer_header(version: int, src: str, dst: str) -> bytes:
    if version == 4:
        return (
            struct.pack("!BBHHHBBH", 0x45, 0, 20, 0, 0x4000, 64, 51, 0)
            + ipaddress.IPv4Address(src).packed
            + ipaddress.IPv4Address(dst).packed
        )
    return (
        struct.pack("!IHBB", 6 << 28, 0, 51, 64)
        + ipaddress.IPv6Address(src).packed
        + ipaddress.IPv6Address(dst).packed
    )


def _split_transport(pkt: bytes) -> tuple[bytes, bytes, int]:
    """(header incl. ext headers AH goes after, rest, next header AH will name)."""
    if pkt[0] >> 4 == 4:
        hlen = (pkt[0] & 0x0F) * 4
        return pkt[:hlen], pkt[hlen:], pkt[9]
    if len(pkt) < 40:
        raise TruncatedError("IPv6 packet shorter than 40 bytes")
    nh, off = pkt[6], 40
    while nh in (0, 43, 44):  # RFC 4302 §3.1.1: AH after hop-by-hop, routing, fragment
        if off + 8 > len(pkt):
            raise TruncatedError("IPv6 extension header past the end")
        length = 8 if nh == 44 else (pkt[off + 1] + 1) * 8
        nh, off = pkt[off], off + length
    return pkt[:off], pkt[off:], nh


def _with_proto(header: bytes, proto: int, payload_len: int) -> bytes:
    h = bytearray(header)
    if h[0] >> 4 == 4:
        h[9] = proto
        struct.pack_into("!H", h, 2, len(h) + payload_len)
        h[10] = h[11] = 0
        struct.pack_into("!H", h, 10, checksum16(bytes(h)))
        return bytes(h)
    struct.pack_into("!H", h, 4, len(h) - 40 + payload_len)
    # The header naming AH: the fixed header's Next Header or the last extension header's.
    h[6 if len(h) == 40 else _last_nh_index(h)] = proto
    return bytes(h)


def _last_nh_index(h: bytearray) -> int:
    nh, off, at = h[6], 40, 6
    while off < len(h):
        length = 8 if nh == 44 else (h[off + 1] + 1) * 8
        nh, at, off = h[off], off, off + length
    return at
