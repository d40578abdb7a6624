"""Link-layer and IP decoding with fragment reassembly, on raw bytes (Sans-I/O, no Scapy).

:class:`IPDecoder` turns :class:`~netsec_layers.io.pcap.Frame` objects into :class:`IPPacket`
objects: it strips the link layer (Ethernet with 802.1Q/802.1ad/QinQ tags, Linux SLL/SLL2, raw
IP, BSD loopback), parses IPv4 (options; the total length trims Ethernet padding) and IPv6 with
its extension headers, and reassembles IPv4 (RFC 791 §3.2) and IPv6 (RFC 8200 §4.5) fragments.

Nothing here raises on bad bytes: :meth:`IPDecoder.feed` returns ``None`` and sets
:attr:`IPDecoder.last_error`.
"""

from __future__ import annotations

import socket
import struct
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netsec_layers.session.ipbuild import checksum16 as ipv4_checksum  # RFC 1071: one home

if TYPE_CHECKING:  # pragma: no cover
    from netsec_layers.frame import Frame

__all__ = [
    "IPPacket",
    "IPDecoder",
    "decap_gre",
    "decap_udp_tunnel",
    "decode_frame",
    "ipv4_checksum",
    "relink",
]

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_MPLS = 0x8847
ETH_MPLS_MC = 0x8848
ETH_PPPOE_SESSION = 0x8864
ETH_TEB = 0x6558  # transparent Ethernet bridging (GRE, Geneve): an Ethernet frame follows
PPP_IPV4 = 0x0021
PPP_IPV6 = 0x0057
_MAX_MPLS_LABELS = 16
UDP_VXLAN = 4789  # RFC 7348
UDP_GENEVE = 6081  # RFC 8926
UDP_TUNNEL_PORTS = frozenset((UDP_VXLAN, UDP_GENEVE))
_VLAN_TPIDS = frozenset((0x8100, 0x88A8, 0x9100, 0x9200))

LT_NULL = 0
LT_ETHERNET = 1
LT_RAW_12 = 12
LT_RAW_14 = 14
LT_RAW = 101
LT_LOOP = 108
LT_LINUX_SLL = 113
LT_IPV4 = 228
LT_IPV6 = 229
LT_LINUX_SLL2 = 276

# BSD AF_INET / AF_INET6 values found in DLT_NULL/DLT_LOOP headers (AF_INET6 differs per OS:
# 24 NetBSD/OpenBSD, 28 FreeBSD, 30 macOS) -- see the LINKTYPE_NULL description at tcpdump.org.
_AF_V4 = frozenset((2,))
_AF_V6 = frozenset((24, 28, 30, 10))

# IPv6 extension headers walked over (RFC 8200 §4): hop-by-hop, routing, destination options,
# plus the fragment header handled separately.  AH (51) and ESP (50) are *not* skipped: they are
# the upper-layer protocol as far as this decoder's callers are concerned.
_V6_EXT = frozenset((0, 43, 60))
_V6_FRAG = 44

_NS = 1_000_000_000
# 64 KiB / 8-byte units would allow 8192 distinct fragments; duplicates beyond this are abuse.
_MAX_FRAGMENTS = 8192
# Bookkeeping charged per held datagram on top of its buffer (objects, lists, dict entry), so
# that many tiny fragments of distinct datagrams cannot hold far more than max_fragment_bytes.
_DGRAM_OVERHEAD = 1024
# version/IHL, (tos), total length, identification, flags/offset, (ttl), protocol, (checksum), src, dst
_V4HDR = struct.Struct("!BxHHHxB2x4s4s").unpack_from
_ADDR_CACHE_MAX = 1 << 16


@dataclass(slots=True)
class IPPacket:
    """One IP datagram (possibly rebuilt from fragments)."""

    version: int  # 4 or 6
    src: str
    dst: str
    proto: int  # upper-layer protocol after IPv6 extension headers
    payload: bytes  # upper-layer bytes, trimmed to the IP length
    header: bytes  # IP header incl. options / extension headers
    link: bytes  # link-layer header bytes that preceded the IP header
    frame: int  # frame number that completed this packet
    ts_ns: int
    reassembled: bool = False
    fragment_frames: tuple[int, ...] = ()  # frames of the fragments (reassembled packets only)


