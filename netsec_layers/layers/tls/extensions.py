"""TLS extensions (RFC 8446 §4.2, RFC 6066, RFC 7301, RFC 8422, ...), typed per context.

The same extension type has different bodies in different messages (RFC 8446 §4.2 table):
key_share is a list in ClientHello, one entry in ServerHello and a bare group in
HelloRetryRequest; supported_versions, pre_shared_key, early_data, status_request,
server_name, signed_certificate_timestamp differ too.  Every message class that carries
extensions has an ``ext_context`` ("ch", "sh", "hrr", "ee", "nst", "ct", "cr") and
:func:`parse_extensions` picks the class by (type, context).  A typed parse that does not
rebuild to the same bytes falls back to the generic :class:`TLSExtension`.
"""

from __future__ import annotations

import struct
from typing import Any, cast  # cast(Any, [...]): Scapy annotates FieldListField defaults as fields

from scapy.fields import (
    ByteEnumField,
    ByteField,
    ConditionalField,
    FieldLenField,
    FieldListField,
    IntField,
    ShortEnumField,
    ShortField,
)
from scapy.packet import Packet

from netsec_layers.constants.tls import (
    CertificateCompressionAlgorithm,
    CertificateStatusType,
    ECPointFormat,
    ExtensionType,
    HeartbeatMode,
    MaxFragmentLength,
    NamedGroup,
    ProtocolVersion,
    PskKeyExchangeMode,
    SignatureScheme,
    SRTPProtectionProfile,
    name_of,
)

from ._base import (
    Len3Field,
    OpaqueField,
    OptLenField,
    TLSListField,
    names,
    try_classes,
    u16,
    undecoded,
)
from .ech import HPKE_AEAD_NAMES, HPKE_KDF_NAMES, parse_ech_configs
from .elements import (
    TLSDistinguishedName,
    TLSKeyShareEntry,
    TLSOIDFilter,
    TLSProtocolName,
    TLSPSKBinder,
    TLSPSKIdentity,
    TLSSerializedSCT,
    TLSServerName,
    _Elem,
    parse_seq,
)

EXT_NAMES = names(ExtensionType)
GROUP_NAMES = names(NamedGroup)
SIG_NAMES = names(SignatureScheme)
VERSION_NAMES = names(ProtocolVersion)


# --- extensions -------------------------------------------------------------------------


class TLSExtension(_Elem):
    """Any extension kept as type + opaque bytes (unknown types, GREASE, malformed bodies)."""

    name = "TLS Extension"
    fields_desc = [
        ShortEnumField("type", 0, EXT_NAMES),
        FieldLenField("len", None, length_of="data"),
        OpaqueField("data", b"", length_from=lambda p: p.len),
    ]

    @staticmethod
    def wire_size(d: bytes) -> int:
        return 4 + u16(d, 2)

    def mysummary(self) -> str:
        return name_of(ExtensionType, self.type)


def _hdr(t: int) -> list[Any]:
    return [ShortEnumField("type", t, EXT_NAMES), ShortField("len", None)]


class _TypedExt(TLSExtension):
    """A typed extension: ``len`` (None) is computed from the body in post_build."""

    computed_lengths = ("len",)

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        if self.len is None:
            p = p[:2] + struct.pack("!H", len(p) - 4) + p[4:]
        return p + pay

    def computed_length(self, name: str, raw: bytes) -> int:
        """What ``post_build`` computes for ``len`` when the extension builds to ``raw``."""
        return len(raw) - 4

    def mysummary(self) -> str:
        return name_of(ExtensionType, self.type)


def _vec(name: str, target: str, fmt: str = "H") -> FieldLenField:
    return FieldLenField(name, None, length_of=target, fmt=fmt)


