#!/usr/bin/env python3
"""Workers benchmark (issue 21): ``netsec decrypt`` of 40 captures with 1, 2 and 4 workers,
forked processes (``--jobs N``) and an embedded Dask LocalCluster (``--dask-workers N``).

Two sets of 40 files, made by tools/synth.py and cut by Wireshark's ``editcap -c``:

* ``rotated``: one TLS 1.2 capture of ``--connections`` interleaved connections (all open at
  once, one client address each), cut into 40 files as ``tcpdump -C`` would: every file shares
  connections with the next, so all 40 form one chain, split by host pair.
* ``independent``: the same connections one after the other (tools/synth.py
  ``write_tls_sequential``), cut at connection boundaries: 40 files that share no host pair,
  i.e. 40 chains, one unit each.

Every run's output is hashed: all runs of a set must give the same bytes (the one-process
output).  Wall time of the whole command (start-up, the scan, the cluster's start included) and
its CPU time with that of the processes it waited for (forked workers; the LocalCluster's
nannies and workers).

Run: ``python tools/bench_cluster.py [--records 500] [--connections 200] [--runs 1]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synth  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FILES = 40


def make_sets(work: Path, connections: int, records: int) -> dict[str, tuple[Path, Path]]:
    editcap = shutil.which("editcap")
    if not editcap:
        raise SystemExit("editcap is needed (Debian wireshark-common)")
    sets: dict[str, tuple[Path, Path]] = {}
    # one connection alone: its frame count (every connection has the same shape)
    one = synth.write_tls_sequential(work / "one.pcap", work / "one.keys", version=12,
                                     connections=1, records=records)  # fmt: skip
    per_conn = one["frames"]
    for name, writer in (("rotated", synth.write_tls), ("independent", synth.write_tls_sequential)):
        d = work / name
        if d.exists() and len(list(d.glob("r_*.pcap"))) == FILES:
            sets[name] = (d, work / f"{name}.keys")
            continue
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        whole, keys = work / f"{name}.pcap", work / f"{name}.keys"
        info = writer(whole, keys, version=12, connections=connections, records=records)
        frames = info["frames"]
        every = (
            -(-frames // FILES)
            if name == "rotated"
            else per_conn * (connections // FILES)  # whole connections per file
        )
        subprocess.run([editcap, "-F", "pcap", "-c", str(every), str(whole), str(d / "r.pcap")],
                       check=True)  # fmt: skip
        whole.unlink()
        got = len(list(d.glob("r_*.pcap")))
        assert got == FILES, f"{name}: {got} files"
        sets[name] = (d, keys)
    return sets


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run(files: Path, keys: Path, out: Path, extra: list[str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds of the command and every process it waited for (its workers),
    and the output's hash."""
    cmd = [sys.executable, "-m", "netsec_layers", "decrypt", "-q", str(files), "--keylog",
           str(keys), "-w", str(out), *extra]  # fmt: skip
    cpu = _children_cpu()
    t = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    wall = time.perf_counter() - t
    cpu = _children_cpu() - cpu
    digest = hashlib.sha256(out.read_bytes()).hexdigest()[:16]
    out.unlink()
    return wall, cpu, digest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workdir", default="/tmp/netsec-bench/cluster", type=Path)
    p.add_argument("--connections", type=int, default=200)
    p.add_argument("--records", type=int, default=500)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    a.workdir.mkdir(parents=True, exist_ok=True)
    sets = make_sets(a.workdir, a.connections, a.records)
    modes = [("--jobs", n) for n in (1, 2, 4)] + [("--dask-workers", n) for n in (1, 2, 4)]
    rows = []
    for name, (files, keys) in sets.items():
        size = sum(f.stat().st_size for f in files.glob("r_*.pcap"))
        digests = set()
        for opt, n in modes:
            walls, cpus = [], []
            for _ in range(a.runs):
                wall, cpu, digest = run(files, keys, a.workdir / "out.pcap", [opt, str(n)])
                walls.append(wall)
                cpus.append(cpu)
                digests.add(digest)
            rows.append(
                {"set": name, "mode": f"{opt} {n}", "wall": walls, "cpu": cpus, "MB": size / 1e6}
            )
            w_text = " / ".join(f"{w:.1f}" for w in walls)
            c_text = " / ".join(f"{c:.1f}" for c in cpus)
            print(f"{name:12} {opt} {n}: wall {w_text} s, CPU {c_text} s", flush=True)
        assert len(digests) == 1, f"{name}: outputs differ {digests}"
        print(f"{name}: every run wrote the same bytes (sha256 {digests.pop()}…)", flush=True)
    if a.json:
        print(json.dumps({"cpus": os.cpu_count(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
