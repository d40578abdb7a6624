"""Plumbing for tools/make_tls_captures.py: a private network namespace, tcpdump, peer processes.

Everything here runs real programs (tcpdump, openssl, gnutls, python ssl) on 127.0.0.1 inside a
network namespace created for the run, so that

* the loopback MTU can be set to 1500 (with GSO capped to one segment) without touching the host:
  TLS records then span several TCP segments as they would on Ethernet, and
* well-known ports (443) are free and no other process on the host shows up in the capture.

Run as ``python tools/capture_lib.py peer '<json>'`` this module is also the Python ``ssl`` peer
(a stdin/stdout <-> TLS relay), so every peer, whatever its implementation, is driven the same way:
bytes written to its stdin are sent over TLS, bytes received are written to its stdout.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import selectors
import shlex
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path


class CaptureError(RuntimeError):
    """A peer or tcpdump misbehaved: the capture must not be trusted."""


class CaptureDropped(CaptureError):
    """The kernel dropped packets before tcpdump read them: the capture is incomplete, and
    running the scenario again (on a less busy moment) is the remedy."""


# --------------------------------------------------------------------------- network namespace


def check_prerequisites(programs: Sequence[str]) -> None:
    """Fail early and clearly when not root or a program is missing (never skip silently)."""
    if os.geteuid() != 0:
        raise CaptureError("must run as root (network namespace, tcpdump)")
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        raise CaptureError(
            f"missing program(s): {', '.join(missing)} "
            "(apt-get install iproute2 tcpdump tshark openssl gnutls-bin)"
        )


@contextlib.contextmanager
def private_netns(mtu: int = 1500) -> Iterator[str]:
    """Create a throwaway network namespace whose loopback has a small MTU and no big GSO packets.

    Without ``gso_max_size``, tcpdump on ``lo`` sees the un-segmented super-packets the stack hands
    to the device (up to 64 KiB), whatever the MTU.
    """
    name = f"netsec-cap-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=10)
    try:
        subprocess.run(
            [
                "ip",
                "-n",
                name,
                "link",
                "set",
                "lo",
                "up",
                "mtu",
                str(mtu),
                "gso_max_size",
                str(mtu),
                "gso_max_segs",
                "1",
            ],
            check=True,
            timeout=10,
        )
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=10)


def in_netns(netns: str | None, argv: Sequence[str]) -> list[str]:
    """Prefix a command so it runs inside ``netns`` (or unchanged when netns is None)."""
    return (["ip", "netns", "exec", netns] if netns else []) + list(argv)


def wait_listening(pid: int, port: int, *, ipv6: bool = False, timeout: float = 10.0) -> None:
    """Poll /proc/PID/net/tcp{,6} until something listens on ``port`` in PID's namespace.

    Polling the table rather than connecting keeps the probe out of the capture and leaves
    single-shot servers' accept() for the real client. /proc/PID/net is the network namespace of
    process PID (``ip netns exec`` execs the server, so the peer's pid is inside the namespace).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Only the table of the family the client will use: gnutls-serv binds v4 and v6 apart.
        for name in ("tcp6",) if ipv6 else ("tcp",):
            try:
                lines = Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:]
            except OSError as e:
                raise CaptureError(f"process {pid} is gone before listening: {e}") from None
            for line in lines:
                f = line.split()
                if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "0A":
                    return
        time.sleep(0.02)
    raise CaptureError(f"nothing listens on port {port} after {timeout}s")


# --------------------------------------------------------------------------- tcpdump