class TLSExtServerName(_TypedExt):
    """server_name (RFC 6066 §3); empty in ServerHello/EncryptedExtensions."""

    name = "TLS Ext server_name"
    fields_desc = [
        *_hdr(0),
        OptLenField("server_names_length", None, length_of="server_names"),
        TLSListField(
            "server_names",
            [],
            parse_seq(TLSServerName),
            length_from=lambda p: p.server_names_length,
        ),
    ]

    def mysummary(self) -> str:
        hosts = [
            s.server_name.decode(errors="replace")
            for s in self.server_names
            if isinstance(s, TLSServerName)
        ]
        return f"server_name {','.join(hosts)}".rstrip()


class TLSExtMaxFragmentLength(_TypedExt):
    """max_fragment_length (RFC 6066 §4)."""

    name = "TLS Ext max_fragment_length"
    fields_desc = [*_hdr(1), ByteEnumField("max_fragment_length", 4, names(MaxFragmentLength))]


class TLSExtStatusRequest(_TypedExt):
    """status_request in ClientHello/CertificateRequest: CertificateStatusRequest
    (RFC 6066 §8); empty (absent body) in ServerHello."""

    name = "TLS Ext status_request"
    fields_desc = [
        *_hdr(5),
        ConditionalField(
            ByteEnumField("status_type", 1, names(CertificateStatusType)), lambda p: p.len != 0
        ),
        ConditionalField(
            _vec("responder_id_list_length", "responder_id_list"), lambda p: p.len != 0
        ),
        ConditionalField(
            OpaqueField("responder_id_list", b"", length_from=lambda p: p.responder_id_list_length),
            lambda p: p.len != 0,
        ),
        ConditionalField(
            _vec("request_extensions_length", "request_extensions"), lambda p: p.len != 0
        ),
        ConditionalField(
            OpaqueField(
                "request_extensions", b"", length_from=lambda p: p.request_extensions_length
            ),
            lambda p: p.len != 0,
        ),
    ]


class TLSExtStatusRequestEmpty(_TypedExt):
    """status_request acknowledgement (empty) in ServerHello (RFC 6066 §8)."""

    name = "TLS Ext status_request"
    fields_desc = [*_hdr(5)]


class TLSExtCertificateStatus(_TypedExt):
    """status_request in a TLS 1.3 CertificateEntry: CertificateStatus (RFC 8446 §4.4.2.1)."""

    name = "TLS Ext status_request (OCSP response)"
    fields_desc = [
        *_hdr(5),
        ByteEnumField("status_type", 1, names(CertificateStatusType)),
        Len3Field("response_length", None, length_of="response"),
        OpaqueField("response", b"", length_from=lambda p: p.response_length),
    ]


class TLSExtSupportedGroups(_TypedExt):
    """supported_groups (RFC 8446 §4.2.7, RFC 8422 §5.1.1)."""

    name = "TLS Ext supported_groups"
    fields_desc = [
        *_hdr(10),
        _vec("groups_length", "groups"),
        FieldListField(
            "groups",
            cast(Any, [NamedGroup.x25519, NamedGroup.secp256r1]),
            ShortEnumField("g", 0, GROUP_NAMES),
            length_from=lambda p: p.groups_length,
        ),
    ]


class TLSExtECPointFormats(_TypedExt):
    """ec_point_formats (RFC 8422 §5.1.2)."""

    name = "TLS Ext ec_point_formats"
    fields_desc = [
        *_hdr(11),
        _vec("formats_length", "formats", "B"),
        FieldListField(
            "formats",
            cast(Any, [0]),
            ByteEnumField("f", 0, names(ECPointFormat)),
            length_from=lambda p: p.formats_length,
        ),
    ]


class TLSExtSignatureAlgorithms(_TypedExt):
    """signature_algorithms (RFC 8446 §4.2.3)."""

    name = "TLS Ext signature_algorithms"
    fields_desc = [
        *_hdr(13),
        _vec("algorithms_length", "algorithms"),
        FieldListField(
            "algorithms",
            cast(Any, [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0807]),
            ShortEnumField("a", 0, SIG_NAMES),
            length_from=lambda p: p.algorithms_length,
        ),
    ]


