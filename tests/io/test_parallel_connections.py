"""``decrypt --jobs 2`` splits by TLS connection, not only by host pair (issue 22), and keeps a
resumed TLS 1.2 session with the connection that made it.

The capture: four TLS connections between ONE host pair (127.0.0.1, real OpenSSL peers from
pcaps/tls/), started at the same moment so that they interleave: a full TLS 1.2 handshake that
issues a session ticket, its ticket resumption, another TLS 1.2 connection and a TLS 1.3 one.
The key log lacks the resumed connection's line, so the resumption decrypts only with the master
secret its origin connection computed (the tracker's ticket cache).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from netsec_layers.io.parallel_plan import make_plan, tcp_key
from netsec_layers.io.pcap import CaptureReader, CaptureWriter
from netsec_layers.session.netstack import IPDecoder

REPO = Path(__file__).resolve().parents[2]
TLS = REPO / "pcaps" / "tls"
SOURCES = ("tls12-resumption", "tls12-ecdhe-rsa-aes128gcm", "tls13-aes128gcm")


def _client_randoms(path: Path) -> dict[int, bytes]:
    """Client port → ClientHello random (from the first bytes of each connection)."""
    out: dict[int, bytes] = {}
    dec = IPDecoder()
    with CaptureReader(str(path)) as r:
        for f in r:
            ip = dec.feed(f)
            if ip is None or ip.proto != 6:
                continue
            p = ip.payload
            data = p[(p[12] >> 4) * 4 :]
            if len(data) > 43 and data[0] == 22 and data[5] == 1:
                out.setdefault(int.from_bytes(p[:2], "big"), data[11:43])
    return out


@pytest.fixture(scope="module")
def one_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    d = tmp_path_factory.mktemp("onepair")
    frames: list[tuple[int, int, int, bytes]] = []
    for rank, name in enumerate(SOURCES):
        with CaptureReader(str(TLS / f"{name}.pcap")) as r:
            src = list(r)
        t0 = src[0].ts_ns
        frames += [(f.ts_ns - t0, rank, i, f.data) for i, f in enumerate(src)]
    frames.sort()
    cap = d / "one-pair.pcap"
    with CaptureWriter(str(cap), linktype=1, nanosecond=True) as w:
        for ts, _rank, _i, data in frames:
            w.write(data, ts_ns=1_700_000_000 * 10**9 + ts)
    randoms = _client_randoms(TLS / "tls12-resumption.pcap")
    (origin_port, _), (resumed_port, resumed_random) = sorted(randoms.items())
    lines = []
    for name in SOURCES:
        for line in (TLS / f"{name}.keys").read_text().splitlines():
            if resumed_random.hex() not in line.lower():
                lines.append(line)
    keys = d / "all.keys"
    keys.write_text("\n".join(lines) + "\n")
    assert resumed_random.hex() not in keys.read_text().lower()
    return cap, keys, resumed_port


def _decrypt(cap: Path, keys: Path, out: Path, jobs: int) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "netsec_layers", "decrypt", str(cap), "-w", str(out),
         "--keylog", str(keys), "--jobs", str(jobs)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def test_two_jobs_write_the_one_process_bytes(
    one_pair: tuple[Path, Path, int], tmp_path: Path
) -> None:
    cap, keys, _ = one_pair
    one = _decrypt(cap, keys, tmp_path / "j1.pcap", 1)
    two = _decrypt(cap, keys, tmp_path / "j2.pcap", 2)
    assert "TLS: 4 connections decrypted" in one  # the resumption too, from its origin
    assert (tmp_path / "j1.pcap").read_bytes() == (tmp_path / "j2.pcap").read_bytes()
    assert "; 2 worker processes" in two
    assert one == two.replace("; 2 worker processes", "")


def test_connections_of_one_host_pair_spread_and_resumption_stays(
    one_pair: tuple[Path, Path, int],
) -> None:
    cap, _keys, resumed_port = one_pair
    with CaptureReader(str(cap)) as r:
        frames = list(r)
    plan = make_plan(frames, 2)
    dec = IPDecoder()
    owners: dict[int, set[int]] = {}
    for f in frames:
        ip = dec.feed(f)
        if ip is not None and ip.proto == 6:
            key = tcp_key(ip)
            assert key is not None
            client_port = max(key[0][1], key[1][1]) if 443 in (key[0][1], key[1][1]) else 0
            owners.setdefault(client_port, set()).add(plan.owner(ip, f.number))
    assert len(owners) == 4 and all(len(w) == 1 for w in owners.values())
    assert {w for ws in owners.values() for w in ws} == {0, 1}  # one host pair, two workers
    assert plan.groups == 3  # four connections, the resumption joined to its origin
    origin = min(p for p in _client_randoms(TLS / "tls12-resumption.pcap"))
    assert owners[origin] == owners[resumed_port]
