"""Resource bounds: hostile length fields, floods of tiny units and of connections.

Each test finishes in seconds and asserts bounded memory (tracemalloc peak) or linear work: the
ratio of two *operation counts* (Python lines executed, tests/robustness/_opcount.py) at n and
4n: linear gives ~4, quadratic ~16.  Counts, not wall-clock times: a loaded machine cannot make
them flaky.  Costs hidden inside C calls are timed at full size by tools/stress.py instead.
Limits checked here are read from the code (see docs/robustness.md for the table).
"""

from __future__ import annotations

import gc
import io
import os
import struct
import tracemalloc
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest

from netsec_layers.errors import IntegrityError
from netsec_layers.io.pcap import CaptureReader, Frame
from netsec_layers.session import tls as tls_mod
from netsec_layers.session.netstack import IPDecoder, IPPacket
from netsec_layers.session.tcp import StreamChunk, TCPConn, TCPReassembler
from netsec_layers.session.tls import TLSTracker
from tests.robustness._opcount import growth, python_lines
from tests.robustness._util import peak_memory

MB = 1 << 20


def _conn(index: int = 0) -> TCPConn:
    return TCPConn(index, ("10.0.0.1", 40000 + index), ("10.0.0.2", 443), 4, True)


# -- TLS records and handshake messages ---------------------------------------------------------
def test_record_claiming_65535_bytes_is_bounded_and_flagged() -> None:
    """The length field is 2 bytes (RFC 5246 §6.2.1): 65535 is the most a record can claim;
    it is buffered (≤ 64 KiB) and reported as past 2^14+2048, not trusted."""
    tr = TLSTracker()
    c = _conn()
    hdr = bytes([23, 3, 3, 0xFF, 0xFF])
    tr.feed(StreamChunk(c, True, bytes([22, 3, 1, 0, 4, 14, 0, 0, 0]), 1, 0))  # sync
    with peak_memory() as peak:
        out = tr.feed(StreamChunk(c, True, hdr, 2, 0))
        for i in range(63):  # 63 × 1 KiB trickle
            out += tr.feed(StreamChunk(c, True, bytes(1024), 3 + i, 0))
        out += tr.feed(StreamChunk(c, True, bytes(65535 - 63 * 1024), 99, 0))
        assert peak() < 2 * MB
    assert len(out) == 1 and out[0].length == 65535
    assert "exceeds" in (out[0].error or "")
    assert len(tr.connections[0].client.buf) == 0


def test_handshake_message_claiming_16_mb_is_dropped() -> None:
    """A handshake header claiming 2^24-1 bytes is past MAX_HANDSHAKE_MESSAGE (1 MiB): the
    reassembly buffer is cleared instead of growing to 16 MiB."""
    assert tls_mod.MAX_HANDSHAKE_MESSAGE == 1 << 20
    tr = TLSTracker()
    c = _conn()
    body = bytes([1]) + (0xFFFFFF).to_bytes(3, "big") + os.urandom(16380)
    with peak_memory() as peak:
        out = tr.feed(
            StreamChunk(c, True, bytes([22, 3, 1]) + struct.pack("!H", len(body)) + body, 1, 0)
        )
        rnd = os.urandom(16384)
        for i in range(64):  # 1 MiB more of "handshake" records
            out += tr.feed(StreamChunk(c, True, bytes([22, 3, 3, 0x40, 0]) + rnd, 2 + i, 0))
        assert peak() < 4 * MB
    assert "exceeds the reassembly limit" in (out[0].error or "")
    assert len(tr.connections[0].client.hs_buf) <= tls_mod.MAX_HANDSHAKE_MESSAGE


def test_handshake_just_under_the_limit_is_held_once() -> None:
    tr = TLSTracker()
    c = _conn()
    claimed = tls_mod.MAX_HANDSHAKE_MESSAGE - 4
    first = bytes([11]) + claimed.to_bytes(3, "big") + bytes(16000)
    tr.feed(StreamChunk(c, True, bytes([22, 3, 3]) + struct.pack("!H", len(first)) + first, 1, 0))
    with peak_memory() as peak:
        for i in range(40):
            tr.feed(StreamChunk(c, True, bytes([22, 3, 3, 0x3E, 0x80]) + bytes(16000), 2 + i, 0))
        assert peak() < 3 * tls_mod.MAX_HANDSHAKE_MESSAGE


