"""TLS handshake header and hello messages (RFC 8446 §4, RFC 5246 §7.4).

:class:`TLSHandshake` is the 4-byte header (msg_type, uint24 length); the message body is
its payload, chosen by msg_type and the dissection context (see :func:`body_classes`).
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, cast  # cast(Any, [...]): Scapy annotates FieldListField defaults as fields

from scapy.fields import (
    ByteEnumField,
    FieldLenField,
    FieldListField,
    ShortEnumField,
)
from scapy.packet import NoPayload, Packet, bind_top_down

from netsec_layers.constants.tls import (
    HRR_RANDOM,
    CipherSuite,
    HandshakeType,
    ProtocolVersion,
    name_of,
    suite_kex,
)
from netsec_layers.layers.fast import register_init

from . import handshake_kx as kx
from ._base import (
    HexFixedField,
    Len3Field,
    OpaqueField,
    RestField,
    TLSPacket,
    names,
    try_classes,
    undecoded,
)
from .extensions import (
    TLSExtECPointFormats,
    TLSExtension,
    TLSExtExtendedMasterSecret,
    TLSExtKeyShare,
    TLSExtPSKKeyExchangeModes,
    TLSExtServerName,
    TLSExtSignatureAlgorithms,
    TLSExtSupportedGroups,
    TLSExtSupportedVersions,
    TLSServerName,
    extensions_fields,
    find_extension,
    required_extensions_fields,
)

HS_NAMES = names(HandshakeType)
SUITE_NAMES = names(CipherSuite)
VERSION_NAMES = names(ProtocolVersion)

_CH_RANDOM = hashlib.sha256(b"netsec_layers ClientHello.random").digest()
_CH_SESSION = hashlib.sha256(b"netsec_layers ClientHello.legacy_session_id").digest()
_SH_RANDOM = hashlib.sha256(b"netsec_layers ServerHello.random").digest()

DEFAULT_CIPHER_SUITES = [
    0x1301,
    0x1302,
    0x1303,
    0xC02B,
    0xC02F,
    0xC02C,
    0xC030,
    0xCCA9,
    0xCCA8,
    0xC009,
    0xC013,
    0xC00A,
    0xC014,
    0x009C,
    0x009D,
    0x002F,
    0x0035,
]


def default_client_extensions(sni: str | None = None) -> list[Packet]:
    """The extensions of the default :class:`TLSClientHello` (fresh objects)."""
    exts: list[Packet] = []
    if sni:
        exts.append(TLSExtServerName(server_names=[TLSServerName(server_name=sni.encode())]))
    exts += [
        TLSExtSupportedGroups(groups=[29, 23, 24]),
        TLSExtECPointFormats(formats=[0]),
        TLSExtSignatureAlgorithms(),
        TLSExtExtendedMasterSecret(),
        TLSExtSupportedVersions(versions=[0x0304, 0x0303]),
        TLSExtPSKKeyExchangeModes(modes=[1]),
        TLSExtKeyShare(),
    ]
    return exts


class TLSHandshake(TLSPacket):
    """Handshake message header (RFC 8446 §4): msg_type, uint24 length, then the body as
    payload.  ``msg_type``/``length`` None are taken from the body when building."""

    name = "TLS Handshake"
    computed_lengths = ("length",)
    fields_desc = [ByteEnumField("msg_type", None, HS_NAMES), Len3Field("length", None)]

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        if self.msg_type is None:
            mt = getattr(self.payload, "msg_type_value", None)
            p = bytes([mt if mt is not None else 0]) + p[1:]
        if self.length is None:
            n = len(pay)
            p = p[:1] + n.to_bytes(3, "big") + p[4:]
        return p + pay

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes | None]:
        if self.length is not None and len(s) > self.length:
            return s[: self.length], s[self.length :]
        return s, None

    def do_dissect_payload(self, s: bytes) -> None:
        if self.length is not None and len(s) < self.length:
            self.add_payload(
                undecoded(f"handshake message truncated: {len(s)} of {self.length} bytes", s)
            )
            return
        ctx = self.context()
        classes = body_classes(self.msg_type, s, ctx)
        p = try_classes(classes, s, None, underlayer=self)
        if p is None:
            p = undecoded(f"malformed {name_of(HandshakeType, self.msg_type)}", s)
        self.add_payload(p)
        _update_context(ctx, p)

    def mysummary(self) -> str:
        body = self.payload
        if isinstance(body, TLSPacket) and not isinstance(body, NoPayload):
            return body.mysummary()
        return name_of(HandshakeType, self.msg_type if self.msg_type is not None else 0)


class TLSHelloRequest(kx.HSBody):
    """HelloRequest (RFC 5246 §7.4.1.1): empty."""

    name = "TLS HelloRequest"
    msg_type_value = 0
    fields_desc = []


@register_init  # for bytes (no ``sni``) its __init__ is Packet's
class TLSClientHello(kx.HSBody):
    """ClientHello (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2).

    The default is a ClientHello a TLS 1.2/1.3 server accepts: legacy_version TLS 1.2,
    supported_versions {1.3, 1.2}, common AEAD suites, x25519/secp256r1/secp384r1,
    signature_algorithms and an x25519 key_share.  ``sni="host"`` adds server_name; the
    ``sni`` attribute reads it back.
    """

    name = "TLS ClientHello"
    msg_type_value = 1
    ext_context = "ch"
    fields_desc = [
        ShortEnumField("version", 0x0303, VERSION_NAMES),
        HexFixedField("random", _CH_RANDOM, 32),
        FieldLenField("session_id_length", None, length_of="session_id", fmt="B"),
        OpaqueField("session_id", _CH_SESSION, length_from=lambda p: p.session_id_length),
        FieldLenField("cipher_suites_length", None, length_of="cipher_suites"),
        FieldListField(
            "cipher_suites",
            cast(Any, DEFAULT_CIPHER_SUITES),
            ShortEnumField("cs", 0, SUITE_NAMES),
            length_from=lambda p: p.cipher_suites_length,
        ),
        FieldLenField("compression_methods_length", None, length_of="compression_methods", fmt="B"),
        FieldListField(
            "compression_methods",
            cast(Any, [0]),
            ByteEnumField("cm", 0, {0: "null", 1: "DEFLATE", 64: "LZS"}),
            length_from=lambda p: p.compression_methods_length,
        ),
        *extensions_fields("ch"),
    ]
    extensions: list[Packet] | None  # a field (Scapy's __getattr__); declared for the setter

    def __init__(
        self, _pkt: bytes = b"", *args: Any, sni: str | None = None, **kwargs: Any
    ) -> None:
        if not _pkt:
            if "extensions" not in kwargs:
                kwargs["extensions"] = default_client_extensions(sni)
                sni = None
            # RFC 8446 §4.1.2: 32 bytes from a secure random generator, and in compatibility
            # mode (Appendix D.4) a fresh 32-byte legacy_session_id: a crafted hello gets its own
            # (an explicit value is kept; dissected bytes are never touched)
            kwargs.setdefault("random", os.urandom(32))
            kwargs.setdefault("session_id", os.urandom(32))
        super().__init__(_pkt, *args, **kwargs)
        if sni is not None:
            self.sni = sni

    @property
    def sni(self) -> str | None:
        """The first host_name of the server_name extension (None if absent)."""
        ext = find_extension(self.extensions, 0)
        if isinstance(ext, TLSExtServerName):
            for s in ext.server_names:
                if isinstance(s, TLSServerName) and s.name_type == 0:
                    return str(s.server_name.decode(errors="replace"))
        return None

    @sni.setter
    def sni(self, host: str) -> None:
        exts: list[Packet] = [
            e for e in (self.extensions or []) if not (isinstance(e, TLSExtension) and e.type == 0)
        ]
        exts.insert(0, TLSExtServerName(server_names=[TLSServerName(server_name=host.encode())]))
        self.extensions = exts

    def mysummary(self) -> str:
        host = self.sni
        return f"ClientHello sni={host}" if host else "ClientHello"


@register_init  # for bytes its __init__ is Packet's
class TLSServerHello(kx.HSBody):
    """ServerHello (RFC 8446 §4.1.3, RFC 5246 §7.4.1.3)."""

    name = "TLS ServerHello"
    msg_type_value = 2
    ext_context = "sh"
    fields_desc = [
        ShortEnumField("version", 0x0303, VERSION_NAMES),
        HexFixedField("random", _SH_RANDOM, 32),
        FieldLenField("session_id_length", None, length_of="session_id", fmt="B"),
        OpaqueField("session_id", b"", length_from=lambda p: p.session_id_length),
        ShortEnumField("cipher_suite", 0x1301, SUITE_NAMES),
        ByteEnumField("compression_method", 0, {0: "null", 1: "DEFLATE", 64: "LZS"}),
        *extensions_fields("sh"),
    ]

    def __init__(self, _pkt: bytes = b"", *args: Any, **kwargs: Any) -> None:
        if not _pkt and type(self) is TLSServerHello:  # HelloRetryRequest's random is fixed
            kwargs.setdefault("random", os.urandom(32))  # RFC 8446 §4.1.3, RFC 5246 §7.4.1.3
        super().__init__(_pkt, *args, **kwargs)

    def negotiated_version(self) -> int:
        """supported_versions' selected_version if present, else legacy_version."""
        ext = find_extension(self.extensions, 43)
        sel = getattr(ext, "selected_version", None) if ext is not None else None
        return int(sel) if sel is not None else int(self.version)

    def mysummary(self) -> str:
        return f"ServerHello {name_of(CipherSuite, self.cipher_suite)}"


