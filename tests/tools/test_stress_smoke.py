"""``tools/stress.py --small``: the full-size resource runs work at 1/100 scale (CI-sized).

The figures at full size are in docs/robustness.md; here only the commands' success and what
they must say are checked, never timings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_stress_small_runs_and_reports(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "stress.py"), "--small", "--json",
         "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(proc.stdout)
    by_case = {(r["case"], r["command"]): r for r in rows}
    assert all(r["rc"] == r["expected_rc"] for r in rows)
    assert set(c for c, _ in by_case) == {"connections", "tiny-records", "holes", "big-claim"}
    # the 4 GB packet claim stops the reading with a reason, nothing is allocated for it
    tail = " ".join(by_case[("big-claim", "dissect --json")]["stderr_tail"])
    assert "capture ends early" in tail and "limit" in tail
    assert not list(tmp_path.glob("*.pcap"))  # captures removed after use
