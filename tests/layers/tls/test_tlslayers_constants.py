"""The IANA registries in netsec_layers.constants.tls: names, GREASE, helpers; the names are
checked against Wireshark's own tables (tshark -G values) where both know a value."""

from __future__ import annotations

import subprocess
import sys

import pytest

from netsec_layers.constants import tls as C
from tests.tshark_util import run_tshark

GREASE = [
    0x0A0A,
    0x1A1A,
    0x2A2A,
    0x3A3A,
    0x4A4A,
    0x5A5A,
    0x6A6A,
    0x7A7A,
    0x8A8A,
    0x9A9A,
    0xAAAA,
    0xBABA,
    0xCACA,
    0xDADA,
    0xEAEA,
    0xFAFA,
]  # RFC 8701 §2


def test_grease_values() -> None:
    assert sorted(C.GREASE_16) == GREASE
    for enum in (
        C.CipherSuite,
        C.ExtensionType,
        C.NamedGroup,
        C.SignatureScheme,
        C.ProtocolVersion,
    ):
        assert all(C.name_of(enum, g) == "GREASE" for g in GREASE)
    assert C.name_of(C.PskKeyExchangeMode, 0x0B) == "GREASE"  # RFC 8701 §2: 0x0B + 0x1F*n
    assert C.name_of(C.AlertDescription, 0x0A) == "unexpected_message"


def test_name_of_never_raises() -> None:
    assert C.name_of(C.CipherSuite, 0x1301) == "TLS_AES_128_GCM_SHA256"
    assert C.name_of(C.CipherSuite, 0xFFFE) == "unknown(0xfffe)"
    assert C.name_of(C.AlertLevel, 7) == "unknown(0x07)"
    assert C.name_of(C.HandshakeType, -1).startswith("unknown")
    assert C.name_of(C.ContentType, "x").startswith("unknown")  # type: ignore[arg-type]
    assert C.name_of(C.ContentType, None).startswith("unknown")  # type: ignore[arg-type]


def test_registry_contents() -> None:
    assert len(C.CipherSuite) > 340
    hs = {m.name: m.value for m in C.HandshakeType}
    for n, v in (
        ("certificate_url", 21),
        ("certificate_status", 22),
        ("supplemental_data", 23),
        ("key_update", 24),
        ("compressed_certificate", 25),
        ("message_hash", 254),
        ("end_of_early_data", 5),
        ("encrypted_extensions", 8),
        ("hello_verify_request", 3),
        ("new_session_ticket", 4),
        ("ekt_key", 26),
    ):
        assert hs[n] == v
    assert C.ExtensionType.encrypted_client_hello == 0xFE0D
    assert C.AlertDescription.ech_required == 121
    assert C.version_label(0x0304) == "TLS 1.3" and C.version_label(0xFEFD) == "DTLS 1.2"
    assert C.HRR_RANDOM.hex().startswith("cf21ad74")


@pytest.mark.parametrize(
    "code,kex",
    [
        (0xC02F, "ECDHE"),
        (0x009E, "DHE"),
        (0x002F, "RSA"),
        (0x0003, "RSA_EXPORT"),
        (0x1301, "TLS13"),
        (0xC0B4, "TLS13"),
        (0x00A8, "PSK"),
        (0xC00E, "ECDH"),
        (0x0034, "DHE"),
        (0x00FF, None),
        (0x5600, None),
        (0x1234, None),
    ],
)
def test_suite_kex(code: int, kex: str | None) -> None:
    assert C.suite_kex(code) == kex


def test_constants_do_not_import_scapy() -> None:
    code = (
        "import sys, netsec_layers.constants.tls; "
        "print(any(m.startswith('scapy') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _tshark_values(out: str, field: str) -> dict[int, str]:
    vals = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 4 and parts[0] == "V" and parts[1] == field:
            vals[int(parts[2], 0)] = parts[3]
    return vals


@pytest.mark.integration
def test_names_agree_with_wireshark() -> None:
    raw = run_tshark(["-G", "values"], errors="replace")
    out = "\n".join(line for line in raw.splitlines() if line.startswith("V\ttls.handshake."))
    theirs = _tshark_values(out, "tls.handshake.ciphersuite")
    both = [m for m in C.CipherSuite if m.value in theirs]
    assert len(both) >= 340
    assert [m.name for m in both] == [theirs[m.value] for m in both]
    groups = _tshark_values(out, "tls.handshake.extensions_supported_group")
    assert all(
        groups[m.value] == m.name for m in C.NamedGroup if m.value in groups and m.value < 0x200
    )
    exts = _tshark_values(out, "tls.handshake.extension.type")
    same = [m for m in C.ExtensionType if m.value in exts and not m.name.startswith("reserved")]
    mismatched = [(m.name, exts[m.value]) for m in same if exts[m.value] != m.name]
    # Wireshark 4.0 spells three differently (delegated_credentials, connection_id (deprecated),
    # quic drafts); everything else is identical
    assert len(mismatched) <= 3, mismatched