class TLSExtSignatureAlgorithmsCert(TLSExtSignatureAlgorithms):
    """signature_algorithms_cert (RFC 8446 §4.2.3)."""

    name = "TLS Ext signature_algorithms_cert"
    fields_desc = [*_hdr(50), *TLSExtSignatureAlgorithms.fields_desc[2:]]


class TLSExtUseSRTP(_TypedExt):
    """use_srtp (RFC 5764 §4.1.1)."""

    name = "TLS Ext use_srtp"
    fields_desc = [
        *_hdr(14),
        _vec("profiles_length", "profiles"),
        FieldListField(
            "profiles",
            cast(Any, [1]),
            ShortEnumField("p", 0, names(SRTPProtectionProfile)),
            length_from=lambda p: p.profiles_length,
        ),
        _vec("mki_length", "mki", "B"),
        OpaqueField("mki", b"", length_from=lambda p: p.mki_length),
    ]


class TLSExtHeartbeat(_TypedExt):
    """heartbeat (RFC 6520 §2)."""

    name = "TLS Ext heartbeat"
    fields_desc = [*_hdr(15), ByteEnumField("mode", 1, names(HeartbeatMode))]


class TLSExtALPN(_TypedExt):
    """application_layer_protocol_negotiation (RFC 7301 §3.1)."""

    name = "TLS Ext ALPN"
    fields_desc = [
        *_hdr(16),
        _vec("protocols_length", "protocols"),
        TLSListField(
            "protocols", [], parse_seq(TLSProtocolName), length_from=lambda p: p.protocols_length
        ),
    ]

    def mysummary(self) -> str:
        protos = [
            x.protocol.decode(errors="replace")
            for x in self.protocols
            if isinstance(x, TLSProtocolName)
        ]
        return f"alpn {','.join(protos)}"


class TLSExtSignedCertificateTimestamp(_TypedExt):
    """signed_certificate_timestamp (RFC 6962 §3.3.1): empty in ClientHello, a
    SignedCertificateTimestampList in ServerHello / CertificateEntry."""

    name = "TLS Ext signed_certificate_timestamp"
    fields_desc = [
        *_hdr(18),
        OptLenField("sct_list_length", None, length_of="sct_list"),
        TLSListField(
            "sct_list", [], parse_seq(TLSSerializedSCT), length_from=lambda p: p.sct_list_length
        ),
    ]


class TLSExtPadding(_TypedExt):
    """padding (RFC 7685): zero bytes."""

    name = "TLS Ext padding"
    fields_desc = [*_hdr(21), OpaqueField("padding", b"", length_from=lambda p: p.len)]


class TLSExtEncryptThenMAC(_TypedExt):
    """encrypt_then_mac (RFC 7366): empty."""

    name = "TLS Ext encrypt_then_mac"
    fields_desc = [*_hdr(22)]


class TLSExtExtendedMasterSecret(_TypedExt):
    """extended_master_secret (RFC 7627): empty."""

    name = "TLS Ext extended_master_secret"
    fields_desc = [*_hdr(23)]


class TLSExtCompressCertificate(_TypedExt):
    """compress_certificate (RFC 8879 §3)."""

    name = "TLS Ext compress_certificate"
    fields_desc = [
        *_hdr(27),
        _vec("algorithms_length", "algorithms", "B"),
        FieldListField(
            "algorithms",
            cast(Any, [2]),
            ShortEnumField("a", 0, names(CertificateCompressionAlgorithm)),
            length_from=lambda p: p.algorithms_length,
        ),
    ]


class TLSExtRecordSizeLimit(_TypedExt):
    """record_size_limit (RFC 8449 §4)."""

    name = "TLS Ext record_size_limit"
    fields_desc = [*_hdr(28), ShortField("record_size_limit", 16385)]


