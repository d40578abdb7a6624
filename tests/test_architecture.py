"""The package's boundaries (STYLE.md): layers never import cryptography; crypto and keys never
import Scapy; only cli prints/exits; modules outside layers/ do not import Scapy at import time."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "netsec_layers"


def _imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _files(sub: str) -> list[Path]:
    return sorted((PKG / sub).rglob("*.py"))


@pytest.mark.parametrize("path", _files("layers"), ids=lambda p: str(p.relative_to(PKG)))
def test_layers_never_import_cryptography(path: Path) -> None:
    bad = {
        m
        for m in _imports(path)
        if m.split(".")[0] == "cryptography" or m.startswith("netsec_layers.crypto")
    }
    assert not bad


@pytest.mark.parametrize(
    "path",
    _files("crypto") + _files("keys") + _files("constants"),
    ids=lambda p: str(p.relative_to(PKG)),
)
def test_crypto_keys_and_constants_never_import_scapy(path: Path) -> None:
    bad = {
        m
        for m in _imports(path)
        if m.split(".")[0] == "scapy" or m.startswith("netsec_layers.layers")
    }
    assert not bad


@pytest.mark.parametrize(
    "path",
    [p for sub in ("session", "io", "cli", "keys", "crypto") for p in _files(sub)],
    ids=lambda p: str(p.relative_to(PKG)),
)
def test_no_scapy_at_module_import_time_outside_layers(path: Path) -> None:
    assert not {m for m in _imports(path, top_level_only=True) if m.split(".")[0] == "scapy"}


def test_only_cli_exits() -> None:
    offenders = []
    for path in PKG.rglob("*.py"):
        if "cli" in path.parts or path.name == "__main__.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "exit"
            ):
                if isinstance(node.func.value, ast.Name) and node.func.value.id == "sys":
                    offenders.append(str(path))
    assert not offenders


def test_engine_pipeline_imports_no_scapy() -> None:
    code = (
        "import sys; from netsec_layers.session.engine import CaptureEngine, iter_capture; "
        "e = CaptureEngine(); list(iter_capture('pcaps/tls/tls13-aes128gcm.pcap', e)); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scapy'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PKG.parent
    ).stdout
    assert out.strip() == "[]"
