"""NSS key log files (SSLKEYLOGFILE; RFC 9850) -- tolerant reader and writer.

Every line is parsed on its own: a bad line is recorded in :attr:`KeyLog.errors` with its
line number and skipped, so a damaged file still yields every good key.  CRLF, CR and LF line
ends, a UTF-8 BOM, hex in either case, blank and ``#`` lines are accepted.  Labels are an IANA
registry (RFC 9850 §5): a well-formed label not in it (``FOO_SECRET``) cannot be used here, so
its line is reported in ``errors`` by name (``unknown_label``) and not counted as usable; the
legacy forms Wireshark reads are accepted too.

Accepted forms::

    LABEL <64 hex client_random> <hex secret>          (RFC 9850 §2)
    RSA <16 hex: first 8 bytes of the encrypted pre-master> <96 hex pre-master>
    RSA Session-ID:<hex> Master-Key:<96 hex>
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from netsec_layers.errors import KeyFileError, UsageError

#: Labels and the secret lengths they may carry (None: any non-empty length).
KNOWN_LABELS: dict[str, tuple[int, ...] | None] = {
    "CLIENT_RANDOM": (48,),
    "PMS_CLIENT_RANDOM": None,
    "CLIENT_EARLY_TRAFFIC_SECRET": (32, 48, 64),
    "EARLY_EXPORTER_SECRET": (32, 48, 64),
    "EARLY_EXPORTER_MASTER_SECRET": (32, 48, 64),  # what OpenSSL/NSS historically wrote
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET": (32, 48, 64),
    "SERVER_HANDSHAKE_TRAFFIC_SECRET": (32, 48, 64),
    "CLIENT_TRAFFIC_SECRET_0": (32, 48, 64),
    "SERVER_TRAFFIC_SECRET_0": (32, 48, 64),
    "EXPORTER_SECRET": (32, 48, 64),
    "SERVER_EARLY_TRAFFIC_SECRET": (32, 48, 64),  # old NSS documentation
    # RFC 9850 §3.2, keyed by ClientHelloOuter.random: the HPKE KEM shared secret (Nsecret of
    # the ECHConfig's KEM, RFC 9180 §7.1) and the ECHConfig the client used (RFC 9849 §4).
    # When ECH was accepted the TLS 1.3 labels above are keyed by ClientHelloInner.random.
    # Used by session/tls_ech.py.
    "ECH_SECRET": (32, 48, 64),
    "ECH_CONFIG": None,
    # Not in the registry, but written by a real producer: `openssl s_client -keylogfile` logs
    # the secrets after a TLS 1.3 KeyUpdate (pcaps/tls/tls13-keyupdate.keys); the tracker
    # derives them itself (RFC 8446 §7.2), so they are accepted and not needed.
    "CLIENT_TRAFFIC_SECRET_N": (32, 48, 64),
    "SERVER_TRAFFIC_SECRET_N": (32, 48, 64),
}

_LINE_SPLIT = re.compile("\r\n|\r|\n")
_LABEL = re.compile(r"[A-Z][A-Z0-9_]*\Z")
_SESSION = re.compile(r"RSA Session-ID:([0-9A-Fa-f]*) Master-Key:([0-9A-Fa-f]*)\Z")


@dataclass
class KeyLogError:
    """One line that could not be used."""

    line: int  # 1-based line number
    reason: str
    unknown_label: str | None = None  # set when the only fault is a label not in the registry


@dataclass
class KeyLog:
    """Secrets from one or more key logs, indexed for lookup."""

    errors: list[KeyLogError] = field(default_factory=list)
    _by_random: dict[bytes, dict[str, bytes]] = field(default_factory=dict, repr=False)
    _rsa: dict[bytes, bytes] = field(default_factory=dict, repr=False)
    _sessions: dict[bytes, bytes] = field(default_factory=dict, repr=False)

    def secrets_for(self, client_random: bytes) -> dict[str, bytes]:
        """Every secret logged for ``client_random`` (label -> secret); {} if none."""
        found = self._by_random.get(bytes(client_random))
        return dict(found) if found else {}

    def rsa_pre_master(self, encrypted_prefix8: bytes) -> bytes | None:
        """Pre-master of an ``RSA`` line keyed by the first 8 bytes of the encrypted pre-master."""
        return self._rsa.get(bytes(encrypted_prefix8[:8]))

    def master_by_session_id(self, session_id: bytes) -> bytes | None:
        """Master secret of an ``RSA Session-ID:... Master-Key:...`` line."""
        return self._sessions.get(bytes(session_id))

    def label_counts(self) -> dict[str, int]:
        """Usable entries per label (``RSA`` and ``RSA Session-ID`` for the legacy forms)."""
        counts: dict[str, int] = {}
        for secrets in self._by_random.values():
            for label in secrets:
                counts[label] = counts.get(label, 0) + 1
        if self._rsa:
            counts["RSA"] = len(self._rsa)
        if self._sessions:
            counts["RSA Session-ID"] = len(self._sessions)
        return counts

    def client_randoms(self) -> list[bytes]:
        """Client randoms with at least one secret, in first-seen order."""
        return list(self._by_random)

    def add(self, label: str, client_random: bytes, secret: bytes) -> None:
        """Add one entry (a later entry for the same label and random replaces the earlier)."""
        self._by_random.setdefault(bytes(client_random), {})[label] = bytes(secret)

    def merge(self, other: KeyLog) -> None:
        """Add every entry (and error) of ``other``; ``other``'s entries win on conflicts."""
        for random, secrets in other._by_random.items():
            self._by_random.setdefault(random, {}).update(secrets)
        self._rsa.update(other._rsa)
        self._sessions.update(other._sessions)
        self.errors.extend(other.errors)

    def __len__(self) -> int:
        return sum(len(s) for s in self._by_random.values()) + len(self._rsa) + len(self._sessions)

    def __bool__(self) -> bool:
        # O(1) (``len`` walks every random): asked per packet by the plaintext rewriter
        return bool(self._by_random or self._rsa or self._sessions)

    def lines(self) -> list[str]:
        """Every entry as a key log line (no line ends), in a stable order."""
        out = [
            format_keylog_line(label, random, secret)
            for random, secrets in self._by_random.items()
            for label, secret in secrets.items()
        ]
        out += [f"RSA {p.hex()} {pms.hex()}" for p, pms in self._rsa.items()]
        out += [
            f"RSA Session-ID:{sid.hex()} Master-Key:{ms.hex()}"
            for sid, ms in self._sessions.items()
        ]
        return out

    # -- parsing -------------------------------------------------------------------------------
    def _parse_line(self, number: int, line: str) -> None:
        if line.startswith("RSA Session-ID:"):
            m = _SESSION.match(line)
            if not m or not m.group(1) or len(m.group(1)) % 2 or len(m.group(2)) != 96:
                self.errors.append(
                    KeyLogError(number, "bad 'RSA Session-ID:<hex> Master-Key:<96 hex>' line")
                )
                return
            self._sessions[bytes.fromhex(m.group(1))] = bytes.fromhex(m.group(2))
            return
        parts = line.split(" ")
        if len(parts) != 3:
            self.errors.append(
                KeyLogError(number, f"expected 'LABEL <random> <secret>', got {len(parts)} fields")
            )
            return
        label, first, second = parts
        if label not in KNOWN_LABELS and label != "RSA" and not _LABEL.match(label):
            self.errors.append(KeyLogError(number, f"bad label {label[:40]!r}"))
            return
        if label not in KNOWN_LABELS and label != "RSA":
            self.errors.append(
                KeyLogError(
                    number,
                    f"unknown label {label[:40]!r} (not in the RFC 9850 registry)",
                    unknown_label=label[:40],
                )
            )
            return
        try:
            random, secret = bytes.fromhex(first), bytes.fromhex(second)
        except ValueError:
            random = secret = b""
        # fromhex skips whitespace; insist on exactly two hex digits per byte.
        if not secret or len(first) != 2 * len(random) or len(second) != 2 * len(secret):
            self.errors.append(KeyLogError(number, f"{label}: fields are not hex"))
            return
        if label == "RSA":
            if len(random) != 8 or len(secret) != 48:
                self.errors.append(
                    KeyLogError(number, "RSA: need 16 hex digits and a 96-hex-digit pre-master")
                )
                return
            self._rsa[random] = secret
            return
        if len(random) != 32:
            self.errors.append(
                KeyLogError(
                    number, f"{label}: client random must be 64 hex digits, got {len(first)}"
                )
            )
            return
        sizes = KNOWN_LABELS.get(label)
        if sizes is not None and len(secret) not in sizes:
            self.errors.append(
                KeyLogError(number, f"{label}: secret of {len(secret)} bytes (expected {sizes})")
            )
            return
        entry = self._by_random.get(random)
        if entry is None:
            self._by_random[random] = {label: secret}
        else:
            entry[label] = secret


