"""DTLS handshake messages (RFC 6347 §4.2.2, RFC 9147 §5.2).

:class:`DTLSHandshake` is the 12-byte header (msg_type, length, message_seq, fragment_offset,
fragment_length).  A fragment that holds the whole message (offset 0, fragment_length = length)
gets its body dissected with the TLS body classes of :mod:`netsec_layers.layers.tls` (the
ClientHello is DTLS's own, with the cookie of RFC 6347 §4.2.1); any other fragment keeps its
bytes in a :class:`DTLSHandshakeFragmentBody` until a reassembler (the session tracker) puts
the message together.  ACK messages (RFC 9147 §7) are here too.
"""

from __future__ import annotations

import os
from typing import Any, cast

from scapy.fields import (
    BitField,
    ByteEnumField,
    FieldLenField,
    FieldListField,
    PacketListField,
    ShortEnumField,
    ShortField,
)
from scapy.packet import NoPayload, Packet

from netsec_layers.constants.tls import CipherSuite, HandshakeType, ProtocolVersion, name_of
from netsec_layers.layers.fast import register_init
from netsec_layers.layers.tls._base import (
    HexFixedField,
    Len3Field,
    OpaqueField,
    RestField,
    TLSContext,
    TLSPacket,
    names,
    try_classes,
    undecoded,
)
from netsec_layers.layers.tls.extensions import extensions_fields
from netsec_layers.layers.tls.handshake import (
    _CH_RANDOM,
    DEFAULT_CIPHER_SUITES,
    TLSHelloRetryRequest,
    TLSServerHello,
    body_classes,
)
from netsec_layers.layers.tls.handshake_kx import HSBody

HS_NAMES = names(HandshakeType)
VERSION_NAMES = names(ProtocolVersion)
SUITE_NAMES = names(CipherSuite)

# DTLS wire version -> the TLS version whose message formats it uses (RFC 6347 §1, RFC 9147 §1)
TLS_EQUIVALENT = {0xFEFF: 0x0302, 0xFEFD: 0x0303, 0xFEFC: 0x0304}
HANDSHAKE_HEADER_LEN = 12


class DTLSContext(TLSContext):
    """The TLS dissection context plus what DTLS needs: the connection ID length used by the
    receiver of the records being dissected (RFC 9146 §3: it is not on the wire)."""

    def __init__(self, *, cid_length: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cid_length = cid_length


@register_init  # for bytes its __init__ is Packet's
class DTLSClientHello(HSBody):
    """ClientHello of DTLS (RFC 6347 §4.2.1; RFC 9147 §5.3 keeps it as legacy_cookie): the TLS
    ClientHello with a cookie after session_id."""

    name = "DTLS ClientHello"
    msg_type_value = 1
    ext_context = "ch"
    fields_desc = [
        ShortEnumField("version", 0xFEFD, VERSION_NAMES),
        HexFixedField("random", _CH_RANDOM, 32),
        FieldLenField("session_id_length", None, length_of="session_id", fmt="B"),
        OpaqueField("session_id", b"", length_from=lambda p: p.session_id_length),
        FieldLenField("cookie_length", None, length_of="cookie", fmt="B"),
        OpaqueField("cookie", b"", length_from=lambda p: p.cookie_length),
        FieldLenField("cipher_suites_length", None, length_of="cipher_suites"),
        FieldListField(
            "cipher_suites",
            cast(Any, [s for s in DEFAULT_CIPHER_SUITES if s not in (0x1301, 0x1302, 0x1303)]),
            ShortEnumField("cs", 0, SUITE_NAMES),
            length_from=lambda p: p.cipher_suites_length,
        ),
        FieldLenField("compression_methods_length", None, length_of="compression_methods", fmt="B"),
        FieldListField(
            "compression_methods",
            cast(Any, [0]),
            ByteEnumField("cm", 0, {0: "null"}),
            length_from=lambda p: p.compression_methods_length,
        ),
        *extensions_fields("ch"),
    ]

    def __init__(self, _pkt: bytes = b"", *args: Any, **kwargs: Any) -> None:
        if not _pkt:
            # RFC 6347 §4.2.1 / RFC 5246 §7.4.1.2: 32 bytes from a secure random generator; a
            # crafted hello gets its own (an explicit value is kept, e.g. the second hello after
            # a HelloVerifyRequest, which repeats the first one's random; dissected bytes are
            # never touched)
            kwargs.setdefault("random", os.urandom(32))
        super().__init__(_pkt, *args, **kwargs)

    def mysummary(self) -> str:
        return f"ClientHello cookie={self.cookie.hex()}" if self.cookie else "ClientHello"


class DTLSHandshakeFragmentBody(TLSPacket):
    """Bytes [fragment_offset, fragment_offset + fragment_length) of a handshake message that
    is not whole in this fragment (RFC 6347 §4.2.3)."""

    name = "DTLS Handshake Fragment"
    fields_desc = [RestField("load", b"")]

    def mysummary(self) -> str:
        return f"fragment {len(self.load)} bytes"


class DTLSHandshake(TLSPacket):
    """Handshake header (RFC 6347 §4.2.2): the TLS header plus message_seq, fragment_offset and
    fragment_length.  ``None`` lengths are computed: ``length`` and ``fragment_length`` both
    become the body's length (a whole message in one fragment)."""

    name = "DTLS Handshake"
    fields_desc = [
        ByteEnumField("msg_type", None, HS_NAMES),
        Len3Field("length", None),
        ShortField("message_seq", 0),
        Len3Field("fragment_offset", 0),
        Len3Field("fragment_length", None),
    ]

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        if self.msg_type is None:
            mt = getattr(self.payload, "msg_type_value", None)
            p = bytes([mt if mt is not None else 0]) + p[1:]
        if self.length is None:
            p = p[:1] + len(pay).to_bytes(3, "big") + p[4:]
        if self.fragment_length is None:
            p = p[:9] + len(pay).to_bytes(3, "big") + p[12:]
        return p + pay

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes | None]:
        n = self.fragment_length
        if n is not None and len(s) > n:
            return s[:n], s[n:]
        return s, None

    @property
    def is_whole(self) -> bool:
        """The fragment carries the complete message."""
        return bool(self.fragment_offset == 0 and self.fragment_length == self.length)

    def do_dissect_payload(self, s: bytes) -> None:
        if self.fragment_length is not None and len(s) < self.fragment_length:
            self.add_payload(
                undecoded(f"fragment truncated: {len(s)} of {self.fragment_length} bytes", s)
            )
            return
        if not self.is_whole:
            self.add_payload(DTLSHandshakeFragmentBody(s, _internal=1, _underlayer=self))
            return
        ctx = self.context()
        p = dissect_body(self.msg_type, s, ctx, self)
        self.add_payload(p)

    def mysummary(self) -> str:
        body = self.payload
        if isinstance(body, TLSPacket) and not isinstance(body, NoPayload):
            if isinstance(body, DTLSHandshakeFragmentBody):
                return (
                    f"{name_of(HandshakeType, self.msg_type or 0)} fragment "
                    f"{self.fragment_offset}+{self.fragment_length}/{self.length}"
                )
            return body.mysummary()
        return name_of(HandshakeType, self.msg_type if self.msg_type is not None else 0)


