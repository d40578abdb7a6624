"""Shared helpers of the OpenPGP tests: the vector loader and real gpg / sq runs.

Vectors live under tests/vectors/openpgp/: ``rfc9580/`` (RFC 9580 Appendix A, with
``vectors.json`` naming what each file must give) and ``keys/`` (keys made by gpg 2.2 and sq,
with ``keys.json`` giving passphrases and algorithms).  gpg runs in a temporary homedir made by
the caller; a missing gpg/sq fails the test (integration tests never skip).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "openpgp"
RFC = VECTORS / "rfc9580"
KEYS = VECTORS / "keys"


def rfc_vectors() -> dict[str, Any]:
    return json.loads((RFC / "vectors.json").read_text())  # type: ignore[no-any-return]


def key_table() -> dict[str, Any]:
    return json.loads((KEYS / "keys.json").read_text())  # type: ignore[no-any-return]


def need(program: str) -> str:
    path = shutil.which(program)
    assert path, f"{program} is not installed (Debian package: gnupg / sq); see tools/run_tests.sh"
    return path


class GPG:
    """gpg 2.2 in a private homedir (loopback pinentry, batch mode)."""

    def __init__(self, home: str) -> None:
        self.home = home
        self.env = dict(os.environ, GNUPGHOME=home, LC_ALL="C")

    def run(self, *args: str, data: bytes | None = None, check: bool = True) -> bytes:
        cmd = [
            need("gpg"),
            "--batch",
            "--yes",
            "--pinentry-mode",
            "loopback",
            "--trust-model",
            "always",
            "--no-auto-key-locate",
            *args,
        ]
        p = subprocess.run(cmd, input=data, capture_output=True, env=self.env, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError(f"gpg {' '.join(args)} failed: {p.stderr.decode()[-800:]}")
        self.last_stderr = p.stderr.decode("utf-8", "replace")
        self.last_rc = p.returncode
        return p.stdout

    def import_keys(self, *names: str, passphrase: str = "") -> None:
        for n in names:
            self.run("--passphrase", passphrase, "--import", str(KEYS / n))

    def list_packets(self, data: bytes, passphrase: str = "") -> list[dict[str, Any]]:
        """The ``# off=… ctb=… tag=… hlen=… plen=…`` lines of ``gpg --list-packets``."""
        out = self.run("--passphrase", passphrase, "--list-packets", data=data, check=False)
        rows = []
        for line in out.decode("utf-8", "replace").splitlines():
            m = re.match(r"# off=(\d+) ctb=([0-9a-f]{2}) tag=(\d+) hlen=(\d+) plen=(\d+)(.*)", line)
            if m:
                rows.append(
                    {
                        "off": int(m.group(1)),
                        "ctb": int(m.group(2), 16),
                        "tag": int(m.group(3)),
                        "hlen": int(m.group(4)),
                        "plen": int(m.group(5)),
                        "partial": "partial" in m.group(6),
                        "indeterminate": "indeterminate" in m.group(6),
                    }
                )
        return rows

    def close(self) -> None:
        subprocess.run(["gpgconf", "--kill", "all"], env=self.env, capture_output=True, check=False)


@contextmanager
def gpg_home() -> Iterator[GPG]:
    need("gpg")
    home = tempfile.mkdtemp(prefix="netsec-gpg-")
    os.chmod(home, 0o700)
    g = GPG(home)
    try:
        yield g
    finally:
        g.close()
        shutil.rmtree(home, ignore_errors=True)


def sq(*args: str, data: bytes | None = None, check: bool = True) -> bytes:
    p = subprocess.run([need("sq"), *args], input=data, capture_output=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"sq {' '.join(args)} failed: {p.stderr.decode()[-800:]}")
    return p.stdout


def flat_tags(nodes: list[dict[str, Any]]) -> list[int]:
    """Packet tags of a netsec tree, depth first (wrapper nodes skipped)."""
    out: list[int] = []
    for n in nodes:
        if "tag" in n:
            out.append(n["tag"])
        out.extend(flat_tags(n.get("children", [])))
    return out