class TLSExtSessionTicket(_TypedExt):
    """session_ticket (RFC 5077 §3.2): the ticket, or empty."""

    name = "TLS Ext session_ticket"
    fields_desc = [*_hdr(35), OpaqueField("ticket", b"", length_from=lambda p: p.len)]


class TLSExtPreSharedKey(_TypedExt):
    """pre_shared_key in ClientHello: OfferedPsks (RFC 8446 §4.2.11)."""

    name = "TLS Ext pre_shared_key"
    fields_desc = [
        *_hdr(41),
        _vec("identities_length", "identities"),
        TLSListField(
            "identities", [], parse_seq(TLSPSKIdentity), length_from=lambda p: p.identities_length
        ),
        _vec("binders_length", "binders"),
        TLSListField(
            "binders", [], parse_seq(TLSPSKBinder), length_from=lambda p: p.binders_length
        ),
    ]


class TLSExtPreSharedKeyServer(_TypedExt):
    """pre_shared_key in ServerHello: selected_identity (RFC 8446 §4.2.11)."""

    name = "TLS Ext pre_shared_key (selected)"
    fields_desc = [*_hdr(41), ShortField("selected_identity", 0)]


class TLSExtEarlyData(_TypedExt):
    """early_data in ClientHello / EncryptedExtensions: empty (RFC 8446 §4.2.10)."""

    name = "TLS Ext early_data"
    fields_desc = [*_hdr(42)]


class TLSExtEarlyDataTicket(_TypedExt):
    """early_data in NewSessionTicket: max_early_data_size (RFC 8446 §4.2.10)."""

    name = "TLS Ext early_data (max size)"
    fields_desc = [*_hdr(42), IntField("max_early_data_size", 0)]


class TLSExtSupportedVersions(_TypedExt):
    """supported_versions in ClientHello: a list (RFC 8446 §4.2.1)."""

    name = "TLS Ext supported_versions"
    fields_desc = [
        *_hdr(43),
        _vec("versions_length", "versions", "B"),
        FieldListField(
            "versions",
            cast(Any, [0x0304, 0x0303]),
            ShortEnumField("v", 0, VERSION_NAMES),
            length_from=lambda p: p.versions_length,
        ),
    ]


class TLSExtSupportedVersionsServer(_TypedExt):
    """supported_versions in ServerHello/HRR: selected_version (RFC 8446 §4.2.1)."""

    name = "TLS Ext supported_versions (selected)"
    fields_desc = [*_hdr(43), ShortEnumField("selected_version", 0x0304, VERSION_NAMES)]


class TLSExtCookie(_TypedExt):
    """cookie (RFC 8446 §4.2.2)."""

    name = "TLS Ext cookie"
    fields_desc = [
        *_hdr(44),
        _vec("cookie_length", "cookie"),
        OpaqueField("cookie", b"", length_from=lambda p: p.cookie_length),
    ]


class TLSExtPSKKeyExchangeModes(_TypedExt):
    """psk_key_exchange_modes (RFC 8446 §4.2.9)."""

    name = "TLS Ext psk_key_exchange_modes"
    fields_desc = [
        *_hdr(45),
        _vec("modes_length", "modes", "B"),
        FieldListField(
            "modes",
            cast(Any, [1]),
            ByteEnumField("m", 0, names(PskKeyExchangeMode)),
            length_from=lambda p: p.modes_length,
        ),
    ]


class TLSExtCertificateAuthorities(_TypedExt):
    """certificate_authorities (RFC 8446 §4.2.4)."""

    name = "TLS Ext certificate_authorities"
    fields_desc = [
        *_hdr(47),
        _vec("authorities_length", "authorities"),
        TLSListField(
            "authorities",
            [],
            parse_seq(TLSDistinguishedName),
            length_from=lambda p: p.authorities_length,
        ),
    ]


