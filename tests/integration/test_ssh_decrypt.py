"""``netsec decrypt -w`` on real SSH (paramiko and asyncssh clients against OpenSSH 9.2 sshd,
keys logged by the clients): the SSH connection is not written; every session channel becomes a
plaintext TCP connection that tshark 4.0 follows without keys, carrying exactly the bytes the peers
sent.  With wrong keys nothing is lost: the capture is written as it was (issue #14)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from netsec_layers.io.pcap import open_capture
from tests.tshark_util import tshark_follow_tcp
from tools.ssh_peers import pattern

SAMPLE = Path(__file__).resolve().parents[2] / "pcaps" / "ssh" / "ssh-sample.pcap"
KEYS = SAMPLE.with_suffix(".keys")
SERVER_PORT = 38217


def _decrypt(out: Path, keys: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netsec_layers", "decrypt", str(SAMPLE), "-w", str(out),
         "--ssh-keylog", str(keys), "--jobs", "1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.integration
def test_each_session_channel_is_a_plaintext_tcp_connection(tmp_path: Path) -> None:
    out = tmp_path / "out.pcap"
    res = _decrypt(out, KEYS)
    assert res.returncode == 0, res.stderr
    assert "SSH: 2 connections decrypted, 3 channels written" in res.stderr
    streams = {tshark_follow_tcp(out, i, server_ports=[SERVER_PORT]) for i in range(3)}
    want = {
        (pattern(name, 2000), pattern(name, 2000))
        for name in ("sample-ctr:0", "sample-ctr:1", "sample-chacha:0")
    }
    assert streams == want


@pytest.mark.integration
def test_wrong_ssh_keys_keep_the_capture_as_it_was(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.keys"
    lines = []
    for line in KEYS.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:
            parts[2] = parts[2][:-1] + ("0" if parts[2][-1] != "0" else "1")
        lines.append(" ".join(parts))
    wrong.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.pcap"
    res = _decrypt(out, wrong)
    assert res.returncode == 1, res.stderr  # nothing could be decrypted
    with open_capture(str(out)) as a, open_capture(str(SAMPLE)) as b:
        assert [f.data for f in a] == [f.data for f in b]
