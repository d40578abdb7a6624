"""IKEv1 / ISAKMP (RFC 2408 §3, RFC 2409, RFC 3947) as Scapy layers.

``ISAKMP(data)`` dissects a message; with the Encryption flag set everything after the header
is ciphertext (:class:`ISAKMPEncrypted`, decrypted by :mod:`netsec_layers.session.ike_v1`);
:func:`dissect_ikev1_payloads` dissects a decrypted chain.  Main, Aggressive and Quick Mode
use the same payloads; only the exchange type differs.
"""

from __future__ import annotations

from typing import Any

from scapy.fields import (
    BitEnumField,
    BitField,
    ByteEnumField,
    ByteField,
    ConditionalField,
    FieldLenField,
    FlagsField,
    IntField,
    PacketListField,
    ShortEnumField,
    ShortField,
    X3BytesField,
    XStrFixedLenField,
    XStrLenField,
)
from scapy.packet import Packet

from netsec_layers.constants.ike import IKEV1_ATTR_NAMES, IKEv1Exchange, IKEv1Payload
from netsec_layers.layers.ike._common import PayloadChain, header_dispatch, next_layer

__all__ = [
    "ISAKMP",
    "ISAKMPAttribute",
    "ISAKMPCERT",
    "ISAKMPCR",
    "ISAKMPDelete",
    "ISAKMPEncrypted",
    "ISAKMPHash",
    "ISAKMPID",
    "ISAKMPKE",
    "ISAKMPNATD",
    "ISAKMPNATOA",
    "ISAKMPNonce",
    "ISAKMPNotify",
    "ISAKMPPayload",
    "ISAKMPProposal",
    "ISAKMPSA",
    "ISAKMPSIG",
    "ISAKMPTransform",
    "ISAKMPVendorID",
    "dissect_ikev1_payloads",
]


def _names(enum: Any) -> dict[int, str]:
    return {int(m): m.name for m in enum}


_PT = _names(IKEv1Payload)


def _hdr() -> list[Any]:
    """RFC 2408 §3.2 generic payload header."""
    return [
        ByteEnumField("next_payload", None, _PT),
        ByteField("reserved", 0),
        ShortField("length", None),
    ]


def _rest(fixed: int) -> Any:
    return lambda pkt: max(0, (pkt.length or 0) - fixed)


class ISAKMP(Packet):
    """ISAKMP header (RFC 2408 §3.1); flags: E(ncryption), C(ommit), A(uthentication only)."""

    name = "ISAKMP"
    fields_desc = [
        XStrFixedLenField("init_cookie", b"\x00" * 8, 8),
        XStrFixedLenField("resp_cookie", b"\x00" * 8, 8),
        ByteEnumField("next_payload", None, _PT),
        BitField("major_version", 1, 4),
        BitField("minor_version", 0, 4),
        ByteEnumField("exch_type", IKEv1Exchange.MAIN_MODE, _names(IKEv1Exchange)),
        FlagsField("flags", 0, 8, ["E", "C", "A"]),
        IntField("message_id", 0),
        IntField("length", None),
    ]

    @classmethod
    def dispatch_hook(cls, _pkt: bytes | None = None, *args: Any, **kw: Any) -> type[Packet]:
        return header_dispatch(cls, _pkt)

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        if self.length is None:
            p = p[:24] + (len(p) + len(pay)).to_bytes(4, "big")
        if self.next_payload is None:
            nxt = next((k for k, v in _REG.items() if v is type(self.payload)), 0) if pay else 0
            p = p[:16] + bytes([nxt]) + p[17:]
        return p + pay

    def guess_payload_class(self, payload: bytes) -> Any:
        if int(self.flags) & 1:
            return ISAKMPEncrypted
        return next_layer(self.next_payload or 0, payload, _REG, ISAKMPPayload)

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        want = (self.length or 0) - 28
        if 0 <= want < len(s):
            return s[:want], s[want:]
        return s, b""

    def mysummary(self) -> str:
        return self.sprintf("ISAKMP %exch_type% %message_id%")


class ISAKMPEncrypted(Packet):
    """Everything after an encrypted header (RFC 2408 §3.1 E flag): CBC ciphertext."""

    name = "ISAKMP encrypted"
    fields_desc = [XStrLenField("encrypted", b"", length_from=lambda p: 1 << 30)]


