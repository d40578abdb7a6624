"""One exception hierarchy for the whole project.

Layers never raise on bad bytes (they fall back to an undecoded layer carrying a reason);
crypto never returns unauthenticated plaintext (it raises :class:`IntegrityError`); the CLI
decides how to report.  Every exception a caller can see from a public entry point is a
subclass of :class:`NetsecError`.
"""

from __future__ import annotations

from enum import Enum


class NetsecError(Exception):
    """Base class of every error raised by netsec_layers."""


class ParseError(NetsecError):
    """Bytes that cannot be parsed as what they claim to be."""


class TruncatedError(ParseError):
    """Input ended before a length field said it would."""


class ImplausiblePlaintextError(ParseError):
    """Authenticated, but the plaintext cannot be what the sender encrypted.

    ESP with a separate integrity algorithm (RFC 4303 §3.3.2) authenticates the *ciphertext*:
    with the right integrity key and a wrong encryption key the ICV verifies and decryption gives
    noise.  The trailer (pad length, padding, next header) and the inner header tell."""


class UsageError(NetsecError):
    """Bad arguments from the caller: wrong key size, unknown algorithm name, bad file format."""


class UnsupportedAlgorithmError(UsageError):
    """An algorithm name or number we do not implement (the message lists the known ones)."""


class KeyFileError(UsageError):
    """A key file (key log, esp_sa, xfrm, RSA key) that cannot be used at all."""


class IntegrityError(NetsecError):
    """Authentication failed: ICV/MAC/AEAD tag mismatch or bad padding.  No plaintext is shown."""


class DecompressionError(NetsecError):
    """A TLS record authenticated but its TLSCompressed fragment cannot be decompressed.

    ``oversized``: it would decompress past 2^14 bytes, or the compressed fragment is longer
    than 2^14+1024 (RFC 5246 §6.2.2; a compression bomb); otherwise the DEFLATE stream is bad,
    the method unsupported, or the stream state was lost at an earlier record.  The record's
    sequence number was used (it did authenticate).
    """

    def __init__(self, message: str, *, oversized: bool = False) -> None:
        super().__init__(message)
        self.oversized = oversized


class ReplayVerdict(str, Enum):
    """The anti-replay window's verdict on an authenticated ESP/AH sequence number (RFC 4303
    §3.4.3).  A ``str`` enum: it compares equal to its value (``"replayed"``); the text users read
    is made from ``.value`` at the edge."""

    NEW = "new"
    REPLAYED = "replayed"
    OUTSIDE_WINDOW = "outside-window"
    UNCHECKED = "unchecked"  # no window: no integrity (nothing authenticates the number) or size 0


class ReplayError(NetsecError):
    """An ESP/AH sequence number already seen, or left of the anti-replay window."""

    def __init__(self, message: str, *, seq: int, verdict: ReplayVerdict) -> None:
        super().__init__(message)
        self.seq = seq
        self.verdict = verdict  # REPLAYED or OUTSIDE_WINDOW


class KeyUnavailableError(NetsecError):
    """No key material for this unit (no SA for the SPI, no key-log entry for the random)."""


class UnknownSPIError(KeyUnavailableError):
    """No security association matches this SPI (and destination)."""

    def __init__(self, spi: int, dst: str | None = None) -> None:
        where = f" to {dst}" if dst else ""
        super().__init__(f"no SA for SPI 0x{spi:08x}{where}")
        self.spi = spi
        self.dst = dst
