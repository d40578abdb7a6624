"""Run Python code in a fresh interpreter that imports this checkout (not an installed copy)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_python(code: str, *, timeout: float = 180) -> str:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
        cwd=str(REPO),
        env=env,
    ).stdout