class ISAKMPPayload(PayloadChain):
    """A payload of a type without its own class (generic header, data)."""

    name = "ISAKMP payload"
    fields_desc = [*_hdr(), XStrLenField("data", b"", length_from=_rest(4))]


class ISAKMPAttribute(Packet):
    """Data attribute (RFC 2408 §3.3): TV when the AF bit is set, else TLV."""

    name = "ISAKMP attribute"
    fields_desc = [
        BitField("af", 1, 1),
        BitEnumField("type", 1, 15, IKEV1_ATTR_NAMES),
        ConditionalField(ShortField("value", 0), lambda p: p.af == 1),
        ConditionalField(
            FieldLenField("attr_len", None, length_of="attr_value"), lambda p: p.af == 0
        ),
        ConditionalField(
            XStrLenField("attr_value", b"", length_from=lambda p: p.attr_len or 0),
            lambda p: p.af == 0,
        ),
    ]

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


class ISAKMPTransform(Packet):
    """Transform payload (RFC 2408 §3.6), inside a proposal."""

    name = "ISAKMP transform"
    fields_desc = [
        *_hdr(),
        ByteField("transform_num", 1),
        ByteField("transform_id", 1),
        ShortField("reserved2", 0),
        PacketListField("attributes", [], ISAKMPAttribute, length_from=_rest(8)),
    ]

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        if self.length is None:
            p = p[:2] + len(p).to_bytes(2, "big") + p[4:]
        if self.next_payload is None:
            p = b"\x00" + p[1:]
        return p + pay

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


class ISAKMPProposal(Packet):
    """Proposal payload (RFC 2408 §3.5), inside an SA payload."""

    name = "ISAKMP proposal"
    fields_desc = [
        *_hdr(),
        ByteField("proposal_num", 1),
        ByteField("protocol_id", 1),
        FieldLenField("spi_size", None, length_of="spi", fmt="B"),
        ByteField("num_transforms", None),
        XStrLenField("spi", b"", length_from=lambda p: p.spi_size or 0),
        PacketListField(
            "transforms",
            [],
            ISAKMPTransform,
            length_from=lambda p: max(0, (p.length or 0) - 8 - (p.spi_size or 0)),
        ),
    ]

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        if self.length is None:
            p = p[:2] + len(p).to_bytes(2, "big") + p[4:]
        if self.next_payload is None:
            p = b"\x00" + p[1:]
        if self.num_transforms is None:
            p = p[:7] + bytes([len(self.transforms) & 0xFF]) + p[8:]
        return p + pay

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


class ISAKMPSA(PayloadChain):
    """SA payload (RFC 2408 §3.4) for the IPsec DOI (RFC 2407 §4.6.1: 4-byte situation)."""

    name = "ISAKMP SA"
    min_len = 12
    fields_desc = [
        *_hdr(),
        IntField("doi", 1),
        IntField("situation", 1),
        PacketListField("proposals", [], ISAKMPProposal, length_from=_rest(12)),
    ]


class ISAKMPKE(PayloadChain):
    name = "ISAKMP KE"
    fields_desc = [*_hdr(), XStrLenField("ke_data", b"", length_from=_rest(4))]


class ISAKMPID(PayloadChain):
    """Identification payload (RFC 2408 §3.8 with the IPsec DOI fields of RFC 2407 §4.6.2)."""

    name = "ISAKMP ID"
    min_len = 8
    fields_desc = [
        *_hdr(),
        ByteField("id_type", 1),
        ByteField("protocol_id", 0),
        ShortField("port", 0),
        XStrLenField("id_data", b"", length_from=_rest(8)),
    ]


class ISAKMPCERT(PayloadChain):
    name = "ISAKMP CERT"
    min_len = 5
    fields_desc = [
        *_hdr(),
        ByteField("cert_encoding", 4),
        XStrLenField("cert_data", b"", length_from=_rest(5)),
    ]


class ISAKMPCR(PayloadChain):
    name = "ISAKMP CR"
    min_len = 5
    fields_desc = [
        *_hdr(),
        ByteField("cert_type", 4),
        XStrLenField("authority", b"", length_from=_rest(5)),
    ]


class ISAKMPHash(PayloadChain):
    name = "ISAKMP HASH"
    fields_desc = [*_hdr(), XStrLenField("hash", b"", length_from=_rest(4))]


