"""Helpers to record real traffic on the loopback interface (tests and sample-capture makers).

Everything here talks only to 127.0.0.1 / ::1 and runs ``tcpdump`` with a port filter so that
other traffic on ``lo`` does not leak into the capture.  ``tcpdump`` missing raises
:class:`FileNotFoundError` (tests that use this must fail, not skip, without it).
"""

from __future__ import annotations

import hashlib
import os
import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

__all__ = ["tcpdump_capture", "tcp_exchange", "udp_send", "free_port", "pattern"]

T = TypeVar("T")


def pattern(seed: str, n: int) -> bytes:
    """``n`` deterministic pseudo-random bytes (SHA-256 in counter mode)."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{i}".encode()).digest()
        i += 1
    return bytes(out[:n])


def free_port(family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM) -> int:
    """A currently unused port on the loopback address."""
    with socket.socket(family, kind) as s:
        s.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        return int(s.getsockname()[1])


def tcpdump_capture(
    out: str | os.PathLike[str],
    traffic: Callable[[], T],
    *,
    bpf: str,
    iface: str = "lo",
    extra: Sequence[str] = (),
    netns: str | None = None,
    settle: float = 0.3,
    expect: int | None = None,
) -> T:
    """Run ``tcpdump -w out`` while ``traffic()`` runs; return what ``traffic`` returned."""
    # --immediate-mode: with TPACKET_V3 packets sit in a ring block until it times out, and a
    # SIGINT before then loses them.  Immediate mode uses fixed-size ring frames sized for the
    # snaplen, so the default 2 MB buffer holds only a few frames: -B 32 MB avoids kernel drops
    # (``-i any`` sees every loopback packet twice).
    cmd = [
        "tcpdump",
        "-i",
        iface,
        "--immediate-mode",
        "-B",
        "32768",
        "-U",
        "-n",
        "-w",
        os.fspath(out),
        *extra,
        bpf,
    ]
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        # tcpdump says "listening on ..." on stderr once the capture is armed.
        assert proc.stderr is not None
        deadline = time.monotonic() + 10
        seen = b""
        while b"listening on" not in seen:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"tcpdump did not start: {seen.decode(errors='replace')}")
            r, _, _ = select.select([proc.stderr], [], [], 0.2)
            if r:
                seen += os.read(proc.stderr.fileno(), 4096)
        result = traffic()
        # tcpdump -U writes each packet as it arrives: wait until the file stops growing (and
        # holds ``expect`` frames if given) -- on a loaded machine delivery can lag.
        _wait_quiet(Path(out), settle, expect)
        return result
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_quiet(path: Path, settle: float, expect: int | None, limit: float = 10.0) -> None:
    from netsec_layers.errors import ParseError
    from netsec_layers.io.pcap import CaptureReader

    deadline = time.monotonic() + limit
    last = -1
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        size = path.stat().st_size if path.exists() else 0
        now = time.monotonic()
        if size != last:
            last, quiet_since = size, now
        elif now - quiet_since >= settle:
            if expect is None:
                return
            try:
                with CaptureReader(path) as r:
                    if sum(1 for _ in r) >= expect:
                        return
            except ParseError:
                pass
        time.sleep(0.05)


def tcp_exchange(
    port: int,
    client_chunks: Sequence[bytes],
    server_reply: Callable[[bytes], Sequence[bytes]],
    *,
    host: str = "127.0.0.1",
    pause: float = 0.0,
    client_port: int = 0,
) -> tuple[bytes, bytes]:
    """One TCP connection: the client sends ``client_chunks`` (``TCP_NODELAY``, one send each),
    half-closes; the server reads to EOF and answers with ``server_reply(received)``.
    ``client_port`` pins the client's port (SO_REUSEADDR), to reuse a 4-tuple on purpose.
    Returns ``(bytes sent by client, bytes sent by server)``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(1)
    sent_back: list[bytes] = []

    def serve() -> None:
        c, _ = srv.accept()
        with c:
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            got = bytearray()
            while True:
                x = c.recv(65536)
                if not x:
                    break
                got += x
            for part in server_reply(bytes(got)):
                c.sendall(part)
                sent_back.append(part)
                if pause:
                    time.sleep(pause)

    t = threading.Thread(target=serve)
    t.start()
    try:
        with socket.socket(family, socket.SOCK_STREAM) as c:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if client_port:
                c.bind((host, client_port))
            c.connect((host, port))
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for part in client_chunks:
                c.sendall(part)
                if pause:
                    time.sleep(pause)
            c.shutdown(socket.SHUT_WR)
            while c.recv(65536):
                pass
    finally:
        t.join(10)
        srv.close()
    return b"".join(client_chunks), b"".join(sent_back)


def udp_send(port: int, datagrams: Sequence[bytes], *, host: str = "127.0.0.1") -> None:
    """Send ``datagrams`` to ``host:port`` (a bound receiver drains them)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with (
        socket.socket(family, socket.SOCK_DGRAM) as rx,
        socket.socket(family, socket.SOCK_DGRAM) as tx,
    ):
        rx.bind((host, port))
        rx.settimeout(2)
        for d in datagrams:
            tx.sendto(d, (host, port))
            rx.recv(70000)