def _tiny_records(n: int) -> None:
    tr = TLSTracker()
    c = _conn()
    tr.feed(StreamChunk(c, True, bytes([22, 3, 1, 0, 4, 14, 0, 0, 0]), 1, 0))
    rec = bytes([23, 3, 3, 0, 1, 0x41])
    blob = rec * 1000
    got = 0
    for i in range(n // 1000):  # a stream, never a list of all records
        got += len(tr.feed(StreamChunk(c, True, blob, 2 + i, 0)))
    got += len(tr.feed(StreamChunk(c, True, rec * (n % 1000), 1, 0)))
    assert got == n


def test_tiny_records_linear_time_and_constant_memory() -> None:
    """One-byte records: work linear in their count, memory independent of it."""
    assert growth(_tiny_records, 2_000) < 5
    with peak_memory() as peak:
        _tiny_records(20_000)
        assert peak() < 4 * MB


def _resync_garbage(segments: int, size: int = 1000) -> None:
    tr = TLSTracker()
    c = _conn()
    tr.feed(StreamChunk(c, True, bytes([22, 3, 1, 0, 4, 14, 0, 0, 0]), 1, 0))
    tr.feed(StreamChunk(c, True, b"", 2, 0, gap=100))  # a TCP hole: resynchronise
    seg = b"A" * size
    for i in range(segments):
        tr.feed(StreamChunk(c, True, seg, 3 + i, 0))


def test_resync_after_gap_is_linear() -> None:
    """After a gap, 140 KB of non-TLS bytes in 1000-byte segments must cost about what the same
    bytes cost in one chunk (one scan), not one scan per segment."""
    _resync_garbage(2)
    one = python_lines(lambda: _resync_garbage(1, 140_000))
    many = python_lines(lambda: _resync_garbage(140))
    assert many < 4 * one, (one, many)  # one scan per segment would be ~70x


# -- connections that never close ---------------------------------------------------------------
def _syn_and_data(i: int) -> list[IPPacket]:
    sport = 1024 + i % 60000
    src = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
    syn = struct.pack("!HHIIBBHHH", sport, 443, 1000, 0, 5 << 4, 0x02, 65535, 0, 0)
    data = struct.pack("!HHIIBBHHH", sport, 443, 1001, 0, 5 << 4, 0x18, 65535, 0, 0) + bytes(
        [22, 3, 1, 0, 4, 1, 0, 0, 0]
    )
    return [IPPacket(4, src, "10.255.0.1", 6, s, b"", b"", i, i, False) for s in (syn, data)]


def test_reassembler_evicts_past_max_connections() -> None:
    tcp = TCPReassembler(max_connections=300)
    assert TCPReassembler().max_connections == 100_000  # the documented default
    for i in range(3000):
        for ip in _syn_and_data(i):
            tcp.feed(ip)
    assert len(tcp.connections) <= 300
    assert tcp.evicted == 3000 - 300


def test_tracker_connection_table_is_bounded() -> None:
    """Found here (one TLSConnection per TCP connection ever seen), fixed in 19b9ce6: the
    tracker has its own LRU bound."""
    assert TLSTracker().max_connections == 100_000
    tcp = TCPReassembler(max_connections=300)
    tr = TLSTracker(max_connections=300)
    for i in range(3000):
        for ip in _syn_and_data(i):
            for chunk in tcp.feed(ip):
                tr.feed(chunk)
    assert len(tr.connections) <= 300
    assert tr.evicted == 3000 - 300


def test_out_of_order_buffering_is_bounded_over_all_connections() -> None:
    """40 connections each send 1 MiB behind a one-byte hole that never fills: without a
    cross-connection cap that is 40 MiB held (it was: 100 such connections used 120 MB).  With
    ``max_total_buffer`` = 8 MiB the fullest directions are delivered past their holes."""
    assert TCPReassembler().max_total_buffer == 32 * MB  # the documented default
    tcp = TCPReassembler(max_total_buffer=8 * MB)
    piece = bytes(16 * 1024)
    delivered = gaps = 0
    with peak_memory() as peak:
        for i in range(40):
            sport = 5000 + i
            pk = [struct.pack("!HHIIBBHHH", sport, 443, 0, 0, 5 << 4, 0x02, 65535, 0, 0)]
            for k in range(64):  # byte offset 0 never arrives
                hdr = struct.pack(
                    "!HHIIBBHHH", sport, 443, 2 + k * len(piece), 0, 5 << 4, 0x10, 1, 0, 0
                )
                pk.append(hdr + piece)
            for n, seg_ in enumerate(pk):
                ip = IPPacket(4, "10.0.0.1", "10.0.0.2", 6, seg_, b"", b"", i * 100 + n, 0, False)
                for c in tcp.feed(ip):
                    delivered += len(c.data)
                    gaps += c.gap
            assert tcp.buffered <= 8 * MB
    assert peak() < 14 * MB, peak()
    assert tcp.buffer_overflows > 0
    for c in tcp.flush():
        delivered += len(c.data)
        gaps += c.gap
    assert (delivered, gaps) == (40 * 64 * len(piece), 40)  # every byte once, one gap each


def test_engine_bounds_are_consistent() -> None:
    from netsec_layers.session.engine import CaptureEngine

    eng = CaptureEngine()
    assert eng.tls.max_connections >= eng.tcp.max_connections == 100_000


# -- capture files ------------------------------------------------------------------------------
class _Endless(io.RawIOBase):
    """A file of ``head`` then zeros up to ``cap`` bytes, counting what was read."""

    def __init__(self, head: bytes, cap: int) -> None:
        self.head, self.cap, self.n = head, cap, 0

    def readable(self) -> bool:
        return True

    def read(self, k: int = -1) -> bytes:
        k = self.cap if k is None or k < 0 else k
        if self.head:
            out, self.head = self.head[:k], self.head[k:]
        else:
            out = bytes(min(k, self.cap - self.n))
        self.n += len(out)
        return out


PCAP_HDR = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)