class _Datagram:
    """Fragments of one datagram being reassembled; first-seen bytes win on overlap.

    Filled ranges are kept merged in two sorted lists (``starts``/``ends``) searched with
    bisect, so each fragment costs O(log n) plus the ranges it touches: linear overall even
    for thousands of tiny fragments.
    """

    __slots__ = (
        "buf",
        "starts",
        "ends",
        "total",
        "first_header",
        "first_ts",
        "frames",
        "size",
        "link",
    )

    def __init__(self, ts: int) -> None:
        self.buf = bytearray()
        self.starts: list[int] = []  # merged, sorted [start, end) ranges already filled
        self.ends: list[int] = []
        self.total = -1  # known when the last fragment (MF = 0) arrives
        self.first_header: bytes | None = None
        self.first_ts = ts
        self.frames: list[int] = []
        self.size = _DGRAM_OVERHEAD  # accounted memory: buffer + bookkeeping estimate
        self.link = b""

    def add(self, off: int, data: bytes) -> int:
        """Copy the not-yet-filled parts of ``[off, off+len)``; return how many bytes were new."""
        end = off + len(data)
        if end <= off:
            return 0
        buf = self.buf
        if end > len(buf):
            buf.extend(bytes(end - len(buf)))
        starts, ends = self.starts, self.ends
        i = bisect_left(ends, off)  # first range ending at/after off (may touch or overlap)
        j = bisect_right(starts, end)  # ranges [i, j) touch or overlap [off, end)
        added = 0
        cur = off
        for k in range(i, j):
            s = starts[k]
            if s > cur:
                buf[cur:s] = data[cur - off : s - off]
                added += s - cur
            if ends[k] > cur:
                cur = ends[k]
        if cur < end:
            buf[cur:end] = data[cur - off :]
            added += end - cur
        if i < j:
            ns, ne = min(off, starts[i]), max(end, ends[j - 1])
        else:
            ns, ne = off, end
        starts[i:j] = [ns]
        ends[i:j] = [ne]
        self.size = len(buf) + 16 * len(starts) + _DGRAM_OVERHEAD
        return added

    def complete(self) -> bool:
        return (
            self.total >= 0
            and len(self.starts) == 1
            and self.starts[0] == 0
            and self.ends[0] >= self.total
            and self.first_header is not None
        )


