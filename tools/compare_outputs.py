#!/usr/bin/env python3
"""Behaviour kept: run ``dissect --json``, ``stats --json`` and ``decrypt -w`` on every capture in
pcaps/ (with its keys) at two revisions and compare the outputs byte for byte.

    python tools/compare_outputs.py --base HEAD~5            # base revision vs the working tree
    python tools/compare_outputs.py --base v1 --head v2

Each revision is exported with ``git archive`` into a temporary directory and run with
``PYTHONPATH`` pointing there, so nothing is installed.  Exit status 0 when every output is equal,
1 when some differ (they are listed), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PCAPS = ROOT / "pcaps"


def captures() -> Iterator[tuple[Path, list[str]]]:
    """Every sample capture with the key options its sidecar files give."""
    for pcap in sorted([*PCAPS.rglob("*.pcap"), *PCAPS.rglob("*.pcapng")]):
        opts: list[str] = []
        stem = pcap.with_suffix("")
        for suffix, option in (
            (".keys", "--keylog"),
            (".esp_sa", "--esp-sa"),
            (".xfrm_state", "--esp-sa"),
        ):
            if stem.with_suffix(suffix).exists():
                opts += [option, str(stem.with_suffix(suffix))]
        side = stem.with_suffix(".json")
        if side.exists() and pcap.parent.name == "esp":
            opts += ["--esp-sa", str(side)]
        yield pcap, opts


def export(rev: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "netsec_layers"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run_all(tree: Path, out: Path) -> dict[str, str]:
    """Digest of every output (stdout, or the written capture for decrypt) and the exit
    status, by name.  ``cwd`` is the exported tree: ``python -m`` puts it first on sys.path."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    digests: dict[str, str] = {}
    for pcap, opts in captures():
        rel = pcap.relative_to(PCAPS).as_posix()
        for cmd in ("dissect", "stats", "decrypt"):
            args = [sys.executable, "-m", "netsec_layers", cmd, str(pcap), *opts, "-q"]
            if cmd == "decrypt":
                target = out / (rel.replace("/", "_") + ".out")
                args += ["-w", str(target), "--jobs", "1"]
            else:
                args.append("--json")
            res = subprocess.run(args, capture_output=True, env=env, cwd=tree, timeout=300)
            data = target.read_bytes() if cmd == "decrypt" and target.exists() else res.stdout
            digests[f"{cmd} {rel}"] = (
                f"stdout/file {hashlib.sha256(data).hexdigest()[:16]} exit {res.returncode}"
            )
    return digests


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="git revision to compare against")
    ap.add_argument("--head", help="git revision (default: the working tree)")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "base").mkdir()
        (t / "head").mkdir()
        (t / "out-base").mkdir()
        (t / "out-head").mkdir()
        base = run_all(export(a.base, t / "base"), t / "out-base")
        head_tree = export(a.head, t / "head") if a.head else ROOT
        head = run_all(head_tree, t / "out-head")
    differ = sorted(k for k in base.keys() | head.keys() if base.get(k) != head.get(k))
    for k in differ:
        print(f"differs: {k}: {base.get(k)} -> {head.get(k)}")
    print(f"{len(base)} outputs compared, {len(differ)} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
