"""TCPReassembler: properties (random segmentation/reordering/duplication/overlap → original
bytes) and the connection rules (SYN/FIN/RST, port reuse, wrap-around, limits)."""

from __future__ import annotations

import random
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netsec_layers.session.netstack import IPPacket
from netsec_layers.session.tcp import StreamChunk, TCPReassembler

FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16
C = ("10.0.0.1", 40000)
S = ("10.0.0.2", 443)


def seg(
    src: tuple[str, int],
    dst: tuple[str, int],
    seq: int,
    flags: int = ACK,
    data: bytes = b"",
    frame: int = 0,
    ack: int = 0,
) -> IPPacket:
    """An IPv4 packet carrying a TCP segment (RFC 9293 §3.1 header, no options)."""
    tcp = struct.pack(
        "!HHIIBBHHH", src[1], dst[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0
    )
    return IPPacket(4, src[0], dst[0], 6, tcp + data, b"", b"", frame, frame * 1000)


def run(r: TCPReassembler, pkts: list[IPPacket], flush: bool = True) -> list[StreamChunk]:
    out: list[StreamChunk] = []
    for p in pkts:
        out += r.feed(p)
    if flush:
        out += r.flush()
    return out


def stream(chunks: list[StreamChunk], from_client: bool, index: int = 0) -> bytes:
    return b"".join(
        c.data for c in chunks if c.from_client == from_client and c.conn.index == index
    )


def handshake(isn_c: int, isn_s: int) -> list[IPPacket]:
    return [
        seg(C, S, isn_c, SYN),
        seg(S, C, isn_s, SYN | ACK, ack=isn_c + 1),
        seg(C, S, isn_c + 1, ACK),
    ]


def segments(
    src: tuple[str, int],
    dst: tuple[str, int],
    base: int,
    data: bytes,
    cuts: list[int],
    rnd: random.Random,
    overlap: bool,
) -> list[IPPacket]:
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    out = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        if overlap and rnd.random() < 0.3:
            a = max(0, a - rnd.randint(1, 50))  # retransmission covering earlier bytes too
        if overlap and rnd.random() < 0.3:
            b = min(len(data), b + rnd.randint(1, 50))
        out.append(seg(src, dst, base + a, ACK | PSH, data[a:b]))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.binary(min_size=0, max_size=3000),
    st.binary(min_size=0, max_size=1500),
    st.lists(st.integers(0, 3000), max_size=30),
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.randoms(use_true_random=False),
    st.integers(0, 5),
    st.booleans(),
)
def test_property_reassembly(
    c_data: bytes,
    s_data: bytes,
    cuts: list[int],
    isn_c: int,
    isn_s: int,
    rnd: random.Random,
    dups: int,
    overlap: bool,
) -> None:
    cs = segments(C, S, isn_c + 1, c_data, cuts, rnd, overlap)
    ss = segments(S, C, isn_s + 1, s_data, [x // 2 for x in cuts], rnd, overlap)
    fins = [
        seg(C, S, isn_c + 1 + len(c_data), FIN | ACK),
        seg(S, C, isn_s + 1 + len(s_data), FIN | ACK),
    ]
    body = cs + ss + fins
    body += [rnd.choice(body) for _ in range(dups)]
    rnd.shuffle(body)
    for i, p in enumerate(body):
        p.frame = i + 4
    r = TCPReassembler()
    chunks = run(r, handshake(isn_c, isn_s) + body, flush=False)
    assert stream(chunks, True) == c_data
    assert stream(chunks, False) == s_data
    assert all(c.gap == 0 for c in chunks)
    assert sum(c.fin for c in chunks if c.from_client) == 1
    assert sum(c.fin for c in chunks if not c.from_client) == 1
    # the FIN comes with / after the last data byte of its direction
    for d in (True, False):
        mine = [c for c in chunks if c.from_client == d]
        assert mine[-1].fin
    assert r.flush() == []
    assert {c.conn.index for c in chunks} == {0}
    conn = chunks[0].conn if chunks else None
    if conn is not None:
        assert conn.client == C and conn.server == S and conn.saw_syn and conn.closed


@settings(max_examples=100, deadline=None)
@given(
    st.binary(min_size=1, max_size=2000),
    st.integers(0, 0xFFFFFFFF),
    st.randoms(use_true_random=False),
)
def test_property_holes_are_gaps_at_flush(data: bytes, isn: int, rnd: random.Random) -> None:
    """Drop some segments: flush delivers everything else, the gaps add up to what was lost."""
    pieces = segments(C, S, isn, data, [rnd.randint(0, len(data)) for _ in range(8)], rnd, False)
    first, rest = pieces[0], pieces[1:]
    kept = [p for p in rest if rnd.random() < 0.7]
    chunks = run(TCPReassembler(), [first, *kept])
    got = b"".join(c.data for c in chunks)
    lost = sum(c.gap for c in chunks)
    assert len(got) + lost <= len(data)
    # every delivered byte is at the right offset
    pos = 0
    for c in chunks:
        pos += c.gap
        assert data[pos : pos + len(c.data)] == c.data
        pos += len(c.data)


def test_wraparound() -> None:
    isn = 0xFFFFFFFF - 10
    data = bytes(range(200))
    pkts = (
        handshake(isn, 5)
        + [
            seg(C, S, isn + 1 + 100, ACK, data[100:]),  # past the wrap, out of order
            seg(C, S, isn + 1, ACK, data[:100]),
        ]
    )
    chunks = run(TCPReassembler(), pkts)
    assert stream(chunks, True) == data and all(c.gap == 0 for c in chunks)


def test_first_seen_bytes_win() -> None:
    pkts = handshake(100, 900) + [
        seg(C, S, 101, ACK, b"AAAA"),
        seg(C, S, 101, ACK, b"BBBBBBBB"),  # retransmission with different bytes: only 4 new
        seg(C, S, 113, ACK, b"XXXX"),  # out of order
        seg(C, S, 109, ACK, b"YYYYYYYYYY"),  # fills the hole and overlaps XXXX
    ]
    chunks = run(TCPReassembler(), pkts)
    assert stream(chunks, True) == b"AAAABBBBYYYYXXXXYY"
    assert [c.frame for c in chunks if c.data] == [0, 0, 0]


def test_mid_stream_start_and_client_choice() -> None:
    r = TCPReassembler()
    chunks = run(
        r, [seg(S, C, 5000, ACK, b"hello"), seg(C, S, 7000, ACK, b"hi"), seg(S, C, 5005, ACK, b"!")]
    )
    conn = chunks[0].conn
    assert conn.client == S and not conn.saw_syn  # first packet's sender
    assert stream(chunks, True) == b"hello!" and stream(chunks, False) == b"hi"
    # a capture starting at the SYN+ACK: its receiver is the client
    chunks = run(TCPReassembler(), [seg(S, C, 1, SYN | ACK), seg(C, S, 50, ACK, b"q")])
    assert chunks[0].conn.client == C and chunks[0].from_client


def test_rst() -> None:
    chunks = run(TCPReassembler(), [*handshake(1, 2), seg(C, S, 2, ACK, b"ab"), seg(S, C, 3, RST)])
    assert chunks[-1].rst and not chunks[-1].from_client and chunks[-1].conn.closed


def test_syn_retransmission_and_port_reuse() -> None:
    r = TCPReassembler()
    first = [
        seg(C, S, 10, SYN),
        seg(C, S, 10, SYN),  # retransmitted SYN: same connection
        seg(S, C, 20, SYN | ACK),
        seg(C, S, 11, ACK, b"one"),
        seg(C, S, 14, FIN | ACK),
        seg(S, C, 21, FIN | ACK),
    ]
    second = [seg(C, S, 99999, SYN), seg(S, C, 555, SYN | ACK), seg(C, S, 100000, ACK, b"two")]
    chunks = run(r, first + second)
    assert stream(chunks, True, 0) == b"one" and stream(chunks, True, 1) == b"two"
    idx = {c.conn.index for c in chunks}
    assert idx == {0, 1}
    assert [c.conn for c in chunks if c.conn.index == 1][0].client == C


def test_max_buffer_skips_hole() -> None:
    r = TCPReassembler(max_buffer=1000)
    pkts = [seg(C, S, 1, SYN), seg(C, S, 2, ACK, b"a" * 10)]
    # bytes 10..109 never arrive; 600-byte segments after the hole
    pkts += [seg(C, S, 2 + 110 + 600 * i, ACK, bytes([65 + i]) * 600) for i in range(3)]
    chunks = run(r, pkts, flush=False)
    gaps = [c for c in chunks if c.gap]
    assert len(gaps) == 1 and gaps[0].gap == 100
    assert stream(chunks, True) == b"a" * 10 + b"A" * 600 + b"B" * 600 + b"C" * 600
    assert r.flush() == []


def test_flush_reports_gap_and_pending_fin() -> None:
    r = TCPReassembler()
    pkts = [seg(C, S, 1, SYN), seg(C, S, 2, ACK, b"xy"), seg(C, S, 10, FIN | ACK, b"tail", frame=7)]
    chunks = run(r, pkts, flush=False)
    assert stream(chunks, True) == b"xy"
    fl = r.flush()
    assert [(c.gap, c.data, c.fin, c.frame) for c in fl] == [(6, b"tail", True, 7)]


def test_max_connections_evicts_lru() -> None:
    r = TCPReassembler(max_connections=3)
    out = []
    for i in range(5):
        cl = ("10.0.0.1", 1000 + i)
        out += r.feed(seg(cl, S, 1, SYN))
        out += r.feed(seg(cl, S, 2, ACK, b"x"))
        out += r.feed(seg(cl, S, 10, ACK, b"later"))  # buffered behind a hole
    assert r.evicted == 2 and len(r.connections) == 3
    evicted_chunks = [c for c in out if c.gap]
    assert {c.conn.index for c in evicted_chunks} == {0, 1}
    assert all(c.data == b"later" and c.gap == 7 for c in evicted_chunks)
    assert [c.index for c in r.connections] == [2, 3, 4]


def test_max_total_buffer_sheds_fullest_directions() -> None:
    """Over the cross-connection limit the fullest buffers are delivered past their holes, down
    to 3/4 of the limit; the segment that overflowed keeps its own chunks last."""
    r = TCPReassembler(max_buffer=10_000, max_total_buffer=4_000)
    out = []
    for i, size in enumerate((1_500, 1_000, 800, 900)):
        cl = ("10.0.0.1", 2000 + i)
        out += r.feed(seg(cl, S, 1, SYN))
        out += r.feed(seg(cl, S, 2, ACK, b"ab"))
        out += r.feed(seg(cl, S, 7, ACK, bytes([97 + i]) * size, frame=10 + i))  # 3-byte hole
    # 1500 + 1000 + 800 = 3300 fit; the 900 of connection 3 makes 4200 > 4000: connection 0
    # (1500, the fullest) goes, leaving 2700 <= 3000.
    assert r.buffer_overflows == 1
    assert r.buffered == 2_700
    shed = [c for c in out if c.gap]
    assert [(c.conn.index, c.gap, c.data, c.frame) for c in shed] == [(0, 3, b"a" * 1500, 13)]
    assert r.flush() and r.buffered == 0


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3000), st.integers(1, 700)), max_size=60),
    st.integers(500, 5000),
)
def test_property_buffered_is_accounted_and_bounded(
    sends: list[tuple[int, int, int]], limit: int
) -> None:
    """``buffered`` always equals the bytes held, never exceeds the limit after a feed, and every
    delivered byte sits at its offset (gaps count what was skipped)."""
    r = TCPReassembler(max_buffer=1 << 20, max_total_buffer=limit, max_connections=4)
    sent: dict[int, bytes] = {}
    chunks: list[StreamChunk] = []
    for conn, off, n in sends:
        cl = ("10.0.0.9", 3000 + conn)
        sent.setdefault(conn, bytes((conn * 37 + k) % 251 for k in range(4000)))
        if (cl[0], cl[1], S[0], S[1]) not in r._conns:  # new, or evicted by max_connections
            chunks += r.feed(seg(cl, S, 0, SYN))
        chunks += r.feed(seg(cl, S, 1 + off, ACK, sent[conn][off : off + n]))
        held = sum(h.pbytes for s_ in r._lru.values() for h in (s_.c2s, s_.s2c))
        assert r.buffered == held <= limit
    chunks += r.flush()
    assert r.buffered == 0
    by_conn: dict[int, int] = {}
    for c in chunks:
        port = c.conn.client[1] - 3000
        pos = by_conn.get(c.conn.index, 0) + c.gap
        assert sent[port][pos : pos + len(c.data)] == c.data
        by_conn[c.conn.index] = pos + len(c.data)


def test_ipv6_and_errors() -> None:
    r = TCPReassembler()
    p = seg(("2001:db8::1", 5), ("2001:db8::2", 6), 1, ACK, b"v6")
    p.version = 6
    (c,) = r.feed(p)
    assert c.conn.ip_version == 6 and c.data == b"v6"
    assert r.feed(IPPacket(4, "a", "b", 6, b"\0" * 10, b"", b"", 1, 1)) == []
    assert r.last_error == "truncated TCP header"
    bad = bytearray(seg(C, S, 1).payload)
    bad[12] = 0xF0  # data offset 60 > segment
    assert r.feed(IPPacket(4, "a", "b", 6, bytes(bad), b"", b"", 1, 1)) == []
    assert r.feed(IPPacket(4, "a", "b", 17, b"\0" * 30, b"", b"", 1, 1)) == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=80), max_size=20))
def test_garbage_never_raises(payloads: list[bytes]) -> None:
    r = TCPReassembler(max_buffer=64, max_connections=2)
    for i, p in enumerate(payloads):
        r.feed(IPPacket(4, "1.1.1.1", f"2.2.2.{i % 3}", 6, p, b"", b"", i, i))
    r.flush()
