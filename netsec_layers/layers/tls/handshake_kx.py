"""Version- and key-exchange-dependent handshake messages (RFC 5246 §7.4, RFC 8446 §4.4,
§4.6) and the rarer ones (certificate_url, certificate_status, supplemental_data,
key_update, compressed_certificate, ekt_key, message_hash).

Heuristic when the connection context is unknown (dissected alone): every candidate form is
tried in a fixed order and the first one whose length fields frame the body *exactly* and
that rebuilds byte for byte wins.  Orders: NewSessionTicket 1.2 then 1.3 (1.2 is
lifetime(4)+ticket<2> and nothing else); Certificate 1.2 (uint24 list) then 1.3
(context<1> + entries with extensions); CertificateRequest 1.3, 1.2, then <= 1.1;
ServerKeyExchange ECDHE, DHE, RSA-export, then opaque; ClientKeyExchange ECDH point<1>,
then the 2-byte form (shown as RSA; a DH Yc has the same framing), then SSL 3.0 RSA (no
length).  The DigitallySigned of ServerKeyExchange/CertificateVerify is read with the
scheme (TLS 1.2+) if ``scheme(2) + len(2) + sig`` frames the rest exactly, else without.
With a context, the form of that version/kex is tried first.
"""

from __future__ import annotations

import struct
from typing import Any, cast  # cast(Any, [...]): Scapy annotates FieldListField defaults as fields

from scapy.fields import (
    ByteEnumField,
    ByteField,
    FieldLenField,
    FieldListField,
    IntField,
    PacketField,
    ShortEnumField,
    ShortField,
    ThreeBytesField,
)
from scapy.packet import Packet

from netsec_layers.constants.tls import (
    CertChainType,
    CertificateCompressionAlgorithm,
    CertificateStatusType,
    ClientCertificateType,
    ECCurveType,
    KeyUpdateRequest,
    NamedGroup,
    SignatureScheme,
    name_of,
)

from ._base import (
    HexFixedField,
    Len3Field,
    OpaqueField,
    RestField,
    TLSListField,
    TLSPacket,
    find_context,
    names,
    try_classes,
    u16,
    u24,
)
from .elements import TLSDistinguishedName, _Elem, parse_seq
from .extensions import required_extensions_fields

SIG_NAMES = names(SignatureScheme)
GROUP_NAMES = names(NamedGroup)


class HSBody(TLSPacket):
    """Base of handshake bodies: ``msg_type_value`` fills TLSHandshake.msg_type."""

    msg_type_value: int | None = None
    ext_context = "ch"

    def mysummary(self) -> str:
        return str((self.name or "").replace("TLS ", "").replace(" ", ""))


# --- DigitallySigned --------------------------------------------------------------------


class TLSSignature(_Elem):
    """DigitallySigned with a SignatureScheme (TLS 1.2 RFC 5246 §4.7, TLS 1.3 §4.4.3)."""

    name = "DigitallySigned"
    fields_desc = [
        ShortEnumField("scheme", 0x0804, SIG_NAMES),
        FieldLenField("signature_length", None, length_of="signature"),
        OpaqueField("signature", b"", length_from=lambda p: p.signature_length),
    ]


class TLSSignatureLegacy(_Elem):
    """DigitallySigned of SSL 3.0 - TLS 1.1 (RFC 4346 §4.7): no algorithm field."""

    name = "DigitallySigned (<= TLS 1.1)"
    fields_desc = [
        FieldLenField("signature_length", None, length_of="signature"),
        OpaqueField("signature", b"", length_from=lambda p: p.signature_length),
    ]


class TLSPacketField(PacketField):
    """One sub-packet filling the rest of the body, chosen by ``parse`` (None if absent)."""

    __slots__ = ["parse"]

    def __init__(self, name: str, default: Any, parse: Any) -> None:
        super().__init__(name, default, TLSSignature)
        self.parse = parse

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, Any]:
        if not s:
            return s, None
        return b"", self.parse(pkt, s)

    def addfield(self, pkt: Packet, s: bytes, val: Any) -> bytes:
        return s if val is None else s + bytes(val)


def parse_signature(parent: Packet, data: bytes) -> Packet:
    ver = find_context(parent).version
    order: list[type[Packet]] = [TLSSignature, TLSSignatureLegacy]
    if ver is not None and ver < 0x0303:
        order.reverse()
    p = try_classes(order, data, parent)
    if p is None:  # not this message form: let the caller try the next candidate class
        raise struct.error("bad DigitallySigned")
    return p


def _sig() -> TLSPacketField:
    return TLSPacketField("signature", None, parse_signature)


