"""Encrypted Client Hello structures (RFC 9849 §4): ECHConfig and ECHConfigList.

ECHConfigList is what a server publishes (DNS HTTPS ``ech`` parameter, RFC 9848) and sends back
as ``retry_configs`` in EncryptedExtensions; one ECHConfig is the value of an RFC 9850
``ECH_CONFIG`` key-log line.  The extensions that carry ECH in hellos are in
:mod:`.extensions` (``TLSExtEncryptedClientHello``, ``TLSExtECHOuterExtensions``,
``TLSExtECHRetryConfigs``, ``TLSExtECHConfirmation``).  Bad bytes become an undecoded element
with a reason, never an exception; every class rebuilds to the bytes it was dissected from.
"""

from __future__ import annotations

from typing import Any

from scapy.fields import (
    ByteField,
    ConditionalField,
    FieldLenField,
    ShortEnumField,
    ShortField,
    StrLenField,
)
from scapy.packet import Packet

from ._base import OpaqueField, TLSListField, TLSPacket, try_classes, u16, undecoded
from .elements import _Elem, parse_seq

ECH_CONFIG_VERSION = 0xFE0D

#: HPKE identifiers (RFC 9180 §7, IANA "Hybrid Public Key Encryption")
HPKE_KEM_NAMES = {
    0x0010: "DHKEM(P-256, HKDF-SHA256)",
    0x0011: "DHKEM(P-384, HKDF-SHA384)",
    0x0012: "DHKEM(P-521, HKDF-SHA512)",
    0x0020: "DHKEM(X25519, HKDF-SHA256)",
    0x0021: "DHKEM(X448, HKDF-SHA512)",
}
HPKE_KDF_NAMES = {0x0001: "HKDF-SHA256", 0x0002: "HKDF-SHA384", 0x0003: "HKDF-SHA512"}
HPKE_AEAD_NAMES = {
    0x0001: "AES-128-GCM",
    0x0002: "AES-256-GCM",
    0x0003: "ChaCha20Poly1305",
    0xFFFF: "Export-only",
}


def _vec(name: str, target: str, fmt: str = "H") -> FieldLenField:
    return FieldLenField(name, None, length_of=target, fmt=fmt)


class TLSHpkeSymmetricCipherSuite(_Elem):
    """HpkeSymmetricCipherSuite (RFC 9849 §4): a KDF and an AEAD."""

    name = "HPKE symmetric cipher suite"
    fields_desc = [
        ShortEnumField("kdf_id", 1, HPKE_KDF_NAMES),
        ShortEnumField("aead_id", 1, HPKE_AEAD_NAMES),
    ]

    @staticmethod
    def wire_size(d: bytes) -> int:
        return 4

    def mysummary(self) -> str:
        kdf = HPKE_KDF_NAMES.get(self.kdf_id, f"0x{self.kdf_id:04x}")
        aead = HPKE_AEAD_NAMES.get(self.aead_id, f"0x{self.aead_id:04x}")
        return f"{kdf}/{aead}"


class TLSECHConfigExtension(_Elem):
    """ECHConfigExtension (RFC 9849 §4.2): type + opaque data."""

    name = "ECHConfig extension"
    fields_desc = [
        ShortField("type", 0),
        _vec("len", "data"),
        OpaqueField("data", b"", length_from=lambda p: p.len),
    ]

    @staticmethod
    def wire_size(d: bytes) -> int:
        return 4 + u16(d, 2)


def _is_v1(p: Packet) -> bool:
    return bool(p.version == ECH_CONFIG_VERSION)


