"""Progress bars (issue 21): drawn by rich on stderr, per file and for all files; never on
stdout (the JSON Lines contract), not when stderr is not a terminal unless ``--progress``
forces them, never with ``-q``."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from netsec_layers.cli.common import Progress
from tests.cluster.conftest import ROOT

BAR = "\u2501"  # the line rich draws bars with


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three captures of 3,000 frames each (tools/synth.py plain)."""
    d = tmp_path_factory.mktemp("plain")
    caps = [d / f"p{i}.pcap" for i in range(3)]
    for c in caps:
        subprocess.run([sys.executable, str(ROOT / "tools" / "synth.py"), "plain", str(c), "-n",
                        "3000"], check=True, capture_output=True, cwd=ROOT)  # fmt: skip
    return caps


def netsec(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netsec_layers", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip


def test_stdout_untouched_and_bars_only_when_forced(plain: list[Path]) -> None:
    files = list(map(str, plain))
    quiet = netsec("dissect", "--json", "-q", *files)
    assert quiet.returncode == 0 and quiet.stderr == ""
    lines = quiet.stdout.splitlines()
    # stderr is a pipe here: no bar unless forced, the summary only
    piped = netsec("dissect", "--json", *files)
    assert piped.stdout == quiet.stdout
    assert BAR not in piped.stderr and "\x1b[" not in piped.stderr
    assert piped.stderr.startswith("netsec: 9000 frames")
    forced = netsec("dissect", "--json", "--progress", *files)
    assert forced.stdout == quiet.stdout  # byte for byte: the bars never touch stdout
    assert BAR in forced.stderr and "all files" in forced.stderr
    assert "p0.pcap (1/3)" in forced.stderr and "p2.pcap (3/3)" in forced.stderr
    assert forced.stderr.rstrip().endswith("netsec: 9000 frames, 0 TLS records")
    # -q wins over --progress
    both = netsec("dissect", "--json", "-q", "--progress", *files)
    assert both.stderr == "" and both.stdout == quiet.stdout
    assert len(lines) == 0  # plain UDP: no units, yet the run is long enough for a bar


def test_decrypt_stats_report_take_progress(plain: list[Path], tmp_path: Path) -> None:
    files = list(map(str, plain))
    r = netsec("stats", "--json", "--progress", *files)
    assert r.returncode == 0 and BAR in r.stderr and BAR not in r.stdout
    r = netsec("decrypt", "--progress", *files, "-w", str(tmp_path / "o.pcap"))
    assert r.returncode == 1 and BAR in r.stderr and r.stdout == ""  # nothing to decrypt
    r = netsec("report", "-q", *files, "-o", str(tmp_path / "r.html"))
    assert r.returncode == 0 and r.stderr == ""


class _TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_decides() -> None:
    assert Progress(enabled=True, stream=_TTY()).enabled
    assert not Progress(enabled=True, stream=io.StringIO()).enabled
    assert Progress(enabled=True, stream=io.StringIO(), force=True).enabled
    assert not Progress(enabled=False, stream=_TTY(), force=True).enabled
    tty = _TTY()
    p = Progress(enabled=True, stream=tty)
    for i in range(Progress.START_AFTER - 1):
        p(i, 10_000)
    assert tty.getvalue() == ""  # short runs draw nothing
    for i in range(2048):
        p(i, 10_000)
    p.close()
    assert BAR in tty.getvalue()