# --- NewSessionTicket ---------------------------------------------------------------------


class TLSNewSessionTicket(HSBody):
    """NewSessionTicket of TLS 1.2 (RFC 5077 §3.3)."""

    name = "TLS NewSessionTicket"
    msg_type_value = 4
    fields_desc = [
        IntField("ticket_lifetime_hint", 7200),
        FieldLenField("ticket_length", None, length_of="ticket"),
        OpaqueField("ticket", b"", length_from=lambda p: p.ticket_length),
    ]


class TLSNewSessionTicket13(HSBody):
    """NewSessionTicket of TLS 1.3 (RFC 8446 §4.6.1)."""

    name = "TLS NewSessionTicket (1.3)"
    msg_type_value = 4
    ext_context = "nst"
    fields_desc = [
        IntField("ticket_lifetime", 7200),
        IntField("ticket_age_add", 0),
        FieldLenField("ticket_nonce_length", None, length_of="ticket_nonce", fmt="B"),
        OpaqueField("ticket_nonce", b"\x00", length_from=lambda p: p.ticket_nonce_length),
        FieldLenField("ticket_length", None, length_of="ticket"),
        OpaqueField("ticket", b"", length_from=lambda p: p.ticket_length),
        *required_extensions_fields(),
    ]

    def mysummary(self) -> str:
        return "NewSessionTicket"


# --- Certificate --------------------------------------------------------------------------


class TLSCertificateASN1(_Elem):
    """ASN.1Cert of the TLS <= 1.2 certificate_list (RFC 5246 §7.4.2)."""

    name = "ASN.1Cert"
    fields_desc = [
        Len3Field("cert_length", None, length_of="cert"),
        OpaqueField("cert", b"", length_from=lambda p: p.cert_length),
    ]

    @staticmethod
    def wire_size(d: bytes) -> int:
        return 3 + u24(d, 0)


class TLSCertificateEntry(_Elem):
    """CertificateEntry of TLS 1.3 (RFC 8446 §4.4.2): cert_data + per-entry extensions."""

    name = "CertificateEntry"
    ext_context = "ct"
    fields_desc = [
        Len3Field("cert_data_length", None, length_of="cert_data"),
        OpaqueField("cert_data", b"", length_from=lambda p: p.cert_data_length),
        *required_extensions_fields(),
    ]

    @staticmethod
    def wire_size(d: bytes) -> int:
        n = 3 + u24(d, 0)
        return n + 2 + u16(d, n)


class TLSCertificate(HSBody):
    """Certificate of SSL 3.0 - TLS 1.2 (RFC 5246 §7.4.2)."""

    name = "TLS Certificate"
    msg_type_value = 11
    fields_desc = [
        Len3Field("certificates_length", None, length_of="certificates"),
        TLSListField(
            "certificates",
            [],
            parse_seq(TLSCertificateASN1),
            length_from=lambda p: p.certificates_length,
        ),
    ]

    def mysummary(self) -> str:
        return f"Certificate ({len(self.certificates)} certs)"


class TLSCertificate13(HSBody):
    """Certificate of TLS 1.3 (RFC 8446 §4.4.2)."""

    name = "TLS Certificate (1.3)"
    msg_type_value = 11
    fields_desc = [
        FieldLenField(
            "request_context_length", None, length_of="certificate_request_context", fmt="B"
        ),
        OpaqueField(
            "certificate_request_context", b"", length_from=lambda p: p.request_context_length
        ),
        Len3Field("certificates_length", None, length_of="certificates"),
        TLSListField(
            "certificates",
            [],
            parse_seq(TLSCertificateEntry),
            length_from=lambda p: p.certificates_length,
        ),
    ]

    def mysummary(self) -> str:
        return f"Certificate ({len(self.certificates)} certs)"


# --- ServerKeyExchange --------------------------------------------------------------------


class TLSServerKeyExchange(HSBody):
    """ServerKeyExchange of a key exchange we do not decode: params kept opaque."""

    name = "TLS ServerKeyExchange"
    msg_type_value = 12
    fields_desc = [RestField("params", b"")]


class TLSServerKeyExchangeECDH(HSBody):
    """ServerKeyExchange for ECDHE (RFC 8422 §5.4): ServerECDHParams + signature."""

    name = "TLS ServerKeyExchange (ECDHE)"
    msg_type_value = 12
    fields_desc = [
        ByteEnumField("curve_type", 3, names(ECCurveType)),
        ShortEnumField("named_curve", NamedGroup.x25519, GROUP_NAMES),
        FieldLenField("point_length", None, length_of="point", fmt="B"),
        OpaqueField("point", b"", length_from=lambda p: p.point_length),
        _sig(),
    ]

    def post_dissect(self, s: bytes) -> bytes:
        if self.curve_type != 3:  # explicit curves (RFC 8422 §5.4, deprecated): kept opaque
            raise struct.error("not a named curve")
        return s

    def mysummary(self) -> str:
        return f"ServerKeyExchange ECDHE {name_of(NamedGroup, self.named_curve)}"