class ISAKMPSIG(PayloadChain):
    name = "ISAKMP SIG"
    fields_desc = [*_hdr(), XStrLenField("signature", b"", length_from=_rest(4))]


class ISAKMPNonce(PayloadChain):
    name = "ISAKMP NONCE"
    fields_desc = [*_hdr(), XStrLenField("nonce", b"", length_from=_rest(4))]


class ISAKMPNotify(PayloadChain):
    """Notification payload (RFC 2408 §3.14)."""

    name = "ISAKMP N"
    min_len = 12
    fields_desc = [
        *_hdr(),
        IntField("doi", 1),
        ByteField("protocol_id", 1),
        FieldLenField("spi_size", None, length_of="spi", fmt="B"),
        ShortEnumField(
            "notify_type",
            24578,
            {
                24576: "RESPONDER-LIFETIME",
                24578: "INITIAL-CONTACT",
                36136: "R-U-THERE",
                36137: "R-U-THERE-ACK",
            },
        ),
        XStrLenField("spi", b"", length_from=lambda p: p.spi_size or 0),
        XStrLenField(
            "notify_data",
            b"",
            length_from=lambda p: max(0, (p.length or 0) - 12 - (p.spi_size or 0)),
        ),
    ]


class ISAKMPDelete(PayloadChain):
    """Delete payload (RFC 2408 §3.15)."""

    name = "ISAKMP D"
    min_len = 12
    fields_desc = [
        *_hdr(),
        IntField("doi", 1),
        ByteField("protocol_id", 1),
        ByteField("spi_size", 16),
        ShortField("num_spi", 1),
        XStrLenField("spis", b"", length_from=_rest(12)),
    ]


class ISAKMPVendorID(PayloadChain):
    name = "ISAKMP VID"
    fields_desc = [*_hdr(), XStrLenField("vendor_id", b"", length_from=_rest(4))]


class ISAKMPNATD(PayloadChain):
    """NAT-D payload (RFC 3947 §3.2): HASH(CKY-I | CKY-R | IP | Port)."""

    name = "ISAKMP NAT-D"
    fields_desc = [*_hdr(), XStrLenField("hash", b"", length_from=_rest(4))]


class ISAKMPNATOA(PayloadChain):
    """NAT-OA payload (RFC 3947 §5.2)."""

    name = "ISAKMP NAT-OA"
    min_len = 8
    fields_desc = [
        *_hdr(),
        ByteField("id_type", 1),
        X3BytesField("reserved2", 0),
        XStrLenField("address", b"", length_from=_rest(8)),
    ]


_REG: dict[int, type[PayloadChain]] = {
    IKEv1Payload.SA: ISAKMPSA,
    IKEv1Payload.KE: ISAKMPKE,
    IKEv1Payload.ID: ISAKMPID,
    IKEv1Payload.CERT: ISAKMPCERT,
    IKEv1Payload.CR: ISAKMPCR,
    IKEv1Payload.HASH: ISAKMPHash,
    IKEv1Payload.SIG: ISAKMPSIG,
    IKEv1Payload.NONCE: ISAKMPNonce,
    IKEv1Payload.N: ISAKMPNotify,
    IKEv1Payload.D: ISAKMPDelete,
    IKEv1Payload.VID: ISAKMPVendorID,
    IKEv1Payload.NAT_D: ISAKMPNATD,
    IKEv1Payload.NAT_OA: ISAKMPNATOA,
    IKEv1Payload.NAT_D_DRAFT: ISAKMPNATD,
    IKEv1Payload.NAT_OA_DRAFT: ISAKMPNATOA,
}
_ALL: list[type[PayloadChain]] = [*_REG.values(), ISAKMPPayload]
for _cls in _ALL:
    _cls.registry = _REG
    _cls.generic = ISAKMPPayload


def dissect_ikev1_payloads(first_type: int, data: bytes) -> Packet:
    """The payload chain starting with ``first_type`` (e.g. a decrypted Main Mode message).

    RFC 2409 pads the plaintext to the cipher block; bytes after Next Payload 0 end up in an
    :class:`~netsec_layers.layers.ike._common.IKEUndecoded` layer."""
    cls = next_layer(first_type, data, _REG, ISAKMPPayload)
    pkt: Packet = cls(data)
    return pkt