class IPDecoder:
    """Stateful frame → :class:`IPPacket` decoder with IPv4/IPv6 fragment reassembly.

    Memory held by incomplete datagrams is bounded by ``max_fragment_bytes`` (buffers plus
    ~1 KiB of bookkeeping per datagram) and their number by ``max_datagrams`` (oldest dropped
    first); datagrams older than ``fragment_timeout_ns`` (capture time) are dropped.  Overlapping
    fragments: the first-seen bytes win (RFC 5722 tells *hosts* to drop such datagrams; an
    analyser keeps them, as Wireshark does, and counts them in ``overlaps``).
    """

    def __init__(
        self,
        *,
        max_fragment_bytes: int = 64 << 20,
        fragment_timeout_ns: int = 30 * _NS,
        max_datagrams: int = 65536,
    ) -> None:
        self.max_fragment_bytes = max_fragment_bytes
        self.max_datagrams = max_datagrams
        self.fragment_timeout_ns = fragment_timeout_ns
        self.last_error: str | None = None
        self.overlaps = 0
        self.fragments_dropped = 0  # datagrams dropped unfinished (timeout / memory / bad)
        self._frags: OrderedDict[tuple[object, ...], _Datagram] = OrderedDict()
        self._frag_bytes = 0
        self._v4cache: dict[bytes, str] = {}
        self._v6cache: dict[bytes, str] = {}

    # -- addresses -----------------------------------------------------------------------------
    def _a4(self, b: bytes) -> str:
        s = self._v4cache.get(b)
        if s is None:
            if len(self._v4cache) >= _ADDR_CACHE_MAX:
                self._v4cache.clear()
            s = self._v4cache[b] = socket.inet_ntop(socket.AF_INET, b)
        return s

    def _a6(self, b: bytes) -> str:
        s = self._v6cache.get(b)
        if s is None:
            if len(self._v6cache) >= _ADDR_CACHE_MAX:
                self._v6cache.clear()
            s = self._v6cache[b] = socket.inet_ntop(socket.AF_INET6, b)
        return s

    # -- link layer ----------------------------------------------------------------------------
    def _link(self, lt: int, d: bytes) -> tuple[int, int]:
        """Return (ip offset, ip version) or (-1, 0) with last_error set."""
        n = len(d)
        if lt == LT_ETHERNET:
            if n < 14:
                self.last_error = "truncated Ethernet header"
                return -1, 0
            off = 12
            et = (d[12] << 8) | d[13]
            while et in _VLAN_TPIDS:  # IEEE 802.1Q / 802.1ad tags, possibly stacked (QinQ)
                off += 4
                if n < off + 2:
                    self.last_error = "truncated VLAN tag"
                    return -1, 0
                et = (d[off] << 8) | d[off + 1]
            off += 2
            if et <= 1500 and n >= off + 8 and d[off : off + 3] == b"\xaa\xaa\x03":
                # IEEE 802.3 length + LLC/SNAP (RFC 1042) carrying an EtherType
                et = (d[off + 6] << 8) | d[off + 7]
                off += 8
            return self._ethertype(et, off, d)
        if lt == LT_RAW or lt == LT_RAW_12 or lt == LT_RAW_14:
            if n < 1:
                self.last_error = "empty frame"
                return -1, 0
            v = d[0] >> 4
            if v == 4 or v == 6:
                return 0, v
            self.last_error = f"raw IP frame with version {v}"
            return -1, 0
        if lt == LT_IPV4:
            return 0, 4
        if lt == LT_IPV6:
            return 0, 6
        if lt == LT_LINUX_SLL:
            if n < 16:
                self.last_error = "truncated Linux cooked (SLL) header"
                return -1, 0
            return self._ethertype((d[14] << 8) | d[15], 16, d)
        if lt == LT_LINUX_SLL2:
            if n < 20:
                self.last_error = "truncated Linux cooked (SLL2) header"
                return -1, 0
            return self._ethertype((d[0] << 8) | d[1], 20, d)
        if lt == LT_NULL or lt == LT_LOOP:
            if n < 4:
                self.last_error = "truncated loopback header"
                return -1, 0
            if lt == LT_LOOP:
                fam = struct.unpack_from("!I", d)[0]
            else:
                # DLT_NULL: host byte order of the capturing machine -- try both.
                fam = struct.unpack_from("<I", d)[0]
                if fam > 0xFFFF:
                    fam = struct.unpack_from(">I", d)[0]
            if fam in _AF_V4:
                return 4, 4
            if fam in _AF_V6:
                return 4, 6
            self.last_error = f"not IP (loopback family {fam})"
            return -1, 0
        self.last_error = f"unsupported link type {lt}"
        return -1, 0

    def _ethertype(self, et: int, off: int, d: bytes) -> tuple[int, int]:
        # SLL/SLL2 may still carry VLAN tags when the kernel did not strip them.
        while et in _VLAN_TPIDS and len(d) >= off + 4:
            et = (d[off + 2] << 8) | d[off + 3]
            off += 4
        if et == ETH_IPV4:
            return off, 4
        if et == ETH_IPV6:
            return off, 6
        if et == ETH_MPLS or et == ETH_MPLS_MC:
            return self._mpls(d, off)
        if et == ETH_PPPOE_SESSION:
            # RFC 2516 §4: ver/type, code, session id, length; then the PPP protocol field
            if len(d) < off + 8:
                self.last_error = "truncated PPPoE session header"
                return -1, 0
            ppp = (d[off + 6] << 8) | d[off + 7]
            if ppp == PPP_IPV4:
                return off + 8, 4
            if ppp == PPP_IPV6:
                return off + 8, 6
            self.last_error = f"not IP (PPP protocol 0x{ppp:04x})"
            return -1, 0
        self.last_error = f"not IP (EtherType 0x{et:04x})"
        return -1, 0

    def _mpls(self, d: bytes, off: int) -> tuple[int, int]:
        """RFC 3032 label stack: 4-byte entries up to the bottom-of-stack bit; the payload's
        first nibble tells IPv4 from IPv6 (RFC 4385 §2: 0 is a pseudowire control word)."""
        for _ in range(_MAX_MPLS_LABELS):
            if len(d) < off + 4:
                break
            bottom = d[off + 2] & 1
            off += 4
            if bottom:
                v = d[off] >> 4 if len(d) > off else 0
                if v == 4 or v == 6:
                    return off, v
                self.last_error = "MPLS payload is not IP (pseudowire or unknown)"
                return -1, 0
        self.last_error = "truncated or endless MPLS label stack"
        return -1, 0

    # -- main entry ----------------------------------------------------------------------------
    def feed(self, frame: Frame) -> IPPacket | None:
        """Decode one frame; ``None`` if it is not IP, is malformed, or is a held fragment."""
        try:
            d = frame.data
            lt = frame.linktype
            # Fast path: untagged Ethernet + IPv4, the bulk of most captures.
            if lt == LT_ETHERNET and d[12:14] == b"\x08\x00":
                off, ver = 14, 4
            else:
                off, ver = self._link(lt, d)
                if off < 0:
                    return None
            self.last_error = None
            if self._frags:
                self._expire(frame.ts_ns)
            if ver == 4:
                return self._ipv4(d, off, frame)
            return self._ipv6(d, off, frame)
        except (struct.error, IndexError, ValueError) as e:  # defensive: never raise on bytes
            self.last_error = f"malformed packet: {e}"
            return None

    # -- IPv4 ----------------------------------------------------------------------------------
    def _ipv4(self, d: bytes, off: int, frame: Frame) -> IPPacket | None:
        n = len(d) - off
        if n < 20:
            self.last_error = "truncated IPv4 header"
            return None
        vihl = d[off]
        if vihl >> 4 != 4:
            self.last_error = f"bad IP version {vihl >> 4} (expected 4)"
            return None
        ihl = (vihl & 15) * 4
        if ihl < 20:
            self.last_error = "bad IPv4 header length"
            return None
        if n < ihl:
            self.last_error = "truncated IPv4 options"
            return None
        _, tot, ident, frag, proto, sa, da = _V4HDR(d, off)
        if tot == 0 and n > ihl:
            tot = n  # TSO/GSO capture: total length left 0 by the kernel (as Wireshark assumes)
        elif tot < ihl:
            self.last_error = "IPv4 total length shorter than its header"
            return None
        elif tot > n:
            self.last_error = f"truncated IPv4 packet (captured {n} of {tot} bytes)"
            return None
        src = self._v4cache.get(sa) or self._a4(sa)
        dst = self._v4cache.get(da) or self._a4(da)
        mf = frag & 0x2000
        foff = (frag & 0x1FFF) * 8
        if not mf and not foff:
            return IPPacket(
                4,
                src,
                dst,
                proto,
                d[off + ihl : off + tot],
                d[off : off + ihl],
                d[:off],
                frame.number,
                frame.ts_ns,
            )
        # RFC 791 §3.2: fragments are identified by (source, destination, protocol, identification)
        key = (4, src, dst, ident, proto)
        return self._fragment(
            key, foff, bool(mf), d[off + ihl : off + tot], d[off : off + ihl], d[:off], frame, 4
        )

    # -- IPv6 ----------------------------------------------------------------------------------
    def _ipv6(self, d: bytes, off: int, frame: Frame) -> IPPacket | None:
        n = len(d) - off
        if n < 40:
            self.last_error = "truncated IPv6 header"
            return None
        if d[off] >> 4 != 6:
            self.last_error = f"bad IP version {d[off] >> 4} (expected 6)"
            return None
        plen = (d[off + 4] << 8) | d[off + 5]
        if plen == 0 and n > 40:
            plen = n - 40  # jumbogram (RFC 2675) or TSO capture: use what was captured
        if plen > n - 40:
            self.last_error = f"truncated IPv6 packet (captured {n - 40} of {plen} payload bytes)"
            return None
        end = off + 40 + plen
        src = self._a6(d[off + 8 : off + 24])
        dst = self._a6(d[off + 24 : off + 40])
        nh = d[off + 6]
        p = off + 40
        last_nh_pos = off + 6  # where the "next header" value pointing at `p` lives
        while True:
            if nh in _V6_EXT:
                if p + 8 > end:
                    self.last_error = "truncated IPv6 extension header"
                    return None
                hlen = (d[p + 1] + 1) * 8
                if p + hlen > end:
                    self.last_error = "truncated IPv6 extension header"
                    return None
                last_nh_pos = p
                nh = d[p]
                p += hlen
                continue
            if nh == _V6_FRAG:
                if p + 8 > end:
                    self.last_error = "truncated IPv6 fragment header"
                    return None
                fnh = d[p]
                fo = (d[p + 2] << 8) | d[p + 3]
                ident = struct.unpack_from("!I", d, p + 4)[0]
                foff = fo & 0xFFF8
                mf = fo & 1
                if not foff and not mf:
                    # Atomic fragment (RFC 6946 §4): process in isolation, keep walking.
                    last_nh_pos = p
                    nh = fnh
                    p += 8
                    continue
                # Unfragmentable part: header up to the fragment header, with the next-header
                # field that pointed at it rewritten to the fragment header's (RFC 8200 §4.5).
                unfrag = bytearray(d[off:p])
                unfrag[last_nh_pos - off] = fnh
                key = (6, src, dst, ident, fnh)
                return self._fragment(
                    key, foff, bool(mf), d[p + 8 : end], bytes(unfrag), d[:off], frame, 6
                )
            break
        return IPPacket(6, src, dst, nh, d[p:end], d[off:p], d[:off], frame.number, frame.ts_ns)

    # -- reassembly ----------------------------------------------------------------------------
    def _fragment(
        self,
        key: tuple[object, ...],
        foff: int,
        mf: bool,
        data: bytes,
        header: bytes,
        link: bytes,
        frame: Frame,
        ver: int,
    ) -> IPPacket | None:
        if foff + len(data) > 65535:
            self.last_error = "fragment extends past 65535 bytes"
            return None
        if mf and len(data) % 8:
            self.last_error = "non-final fragment whose length is not a multiple of 8"
            return None
        dg = self._frags.get(key)
        if dg is None:
            dg = self._frags[key] = _Datagram(frame.ts_ns)
            self._frag_bytes += dg.size
        if foff == 0 and dg.first_header is None:
            dg.first_header = header
        if not mf:
            fend = foff + len(data)
            if dg.total >= 0 and dg.total != fend:
                self.overlaps += 1  # conflicting ends: keep the first one (first wins)
            elif dg.total < 0:
                dg.total = fend
        before = dg.size
        added = dg.add(foff, data)
        if added < len(data):
            self.overlaps += 1
        self._frag_bytes += dg.size - before
        dg.frames.append(frame.number)
        dg.link = link
        if len(dg.frames) > _MAX_FRAGMENTS:  # a flood of tiny/duplicate fragments: give up
            del self._frags[key]
            self._frag_bytes -= dg.size
            self.fragments_dropped += 1
            self.last_error = "too many fragments for one datagram"
            return None
        if not dg.complete():
            self._bound()
            self.last_error = "fragment held for reassembly"
            return None
        del self._frags[key]
        self._frag_bytes -= dg.size
        payload = bytes(dg.buf[: dg.total])
        hdr = dg.first_header
        assert hdr is not None
        if ver == 4:
            h = bytearray(hdr)
            struct.pack_into("!H", h, 2, len(h) + len(payload))
            # keep DF, clear MF and the offset; recompute the checksum (RFC 791 §3.1)
            struct.pack_into("!H", h, 6, ((h[6] << 8) | h[7]) & 0x4000)
            struct.pack_into("!H", h, 10, 0)
            struct.pack_into("!H", h, 10, ipv4_checksum(bytes(h)))
            proto = h[9]
            return IPPacket(
                4,
                str(key[1]),
                str(key[2]),
                proto,
                payload,
                bytes(h),
                link,
                frame.number,
                frame.ts_ns,
                True,
                tuple(dg.frames),
            )
        # IPv6: rebuild unfragmentable part + fragmentable part, then re-walk the extension
        # headers that followed the fragment header.
        h = bytearray(hdr)
        struct.pack_into("!H", h, 4, len(h) - 40 + len(payload))
        whole = bytes(h) + payload
        inner = self._ipv6(whole, 0, frame)
        if inner is None:
            return None
        inner.link = link
        inner.reassembled = True
        inner.fragment_frames = tuple(dg.frames)
        return inner

    def _expire(self, now: int) -> None:
        frags = self._frags
        limit = now - self.fragment_timeout_ns
        while frags:
            key, dg = next(iter(frags.items()))
            if dg.first_ts >= limit:
                break
            del frags[key]
            self._frag_bytes -= dg.size
            self.fragments_dropped += 1

    def _bound(self) -> None:
        frags = self._frags
        while frags and (
            self._frag_bytes > self.max_fragment_bytes or len(frags) > self.max_datagrams
        ):
            _, dg = frags.popitem(last=False)
            self._frag_bytes -= dg.size
            self.fragments_dropped += 1

    @property
    def pending_fragments(self) -> int:
        """Number of datagrams waiting for more fragments."""
        return len(self._frags)

    @property
    def fragment_table(self) -> dict[tuple[object, ...], object]:
        """The datagrams waiting for more fragments, the live table (the fast lane takes no
        frame while it is not empty: fragment time-outs run on the frames decoded here)."""
        return self._frags  # type: ignore[return-value]