class TLSServerKeyExchangeDH(HSBody):
    """ServerKeyExchange for DHE (RFC 5246 §7.4.3): ServerDHParams + signature."""

    name = "TLS ServerKeyExchange (DHE)"
    msg_type_value = 12
    fields_desc = [
        FieldLenField("p_length", None, length_of="dh_p"),
        OpaqueField("dh_p", b"", length_from=lambda p: p.p_length),
        FieldLenField("g_length", None, length_of="dh_g"),
        OpaqueField("dh_g", b"\x02", length_from=lambda p: p.g_length),
        FieldLenField("ys_length", None, length_of="dh_Ys"),
        OpaqueField("dh_Ys", b"", length_from=lambda p: p.ys_length),
        _sig(),
    ]


class TLSServerKeyExchangeRSA(HSBody):
    """ServerKeyExchange for RSA_EXPORT (RFC 2246 §7.4.3): ServerRSAParams + signature."""

    name = "TLS ServerKeyExchange (RSA export)"
    msg_type_value = 12
    fields_desc = [
        FieldLenField("modulus_length", None, length_of="rsa_modulus"),
        OpaqueField("rsa_modulus", b"", length_from=lambda p: p.modulus_length),
        FieldLenField("exponent_length", None, length_of="rsa_exponent"),
        OpaqueField("rsa_exponent", b"\x01\x00\x01", length_from=lambda p: p.exponent_length),
        _sig(),
    ]


# --- CertificateRequest -------------------------------------------------------------------

_CERT_TYPES = names(ClientCertificateType)


class TLSCertificateRequest(HSBody):
    """CertificateRequest of TLS 1.2 (RFC 5246 §7.4.4)."""

    name = "TLS CertificateRequest"
    msg_type_value = 13
    fields_desc = [
        FieldLenField("certificate_types_length", None, length_of="certificate_types", fmt="B"),
        FieldListField(
            "certificate_types",
            cast(Any, [1, 64]),
            ByteEnumField("t", 0, _CERT_TYPES),
            length_from=lambda p: p.certificate_types_length,
        ),
        FieldLenField("signature_algorithms_length", None, length_of="signature_algorithms"),
        FieldListField(
            "signature_algorithms",
            cast(Any, [0x0804, 0x0403]),
            ShortEnumField("a", 0, SIG_NAMES),
            length_from=lambda p: p.signature_algorithms_length,
        ),
        FieldLenField("authorities_length", None, length_of="authorities"),
        TLSListField(
            "authorities",
            [],
            parse_seq(TLSDistinguishedName),
            length_from=lambda p: p.authorities_length,
        ),
    ]


class TLSCertificateRequest11(HSBody):
    """CertificateRequest of SSL 3.0 - TLS 1.1 (RFC 4346 §7.4.4): no signature algorithms."""

    name = "TLS CertificateRequest (<= 1.1)"
    msg_type_value = 13
    fields_desc = [
        TLSCertificateRequest.fields_desc[0],
        TLSCertificateRequest.fields_desc[1],
        *TLSCertificateRequest.fields_desc[4:],
    ]

    def mysummary(self) -> str:
        return "CertificateRequest"


class TLSCertificateRequest13(HSBody):
    """CertificateRequest of TLS 1.3 (RFC 8446 §4.3.2)."""

    name = "TLS CertificateRequest (1.3)"
    msg_type_value = 13
    ext_context = "cr"
    fields_desc = [
        FieldLenField(
            "request_context_length", None, length_of="certificate_request_context", fmt="B"
        ),
        OpaqueField(
            "certificate_request_context", b"", length_from=lambda p: p.request_context_length
        ),
        *required_extensions_fields(),
    ]

    def mysummary(self) -> str:
        return "CertificateRequest"


# --- CertificateVerify, ClientKeyExchange ---------------------------------------------------


class TLSCertificateVerify(HSBody):
    """CertificateVerify (RFC 8446 §4.4.3; RFC 5246 §7.4.8; <= 1.1 without the scheme)."""

    name = "TLS CertificateVerify"
    msg_type_value = 15
    fields_desc = [_sig()]