class TLSExtOIDFilters(_TypedExt):
    """oid_filters (RFC 8446 §4.2.5)."""

    name = "TLS Ext oid_filters"
    fields_desc = [
        *_hdr(48),
        _vec("filters_length", "filters"),
        TLSListField(
            "filters", [], parse_seq(TLSOIDFilter), length_from=lambda p: p.filters_length
        ),
    ]


class TLSExtPostHandshakeAuth(_TypedExt):
    """post_handshake_auth (RFC 8446 §4.2.6): empty."""

    name = "TLS Ext post_handshake_auth"
    fields_desc = [*_hdr(49)]


# A real-looking x25519 public key (RFC 7748 §6.1, Alice's public key).
X25519_SAMPLE = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")


class TLSExtKeyShare(_TypedExt):
    """key_share in ClientHello: client_shares (RFC 8446 §4.2.8)."""

    name = "TLS Ext key_share"
    fields_desc = [
        *_hdr(51),
        _vec("client_shares_length", "client_shares"),
        TLSListField(
            "client_shares",
            [TLSKeyShareEntry(group=29, key_exchange=X25519_SAMPLE)],
            parse_seq(TLSKeyShareEntry),
            length_from=lambda p: p.client_shares_length,
        ),
    ]


class TLSExtKeyShareServer(_TypedExt):
    """key_share in ServerHello: server_share (RFC 8446 §4.2.8)."""

    name = "TLS Ext key_share (server)"
    fields_desc = [
        *_hdr(51),
        ShortEnumField("group", NamedGroup.x25519, GROUP_NAMES),
        _vec("key_exchange_length", "key_exchange"),
        OpaqueField("key_exchange", b"", length_from=lambda p: p.key_exchange_length),
    ]


class TLSExtKeyShareHRR(_TypedExt):
    """key_share in HelloRetryRequest: selected_group (RFC 8446 §4.2.8)."""

    name = "TLS Ext key_share (selected group)"
    fields_desc = [*_hdr(51), ShortEnumField("selected_group", NamedGroup.x25519, GROUP_NAMES)]


class TLSExtRenegotiationInfo(_TypedExt):
    """renegotiation_info (RFC 5746 §3.2)."""

    name = "TLS Ext renegotiation_info"
    fields_desc = [
        *_hdr(0xFF01),
        _vec("renegotiated_connection_length", "renegotiated_connection", "B"),
        OpaqueField(
            "renegotiated_connection", b"", length_from=lambda p: p.renegotiated_connection_length
        ),
    ]


def _outer(p: Packet) -> bool:
    return bool(p.ech_type == 0)


class TLSExtEncryptedClientHello(_TypedExt):
    """encrypted_client_hello in ClientHello (RFC 9849 §5): outer form with HPKE cipher
    suite, config_id, enc and payload (``ech_payload``); the inner form is just ``ech_type`` = 1."""

    name = "TLS Ext encrypted_client_hello"
    fields_desc = [
        *_hdr(0xFE0D),
        ByteEnumField("ech_type", 0, {0: "outer", 1: "inner"}),
        ConditionalField(ShortEnumField("kdf_id", 1, HPKE_KDF_NAMES), _outer),
        ConditionalField(ShortEnumField("aead_id", 1, HPKE_AEAD_NAMES), _outer),
        ConditionalField(ByteField("config_id", 0), _outer),
        ConditionalField(_vec("enc_length", "enc"), _outer),
        ConditionalField(OpaqueField("enc", b"", length_from=lambda p: p.enc_length), _outer),
        ConditionalField(_vec("payload_length", "ech_payload"), _outer),
        ConditionalField(
            OpaqueField("ech_payload", b"", length_from=lambda p: p.payload_length), _outer
        ),
    ]


class TLSExtECHOuterExtensions(_TypedExt):
    """ech_outer_extensions (RFC 9849 §5.1), only in EncodedClientHelloInner: the types of
    ClientHelloOuter extensions that stand in its place, ``ExtensionType OuterExtensions<2..254>``."""

    name = "TLS Ext ech_outer_extensions"
    fields_desc = [
        *_hdr(0xFD00),
        _vec("outer_extensions_length", "outer_extensions", "B"),
        FieldListField(
            "outer_extensions",
            cast(Any, [10, 13]),
            ShortEnumField("t", 0, EXT_NAMES),
            length_from=lambda p: p.outer_extensions_length,
        ),
    ]


