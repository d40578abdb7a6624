#!/usr/bin/env python3
"""Columnar benchmark (issue 21): N ESP records into a pandas DataFrame, three ways, and the
memory of ``netsec dissect --format parquet`` at two capture sizes.

* netsec: ``netsec_layers.to_pandas(capture, esp_sa=...)`` (decrypts every packet; one row per
  packet with spi, seq, iv, icv, inner, pad_length, next_header, decrypted, error …).
* tshark: ``tshark -T fields`` (ESP decryption and ICV check on, the same fields) piped into
  ``pandas.read_csv``.
* Scapy: ``rdpcap`` then a Python loop building the same columns (``SecurityAssociation.decrypt``
  per packet), run on the first ``--scapy-sample`` packets; its rate is reported per record.

Each runs in a child process; wall time and that child's peak RSS (``wait4``) are reported.
Memory: ``dissect --format parquet -w`` on a small and a 10x larger capture (200k records by
default): flat memory means both peaks are about the same.  ``--quick`` (CI): tiny files, and the
three DataFrames must agree on rows and decrypted packets.

Run: ``python tools/bench.py --columnar [--quick]`` or ``python tools/bench_columnar.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synth  # noqa: E402

TSHARK = shutil.which("tshark") or "tshark"
FIELDS = ("frame.number", "esp.spi", "esp.sequence", "esp.pad_len", "esp.protocol")

NETSEC = """
import sys, time, netsec_layers
t = time.perf_counter()
df = netsec_layers.to_pandas(sys.argv[1], esp_sa=sys.argv[2])
print(len(df), int(df["decrypted"].sum()), time.perf_counter() - t)
"""
TSHARK_PANDAS = """
import subprocess, sys, time
import pandas as pd
t = time.perf_counter()
cmd = [sys.argv[3], "-r", sys.argv[1], "-o", "esp.enable_encryption_decode:TRUE",
       "-o", "esp.enable_authentication_check:TRUE", "-o", sys.argv[2], "-T", "fields",
       *[a for f in sys.argv[4].split(",") for a in ("-e", f)]]
p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
df = pd.read_csv(p.stdout, sep="\\t", header=None, names=sys.argv[4].split(","),
                 converters={"esp.spi": lambda s: int(s, 16) if s else None})
p.wait()
print(len(df), int(df["esp.pad_len"].notna().sum()), time.perf_counter() - t)
"""
SCAPY = """
import sys, time
sys.path.insert(0, sys.argv[3])
from bench import scapy_sa
from scapy.all import IP, rdpcap
from scapy.layers.ipsec import ESP
import pandas as pd
t = time.perf_counter()
pkts = rdpcap(sys.argv[1], count=int(sys.argv[2]))
sa = scapy_sa("gcm")
rows = []
for p in pkts:
    esp = p[ESP]
    try:
        inner = sa.decrypt(p[IP])
        ok, data = True, bytes(inner)
    except Exception:
        ok, data = False, None
    rows.append({"frame": len(rows) + 1, "spi": esp.spi, "seq": esp.seq, "decrypted": ok,
                 "inner": data})
df = pd.DataFrame(rows)
print(len(df), int(df["decrypted"].sum()), time.perf_counter() - t)
"""


def child(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd``; its last stdout line (rows, decrypted, seconds), wall time, peak RSS (MiB)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"bench: {cmd[:3]} failed:\n{err.read().decode()[-2000:]}")
        last = out.read().decode().strip().splitlines()[-1].split()
    return {"rows": int(last[0]), "decrypted": int(last[1]), "inner_s": float(last[2]),
            "wall_s": round(wall, 2), "rss_mb": round(ru.ru_maxrss / 1024, 1)}  # fmt: skip


def make(work: Path, n: int) -> tuple[Path, Path]:
    cap, sa = work / f"esp-gcm-{n}.pcap", work / f"esp-gcm-{n}.esp_sa"
    if not (cap.exists() and sa.exists()):
        synth.write_esp(cap, sa, n, "gcm")
    return cap, sa


def uat(sa_file: Path) -> str:
    """tshark 4.0's esp_sa UAT has 8 columns (no SN / ESN high bits)."""
    return "uat:esp_sa:" + ",".join(sa_file.read_text().strip().splitlines()[0].split(",")[:8])


