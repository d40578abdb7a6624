"""TCP stream reassembly on raw bytes (Sans-I/O, no Scapy).

:class:`TCPReassembler` takes :class:`~netsec_layers.session.netstack.IPPacket` objects carrying
TCP and returns :class:`StreamChunk` events with newly in-order bytes per direction.

Rules (RFC 9293 §3.4 sequence numbers; overlap policy as Wireshark's default):
- A connection is a 4-tuple, both directions; indices are 0-based by first appearance.  The client
  is the sender of a SYN without ACK; if the capture starts with a SYN+ACK its receiver is the
  client; otherwise the first packet's sender.
- Sequence numbers are compared modulo 2**32 (wrap-around safe); each direction keeps an unbounded
  byte offset so buffering never sees a wrap.
- Retransmitted and overlapping bytes are delivered once: the bytes seen *first* win.
- Out-of-order segments are buffered until the hole fills.  Past ``max_buffer`` bytes buffered in
  one direction, the hole is skipped and reported as ``gap`` in the next chunk; :meth:`flush`
  does the same for everything left at the end of a capture.
- SYN and FIN each take one sequence number; a FIN is reported once all bytes before it arrived.
  A SYN without ACK whose sequence number differs from the one already seen for that side starts
  a new connection on the same 4-tuple (port reuse), as Wireshark does.
- Past ``max_total_buffer`` bytes buffered over all connections, the directions holding the most
  are delivered past their holes (largest first, down to 3/4 of the limit) and counted in
  ``buffer_overflows``; a hostile capture with many half-open holes cannot grow memory further.
- At most ``max_connections`` connections are tracked; the least recently used is evicted (its
  buffered bytes are delivered with gaps first) and, if it was still open, counted in
  ``evicted``.  Closed connections (RST, or FINs both ways delivered) stay for late segments
  until more than ``max_closed`` are held, then go oldest first (bounded memory for captures of
  many short connections).
- Checksums are not verified (captures on ``lo`` carry offloaded, i.e. wrong, checksums).
"""

from __future__ import annotations

import struct
from bisect import bisect_right, insort
from collections import OrderedDict, deque
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Iterator

    from netsec_layers.session.netstack import IPPacket

__all__ = ["TCPConn", "StreamChunk", "TCPReassembler", "TCPSegment", "closed_past", "parse_tcp"]

K = TypeVar("K")

# Defaults of the bounds (docs/robustness.md), shared by the TLS tracker and the capture engine.
DEFAULT_MAX_CONNECTIONS = 100_000  # open connections tracked at once (LRU beyond)
DEFAULT_MAX_CLOSED = 1_000  # closed connections kept for late segments and lookups
DEFAULT_MAX_BUFFER = 16 << 20  # out-of-order bytes per direction
DEFAULT_MAX_TOTAL_BUFFER = 32 << 20  # out-of-order bytes over all connections


def closed_past(closed: deque[K], key: K, limit: int) -> Iterator[K]:
    """Note ``key`` as closed (in closing order); yield the oldest closed keys beyond ``limit``,
    to be released.  The one pool rule of the TCP table, the TLS tracker and the rewriter."""
    closed.append(key)
    while len(closed) > limit:
        yield closed.popleft()


_M = 0xFFFFFFFF
_FIN = 0x01
_SYN = 0x02
_RST = 0x04
_ACK = 0x10
_hdr = struct.Struct("!HHIIH").unpack_from
_start = itemgetter(0)


@dataclass(slots=True)
class TCPConn:
    """One TCP connection (both directions)."""

    index: int  # 0-based by first appearance
    client: tuple[str, int]
    server: tuple[str, int]
    ip_version: int
    saw_syn: bool
    first_frame: int = 0
    closed: bool = False  # a RST was seen, or FINs in both directions were delivered


@dataclass(slots=True)
class StreamChunk:
    """Newly in-order bytes of one direction of a connection."""

    conn: TCPConn
    from_client: bool  # direction relative to conn.client
    data: bytes  # newly in-order bytes (may be b"")
    frame: int  # the frame whose arrival made these bytes available
    ts_ns: int
    gap: int = 0  # number of missing bytes skipped before `data` (0 = contiguous)
    fin: bool = False
    rst: bool = False