def dissect_body(msg_type: int | None, body: bytes, ctx: TLSContext, hdr: Packet | None) -> Packet:
    """The body of a whole DTLS handshake message, with the TLS body classes; never raises.

    The TLS classes read the version from the context, so a ServerHello's DTLS version is
    stored there as its TLS equivalent (0xfefd -> 0x0303)."""
    classes = [DTLSClientHello] if msg_type == 1 else body_classes(msg_type, body, ctx)
    if msg_type == 4 and ctx.version is None:
        ctx.version = 0x0303  # NewSessionTicket: a DTLS 1.2 ticket unless told otherwise
    p = try_classes(classes, body, None, underlayer=hdr)
    if p is None:
        p = undecoded(f"malformed {name_of(HandshakeType, msg_type or 0)}", body)
    if isinstance(p, TLSServerHello) and not isinstance(p, TLSHelloRetryRequest):
        try:
            wire = p.negotiated_version()
            ctx.version = TLS_EQUIVALENT.get(wire, wire)
            ctx.cipher_suite = int(p.cipher_suite)
            from netsec_layers.constants.tls import suite_kex

            ctx.kex = suite_kex(ctx.cipher_suite)
        except (TypeError, ValueError):
            pass
    return p


def parse_handshake_fragments(rec: Packet, data: bytes) -> list[Packet]:
    """Every handshake fragment of a record's plaintext (RFC 6347 §4.2.3 allows several)."""
    out: list[Packet] = []
    off = 0
    while off < len(data):
        rest = data[off:]
        if len(rest) < HANDSHAKE_HEADER_LEN:
            out.append(undecoded("partial DTLS handshake header", rest, rec))
            break
        flen = int.from_bytes(rest[9:12], "big")
        chunk = rest[: HANDSHAKE_HEADER_LEN + flen]
        try:
            out.append(DTLSHandshake(chunk, _internal=1, _parent=rec))
        except Exception:  # noqa: BLE001 - outside bytes: keep them, never raise
            out.append(undecoded("malformed DTLS handshake fragment", chunk, rec))
        off += len(chunk)
    return out


class DTLSRecordNumber(Packet):
    """RecordNumber of an ACK (RFC 9147 §7): epoch and sequence number, both uint64."""

    name = "DTLS RecordNumber"
    fields_desc = [BitField("epoch", 0, 64), BitField("seq", 0, 64)]

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


class DTLSAck(TLSPacket):
    """ACK content (content type 26, RFC 9147 §7): record_numbers<0..2^16-1>."""

    name = "DTLS ACK"
    content_type_value = 26
    fields_desc = [
        FieldLenField("record_numbers_length", None, length_of="record_numbers"),
        PacketListField(
            "record_numbers",
            [],
            DTLSRecordNumber,
            length_from=lambda p: p.record_numbers_length,
        ),
    ]

    def mysummary(self) -> str:
        nums = ", ".join(f"{r.epoch}/{r.seq}" for r in self.record_numbers)
        return f"ACK [{nums}]"


__all__ = [
    "DTLSAck",
    "DTLSClientHello",
    "DTLSContext",
    "DTLSHandshake",
    "DTLSHandshakeFragmentBody",
    "DTLSRecordNumber",
    "HANDSHAKE_HEADER_LEN",
    "TLS_EQUIVALENT",
    "dissect_body",
    "parse_handshake_fragments",
]
