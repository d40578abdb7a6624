"""Smoke test of the columnar benchmark (issue 21): ``tools/bench.py --columnar --quick`` puts
the same synthetic ESP capture into a DataFrame three ways, and netsec's rows agree with what
tshark (the independent decryptor) and Scapy's own ESP decrypt; timings are never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.integration
@pytest.mark.slow
def test_columnar_bench_quick_counts_agree(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "bench.py"), "--columnar", "--quick", "--json",
         "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout)
    for tool in ("netsec", "tshark", "scapy"):
        assert r[tool]["rows"] == r[tool]["decrypted"] == 2000, (tool, r[tool])
        assert r[tool]["records_per_s"] > 0
    assert set(r["parquet_memory"]) == {"400", "4000"}
    assert all(v["rss_mb"] > 0 for v in r["parquet_memory"].values())