@dataclass(slots=True)
class TCPSegment:
    """Parsed TCP header fields (see :func:`parse_tcp`)."""

    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    header: bytes
    payload: bytes


def parse_tcp(segment: bytes) -> TCPSegment | None:
    """Parse a TCP header; ``None`` if it is truncated or its data offset is invalid."""
    if len(segment) < 20:
        return None
    sport, dport, seq, ack, offl = _hdr(segment)
    doff = (offl >> 12) * 4
    if doff < 20 or doff > len(segment):
        return None
    return TCPSegment(sport, dport, seq, ack, offl & 0x1FF, segment[:doff], segment[doff:])


class _Half:
    """One direction: next expected byte offset, pending out-of-order pieces, FIN state."""

    __slots__ = (
        "base",
        "abs",
        "isn",
        "pending",
        "pbytes",
        "fin_abs",
        "fin_done",
        "fin_frame",
        "fin_ts",
    )

    def __init__(self) -> None:
        self.base = -1  # sequence number of byte offset 0 (-1: direction not seen yet)
        self.abs = 0  # offset of the next byte to deliver
        self.isn = -1  # first sequence number seen on this side (the SYN's if any)
        # sorted, non-overlapping [start, end, data, frame, ts_ns]
        self.pending: list[list[object]] = []
        self.pbytes = 0
        self.fin_abs = -1
        self.fin_done = False
        self.fin_frame = 0
        self.fin_ts = 0


class _State:
    __slots__ = ("conn", "c2s", "s2c", "keys", "lane")

    def __init__(self, conn: TCPConn, keys: tuple[tuple[str, int, str, int], ...]) -> None:
        self.conn = conn
        self.c2s = _Half()
        self.s2c = _Half()
        self.keys = keys
        self.lane = False  # checked out to the fast lane (see TCPReassembler.check_out)


