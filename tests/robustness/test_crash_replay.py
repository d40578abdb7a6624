"""Replay every saved fuzzer input (tests/robustness/crashes/<target>-<sha1>.bin) through its
target.  A file whose bug is not fixed yet is listed in KNOWN with the exact bug (strict xfail:
the entry must be removed when the fix lands)."""

from __future__ import annotations

import pytest

from tests.robustness._util import CRASHES, check_target
from tools import fuzz
from tools.fuzz import TARGETS

KNOWN: dict[str, str] = {}

FILES = sorted(CRASHES.glob("*.bin")) if CRASHES.is_dir() else []


def _target(name: str) -> str:
    for t in sorted(TARGETS, key=len, reverse=True):
        if name.startswith(t + "-"):
            return t
    raise AssertionError(f"{name}: no fuzz target prefix")


def test_replay_every_saved_crash() -> None:
    """Every input a fuzzer ever crashed on goes through its target with only our errors.

    One test over the directory (not one per file), so an empty directory is not a skip.
    """
    for path in FILES:
        if path.name in KNOWN:
            continue
        check_target(_target(path.name), path.read_bytes())
    assert set(KNOWN) <= {p.name for p in FILES}


def test_seed_inputs_are_handled() -> None:
    """Every seed the fuzzer starts from goes through its target (keeps seeds() working)."""
    from tools.fuzz import seeds

    for t in ("tls", "tracker", "esp", "pcap", "keylog", "safile"):
        for s in seeds(t)[:3]:
            check_target(t, s)


def test_fuzz_harness_runs(tmp_path) -> None:  # noqa: ANN001
    """`tools/fuzz.py TARGET --seconds N` works (random engine: no atheris needed in CI)."""
    import json
    import subprocess
    import sys

    from tests.robustness._util import REPO

    stats = tmp_path / "stats.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "fuzz.py"),
            "keylog",
            "--seconds",
            "2",
            "--engine",
            "random",
            "--stats",
            str(stats),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    st = json.loads(stats.read_text())
    assert st["target"] == "keylog" and st["inputs"] > 10 and st["crashes"] == {}


def test_atheris_short_run_of_every_target(tmp_path) -> None:  # noqa: ANN001
    """CI's short coverage-guided budget: every target 500 inputs under atheris/libFuzzer with
    a fixed seed (one repeatable sequence of mutations; 20 s at most, which on a loaded machine
    cuts the same sequence short, never explores elsewhere), no finding.  A time budget with
    libFuzzer's random seed made CI's verdict a draw: it found a new crash in one run of four.
    Open-ended fuzzing is the long runs' job (10+ minutes per target, docs/robustness.md).

    atheris is in the ``test`` extras on Linux x86-64, so there a missing atheris is a failure,
    not a skip."""
    import json
    import platform
    import subprocess
    import sys

    from tests.robustness._util import REPO

    try:
        import atheris  # noqa: F401
    except ImportError:
        if sys.platform == "linux" and platform.machine() == "x86_64":
            raise
        pytest.skip("atheris has no wheel for this platform")
    stats = tmp_path / "stats.jsonl"
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "fuzz.py"), "all", "--seconds", "20"]
        + ["--runs", "500", "--seed", "1", "--engine", "atheris", "--stats", str(stats)],
        capture_output=True,
        text=True,
        # a bound, not an expectation: each target stops at 500 inputs or 20 s, plus atheris's
        # start-up, which a loaded machine stretches (600 s for all was too little for 22
        # targets under stress-ng)
        timeout=60 * len(fuzz.TARGETS),
        cwd=REPO,
    )
    rows = [json.loads(line) for line in stats.read_text().splitlines()]
    assert [r["target"] for r in rows] == list(fuzz.TARGETS)
    for r in rows:
        assert r["crashes"] == {}, (r, proc.stderr[-3000:])
        assert r["returncode"] == 0 and r["inputs"] > 100, r
    assert proc.returncode == 0
