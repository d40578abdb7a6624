"""OpenPGP packet bodies, one Scapy layer per packet type of RFC 9580 §5 (plus GnuPG's 20).

Every body is dissected field by field and rebuilds byte for byte; encrypted and compressed
contents stay opaque here (opening them is :mod:`netsec_layers.session.openpgp`'s job).
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
    IntField,
    PacketListField,
    ShortField,
    StrLenField,
)
from scapy.packet import Packet

from netsec_layers.constants.openpgp import (
    AEADAlgo,
    CompressionAlgo,
    HashAlgo,
    LiteralFormat,
    PacketTag,
    PubKeyAlgo,
    SignatureType,
    SubpacketType,
    SymAlgo,
    describe_subpacket,
)
from netsec_layers.layers.openpgp.fields import (
    PGPS2K,
    AlgoPacketField,
    HexFixedField,
    HexLenField,
    HexStrField,
    PGPSub,
    _names,
    fixed,
    mpi,
)
from netsec_layers.layers.openpgp.packet import BODY_CLASSES, new_length

PK = _names(PubKeyAlgo)
SYM = _names(SymAlgo)
HASH = _names(HashAlgo)
AEAD = _names(AEADAlgo)
_RSA = (1, 2, 3)


class PGPBody(Packet):
    """Base of the body layers; ``pgp_tag`` is the packet type they are bound to."""

    pgp_tag = 0  # octets a body does not lay out become a Raw payload after it


# ---------------------------------------------------------------------------------------------
# algorithm-specific parts (§5.5.5, §5.1, §5.2.3)


class _KeyRSA(PGPSub):
    name = "RSA public key"
    fields_desc = [mpi("n"), mpi("e")]


class _KeyDSA(PGPSub):
    name = "DSA public key"
    fields_desc = [mpi("p"), mpi("q"), mpi("g"), mpi("y")]


class _KeyElGamal(PGPSub):
    name = "ElGamal public key"
    fields_desc = [mpi("p"), mpi("g"), mpi("y")]


def _oid_fields() -> list[Any]:
    return [
        FieldLenField("oid_len", None, length_of="oid", fmt="B"),
        HexLenField("oid", b"", length_from=lambda p: p.oid_len),
        mpi("point"),
    ]


class _KeyEC(PGPSub):
    name = "ECDSA/EdDSALegacy public key"
    fields_desc = _oid_fields()


class _KeyECDH(PGPSub):
    name = "ECDH public key"
    fields_desc = _oid_fields() + [
        ByteField("kdf_len", 3),
        ByteField("kdf_reserved", 1),
        ByteEnumField("kdf_hash", HashAlgo.SHA256, HASH),
        ByteEnumField("kdf_sym", SymAlgo.AES128, SYM),
    ]


def _native(size: int, label: str) -> type[PGPSub]:
    return type(
        f"_Key{label}", (PGPSub,), {"name": f"{label} key", "fields_desc": [fixed("key", size)]}
    )


KEY_MATERIAL: dict[int, type[Packet]] = {
    1: _KeyRSA,
    2: _KeyRSA,
    3: _KeyRSA,
    16: _KeyElGamal,
    20: _KeyElGamal,
    17: _KeyDSA,
    19: _KeyEC,
    22: _KeyEC,
    18: _KeyECDH,
    25: _native(32, "X25519"),
    26: _native(56, "X448"),
    27: _native(32, "Ed25519"),
    28: _native(57, "Ed448"),
}


class _EskRSA(PGPSub):
    name = "RSA encrypted session key"
    fields_desc = [mpi("c")]


class _EskElGamal(PGPSub):
    name = "ElGamal encrypted session key"
    fields_desc = [mpi("a"), mpi("b")]


class _EskECDH(PGPSub):
    name = "ECDH encrypted session key"
    fields_desc = [
        mpi("point"),
        FieldLenField("wrapped_len", None, length_of="wrapped", fmt="B"),
        HexLenField("wrapped", b"", length_from=lambda p: p.wrapped_len),
    ]


def _esk_x(size: int, label: str) -> type[PGPSub]:
    def v3(p: Packet) -> bool:
        parent = p.parent
        return parent is None or getattr(parent, "version", 3) == 3

    fields = [
        fixed("ephemeral", size),
        FieldLenField(
            "esk_len",
            None,
            length_of="wrapped",
            fmt="B",
            adjust=lambda p, n: n + (1 if v3(p) else 0),
        ),
        ConditionalField(ByteEnumField("sym_algo", SymAlgo.AES128, SYM), v3),
        HexLenField("wrapped", b"", length_from=lambda p: p.esk_len - (1 if v3(p) else 0)),
    ]
    return type(
        f"_Esk{label}", (PGPSub,), {"name": f"{label} encrypted session key", "fields_desc": fields}
    )


ESK_MATERIAL: dict[int, type[Packet]] = {
    1: _EskRSA,
    2: _EskRSA,
    16: _EskElGamal,
    20: _EskElGamal,
    18: _EskECDH,
    25: _esk_x(32, "X25519"),
    26: _esk_x(56, "X448"),
}


class _SigOneMPI(PGPSub):
    name = "RSA signature"
    fields_desc = [mpi("s")]


class _SigTwoMPI(PGPSub):
    name = "DSA/ECDSA/EdDSALegacy signature"
    fields_desc = [mpi("r"), mpi("s")]


SIG_MATERIAL: dict[int, type[Packet]] = {
    1: _SigOneMPI,
    3: _SigOneMPI,
    17: _SigTwoMPI,
    19: _SigTwoMPI,
    22: _SigTwoMPI,
    27: type(
        "_SigEd25519", (PGPSub,), {"name": "Ed25519 signature", "fields_desc": [fixed("sig", 64)]}
    ),
    28: type(
        "_SigEd448", (PGPSub,), {"name": "Ed448 signature", "fields_desc": [fixed("sig", 114)]}
    ),
}


# ---------------------------------------------------------------------------------------------
# tag 1: PKESK (§5.1)


class PGPPKESK(PGPBody):
    name = "OpenPGP Public-Key Encrypted Session Key"
    pgp_tag = PacketTag.PKESK
    fields_desc = [
        ByteField("version", 3),
        ConditionalField(fixed("key_id", 8), lambda p: p.version == 3),
        ConditionalField(
            FieldLenField(
                "fpr_len",
                None,
                length_of="fingerprint",
                fmt="B",
                adjust=lambda p, n: n + 1 if n else 0,
            ),
            lambda p: p.version == 6,
        ),
        ConditionalField(
            ByteField("key_version", 6),
            lambda p: (
                p.version == 6 and bool(p.fpr_len if p.fpr_len is not None else p.fingerprint)
            ),
        ),
        ConditionalField(
            HexLenField("fingerprint", b"", length_from=lambda p: max(0, p.fpr_len - 1)),
            lambda p: p.version == 6,
        ),
        ByteEnumField("pk_algo", 1, PK),
        AlgoPacketField("esk", ESK_MATERIAL, "pk_algo"),
    ]


# ---------------------------------------------------------------------------------------------
# tag 2: Signature (§5.2)


class _NewLenField(FieldLenField):
    """A subpacket length in the 1/2/5-octet OpenPGP form (§5.2.3.7)."""

    def addfield(self, pkt: Packet, s: bytes, val: Any) -> bytes:
        return s + new_length(self.i2m(pkt, val))

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, int]:
        o = s[0]
        if o < 192:
            return s[1:], o
        if o < 255:
            return s[2:], ((o - 192) << 8) + s[1] + 192
        return s[5:], int.from_bytes(s[1:5], "big")


class PGPSubpacket(PGPSub):
    """A signature subpacket: length, critical bit, type, data (shown raw)."""

    name = "Signature subpacket"
    fields_desc = [
        _NewLenField("length", None, length_of="data", adjust=lambda p, n: n + 1),
        BitField("critical", 0, 1),
        BitEnumField("type", 2, 7, _names(SubpacketType)),
        HexLenField("data", b"", length_from=lambda p: p.length - 1),
    ]

    def mysummary(self) -> str:
        return f"subpacket {self.sprintf('%type%')} = {self.value!r}"

    @property
    def value(self) -> object:
        """The data read by type (a time, a fingerprint, flag and algorithm names...)."""
        return describe_subpacket(int(self.type), bytes(self.data))


class PGPSignature(PGPBody):
    name = "OpenPGP Signature"
    pgp_tag = PacketTag.SIGNATURE
    fields_desc = [
        ByteField("version", 4),
        ConditionalField(ByteField("hashed_len5", 5), lambda p: p.version in (2, 3)),
        ByteEnumField("sig_type", 0, _names(SignatureType)),
        ConditionalField(IntField("created", 0), lambda p: p.version in (2, 3)),
        ConditionalField(fixed("key_id", 8), lambda p: p.version in (2, 3)),
        ByteEnumField("pk_algo", 1, PK),
        ByteEnumField("hash_algo", HashAlgo.SHA256, HASH),
        ConditionalField(
            FieldLenField("hashed_len", None, length_of="hashed", fmt="!H"),
            lambda p: p.version in (4, 5),
        ),
        ConditionalField(
            FieldLenField("hashed_len32", None, length_of="hashed", fmt="!I"),
            lambda p: p.version == 6,
        ),
        ConditionalField(
            PacketListField("hashed", [], PGPSubpacket, length_from=lambda p: _hl(p, "hashed")),
            lambda p: p.version >= 4,
        ),
        ConditionalField(
            FieldLenField("unhashed_len", None, length_of="unhashed", fmt="!H"),
            lambda p: p.version in (4, 5),
        ),
        ConditionalField(
            FieldLenField("unhashed_len32", None, length_of="unhashed", fmt="!I"),
            lambda p: p.version == 6,
        ),
        ConditionalField(
            PacketListField("unhashed", [], PGPSubpacket, length_from=lambda p: _hl(p, "unhashed")),
            lambda p: p.version >= 4,
        ),
        HexFixedField("left16", b"\x00\x00", 2),
        ConditionalField(
            FieldLenField("salt_len", None, length_of="salt", fmt="B"), lambda p: p.version == 6
        ),
        ConditionalField(
            HexLenField("salt", b"", length_from=lambda p: p.salt_len), lambda p: p.version == 6
        ),
        AlgoPacketField("material", SIG_MATERIAL, "pk_algo"),
    ]

    def mysummary(self) -> str:
        return f"OpenPGP Signature v{self.version} {self.sprintf('%sig_type%')}"


def _hl(p: Packet, which: str) -> int:
    name = f"{which}_len32" if p.version == 6 else f"{which}_len"
    return int(getattr(p, name) or 0)


# ---------------------------------------------------------------------------------------------
# tag 3: SKESK (§5.3), tag 4: One-Pass Signature (§5.4)


class PGPSKESK(PGPBody):
    name = "OpenPGP Symmetric-Key Encrypted Session Key"
    pgp_tag = PacketTag.SKESK
    fields_desc = [
        ByteField("version", 4),
        ConditionalField(ByteField("count", None), lambda p: p.version == 6),
        ByteEnumField("sym_algo", SymAlgo.AES256, SYM),
        ConditionalField(ByteEnumField("aead_algo", 2, AEAD), lambda p: p.version in (5, 6)),
        ConditionalField(
            FieldLenField("s2k_len", None, length_of="s2k", fmt="B"), lambda p: p.version == 6
        ),
        AlgoPacketField("s2k", {4: PGPS2K, 5: PGPS2K, 6: PGPS2K}, "version"),
        ConditionalField(
            HexLenField("iv", b"", length_from=lambda p: {1: 16, 2: 15, 3: 12}.get(p.aead_algo, 0)),
            lambda p: p.version in (5, 6),
        ),
        HexStrField("esk", b""),
    ]

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        if self.version == 6 and self.count is None:
            n = 3 + len(bytes(self.s2k or b"")) + len(self.iv) + (1 if self.version == 6 else 0)
            pkt = pkt[:1] + bytes([n & 0xFF]) + pkt[2:]
        return pkt + pay


class PGPOnePassSignature(PGPBody):
    name = "OpenPGP One-Pass Signature"
    pgp_tag = PacketTag.ONE_PASS_SIGNATURE
    fields_desc = [
        ByteField("version", 3),
        ByteEnumField("sig_type", 0, _names(SignatureType)),
        ByteEnumField("hash_algo", HashAlgo.SHA256, HASH),
        ByteEnumField("pk_algo", 1, PK),
        ConditionalField(fixed("key_id", 8), lambda p: p.version == 3),
        ConditionalField(
            FieldLenField("salt_len", None, length_of="salt", fmt="B"), lambda p: p.version == 6
        ),
        ConditionalField(
            HexLenField("salt", b"", length_from=lambda p: p.salt_len), lambda p: p.version == 6
        ),
        ConditionalField(fixed("fingerprint", 32), lambda p: p.version == 6),
        ByteField("nested", 1),
    ]


# ---------------------------------------------------------------------------------------------
# tags 5, 6, 7, 14: keys (§5.5)


def _public_fields() -> list[Any]:
    return [
        ByteField("version", 4),
        IntField("created", 0),
        ConditionalField(ShortField("valid_days", 0), lambda p: p.version in (2, 3)),
        ByteEnumField("pk_algo", 1, PK),
        ConditionalField(
            FieldLenField("material_len", None, length_of="material", fmt="!I"),
            lambda p: p.version == 6,
        ),
        AlgoPacketField("material", KEY_MATERIAL, "pk_algo"),
    ]


class PGPPublicKey(PGPBody):
    name = "OpenPGP Public Key"
    pgp_tag = PacketTag.PUBLIC_KEY
    fields_desc = _public_fields()


class PGPPublicSubkey(PGPPublicKey):
    name = "OpenPGP Public Subkey"
    pgp_tag = PacketTag.PUBLIC_SUBKEY


def _usage_has(p: Packet, *values: int) -> bool:
    return p.s2k_usage in values


def _gnu_stub(p: Packet) -> bool:
    s2k = getattr(p, "s2k", None)
    return s2k is not None and getattr(s2k, "type", 0) == 101


def _iv_len(p: Packet) -> int:
    if p.s2k_usage == 253:
        return {1: 16, 2: 15, 3: 12}.get(p.aead_algo, 0)
    algo = p.sym_algo if p.s2k_usage in (254, 255) else p.s2k_usage
    return 8 if algo in (1, 2, 3, 4) else 16


class PGPSecretKey(PGPBody):
    """Public part, S2K usage and protection parameters; the secret octets stay opaque."""

    name = "OpenPGP Secret Key"
    pgp_tag = PacketTag.SECRET_KEY
    fields_desc = _public_fields() + [
        ByteField("s2k_usage", 0),
        ConditionalField(
            ByteField("params_len", None), lambda p: p.version == 6 and p.s2k_usage != 0
        ),
        ConditionalField(
            ByteEnumField("sym_algo", SymAlgo.AES256, SYM), lambda p: _usage_has(p, 253, 254, 255)
        ),
        ConditionalField(ByteEnumField("aead_algo", 2, AEAD), lambda p: _usage_has(p, 253)),
        ConditionalField(
            FieldLenField("s2k_len", None, length_of="s2k", fmt="B"),
            lambda p: p.version == 6 and _usage_has(p, 253, 254),
        ),
        ConditionalField(
            AlgoPacketField("s2k", {253: PGPS2K, 254: PGPS2K, 255: PGPS2K}, "s2k_usage"),
            lambda p: _usage_has(p, 253, 254, 255),
        ),
        ConditionalField(
            HexLenField("iv", b"", length_from=_iv_len),
            lambda p: p.s2k_usage != 0 and not _gnu_stub(p),
        ),
        HexStrField("secret", b""),
    ]

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        if self.version == 6 and self.s2k_usage and self.params_len is None:
            pub = 10 + len(bytes(self.material or b""))
            n = len(pkt) - pub - 2 - len(self.secret)
            pkt = pkt[: pub + 1] + bytes([n & 0xFF]) + pkt[pub + 2 :]
        return pkt + pay


class PGPSecretSubkey(PGPSecretKey):
    name = "OpenPGP Secret Subkey"
    pgp_tag = PacketTag.SECRET_SUBKEY


# ---------------------------------------------------------------------------------------------
# tags 8-13, 17-21


class PGPCompressedData(PGPBody):
    name = "OpenPGP Compressed Data"
    pgp_tag = PacketTag.COMPRESSED_DATA
    fields_desc = [ByteEnumField("algo", 1, _names(CompressionAlgo)), HexStrField("data", b"")]


class PGPSymEncryptedData(PGPBody):
    """Tag 9: no integrity protection (§5.7, §13.7) — never decrypted by netsec."""

    name = "OpenPGP Symmetrically Encrypted Data (UNPROTECTED)"
    pgp_tag = PacketTag.SED
    fields_desc = [HexStrField("data", b"")]


class PGPMarker(PGPBody):
    name = "OpenPGP Marker"
    pgp_tag = PacketTag.MARKER
    fields_desc = [HexStrField("marker", b"PGP")]


class PGPLiteralData(PGPBody):
    name = "OpenPGP Literal Data"
    pgp_tag = PacketTag.LITERAL_DATA
    fields_desc = [
        ByteEnumField(
            "format", LiteralFormat.BINARY, {m.value: chr(m.value) for m in LiteralFormat}
        ),
        FieldLenField("filename_len", None, length_of="filename", fmt="B"),
        StrLenField("filename", b"", length_from=lambda p: p.filename_len),
        IntField("date", 0),
        HexStrField("data", b""),
    ]


class PGPTrust(PGPBody):
    name = "OpenPGP Trust"
    pgp_tag = PacketTag.TRUST
    fields_desc = [HexStrField("data", b"")]


class PGPUserID(PGPBody):
    name = "OpenPGP User ID"
    pgp_tag = PacketTag.USER_ID
    fields_desc = [HexStrField("user_id", b"")]

    def mysummary(self) -> str:
        return f"User ID {bytes(self.user_id).decode('utf-8', 'replace')!r}"


class PGPUserAttributeSubpacket(PGPSub):
    name = "User Attribute subpacket"
    fields_desc = [
        _NewLenField("length", None, length_of="data", adjust=lambda p, n: n + 1),
        ByteField("type", 1),
        HexLenField("data", b"", length_from=lambda p: p.length - 1),
    ]


class PGPUserAttribute(PGPBody):
    name = "OpenPGP User Attribute"
    pgp_tag = PacketTag.USER_ATTRIBUTE
    fields_desc = [PacketListField("subpackets", [], PGPUserAttributeSubpacket)]


class PGPSEIPD(PGPBody):
    name = "OpenPGP Symmetrically Encrypted and Integrity Protected Data"
    pgp_tag = PacketTag.SEIPD
    fields_desc = [
        ByteField("version", 1),
        ConditionalField(ByteEnumField("sym_algo", SymAlgo.AES128, SYM), lambda p: p.version == 2),
        ConditionalField(ByteEnumField("aead_algo", 2, AEAD), lambda p: p.version == 2),
        ConditionalField(ByteField("chunk_size", 6), lambda p: p.version == 2),
        ConditionalField(fixed("salt", 32), lambda p: p.version == 2),
        HexStrField("data", b""),
    ]


class PGPMDC(PGPBody):
    name = "OpenPGP Modification Detection Code"
    pgp_tag = PacketTag.MDC
    fields_desc = [fixed("sha1", 20)]


class PGPOCBEncryptedData(PGPBody):
    """GnuPG's AEAD packet (tag 20, rfc4880bis v5): dissected, not decrypted."""

    name = "OpenPGP GnuPG OCB Encrypted Data"
    pgp_tag = PacketTag.GNUPG_OCB
    fields_desc = [
        ByteField("version", 1),
        ByteEnumField("sym_algo", SymAlgo.AES128, SYM),
        ByteEnumField("aead_algo", 2, AEAD),
        ByteField("chunk_size", 6),
        HexLenField("iv", b"", length_from=lambda p: {1: 16, 2: 15, 3: 12}.get(p.aead_algo, 0)),
        HexStrField("data", b""),
    ]


class PGPPadding(PGPBody):
    name = "OpenPGP Padding"
    pgp_tag = PacketTag.PADDING
    fields_desc = [HexStrField("data", b"")]


# the packet layer's registry (packet.py owns it, so it never imports this module back)
BODY_CLASSES.update(
    {
        cls.pgp_tag: cls
        for cls in (
            PGPPKESK,
            PGPSignature,
            PGPSKESK,
            PGPOnePassSignature,
            PGPSecretKey,
            PGPPublicKey,
            PGPSecretSubkey,
            PGPCompressedData,
            PGPSymEncryptedData,
            PGPMarker,
            PGPLiteralData,
            PGPTrust,
            PGPUserID,
            PGPPublicSubkey,
            PGPUserAttribute,
            PGPSEIPD,
            PGPMDC,
            PGPOCBEncryptedData,
            PGPPadding,
        )
    }
)
