"""IKEv2 (RFC 7296 §3) as Scapy layers: the header and every payload type.

``IKEv2(data)`` dissects a whole message (without the RFC 3948 non-ESP marker); the payloads
follow the Next Payload chain.  SK (46) and SKF (53, RFC 7383) keep their contents opaque
(IV, ciphertext, ICV): decryption is :mod:`netsec_layers.session.ike`'s job, and
:func:`dissect_ikev2_payloads` dissects the decrypted inner chain.  ``None`` lengths and next
payload types are filled on build, so ``raw(IKEv2(b)) == b`` for any message we dissected.
"""

from __future__ import annotations

import ipaddress
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
    IP6Field,
    IPField,
    PacketListField,
    ShortEnumField,
    ShortField,
    StrLenField,
    X3BytesField,
    XStrFixedLenField,
    XStrLenField,
)
from scapy.packet import Packet

from netsec_layers.constants.ike import (
    AuthMethod,
    CfgAttribute,
    CfgType,
    DHGroup,
    ExchangeType,
    IDType,
    NotifyType,
    PayloadType,
    ProtocolID,
    TransformType,
    TSType,
)
from netsec_layers.layers.ike._common import IKEUndecoded, PayloadChain, header_dispatch, next_layer

__all__ = [
    "IKEv2",
    "IKEv2Attribute",
    "IKEv2AUTH",
    "IKEv2CERT",
    "IKEv2CERTREQ",
    "IKEv2CP",
    "IKEv2CPAttribute",
    "IKEv2Delete",
    "IKEv2EAP",
    "IKEv2ID",
    "IKEv2IDi",
    "IKEv2IDr",
    "IKEv2KE",
    "IKEv2Nonce",
    "IKEv2Notify",
    "IKEv2Payload",
    "IKEv2Proposal",
    "IKEv2SA",
    "IKEv2SK",
    "IKEv2SKF",
    "IKEv2TS",
    "IKEv2TSi",
    "IKEv2TSr",
    "IKEv2TrafficSelector",
    "IKEv2Transform",
    "IKEv2VendorID",
    "IKEUndecoded",
    "dissect_ikev2_payloads",
]


def _names(enum: Any) -> dict[int, str]:
    return {int(m): m.name for m in enum}


_PT = _names(PayloadType)
_FLAGS = ["", "", "", "I", "V", "R", "", ""]  # RFC 7296 §3.1: bit 3 Initiator, 4 Version, 5 Resp


def _hdr() -> list[Any]:
    """RFC 7296 §3.2 generic payload header."""
    return [
        ByteEnumField("next_payload", None, _PT),
        BitField("critical", 0, 1),
        BitField("reserved", 0, 7),
        ShortField("length", None),
    ]


def _rest(fixed: int) -> Any:
    return lambda pkt: max(0, (pkt.length or 0) - fixed)