def run(records: int, memory_records: int, scapy_sample: int, work: Path) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    cap, sa = make(work, records)
    tools = str(Path(__file__).resolve().parent)
    res: dict[str, Any] = {"records": records}
    res["netsec"] = child([py, "-c", NETSEC, str(cap), str(sa)])
    res["tshark"] = child([py, "-c", TSHARK_PANDAS, str(cap), uat(sa), TSHARK, ",".join(FIELDS)])
    sample = min(scapy_sample, records)
    res["scapy"] = child([py, "-c", SCAPY, str(cap), str(sample), tools])
    for k in ("netsec", "tshark", "scapy"):
        r = res[k]
        r["records_per_s"] = round(r["rows"] / r["wall_s"])
    res["netsec/tshark"] = round(res["netsec"]["records_per_s"] / res["tshark"]["records_per_s"], 2)
    res["netsec/scapy"] = round(res["netsec"]["records_per_s"] / res["scapy"]["records_per_s"], 1)
    mem: dict[str, Any] = {}
    for n in (memory_records // 10, memory_records):
        mcap, msa = make(work, n)
        out = work / f"mem-{n}.parquet"
        cmd = [py, "-m", "netsec_layers", "dissect", "-q", str(mcap), "--esp-sa", str(msa)]
        t0 = time.perf_counter()
        p = subprocess.Popen([*cmd, "--format", "parquet", "-w", str(out)])
        _, status, ru = os.wait4(p.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit("bench: dissect --format parquet failed")
        mem[str(n)] = {"rss_mb": round(ru.ru_maxrss / 1024, 1),
                       "wall_s": round(time.perf_counter() - t0, 2)}  # fmt: skip
    res["parquet_memory"] = mem
    return res


def table(r: dict[str, Any]) -> str:
    lines = [
        f"{r['records']:,} ESP records (AES-GCM, decrypted) into a pandas DataFrame",
        "",
        "| tool | records | wall s | records/s | peak RSS MiB |",
        "|---|---:|---:|---:|---:|",
    ]
    names = {"netsec": "netsec `to_pandas`", "tshark": "`tshark -T fields` → `pandas.read_csv`",
             "scapy": "Scapy `rdpcap` + loop → DataFrame"}  # fmt: skip
    for k, name in names.items():
        x = r[k]
        lines.append(f"| {name} | {x['rows']:,} | {x['wall_s']} | {x['records_per_s']:,} | "
                     f"{x['rss_mb']} |")  # fmt: skip
    lines.append("")
    lines.append(f"netsec/tshark {r['netsec/tshark']}x, netsec/Scapy {r['netsec/scapy']}x")
    mem = ", ".join(
        f"{int(n):,} records: {v['rss_mb']} MiB" for n, v in r["parquet_memory"].items()
    )
    lines.append(f"`dissect --format parquet` peak RSS: {mem}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workdir", default="/tmp/netsec-bench/columnar", type=Path)
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--memory-records", type=int, default=200_000)
    p.add_argument("--scapy-sample", type=int, default=20_000)
    p.add_argument("--quick", action="store_true", help="CI: tiny files; the three must agree")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    if a.quick:
        a.records, a.memory_records, a.scapy_sample = 2000, 4000, 2000
        a.workdir = a.workdir / "quick"
    r = run(a.records, a.memory_records, a.scapy_sample, a.workdir)
    print(json.dumps(r, indent=2) if a.json else table(r))
    problems = [
        f"{k}: {r[k]['rows']} rows, {r[k]['decrypted']} decrypted"
        for k in ("netsec", "tshark", "scapy")
        if a.quick and not r[k]["rows"] == r[k]["decrypted"] == a.records
    ]
    for prob in problems:
        print(f"bench: DISAGREEMENT: {prob}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