def _ng_block(btype: int, body: bytes) -> bytes:
    n = 12 + len(body) + (-len(body)) % 4
    return struct.pack("<II", btype, n) + body + bytes((-len(body)) % 4) + struct.pack("<I", n)


NG_HEAD = _ng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)) + _ng_block(
    1, struct.pack("<HHI", 101, 0, 0)
)


@pytest.mark.parametrize(
    "head",
    [
        PCAP_HDR + struct.pack("<IIII", 1, 0, 0xFFFFFFFF, 0xFFFFFFFF),
        NG_HEAD + struct.pack("<II", 6, 0xFFFFFFF0) + struct.pack("<IIIII", 0, 0, 0, 2**32 - 1, 9),
        NG_HEAD + struct.pack("<II", 10, 0xFFFFFFF0) + struct.pack("<II", 0x544C534B, 2**32 - 64),
    ],
    ids=["pcap-4GB-packet", "pcapng-4GB-EPB", "pcapng-4GB-DSB"],
)
def test_capture_claiming_4_gb(head: bytes) -> None:
    src = _Endless(head, 96 * MB)
    with peak_memory() as peak:
        with CaptureReader(src) as r:
            frames = list(r)
        assert peak() < 8 * MB  # max_packet is 256 KiB; nothing near 4 GB is held
    assert frames == []
    assert r.truncated


# -- IP fragments -------------------------------------------------------------------------------
def _frag(ident: int, off8: int, payload: bytes, src: int = 0x0A000001) -> Frame:
    h = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(payload),
        ident & 0xFFFF,
        0x2000 | off8,
        64,
        17,
        0,
        src.to_bytes(4, "big"),
        b"\x0a\0\0\x02",
    )
    return Frame(1, 0, 101, h + payload, 20 + len(payload))


def _tiny_fragments(n: int) -> None:
    dec = IPDecoder()
    for k in range(n):  # every other 8-byte slot, so no two ranges ever merge
        dec.feed(_frag(7, 2 * k, bytes(8)))


def test_many_tiny_fragments_linear_time() -> None:
    """Found here (O(n^2) range merging), fixed in 0c0349f: 8192 8-byte fragments of one
    datagram must not take tens of seconds."""
    assert growth(_tiny_fragments, 250) < 5


def test_fragment_table_memory_is_bounded() -> None:
    """Found here (payload bytes only were counted), fixed in 0c0349f: per-datagram overhead
    is accounted and ``max_datagrams`` caps the table."""
    assert IPDecoder().max_datagrams == 65536
    dec = IPDecoder(max_fragment_bytes=64 * 1024)
    with peak_memory() as peak:
        for i in range(6000):
            dec.feed(_frag(i, 0, bytes(8), src=0x0A000000 + (i >> 16)))
        # 64 KiB of payload allowed: the whole table should stay within a few MB
        assert peak() < 2 * MB


