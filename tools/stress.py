#!/usr/bin/env python3
"""Resource-bound runs at full size (issue #7): the ``netsec`` commands on hostile captures.

Usage::

    python tools/stress.py [--workdir DIR] [--connections N] [--records N] [--holes N] [--json]

Each case writes a capture, runs ``netsec dissect --json`` / ``netsec stats`` / ``netsec
decrypt`` on it as a child process and reports wall time, CPU time and peak RSS (``wait4``), so
"memory stays bounded, time stays linear" is a measured statement:

* ``connections``: N TCP connections (distinct client addresses) that never close, each a SYN
  and one segment starting a TLS handshake record: the connection tables fill and evict.
* ``tiny-records``: one connection carrying N one-byte TLS application-data records.
* ``holes``: N connections each sending 1 MiB after a one-byte hole that never fills (the
  cross-connection out-of-order cap).
* ``big-claim``: a pcap record header claiming a 4 GB packet, then 64 MiB of zeros.

Scales: the defaults are the issue's sizes (10^6 connections, 10^6 records); ``--small``
divides them by 100 for a smoke run (the test suite runs it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netsec_layers.io.pcap import CaptureWriter  # noqa: E402
from tools.synth import T0_NS, ether, ipv4, tcp4  # noqa: E402

SERVER = bytes((10, 200, 0, 1))
ACK, PSH_ACK, SYN = 0x10, 0x18, 0x02
# a ClientHello record header and handshake header announcing more bytes than follow
CH_START = bytes((22, 3, 1, 0, 64, 1, 0, 0, 60, 3, 3)) + bytes(32)


def _client(i: int) -> bytes:
    return bytes((10, 100 + (i >> 16 & 0x3F), i >> 8 & 0xFF, i & 0xFF))


def write_connections(path: Path, n: int) -> int:
    with CaptureWriter(str(path), linktype=1) as w:
        for i in range(n):
            c, port = _client(i), 1024 + i % 60000
            ts = T0_NS + i * 1000
            w.write(ether(ipv4(c, SERVER, 6, tcp4(c, SERVER, port, 443, 100, 0, SYN, b""), i)),
                    ts_ns=ts)  # fmt: skip
            seg = tcp4(c, SERVER, port, 443, 101, 1, PSH_ACK, CH_START)
            w.write(ether(ipv4(c, SERVER, 6, seg, i)), ts_ns=ts + 500)
    return 2 * n


def write_tiny_records(path: Path, n: int) -> int:
    c = _client(1)
    frames = 0
    per_segment = 1000
    seq = 101
    with CaptureWriter(str(path), linktype=1) as w:
        w.write(ether(ipv4(c, SERVER, 6, tcp4(c, SERVER, 40000, 443, 100, 0, SYN, b""), 0)),
                ts_ns=T0_NS)  # fmt: skip
        frames += 1
        for k in range(0, n, per_segment):
            m = min(per_segment, n - k)
            data = bytes((23, 3, 3, 0, 1, 0x41)) * m
            w.write(ether(ipv4(c, SERVER, 6, tcp4(c, SERVER, 40000, 443, seq, 1, PSH_ACK, data),
                               k)), ts_ns=T0_NS + frames * 1000)  # fmt: skip
            seq += len(data)
            frames += 1
    return frames


def write_holes(path: Path, n: int) -> int:
    piece = bytes((23, 3, 3, 0x3F, 0xFB)) + bytes(0x3FFB)  # 16 KiB records
    frames = 0
    with CaptureWriter(str(path), linktype=1) as w:
        for i in range(n):
            c = _client(i)
            w.write(ether(ipv4(c, SERVER, 6, tcp4(c, SERVER, 5000, 443, 0, 0, SYN, b""), i)),
                    ts_ns=T0_NS + frames * 1000)  # fmt: skip
            frames += 1
            for k in range(64):  # byte 1 never arrives
                seg = tcp4(c, SERVER, 5000, 443, 2 + k * len(piece), 1, ACK, piece)
                w.write(ether(ipv4(c, SERVER, 6, seg, k)), ts_ns=T0_NS + frames * 1000)
                frames += 1
    return frames


def write_big_claim(path: Path, zeros: int) -> int:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        f.write(struct.pack("<IIII", 0, 0, 0xFFFFFFFF, 0xFFFFFFFF))
        block = bytes(1 << 20)
        for _ in range(zeros >> 20):
            f.write(block)
    return 0


def measure(cmd: list[str]) -> dict[str, Any]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    return {
        "rc": proc.returncode,
        "wall_s": round(wall, 2),
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
        "rss_mb": round(ru.ru_maxrss / 1024, 1),
        "stderr_tail": err.strip().splitlines()[-3:],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workdir", type=Path, default=Path("/tmp/netsec-stress"))
    p.add_argument("--connections", type=int, default=1_000_000)
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--holes", type=int, default=200)
    p.add_argument("--small", action="store_true", help="sizes / 100 (smoke run)")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    div = 100 if a.small else 1
    a.workdir.mkdir(parents=True, exist_ok=True)
    ns = [sys.executable, "-m", "netsec_layers"]
    cases = [
        ("connections", a.connections // div, write_connections,
         [["dissect", "--json"], ["stats"]]),
        ("tiny-records", a.records // div, write_tiny_records, [["dissect", "--json"]]),
        ("holes", max(2, a.holes // div), write_holes, [["dissect", "--json"]]),
        ("big-claim", (64 << 20) // div, write_big_claim, [["dissect", "--json"]]),
    ]  # fmt: skip
    # exit statuses (README "Exit statuses"): the 4 GB claim cuts the capture short -> 1
    expected_rc = {"big-claim": 1}
    results = []
    for name, n, writer, commands in cases:
        cap = a.workdir / f"{name}-{n}.pcap"
        frames = writer(cap, n)
        for sub in commands:
            r = measure([*ns, sub[0], str(cap), *sub[1:]])
            r.update(case=name, n=n, frames=frames, command=" ".join(sub),
                     file_mb=round(cap.stat().st_size / 2**20, 1),
                     expected_rc=expected_rc.get(name, 0))  # fmt: skip
            if frames:
                r["frames_per_s"] = round(frames / max(r["wall_s"], 1e-3))
            results.append(r)
            print(f"stress: {name} n={n} {' '.join(sub)}: {r['wall_s']} s, "
                  f"{r['rss_mb']} MB, rc {r['rc']}", file=sys.stderr)  # fmt: skip
        cap.unlink()
    if a.json:
        print(json.dumps(results, indent=1))
    else:
        for r in results:
            print(
                f"| {r['case']} | {r['n']:,} | {r['frames']:,} | {r['command']} | "
                f"{r['wall_s']} | {r['cpu_s']} | {r['rss_mb']} | {r['rc']} |"
            )
    return 1 if any(r["rc"] != r["expected_rc"] for r in results) else 0


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.exit(main())
