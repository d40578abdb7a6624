"""Expert warnings on TLS records: stable codes (an enum) with a text for people.

A warning goes on the record that revealed it, also when it is about the connection (a weak
suite is reported on the ServerHello record). The codes are a contract (docs/tls-analysis.md):
they are never renamed; new ones may be added. Checks here are cheap and run only on records
that carry handshake, alert or heartbeat content, never per application-data record beyond a
flag test.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from netsec_layers.crypto.tls_vectors import VectorReader
from netsec_layers.errors import ParseError
from netsec_layers.session.tls_hello import Hello

__all__ = [
    "TLSWarning",
    "WarningCode",
    "heartbeat_overflow",
    "hello_length_mismatch",
    "server_hello_warnings",
    "client_hello_warnings",
    "certificate_warnings",
]

TLS_FALLBACK_SCSV = 0x5600
DEPRECATED_VERSIONS = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1"}  # RFC 8996


class WarningCode(Enum):
    """The stable warning codes (the JSON ``code``)."""

    HEARTBEAT_LENGTH_OVERFLOW = "heartbeat_length_overflow"
    TRUNCATED_RECORD = "truncated_record"
    OVERSIZED_RECORD = "oversized_record"
    DATA_AFTER_CLOSE_NOTIFY = "data_after_close_notify"
    HANDSHAKE_LENGTH_MISMATCH = "handshake_length_mismatch"
    UNKNOWN_CONTENT_TYPE = "unknown_content_type"
    SSLV2_CLIENT_HELLO = "sslv2_client_hello"
    RENEGOTIATION = "renegotiation"
    FALLBACK_SCSV = "fallback_scsv"
    WEAK_SUITE = "weak_suite"
    COMPRESSION = "compression"
    DEPRECATED_VERSION = "deprecated_version"
    # the server's certificate chain, judged at the capture's time (crypto/x509_checks.py)
    CERTIFICATE_EXPIRED = "certificate_expired"
    CERTIFICATE_NOT_YET_VALID = "certificate_not_yet_valid"
    CERTIFICATE_SELF_SIGNED = "certificate_self_signed"
    CERTIFICATE_NAME_MISMATCH = "certificate_name_mismatch"
    CERTIFICATE_RSA_TOO_SMALL = "certificate_rsa_too_small"
    CERTIFICATE_SHA1_SIGNATURE = "certificate_sha1_signature"
    CERTIFICATE_UNTRUSTED = "certificate_untrusted"
    CERTIFICATE_UNDECODABLE = "certificate_undecodable"


@dataclass(slots=True, frozen=True)
class TLSWarning:
    code: WarningCode
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code.value, "text": self.text}


def heartbeat_overflow(message: bytes) -> TLSWarning | None:
    """RFC 6520 §4: payload_length must fit the message with at least 16 bytes of padding;
    a larger claim is what Heartbleed (CVE-2014-0160) requests and what leaking responses show."""
    if len(message) < 3:
        return TLSWarning(
            WarningCode.HEARTBEAT_LENGTH_OVERFLOW,
            f"heartbeat message of {len(message)} bytes has no room for its header",
        )
    payload_length = (message[1] << 8) | message[2]
    if 3 + payload_length + 16 > len(message):
        kind = {1: "request", 2: "response"}.get(message[0], f"type {message[0]}")
        return TLSWarning(
            WarningCode.HEARTBEAT_LENGTH_OVERFLOW,
            f"heartbeat {kind} claims payload_length {payload_length} but carries "
            f"{len(message) - 3} bytes of payload and padding (RFC 6520 §4; Heartbleed)",
        )
    return None


def hello_length_mismatch(msg: bytes) -> str | None:
    """How a ClientHello/ServerHello message's length disagrees with its fields, or None.

    Either its extensions block claims more bytes than the message holds, or bytes are left
    after the extensions block (or after the compression method(s) with no extensions)."""
    try:
        r = VectorReader(msg, 4)
        r.take(34)
        r.vec8()
        if msg[0] == 1:
            r.vec16()
            r.vec8()
        else:
            r.take(3)
    except (ParseError, IndexError):
        return None  # a shorter message: reported as malformed by the tracker
    if r.left() == 0:
        return None
    if r.left() >= 2:
        claimed = (msg[r.pos] << 8) | msg[r.pos + 1]
        if claimed > r.left() - 2:
            return f"extensions block claims {claimed} bytes, {r.left() - 2} follow"
        extra = r.left() - 2 - claimed
    else:
        extra = r.left()
    if extra:
        return f"{extra} bytes after the hello's last field"
    return None


def _suite_weakness(name: str) -> str | None:
    if "_anon_" in name:
        return "anonymous key exchange (no server authentication)"
    if "EXPORT" in name:
        return "export-grade cipher"
    if "_NULL" in name:
        return "NULL cipher (no encryption)"
    if "RC4" in name:
        return "RC4 (RFC 7465 prohibits it)"
    return None


def client_hello_warnings(ch: Hello) -> list[TLSWarning]:
    out: list[TLSWarning] = []
    if TLS_FALLBACK_SCSV in ch.cipher_suites:
        out.append(
            TLSWarning(
                WarningCode.FALLBACK_SCSV,
                "ClientHello carries TLS_FALLBACK_SCSV: a retry at a lower version (RFC 7507)",
            )
        )
    return out


def server_hello_warnings(sh: Hello, *, suite_name: str | None) -> list[TLSWarning]:
    out: list[TLSWarning] = []
    version = sh.selected_version()
    if version in DEPRECATED_VERSIONS:
        out.append(
            TLSWarning(
                WarningCode.DEPRECATED_VERSION,
                f"{DEPRECATED_VERSIONS[version]} negotiated (deprecated by RFC 8996)",
            )
        )
    weak = _suite_weakness(suite_name) if suite_name else None
    if weak:
        out.append(TLSWarning(WarningCode.WEAK_SUITE, f"{suite_name} chosen: {weak}"))
    if sh.compression_method:
        out.append(
            TLSWarning(
                WarningCode.COMPRESSION,
                f"compression method {sh.compression_method} chosen "
                "(CRIME, CVE-2012-4929; RFC 7457 §2.6)",
            )
        )
    return out


def certificate_warnings(chain: list[bytes], *, sni: str | None, ts_ns: int) -> list[TLSWarning]:
    """The ``certificate_*`` warnings of a server chain seen at capture time ``ts_ns``."""
    import datetime as dt

    from netsec_layers.crypto.x509_checks import certificate_findings

    at = dt.datetime.fromtimestamp(ts_ns / 1e9, tz=dt.timezone.utc)
    return [
        TLSWarning(WarningCode(code), text)
        for code, text in certificate_findings(chain, sni=sni, at=at)
    ]
