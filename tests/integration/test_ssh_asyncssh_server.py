"""SSH with a logging asyncssh *server*: OpenSSH's own ``ssh`` client (whose secrets nothing
logs) and paramiko's hybrid post-quantum exchange mlkem768x25519-sha256 (which Debian 12's
sshd does not have).  Only the server's key log is used, so every connection is decrypted
from the server's KEXINIT cookie; channel bytes must equal what the clients sent and got."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from netsec_layers.keys.ssh_keylog import format_ssh_keylog, parse_ssh_keylog
from netsec_layers.session.engine import CaptureEngine, iter_capture
from netsec_layers.session.ssh import SSHPacketInfo, SSHTracker
from tests.integration.test_ssh_peers import _by_stream, _channel_bytes
from tools.loopback_capture import tcpdump_capture
from tools.ssh_peers import (
    AsyncsshServer,
    Session,
    asyncssh_session,
    openssh_session,
    paramiko_session,
)

pytestmark = [pytest.mark.integration, pytest.mark.root, pytest.mark.slow]


def _keys(tmp: Path) -> tuple[Path, Path, Path]:
    for name in ("host", "user"):
        subprocess.run(["ssh-keygen", "-q", "-N", "", "-t", "ed25519", "-f", str(tmp / name)],
                       check=True, timeout=30)  # fmt: skip
    auth = tmp / "authorized_keys"
    auth.write_text((tmp / "user.pub").read_text())
    return tmp / "host", tmp / "user", auth


def test_openssh_client_and_hybrid_kex_against_asyncssh_server(tmp_path: Path) -> None:
    host, user, auth = _keys(tmp_path)
    pcap = tmp_path / "ssh.pcap"
    with AsyncsshServer(host, auth) as server:

        def traffic() -> list[Session]:
            return [
                paramiko_session(server.port, user, label="p-mlkem",
                                 kex="mlkem768x25519-sha256", cipher="aes128-gcm@openssh.com"),
                openssh_session(server.port, user, label="o-default-zlib",
                                options=["Compression=yes"]),
                openssh_session(server.port, user, label="o-p384-etm",
                                options=["KexAlgorithms=ecdh-sha2-nistp384", "Ciphers=aes192-ctr",
                                         "MACs=hmac-sha2-512-etm@openssh.com"]),
                openssh_session(server.port, user, label="o-gex-umac128-etm",
                                options=["KexAlgorithms=diffie-hellman-group-exchange-sha256",
                                         "Ciphers=aes128-ctr", "MACs=umac-128-etm@openssh.com"]),
                openssh_session(server.port, user, label="o-g16-gcm",
                                options=["KexAlgorithms=diffie-hellman-group16-sha512",
                                         "Ciphers=aes256-gcm@openssh.com"]),
                openssh_session(server.port, user, label="o-p521-3des",
                                options=["KexAlgorithms=ecdh-sha2-nistp521", "Ciphers=3des-cbc",
                                         "MACs=hmac-sha1"]),
                asyncssh_session(server.port, user, label="a-zlib", compression="zlib",
                                 cipher="aes128-cbc", mac="hmac-sha1"),
            ]  # fmt: skip

        sessions = tcpdump_capture(pcap, traffic, bpf=f"tcp port {server.port}")
        server_log = list(server.keylog)
    # only the server's log (its own KEXINIT cookies): the clients' logs are not used
    log = format_ssh_keylog(server_log)
    assert len(parse_ssh_keylog(log)) == len(sessions)
    engine = CaptureEngine(trackers=[SSHTracker(parse_ssh_keylog(log))])
    events: list[Any] = []
    for res in iter_capture(str(pcap), engine):
        events.extend(u for u in res.units if isinstance(u, SSHPacketInfo))
    streams = _by_stream(events)
    assert len(streams) == len(sessions)
    for index, sess in enumerate(sessions):
        packets = streams[index]
        assert not [p.to_json() for p in packets if p.error], sess.label
        assert sum(p.decrypted for p in packets) >= 8, sess.label
        kexinit_c = next(p.payload for p in packets if p.msg_type == 20 and p.from_client)
        assert kexinit_c is not None
        channels = _channel_bytes(packets)
        assert len(channels) == 1, sess.label
        (sent, received), (c2s, s2c) = sess.channels[0], channels[0]
        assert len(sent) == 3000 and c2s == sent and s2c == received == sent, sess.label
    # the log held the server's cookies only
    server_cookies = {p.payload[1:17] for p in events if p.msg_type == 20 and not p.from_client
                      and p.payload is not None}  # fmt: skip
    assert {c for c, _k, _v in server_log} == server_cookies
    # what was negotiated is what each case was for
    names = {s.label: streams[i] for i, s in enumerate(sessions)}
    assert b"mlkem768x25519-sha256" in _kexinit(names["p-mlkem"], True)
    assert b"zlib@openssh.com" in _kexinit(names["o-default-zlib"], True)
    assert b"\x00\x00\x00\x04zlib\x00\x00\x00\x04zlib" in _kexinit(names["a-zlib"], True)


def _kexinit(packets: list[SSHPacketInfo], from_client: bool) -> bytes:
    payload = next(p.payload for p in packets if p.msg_type == 20 and p.from_client == from_client)
    assert payload is not None
    return payload