class TLSHelloRetryRequest(TLSServerHello):
    """HelloRetryRequest: a ServerHello whose random is SHA-256("HelloRetryRequest")
    (RFC 8446 §4.1.3, §4.1.4)."""

    name = "TLS HelloRetryRequest"
    ext_context = "hrr"
    fields_desc = [
        f if f.name != "random" else HexFixedField("random", HRR_RANDOM, 32)
        for f in TLSServerHello.fields_desc
    ]

    def mysummary(self) -> str:
        return f"HelloRetryRequest {name_of(CipherSuite, self.cipher_suite)}"


class TLSHelloVerifyRequest(kx.HSBody):
    """HelloVerifyRequest (RFC 6347 §4.2.1)."""

    name = "TLS HelloVerifyRequest"
    msg_type_value = 3
    fields_desc = [
        ShortEnumField("server_version", 0xFEFF, VERSION_NAMES),
        FieldLenField("cookie_length", None, length_of="cookie", fmt="B"),
        OpaqueField("cookie", b"", length_from=lambda p: p.cookie_length),
    ]


class TLSEndOfEarlyData(kx.HSBody):
    """EndOfEarlyData (RFC 8446 §4.5): empty."""

    name = "TLS EndOfEarlyData"
    msg_type_value = 5
    fields_desc = []