def decode_frame(frame: Frame) -> IPPacket | None:
    """Decode one frame without reassembly state (fragments yield ``None``)."""
    return IPDecoder().feed(frame)


# -- tunnels ----------------------------------------------------------------------------------------
# What a decapsulation gives: (encapsulation name, link type of the inner frame, inner bytes).
Decap = tuple[str, int, bytes]


def decap_gre(p: bytes) -> Decap | None:
    """RFC 2784 / RFC 2890 GRE: checksum, key and sequence number present per the C, K, S bits;
    IPv4, IPv6 or (0x6558) an Ethernet frame inside.  Version 1 (PPTP) is not opened."""
    if len(p) < 4:
        return None
    flags, ptype = struct.unpack_from("!HH", p)
    if flags & 7:  # version
        return None
    off = 4 + 4 * (bool(flags & 0x8000) + bool(flags & 0x2000) + bool(flags & 0x1000))
    if flags & 0x4000 or len(p) < off:  # routing present (RFC 1701 source routes): not opened
        return None
    return _by_ethertype("gre", ptype, p[off:])


def decap_udp_tunnel(dport: int, p: bytes) -> Decap | None:
    """VXLAN (RFC 7348: 8-byte header with the I flag, an Ethernet frame inside) and Geneve
    (RFC 8926: 8 bytes plus options, protocol type like GRE's) on their IANA ports."""
    if dport == UDP_VXLAN:
        if len(p) < 8 + 14 or not p[0] & 0x08:
            return None
        return ("vxlan", LT_ETHERNET, p[8:])
    if dport == UDP_GENEVE:
        if len(p) < 8 or p[0] >> 6 != 0:
            return None
        off = 8 + (p[0] & 0x3F) * 4
        if len(p) < off:
            return None
        return _by_ethertype("geneve", (p[2] << 8) | p[3], p[off:])
    return None