# -- SA tables ----------------------------------------------------------------------------------
def _esp_sa_lines(n: int, *, same_spi: bool = False) -> str:
    return "\n".join(
        f'"IPv4","10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}","10.99.0.1",'
        f'"0x{0x1000 if same_spi else 0x1000 + i:08x}","AES-GCM with 16 octet ICV [RFC4106]",'
        f'"0x{i:040x}","NULL",""'
        for i in range(n)
    )


def test_sa_table_of_10_5_entries_builds_fast_and_lookup_is_a_dict_hit() -> None:
    from netsec_layers.keys.sa import SecurityAssociation
    from netsec_layers.session.ipsec import SADatabase

    def sas(n: int) -> list[SecurityAssociation]:
        return [
            SecurityAssociation(
                0x1000 + i,
                "AES-GCM-16",
                i.to_bytes(20, "big"),
                src=f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}",
            )
            for i in range(n)
        ]

    tables = {n: sas(n) for n in (500, 2000)}
    assert growth(lambda n: SADatabase(tables[n]), 500) < 5  # linear: ~4, quadratic: ~16

    def lookups(db: SADatabase, n: int) -> None:
        for i in range(0, n, n // 1000):
            db.lookup(
                0x1000 + i, src=f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}", dst="10.99.0.1"
            )

    from netsec_layers.session.ipsec import _ip

    lookups(SADatabase(sas(1000)), 1000)  # warm-up on another table (lookups are cached)
    small, large = SADatabase(sas(1000)), SADatabase(sas(100_000))
    _ip.cache_clear()  # the same address-parsing work for both
    per_small = python_lines(lambda: lookups(small, 1000))
    _ip.cache_clear()
    per_large = python_lines(lambda: lookups(large, 100_000))
    assert per_large < 1.2 * per_small, (per_small, per_large)  # a dict hit, not a scan


def test_sa_json_and_xfrm_files_load_linear() -> None:
    from netsec_layers.keys.sa import SecurityAssociation
    from netsec_layers.keys.sa_files import (
        format_project,
        format_xfrm_add,
        parse_project,
        parse_xfrm_state,
    )

    def texts(n: int) -> tuple[str, str]:
        sas = [
            SecurityAssociation(
                0x1000 + i,
                "AES-GCM-16",
                i.to_bytes(20, "big"),
                src=f"10.0.{(i >> 8) & 255}.{i & 255}",
                dst="10.99.0.1",
            )
            for i in range(n)
        ]
        return format_project(sas), "\n".join(format_xfrm_add(s) for s in sas)

    t = {n: texts(n) for n in (500, 2000)}
    assert growth(lambda n: parse_project(t[n][0]), 500) < 5
    assert growth(lambda n: parse_xfrm_state(t[n][1]), 500) < 5


def test_esp_sa_file_of_many_entries_loads_linear(tmp_path) -> None:  # noqa: ANN001
    from netsec_layers.keys.sa_files import load_sa_file

    def load(n: int) -> None:
        p = tmp_path / f"{n}.esp_sa"
        p.write_text(_esp_sa_lines(n))
        assert len(load_sa_file(p)) == n

    assert growth(load, 400) < 5


def test_many_sas_sharing_an_spi_load_linear() -> None:
    from netsec_layers.keys.sa_files import parse_esp_sa
    from netsec_layers.session.ipsec import SADatabase

    sas = {n: parse_esp_sa(_esp_sa_lines(n, same_spi=True)) for n in (400, 1600)}

    def build(n: int) -> None:
        SADatabase(sas[n])

    # An operation count, not a wall-clock ratio (which read 9.9 once on a busy 2-core box).
    assert growth(build, 400) < 5


def test_wildcard_spi_state_is_bounded() -> None:
    from netsec_layers.keys.sa import ANY_SPI, SecurityAssociation
    from netsec_layers.session.ipsec import SADatabase

    db = SADatabase([SecurityAssociation(ANY_SPI, "AES-GCM-16", bytes(20))])
    junk = os.urandom(40)
    for i in range(3000):
        with pytest.raises(IntegrityError):
            db.decrypt(struct.pack("!II", i + 1, 1) + junk)
    assert len(db._state) < 1000


# -- many short connections ---------------------------------------------------------------------
def _short_connections(tmp: Path, n: int) -> tuple[Path, Path]:
    from tools import synth

    cap, keys = tmp / f"seq{n}.pcap", tmp / f"seq{n}.keys"
    synth.write_tls_sequential(cap, keys, version=12, connections=n, records=2)
    return cap, keys


