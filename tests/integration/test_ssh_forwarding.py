"""``netsec decrypt -w`` on SSH port forwardings (RFC 4254 §7): local (direct-tcpip: paramiko
asks OpenSSH's sshd to connect to a TCP echo server on 127.0.0.1) and remote (forwarded-tcpip:
sshd listens for paramiko and opens a channel per connection it accepts).  The plaintext capture
holds each forwarded TCP connection between the endpoints the CHANNEL_OPEN names, and tshark 4.0
follows it showing exactly the bytes sent and echoed."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.tshark_util import run_tshark, tshark_follow_tcp
from tools.loopback_capture import tcpdump_capture
from tools.ssh_peers import Session, keylog_text, pattern, running_sshd

ORIGIN = ("127.0.0.1", 45678)  # the originator address the client announces


def _echo_server() -> tuple[socket.socket, int]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    return srv, srv.getsockname()[1]


def _logging_transport(sess: Session, port: int) -> Any:
    """A paramiko transport to 127.0.0.1:port that logs each key exchange's K into ``sess``."""
    import paramiko

    class LoggingTransport(paramiko.Transport):  # type: ignore[misc]
        def _set_K_H(self, k: int, h: bytes) -> None:
            super()._set_K_H(k, h)
            cookie = bytes(self.local_kex_init[1:17])
            sess.keylog.append(
                (cookie, "SHARED_SECRET", k.to_bytes((k.bit_length() + 7) // 8, "big"))
            )

    return LoggingTransport(socket.create_connection(("127.0.0.1", port), timeout=20))


def _forward(port: int, key: Path, echo_port: int, data: bytes) -> Session:
    import paramiko  # type: ignore[import-untyped]

    sess = Session("forward")

    t = _logging_transport(sess, port)
    try:
        t.start_client(timeout=20)
        t.auth_publickey("root", paramiko.Ed25519Key.from_private_key_file(str(key)))
        ch = t.open_channel("direct-tcpip", ("127.0.0.1", echo_port), ORIGIN, timeout=20)
        ch.sendall(data)
        got = bytearray()
        while len(got) < len(data):
            got += ch.recv(65536)
        ch.close()
        sess.channels.append((data, bytes(got)))
    finally:
        t.close()
    return sess


@pytest.mark.integration
def test_direct_tcpip_forwarding_becomes_the_forwarded_tcp_connection(tmp_path: Path) -> None:
    data = pattern("forwarded", 5000)
    srv, echo_port = _echo_server()
    pcap = tmp_path / "fwd.pcap"
    with srv, running_sshd() as sshd:
        sess = tcpdump_capture(
            pcap, lambda: _forward(sshd.port, sshd.user_key, echo_port, data),
            bpf=f"tcp port {sshd.port}",
        )  # fmt: skip
    assert sess.channels == [(data, data)]
    keys = tmp_path / "ssh.keys"
    keys.write_text(keylog_text([sess]))
    out = tmp_path / "out.pcap"
    res = subprocess.run(
        [sys.executable, "-m", "netsec_layers", "decrypt", str(pcap), "-w", str(out),
         "--ssh-keylog", str(keys), "--jobs", "1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert tshark_follow_tcp(out, 0, server_ports=[echo_port]) == (data, data)
    conv = run_tshark(
        ["-n", "-r", str(out), "-T", "fields", "-e", "tcp.srcport", "-e", "tcp.dstport",
         "-Y", "tcp.flags.syn == 1 and tcp.flags.ack == 0"],
    ).split()  # fmt: skip
    assert conv == [str(ORIGIN[1]), str(echo_port)]


def _remote_forward(port: int, key: Path, data: bytes) -> tuple[Session, int, int]:
    """paramiko asks sshd to listen (tcpip-forward) and echoes what comes through; a local
    client connects to sshd's listener and sends ``data``."""
    import paramiko

    sess = Session("remote")

    def echo(ch: Any, origin: Any, server: Any) -> None:
        def run() -> None:
            while chunk := ch.recv(65536):
                ch.sendall(chunk)
            ch.close()

        threading.Thread(target=run, daemon=True).start()

    t = _logging_transport(sess, port)
    try:
        t.start_client(timeout=20)
        t.auth_publickey("root", paramiko.Ed25519Key.from_private_key_file(str(key)))
        listen = t.request_port_forward("127.0.0.1", 0, handler=echo)
        with socket.create_connection(("127.0.0.1", listen), timeout=20) as c:
            origin_port = c.getsockname()[1]
            c.sendall(data)
            got = bytearray()
            while len(got) < len(data):
                got += c.recv(65536)
        sess.channels.append((data, bytes(got)))
    finally:
        t.close()
    return sess, listen, origin_port


@pytest.mark.integration
def test_forwarded_tcpip_becomes_the_forwarded_tcp_connection(tmp_path: Path) -> None:
    data = pattern("remote-forwarded", 4000)
    pcap = tmp_path / "rfwd.pcap"
    with running_sshd() as sshd:
        sess, listen, origin_port = tcpdump_capture(
            pcap, lambda: _remote_forward(sshd.port, sshd.user_key, data),
            bpf=f"tcp port {sshd.port}",
        )  # fmt: skip
    assert sess.channels == [(data, data)]
    keys = tmp_path / "ssh.keys"
    keys.write_text(keylog_text([sess]))
    out = tmp_path / "out.pcap"
    res = subprocess.run(
        [sys.executable, "-m", "netsec_layers", "decrypt", str(pcap), "-w", str(out),
         "--ssh-keylog", str(keys), "--jobs", "1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    # the originator (the local client) sent data, the forwarded-to side echoed it
    assert tshark_follow_tcp(out, 0, server_ports=[listen]) == (data, data)
    syn = run_tshark(
        ["-n", "-r", str(out), "-T", "fields", "-e", "tcp.srcport", "-e", "tcp.dstport",
         "-Y", "tcp.flags.syn == 1 and tcp.flags.ack == 0"],
    ).split()  # fmt: skip
    assert syn == [str(origin_port), str(listen)]
