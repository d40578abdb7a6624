"""Records crafted with our classes, read back by tshark (Wireshark's dissector): it must
see the same records, messages, extension types and lengths, heartbeat and alert fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from netsec_layers.layers import tls as T
from tests.layers.tls import _tlslayers_capture as cap
from tests.layers.tls.test_tlslayers_messages import EXTENSIONS
from tests.tls_vectors import rfc8448_value
from tests.tshark_util import run_tshark

# a real DER certificate and issuer name (tshark parses them): RFC 8448's server certificate
_CERT_MSG = rfc8448_value("s3", "certificate")
CERT = _CERT_MSG[11 : 11 + int.from_bytes(_CERT_MSG[8:11], "big")]
DN = bytes.fromhex("300e310c300a06035504031303727361")  # CN=rsa

pytestmark = pytest.mark.integration

FIELDS = [
    "tls.record.content_type",
    "tls.record.version",
    "tls.record.length",
    "tls.handshake.type",
    "tls.handshake.length",
    "tls.handshake.ciphersuite",
    "tls.handshake.extension.type",
    "tls.handshake.extension.len",
    "tls.handshake.extensions_server_name",
    "tls.handshake.extensions_alpn_str",
    "tls.heartbeat_message.type",
    "tls.heartbeat_message.payload_length",
    "tls.alert_message.level",
    "tls.alert_message.desc",
    "tls.handshake.certificate_length",
    "tls.handshake.server_named_curve",
    "tls.handshake.sig_len",
    "tls.handshake.cert_types_count",
    "tls.handshake.dnames_len",
    "tls.handshake.session_ticket_length",
    "tls.handshake.ocsp_response_len",
    "tls.compress_certificate.uncompressed_length",
    "tls.handshake.cipherspec",
    "tls.handshake.challenge_length",
]


def _ints(vals: list[str]) -> list[int]:
    return [int(v, 0) for v in vals]


def _client_flight() -> tuple[bytes, T.TLSClientHello]:
    exts = [
        e.copy()
        for e, ctx in EXTENSIONS
        if ctx == "ch" and not isinstance(e, (T.TLSExtPreSharedKey, T.TLSExtEncryptedClientHello))
    ]
    exts.append(
        T.TLSExtPreSharedKey(
            identities=[T.TLSPSKIdentity(identity=b"i" * 16)],
            binders=[T.TLSPSKBinder(binder=b"b" * 32)],
        )
    )  # last (§4.2.11)
    ch = T.TLSClientHello(cipher_suites=[0x1A1A, 0x1301, 0xC02F, 0x002F], extensions=exts)
    wire = (
        bytes(T.TLSRecord(version=0x0301, messages=[T.TLSHandshake() / ch]))
        + bytes(T.TLSRecord(messages=[T.TLSHeartbeat(type=1, data=b"ping")]))
        + bytes(T.TLSRecord(messages=[T.TLSAlert(level=1, description=90)]))
    )
    return wire, ch


def _server_flight() -> bytes:
    msgs = [
        T.TLSServerHello(
            cipher_suite=0xC02F, extensions=[T.TLSExtRenegotiationInfo(), T.TLSExtECPointFormats()]
        ),
        T.TLSCertificate(
            certificates=[T.TLSCertificateASN1(cert=CERT), T.TLSCertificateASN1(cert=CERT)]
        ),
        T.TLSCertificateStatus(response=b"\x30\x03\x0a\x01\x00"),
        T.TLSServerKeyExchangeECDH(
            named_curve=23, point=b"\x04" + b"p" * 64, signature=T.TLSSignature(signature=b"s" * 71)
        ),
        T.TLSCertificateRequest(authorities=[T.TLSDistinguishedName(dn=DN)]),
        T.TLSServerHelloDone(),
    ]
    return (
        bytes(T.TLSRecord(messages=[T.TLSHandshake() / m for m in msgs[:3]]))
        + bytes(T.TLSRecord(messages=[T.TLSHandshake() / m for m in msgs[3:]]))
        + bytes(T.TLSRecord(messages=[T.TLSHandshake() / T.TLSNewSessionTicket(ticket=b"t" * 90)]))
        + bytes(
            T.TLSRecord(
                messages=[T.TLSHeartbeat(type=2, payload_length=0x4000, data=b"A", padding=b"")]
            )
        )
        + bytes(T.TLSRecord(messages=[T.TLSAlert(level=2, description=40)]))
    )


def test_crafted_flights_read_by_tshark(tmp_path: Path) -> None:
    c2s, ch = _client_flight()
    s2c = _server_flight()
    pcap = tmp_path / "crafted.pcap"
    cap.write_pcap([(True, c2s), (False, s2c)], pcap)
    got = cap.tshark_fields(pcap, fields=FIELDS)
    c, s = got["c2s"], got["s2c"]
    verbose = run_tshark(["-r", str(pcap), "-n", "-d", "tcp.port==4433,tls", "-V"])
    malformed = {line.strip() for line in verbose.splitlines() if "/Malformed):" in line}
    # the only malformed thing is the Heartbleed-style heartbeat we crafted on purpose
    assert malformed == {
        "[Expert Info (Error/Malformed): Invalid heartbeat payload length (16384)]"
    }
    assert _ints(c["tls.record.content_type"]) == [22, 24, 21]
    assert _ints(c["tls.record.length"]) == [len(bytes(T.TLSHandshake() / ch)), 23, 2]
    assert _ints(c["tls.handshake.type"]) == [1]
    assert _ints(c["tls.handshake.ciphersuite"]) == [0x1A1A, 0x1301, 0xC02F, 0x002F]
    assert _ints(c["tls.handshake.extension.type"]) == [e.type for e in ch.extensions]
    assert _ints(c["tls.handshake.extension.len"]) == [len(bytes(e)) - 4 for e in ch.extensions]
    assert c["tls.handshake.extensions_server_name"] == ["example.com"]
    assert c["tls.handshake.extensions_alpn_str"] == ["h2", "http/1.1"]
    # (tshark takes this ClientHello for TLS 1.3 and refuses to decode its heartbeat record;
    # the server's heartbeat below is decoded)
    assert _ints(c["tls.alert_message.desc"]) == [90]
    assert _ints(s["tls.record.content_type"]) == [22, 22, 22, 24, 21]
    assert _ints(s["tls.handshake.type"]) == [2, 11, 22, 12, 13, 14, 4]
    assert _ints(s["tls.handshake.certificate_length"]) == [len(CERT), len(CERT)]
    assert _ints(s["tls.handshake.ocsp_response_len"]) == [5]
    assert _ints(s["tls.handshake.server_named_curve"]) == [23]
    assert _ints(s["tls.handshake.sig_len"]) == [71]
    assert _ints(s["tls.handshake.cert_types_count"]) == [2]
    assert _ints(s["tls.handshake.dnames_len"]) == [len(DN) + 2]
    assert _ints(s["tls.handshake.session_ticket_length"]) == [90]
    assert _ints(s["tls.heartbeat_message.payload_length"]) == [0x4000]  # Heartbleed-style
    assert _ints(s["tls.alert_message.level"]) == [2]
    assert _ints(s["tls.alert_message.desc"]) == [40]


def test_crafted_sslv2_hello_read_by_tshark(tmp_path: Path) -> None:
    hello = T.SSLv2ClientHello(cipher_specs=[0x010080, 0x00002F, 0x0700C0], challenge=b"c" * 32)
    pcap = tmp_path / "v2.pcap"
    cap.write_pcap([(True, bytes(hello))], pcap)
    c = cap.tshark_fields(pcap, fields=FIELDS)["c2s"]
    assert _ints(c["tls.handshake.cipherspec"]) == [0x010080, 0x00002F, 0x0700C0]
    assert _ints(c["tls.handshake.challenge_length"]) == [32]