class TLSECHConfig(_Elem):
    """ECHConfig (RFC 9849 §4): version 0xfe0d carries ECHConfigContents (HpkeKeyConfig,
    maximum_name_length, public_name, extensions); another version is kept opaque."""

    name = "ECHConfig"
    fields_desc = [
        ShortField("version", ECH_CONFIG_VERSION),
        ShortField("length", None),
        # ECHConfigContents (version 0xfe0d)
        ConditionalField(ByteField("config_id", 0), _is_v1),
        ConditionalField(ShortEnumField("kem_id", 0x0020, HPKE_KEM_NAMES), _is_v1),
        ConditionalField(_vec("public_key_length", "public_key"), _is_v1),
        ConditionalField(
            OpaqueField("public_key", b"", length_from=lambda p: p.public_key_length), _is_v1
        ),
        ConditionalField(_vec("cipher_suites_length", "cipher_suites"), _is_v1),
        ConditionalField(
            TLSListField(
                "cipher_suites",
                [],
                parse_seq(TLSHpkeSymmetricCipherSuite),
                length_from=lambda p: p.cipher_suites_length,
            ),
            _is_v1,
        ),
        ConditionalField(ByteField("maximum_name_length", 0), _is_v1),
        ConditionalField(_vec("public_name_length", "public_name", "B"), _is_v1),
        ConditionalField(
            StrLenField("public_name", b"", length_from=lambda p: p.public_name_length), _is_v1
        ),
        ConditionalField(_vec("extensions_length", "extensions"), _is_v1),
        ConditionalField(
            TLSListField(
                "extensions",
                [],
                parse_seq(TLSECHConfigExtension),
                length_from=lambda p: p.extensions_length,
            ),
            _is_v1,
        ),
        # any other version: the contents as they are
        ConditionalField(
            OpaqueField("contents", b"", length_from=lambda p: p.length), lambda p: not _is_v1(p)
        ),
    ]
    computed_lengths = ("length",)

    @staticmethod
    def wire_size(d: bytes) -> int:
        return 4 + u16(d, 2)

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        if self.length is None:
            p = p[:2] + (len(p) - 4).to_bytes(2, "big") + p[4:]
        return p + pay

    def computed_length(self, name: str, raw: bytes) -> int:
        return len(raw) - 4

    def mysummary(self) -> str:
        if not _is_v1(self):
            return f"ECHConfig version 0x{self.version:04x}"
        name = bytes(self.public_name).decode(errors="replace")
        return (
            f"ECHConfig id={self.config_id} {HPKE_KEM_NAMES.get(self.kem_id, self.kem_id)} {name}"
        )


def parse_ech_configs(parent: Packet, data: bytes) -> list[Packet]:
    """ECHConfig elements of an ECHConfigList body; what does not decode is undecoded."""
    parsed: list[Packet] = parse_seq(TLSECHConfig)(parent, data)
    return parsed


class TLSECHConfigList(TLSPacket):
    """ECHConfigList (RFC 9849 §4): ``ECHConfig ECHConfigList<4..2^16-1>``."""

    name = "ECHConfigList"
    fields_desc = [
        _vec("configs_length", "configs"),
        TLSListField("configs", [], parse_ech_configs, length_from=lambda p: p.configs_length),
    ]

    def mysummary(self) -> str:
        return f"ECHConfigList ({len(self.configs)} configs)"


def dissect_ech_config_list(data: bytes) -> Packet:
    """An ECHConfigList from bytes (a DNS HTTPS ``ech`` value, ``retry_configs``); never raises:
    bytes that are not one whole list give an undecoded layer with the reason."""
    p = try_classes([TLSECHConfigList], bytes(data), None)
    return p if p is not None else undecoded("not an ECHConfigList", bytes(data))


def dissect_ech_config(data: bytes) -> Packet:
    """One ECHConfig (an RFC 9850 ``ECH_CONFIG`` value); never raises."""
    p = try_classes([TLSECHConfig], bytes(data), None)
    return p if p is not None else undecoded("not an ECHConfig", bytes(data))


__all__: list[Any] = [
    "HPKE_AEAD_NAMES",
    "HPKE_KDF_NAMES",
    "HPKE_KEM_NAMES",
    "TLSECHConfig",
    "TLSECHConfigExtension",
    "TLSECHConfigList",
    "TLSHpkeSymmetricCipherSuite",
    "dissect_ech_config",
    "dissect_ech_config_list",
]