def _run_short(cap: Path, keys: Path, max_closed: int) -> tuple[list[Any], int, Any]:
    from netsec_layers.keys.keylog import load_keylog
    from netsec_layers.session.engine import CaptureEngine
    from netsec_layers.session.plaintext import PlaintextRewriter
    from netsec_layers.session.tls_keys import TLSKeyMaterial

    km = TLSKeyMaterial()
    km.add_keylog(load_keylog(str(keys)))
    eng = CaptureEngine(tls_keys=km)
    eng.tcp.max_closed = eng.tls.max_closed = max_closed
    released: list[Any] = []
    eng.tls.on_release = lambda c: released.append(
        (c.index, c.decrypted, c.finished_ok == {"client": True, "server": True})
    )
    rw = PlaintextRewriter(eng)
    most = 0
    tracemalloc.start()
    try:
        with CaptureReader(str(cap)) as r:
            for frame in r:
                rw.process(eng.process(frame))
                most = max(most, len(eng.tls.connections), len(eng.tcp._lru), len(rw.conns))
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]  # live bytes, not the transient peak
    finally:
        tracemalloc.stop()
    rw.finish()
    eng.tls.release_all()
    return released, most, (held, eng)


def test_many_short_connections_hold_bounded_state(tmp_path: Path) -> None:
    """Connections one after the other (handshake, two records, FIN both ways): the TCP table,
    the TLS tracker and the plaintext rewriter each hold at most ``max_closed`` closed ones (+1
    open); every connection is released exactly once, decrypted, and no eviction is reported.
    Memory per extra connection stays small (was ~6 KB per connection ever seen)."""
    cap1, keys1 = _short_connections(tmp_path, 300)
    cap2, keys2 = _short_connections(tmp_path, 1200)
    rel1, most1, (held1, _) = _run_short(cap1, keys1, 50)
    rel2, most2, (held2, eng) = _run_short(cap2, keys2, 50)
    assert most1 <= 52 and most2 <= 52
    # each released once; 2 Finished + 2 application-data records decrypted, Finished verified
    assert sorted(rel2) == [(i, 4, True) for i in range(1200)]
    assert eng.tcp.evicted == eng.tls.evicted == 0 and eng.limit_notes() == []
    # What still grows: bounded caches keyed by address (65,536 / 4,096 entries; every synthetic
    # connection has its own client address) and the session-id cache (100,000 entries).
    per_connection = (held2 - held1) / 900
    assert per_connection < 1000, per_connection


def test_eviction_cost_does_not_grow_with_the_table() -> None:
    """Found with tools/stress.py (10^6 never-closing connections took 154 s at the default
    100,000-connection table and 49 s at 20,000): evicting the oldest entry of a plain dict
    with ``next(iter(d))`` scans the deleted slots left at its front until the next resize:
    O(table) per eviction, a cost inside C that no operation count sees.  The tables are
    OrderedDicts now (``popitem(last=False)`` is O(1)); that is checked here, with the Python
    work per eviction, and the time is measured at full size by ``tools/stress.py``
    (``connections``), not asserted in a test (wall-clock ratios are flaky on a busy box)."""
    hello = bytes([22, 3, 1, 0, 64, 1, 0, 0, 60, 3, 3]) + bytes(32)  # an unfinished hello

    def filled(table: int) -> TLSTracker:
        tr = TLSTracker(max_connections=table)
        for i in range(table):
            tr.feed(StreamChunk(_conn(i), True, hello, i, 0))
        return tr

    def evict(tr: TLSTracker, start: int, count: int) -> None:
        for i in range(start, start + count):  # every new connection evicts the oldest
            tr.feed(StreamChunk(_conn(i), True, hello, i, 0))

    small, large = filled(100), filled(10_000)
    evict(small, 100, 10)  # warm up
    per_small = python_lines(lambda: evict(small, 110, 2_000))
    per_large = python_lines(lambda: evict(large, 10_000, 2_000))
    assert per_large < 1.2 * per_small, (per_small, per_large)
    assert large.evicted == 2_000 and list(large.connections)[0] == 2_000  # the oldest went
    assert type(large.connections) is OrderedDict
    reassembler = TCPReassembler(max_connections=10)
    assert type(reassembler._lru) is OrderedDict
