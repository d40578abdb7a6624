"""Elements of TLS vectors (server names, ALPN names, key shares, PSK identities and
binders, distinguished names, OID filters, SCTs) and the parser of such vectors."""

from __future__ import annotations

import struct
from typing import Any

from scapy.fields import ByteEnumField, FieldLenField, IntField, ShortEnumField
from scapy.packet import Packet

from netsec_layers.constants.tls import NamedGroup, NameType

from ._base import OpaqueField, TLSPacket, names, try_classes, u16, undecoded

GROUP_NAMES = names(NamedGroup)


def parse_seq(cls: Any) -> Any:
    """Parser for a vector of ``cls`` elements (``cls.wire_size(data)`` gives one's size)."""

    def parse(parent: Packet, data: bytes) -> list[Packet]:
        out: list[Packet] = []
        off = 0
        while off < len(data):
            rest = data[off:]
            try:
                n = int(cls.wire_size(rest))
            except (IndexError, struct.error):
                n = 0
            if n <= 0 or n > len(rest):
                out.append(undecoded(f"truncated {cls.__name__}", rest, parent))
                break
            p = try_classes([cls], rest[:n], parent)
            out.append(p if p is not None else undecoded(f"bad {cls.__name__}", rest[:n], parent))
            off += n
        return out

    return parse


class _Elem(TLSPacket):
    """An element of a TLS vector (no payload)."""

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


# --- vector elements -------------------------------------------------------------------


class TLSServerName(_Elem):
    """ServerName (RFC 6066 §3)."""

    name = "ServerName"
    fields_desc = [
        ByteEnumField("name_type", 0, names(NameType)),
        FieldLenField("name_length", None, length_of="server_name"),
        OpaqueField("server_name", b"", length_from=lambda p: p.name_length),
    ]

    @staticmethod
    def wire_size(d: bytes) -> int:
        return 3 + u16(d, 1)


class TLSProtocolName(_Elem):
    """ProtocolName of ALPN (RFC 7301 §3.1)."""

    name = "ProtocolName"
    fields_desc = [
        FieldLenField("length", None, length_of="protocol", fmt="B"),
        OpaqueField("protocol", b"", length_from=lambda p: p.length),
    ]

    @staticmethod
    def wire_size(d: bytes) -> int:
        return 1 + d[0]


class TLSKeyShareEntry(_Elem):
    """KeyShareEntry (RFC 8446 §4.2.8)."""

    name = "KeyShareEntry"
    fields_desc = [
        ShortEnumField("group", NamedGroup.x25519, GROUP_NAMES),
        FieldLenField("key_exchange_length", None, length_of="key_exchange"),
        OpaqueField("key_exchange", b"", length_from=lambda p: p.key_exchange_length),
    ]

    @staticmethod
    def wire_size(d: bytes) -> int:
        return 4 + u16(d, 2)


class TLSPSKIdentity(_Elem):
    """PskIdentity (RFC 8446 §4.2.11)."""

    name = "PskIdentity"
    fields_desc = [
        FieldLenField("identity_length", None, length_of="identity"),
        OpaqueField("identity", b"", length_from=lambda p: p.identity_length),
        IntField("obfuscated_ticket_age", 0),
    ]

    @staticmethod
    def wire_size(d: bytes) -> int:
        return 2 + u16(d, 0) + 4


class TLSPSKBinder(_Elem):
    """PskBinderEntry (RFC 8446 §4.2.11)."""

    name = "PskBinderEntry"
    fields_desc = [
        FieldLenField("length", None, length_of="binder", fmt="B"),
        OpaqueField("binder", b"", length_from=lambda p: p.length),
    ]

    @staticmethod
    def wire_size(d: bytes) -> int:
        return 1 + d[0]


class TLSDistinguishedName(_Elem):
    """DistinguishedName: a DER X.501 name with a 2-byte length (RFC 5246 §7.4.4)."""

    name = "DistinguishedName"
    fields_desc = [
        FieldLenField("length", None, length_of="dn"),
        OpaqueField("dn", b"", length_from=lambda p: p.length),
    ]

    @staticmethod
    def wire_size(d: bytes) -> int:
        return 2 + u16(d, 0)


class TLSOIDFilter(_Elem):
    """OIDFilter (RFC 8446 §4.2.5)."""

    name = "OIDFilter"
    fields_desc = [
        FieldLenField("oid_length", None, length_of="certificate_extension_oid", fmt="B"),
        OpaqueField("certificate_extension_oid", b"", length_from=lambda p: p.oid_length),
        FieldLenField("values_length", None, length_of="certificate_extension_values"),
        OpaqueField("certificate_extension_values", b"", length_from=lambda p: p.values_length),
    ]

    @staticmethod
    def wire_size(d: bytes) -> int:
        n = 1 + d[0]
        return n + 2 + u16(d, n)


class TLSSerializedSCT(_Elem):
    """SerializedSCT of signed_certificate_timestamp (RFC 6962 §3.3)."""

    name = "SerializedSCT"
    fields_desc = [
        FieldLenField("length", None, length_of="sct"),
        OpaqueField("sct", b"", length_from=lambda p: p.length),
    ]

    @staticmethod
    def wire_size(d: bytes) -> int:
        return 2 + u16(d, 0)