class TCPReassembler:
    """Reassemble TCP byte streams from IP packets (see the module docstring for the rules)."""

    def __init__(
        self,
        *,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        max_total_buffer: int = DEFAULT_MAX_TOTAL_BUFFER,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        max_closed: int = DEFAULT_MAX_CLOSED,
    ) -> None:
        self.max_buffer = max_buffer  # out-of-order bytes held per direction
        self.max_total_buffer = max_total_buffer  # ... and over all connections
        self.max_connections = max_connections
        # Closed connections (RST, or FINs both ways delivered) are kept for late segments
        # until more than ``max_closed`` are held, then dropped oldest first (not counted).
        self.max_closed = max_closed
        self._closed: deque[int] = deque()
        self.evicted = 0  # open connections pushed out by max_connections
        self.buffer_overflows = 0  # holes skipped because a buffer limit was reached
        self.buffered = 0  # out-of-order bytes held now, over all connections
        self.last_error: str | None = None
        self._conns: dict[tuple[str, int, str, int], tuple[_State, bool]] = {}
        self._lru: OrderedDict[int, _State] = OrderedDict()
        self._next_index = 0
        # The connection of the last segment fed (also for segments that deliver nothing), and
        # the connections dropped since the caller last emptied the list: this table is the one
        # that decides when a connection goes; trackers are told through the engine.
        self.last_conn: TCPConn | None = None
        self.released: list[TCPConn] = []
        # The native fast lane (session/fastlane.py) may check a connection's state out
        # (:meth:`check_out`); before this table touches such a connection again it calls
        # ``reclaim(index)``, which checks the state back in (:meth:`check_in`).  ``touch``
        # is what the lane calls for each segment it takes (the LRU order of :meth:`feed`).
        self.reclaim: Callable[[int], None] | None = None
        self.touch = self._lru.move_to_end
        self._checked_out: dict[int, _State] = {}  # (also after the LRU let go of one)

    @property
    def streams_numbered(self) -> int:
        """How many connections have been given a stream number (``TCPConn.index``) so far:
        numbers are 0, 1, 2, … in order of first segment, never reused."""
        return self._next_index

    @property
    def connections(self) -> list[TCPConn]:
        """Connections currently tracked, by index."""
        return [st.conn for st in sorted(self._lru.values(), key=lambda s: s.conn.index)]

    # -- connection table ----------------------------------------------------------------------
    def _new(
        self, ip: IPPacket, sport: int, dport: int, flags: int, out: list[StreamChunk]
    ) -> tuple[_State, bool]:
        a = (ip.src, sport)
        b = (ip.dst, dport)
        if flags & (_SYN | _ACK) == _SYN | _ACK:
            client, server, fc = b, a, False  # SYN+ACK comes from the server
        else:
            client, server, fc = a, b, True
        conn = TCPConn(
            self._next_index, client, server, ip.version, bool(flags & _SYN and fc), ip.frame
        )
        self._next_index += 1
        k1 = (client[0], client[1], server[0], server[1])
        k2 = (server[0], server[1], client[0], client[1])
        st = _State(conn, (k1, k2))
        for k in st.keys:
            old = self._conns.get(k)
            if old is not None and old[0] is not st:
                self._drop(old[0], out, evict=False)
        self._conns[k1] = (st, True)
        self._conns[k2] = (st, False)
        self._lru[conn.index] = st
        while len(self._lru) > self.max_connections:
            _, victim = self._lru.popitem(last=False)
            self._drop(victim, out, evict=not victim.conn.closed)
        return st, fc

    def _drop(self, st: _State, out: list[StreamChunk], *, evict: bool) -> None:
        if st.lane:
            self._reclaim(st)
        self._flush_state(st, out)
        for k in st.keys:
            cur = self._conns.get(k)
            if cur is not None and cur[0] is st:
                del self._conns[k]
        self._lru.pop(st.conn.index, None)
        self.released.append(st.conn)
        if evict:
            self.evicted += 1

    # -- main entry ----------------------------------------------------------------------------
    def feed(self, ip: IPPacket) -> list[StreamChunk]:
        """Process one IP packet carrying TCP; return the chunks it made available."""
        p = ip.payload
        self.last_conn = None
        if ip.proto != 6 or len(p) < 20:
            self.last_error = "not TCP" if ip.proto != 6 else "truncated TCP header"
            return []
        sport, dport, seq, _ack, offl = _hdr(p)
        doff = (offl >> 12) << 2
        if doff < 20 or doff > len(p):
            self.last_error = "bad TCP data offset"
            return []
        self.last_error = None
        flags = offl & 0x3F
        data = p[doff:] if len(p) > doff else b""
        out: list[StreamChunk] = []
        ent = self._conns.get((ip.src, sport, ip.dst, dport))
        if ent is None:
            st, fc = self._new(ip, sport, dport, flags, out)
        else:
            st, fc = ent
            if st.lane:
                self._reclaim(st)
            if flags & 0x12 == 0x02:  # SYN without ACK
                half = st.c2s if fc else st.s2c
                if half.isn >= 0 and seq != half.isn:
                    # A fresh SYN on a known 4-tuple: port reuse -> new connection.
                    st, fc = self._new(ip, sport, dport, flags, out)
            self._lru.move_to_end(st.conn.index)
        self.last_conn = st.conn
        half = st.c2s if fc else st.s2c
        if flags & 0x02:  # SYN
            if half.base < 0:
                half.isn = seq
                half.base = (seq + 1) & 0xFFFFFFFF
            if fc and not flags & 0x10:  # ACK
                st.conn.saw_syn = True
            seq = (seq + 1) & 0xFFFFFFFF  # the SYN occupies one sequence number
        elif half.base < 0:
            half.isn = seq
            half.base = seq  # mid-stream start: the first byte seen is offset 0
        if not data and not flags & 0x05:  # pure ACK / window update: nothing to deliver
            return out
        delta = (seq - half.base - half.abs) & 0xFFFFFFFF
        if delta & 0x80000000:
            delta -= 0x100000000
        s = half.abs + delta
        seg_end = s + len(data)
        if flags & 0x04:  # RST
            self._deliver_pending(st, half, fc, ip, out)
            out.append(StreamChunk(st.conn, fc, b"", ip.frame, ip.ts_ns, 0, False, True))
            if not st.conn.closed:
                st.conn.closed = True
                self._closed_one(st, out)
            return out
        if data:
            e = seg_end
            if half.fin_abs >= 0 and e > half.fin_abs:  # bytes after FIN are not stream data
                e = half.fin_abs
                data = data[: max(0, e - s)]
            if e > half.abs:
                if s < half.abs:
                    data = data[half.abs - s :]
                    s = half.abs
                if s == half.abs and not half.pending:
                    half.abs = e  # fast path: in order, nothing buffered
                    out.append(StreamChunk(st.conn, fc, data, ip.frame, ip.ts_ns))
                else:
                    before = half.pbytes
                    self._insert(half, s, e, data, ip.frame, ip.ts_ns)
                    self._drain(st, half, fc, ip, out)
                    self.buffered += half.pbytes - before
                    if self.buffered > self.max_total_buffer:
                        shed: list[StreamChunk] = []
                        self._shed(ip, shed)
                        out[:0] = shed  # this segment's own chunks stay last
        if flags & 0x01 and half.fin_abs < 0:  # FIN
            half.fin_abs = seg_end
            half.fin_frame = ip.frame
            half.fin_ts = ip.ts_ns
        if half.fin_abs >= 0 and not half.fin_done and half.abs >= half.fin_abs:
            half.fin_done = True
            if out and out[-1].from_client == fc and out[-1].conn is st.conn and not out[-1].rst:
                out[-1].fin = True
            else:
                out.append(StreamChunk(st.conn, fc, b"", ip.frame, ip.ts_ns, 0, True))
            other = st.s2c if fc else st.c2s
            if other.fin_done and not st.conn.closed:
                st.conn.closed = True
                self._closed_one(st, out)
        return out

    def _closed_one(self, st: _State, out: list[StreamChunk]) -> None:
        for index in closed_past(self._closed, st.conn.index, self.max_closed):
            old = self._lru.get(index)
            if old is not None and old.conn.closed:
                self._drop(old, out, evict=False)

    # -- buffering -----------------------------------------------------------------------------
    @staticmethod
    def _insert(half: _Half, s: int, e: int, data: bytes, frame: int, ts: int) -> None:
        """Buffer the parts of [s, e) not already buffered (first-seen bytes win)."""
        pend = half.pending
        i = bisect_right(pend, s, key=_start) - 1
        if i < 0:
            i = 0
        cur = s
        new: list[list[object]] = []
        npend = len(pend)
        while i < npend and cur < e:
            ps, pe = pend[i][0], pend[i][1]
            assert isinstance(ps, int) and isinstance(pe, int)
            if pe <= cur:
                i += 1
                continue
            if ps >= e:
                break
            if ps > cur:
                new.append([cur, ps, data[cur - s : ps - s], frame, ts])
            cur = max(cur, pe)
            i += 1
        if cur < e:
            new.append([cur, e, data[cur - s :], frame, ts])
        for piece in new:
            insort(pend, piece, key=_start)
            half.pbytes += piece[1] - piece[0]  # type: ignore[operator]

    def _drain(
        self, st: _State, half: _Half, fc: bool, ip: IPPacket, out: list[StreamChunk]
    ) -> None:
        """Deliver buffered bytes that are now in order; skip holes past ``max_buffer``."""
        gap = 0
        while True:
            parts = self._take(half)
            if parts or gap:
                out.append(StreamChunk(st.conn, fc, b"".join(parts), ip.frame, ip.ts_ns, gap))
            if half.pbytes <= self.max_buffer or not half.pending:
                return
            first = half.pending[0][0]
            assert isinstance(first, int)
            gap = first - half.abs
            half.abs = first
            self.buffer_overflows += 1

    @staticmethod
    def _take(half: _Half) -> list[bytes]:
        parts: list[bytes] = []
        pend = half.pending
        k = 0
        npend = len(pend)
        while k < npend:
            ps, pe, pd = pend[k][0], pend[k][1], pend[k][2]
            assert isinstance(ps, int) and isinstance(pe, int) and isinstance(pd, bytes)
            if ps > half.abs:
                break
            k += 1
            half.pbytes -= pe - ps
            if pe <= half.abs:
                continue
            if ps < half.abs:
                pd = pd[half.abs - ps :]
            parts.append(pd)
            half.abs = pe
        if k:
            del pend[:k]
        return parts

    def _shed(self, ip: IPPacket, out: list[StreamChunk]) -> None:
        """Over ``max_total_buffer``: deliver the fullest buffers past their holes, down to 3/4.

        Runs only on overflow and frees at least a quarter of the limit each time, so its scan
        over the connection table costs O(connections) per ``max_total_buffer / 4`` bytes fed.
        """
        halves = [
            (h.pbytes, st.conn.index, fc, st, h)
            for st in self._lru.values()
            for fc, h in ((True, st.c2s), (False, st.s2c))
            if h.pending
        ]
        halves.sort(key=itemgetter(0, 1), reverse=True)
        low = self.max_total_buffer * 3 // 4
        for _, _, fc, st, h in halves:
            if self.buffered <= low:
                break
            self.buffer_overflows += 1
            self._deliver_pending(st, h, fc, ip, out, fin=False)

    def _deliver_pending(
        self,
        st: _State,
        half: _Half,
        fc: bool,
        ip: IPPacket | None,
        out: list[StreamChunk],
        *,
        fin: bool = True,
    ) -> None:
        """Deliver everything buffered in ``half``, skipping holes (reported as gaps).

        With ``fin`` (end of the connection) a FIN not reached yet is delivered too.
        """
        self.buffered -= half.pbytes
        while half.pending:
            ps, frame, ts = half.pending[0][0], half.pending[0][3], half.pending[0][4]
            assert isinstance(ps, int) and isinstance(frame, int) and isinstance(ts, int)
            gap = ps - half.abs if ps > half.abs else 0
            half.abs = max(half.abs, ps)
            if ip is not None:
                frame, ts = ip.frame, ip.ts_ns
            parts = self._take(half)
            out.append(StreamChunk(st.conn, fc, b"".join(parts), frame, ts, gap))
        if half.fin_abs >= 0 and not half.fin_done and (fin or half.abs >= half.fin_abs):
            gap = half.fin_abs - half.abs if half.fin_abs > half.abs else 0
            half.abs = max(half.abs, half.fin_abs)
            half.fin_done = True
            if out and out[-1].conn is st.conn and out[-1].from_client == fc and not gap:
                out[-1].fin = True
            else:
                frame = ip.frame if ip is not None else half.fin_frame
                ts = ip.ts_ns if ip is not None else half.fin_ts
                out.append(StreamChunk(st.conn, fc, b"", frame, ts, gap, True))

    def _flush_state(self, st: _State, out: list[StreamChunk]) -> None:
        self._deliver_pending(st, st.c2s, True, None, out)
        self._deliver_pending(st, st.s2c, False, None, out)

    def flush(self) -> list[StreamChunk]:
        """At the end of a capture: deliver what remains buffered, past holes (with ``gap``)."""
        out: list[StreamChunk] = []
        for st in sorted(self._lru.values(), key=lambda s: s.conn.index):
            if st.lane:
                self._reclaim(st)
            self._flush_state(st, out)
        return out

    # -- the fast lane ---------------------------------------------------------------------------
    def check_out(self, conn: TCPConn) -> tuple[int, int] | None:
        """Hand ``conn``'s state to the fast lane: the sequence numbers it expects next from
        the client and from the server; ``None`` (nothing changed) unless both directions have
        been seen and are in order, with nothing buffered and no FIN."""
        st = self._lru.get(conn.index)
        if st is None or st.conn is not conn or st.lane or self.reclaim is None:
            return None
        c, s = st.c2s, st.s2c
        if c.base < 0 or s.base < 0 or c.pending or s.pending or c.fin_abs >= 0 or s.fin_abs >= 0:
            return None
        st.lane = True
        self._checked_out[conn.index] = st
        return (c.base + c.abs) & _M, (s.base + s.abs) & _M

    def check_in(self, index: int, c2s_bytes: int, s2c_bytes: int) -> None:
        """The lane's state back: the bytes it delivered in order in each direction."""
        st = self._checked_out.pop(index)
        st.lane = False
        st.c2s.abs += c2s_bytes
        st.s2c.abs += s2c_bytes

    def _reclaim(self, st: _State) -> None:
        assert self.reclaim is not None
        self.reclaim(st.conn.index)
        assert not st.lane, "the fast lane did not check the connection back in"
