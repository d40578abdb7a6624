"""SFTP inside SSH: paramiko's SFTP client against OpenSSH's internal-sftp puts and gets files;
from the decrypted capture, the SFTP packets dissect (and rebuild byte-exact) and the files
rebuilt from WRITE and READ/DATA equal what paramiko wrote and read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from netsec_layers.keys.ssh_keylog import format_ssh_keylog, parse_ssh_keylog
from netsec_layers.layers.ssh.sftp import SFTP_TYPES, dissect_sftp_packet
from netsec_layers.session.engine import CaptureEngine, iter_capture
from netsec_layers.session.ssh import SSHTracker
from netsec_layers.session.ssh_channels import SSHChannelDemux
from netsec_layers.session.ssh_sftp import SFTPSession
from tools.loopback_capture import tcpdump_capture
from tools.ssh_peers import paramiko_sftp_session, running_sshd

pytestmark = [pytest.mark.integration, pytest.mark.root, pytest.mark.slow]


def test_sftp_files_from_the_capture(tmp_path: Path) -> None:
    pcap = tmp_path / "sftp.pcap"
    files = tmp_path / "files"
    files.mkdir()
    with running_sshd() as sshd:
        sess, put, got = tcpdump_capture(
            pcap,
            lambda: paramiko_sftp_session(
                sshd.port, sshd.user_key, files, label="sftp", sizes=(100, 70000, 5)
            ),
            bpf=f"tcp port {sshd.port}",
        )
    assert put == got
    engine = CaptureEngine(trackers=[SSHTracker(parse_ssh_keylog(format_ssh_keylog(sess.keylog)))])
    demux = SSHChannelDemux()
    sftp: dict[tuple[int, int], SFTPSession] = {}
    types: list[int] = []
    for res in iter_capture(str(pcap), engine):
        for u in res.units:
            for seg in demux.feed(u):
                if seg.subsystem != "sftp":
                    continue
                session = sftp.setdefault((seg.stream, seg.index), SFTPSession())
                for msg in session.feed(seg.from_client, seg.data, seg.frame):
                    types.append(msg.sftp_type)
                    layer: Any = dissect_sftp_packet(msg.raw)
                    copy = layer.copy()
                    copy.clear_cache()
                    assert bytes(copy) == msg.raw
                    assert layer.name == f"SSH_FXP_{SFTP_TYPES[msg.sftp_type]}"
    assert len(sftp) == 1
    (session,) = sftp.values()
    assert session.error is None
    assert {k: bytes(v) for k, v in session.files_written.items()} == put
    assert {k: bytes(v) for k, v in session.files_read.items()} == got
    assert {1, 2, 3, 4, 5, 6, 101, 102, 103} <= set(types)
    # netsec extract writes the same files under DIR/sftp/ (issue 17), one JSON line each
    import json
    import subprocess
    import sys

    keys = tmp_path / "ssh.keys"
    keys.write_text(format_ssh_keylog(sess.keylog))
    out = tmp_path / "extracted"
    out.mkdir()
    res = subprocess.run(
        [sys.executable, "-m", "netsec_layers", "extract", str(pcap), "-o", str(out),
         "--ssh-keylog", str(keys), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    sftp_lines = [x for x in lines if x["kind"] == "sftp"]
    assert len(sftp_lines) == len(put) + len(got)
    written = {Path(x["path"]).name: Path(x["path"]).read_bytes() for x in sftp_lines}
    for how, files in (("put", put), ("get", got)):
        for remote, data in files.items():
            (name,) = [n for n in written if n.endswith(f"-{how}-{Path(remote).name}")]
            assert written[name] == data
