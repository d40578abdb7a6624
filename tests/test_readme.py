"""The README's examples run as written: Python blocks (the interactive one as a doctest) and
every `$ netsec …` command, whose output must match the README's text."""

from __future__ import annotations

import doctest
import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pcaps").symlink_to(REPO / "pcaps")
    monkeypatch.chdir(tmp_path)
    block = BLOCKS[index]
    if ">>>" in block:
        test = doctest.DocTestParser().get_doctest(
            block, {}, f"README block {index}", "README.md", 0
        )
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        runner.run(test)
        result = runner.summarize(verbose=False)
        assert result.failed == 0 and result.attempted > 0
        from netsec_layers.layers.all import unbind_netsec_layers

        unbind_netsec_layers()
    else:
        exec(compile(block, f"README block {index}", "exec"), {"__name__": "readme"})
    assert os.getcwd() == str(tmp_path)


def test_readme_quick_start_sample_exists() -> None:
    text = (REPO / "README.md").read_text()
    for path in re.findall(r"(pcaps/[\w./-]+\.(?:pcap|keys|esp_sa))", text):
        assert (REPO / path).exists(), path


# -- `$ netsec …` examples: run each and compare with the README's text -------------------------
#
# In a fenced block without a language, a line `$ netsec ARGS` is a command run from the
# repository root; the lines after it (up to the next `$` line, a blank line or the block's end)
# are its output: stdout, then stderr (where the summary goes).  A line `...` stands for any
# number of lines (zero included); every other line must equal an output line exactly.
def _plain_blocks(text: str) -> list[list[str]]:
    """The lines of every fenced block that has no language."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    inside = False
    for line in text.splitlines():
        if line.startswith("```"):
            if inside:
                if current is not None:
                    blocks.append(current)
                inside, current = False, None
            else:
                inside = True
                current = [] if line.strip() == "```" else None
        elif current is not None:
            current.append(line)
    return blocks


def _examples() -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    for block in _plain_blocks((REPO / "README.md").read_text()):
        current: list[str] | None = None
        for line in block:
            if line.startswith("$ "):
                current = []
                out.append((line[2:], current))
            elif not line.strip():
                current = None
            elif current is not None:
                current.append(line)
    return out


EXAMPLES = _examples()


def lines_match(want: list[str], got: list[str]) -> bool:
    """``want`` equals ``got`` line by line, a ``...`` line matching any run of lines."""
    if not want:
        return not got
    if want[0] == "...":
        return any(lines_match(want[1:], got[i:]) for i in range(len(got) + 1))
    return bool(got) and got[0].rstrip() == want[0].rstrip() and lines_match(want[1:], got[1:])


def test_readme_shows_netsec_examples() -> None:
    assert len(EXAMPLES) >= 3 and all(want for _, want in EXAMPLES)


@pytest.mark.parametrize(("command", "want"), EXAMPLES, ids=[c[:60] for c, _ in EXAMPLES] or None)
def test_readme_netsec_example_output(command: str, want: list[str]) -> None:
    import shlex
    import subprocess
    import sys

    argv = shlex.split(command)
    assert argv[0] == "netsec"
    proc = subprocess.run(
        [sys.executable, "-m", "netsec_layers", *argv[1:]],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    got = (proc.stdout + proc.stderr).splitlines()
    assert lines_match(want, got), "README:\n" + "\n".join(want) + "\n\nactual:\n" + "\n".join(got)


@pytest.mark.parametrize(
    ("want", "got", "ok"),
    [
        (["a", "...", "c"], ["a", "b", "b", "c"], True),
        (["a", "...", "c"], ["a", "c"], True),
        (["a", "c"], ["a", "b", "c"], False),
        (["...", "b"], ["a", "b", "c"], False),
        (["a"], ["a", "b"], False),
        (["27 frames"], ["24 frames"], False),
    ],
)
def test_lines_match(want: list[str], got: list[str], ok: bool) -> None:
    assert lines_match(want, got) is ok
