"""Smoke test of the benchmark: ``tools/bench.py --quick`` runs every command of the benchmark
(netsec, tshark, Scapy, the interactive API) on tiny synthetic captures and checks that the
counts agree — tshark is the independent decryptor; timings are never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.integration
@pytest.mark.slow
def test_bench_quick_runs_every_command_and_counts_agree(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "bench.py"), "--quick", "--json",
         "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["problems"] == []
    rows = {r["task"]: r for r in report["rows"]}
    pair = {"decrypt TLS 1.2 one pair 100-1400 B", "decrypt TLS 1.2 one pair 100-200 B"}
    assert set(rows) >= {
        "decrypt ESP GCM", "decrypt ESP CBC", "decrypt TLS 1.2", "decrypt TLS 1.3",
        "dissect ESP (no keys)", "dissect TLS (no keys)", "encrypt ESP GCM", *pair,
    }  # fmt: skip
    for name, row in rows.items():
        assert row["netsec"]["count"], name  # netsec did the work it reports
        if "scapy" in row:  # issue 22's shapes are timed against tshark only
            assert row["scapy"]["rate_median"] > 0, name  # the Scapy comparison ran
        if row.get("tshark", {}).get("count") is not None:
            # tshark, decrypting with the same keys, sees the same numbers
            assert row["tshark"]["count"] == row["netsec"]["count"], name
    # issue 22's one-host-pair shapes (tshark -z io,stat counts no records): every record
    # the generator made was written as plaintext, by one process as by the default.
    for name in pair:
        assert rows[name]["netsec"]["count"] == rows[name]["netsec-1p"]["count"] == 2000
    # 300 ESP packets and 4 connections x 30 application-data records were generated.
    assert rows["decrypt ESP GCM"]["tshark"]["count"] == 300
    assert rows["decrypt ESP CBC"]["tshark"]["count"] == 300
    assert rows["decrypt TLS 1.2"]["tshark"]["count"] == 120
    assert rows["decrypt TLS 1.3"]["tshark"]["count"] == 120
    # Scapy's own SecurityAssociation decrypts every ESP packet of its sample.
    assert rows["decrypt ESP GCM"]["scapy"]["count"] == 60
    assert rows["decrypt TLS 1.2"]["scapy"]["count"] > 0
    inter = report["interactive"]
    assert inter["netsec"]["layers"]["esp"].startswith("Ether / IP / ESP")
    assert "ApplicationData" in inter["netsec"]["layers"]["app"]
    assert report["help"]["median_s"] > 0