def _by_ethertype(name: str, ptype: int, inner: bytes) -> Decap | None:
    if ptype == ETH_IPV4 or ptype == ETH_IPV6:
        return (name, LT_RAW, inner)
    if ptype == ETH_TEB:
        return (name, LT_ETHERNET, inner)
    return None


def relink(link: bytes, linktype: int, version: int) -> bytes:
    """A link-layer header with its protocol field set for an IPv4/IPv6 payload."""
    if linktype == LT_ETHERNET and len(link) >= 14:
        # Ethernet with its VLAN tags; an MPLS label stack or PPPoE/PPP header is dropped
        # (the packet it carried is plain IP now)
        off = 12
        while off + 6 <= len(link) and (link[off] << 8 | link[off + 1]) in _VLAN_TPIDS:
            off += 4
        return link[:off] + (b"\x08\x00" if version == 4 else b"\x86\xdd")
    if linktype == LT_LINUX_SLL and len(link) >= 16:  # Linux SLL: protocol is the last field
        return link[:-2] + (b"\x08\x00" if version == 4 else b"\x86\xdd")
    if linktype == LT_LINUX_SLL2 and len(link) >= 20:  # SLL2: protocol is the first field
        return (b"\x08\x00" if version == 4 else b"\x86\xdd") + link[2:]
    if linktype == LT_NULL and len(link) == 4:  # BSD loopback, host byte order family
        fam = 2 if version == 4 else 30
        return struct.pack("<I" if link[0] else ">I", fam)
    if linktype == LT_LOOP and len(link) == 4:
        return struct.pack(">I", 2 if version == 4 else 30)
    return link