class TLSEncryptedExtensions(kx.HSBody):
    """EncryptedExtensions (RFC 8446 §4.3.1)."""

    name = "TLS EncryptedExtensions"
    msg_type_value = 8
    ext_context = "ee"
    fields_desc = [*required_extensions_fields()]


class TLSServerHelloDone(kx.HSBody):
    """ServerHelloDone (RFC 5246 §7.4.5): empty."""

    name = "TLS ServerHelloDone"
    msg_type_value = 14
    fields_desc = []


class TLSFinished(kx.HSBody):
    """Finished (RFC 8446 §4.4.4): verify_data (12 bytes in TLS 1.2, hash length in 1.3,
    36 bytes in SSL 3.0)."""

    name = "TLS Finished"
    msg_type_value = 20
    fields_desc = [RestField("verify_data", b"\x00" * 12)]


class TLSUnknownHandshake(kx.HSBody):
    """A handshake message of a type we do not decode: the body is kept as bytes."""

    name = "TLS Unknown Handshake"
    fields_desc = [RestField("body", b"")]


_FIXED: dict[int, list[type[Packet]]] = {
    0: [TLSHelloRequest],
    1: [TLSClientHello],
    3: [TLSHelloVerifyRequest],
    5: [TLSEndOfEarlyData],
    8: [TLSEncryptedExtensions],
    14: [TLSServerHelloDone],
    15: [kx.TLSCertificateVerify],
    20: [TLSFinished],
    21: [kx.TLSCertificateURL],
    22: [kx.TLSCertificateStatus],
    23: [kx.TLSSupplementalData],
    24: [kx.TLSKeyUpdate],
    25: [kx.TLSCompressedCertificate],
    26: [kx.TLSEKTKey],
    254: [kx.TLSMessageHash],
}


def body_classes(msg_type: int | None, body: bytes, ctx: Any) -> list[type[Packet]]:
    """Candidate body classes for a handshake message, best first.

    With the version/kex known from the context the right form is tried first; without it
    the heuristic is: try each form in turn and keep the first that consumes the body
    exactly and rebuilds it byte for byte (see :mod:`handshake_kx` for the order per type).
    """
    if msg_type is None:
        return [TLSUnknownHandshake]
    if msg_type == 2:
        if body[2:34] == HRR_RANDOM:
            return [TLSHelloRetryRequest, TLSServerHello]
        return [TLSServerHello]
    if msg_type in _FIXED:
        return _FIXED[msg_type]
    kxc = kx.kx_body_classes(msg_type, ctx)
    if kxc:
        return kxc
    return [TLSUnknownHandshake]


def _update_context(ctx: Any, body: Packet) -> None:
    """ServerHello fixes version, cipher suite and key exchange for what follows."""
    if isinstance(body, TLSServerHello) and not isinstance(body, TLSHelloRetryRequest):
        try:
            ctx.version = body.negotiated_version()
            ctx.cipher_suite = int(body.cipher_suite)
            ctx.kex = suite_kex(ctx.cipher_suite)
        except (TypeError, ValueError):
            pass
    elif isinstance(body, TLSHelloRetryRequest):
        ctx.version = 0x0304


_BODIES: tuple[type[kx.HSBody], ...] = (
    TLSHelloRequest,
    TLSClientHello,
    TLSServerHello,
    TLSHelloRetryRequest,
    TLSHelloVerifyRequest,
    TLSEndOfEarlyData,
    TLSEncryptedExtensions,
    TLSServerHelloDone,
    TLSFinished,
    *kx.KX_CLASSES,
)
for _cls in _BODIES:
    bind_top_down(TLSHandshake, _cls, msg_type=_cls.msg_type_value)


__all__ = [
    "DEFAULT_CIPHER_SUITES",
    "TLSClientHello",
    "TLSEncryptedExtensions",
    "TLSEndOfEarlyData",
    "TLSFinished",
    "TLSHandshake",
    "TLSHelloRequest",
    "TLSHelloRetryRequest",
    "TLSHelloVerifyRequest",
    "TLSServerHello",
    "TLSServerHelloDone",
    "TLSUnknownHandshake",
    "body_classes",
    "default_client_extensions",
]
