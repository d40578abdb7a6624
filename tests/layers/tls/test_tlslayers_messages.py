"""Every message type and extension: build from defaults -> dissect -> same class, same
bytes; RFC 8448 messages dissected with and without context; crafting malformed records."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.packet import Packet

from netsec_layers.layers import tls as T
from netsec_layers.layers.tls import dissect_handshake, dissect_tls
from tests.layers.tls._tlslayers_compare import rebuild, undecoded_parts
from tests.tls_vectors import load_vectors, rfc8448_message

RFC8448 = load_vectors("rfc8448_messages.json")
RFC8448.pop("_source")

CERT = bytes.fromhex("3082") + b"\x01" * 40

# (body, context version, kex) -- every handshake body class, built from (mostly) defaults
BODIES: list[tuple[Packet, int | None, str | None]] = [
    (T.TLSHelloRequest(), None, None),
    (T.TLSClientHello(sni="example.com"), None, None),
    (
        T.TLSServerHello(
            extensions=[
                T.TLSExtSupportedVersionsServer(),
                T.TLSExtKeyShareServer(key_exchange=T.X25519_SAMPLE),
            ]
        ),
        None,
        None,
    ),
    (T.TLSServerHello(version=0x0300, cipher_suite=0x2F), None, None),
    (
        T.TLSHelloRetryRequest(
            extensions=[
                T.TLSExtSupportedVersionsServer(),
                T.TLSExtKeyShareHRR(selected_group=23),
                T.TLSExtCookie(cookie=b"c" * 20),
            ]
        ),
        None,
        None,
    ),
    (T.TLSHelloVerifyRequest(cookie=b"\x01" * 20), None, None),
    (T.TLSNewSessionTicket(ticket=b"t" * 100), 0x0303, None),
    (T.TLSNewSessionTicket(ticket=b"t" * 100), None, None),
    (
        T.TLSNewSessionTicket13(
            ticket=b"t" * 100,
            ticket_age_add=0xFAD6AAC5,
            extensions=[T.TLSExtEarlyDataTicket(max_early_data_size=1024)],
        ),
        0x0304,
        None,
    ),
    (T.TLSNewSessionTicket13(ticket=b"t" * 100, ticket_age_add=0xFAD6AAC5), None, None),
    (T.TLSEndOfEarlyData(), None, None),
    (
        T.TLSEncryptedExtensions(
            extensions=[
                T.TLSExtServerName(),
                T.TLSExtALPN(protocols=[T.TLSProtocolName(protocol=b"h2")]),
                T.TLSExtEarlyData(),
            ]
        ),
        0x0304,
        None,
    ),
    (T.TLSCertificate(certificates=[T.TLSCertificateASN1(cert=CERT)] * 2), None, None),
    (
        T.TLSCertificate13(
            certificates=[
                T.TLSCertificateEntry(
                    cert_data=CERT,
                    extensions=[
                        T.TLSExtCertificateStatus(response=b"ocsp"),
                        T.TLSExtSignedCertificateTimestamp(
                            sct_list=[T.TLSSerializedSCT(sct=b"s" * 10)]
                        ),
                    ],
                )
            ]
        ),
        None,
        None,
    ),
    (
        T.TLSServerKeyExchangeECDH(
            point=T.X25519_SAMPLE, signature=T.TLSSignature(signature=b"S" * 64)
        ),
        None,
        None,
    ),
    (
        T.TLSServerKeyExchangeECDH(
            point=T.X25519_SAMPLE, signature=T.TLSSignatureLegacy(signature=b"S" * 64)
        ),
        0x0302,
        "ECDHE",
    ),
    (
        T.TLSServerKeyExchangeDH(
            dh_p=b"\xff" * 256, dh_Ys=b"\x11" * 256, signature=T.TLSSignature(signature=b"S" * 256)
        ),
        None,
        None,
    ),
    (T.TLSServerKeyExchangeDH(dh_p=b"\xff" * 128, dh_Ys=b"\x11" * 128), None, "DHE"),  # anon
    (
        T.TLSServerKeyExchangeRSA(
            rsa_modulus=b"\xc1" * 64, signature=T.TLSSignatureLegacy(signature=b"S" * 128)
        ),
        0x0301,
        "RSA_EXPORT",
    ),
    (
        T.TLSServerKeyExchange(params=b"\x00\x04hint" + b"\x03\x00\x1d\x20" + b"k" * 32),
        0x0303,
        "ECDHE_PSK",
    ),
    (
        T.TLSCertificateRequest(authorities=[T.TLSDistinguishedName(dn=b"0\x0b1\x090\x07")]),
        None,
        None,
    ),
    (T.TLSCertificateRequest11(), 0x0301, None),
    (
        T.TLSCertificateRequest13(
            extensions=[
                T.TLSExtSignatureAlgorithms(),
                T.TLSExtCertificateAuthorities(authorities=[T.TLSDistinguishedName(dn=b"0\x00")]),
                T.TLSExtOIDFilters(
                    filters=[
                        T.TLSOIDFilter(
                            certificate_extension_oid=b"\x55\x1d\x25",
                            certificate_extension_values=b"0\x00",
                        )
                    ]
                ),
            ]
        ),
        None,
        None,
    ),
    (T.TLSServerHelloDone(), None, None),
    (T.TLSCertificateVerify(signature=T.TLSSignature(signature=b"v" * 256)), None, None),
    (T.TLSCertificateVerify(signature=T.TLSSignatureLegacy(signature=b"v" * 256)), 0x0301, None),
    (T.TLSCertificateVerify(signature=T.TLSSignatureLegacy(signature=b"v" * 256)), None, None),
    (
        T.TLSServerKeyExchangeECDH(
            point=T.X25519_SAMPLE, signature=T.TLSSignatureLegacy(signature=b"S" * 64)
        ),
        None,
        None,
    ),
    (
        T.TLSCertificateRequest11(authorities=[T.TLSDistinguishedName(dn=b"0\x0b1\x090\x07")]),
        None,
        None,
    ),
    (T.TLSClientKeyExchangeRSA(encrypted_pre_master=b"e" * 256), 0x0303, "RSA"),
    (T.TLSClientKeyExchangeRSA(encrypted_pre_master=b"e" * 256), None, None),
    (T.TLSClientKeyExchangeSSL3RSA(encrypted_pre_master=b"e" * 128), 0x0300, "RSA"),
    (T.TLSClientKeyExchangeDH(dh_Yc=b"y" * 256), 0x0303, "DHE"),
    (T.TLSClientKeyExchangeECDH(ecdh_Yc=T.X25519_SAMPLE), None, None),
    (T.TLSClientKeyExchange(exchange_keys=b"\x00\x05ident"), 0x0303, "PSK"),
    (T.TLSFinished(verify_data=b"f" * 12), None, None),
    (T.TLSCertificateURL(url_and_hash_list=[T.TLSURLAndHash(url=b"http://x/c")]), None, None),
    (T.TLSCertificateStatus(response=b"\x30\x03\x0a\x01\x00"), None, None),
    (T.TLSSupplementalData(supp_data=b"\x40\x00\x00\x02ab"), None, None),
    (T.TLSKeyUpdate(request_update=1), None, None),
    (
        T.TLSCompressedCertificate(
            uncompressed_length=1000, compressed_certificate_message=b"z" * 50
        ),
        None,
        None,
    ),
    (
        T.TLSEKTKey(ekt_key_value=b"k" * 16, srtp_master_salt=b"s" * 14, ekt_spi=7, ekt_ttl=86400),
        None,
        None,
    ),
    (T.TLSMessageHash(hash=b"h" * 32), None, None),
]


def _id(item: tuple[Packet, int | None, str | None]) -> str:
    body, ver, kex = item
    return f"{type(body).__name__}-{ver and hex(ver)}-{kex}"


@pytest.mark.parametrize("item", BODIES, ids=[_id(b) for b in BODIES])
def test_body_builds_and_dissects_back(item: tuple[Packet, int | None, str | None]) -> None:
    body, ver, kex = item
    wire = bytes(T.TLSHandshake() / body.copy())
    assert wire[0] == body.msg_type_value
    assert int.from_bytes(wire[1:4], "big") == len(wire) - 4
    got = dissect_handshake(wire, version=ver, kex=kex)
    assert type(got.payload) is type(body)
    assert undecoded_parts(got) == []
    assert rebuild(got) == wire
    # and inside a record, in one TCP payload with a second record after it
    rec = bytes(T.TLSRecord(messages=[T.TLSHandshake() / body.copy()])) + bytes(
        T.TLSRecord(messages=[T.TLSAlert(level=1, description=0)])
    )
    chain = dissect_tls(rec, version=ver, kex=kex)
    assert type(chain.messages[0].payload) is type(body)
    assert isinstance(chain.payload.messages[0], T.TLSAlert)
    assert rebuild(chain) == rec


EXTENSIONS: list[tuple[Packet, str]] = [
    (T.TLSExtServerName(server_names=[T.TLSServerName(server_name=b"example.com")]), "ch"),
    (T.TLSExtServerName(), "ee"),
    (T.TLSExtMaxFragmentLength(), "ch"),
    (T.TLSExtStatusRequest(), "ch"),
    (T.TLSExtStatusRequestEmpty(), "sh"),
    (T.TLSExtCertificateStatus(response=b"r" * 9), "ct"),
    (T.TLSExtSupportedGroups(), "ch"),
    (T.TLSExtECPointFormats(), "ch"),
    (T.TLSExtSignatureAlgorithms(), "ch"),
    (T.TLSExtSignatureAlgorithmsCert(), "ch"),
    (T.TLSExtUseSRTP(mki=b"m"), "ch"),
    (T.TLSExtHeartbeat(), "ch"),
    (
        T.TLSExtALPN(
            protocols=[T.TLSProtocolName(protocol=b"h2"), T.TLSProtocolName(protocol=b"http/1.1")]
        ),
        "ch",
    ),
    (T.TLSExtSignedCertificateTimestamp(), "ch"),
    (T.TLSExtSignedCertificateTimestamp(sct_list=[T.TLSSerializedSCT(sct=b"x" * 40)]), "sh"),
    (T.TLSExtPadding(padding=b"\x00" * 100), "ch"),
    (T.TLSExtEncryptThenMAC(), "ch"),
    (T.TLSExtExtendedMasterSecret(), "ch"),
    (T.TLSExtCompressCertificate(algorithms=[1, 2, 3]), "ch"),
    (T.TLSExtRecordSizeLimit(), "ch"),
    (T.TLSExtSessionTicket(), "ch"),
    (T.TLSExtSessionTicket(ticket=b"T" * 64), "ch"),
    (
        T.TLSExtPreSharedKey(
            identities=[T.TLSPSKIdentity(identity=b"i" * 16, obfuscated_ticket_age=5)],
            binders=[T.TLSPSKBinder(binder=b"b" * 32)],
        ),
        "ch",
    ),
    (T.TLSExtPreSharedKeyServer(selected_identity=0), "sh"),
    (T.TLSExtEarlyData(), "ch"),
    (T.TLSExtEarlyDataTicket(max_early_data_size=16384), "nst"),
    (T.TLSExtSupportedVersions(), "ch"),
    (T.TLSExtSupportedVersionsServer(), "sh"),
    (T.TLSExtSupportedVersionsServer(), "hrr"),
    (T.TLSExtCookie(cookie=b"cookie"), "hrr"),
    (T.TLSExtPSKKeyExchangeModes(modes=[0, 1]), "ch"),
    (T.TLSExtCertificateAuthorities(authorities=[T.TLSDistinguishedName(dn=b"0\x00")]), "cr"),
    (T.TLSExtOIDFilters(filters=[T.TLSOIDFilter(certificate_extension_oid=b"U\x1d%")]), "cr"),
    (T.TLSExtPostHandshakeAuth(), "ch"),
    (T.TLSExtKeyShare(), "ch"),
    (T.TLSExtKeyShareServer(key_exchange=b"\x04" + b"p" * 64, group=23), "sh"),
    (T.TLSExtKeyShareHRR(selected_group=29), "hrr"),
    (T.TLSExtRenegotiationInfo(), "ch"),
    (T.TLSExtRenegotiationInfo(renegotiated_connection=b"r" * 24), "sh"),
    (T.TLSExtEncryptedClientHello(enc=b"e" * 32, ech_payload=b"p" * 200, config_id=7), "ch"),
    (T.TLSExtEncryptedClientHello(ech_type=1), "ch"),
    (T.TLSExtension(type=0x1A1A), "ch"),
    (T.TLSExtension(type=0x4469, data=b"\x00\x03\x02h2"), "ch"),
]


class _Ctx:
    def __init__(self, ctx: str) -> None:
        self.ext_context = ctx


@pytest.mark.parametrize("item", EXTENSIONS, ids=[f"{type(e).__name__}-{c}" for e, c in EXTENSIONS])
def test_extension_builds_and_dissects_back(item: tuple[Packet, str]) -> None:
    ext, ctx = item
    wire = bytes(ext)
    assert int.from_bytes(wire[2:4], "big") == len(wire) - 4
    (got,) = T.parse_extensions(_Ctx(ctx), wire)  # type: ignore[arg-type]
    assert type(got) is type(ext)
    assert rebuild(got) == wire


def test_grease_extension_named() -> None:
    assert "GREASE" in T.TLSExtension(type=0x2A2A).show(dump=True)
    assert T.TLSExtension(type=0x2A2A).mysummary() == "GREASE"


@pytest.mark.parametrize("name", sorted(RFC8448))
@pytest.mark.parametrize("version", [None, 0x0304])
def test_rfc8448_messages(name: str, version: int | None) -> None:
    vec = RFC8448[name]
    wire = rfc8448_message(vec["message"])
    got = dissect_handshake(wire, version=version)
    body = got.payload
    assert type(body).__name__ == vec["class"]
    assert undecoded_parts(got) == []
    assert rebuild(got) == wire
    exts = {e.type: e for e in getattr(body, "extensions", None) or []}
    if "extension_types" in vec:
        assert [e.type for e in body.extensions] == vec["extension_types"]
    if "cipher_suites" in vec:
        assert list(body.cipher_suites) == vec["cipher_suites"]
    if "cipher_suite" in vec:
        assert body.cipher_suite == vec["cipher_suite"]
    if "sni" in vec:
        assert body.sni == vec["sni"]
    if "groups" in vec:
        assert list(exts[10].groups) == vec["groups"]
    if "key_share" in vec:
        ks = exts[51]
        kx = ks.client_shares[0].key_exchange if hasattr(ks, "client_shares") else ks.key_exchange
        assert kx.hex() == vec["key_share"]
    if "versions" in vec:
        assert list(exts[43].versions) == vec["versions"]
    if "selected_version" in vec:
        assert exts[43].selected_version == vec["selected_version"]
        assert body.negotiated_version() == vec["selected_version"]
    if "record_size_limit" in vec:
        assert exts[28].record_size_limit == vec["record_size_limit"]
    if "selected_identity" in vec:
        assert exts[41].selected_identity == vec["selected_identity"]
    if "cert_lengths" in vec:
        assert [c.cert_data_length for c in body.certificates] == vec["cert_lengths"]
    if "scheme" in vec:
        assert body.signature.scheme == vec["scheme"]
        assert body.signature.signature_length == vec["signature_length"]
    if "verify_data" in vec:
        assert body.verify_data.hex() == vec["verify_data"]
    if "ticket_lifetime" in vec:
        assert body.ticket_lifetime == vec["ticket_lifetime"]
        assert body.ticket_age_add == vec["ticket_age_add"]
        assert body.ticket_nonce.hex() == vec["ticket_nonce"]
        assert body.ticket_length == vec["ticket_length"]
        assert exts[42].max_early_data_size == vec["max_early_data_size"]


def test_default_client_hello_fields() -> None:
    ch = dissect_tls(bytes(T.TLSRecord(messages=[T.TLSHandshake() / T.TLSClientHello()])))
    assert ch.content_type == 22 and ch.version == 0x0303
    body = ch.messages[0].payload
    assert body.version == 0x0303 and len(body.random) == 32 and len(body.session_id) == 32
    assert {0x1301, 0xC02F}.issubset(body.cipher_suites)
    exts = {e.type: e for e in body.extensions}
    assert list(exts[43].versions) == [0x0304, 0x0303]
    assert {29, 23}.issubset(exts[10].groups)
    assert exts[51].client_shares[0].group == 29
    assert len(exts[51].client_shares[0].key_exchange) == 32
    assert 13 in exts and body.sni is None


def test_summaries() -> None:
    rec = T.TLSRecord(messages=[T.TLSHandshake() / T.TLSClientHello(sni="example.com")])
    assert dissect_tls(bytes(rec)).summary() == "TLS 1.2 Handshake ClientHello sni=example.com"
    alert = bytes(T.TLSRecord(messages=[T.TLSAlert(level=2, description=40)]))
    assert dissect_tls(alert).summary() == "TLS 1.2 Alert fatal handshake_failure"
    assert "TLS ClientHello" in dissect_tls(bytes(rec)).show(dump=True)


def test_sni_setter_and_slash_form() -> None:
    ch = T.TLSClientHello()
    ch.sni = "a.example"
    assert ch.sni == "a.example"
    slash = T.TLSRecord() / T.TLSHandshake() / ch
    wire = bytes(slash)
    assert int.from_bytes(wire[3:5], "big") == len(wire) - 5 and wire[0] == 22
    assert dissect_tls(wire).messages[0].payload.sni == "a.example"


def test_heartbleed_crafting_and_dissection() -> None:
    rec = T.TLSRecord(messages=[T.TLSHeartbeat(payload_length=0x4000, data=b"A", padding=b"")])
    wire = bytes(rec)
    assert wire == bytes.fromhex("1803030004") + b"\x01\x40\x00A"
    got = dissect_tls(wire)
    hb = got.messages[0]
    assert isinstance(hb, T.TLSHeartbeat) and hb.payload_length == 0x4000 and hb.data == b"A"
    assert rebuild(got) == wire
    normal = bytes(T.TLSRecord(messages=[T.TLSHeartbeat(data=b"ping")]))
    assert dissect_tls(normal).messages[0].padding == b"\x00" * 16


def test_malformed_lengths_on_purpose() -> None:
    wire = bytes(
        T.TLSRecord(
            length=5, messages=[T.TLSHandshake(length=99) / T.TLSFinished(verify_data=b"x")]
        )
    )
    assert wire[3:5] == b"\x00\x05" and wire[6:9] == b"\x00\x00\x63"
    got = dissect_tls(wire)
    assert rebuild(got) == wire
    bad_ext = T.TLSClientHello(extensions=[T.TLSExtSupportedGroups(groups_length=7)])
    got = dissect_handshake(bytes(T.TLSHandshake() / bad_ext))
    assert isinstance(got.payload, T.TLSClientHello)
    assert type(got.payload.extensions[0]) is T.TLSExtension  # typed parse refused: opaque


def test_sslv2_client_hello() -> None:
    hello = T.SSLv2ClientHello(cipher_specs=[0x010080, 0x00002F], challenge=b"c" * 16)
    wire = bytes(hello)
    assert wire[0] & 0x80 and (int.from_bytes(wire[:2], "big") & 0x7FFF) == len(wire) - 2
    assert wire[2] == 1 and wire[3:5] == b"\x03\x01"
    got = dissect_tls(wire + bytes(T.TLSRecord(messages=[T.TLSAlert()])))
    assert isinstance(got, T.SSLv2ClientHello) and list(got.cipher_specs) == [0x010080, 0x2F]
    assert isinstance(got.payload, T.TLSRecord)
    assert "SSL_CK_RC4_128_WITH_MD5" in got.show(dump=True)


def test_several_messages_one_record_and_one_message_across_records() -> None:
    msgs = [
        T.TLSHandshake() / T.TLSServerHello(),
        T.TLSHandshake() / T.TLSCertificate(certificates=[T.TLSCertificateASN1(cert=CERT * 30)]),
        T.TLSHandshake() / T.TLSServerHelloDone(),
    ]
    flight = b"".join(bytes(m) for m in msgs)
    one = dissect_tls(bytes(T.TLSRecord(messages=msgs)))
    assert [type(m.payload) for m in one.messages] == [
        T.TLSServerHello,
        T.TLSCertificate,
        T.TLSServerHelloDone,
    ]
    # split the same flight over records of 100 bytes
    wire = b"".join(
        bytes(T.TLSRecord(content_type=22, messages=[T.TLSUndecoded(load=flight[i : i + 100])]))
        for i in range(0, len(flight), 100)
    )
    chain = dissect_tls(wire)
    assert rebuild(chain) == wire
    assert any(
        isinstance(m, T.TLSHandshakeFragment) for r in T.iter_records(chain) for m in r.messages
    )
    whole = T.handshake_messages(chain)
    assert [type(m.payload) for m in whole] == [
        T.TLSServerHello,
        T.TLSCertificate,
        T.TLSServerHelloDone,
    ]
    msgs_b, rest = T.split_handshake_messages(flight + b"\x0b\x00")
    assert len(msgs_b) == 3 and rest == b"\x0b\x00"
    d = T.TLSHandshakeDefragmenter()
    out = [m for i in range(0, len(flight), 7) for m in d.feed(flight[i : i + 7])]
    assert [bytes(m) for m in out] == [bytes(m) for m in msgs] and d.pending == 0


def test_after_ccs_records_are_encrypted() -> None:
    wire = (
        bytes(T.TLSRecord(messages=[T.TLSChangeCipherSpec()]))
        + bytes(T.TLSRecord(content_type=22, messages=[T.TLSUndecoded(load=b"\x8f" * 40)]))
        + bytes(T.TLSRecord(content_type=21, messages=[T.TLSUndecoded(load=b"\x11" * 26)]))
    )
    recs = T.iter_records(dissect_tls(wire))
    assert [type(r.messages[0]) for r in recs] == [
        T.TLSChangeCipherSpec,
        T.TLSEncryptedRecord,
        T.TLSEncryptedRecord,
    ]
    assert T.TLSCiphertext is T.TLSEncryptedRecord


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x16",
        b"\x16\x03\x03\x00",
        b"GET / HTTP/1.1\r\n",
        b"\x16\x03\x03\x00\x10\x01\x00\x00\x0c",
        b"\x80\x03\x01",
        b"\x17\x03\x03\xff\xff" + b"x" * 10,
    ],
)
def test_bad_input_marked_not_raised(data: bytes) -> None:
    got = dissect_tls(data)
    assert rebuild(got) == data
    if data and not data.startswith(b"\x17"):
        assert undecoded_parts(got)
    assert all("dissector error" not in r for r in undecoded_parts(got))


def test_layers_never_import_cryptography() -> None:
    import ast

    root = Path(T.__file__).parent
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("cryptography") for a in node.names), path
            elif isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("cryptography"), path
                assert not (node.module or "").startswith("scapy.layers.tls"), path


def test_ambiguous_certificate_request_follows_documented_order() -> None:
    """A <= 1.1 CertificateRequest with no CAs is byte-identical to a valid TLS 1.3 one
    (context 0x01 0x40, no extensions): alone it reads as 1.3 (the documented order);
    with the version it reads right."""
    wire = bytes(T.TLSHandshake() / T.TLSCertificateRequest11())
    assert type(dissect_handshake(wire).payload) is T.TLSCertificateRequest13
    assert type(dissect_handshake(wire, version=0x0302).payload) is T.TLSCertificateRequest11


def test_sslv2_hello_matches_scapy_builtin() -> None:
    """Scapy's own SSLv2 dissector reads our SSLv2-format ClientHello the same way.

    Only with an empty session_id: Scapy 2.8 puts session_id before the cipher specs, while
    RFC 5246 Appendix E.2 (and the SSL 2.0 spec) has cipher_specs, session_id, challenge."""
    from scapy.layers.tls.record_sslv2 import SSLv2

    hello = T.SSLv2ClientHello(
        cipher_specs=[0x010080, 0x00002F, 0x0700C0], challenge=b"c" * 16, version=0x0300
    )
    theirs = SSLv2(bytes(hello))
    assert theirs.len == len(bytes(hello)) - 2
    msg = theirs.msg[0]
    assert list(msg.ciphers) == [0x010080, 0x00002F, 0x0700C0]
    assert (msg.version, msg.sid, msg.challenge) == (0x0300, b"", b"c" * 16)


def test_long_record_chain_is_linear_and_byte_exact() -> None:
    """Thousands of records in one buffer: dissected and rebuilt without recursion."""
    one = bytes(T.TLSRecord(messages=[T.TLSApplicationData(data=b"x" * 40)]))
    wire = (
        bytes(T.TLSRecord(messages=[T.TLSHandshake() / T.TLSClientHello()]))
        + one * 3000
        + b"\x17\x03"
    )
    got = dissect_tls(wire)
    recs = T.iter_records(got)
    assert len(recs) == 3001 and isinstance(recs[-1].payload, T.TLSUndecoded)
    assert bytes(got) == wire
    assert rebuild(got) == wire
    assert got.summary().count(" / ") == 3001
    shown = got.show(dump=True).splitlines()
    assert shown.count("###[ TLS Record ]###") == 3001  # siblings, all at the same level
