"""Client and server TLS fingerprints: JA3, JA3S and JA4 (client only).

- JA3 (Salesforce, BSD-3): ``SSLVersion,Ciphers,Extensions,EllipticCurves,EcPointFormats`` of a
  ClientHello, decimal values joined by ``-``, GREASE values (RFC 8701) left out; the
  fingerprint is the MD5 of that string. JA3S: ``SSLVersion,Cipher,Extensions`` of a ServerHello.
  Both equal Wireshark's ``tls.handshake.ja3_full``/``ja3`` and ``ja3s_full``/``ja3s``.
- JA4 (FoxIO, BSD-3; ``technical_details/JA4.md`` at commit 820ec301): ``t13d1516h2_<12 hex of
  sha256 of the sorted ciphers>_<12 hex of sha256 of the sorted extensions without SNI/ALPN, then
  ``_`` and the signature algorithms in wire order>``. Where the text and FoxIO's tools differ
  (a first ALPN value whose first or last byte is not alphanumeric) the text is followed.

Computed once per hello from the :class:`~netsec_layers.session.tls_hello.Hello` the tracker
already parsed (never per application-data record).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from netsec_layers.crypto.tls_vectors import VectorReader
from netsec_layers.errors import ParseError
from netsec_layers.session.tls_hello import (
    EXT_ALPN,
    EXT_SERVER_NAME,
    EXT_SUPPORTED_VERSIONS,
    Hello,
)

__all__ = [
    "HelloFingerprint",
    "is_grease",
    "ja3_string",
    "ja3s_string",
    "ja4",
    "ja4_alpn",
    "ja4_cipher_hash",
    "ja4_extension_hash",
    "fingerprint_hello",
]

EXT_SUPPORTED_GROUPS = 10
EXT_EC_POINT_FORMATS = 11
EXT_SIGNATURE_ALGORITHMS = 13

_JA4_VERSIONS = {
    0x0304: "13",
    0x0303: "12",
    0x0302: "11",
    0x0301: "10",
    0x0300: "s3",
    0x0002: "s2",
    0xFEFF: "d1",
    0xFEFD: "d2",
    0xFEFC: "d3",
}
_EMPTY_HASH = "000000000000"


def is_grease(value: int) -> bool:
    """RFC 8701 §2: 0x0A0A, 0x1A1A, … 0xFAFA (both bytes equal, low nibbles 0xA)."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


def _u16_list(data: bytes, *, length_bytes: int) -> list[int]:
    """A vector of uint16 values with a 1- or 2-byte length prefix; [] if it does not parse."""
    try:
        r = VectorReader(data)
        body = r.take(r.u8() if length_bytes == 1 else r.u16())
    except ParseError:
        return []
    return [(body[i] << 8) | body[i + 1] for i in range(0, len(body) - 1, 2)]


def _u8_list(data: bytes) -> list[int]:
    try:
        return list(VectorReader(data).vec8())
    except ParseError:
        return []


def _dash(values: list[int]) -> str:
    return "-".join(str(v) for v in values if not is_grease(v))


def ja3_string(ch: Hello) -> str:
    """The JA3 string of a ClientHello (before MD5)."""
    groups = _u16_list(ch.extensions.get(EXT_SUPPORTED_GROUPS, b""), length_bytes=2)
    formats = _u8_list(ch.extensions.get(EXT_EC_POINT_FORMATS, b""))
    return ",".join(
        (
            str(ch.legacy_version),
            _dash(ch.cipher_suites),
            _dash(ch.extension_order),
            _dash(groups),
            "-".join(str(v) for v in formats),
        )
    )


def ja3s_string(sh: Hello) -> str:
    """The JA3S string of a ServerHello (before MD5)."""
    return f"{sh.legacy_version},{sh.cipher_suite or 0},{_dash(sh.extension_order)}"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def ja4_alpn(first: bytes | None) -> str:
    """The two ALPN characters of JA4 from the first ALPN protocol name (None: no ALPN)."""
    if not first:
        return "00"
    a, b = first[0], first[-1]
    if chr(a).isascii() and chr(a).isalnum() and chr(b).isascii() and chr(b).isalnum():
        return chr(a) + chr(b)
    # JA4.md: the first and last characters of the hex representation of the whole value.
    h = first.hex()
    return h[0] + h[-1]


def ja4_cipher_hash(ciphers: list[int]) -> str:
    kept = sorted(f"{c:04x}" for c in ciphers if not is_grease(c))
    return _sha12(",".join(kept)) if kept else _EMPTY_HASH


def ja4_extension_hash(extensions: list[int], sigalgs: list[int]) -> str:
    kept = sorted(
        f"{e:04x}" for e in extensions if not is_grease(e) and e not in (EXT_SERVER_NAME, EXT_ALPN)
    )
    if not kept:
        return _EMPTY_HASH
    text = ",".join(kept)
    algs = [f"{s:04x}" for s in sigalgs if not is_grease(s)]
    if algs:
        text += "_" + ",".join(algs)
    return _sha12(text)


def _first_alpn(ch: Hello) -> bytes | None:
    data = ch.extensions.get(EXT_ALPN)
    if not data:
        return None
    try:
        r = VectorReader(VectorReader(data).vec16())
        return r.vec8() if r.left() else None
    except ParseError:
        return None


def ja4(ch: Hello, *, transport: str = "t") -> str:
    """The JA4 fingerprint of a ClientHello (``transport``: "t" TCP, "q" QUIC, "d" DTLS)."""
    version = ch.legacy_version
    sv = ch.extensions.get(EXT_SUPPORTED_VERSIONS)
    if sv is not None:
        offered = [v for v in _u16_list(sv, length_bytes=1) if not is_grease(v)]
        if offered:
            version = max(offered)
    ciphers = [c for c in ch.cipher_suites if not is_grease(c)]
    exts = [e for e in ch.extension_order if not is_grease(e)]
    sigalgs = _u16_list(ch.extensions.get(EXT_SIGNATURE_ALGORITHMS, b""), length_bytes=2)
    part_a = (
        f"{transport}{_JA4_VERSIONS.get(version, '00')}"
        f"{'d' if EXT_SERVER_NAME in ch.extensions else 'i'}"
        f"{min(len(ciphers), 99):02d}{min(len(exts), 99):02d}{ja4_alpn(_first_alpn(ch))}"
    )
    return f"{part_a}_{ja4_cipher_hash(ciphers)}_{ja4_extension_hash(exts, sigalgs)}"


@dataclass(slots=True, frozen=True)
class HelloFingerprint:
    """The fingerprints of one hello (client: JA3 + JA4; server: JA3S)."""

    ja3_string: str | None = None
    ja3s_string: str | None = None
    ja4: str | None = None

    @property
    def ja3(self) -> str | None:
        return _md5(self.ja3_string) if self.ja3_string is not None else None

    @property
    def ja3s(self) -> str | None:
        return _md5(self.ja3s_string) if self.ja3s_string is not None else None

    def to_json(self) -> dict[str, str | None]:
        return {
            "ja3": self.ja3,
            "ja3_string": self.ja3_string,
            "ja3s": self.ja3s,
            "ja3s_string": self.ja3s_string,
            "ja4": self.ja4,
        }


def fingerprint_hello(hello: Hello, *, transport: str = "t") -> HelloFingerprint:
    """JA3 and JA4 of a ClientHello, or JA3S of a ServerHello."""
    if hello.is_client:
        return HelloFingerprint(ja3_string=ja3_string(hello), ja4=ja4(hello, transport=transport))
    return HelloFingerprint(ja3s_string=ja3s_string(hello))
