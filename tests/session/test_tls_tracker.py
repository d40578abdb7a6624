"""The TLS connection tracker on hand-made streams: framing, resync, limits, garbage.

The byte-level inputs are taken from a real capture (pcaps/tls, made by OpenSSL) and cut,
shuffled or corrupted here; correctness of decryption itself is shown in
tests/integration/test_tls_samples.py against the peers' bytes and tshark.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netsec_layers.errors import NetsecError
from netsec_layers.keys.keylog import load_keylog
from netsec_layers.session.engine import CaptureEngine, iter_capture
from netsec_layers.session.tcp import StreamChunk, TCPConn
from netsec_layers.session.tls import TLSRecordInfo, TLSTracker, looks_like_record_header
from netsec_layers.session.tls_keys import TLSKeyMaterial

SAMPLES = Path(__file__).resolve().parents[2] / "pcaps" / "tls"
SAMPLE = "tls12-ecdhe-rsa-aes128gcm"


def _conn(index: int = 0, *, syn: bool = True) -> TCPConn:
    return TCPConn(index, ("10.0.0.1", 40000), ("10.0.0.2", 8443), 4, syn)


def _directions(name: str = SAMPLE) -> tuple[list[bytes], list[bool]]:
    """The TCP payload of the sample, as (chunks, from_client) in capture order."""
    engine = CaptureEngine()
    chunks: list[bytes] = []
    dirs: list[bool] = []
    orig = engine.tcp.feed

    def spy(ip):  # type: ignore[no-untyped-def]
        out = orig(ip)
        for c in out:
            if c.data:
                chunks.append(c.data)
                dirs.append(c.from_client)
        return out

    engine.tcp.feed = spy  # type: ignore[method-assign]
    for _ in iter_capture(SAMPLES / f"{name}.pcap", engine):
        pass
    return chunks, dirs


def _keys(name: str = SAMPLE) -> TLSKeyMaterial:
    k = TLSKeyMaterial()
    k.add_keylog(load_keylog(SAMPLES / f"{name}.keys"))
    return k


def _feed_all(
    tracker: TLSTracker, pieces: list[tuple[bytes, bool]], conn: TCPConn
) -> list[TLSRecordInfo]:
    out: list[TLSRecordInfo] = []
    for i, (data, from_client) in enumerate(pieces):
        out += tracker.feed(StreamChunk(conn, from_client, data, i + 1, i))
    return out


def test_byte_by_byte_delivery_gives_the_same_records_as_whole_segments() -> None:
    chunks, dirs = _directions()
    whole = _feed_all(TLSTracker(_keys()), list(zip(chunks, dirs, strict=True)), _conn())
    tiny = [(bytes([b]), d) for c, d in zip(chunks, dirs, strict=True) for b in c]
    split = _feed_all(TLSTracker(_keys()), tiny, _conn())
    key = [(r.raw, r.decrypted, r.plaintext, r.handshake_types, r.error) for r in whole]
    assert key == [(r.raw, r.decrypted, r.plaintext, r.handshake_types, r.error) for r in split]
    assert sum(r.decrypted for r in whole) == 6
    # frame = the chunk that completed the record: the last byte's chunk
    assert all(r.frame >= 1 for r in split)


def test_records_reassemble_to_the_wire_bytes() -> None:
    chunks, dirs = _directions()
    recs = _feed_all(TLSTracker(), list(zip(chunks, dirs, strict=True)), _conn())
    for direction in (True, False):
        wire = b"".join(c for c, d in zip(chunks, dirs, strict=True) if d == direction)
        assert b"".join(r.raw for r in recs if r.from_client == direction) == wire


def test_client_hello_decides_direction_without_syn() -> None:
    chunks, dirs = _directions()
    # The capture's client is presented as the TCP "server" and no SYN was seen.
    flipped = [(c, not d) for c, d in zip(chunks, dirs, strict=True)]
    tracker = TLSTracker(_keys())
    recs = _feed_all(tracker, flipped, _conn(syn=False))
    assert recs[0].handshake_types == [1] and recs[0].from_client
    assert tracker.connections[0].client_is_tcp_client is False
    assert sum(r.decrypted for r in recs) == 6


def test_mid_stream_start_resynchronises_on_record_boundaries() -> None:
    chunks, dirs = _directions()
    server = b"".join(c for c, d in zip(chunks, dirs, strict=True) if not d)
    # Drop the first 7 bytes (inside the first record header): the tracker finds the next record.
    recs = TLSTracker().feed(StreamChunk(_conn(syn=False), False, server[7:], 1, 0))
    assert recs and all(not r.error for r in recs)
    assert server.endswith(b"".join(r.raw for r in recs))


def test_gap_then_resync_reports_undecryptable_rather_than_garbage() -> None:
    chunks, dirs = _directions()
    tracker = TLSTracker(_keys())
    conn = _conn()
    out: list[TLSRecordInfo] = []
    for i, (c, d) in enumerate(zip(chunks, dirs, strict=True)):
        gap = 0
        if i == len(chunks) - 3:
            c, gap = c[3:], 3
        out += tracker.feed(StreamChunk(conn, d, c, i + 1, i, gap=gap))
    clean = _feed_all(TLSTracker(_keys()), list(zip(chunks, dirs, strict=True)), _conn())
    good = {(r.from_client, r.plaintext) for r in clean if r.decrypted}
    assert any(r.decrypted for r in out)
    for r in out:
        if r.decrypted:
            assert r.error is None and (r.from_client, r.plaintext) in good


def test_not_tls_stream_is_ignored() -> None:
    tracker = TLSTracker()
    assert (
        tracker.feed(StreamChunk(_conn(), True, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1, 0)) == []
    )
    assert tracker.feed(StreamChunk(_conn(), True, b"\x16\x03\x01\x00\x05hello", 2, 0)) == []


def test_unknown_content_type_mid_stream_is_an_error_not_an_exception() -> None:
    tracker = TLSTracker()
    conn = _conn()
    ok = bytes.fromhex("1503030002") + b"\x01\x00"
    recs = tracker.feed(StreamChunk(conn, True, ok + b"\x63\x03\x03\x00\x01\x00", 1, 0))
    assert recs[0].alert == (1, 0)
    assert recs[1].error == "unknown content type 99"


def test_sslv2_compatible_client_hello_is_recognised() -> None:
    # RFC 5246 Appendix E.2 layout: length with high bit, msg_type 1, version 3.1,
    # 3 cipher specs (9 bytes), no session id, 16-byte challenge.
    specs = bytes.fromhex("00002f000035010080")
    body = (
        b"\x01\x03\x01"
        + len(specs).to_bytes(2, "big")
        + b"\x00\x00"
        + b"\x00\x10"
        + specs
        + bytes(range(16))
    )
    data = (0x8000 | len(body)).to_bytes(2, "big") + body
    recs = TLSTracker().feed(StreamChunk(_conn(), True, data, 1, 0))
    assert len(recs) == 1 and recs[0].sslv2 and recs[0].handshake_types == [1]
    conn = TLSTracker()
    conn.feed(StreamChunk(_conn(), True, data, 1, 0))
    hello = conn.connections[0].client_hello
    assert hello is not None and hello.random == bytes(16) + bytes(range(16))
    assert hello.cipher_suites == [0x2F, 0x35]


def test_header_check() -> None:
    assert looks_like_record_header(b"\x16\x03\x01\x02\x00")
    assert not looks_like_record_header(b"\x16\x02\x01\x02\x00")
    assert not looks_like_record_header(b"\x16\x03\x05\x02\x00")
    assert not looks_like_record_header(b"\x17\x03\x03\xff\xff")  # longer than 2^14+2048


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.binary(max_size=300), st.booleans(), st.integers(0, 3)), max_size=12))
def test_garbage_streams_never_raise(pieces: list[tuple[bytes, bool, int]]) -> None:
    tracker = TLSTracker(_keys())
    conn = _conn()
    for i, (data, d, gap) in enumerate(pieces):
        try:
            tracker.feed(StreamChunk(conn, d, data, i + 1, i, gap=gap))
        except NetsecError:
            pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_corrupted_real_stream_never_shows_unauthenticated_plaintext(data: st.DataObject) -> None:
    chunks, dirs = _directions()
    pieces = [bytearray(c) for c in chunks]
    i = data.draw(st.integers(0, len(pieces) - 1))
    j = data.draw(st.integers(0, len(pieces[i]) - 1))
    pieces[i][j] ^= 1 << data.draw(st.integers(0, 7))
    recs = _feed_all(
        TLSTracker(_keys()), [(bytes(p), d) for p, d in zip(pieces, dirs, strict=True)], _conn()
    )
    clean = _feed_all(TLSTracker(_keys()), list(zip(chunks, dirs, strict=True)), _conn())
    good = {(r.from_client, r.plaintext) for r in clean if r.decrypted}
    for r in recs:
        if r.decrypted:
            assert (r.from_client, r.plaintext) in good


def test_closed_connections_that_are_not_tls_leave_the_pool_too() -> None:
    """A closed connection enters the closed pool whatever it carried: plain-text ones (state
    ``not-tls``, an early return of the record loop) are released past ``max_closed`` like TLS
    ones, and never counted as evicted open connections."""
    released: list[int] = []
    tr = TLSTracker(max_connections=4, max_closed=2, on_release=lambda c: released.append(c.index))
    for i in range(6):
        conn = _conn(i)
        tr.feed(StreamChunk(conn, True, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 2 * i, 0))
        conn.closed = True  # what TCPReassembler sets once FINs both ways are delivered
        tr.feed(StreamChunk(conn, False, b"", 2 * i + 1, 0, fin=True))
    assert released == [0, 1, 2, 3] and list(tr.connections) == [4, 5]
    assert tr.evicted == 0
