"""Per-connection SSH summary for ``netsec stats`` (fed by :class:`~.ssh.SSHTracker`).

Versions, negotiated algorithms, the host key type and its SHA256 fingerprint as OpenSSH prints
it (``SHA256:`` + unpadded base64 of SHA-256 over the key blob, ssh-keygen -l), the user and
the authentication method that succeeded, and per channel its type and CHANNEL_DATA bytes each
way.  Summaries outlive the tracker's connection state (bounded by ``max_rows``)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any


def _u32(b: bytes, pos: int) -> int:
    return int.from_bytes(b[pos : pos + 4], "big") if len(b) >= pos + 4 else 0


def _string(b: bytes, pos: int) -> tuple[bytes, int]:
    n = _u32(b, pos)
    return b[pos + 4 : pos + 4 + n], pos + 4 + n


def host_key_fingerprint(blob: bytes) -> str:
    """OpenSSH's ``SHA256:…`` fingerprint of a public key blob."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


@dataclass
class ChannelStats:
    channel_type: str
    client_id: int
    server_id: int | None = None
    bytes_c2s: int = 0
    bytes_s2c: int = 0
    extended_s2c: int = 0
    command: str | None = None  # exec command or subsystem name

    def row(self) -> dict[str, Any]:
        return {
            "type": self.channel_type,
            "command": self.command,
            "bytes_c2s": self.bytes_c2s,
            "bytes_s2c": self.bytes_s2c,
            "extended_s2c": self.extended_s2c,
        }


@dataclass
class SSHConnStats:
    stream: int
    client: str
    server: str
    client_version: str | None = None
    server_version: str | None = None
    kex: str | None = None
    host_key_type: str | None = None
    host_key_fingerprint: str | None = None
    ciphers: tuple[str, str] | None = None
    macs: tuple[str | None, str | None] | None = None
    compression: tuple[str, str] | None = None
    strict_kex: bool = False
    key_exchanges: int = 0
    user: str | None = None
    auth_method: str | None = None  # the method of the request that succeeded
    packets: int = 0
    decrypted: int = 0
    failed: int = 0
    channels: list[ChannelStats] = field(default_factory=list)
    _last_method: str | None = None
    _open: dict[int, ChannelStats] = field(default_factory=dict)  # client channel id
    _by_server: dict[int, ChannelStats] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return {
            "proto": "ssh",
            "stream": self.stream,
            "client": self.client,
            "server": self.server,
            "client_version": self.client_version,
            "server_version": self.server_version,
            "kex": self.kex,
            "host_key_type": self.host_key_type,
            "host_key_fingerprint": self.host_key_fingerprint,
            "cipher_c2s": self.ciphers[0] if self.ciphers else None,
            "cipher_s2c": self.ciphers[1] if self.ciphers else None,
            "mac_c2s": self.macs[0] if self.macs else None,
            "mac_s2c": self.macs[1] if self.macs else None,
            "compression_c2s": self.compression[0] if self.compression else None,
            "compression_s2c": self.compression[1] if self.compression else None,
            "strict_kex": self.strict_kex,
            "key_exchanges": self.key_exchanges,
            "user": self.user,
            "auth_method": self.auth_method,
            "packets": self.packets,
            "decrypted": self.decrypted,
            "failed": self.failed,
            "channels": [c.row() for c in self.channels],
        }

    def message(self, from_client: bool, msg_type: int, payload: bytes) -> None:
        """Account one clear or decrypted message."""
        if msg_type == 50 and from_client:
            user, pos = _string(payload, 1)
            _service, pos = _string(payload, pos)
            method, _ = _string(payload, pos)
            self.user = user.decode("utf-8", "replace")
            self._last_method = method.decode("latin-1")
        elif msg_type == 52 and not from_client:
            self.auth_method = self._last_method
        elif msg_type == 90 and from_client and len(self.channels) < 10000:
            ctype, pos = _string(payload, 1)
            ch = ChannelStats(ctype.decode("latin-1"), _u32(payload, pos))
            self.channels.append(ch)
            self._open[ch.client_id] = ch
        elif msg_type == 91 and not from_client:
            ch_or_none = self._open.get(_u32(payload, 1))
            if ch_or_none is not None:
                ch_or_none.server_id = _u32(payload, 5)
                self._by_server[ch_or_none.server_id] = ch_or_none
        elif msg_type in (94, 95):
            rcpt = _u32(payload, 1)
            ch_or_none = self._by_server.get(rcpt) if from_client else self._open.get(rcpt)
            if ch_or_none is None:
                return
            n = _u32(payload, 5 if msg_type == 94 else 9)
            if msg_type == 95:
                ch_or_none.extended_s2c += 0 if from_client else n
            elif from_client:
                ch_or_none.bytes_c2s += n
            else:
                ch_or_none.bytes_s2c += n
        elif msg_type == 98 and from_client:
            rcpt = _u32(payload, 1)
            req, pos = _string(payload, 5)
            ch_or_none = self._by_server.get(rcpt)
            if ch_or_none is not None and req in (b"exec", b"subsystem"):
                arg, _ = _string(payload, pos + 1)
                ch_or_none.command = arg.decode("utf-8", "replace")

    def host_key(self, blob: bytes) -> None:
        key_type, _ = _string(blob, 0)
        self.host_key_type = key_type.decode("latin-1")
        self.host_key_fingerprint = host_key_fingerprint(blob)


class SSHStats:
    """Summaries of every SSH connection seen, by TCP stream index."""

    def __init__(self, max_rows: int = 100_000) -> None:
        self.max_rows = max_rows
        self.conns: dict[int, SSHConnStats] = {}

    def conn(self, stream: int, client: str, server: str) -> SSHConnStats | None:
        st = self.conns.get(stream)
        if st is None and len(self.conns) < self.max_rows:
            st = self.conns[stream] = SSHConnStats(stream, client, server)
        return st

    def rows(self) -> list[dict[str, Any]]:
        return [self.conns[k].row() for k in sorted(self.conns)]
