"""The README's Python examples run as written (the interactive one as a doctest)."""

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
