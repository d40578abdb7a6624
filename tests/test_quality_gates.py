"""The quality gates of tools/lint.sh (ruff with a complexity limit, ruff format, mypy --strict
on the whole package, import-linter floors) are part of the suite: a failing gate fails it."""

from __future__ import annotations

import ast
import os
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = ROOT / "tools" / "lint.sh"
ACCELERATOR = ROOT / "netsec_layers" / "layers" / "fast"


def _run(env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(LINT)], cwd=ROOT, capture_output=True, text=True, env=env, timeout=600
    )


def test_all_gates_pass() -> None:
    res = _run()
    assert res.returncode == 0, f"{res.stdout[-8000:]}\n{res.stderr[-2000:]}"
    assert "lint: all gates passed" in res.stdout


def test_a_failing_gate_fails_the_script(tmp_path: Path) -> None:
    # a stand-in import-linter that reports a broken contract: the script must say so and fail
    fake = tmp_path / "lint-imports"
    fake.write_text("#!/bin/sh\necho 'Contracts: 0 kept, 1 broken.'\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    env = dict(os.environ, PATH=f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    res = _run(env)
    assert res.returncode == 1
    assert "FAILED gates:" in res.stderr and "import-floors" in res.stderr


def _private_scapy_names(path: Path) -> list[str]:
    """Underscore names a module imports from Scapy (``from scapy.x import _y``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "scapy":
            found += [f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    return found


def test_only_the_accelerator_imports_scapy_internals() -> None:
    """Issue 13: what reaches into Scapy's internals sits behind layers/fast/; the layer
    classes and everything else import public Scapy names only."""
    assert _private_scapy_names(ACCELERATOR / "builder.py")  # the check sees what it looks for
    offenders = {
        str(path.relative_to(ROOT)): names
        for path in sorted((ROOT / "netsec_layers").rglob("*.py"))
        if ACCELERATOR not in path.parents and (names := _private_scapy_names(path))
    }
    assert offenders == {}
