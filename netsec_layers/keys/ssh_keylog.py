"""Wireshark's SSH key log (preference ``ssh.keylog_file``) -- tolerant reader and writer.

One entry a line, indexed by the 16-byte SSH_MSG_KEXINIT cookie of *either* side::

    <32 hex cookie> SHARED_SECRET <hex K>     K as an unsigned big-endian number (no mpint
                                               length or sign byte); the raw K string for the
                                               post-quantum hybrids
    <32 hex cookie> PRIVATE_KEY <hex>          an ephemeral private key of either side
                                               (X25519: 32 raw bytes; DH/ECDH: big-endian)
    <32 hex cookie> <hex>                      the older two-field form (= PRIVATE_KEY; the
                                               only form Wireshark 4.0 reads)

Every line is parsed on its own: a bad line is recorded in :attr:`SSHKeyLog.errors` with its
number and skipped.  Blank and ``#`` lines, CRLF/CR/LF and hex in either case are accepted.
One cookie may carry several entries (a rekey has new cookies, but a file may repeat lines).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from netsec_layers.errors import KeyFileError

SHARED_SECRET = "SHARED_SECRET"
PRIVATE_KEY = "PRIVATE_KEY"

_LINE_SPLIT = re.compile("\r\n|\r|\n")
_HEX = re.compile(r"[0-9A-Fa-f]+\Z")


@dataclass
class SSHKeyLogError:
    line: int  # 1-based
    reason: str


@dataclass
class SSHKeyLog:
    """SSH secrets by KEXINIT cookie."""

    errors: list[SSHKeyLogError] = field(default_factory=list)
    _entries: dict[bytes, list[tuple[str, bytes]]] = field(default_factory=dict, repr=False)

    def add(self, cookie: bytes, kind: str, secret: bytes) -> None:
        if len(cookie) != 16:
            raise KeyFileError(f"an SSH KEXINIT cookie is 16 bytes, not {len(cookie)}")
        if kind not in (SHARED_SECRET, PRIVATE_KEY):
            raise KeyFileError(f"unknown SSH key log entry type {kind!r}")
        entries = self._entries.setdefault(cookie, [])
        if (kind, secret) not in entries:
            entries.append((kind, secret))

    def lookup(self, *cookies: bytes) -> list[tuple[str, bytes]]:
        """Entries for any of ``cookies`` (shared secrets first, then private keys)."""
        found: list[tuple[str, bytes]] = []
        for c in cookies:
            found.extend(e for e in self._entries.get(c, []) if e not in found)
        return sorted(found, key=lambda e: e[0] != SHARED_SECRET)

    def merge(self, other: SSHKeyLog) -> None:
        for cookie, entries in other._entries.items():
            for kind, secret in entries:
                self.add(cookie, kind, secret)
        self.errors.extend(other.errors)

    def __len__(self) -> int:
        return sum(len(v) for v in self._entries.values())

    def lines(self) -> list[str]:
        return [format_ssh_keylog_line(c, k, s) for c, es in self._entries.items() for k, s in es]


def _parse_line(text: str) -> tuple[bytes, str, bytes]:
    fields = text.split()
    if len(fields) == 2:
        cookie_hex, kind, secret_hex = fields[0], PRIVATE_KEY, fields[1]
    elif len(fields) == 3:
        cookie_hex, kind, secret_hex = fields
        if kind not in (SHARED_SECRET, PRIVATE_KEY):
            raise ValueError(f"unknown entry type {kind!r} (SHARED_SECRET or PRIVATE_KEY)")
    else:
        raise ValueError(f"expected 2 or 3 fields, got {len(fields)}")
    if len(cookie_hex) != 32 or not _HEX.match(cookie_hex):
        raise ValueError("the cookie must be 32 hex digits")
    if not _HEX.match(secret_hex):
        raise ValueError("the secret is not hex")
    if len(secret_hex) % 2:
        secret_hex = "0" + secret_hex  # a number written without its leading zero
    return bytes.fromhex(cookie_hex), kind, bytes.fromhex(secret_hex)


def parse_ssh_keylog(text: str | bytes) -> SSHKeyLog:
    """Parse a key log's text; never raises on content (bad lines go to ``errors``)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    log = SSHKeyLog()
    for number, raw in enumerate(_LINE_SPLIT.split(text.lstrip("\ufeff")), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            cookie, kind, secret = _parse_line(line)
        except ValueError as exc:
            log.errors.append(SSHKeyLogError(number, str(exc)))
            continue
        log.add(cookie, kind, secret)
    return log


def load_ssh_keylog(path: str | os.PathLike[str]) -> SSHKeyLog:
    """Read and parse a key log file (:class:`KeyFileError` if it cannot be read)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise KeyFileError(f"cannot read SSH key log {os.fspath(path)!r}: {exc.strerror}") from None
    return parse_ssh_keylog(data)


def format_ssh_keylog_line(
    cookie: bytes, kind: str, secret: bytes, *, two_field: bool = False
) -> str:
    """One line; ``two_field`` writes the old ``<cookie> <private key>`` form (PRIVATE_KEY
    only), which is what Wireshark 4.0 reads."""
    if two_field:
        if kind != PRIVATE_KEY:
            raise KeyFileError("the two-field form carries private keys only")
        return f"{cookie.hex()} {secret.hex()}"
    return f"{cookie.hex()} {kind} {secret.hex()}"


def format_ssh_keylog(entries: Iterable[tuple[bytes, str, bytes]]) -> str:
    return "".join(format_ssh_keylog_line(c, k, s) + "\n" for c, k, s in entries)