class Tcpdump:
    """``tcpdump -i lo -U -w FILE 'tcp port P'``, started and stopped cleanly (SIGINT + wait)."""

    def __init__(self, netns: str | None, pcap: Path, ports: Sequence[int], log: Path) -> None:
        bpf = " or ".join(f"tcp port {p}" for p in ports)
        self.argv = [
            "tcpdump",
            "-i",
            "lo",
            "-U",
            "--immediate-mode",
            "-B",
            "32768",
            "-n",
            "-s",
            "0",
            "-Z",
            "root",
            "-w",
            str(pcap),
            bpf,
        ]
        self.pcap = pcap
        self.log = log
        self._netns = netns
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Tcpdump:
        self._logf = open(self.log, "wb")
        self.proc = subprocess.Popen(
            in_netns(self._netns, self.argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._logf,
        )
        deadline = time.monotonic() + 10
        # tcpdump writes "listening on lo" once the socket and filter are in place.
        while b"listening on" not in self.log.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise CaptureError(f"tcpdump did not start: {self.log.read_text(errors='replace')}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        # Let the last FIN/ACKs reach the capture socket before stopping.
        time.sleep(0.3)
        self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise CaptureError("tcpdump did not stop on SIGINT") from None
        finally:
            self.proc = None
            self._logf.close()
        text = self.log.read_text(errors="replace")
        if rc != 0:
            raise CaptureError(f"tcpdump failed (rc={rc}): {text}")
        if not re.search(r"^0 packets dropped by kernel", text, re.M):
            raise CaptureDropped(f"tcpdump dropped packets (a busy machine): {text}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            if exc[0] is None:
                self.stop()
            else:
                self.proc.kill()
                self.proc.wait()
                self._logf.close()


# --------------------------------------------------------------------------- peer processes


@dataclass
class Peer:
    """A running TLS peer driven through its stdin (to send) and stdout (what it received)."""

    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    log: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    received: bytearray = field(default_factory=bytearray)

    def start(self, netns: str | None) -> None:
        assert self.log is not None
        self._logf = open(self.log, "wb")
        env = dict(os.environ, **(self.env or {}))
        self.proc = subprocess.Popen(
            in_netns(netns, self.argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._logf,
            env=env,
        )
        os.set_blocking(self.proc.stdout.fileno(), False)  # type: ignore[union-attr]

    def write(self, data: bytes) -> threading.Thread:
        """Write in a thread: the peer may block on TCP while we must keep reading the other end."""
        assert self.proc is not None and self.proc.stdin is not None
        stdin = self.proc.stdin

        def run() -> None:
            with contextlib.suppress(BrokenPipeError):
                stdin.write(data)
                stdin.flush()

        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    def close_stdin(self) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.close()

    def read_exactly(self, n: int, timeout: float = 20.0) -> bytes:
        """Collect what the peer printed until ``n`` new bytes arrived; fail loudly otherwise."""
        assert self.proc is not None and self.proc.stdout is not None
        start = len(self.received)
        deadline = time.monotonic() + timeout
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            while len(self.received) - start < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CaptureError(
                        f"{self.name}: got {len(self.received) - start} of {n} bytes in {timeout}s; "
                        f"log: {self.log_text()[-2000:]}"
                    )
                if sel.select(min(left, 0.5)):
                    chunk = os.read(self.proc.stdout.fileno(), 1 << 20)
                    if not chunk:
                        raise CaptureError(
                            f"{self.name} closed its output early: {self.log_text()[-2000:]}"
                        )
                    self.received += chunk
        finally:
            sel.close()
        if len(self.received) - start > n:
            raise CaptureError(f"{self.name} printed more than the {n} expected bytes")
        return bytes(self.received[start:])

    def drain(self) -> bytes:
        """Whatever the peer printed beyond what read_exactly consumed (after it exited)."""
        assert self.proc is not None and self.proc.stdout is not None
        extra = b""
        with contextlib.suppress(BlockingIOError, ValueError):
            while chunk := os.read(self.proc.stdout.fileno(), 1 << 20):
                extra += chunk
        return extra

    def wait(self, timeout: float = 15.0, *, expect_ok: bool = True) -> int:
        assert self.proc is not None
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise CaptureError(f"{self.name} did not exit: {self.log_text()[-2000:]}") from None
        self._logf.close()
        if expect_ok and rc != 0:
            raise CaptureError(f"{self.name} exited with {rc}: {self.log_text()[-2000:]}")
        return rc

    def terminate(self) -> None:
        """Stop a server that does not exit by itself (gnutls-serv) with SIGTERM."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()
        self._logf.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""


# --------------------------------------------------------------------------- pcap helpers


def tcp_endpoints(pcap: Path, server_port: int) -> list[int]:
    """Client ports of the connections (SYN to ``server_port``) in an Ethernet IPv4/IPv6 pcap, in order.

    Deliberately tiny and independent of netsec_layers: it only reads what tcpdump wrote here.
    """
    data = pcap.read_bytes()
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        raise CaptureError(f"{pcap}: not a little-endian pcap")
    linktype = struct.unpack("<I", data[20:24])[0]
    if linktype != 1:
        raise CaptureError(f"{pcap}: unexpected linktype {linktype}")
    off, ports = 24, []
    while off + 16 <= len(data):
        incl = struct.unpack("<I", data[off + 8 : off + 12])[0]
        pkt = data[off + 16 : off + 16 + incl]
        off += 16 + incl
        if len(pkt) >= 34 and pkt[12:14] == b"\x08\x00" and pkt[14 + 9] == 6:
            tcp = pkt[14 + (pkt[14] & 0x0F) * 4 :]
        elif len(pkt) >= 54 and pkt[12:14] == b"\x86\xdd" and pkt[14 + 6] == 6:
            tcp = pkt[14 + 40 :]  # no extension headers from the loopback stack
        else:
            continue
        sport, dport = struct.unpack("!HH", tcp[:4])
        flags = tcp[13]
        if dport == server_port and flags & 0x02 and not flags & 0x10 and sport not in ports:
            ports.append(sport)
    return ports


# --------------------------------------------------------------------------- test keys, payloads


def ensure_test_keys(out: Path) -> dict[str, Path]:
    """Throwaway self-signed RSA/ECDSA server and RSA client credentials (reused if present)."""
    paths = {
        n: out / f"test-{n}.pem"
        for n in ("rsa-key", "rsa-cert", "ecdsa-key", "ecdsa-cert", "client-key", "client-cert")
    }
    for kind, cn in (("rsa", "localhost"), ("ecdsa", "localhost"), ("client", "netsec client")):
        key, cert = paths[f"{kind}-key"], paths[f"{kind}-cert"]
        if key.exists() and cert.exists():
            continue
        algo = (
            ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
            if kind == "ecdsa"
            else ["-newkey", "rsa:2048"]
        )
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                *algo,
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-days",
                "36500",
                "-subj",
                f"/CN={cn}",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
    return paths


def make_payload(recipe: dict[str, object]) -> bytes:
    rnd = random.Random(int(recipe["seed"])).randbytes(int(recipe["random_length"]))  # type: ignore[call-overload]
    if recipe["encoding"] == "hexlines":
        h = rnd.hex()
        body = "".join(h[i : i + 64] + "\n" for i in range(0, len(h), 64)).encode()
    else:
        body = rnd
    return str(recipe["header"]).encode() + body


def redact(argv: list[str], tmp: Path, out: Path) -> str:
    """A command line for the sidecar, with run-specific directories replaced by placeholders."""
    text = shlex.join(argv)
    return (
        text.replace(str(tmp), "$TMP").replace(str(out), "$OUT").replace(sys.executable, "python3")
    )


# --------------------------------------------------------------------------- tshark checks


def tshark_fields(
    pcap: Path, port: int, fields: list[str], *, dfilter: str, keylog: Path | None = None
) -> list[list[str]]:
    argv = [
        "tshark",
        "-n",
        "-r",
        str(pcap),
        "-d",
        f"tcp.port=={port},tls",
        "-o",
        f"tls.keylog_file:{keylog or ''}",
        "-Y",
        dfilter,
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ]
    for f in fields:
        argv += ["-e", f]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise CaptureError(f"tshark failed on {pcap}: {proc.stderr}")
    return [line.split("|") for line in proc.stdout.splitlines() if line.strip()]


def field_ints(field_value: str) -> list[int]:
    return [int(v, 0) for v in field_value.split(",") if v]


_VERSIONS_CACHE: dict[str, str] = {}


def peer_versions() -> dict[str, str]:
    if not _VERSIONS_CACHE:

        def first_line(argv: list[str]) -> str:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (r.stdout or r.stderr).splitlines()[0].strip()

        import ssl

        _VERSIONS_CACHE.update(
            openssl=first_line(["openssl", "version"]),
            gnutls=first_line(["gnutls-cli", "--version"]),
            python=f"Python {sys.version.split()[0]} ssl {ssl.OPENSSL_VERSION}",
        )
    return dict(_VERSIONS_CACHE)


# --------------------------------------------------------------------------- python ssl peer


def _relay(sock: ssl.SSLSocket) -> None:
    """Copy stdin to the TLS socket and the TLS socket to stdout until stdin EOF, then close_notify."""
    sock.setblocking(False)
    sel = selectors.DefaultSelector()
    stdin = sys.stdin.buffer.raw  # type: ignore[attr-defined]
    sel.register(stdin, selectors.EVENT_READ, "stdin")
    sel.register(sock, selectors.EVENT_READ, "sock")
    out = sys.stdout.buffer
    pending = b""
    stdin_open = True
    peer_open = True
    # Stop when our side has nothing more to send, or as soon as the peer closed (close_notify).
    while (stdin_open or pending) and peer_open:
        if pending:
            try:
                n = sock.send(pending[:16384])
                pending = pending[n:]
                continue
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                pass
        for key, _ in sel.select(0.2 if pending else None):
            if key.data == "stdin":
                chunk = os.read(stdin.fileno(), 65536)
                if chunk:
                    pending += chunk
                else:
                    stdin_open = False
                    sel.unregister(stdin)
            elif peer_open:
                peer_open = _pump_in(sock, out)
                if not peer_open:
                    sel.unregister(sock)
    # Send our close_notify (RFC 8446 §6.1) without waiting for the peer's: in non-blocking mode
    # unwrap() raises SSLWantReadError once ours is out.
    with contextlib.suppress(OSError, ssl.SSLError):
        sock.unwrap()
    sock.close()


def _pump_in(sock: ssl.SSLSocket, out: object) -> bool:
    """Read every decrypted byte available; False once the peer closed."""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ssl.SSLWantReadError, BlockingIOError):
            return True
        except ssl.SSLZeroReturnError:
            return False
        if not chunk:
            return False
        out.write(chunk)  # type: ignore[attr-defined]
        out.flush()  # type: ignore[attr-defined]


_VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}


def python_peer(spec: dict[str, object]) -> None:
    """Entry point of ``capture_lib.py peer JSON``: one TLS connection with Python's ssl module."""
    server = spec["role"] == "server"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    if not server:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # throwaway self-signed test certificates
    if spec.get("version"):
        ctx.minimum_version = ctx.maximum_version = _VERSIONS[str(spec["version"])]
    if spec.get("ciphers"):
        ctx.set_ciphers(str(spec["ciphers"]))
    if spec.get("cert"):
        ctx.load_cert_chain(str(spec["cert"]), str(spec["key"]))
    if spec.get("keylog"):
        ctx.keylog_filename = str(spec["keylog"])
    mss = int(spec.get("mss", 0))  # type: ignore[call-overload]
    host = str(spec.get("host", "127.0.0.1"))
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    addr = (host, int(spec["port"]))  # type: ignore[call-overload]
    if server:
        ls = socket.socket(family)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if mss:
            ls.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
        ls.bind(addr)
        ls.listen(1)
        raw, _ = ls.accept()
        ls.close()
        sock = ctx.wrap_socket(raw, server_side=True)
    else:
        raw = socket.socket(family)
        if mss:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
        raw.settimeout(10)
        raw.connect(addr)
        sock = ctx.wrap_socket(raw, server_hostname="localhost")
    sys.stderr.write(f"{spec['role']}: {sock.version()} {sock.cipher()}\n")
    _relay(sock)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "peer":
        python_peer(json.loads(sys.argv[2]))
    else:
        sys.exit("usage: capture_lib.py peer JSON  (internal: the Python ssl peer)")