class TLSClientKeyExchange(HSBody):
    """ClientKeyExchange we do not decode (PSK, SRP, GOST...): exchange_keys opaque."""

    name = "TLS ClientKeyExchange"
    msg_type_value = 16
    fields_desc = [RestField("exchange_keys", b"")]


class TLSClientKeyExchangeRSA(HSBody):
    """EncryptedPreMasterSecret with its 2-byte length (TLS 1.0+, RFC 5246 §7.4.7.1)."""

    name = "TLS ClientKeyExchange (RSA)"
    msg_type_value = 16
    fields_desc = [
        FieldLenField("encrypted_pre_master_length", None, length_of="encrypted_pre_master"),
        OpaqueField(
            "encrypted_pre_master", b"", length_from=lambda p: p.encrypted_pre_master_length
        ),
    ]


class TLSClientKeyExchangeSSL3RSA(HSBody):
    """EncryptedPreMasterSecret of SSL 3.0: no length prefix (RFC 6101 §5.6.7.1)."""

    name = "TLS ClientKeyExchange (SSL 3.0 RSA)"
    msg_type_value = 16
    fields_desc = [RestField("encrypted_pre_master", b"")]


class TLSClientKeyExchangeDH(HSBody):
    """ClientDiffieHellmanPublic, explicit Yc (RFC 5246 §7.4.7.2)."""

    name = "TLS ClientKeyExchange (DH)"
    msg_type_value = 16
    fields_desc = [
        FieldLenField("yc_length", None, length_of="dh_Yc"),
        OpaqueField("dh_Yc", b"", length_from=lambda p: p.yc_length),
    ]


class TLSClientKeyExchangeECDH(HSBody):
    """ClientECDiffieHellmanPublic (RFC 8422 §5.7)."""

    name = "TLS ClientKeyExchange (ECDH)"
    msg_type_value = 16
    fields_desc = [
        FieldLenField("point_length", None, length_of="ecdh_Yc", fmt="B"),
        OpaqueField("ecdh_Yc", b"", length_from=lambda p: p.point_length),
    ]


# --- the rarer messages ---------------------------------------------------------------------


class TLSURLAndHash(_Elem):
    """URLAndHash (RFC 6066 §5)."""

    name = "URLAndHash"
    fields_desc = [
        FieldLenField("url_length", None, length_of="url"),
        OpaqueField("url", b"", length_from=lambda p: p.url_length),
        ByteField("padding", 1),
        HexFixedField("sha1_hash", b"\x00" * 20, 20),
    ]

    @staticmethod
    def wire_size(d: bytes) -> int:
        return 2 + u16(d, 0) + 21


class TLSCertificateURL(HSBody):
    """CertificateURL (RFC 6066 §5)."""

    name = "TLS CertificateURL"
    msg_type_value = 21
    fields_desc = [
        ByteEnumField("chain_type", 0, names(CertChainType)),
        FieldLenField("url_and_hash_list_length", None, length_of="url_and_hash_list"),
        TLSListField(
            "url_and_hash_list",
            [],
            parse_seq(TLSURLAndHash),
            length_from=lambda p: p.url_and_hash_list_length,
        ),
    ]


class TLSCertificateStatus(HSBody):
    """CertificateStatus (RFC 6066 §8): an OCSP response."""

    name = "TLS CertificateStatus"
    msg_type_value = 22
    fields_desc = [
        ByteEnumField("status_type", 1, names(CertificateStatusType)),
        Len3Field("response_length", None, length_of="response"),
        OpaqueField("response", b"", length_from=lambda p: p.response_length),
    ]


class TLSSupplementalData(HSBody):
    """SupplementalData (RFC 4680 §3): the SupplementalDataEntry list kept opaque."""

    name = "TLS SupplementalData"
    msg_type_value = 23
    fields_desc = [
        Len3Field("supp_data_length", None, length_of="supp_data"),
        OpaqueField("supp_data", b"", length_from=lambda p: p.supp_data_length),
    ]


class TLSKeyUpdate(HSBody):
    """KeyUpdate (RFC 8446 §4.6.3)."""

    name = "TLS KeyUpdate"
    msg_type_value = 24
    fields_desc = [ByteEnumField("request_update", 0, names(KeyUpdateRequest))]


class TLSCompressedCertificate(HSBody):
    """CompressedCertificate (RFC 8879 §4)."""

    name = "TLS CompressedCertificate"
    msg_type_value = 25
    fields_desc = [
        ShortEnumField("algorithm", 2, names(CertificateCompressionAlgorithm)),
        ThreeBytesField("uncompressed_length", 0),
        Len3Field("compressed_length", None, length_of="compressed_certificate_message"),
        OpaqueField(
            "compressed_certificate_message", b"", length_from=lambda p: p.compressed_length
        ),
    ]