class TLSExtECHRetryConfigs(_TypedExt):
    """encrypted_client_hello in EncryptedExtensions (RFC 9849 §5): ``retry_configs``, an
    ECHConfigList the client may retry with after the server rejected ECH."""

    name = "TLS Ext encrypted_client_hello (retry_configs)"
    fields_desc = [
        *_hdr(0xFE0D),
        _vec("retry_configs_length", "retry_configs"),
        TLSListField(
            "retry_configs", [], parse_ech_configs, length_from=lambda p: p.retry_configs_length
        ),
    ]


class TLSExtECHConfirmation(_TypedExt):
    """encrypted_client_hello in HelloRetryRequest (RFC 9849 §7.2.1): the 8-byte
    ``confirmation`` of a server that accepted ECH."""

    name = "TLS Ext encrypted_client_hello (HRR confirmation)"
    fields_desc = [*_hdr(0xFE0D), OpaqueField("confirmation", bytes(8), length_from=lambda p: 8)]


_BY_TYPE: dict[int, type[TLSExtension]] = {
    0: TLSExtServerName,
    1: TLSExtMaxFragmentLength,
    5: TLSExtStatusRequest,
    10: TLSExtSupportedGroups,
    11: TLSExtECPointFormats,
    13: TLSExtSignatureAlgorithms,
    14: TLSExtUseSRTP,
    15: TLSExtHeartbeat,
    16: TLSExtALPN,
    18: TLSExtSignedCertificateTimestamp,
    21: TLSExtPadding,
    22: TLSExtEncryptThenMAC,
    23: TLSExtExtendedMasterSecret,
    27: TLSExtCompressCertificate,
    28: TLSExtRecordSizeLimit,
    35: TLSExtSessionTicket,
    41: TLSExtPreSharedKey,
    42: TLSExtEarlyData,
    43: TLSExtSupportedVersions,
    44: TLSExtCookie,
    45: TLSExtPSKKeyExchangeModes,
    47: TLSExtCertificateAuthorities,
    48: TLSExtOIDFilters,
    49: TLSExtPostHandshakeAuth,
    50: TLSExtSignatureAlgorithmsCert,
    51: TLSExtKeyShare,
    0xFF01: TLSExtRenegotiationInfo,
    0xFE0D: TLSExtEncryptedClientHello,
    0xFD00: TLSExtECHOuterExtensions,
}

# (type, context) overrides; contexts: ch sh hrr ee nst ct cr (see module docstring)
_BY_CONTEXT: dict[tuple[int, str], type[TLSExtension] | None] = {
    (5, "sh"): TLSExtStatusRequestEmpty,
    (5, "ee"): TLSExtStatusRequestEmpty,
    (5, "ct"): TLSExtCertificateStatus,
    (41, "sh"): TLSExtPreSharedKeyServer,
    (42, "nst"): TLSExtEarlyDataTicket,
    (43, "sh"): TLSExtSupportedVersionsServer,
    (43, "hrr"): TLSExtSupportedVersionsServer,
    (51, "sh"): TLSExtKeyShareServer,
    (51, "hrr"): TLSExtKeyShareHRR,
    (0xFE0D, "ee"): TLSExtECHRetryConfigs,
    (0xFE0D, "hrr"): TLSExtECHConfirmation,
}


def extension_class(ext_type: int, context: str) -> type[TLSExtension]:
    """Class used for extension ``ext_type`` in message context ``context``."""
    if (ext_type, context) in _BY_CONTEXT:
        return _BY_CONTEXT[(ext_type, context)] or TLSExtension
    return _BY_TYPE.get(ext_type, TLSExtension)


