"""The native fast lane of ``netsec decrypt -w`` (issue #22, session/fastlane.py).

The lane must be invisible: the same output bytes and the same counters as the Python path,
on every capture.  Evidence here:

- every ``pcaps/`` capture with keys through ``netsec decrypt -w`` with ``NETSEC_FASTLANE=0``
  and with the lane: identical files, exit statuses and summaries;
- crafted connections of every suite the lane has (TLS 1.2 AES-128/256-GCM and
  ChaCha20-Poly1305, TLS 1.3's three AEAD suites) and two it has not (CBC, CCM), under
  Hypothesis-drawn scripts — records cut across segments and several per segment, ACKs,
  empty records, TLS 1.3 padding and KeyUpdate, then retransmitted, reordered, lost and
  damaged frames, and a connection table small enough to evict — compared frame by frame,
  counters included, with the lane required to have taken frames where it can;
- the lane's output read by tshark (the plaintext it wrote, its checksums);
- garbage: random bytes and truncations of a real frame given to a lane holding the
  connection never raise and change nothing when refused.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netsec_layers.frame import Frame
from netsec_layers.session import fastlane
from netsec_layers.session.engine import CaptureEngine
from netsec_layers.session.mail import MailTracker
from netsec_layers.session.plaintext import PlaintextRewriter
from netsec_layers.session.tcpflow import ACK, TCPFlow
from netsec_layers.session.tls_craft import CraftedTLSConnection
from netsec_layers.session.tls_keys import TLSKeyMaterial

ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT / "pcaps"


@pytest.fixture(autouse=True)
def _lane_built() -> None:
    if not fastlane.available():
        if os.environ.get("CI"):
            pytest.fail(
                "the native fast lane is not built (pip install -e . with a C compiler and "
                "OpenSSL's headers, or python tools/build_fastlane.py)"
            )
        pytest.skip("the native fast lane is not built here")


# -- crafted captures ------------------------------------------------------------------------

LANE_SUITES = {  # suite -> record version of the connection
    0xC02F: 0x0303,  # ECDHE-RSA-AES128-GCM-SHA256
    0xC030: 0x0303,  # ECDHE-RSA-AES256-GCM-SHA384
    0xCCA8: 0x0303,  # ECDHE-RSA-CHACHA20-POLY1305
    0x1301: 0x0304,  # TLS_AES_128_GCM_SHA256
    0x1302: 0x0304,  # TLS_AES_256_GCM_SHA384
    0x1303: 0x0304,  # TLS_CHACHA20_POLY1305_SHA256
}
OTHER_SUITES = {0xC013: 0x0303, 0x1304: 0x0304}  # AES128-CBC-SHA, TLS_AES_128_CCM_SHA256

op = st.one_of(
    st.tuples(
        st.just("data"),
        st.integers(0, 1),  # connection
        st.booleans(),  # from the client
        st.integers(0, 3000),  # bytes
        st.sampled_from([16384, 700, 100]),  # record size
        st.sampled_from([0, 1460, 400, 3]),  # MSS (0: one segment)
        st.integers(0, 20),  # TLS 1.3 padding
    ),
    st.tuples(st.just("ack"), st.integers(0, 1), st.booleans()),
    st.tuples(st.just("keyupdate"), st.integers(0, 1), st.booleans()),
)
damage = st.tuples(
    st.sampled_from(["dup", "swap", "drop", "flip", "cut"]),
    st.integers(0, 10_000),
    st.integers(0, 10_000),
)


def craft(
    suite: int, ops: list[Any], damages: list[Any], seed: int = 1, v6: bool = False
) -> tuple[list[Frame], str]:
    """Two TLS connections between one host pair (IPv4, or IPv6) driven by ``ops``, then
    ``damages`` done to the frames after the handshakes."""
    rng = random.Random(seed)
    client, server = ("2001:db8::1", "2001:db8::2") if v6 else ("10.1.0.1", "10.1.0.2")
    version = LANE_SUITES.get(suite) or OTHER_SUITES[suite]
    conns, flows, keylog, packets = [], [], [], []
    for i in range(2):
        conn = CraftedTLSConnection(version=version, suite=suite, rng=rng)
        flow = TCPFlow((client, 40000 + i), (server, 443))
        packets += flow.open()
        for from_client, data in conn.handshake():
            packets += flow.data(from_client, data, mss=1460)
        conns.append(conn)
        flows.append(flow)
        keylog.append(conn.keylog())
    first_damageable = len(packets)
    payload = rng.randbytes(3000)
    for o in ops:
        kind, i, from_client = o[0], o[1], o[2]
        conn, flow = conns[i], flows[i]
        if kind == "data":
            size, record_size, mss, padding = o[3], o[4], o[5], o[6]
            wire = conn.application_data(
                payload[:size],
                from_client=from_client,
                record_size=record_size,
                padding=padding if version == 0x0304 else 0,
            )
            packets += flow.data(from_client, wire, mss=mss)
        elif kind == "ack":
            packets.append(flow.segment(from_client, b"", ACK))
        elif version == 0x0304:
            packets += flow.data(from_client, conn.key_update(from_client=from_client))
    for i in range(2):
        packets += flow_close(conns[i], flows[i])
    for kind, a, b in damages:
        n = len(packets) - first_damageable
        if n <= 1:
            break
        k = first_damageable + a % n
        if kind == "dup":
            packets.insert(k, packets[k])
        elif kind == "swap" and k + 1 < len(packets):
            packets[k], packets[k + 1] = packets[k + 1], packets[k]
        elif kind == "drop":
            del packets[k]
        elif kind == "flip" and len(packets[k]) > 74:
            pos = 54 + b % (len(packets[k]) - 54)
            pkt = bytearray(packets[k])
            pkt[pos] ^= 0x40
            packets[k] = bytes(pkt)
        elif kind == "cut":
            packets[k] = packets[k][: b % (len(packets[k]) + 1)]
    frames = [
        Frame(n + 1, 1_700_000_000_000_000_000 + n * 1000, 1, p, len(p))
        for n, p in enumerate(packets)
    ]
    return frames, "".join(keylog)


def flow_close(conn: CraftedTLSConnection, flow: TCPFlow) -> list[bytes]:
    out = flow.data(True, conn.alert(1, 0, from_client=True))  # close_notify
    return out + flow.close()


def run(
    frames: list[Frame], keylog: str, *, lane: bool, max_connections: int | None = None
) -> tuple[list[tuple[int, int, bytes]], dict[str, Any], fastlane.FastLane | None]:
    """``netsec decrypt``'s loop (session/fastlane.rewrite) with or without the lane: the
    output frames, every counter, and the lane."""
    keys = TLSKeyMaterial()
    keys.add_keylog_text(keylog)
    kw: dict[str, Any] = {} if max_connections is None else {"max_connections": max_connections}
    engine = CaptureEngine(tls_keys=keys, inner_packets=False, trackers=[MailTracker(keys)], **kw)
    rewriter = PlaintextRewriter(engine)
    fl = fastlane.FastLane(engine, rewriter) if lane else None
    out = [(o.ts_ns, o.linktype, o.data) for o in fastlane.rewrite(frames, engine, rewriter, fl)]
    counters = {
        "engine": asdict(engine.stats),
        "rewrite": asdict(rewriter.stats),
        "limits": engine.limit_counters(),
        "tls": [
            (c.index, c.records, c.decrypted, c.failed, c.last_frame, c.last_ts_ns)
            for c in engine.tls.connections.values()
        ],
        "tcp": [(c.index, c.closed) for c in engine.tcp.connections],
    }
    return out, counters, fl


def same(frames: list[Frame], keylog: str, **kw: Any) -> fastlane.FastLane:
    want = run(frames, keylog, lane=False, **kw)
    got = run(frames, keylog, lane=True, **kw)
    assert got[1] == want[1]
    assert len(got[0]) == len(want[0])
    for n, (g, w) in enumerate(zip(got[0], want[0], strict=True)):
        assert g == w, f"output frame {n} differs"
    lane = got[2]
    assert lane is not None and lane.held == 0  # everything checked back in
    return lane


# -- the same bytes --------------------------------------------------------------------------


@pytest.mark.parametrize("v6", [False, True], ids=["IPv4", "IPv6"])
@pytest.mark.parametrize("suite", sorted(LANE_SUITES), ids=hex)
def test_steady_connections_go_through_the_lane(suite: int, v6: bool) -> None:
    ops = [("data", i % 2, i % 3 == 0, 200 + 37 * i, 16384, 0, i % 5) for i in range(60)]
    frames, keylog = craft(suite, ops, [], v6=v6)
    lane = same(frames, keylog)
    # every application-data frame after each connection's first frames is the lane's
    assert lane.frames >= 50
    assert lane.checkouts >= 2


@pytest.mark.parametrize("suite", sorted(OTHER_SUITES), ids=hex)
def test_suites_the_lane_has_not_stay_in_python(suite: int) -> None:
    ops = [("data", i % 2, i % 3 == 0, 300, 16384, 0, 0) for i in range(20)]
    frames, keylog = craft(suite, ops, [])
    lane = same(frames, keylog)
    assert lane.frames == 0 and lane.checkouts == 0


@pytest.mark.parametrize("suite", [0xC02F, 0x1303], ids=hex)
def test_records_across_segments_and_several_per_segment(suite: int) -> None:
    ops = []
    for _ in range(30):
        ops.append(("data", 0, False, 2900, 700, 400, 3))  # 5 records cut into 400-byte MSS
        ops.append(("data", 1, True, 2000, 100, 0, 0))  # 20 records in one segment
        ops.append(("ack", 0, True))
    frames, keylog = craft(suite, ops, [])
    lane = same(frames, keylog)
    assert lane.frames > 200


def test_eviction_order_is_the_python_paths() -> None:
    """``--max-connections 2`` and a third connection opening while two are in the lane: the
    connection the TCP table evicts is the least recently used one, counting the segments the
    lane took (it moves the connection to the end for each, as TCPReassembler.feed does)."""
    rng = random.Random(3)
    conns, flows, keylog, packets = [], [], [], []

    def open_conn(i: int) -> None:
        conn = CraftedTLSConnection(version=0x0303, suite=0xC02F, rng=rng)
        flow = TCPFlow(("10.1.0.1", 40000 + i), ("10.1.0.2", 443))
        packets.extend(flow.open())
        for from_client, data in conn.handshake():
            packets.extend(flow.data(from_client, data, mss=1460))
        conns.append(conn)
        flows.append(flow)
        keylog.append(conn.keylog())

    def data(i: int, n: int) -> None:
        for k in range(n):
            wire = conns[i].application_data(bytes(100 + k), from_client=k % 2 == 0)
            packets.extend(flows[i].data(k % 2 == 0, wire))

    open_conn(0)
    open_conn(1)
    data(0, 10)
    data(1, 10)  # the Python path saw connection 1 last ...
    data(0, 10)  # ... but the lane's segments of connection 0 are the most recent
    open_conn(2)  # evicts the least recently used: 1
    data(0, 5)
    data(1, 5)
    data(2, 5)
    frames = [Frame(n + 1, 10**18 + n * 1000, 1, p, len(p)) for n, p in enumerate(packets)]
    want = run(frames, "".join(keylog), lane=False, max_connections=2)
    assert want[1]["limits"]["connections_evicted"] >= 1
    lane = same(frames, "".join(keylog), max_connections=2)
    assert lane.frames > 20


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    suite=st.sampled_from(sorted(LANE_SUITES)),
    ops=st.lists(op, min_size=1, max_size=25),
    damages=st.lists(damage, max_size=4),
    v6=st.booleans(),
)
def test_any_script_any_damage_same_bytes(
    suite: int, ops: list[Any], damages: list[Any], v6: bool
) -> None:
    frames, keylog = craft(suite, ops, damages, v6=v6)
    same(frames, keylog)


# -- garbage ---------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.binary(max_size=200),
    cut=st.integers(0, 2000),
    flip=st.integers(0, 2000),
    at=st.integers(1, 11),
    v6=st.booleans(),
)
def test_garbage_never_raises_and_changes_nothing_the_python_path_would_not(
    data: bytes, cut: int, flip: int, at: int, v6: bool
) -> None:
    """Random bytes, a real frame of a checked-out connection cut short or with a byte
    flipped, and a real header over random bytes, in the middle of steady traffic: the runs
    with and without the lane agree on everything (a frame the lane refuses must leave its
    state as it was, or the frames after it would differ)."""
    ops = [("data", 0, False, 500, 16384, 0, 0), ("data", 0, True, 500, 16384, 0, 0)] * 6
    frames, keylog = craft(0xC02F, ops, [], v6=v6)
    real = frames[-at - 6].data
    damaged = bytearray(real[: cut % (len(real) + 1)])
    if damaged:
        damaged[flip % len(damaged)] ^= 0xFF
    head = 74 if v6 else 54  # Ethernet, IP and TCP headers
    blobs = [data, bytes(damaged), real[:head] + data]
    k = len(frames) - at - 5
    junk = [Frame(0, frames[k].ts_ns, 1, b, len(b)) for b in blobs]
    frames = frames[:k] + junk + frames[k:]
    frames = [Frame(n + 1, f.ts_ns, 1, f.data, f.orig_len) for n, f in enumerate(frames)]
    same(frames, keylog)


# -- the CLI on the sample captures, and tshark on the lane's output ---------------------------


def _captures_with_keys() -> list[tuple[Path, Path]]:
    out = []
    for keys in sorted(PCAPS.rglob("*.keys")):
        for ext in (".pcap", ".pcapng"):
            cap = keys.with_suffix(ext)
            if cap.exists():
                out.append((cap, keys))
    return out


def test_every_sample_capture_same_file_status_and_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``netsec decrypt -w`` (in-process) on every ``pcaps/`` capture that has keys."""
    from netsec_layers.cli.main import main

    caps = _captures_with_keys()
    assert len(caps) > 40
    for cap, keys in caps:
        runs = []
        for setting in ("0", "1"):
            monkeypatch.setenv("NETSEC_FASTLANE", setting)
            out = tmp_path / f"lane{setting}.pcap"
            argv = ["decrypt", str(cap), "--keylog", str(keys), "-w", str(out), "--jobs", "1"]
            rc = main(argv)
            runs.append((rc, capsys.readouterr().err, out.read_bytes()))
        assert runs[1] == runs[0], cap


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_reads_the_lanes_plaintext(tmp_path: Path) -> None:
    """tshark follows each plaintext connection the lane wrote: the application data the
    crafted peers sent, in order, and every TCP checksum right."""
    rng = random.Random(7)
    sent: dict[tuple[int, bool], bytes] = {}
    conn = CraftedTLSConnection(version=0x0304, suite=0x1301, rng=rng)
    flow = TCPFlow(("10.1.0.1", 40000), ("10.1.0.2", 443))
    packets = flow.open()
    for from_client, data in conn.handshake():
        packets += flow.data(from_client, data, mss=1460)
    for i in range(200):
        from_client = i % 4 == 0
        data = rng.randbytes(rng.randint(1, 2500))
        sent[(0, from_client)] = sent.get((0, from_client), b"") + data
        wire = conn.application_data(data, from_client=from_client, record_size=1000)
        packets += flow.data(from_client, wire, mss=1200)
    packets += flow_close(conn, flow)
    frames = [Frame(n + 1, 10**18 + n * 1000, 1, p, len(p)) for n, p in enumerate(packets)]
    out, _, lane = run(frames, conn.keylog(), lane=True)
    assert lane is not None and lane.frames > 150
    from netsec_layers.io.pcap import CaptureWriter

    path = tmp_path / "lane.pcap"
    with CaptureWriter(path, linktype=1, nanosecond=True) as w:
        for ts, _lt, data in out:
            w.write(data, ts_ns=ts)
    follow = subprocess.run(
        ["tshark", "-r", str(path), "-q", "-z", "follow,tcp,raw,0"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    lines = [ln for ln in follow.splitlines() if ln and ln.lstrip("\t")[:1].isalnum()]
    got = {True: b"", False: b""}
    for ln in lines:
        if set(ln.strip()) <= set("0123456789abcdef") and len(ln.strip()) % 2 == 0:
            got[not ln.startswith("\t")] += bytes.fromhex(ln.strip())
    assert got[True] == sent[(0, True)]
    assert got[False] == sent[(0, False)]
    bad = subprocess.run(
        ["tshark", "-r", str(path), "-o", "tcp.check_checksum:TRUE", "-o",
         "ip.check_checksum:TRUE", "-Y",
         "tcp.checksum.status != 1 || ip.checksum.status == 0"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    assert bad == ""
