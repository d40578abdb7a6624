#!/usr/bin/env python3
"""Real SSH peers on 127.0.0.1 whose secrets are logged, for tests and sample captures.

* :class:`Sshd` -- Debian's OpenSSH ``sshd`` with its own host keys, user key and config in a
  temporary directory, on a free port, run in the foreground (``-D -e``) and stopped by PID.
* :func:`paramiko_session` / :func:`asyncssh_session` -- clients whose key exchange is hooked
  to write the SSH key log (``<cookie> SHARED_SECRET <K>`` and ``<cookie> PRIVATE_KEY <x>``,
  FORMATS.md): paramiko through ``Transport._set_K_H``, asyncssh through
  ``SSHConnection.send_newkeys``.  Each session runs ``cat`` on one or more exec channels with
  known bytes and records what went each way per channel, so a test can compare decrypted
  CHANNEL_DATA with what the peers really sent.

Run as a script it writes the shipped sample ``pcaps/ssh/`` (see ``main``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SSHD = "/usr/sbin/sshd"


def pattern(seed: str, n: int) -> bytes:
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{i}".encode()).digest()
        i += 1
    return bytes(out[:n])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Session:
    """What one client connection did: its key log entries and per-channel bytes."""

    label: str
    client_port: int = 0
    keylog: list[tuple[bytes, str, bytes]] = field(default_factory=list)
    # per channel, in opening order: (bytes the client sent, bytes the server sent back)
    channels: list[tuple[bytes, bytes]] = field(default_factory=list)
    rekeyed: bool = False


# ----------------------------------------------------------------------------------- sshd


class Sshd:
    """``sshd -D -e`` on 127.0.0.1:port with everything it needs under ``workdir``."""

    def __init__(self, workdir: Path, port: int | None = None, extra: str = "") -> None:
        self.dir = workdir
        self.port = port or free_port()
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        self.user_key = workdir / "id_ed25519"

    def _keygen(self, path: Path, kind: str, bits: str | None = None) -> None:
        if path.exists():
            return
        argv = ["ssh-keygen", "-q", "-N", "", "-t", kind, "-f", str(path)]
        if bits:
            argv += ["-b", bits]
        subprocess.run(argv, check=True, timeout=60)

    def start(self) -> Sshd:
        if not os.path.exists(SSHD):
            raise FileNotFoundError("sshd missing: apt-get install openssh-server")
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege-separation directory
        for kind in ("ed25519", "ecdsa"):
            self._keygen(self.dir / f"host_{kind}", kind)
        self._keygen(self.dir / "host_rsa", "rsa", "2048")
        self._keygen(self.user_key, "ed25519")
        (self.dir / "authorized_keys").write_text(
            (self.dir / "id_ed25519.pub").read_text(), encoding="ascii"
        )
        config = self.dir / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"ListenAddress 127.0.0.1:{self.port}",
                    *(f"HostKey {self.dir / f'host_{k}'}" for k in ("ed25519", "ecdsa", "rsa")),
                    f"PidFile {self.dir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
                    "PermitRootLogin prohibit-password",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "Compression yes",
                    "LogLevel ERROR",
                    "MaxSessions 20",
                    "Subsystem sftp internal-sftp",
                    # everything this sshd can do, so each client picks what a test wants
                    "KexAlgorithms " + _query("kex"),
                    "Ciphers " + _query("cipher"),
                    "MACs " + _query("mac"),
                    "HostKeyAlgorithms " + _query("key-sig"),
                    self.extra,
                ]
            )
            + "\n",
            encoding="ascii",
        )
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "sshd.log", "ab"),  # noqa: SIM115 - kept for the process
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = (self.dir / "sshd.log").read_text(errors="replace")
                raise RuntimeError(f"sshd exited: {log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(4).startswith(b"SSH-"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not start listening")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # by our own PID only
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _query(what: str) -> str:
    out = subprocess.run(["ssh", "-Q", what], capture_output=True, text=True, check=True)
    names = [n for n in out.stdout.split() if n]
    return ",".join(names)


@contextmanager
def running_sshd(extra: str = "") -> Iterator[Sshd]:
    with tempfile.TemporaryDirectory(prefix="netsec-sshd-") as tmp:
        d = Sshd(Path(tmp), extra=extra).start()
        try:
            yield d
        finally:
            d.stop()


# ------------------------------------------------------------------------------- paramiko


def _paramiko_private(engine: Any) -> bytes | None:
    """The ephemeral private key of a paramiko KEX engine, as the key log writes it."""
    key = getattr(engine, "key", None)
    if key is not None and hasattr(key, "private_bytes_raw"):
        return bytes(key.private_bytes_raw())  # X25519
    p = getattr(engine, "P", None)
    if p is not None and hasattr(p, "private_numbers"):
        size = (p.curve.key_size + 7) // 8
        return int(p.private_numbers().private_value).to_bytes(size, "big")
    x = getattr(engine, "x", None)
    if isinstance(x, int) and x > 0:
        return x.to_bytes((x.bit_length() + 7) // 8, "big")
    return None


def paramiko_session(
    port: int,
    key_path: Path,
    *,
    label: str,
    kex: str | None = None,
    cipher: str | None = None,
    mac: str | None = None,
    compress: bool = False,
    channels: int = 1,
    size: int = 3000,
    rekey: bool = False,
    strict_kex: bool = True,
) -> Session:
    """One paramiko connection: publickey auth, ``channels`` exec ``cat`` channels each sent
    ``size`` bytes (in two halves, with a rekey between them if asked), all echoed back."""
    import paramiko  # type: ignore[import-untyped]

    sess = Session(label)

    class LoggingTransport(paramiko.Transport):  # type: ignore[misc]
        def _set_K_H(self, k: int | bytes, h: bytes) -> None:
            super()._set_K_H(k, h)
            cookie = bytes(self.local_kex_init[1:17])
            if isinstance(k, bytes):  # the hybrids' K is a string (mlkem768x25519-sha256)
                sess.keylog.append((cookie, "SHARED_SECRET", k))
                return
            sess.keylog.append(
                (cookie, "SHARED_SECRET", k.to_bytes((k.bit_length() + 7) // 8, "big"))
            )
            priv = _paramiko_private(self.kex_engine)
            if priv is not None:
                sess.keylog.append((cookie, "PRIVATE_KEY", priv))

    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sess.client_port = sock.getsockname()[1]
    t = LoggingTransport(sock, strict_kex=strict_kex)
    opts = t.get_security_options()
    if kex:
        opts.kex = (kex,)
    if cipher:
        opts.ciphers = (cipher,)
    if mac:
        opts.digests = (mac,)
    t.use_compression(compress)
    try:
        t.start_client(timeout=20)
        t.auth_publickey("root", paramiko.Ed25519Key.from_private_key_file(str(key_path)))
        chans = []
        for i in range(channels):
            ch = t.open_session(timeout=20)
            ch.exec_command("cat")
            chans.append((ch, pattern(f"{label}:{i}", size)))
        for ch, data in chans:
            ch.sendall(data[: size // 2])
        if rekey:
            t.renegotiate_keys()
            sess.rekeyed = True
        for ch, data in chans:
            ch.sendall(data[size // 2 :])
            ch.shutdown_write()
        for ch, data in chans:
            got = bytearray()
            while True:
                x = ch.recv(65536)
                if not x:
                    break
                got += x
            ch.recv_exit_status()
            sess.channels.append((data, bytes(got)))
            ch.close()
    finally:
        t.close()
    return sess


# -------------------------------------------------------------------------------- asyncssh


def asyncssh_session(
    port: int,
    key_path: Path,
    *,
    label: str,
    kex: str | None = None,
    cipher: str | None = None,
    mac: str | None = None,
    compression: str | None = None,
    channels: int = 1,
    size: int = 3000,
) -> Session:
    """One asyncssh connection, the same workload as :func:`paramiko_session`."""
    return asyncio.run(
        _asyncssh(port, key_path, label, kex, cipher, mac, compression, channels, size)
    )


def _hook_asyncssh(sess: Session, *, server_only: bool = False) -> Any:
    import asyncssh.connection as conn_mod

    original = conn_mod.SSHConnection.send_newkeys

    def send_newkeys(self: Any, k: bytes, h: bytes) -> None:
        if server_only and self.is_client():
            original(self, k, h)
            return
        kexinit = self._client_kexinit if self.is_client() else self._server_kexinit
        cookie = bytes(kexinit[1:17])
        body = bytes(k[4:])  # k is the encoded mpint (or string for the hybrids)
        kex_name = self._kex.algorithm if self._kex else b""
        if b"mlkem" not in kex_name and b"sntrup" not in kex_name:
            body = body.lstrip(b"\x00") or b"\x00"
        sess.keylog.append((cookie, "SHARED_SECRET", body))
        original(self, k, h)

    conn_mod.SSHConnection.send_newkeys = send_newkeys  # type: ignore[method-assign]
    return original


async def _asyncssh(
    port: int,
    key_path: Path,
    label: str,
    kex: str | None,
    cipher: str | None,
    mac: str | None,
    compression: str | None,
    channels: int,
    size: int,
) -> Session:
    import asyncssh
    import asyncssh.connection as conn_mod

    sess = Session(label)
    original = _hook_asyncssh(sess)
    kw: dict[str, Any] = {}
    if kex:
        kw["kex_algs"] = [kex]
    if cipher:
        kw["encryption_algs"] = [cipher]
    if mac:
        kw["mac_algs"] = [mac]
    if compression:
        kw["compression_algs"] = [compression]
    try:
        async with asyncssh.connect(
            "127.0.0.1",
            port,
            username="root",
            client_keys=[str(key_path)],
            known_hosts=None,
            **kw,
        ) as conn:
            sockname: Any = conn.get_extra_info("sockname")
            sess.client_port = int(sockname[1])
            for i in range(channels):
                data = pattern(f"{label}:{i}", size)
                result = await conn.run("cat", input=data, encoding=None, check=True)
                out: Any = result.stdout
                sess.channels.append((data, bytes(out or b"")))
    finally:
        conn_mod.SSHConnection.send_newkeys = original  # type: ignore[method-assign]
    return sess


class AsyncsshServer:
    """An asyncssh server on 127.0.0.1 (its own event loop in a thread) whose key exchanges
    are logged with the *server's* KEXINIT cookie; exec ``cat`` echoes its input.  It offers
    what asyncssh can do, so OpenSSH's ``ssh`` and paramiko can pick hybrid KEX and plain zlib."""

    def __init__(self, host_key: Path, authorized_keys: Path) -> None:
        import threading

        self.port = free_port()
        self.keylog: list[tuple[bytes, str, bytes]] = []
        self._host_key = host_key
        self._auth = authorized_keys
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: Any = None
        self._original: Any = None

    async def _start(self) -> None:
        import asyncssh
        from asyncssh.compression import get_compression_algs
        from asyncssh.encryption import get_encryption_algs
        from asyncssh.kex import get_kex_algs
        from asyncssh.mac import get_mac_algs

        async def cat(process: Any) -> None:
            data = await process.stdin.read()
            process.stdout.write(data)
            process.exit(0)

        self._server = await asyncssh.create_server(
            asyncssh.SSHServer,
            "127.0.0.1",
            self.port,
            server_host_keys=[str(self._host_key)],
            authorized_client_keys=str(self._auth),
            process_factory=cat,
            encoding=None,
            kex_algs=[a.decode() for a in get_kex_algs() if not a.startswith(b"gss-")],
            encryption_algs=[a.decode() for a in get_encryption_algs()],
            mac_algs=[a.decode() for a in get_mac_algs()],
            compression_algs=[a.decode() for a in get_compression_algs()],
        )

    def __enter__(self) -> AsyncsshServer:
        holder = Session("asyncssh-server")
        holder.keylog = self.keylog
        self._original = _hook_asyncssh(holder, server_only=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    def __exit__(self, *exc: object) -> None:
        import asyncssh.connection as conn_mod

        async def stop() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        conn_mod.SSHConnection.send_newkeys = self._original  # type: ignore[method-assign]


def openssh_session(
    port: int, key_path: Path, *, label: str, options: list[str], size: int = 3000
) -> Session:
    """OpenSSH's ``ssh`` client running ``cat`` (its secrets are logged by the server side)."""
    data = pattern(f"{label}:0", size)
    argv = ["ssh", "-p", str(port), "-i", str(key_path), "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
            *(x for o in options for x in ("-o", o)), "root@127.0.0.1", "cat"]  # fmt: skip
    out = subprocess.run(argv, input=data, capture_output=True, timeout=60, check=True)
    sess = Session(label)
    sess.channels.append((data, out.stdout))
    return sess


def paramiko_sftp_session(
    port: int, key_path: Path, workdir: Path, *, label: str, sizes: tuple[int, ...]
) -> tuple[Session, dict[str, bytes], dict[str, bytes]]:
    """paramiko SFTP: put one file per size (``pattern`` bytes) under ``workdir`` and get each
    back; returns the session (key log), {remote path: bytes put}, {remote path: bytes got}."""
    import paramiko

    sess = Session(label)

    class LoggingTransport(paramiko.Transport):  # type: ignore[misc]
        def _set_K_H(self, k: int, h: bytes) -> None:
            super()._set_K_H(k, h)
            cookie = bytes(self.local_kex_init[1:17])
            sess.keylog.append(
                (cookie, "SHARED_SECRET", k.to_bytes((k.bit_length() + 7) // 8, "big"))
            )

    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    t = LoggingTransport(sock)
    put: dict[str, bytes] = {}
    got: dict[str, bytes] = {}
    try:
        t.start_client(timeout=20)
        t.auth_publickey("root", paramiko.Ed25519Key.from_private_key_file(str(key_path)))
        sftp = paramiko.SFTPClient.from_transport(t)
        for i, size in enumerate(sizes):
            path = str(workdir / f"{label}-{i}.bin")
            data = pattern(f"{label}:file{i}", size)
            with sftp.open(path, "wb") as fh:
                fh.write(data)
            put[path] = data
            with sftp.open(path, "rb") as fh:
                got[path] = fh.read()
        sftp.close()
    finally:
        t.close()
    return sess, put, got


def keylog_text(sessions: list[Session], *, two_field: bool = False) -> str:
    """The key log of ``sessions``; ``two_field``: only private keys, in the old form that
    Wireshark 4.0 reads."""
    lines = []
    for s in sessions:
        for cookie, kind, secret in s.keylog:
            if two_field:
                if kind == "PRIVATE_KEY":
                    lines.append(f"{cookie.hex()} {secret.hex()}")
            else:
                lines.append(f"{cookie.hex()} {kind} {secret.hex()}")
    return "".join(line + "\n" for line in lines)


def main() -> None:
    """Write pcaps/ssh/ssh-sample.pcap with its key logs (a small shipped sample)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tools.loopback_capture import tcpdump_capture

    out = Path(__file__).resolve().parent.parent / "pcaps" / "ssh"
    out.mkdir(parents=True, exist_ok=True)
    with running_sshd() as sshd:

        def traffic() -> list[Session]:
            return [
                paramiko_session(
                    sshd.port,
                    sshd.user_key,
                    label="sample-ctr",
                    kex="curve25519-sha256@libssh.org",
                    cipher="aes128-ctr",
                    mac="hmac-sha2-256",
                    channels=2,
                    size=2000,
                    rekey=True,
                ),
                asyncssh_session(
                    sshd.port,
                    sshd.user_key,
                    label="sample-chacha",
                    kex="curve25519-sha256",
                    cipher="chacha20-poly1305@openssh.com",
                    size=2000,
                ),
            ]

        sessions = tcpdump_capture(out / "ssh-sample.pcap", traffic, bpf=f"tcp port {sshd.port}")
    (out / "ssh-sample.keys").write_text(keylog_text(sessions))
    (out / "ssh-sample.wireshark.keys").write_text(keylog_text(sessions, two_field=True))
    print(f"wrote {out}/ssh-sample.pcap and its key logs")


if __name__ == "__main__":
    main()