def parse_extensions(parent: Packet, data: bytes) -> list[Packet]:
    """Parse an extensions block; never raises, always rebuilds to ``data``."""
    context = getattr(parent, "ext_context", "ch")
    out: list[Packet] = []
    off = 0
    while off < len(data):
        rest = data[off:]
        if len(rest) < 4:
            out.append(undecoded("truncated extension header", rest, parent))
            break
        n = 4 + u16(rest, 2)
        if n > len(rest):
            out.append(
                undecoded(
                    f"extension {name_of(ExtensionType, u16(rest, 0))} truncated: "
                    f"{len(rest) - 4} of {n - 4} bytes",
                    rest,
                    parent,
                )
            )
            break
        chunk = rest[:n]
        cls = extension_class(u16(chunk, 0), context)
        p = try_classes([cls, TLSExtension] if cls is not TLSExtension else [cls], chunk, parent)
        out.append(p if p is not None else undecoded("bad extension", chunk, parent))
        off += n
    return out


def extensions_fields(context: str) -> list[Any]:
    """The optional ``extensions_length`` + ``extensions`` pair of a hello message."""
    return [
        OptLenField("extensions_length", None, length_of="extensions"),
        TLSListField("extensions", [], parse_extensions, length_from=lambda p: p.extensions_length),
    ]


def required_extensions_fields() -> list[Any]:
    """A mandatory ``extensions_length`` + ``extensions`` vector (EE, NST 1.3, ...)."""
    return [
        FieldLenField("extensions_length", None, length_of="extensions"),
        TLSListField("extensions", [], parse_extensions, length_from=lambda p: p.extensions_length),
    ]


def find_extension(exts: list[Packet] | None, ext_type: int) -> Packet | None:
    """First extension of ``ext_type`` in a list (None if absent)."""
    for e in exts or []:
        if isinstance(e, TLSExtension) and e.type == ext_type:
            return e
    return None


__all__ = [
    "TLSDistinguishedName",
    "TLSExtALPN",
    "TLSExtCertificateAuthorities",
    "TLSExtCertificateStatus",
    "TLSExtCompressCertificate",
    "TLSExtCookie",
    "TLSExtECPointFormats",
    "TLSExtEarlyData",
    "TLSExtEarlyDataTicket",
    "TLSExtECHConfirmation",
    "TLSExtECHOuterExtensions",
    "TLSExtECHRetryConfigs",
    "TLSExtEncryptThenMAC",
    "TLSExtEncryptedClientHello",
    "TLSExtExtendedMasterSecret",
    "TLSExtHeartbeat",
    "TLSExtKeyShare",
    "TLSExtKeyShareHRR",
    "TLSExtKeyShareServer",
    "TLSExtMaxFragmentLength",
    "TLSExtOIDFilters",
    "TLSExtPSKKeyExchangeModes",
    "TLSExtPadding",
    "TLSExtPostHandshakeAuth",
    "TLSExtPreSharedKey",
    "TLSExtPreSharedKeyServer",
    "TLSExtRecordSizeLimit",
    "TLSExtRenegotiationInfo",
    "TLSExtServerName",
    "TLSExtSessionTicket",
    "TLSExtSignatureAlgorithms",
    "TLSExtSignatureAlgorithmsCert",
    "TLSExtSignedCertificateTimestamp",
    "TLSExtStatusRequest",
    "TLSExtStatusRequestEmpty",
    "TLSExtSupportedGroups",
    "TLSExtSupportedVersions",
    "TLSExtSupportedVersionsServer",
    "TLSExtUseSRTP",
    "TLSExtension",
    "TLSKeyShareEntry",
    "TLSOIDFilter",
    "TLSPSKBinder",
    "TLSPSKIdentity",
    "TLSProtocolName",
    "TLSSerializedSCT",
    "TLSServerName",
    "X25519_SAMPLE",
    "extension_class",
    "find_extension",
    "parse_extensions",
]