class TLSEKTKey(HSBody):
    """EKTKey (RFC 8870 §5.2.2)."""

    name = "TLS EKTKey"
    msg_type_value = 26
    fields_desc = [
        FieldLenField("ekt_key_length", None, length_of="ekt_key_value", fmt="B"),
        OpaqueField("ekt_key_value", b"", length_from=lambda p: p.ekt_key_length),
        FieldLenField("salt_length", None, length_of="srtp_master_salt", fmt="B"),
        OpaqueField("srtp_master_salt", b"", length_from=lambda p: p.salt_length),
        ShortField("ekt_spi", 0),
        ThreeBytesField("ekt_ttl", 0),
    ]


class TLSMessageHash(HSBody):
    """message_hash (RFC 8446 §4.4.1): replaces ClientHello1 in the HRR transcript."""

    name = "TLS MessageHash"
    msg_type_value = 254
    fields_desc = [RestField("hash", b"")]


KX_CLASSES: tuple[type[HSBody], ...] = (
    TLSNewSessionTicket,
    TLSNewSessionTicket13,
    TLSCertificate,
    TLSCertificate13,
    TLSServerKeyExchange,
    TLSServerKeyExchangeECDH,
    TLSServerKeyExchangeDH,
    TLSServerKeyExchangeRSA,
    TLSCertificateRequest,
    TLSCertificateRequest11,
    TLSCertificateRequest13,
    TLSCertificateVerify,
    TLSClientKeyExchange,
    TLSClientKeyExchangeRSA,
    TLSClientKeyExchangeSSL3RSA,
    TLSClientKeyExchangeDH,
    TLSClientKeyExchangeECDH,
    TLSCertificateURL,
    TLSCertificateStatus,
    TLSSupplementalData,
    TLSKeyUpdate,
    TLSCompressedCertificate,
    TLSEKTKey,
    TLSMessageHash,
)

_SKE_ALL: list[type[Packet]] = [
    TLSServerKeyExchangeECDH,
    TLSServerKeyExchangeDH,
    TLSServerKeyExchangeRSA,
]


def kx_body_classes(msg_type: int, ctx: Any) -> list[type[Packet]]:
    """Candidate classes (best first) for the version/kex-dependent messages."""
    ver: int | None = ctx.version
    kex: str | None = ctx.kex
    if msg_type == 4:
        if ver is not None and ver >= 0x0304:
            return [TLSNewSessionTicket13, TLSNewSessionTicket]
        return [TLSNewSessionTicket, TLSNewSessionTicket13]
    if msg_type == 11:
        if ver is not None and ver >= 0x0304:
            return [TLSCertificate13, TLSCertificate]
        return [TLSCertificate, TLSCertificate13]
    if msg_type == 12:
        by_kex: dict[str, list[type[Packet]]] = {
            "ECDHE": [TLSServerKeyExchangeECDH],
            "DHE": [TLSServerKeyExchangeDH],
            "RSA_EXPORT": [TLSServerKeyExchangeRSA],
            "RSA": [TLSServerKeyExchangeRSA],
        }
        first = by_kex.get(kex or "", [])
        if kex is not None and not first:  # PSK, SRP...: kept opaque
            return [TLSServerKeyExchange]
        return [*first, *[c for c in _SKE_ALL if c not in first], TLSServerKeyExchange]
    if msg_type == 13:
        if ver is None or ver >= 0x0304:
            return [TLSCertificateRequest13, TLSCertificateRequest, TLSCertificateRequest11]
        if ver == 0x0303:
            return [TLSCertificateRequest, TLSCertificateRequest13, TLSCertificateRequest11]
        return [TLSCertificateRequest11, TLSCertificateRequest, TLSCertificateRequest13]
    if msg_type == 16:
        # SSL 3.0 sends the encrypted pre-master without a length (RFC 6101 §5.6.7.1)
        rsa: list[type[Packet]] = (
            [TLSClientKeyExchangeSSL3RSA, TLSClientKeyExchangeRSA]
            if ver == 0x0300
            else [TLSClientKeyExchangeRSA]
        )
        if kex in ("RSA", "RSA_EXPORT"):
            return [*rsa, TLSClientKeyExchange]
        if kex in ("DHE", "DH"):
            return [TLSClientKeyExchangeDH, TLSClientKeyExchange]
        if kex in ("ECDHE", "ECDH"):
            return [TLSClientKeyExchangeECDH, TLSClientKeyExchange]
        if kex is not None:
            return [TLSClientKeyExchange]
        return [TLSClientKeyExchangeECDH, *rsa, TLSClientKeyExchange]
    return []