def parse_keylog(text: str | bytes) -> KeyLog:
    """Parse a whole key log; never raises on bad content (see :attr:`KeyLog.errors`)."""
    kl = KeyLog()
    if isinstance(text, str):
        data = text.encode("utf-8", "surrogatepass")
    elif isinstance(text, (bytes, bytearray, memoryview)):
        data = bytes(text)
    else:
        raise UsageError("parse_keylog takes str or bytes")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    # Decode once; bytes that are not ASCII become lone surrogates and fail isascii() per line.
    text_ = data.decode("ascii", "surrogateescape")
    for number, line in enumerate(_LINE_SPLIT.split(text_), start=1):
        if not line or line[0] == "#":
            continue
        if not line.isascii():
            kl.errors.append(KeyLogError(number, "line is not ASCII text"))
            continue
        line = line.rstrip(" \t")
        if line:
            kl._parse_line(number, line)
    return kl


def load_keylog(path: str | os.PathLike[str]) -> KeyLog:
    """Read and parse a key log file; KeyFileError if the file cannot be read."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise KeyFileError(f"cannot read key log {os.fspath(path)!r}: {exc.strerror}") from None
    return parse_keylog(data)


def format_keylog_line(label: str, client_random: bytes, secret: bytes) -> str:
    """One key log line (lowercase hex, no line end): ``LABEL <random hex> <secret hex>``."""
    if not _LABEL.match(label):
        raise UsageError(f"bad key log label {label!r}")
    if len(client_random) != 32:
        raise UsageError("client_random must be 32 bytes")
    if not secret:
        raise UsageError("empty secret")
    return f"{label} {bytes(client_random).hex()} {bytes(secret).hex()}"


def write_keylog(
    path: str | os.PathLike[str],
    entries: KeyLog | Iterable[tuple[str, bytes, bytes]],
    *,
    append: bool = False,
) -> int:
    """Write a key log file with mode 0600 (created so; an existing file is chmod'ed too).

    ``entries`` is a KeyLog or (label, client_random, secret) triples.  Returns lines written.
    """
    if isinstance(entries, KeyLog):
        lines = entries.lines()
    else:
        lines = [format_keylog_line(label, cr, secret) for label, cr, secret in entries]
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    try:
        fd = os.open(path, flags, 0o600)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="ascii", newline="\n") as fh:
                fd = -1
                for line in lines:
                    fh.write(line + "\n")
        finally:
            if fd != -1:
                os.close(fd)
    except OSError as exc:
        raise KeyFileError(f"cannot write key log {os.fspath(path)!r}: {exc.strerror}") from None
    return len(lines)
