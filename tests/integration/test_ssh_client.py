"""The Sans-I/O SSH client (netsec_layers.session.ssh_client) against OpenSSH's sshd: key
exchange, publickey authentication, an exec channel; its key log decrypts the capture with
netsec and with tshark 4.0 (two-field form); a deliberately broken MAC makes sshd hang up."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_ssh_private_key

from netsec_layers.keys.ssh_keylog import format_ssh_keylog, parse_ssh_keylog
from netsec_layers.session.engine import CaptureEngine, iter_capture
from netsec_layers.session.ssh import SSHPacketInfo, SSHTracker
from netsec_layers.session.ssh_client import SSHClient
from tests.integration.test_ssh_peers import _by_stream, _channel_bytes
from tests.tshark_util import run_tshark
from tools.loopback_capture import tcpdump_capture
from tools.ssh_peers import pattern, running_sshd

pytestmark = [pytest.mark.integration, pytest.mark.root, pytest.mark.slow]

CASES = [
    ("aes128-ctr", "hmac-sha2-256", False),
    ("chacha20-poly1305@openssh.com", None, True),
    ("aes256-gcm@openssh.com", None, True),
    ("aes128-cbc", "hmac-sha2-512-etm@openssh.com", False),
]


def _drive(client: SSHClient, port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        while not client.done:
            out = client.data_to_send()
            if out:
                sock.sendall(out)
            data = sock.recv(65536)
            if not data:
                break
            client.receive(data)
        sock.sendall(client.data_to_send())


def test_client_against_sshd_and_its_key_log(tmp_path: Any) -> None:
    pcap = tmp_path / "client.pcap"
    with running_sshd() as sshd:
        key: Any = load_ssh_private_key(sshd.user_key.read_bytes(), None)
        clients = [
            SSHClient(user="root", key=key, command="cat", stdin=pattern(f"client:{c}", 5000),
                      cipher=c, mac=m, strict_kex=strict)
            for c, m, strict in CASES
        ]  # fmt: skip

        def traffic() -> None:
            for c in clients:
                _drive(c, sshd.port)

        tcpdump_capture(pcap, traffic, bpf=f"tcp port {sshd.port}")
        port = sshd.port
        # a flipped MAC bit on the first encrypted packet: sshd drops the connection
        broken = SSHClient(user="root", key=key, command="true", break_packet=0)
        _drive(broken, port)
    assert not broken.done and broken.exit_status is None
    for (cipher, _mac, _strict), c in zip(CASES, clients, strict=True):
        assert c.done and c.exit_status == 0 and c.error is None, cipher
        assert bytes(c.stdout) == c.stdin, cipher
    keylog = format_ssh_keylog(e for c in clients for e in c.keylog)
    engine = CaptureEngine(trackers=[SSHTracker(parse_ssh_keylog(keylog))])
    events: list[Any] = []
    for res in iter_capture(str(pcap), engine):
        events.extend(u for u in res.units if isinstance(u, SSHPacketInfo))
    streams = _by_stream(events)
    assert len(streams) == len(CASES)
    for index, c in enumerate(clients):
        packets = streams[index]
        assert not [p.to_json() for p in packets if p.error], CASES[index]
        assert _channel_bytes(packets) == [(c.stdin, bytes(c.stdout))]
    # tshark 4.0 with the two-field (private key) form, on the non-strict aes128-ctr connection
    wkeys = tmp_path / "wireshark.keys"
    wkeys.write_text("".join(f"{ck.hex()} {s.hex()}\n" for ck, k, s in clients[0].keylog
                             if k == "PRIVATE_KEY"))  # fmt: skip
    out = run_tshark(["-r", str(pcap), "-d", f"tcp.port=={port},ssh", "-o",
         f"ssh.keylog_file:{wkeys}", "-Y", "tcp.stream==0 && ssh.message_code", "-T", "fields",
         "-e", "frame.number", "-e", "ssh.message_code"])  # fmt: skip
    theirs = {
        (int(f), int(code))
        for line in out.splitlines()
        for f, codes in [line.split("\t")]
        for code in codes.split(",")
        if code
    }
    ours = {(p.frame, p.msg_type) for p in streams[0] if p.decrypted}
    assert len(ours) >= 10 and ours <= theirs, sorted(ours - theirs)[:5]