class IKEv2(Packet):
    """IKE header (RFC 7296 §3.1)."""

    name = "IKEv2"
    fields_desc = [
        XStrFixedLenField("init_spi", b"\x00" * 8, 8),
        XStrFixedLenField("resp_spi", b"\x00" * 8, 8),
        ByteEnumField("next_payload", None, _PT),
        BitField("major_version", 2, 4),
        BitField("minor_version", 0, 4),
        ByteEnumField("exch_type", ExchangeType.IKE_SA_INIT, _names(ExchangeType)),
        FlagsField("flags", 0, 8, _FLAGS),
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
        return next_layer(self.next_payload or 0, payload, _REG, IKEv2Payload)

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        # Bytes beyond the header's length are not part of the message (kept as Padding).
        want = (self.length or 0) - 28
        if 0 <= want < len(s):
            return s[:want], s[want:]
        return s, b""

    def mysummary(self) -> str:
        kind = "response" if int(self.flags) & 0x20 else "request"
        return self.sprintf(f"IKEv2 %exch_type% {kind} %message_id%")


class IKEv2Payload(PayloadChain):
    """A payload of a type without its own class: generic header and opaque data."""

    name = "IKEv2 payload"
    fields_desc = [*_hdr(), XStrLenField("data", b"", length_from=_rest(4))]


class IKEv2Attribute(Packet):
    """Transform attribute (RFC 7296 §3.3.5): TV when the AF bit is set, else TLV."""

    name = "IKEv2 transform attribute"
    fields_desc = [
        BitField("af", 1, 1),
        BitEnumField("type", 14, 15, {14: "Key Length"}),
        ConditionalField(ShortField("value", 128), lambda p: p.af == 1),
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


def _transform_id_name(pkt: Any, x: int) -> str:
    from netsec_layers.constants.ike import EncrTransform, IntegTransform, PrfTransform

    enum = {1: EncrTransform, 2: PrfTransform, 3: IntegTransform, 4: DHGroup}.get(
        pkt.transform_type
    )
    if enum is None and 6 <= (pkt.transform_type or 0) <= 12:
        enum = DHGroup
    if pkt.transform_type == 5:
        return {0: "No ESN", 1: "ESN"}.get(x, str(x))
    try:
        return enum(x).name if enum is not None else str(x)
    except ValueError:
        return str(x)


class _TransformIDField(ShortField):
    def i2repr(self, pkt: Any, x: Any) -> str:
        return f"{_transform_id_name(pkt, x)} ({x})"


class IKEv2Transform(Packet):
    """Transform substructure (RFC 7296 §3.3.2)."""

    name = "IKEv2 transform"
    fields_desc = [
        ByteEnumField("last", 0, {0: "last", 3: "more"}),
        ByteField("reserved", 0),
        ShortField("length", None),
        ByteEnumField("transform_type", 1, _names(TransformType)),
        ByteField("reserved2", 0),
        _TransformIDField("transform_id", 12),
        PacketListField("attributes", [], IKEv2Attribute, length_from=_rest(8)),
    ]

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        if self.length is None:
            p = p[:2] + len(p).to_bytes(2, "big") + p[4:]
        return p + pay

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


class IKEv2Proposal(Packet):
    """Proposal substructure (RFC 7296 §3.3.1)."""

    name = "IKEv2 proposal"
    fields_desc = [
        ByteEnumField("last", 0, {0: "last", 2: "more"}),
        ByteField("reserved", 0),
        ShortField("length", None),
        ByteField("proposal_num", 1),
        ByteEnumField("protocol_id", ProtocolID.IKE, _names(ProtocolID)),
        FieldLenField("spi_size", None, length_of="spi", fmt="B"),
        ByteField("num_transforms", None),
        XStrLenField("spi", b"", length_from=lambda p: p.spi_size or 0),
        PacketListField(
            "transforms",
            [],
            IKEv2Transform,
            length_from=lambda p: max(0, (p.length or 0) - 8 - (p.spi_size or 0)),
        ),
    ]

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        if self.length is None:
            p = p[:2] + len(p).to_bytes(2, "big") + p[4:]
        if self.num_transforms is None:
            p = p[:7] + bytes([len(self.transforms) & 0xFF]) + p[8:]
        return p + pay

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


class IKEv2SA(PayloadChain):
    """Security Association payload (RFC 7296 §3.3)."""

    name = "IKEv2 SA"
    fields_desc = [*_hdr(), PacketListField("proposals", [], IKEv2Proposal, length_from=_rest(4))]


class IKEv2KE(PayloadChain):
    """Key Exchange payload (RFC 7296 §3.4)."""

    name = "IKEv2 KE"
    min_len = 8
    fields_desc = [
        *_hdr(),
        ShortEnumField("group", DHGroup.CURVE25519, _names(DHGroup)),
        ShortField("reserved2", 0),
        XStrLenField("ke_data", b"", length_from=_rest(8)),
    ]


class IKEv2ID(PayloadChain):
    """Identification payload (RFC 7296 §3.5); IDi and IDr differ only by type."""

    name = "IKEv2 ID"
    min_len = 8
    fields_desc = [
        *_hdr(),
        ByteEnumField("id_type", IDType.ID_FQDN, _names(IDType)),
        X3BytesField("reserved2", 0),
        StrLenField("id_data", b"", length_from=_rest(8)),
    ]


class IKEv2IDi(IKEv2ID):
    name = "IKEv2 IDi"


class IKEv2IDr(IKEv2ID):
    name = "IKEv2 IDr"


class IKEv2CERT(PayloadChain):
    """Certificate payload (RFC 7296 §3.6)."""

    name = "IKEv2 CERT"
    min_len = 5
    fields_desc = [
        *_hdr(),
        ByteField("cert_encoding", 4),
        XStrLenField("cert_data", b"", length_from=_rest(5)),
    ]


class IKEv2CERTREQ(IKEv2CERT):
    """Certificate Request payload (RFC 7296 §3.7)."""

    name = "IKEv2 CERTREQ"


class IKEv2AUTH(PayloadChain):
    """Authentication payload (RFC 7296 §3.8)."""

    name = "IKEv2 AUTH"
    min_len = 8
    fields_desc = [
        *_hdr(),
        ByteEnumField("auth_method", AuthMethod.SHARED_KEY_MIC, _names(AuthMethod)),
        X3BytesField("reserved2", 0),
        XStrLenField("auth_data", b"", length_from=_rest(8)),
    ]


class IKEv2Nonce(PayloadChain):
    """Nonce payload (RFC 7296 §3.9)."""

    name = "IKEv2 Nonce"
    fields_desc = [*_hdr(), XStrLenField("nonce", b"", length_from=_rest(4))]


class IKEv2Notify(PayloadChain):
    """Notify payload (RFC 7296 §3.10); :meth:`decoded` types the data of common ones."""

    name = "IKEv2 Notify"
    min_len = 8
    fields_desc = [
        *_hdr(),
        ByteEnumField("protocol_id", 0, _names(ProtocolID)),
        FieldLenField("spi_size", None, length_of="spi", fmt="B"),
        ShortEnumField("notify_type", NotifyType.INITIAL_CONTACT, _names(NotifyType)),
        XStrLenField("spi", b"", length_from=lambda p: p.spi_size or 0),
        XStrLenField(
            "notify_data",
            b"",
            length_from=lambda p: max(0, (p.length or 0) - 8 - (p.spi_size or 0)),
        ),
    ]

    def decoded(self) -> Any:
        """The data as a Python value for the types whose content RFCs define (else bytes)."""
        t, d = self.notify_type, bytes(self.notify_data)
        if t in (NotifyType.SIGNATURE_HASH_ALGORITHMS,):  # RFC 7427 §4: list of uint16
            return [int.from_bytes(d[i : i + 2], "big") for i in range(0, len(d) - 1, 2)]
        if t in (NotifyType.INVALID_KE_PAYLOAD,) and len(d) == 2:  # §3.10.1: accepted group
            return int.from_bytes(d, "big")
        if t == NotifyType.REKEY_SA:  # §3.10.1: the SPI field names the SA
            return bytes(self.spi)
        if t in (
            NotifyType.USE_TRANSPORT_MODE,
            NotifyType.IKEV2_FRAGMENTATION_SUPPORTED,
            NotifyType.ESP_TFC_PADDING_NOT_SUPPORTED,
            NotifyType.NON_FIRST_FRAGMENTS_ALSO,
            NotifyType.MOBIKE_SUPPORTED,
            NotifyType.INITIAL_CONTACT,
            NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED,
        ):
            return None  # no data by definition
        if t == NotifyType.ADDITIONAL_IP4_ADDRESS and len(d) == 4:
            return ipaddress.IPv4Address(d)
        if t == NotifyType.ADDITIONAL_IP6_ADDRESS and len(d) == 16:
            return ipaddress.IPv6Address(d)
        if t == NotifyType.SET_WINDOW_SIZE and len(d) == 4:
            return int.from_bytes(d, "big")
        return d  # NAT_DETECTION_* (SHA-1 hash), COOKIE, ... are opaque octets


class IKEv2Delete(PayloadChain):
    """Delete payload (RFC 7296 §3.11)."""

    name = "IKEv2 Delete"
    min_len = 8
    fields_desc = [
        *_hdr(),
        ByteEnumField("protocol_id", ProtocolID.ESP, _names(ProtocolID)),
        ByteField("spi_size", 4),
        ShortField("num_spi", 0),
        XStrLenField("spis", b"", length_from=_rest(8)),
    ]

    def spi_list(self) -> list[bytes]:
        n = self.spi_size or 0
        d = bytes(self.spis)
        return [d[i : i + n] for i in range(0, len(d) - n + 1, n)] if n else []


class IKEv2VendorID(PayloadChain):
    """Vendor ID payload (RFC 7296 §3.12)."""

    name = "IKEv2 Vendor ID"
    fields_desc = [*_hdr(), XStrLenField("vendor_id", b"", length_from=_rest(4))]


class IKEv2TrafficSelector(Packet):
    """Traffic selector (RFC 7296 §3.13.1): IPv4/IPv6 ranges typed, other types raw."""

    name = "IKEv2 traffic selector"
    fields_desc = [
        ByteEnumField("ts_type", TSType.TS_IPV4_ADDR_RANGE, _names(TSType)),
        ByteField("ip_protocol_id", 0),
        ShortField("selector_length", None),
        ShortField("start_port", 0),
        ShortField("end_port", 65535),
        ConditionalField(IPField("start_addr", "0.0.0.0"), lambda p: p._kind() == 4),
        ConditionalField(IPField("end_addr", "255.255.255.255"), lambda p: p._kind() == 4),
        ConditionalField(IP6Field("start_addr6", "::"), lambda p: p._kind() == 6),
        ConditionalField(
            IP6Field("end_addr6", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            lambda p: p._kind() == 6,
        ),
        ConditionalField(
            XStrLenField(
                "selector", b"", length_from=lambda p: max(0, (p.selector_length or 0) - 8)
            ),
            lambda p: p._kind() == 0,
        ),
    ]

    def _kind(self) -> int:
        n = self.selector_length
        if self.ts_type == TSType.TS_IPV4_ADDR_RANGE and n in (None, 16):
            return 4
        if self.ts_type == TSType.TS_IPV6_ADDR_RANGE and n in (None, 40):
            return 6
        return 0

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        if self.selector_length is None:
            p = p[:2] + len(p).to_bytes(2, "big") + p[4:]
        return p + pay

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


class IKEv2TS(PayloadChain):
    """Traffic Selector payload (RFC 7296 §3.13)."""

    name = "IKEv2 TS"
    min_len = 8
    fields_desc = [
        *_hdr(),
        ByteField("num_ts", None),
        X3BytesField("reserved2", 0),
        PacketListField("traffic_selectors", [], IKEv2TrafficSelector, length_from=_rest(8)),
    ]

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        if self.num_ts is None:
            p = p[:4] + bytes([len(self.traffic_selectors) & 0xFF]) + p[5:]
        return super().post_build(p, pay)


class IKEv2TSi(IKEv2TS):
    name = "IKEv2 TSi"


class IKEv2TSr(IKEv2TS):
    name = "IKEv2 TSr"


class IKEv2SK(PayloadChain):
    """Encrypted and Authenticated payload (RFC 7296 §3.14): IV | ciphertext | ICV, opaque.

    ``next_payload`` is the type of the first payload *inside*; nothing follows SK."""

    name = "IKEv2 SK"
    terminal = True
    fields_desc = [*_hdr(), XStrLenField("encrypted", b"", length_from=_rest(4))]


class IKEv2SKF(PayloadChain):
    """Encrypted Fragment payload (RFC 7383 §2.5); ``next_payload`` is non-zero only in
    fragment 1."""

    name = "IKEv2 SKF"
    terminal = True
    min_len = 8
    fields_desc = [
        *_hdr(),
        ShortField("fragment_number", 1),
        ShortField("total_fragments", 1),
        XStrLenField("encrypted", b"", length_from=_rest(8)),
    ]


class IKEv2CPAttribute(Packet):
    """Configuration attribute (RFC 7296 §3.15.1)."""

    name = "IKEv2 CP attribute"
    fields_desc = [
        BitField("reserved", 0, 1),
        BitEnumField("attr_type", 1, 15, _names(CfgAttribute)),
        FieldLenField("attr_len", None, length_of="value"),
        XStrLenField("value", b"", length_from=lambda p: p.attr_len or 0),
    ]

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


class IKEv2CP(PayloadChain):
    """Configuration payload (RFC 7296 §3.15)."""

    name = "IKEv2 CP"
    min_len = 8
    fields_desc = [
        *_hdr(),
        ByteEnumField("cfg_type", CfgType.CFG_REQUEST, _names(CfgType)),
        X3BytesField("reserved2", 0),
        PacketListField("attributes", [], IKEv2CPAttribute, length_from=_rest(8)),
    ]


class IKEv2EAP(PayloadChain):
    """EAP payload (RFC 7296 §3.16): one EAP message (code, identifier, length, type…)."""

    name = "IKEv2 EAP"
    fields_desc = [*_hdr(), XStrLenField("eap_message", b"", length_from=_rest(4))]


_REG: dict[int, type[PayloadChain]] = {
    PayloadType.SA: IKEv2SA,
    PayloadType.KE: IKEv2KE,
    PayloadType.IDi: IKEv2IDi,
    PayloadType.IDr: IKEv2IDr,
    PayloadType.CERT: IKEv2CERT,
    PayloadType.CERTREQ: IKEv2CERTREQ,
    PayloadType.AUTH: IKEv2AUTH,
    PayloadType.NONCE: IKEv2Nonce,
    PayloadType.NOTIFY: IKEv2Notify,
    PayloadType.DELETE: IKEv2Delete,
    PayloadType.VENDOR_ID: IKEv2VendorID,
    PayloadType.TSi: IKEv2TSi,
    PayloadType.TSr: IKEv2TSr,
    PayloadType.SK: IKEv2SK,
    PayloadType.CP: IKEv2CP,
    PayloadType.EAP: IKEv2EAP,
    PayloadType.SKF: IKEv2SKF,
}
_ALL: list[type[PayloadChain]] = [*_REG.values(), IKEv2Payload]
for _cls in _ALL:
    _cls.registry = _REG
    _cls.generic = IKEv2Payload


def dissect_ikev2_payloads(first_type: int, data: bytes) -> Packet:
    """The payload chain starting with type ``first_type`` (e.g. the plaintext of SK)."""
    cls = next_layer(first_type, data, _REG, IKEv2Payload)
    pkt: Packet = cls(data)
    return pkt
