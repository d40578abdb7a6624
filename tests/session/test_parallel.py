"""``netsec decrypt --jobs N``: the output is the one-process output, byte for byte, on a capture
mixing TLS 1.2 and 1.3 connections of many host pairs, ESP (some of it IP-fragmented), and
non-IP frames; the split policy and the error paths."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, fragment
from scapy.layers.l2 import ARP, Ether

from netsec_layers.errors import KeyFileError, NetsecError
from netsec_layers.io.parallel import ParallelDecrypt, auto_jobs, owner_of
from netsec_layers.io.pcap import CaptureReader, CaptureWriter
from netsec_layers.session import fastlane
from netsec_layers.session.engine import CaptureEngine
from netsec_layers.session.plaintext import PlaintextRewriter
from tools import synth

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    d = tmp_path_factory.mktemp("mixed")
    synth.write_tls(d / "t12.pcap", d / "t12.keys", version=12, connections=12, records=9)
    synth.write_tls(d / "t13.pcap", d / "t13.keys", version=13, connections=7, records=8, seed=2)
    synth.write_esp(d / "esp.pcap", d / "esp.esp_sa", 240)
    frames: list[tuple[int, int, bytes]] = []
    for rank, name in enumerate(("t12", "t13", "esp")):
        with CaptureReader(str(d / f"{name}.pcap")) as r:
            for f in r:
                data = f.data
                if name == "t13":  # other client addresses than the TLS 1.2 connections
                    pkt = Ether(data)
                    ip = pkt[IP]
                    ip.src, ip.dst = (a.replace("10.1.", "10.3.", 1) for a in (ip.src, ip.dst))
                    del ip.chksum, pkt[TCP].chksum
                    data = bytes(pkt)
                if name == "esp" and f.number % 5 == 0:  # IP fragments of some ESP packets
                    for part in fragment(Ether(data)[IP], fragsize=504):
                        frames.append((f.ts_ns, rank, bytes(Ether(data[:14]) / part)))
                    continue
                frames.append((f.ts_ns, rank, data))
    for i in range(30):  # not IP at all
        frames.append((synth.T0_NS + i * 977, 9, bytes(Ether() / ARP(psrc=f"10.9.0.{i}"))))
    frames.sort(key=lambda x: (x[0], x[1]))
    cap = d / "mixed.pcap"
    with CaptureWriter(str(cap), linktype=1, nanosecond=True) as w:
        for ts, _, data in frames:
            w.write(data, ts_ns=ts)
    keys = d / "all.keys"
    keys.write_text((d / "t12.keys").read_text() + (d / "t13.keys").read_text())
    return cap, keys, d / "esp.esp_sa"


def netsec(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "netsec_layers", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=None if env is None else {**os.environ, **env},
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def test_every_worker_count_writes_the_one_process_bytes(
    mixed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    cap, keys, sa = mixed
    outs, summaries = {}, {}
    for jobs in (1, 2, 3):
        out = tmp_path / f"j{jobs}.pcap"
        proc = netsec("decrypt", str(cap), "-w", str(out), "--keylog", str(keys), "--esp-sa",
                      str(sa), "--jobs", str(jobs))  # fmt: skip
        outs[jobs] = out.read_bytes()
        summaries[jobs] = proc.stderr.strip().split("; 2 worker")[0].split("; 3 worker")[0]
    assert "19 connections decrypted" in summaries[1] and "240 decrypted" in summaries[1]
    assert "failed: 0" in summaries[1] and "0 records failed" in summaries[1]
    assert outs[2] == outs[1] and outs[3] == outs[1]
    assert summaries[2] == summaries[1] == summaries[3]
    # the workers' native lanes (issue 22) against one process without any
    out = tmp_path / "python.pcap"
    proc = netsec("decrypt", str(cap), "-w", str(out), "--keylog", str(keys), "--esp-sa",
                  str(sa), "--jobs", "1", env={"NETSEC_FASTLANE": "0"})  # fmt: skip
    assert out.read_bytes() == outs[2]
    assert proc.stderr.strip() == summaries[1]


def test_frames_are_spread_over_the_workers(mixed: tuple[Path, Path, Path]) -> None:
    cap = mixed[0]
    eng = CaptureEngine()
    owners = [0, 0]
    cache: dict[object, int] = {}
    with CaptureReader(str(cap)) as r:
        for f in r:
            owners[owner_of(eng.ip.feed(f), f.number, 2, cache)] += 1
    assert min(owners) > 0.2 * sum(owners)


def test_auto_policy(mixed: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    cap, _, _ = mixed
    d = cap.parent
    monkeypatch.setattr("os.sched_getaffinity", lambda _pid: {0, 1})
    monkeypatch.setenv("NETSEC_FASTLANE", "0")
    assert auto_jobs(str(cap), rsa_keys=False, min_size=0) == 2
    assert auto_jobs(str(d / "t12.pcap"), rsa_keys=False, min_size=0) == 2
    if fastlane.available():  # TLS over Ethernet/IPv4, which the native lane takes: one process
        monkeypatch.setenv("NETSEC_FASTLANE", "1")
        assert auto_jobs(str(d / "t12.pcap"), rsa_keys=False, min_size=0) == 1
        monkeypatch.setenv("NETSEC_FASTLANE", "0")
    assert auto_jobs(str(cap), rsa_keys=False) == 1  # small file
    assert auto_jobs(str(cap), rsa_keys=True, min_size=0) == 1  # resumption across host pairs
    assert auto_jobs("-", rsa_keys=False, min_size=0) == 1
    assert auto_jobs(str(d / "esp.pcap"), rsa_keys=False, min_size=0) == 1  # one host pair
    monkeypatch.setattr("os.sched_getaffinity", lambda _pid: {0})
    assert auto_jobs(str(cap), rsa_keys=False, min_size=0) == 1


def test_a_worker_error_is_raised_in_the_parent(mixed: tuple[Path, Path, Path]) -> None:
    def bad_factory() -> tuple[CaptureEngine, PlaintextRewriter]:
        raise KeyFileError("no such key file")

    with pytest.raises(NetsecError, match="no such key file"):
        list(ParallelDecrypt(str(mixed[0]), 2, bad_factory))

    def dying_factory() -> tuple[CaptureEngine, PlaintextRewriter]:
        import os

        os._exit(3)

    with pytest.raises(NetsecError, match="stopped without a result"):
        list(ParallelDecrypt(str(mixed[0]), 2, dying_factory))
