"""``decrypt --jobs 2`` splits by TLS connection, not only by host pair (issue 22), and keeps a
resumed TLS 1.2 session with the connection that made it.

The capture: four TLS connections between ONE host pair (127.0.0.1, real OpenSSL peers from
pcaps/tls/), started at the same moment so that they interleave: a full TLS 1.2 handshake that
issues a session ticket, its ticket resumption, another TLS 1.2 connection and a TLS 1.3 one.
The key log lacks the resumed connection's line, so the resumption decrypts only with the master
secret its origin connection computed (the tracker's ticket cache).
"""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


@pytest.fixture(scope="module")
def tunnel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from tools import bench_esp

    d = tmp_path_factory.mktemp("tunnel")
    bench_esp.write_esp_gateways(d / "gw.pcap", d / "gw.esp_sa", 3000)
    return d / "gw.pcap", d / "gw.esp_sa"


def test_esp_tunnel_split_by_sa_writes_the_one_process_bytes(
    tunnel: tuple[Path, Path], tmp_path: Path
) -> None:
    """One host pair, two SAs (one per direction), inner TCP crossing both: with no key for
    what the tunnel carries, each SA goes to its own worker; the output is the same."""
    cap, sa = tunnel
    outs = []
    for jobs in (1, 2):
        out = tmp_path / f"j{jobs}.pcap"
        proc = subprocess.run(
            [sys.executable, "-m", "netsec_layers", "decrypt", str(cap), "-w", str(out),
             "--esp-sa", str(sa), "--jobs", str(jobs)],
            capture_output=True, text=True, timeout=300, cwd=REPO,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert "ESP: 3000 decrypted" in proc.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_streaming_split_gives_each_sa_its_worker(tunnel: tuple[Path, Path]) -> None:
    from netsec_layers.io.parallel_plan import StreamingSplit, esp_spi

    cap, _sa = tunnel
    split, again = (StreamingSplit(2, esp_by_spi=True) for _ in range(2))
    dec = IPDecoder()
    by_spi: dict[int, set[int]] = {}
    with CaptureReader(str(cap)) as r:
        for f in r:
            ip = dec.feed(f)
            w = split.owner(ip, f.number)
            assert again.owner(ip, f.number) == w  # every worker makes the same choices
            assert ip is not None
            spi = esp_spi(ip)
            assert spi is not None
            by_spi.setdefault(spi, set()).add(w)
    assert sorted(by_spi) == [0xC0DE0001, 0xC0DE0002]
    assert sorted(w for ws in by_spi.values() for w in ws) == [0, 1]  # one worker per SA


def test_esp_stays_by_host_pair_when_what_it_carries_has_keys() -> None:
    from netsec_layers.io.parallel import esp_state_stays_in_sa
    from netsec_layers.session.engine import CaptureEngine
    from netsec_layers.session.tls_keys import TLSKeyMaterial

    assert esp_state_stays_in_sa(CaptureEngine())
    keys = TLSKeyMaterial()
    keys.add_keylog_text((TLS / "tls13-aes128gcm.keys").read_text())
    assert not esp_state_stays_in_sa(CaptureEngine(tls_keys=keys))


def test_the_tunnel_is_split_by_sa_not_run_alone(tunnel: tuple[Path, Path]) -> None:
    from netsec_layers.io.parallel import ParallelDecrypt
    from netsec_layers.io.parallel_plan import StreamingSplit
    from netsec_layers.keys.sa_files import load_sa_file
    from netsec_layers.session.engine import CaptureEngine
    from netsec_layers.session.ipsec import SADatabase
    from netsec_layers.session.plaintext import PlaintextRewriter

    cap, sa = tunnel

    def factory() -> tuple[CaptureEngine, PlaintextRewriter]:
        engine = CaptureEngine(sadb=SADatabase(load_sa_file(str(sa))), inner_packets=False)
        return engine, PlaintextRewriter(engine)

    par = ParallelDecrypt(str(cap), 2, factory)
    frames = list(par)
    assert isinstance(par.plan, StreamingSplit) and par.plan.esp_by_spi
    assert len(frames) == 3000 and par.engine_stats.esp_decrypted == 3000


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 3000), st.binary(max_size=300)),
                max_size=12))  # fmt: skip
def test_the_first_pass_takes_any_tcp_bytes(segments: list[tuple[bool, int, bytes]]) -> None:
    """Damaged or made-up handshakes: the plan is made (never an exception), every frame has an
    owner, and the same frames give the same plan."""
    from netsec_layers.frame import Frame

    frames = []
    for i, (from_client, seq, body) in enumerate(segments):
        data = (b"\x16\x03\x01" + len(body).to_bytes(2, "big") + b"\x01" + body) if i == 0 else body
        sport, dport = (40000, 443) if from_client or i == 0 else (443, 40000)
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x18, 65535, 0, 0) + data
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i, 0, 64, 6, 0,
                         bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) + tcp  # fmt: skip
        frames.append(Frame(i + 1, i, 101, ip, len(ip)))  # raw IPv4
    plans = [make_plan(frames, 2) for _ in range(2)]
    dec = IPDecoder()
    for f in frames:
        ip = dec.feed(f)
        assert ip is not None and ip.proto == 6
        assert plans[0].owner(ip, f.number) == plans[1].owner(ip, f.number) in (0, 1)
