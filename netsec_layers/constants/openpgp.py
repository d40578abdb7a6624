"""OpenPGP registries (RFC 9580 §9 and §5, RFC 4880): the single source of the names.

The layers, the crypto and the command line all take their numbers and names from here.
"""

from __future__ import annotations

from enum import IntEnum


class PacketTag(IntEnum):
    """Packet Type IDs (RFC 9580 §5, table 3; 20 is GnuPG's OCB-encrypted data)."""

    RESERVED = 0
    PKESK = 1
    SIGNATURE = 2
    SKESK = 3
    ONE_PASS_SIGNATURE = 4
    SECRET_KEY = 5
    PUBLIC_KEY = 6
    SECRET_SUBKEY = 7
    COMPRESSED_DATA = 8
    SED = 9
    MARKER = 10
    LITERAL_DATA = 11
    TRUST = 12
    USER_ID = 13
    PUBLIC_SUBKEY = 14
    USER_ATTRIBUTE = 17
    SEIPD = 18
    MDC = 19
    GNUPG_OCB = 20
    PADDING = 21


class PubKeyAlgo(IntEnum):
    """Public Key Algorithms (RFC 9580 §9.1)."""

    RSA = 1
    RSA_ENCRYPT_ONLY = 2
    RSA_SIGN_ONLY = 3
    ELGAMAL = 16
    DSA = 17
    ECDH = 18
    ECDSA = 19
    ELGAMAL_SIGN = 20  # formerly Elgamal encrypt-or-sign, reserved
    EDDSA_LEGACY = 22
    X25519 = 25
    X448 = 26
    ED25519 = 27
    ED448 = 28


class SymAlgo(IntEnum):
    """Symmetric Key Algorithms (RFC 9580 §9.3)."""

    PLAINTEXT = 0
    IDEA = 1
    TRIPLEDES = 2
    CAST5 = 3
    BLOWFISH = 4
    AES128 = 7
    AES192 = 8
    AES256 = 9
    TWOFISH = 10
    CAMELLIA128 = 11
    CAMELLIA192 = 12
    CAMELLIA256 = 13


SYM_KEY_SIZE = {
    SymAlgo.IDEA: 16,
    SymAlgo.TRIPLEDES: 24,
    SymAlgo.CAST5: 16,
    SymAlgo.BLOWFISH: 16,
    SymAlgo.AES128: 16,
    SymAlgo.AES192: 24,
    SymAlgo.AES256: 32,
    SymAlgo.TWOFISH: 32,
    SymAlgo.CAMELLIA128: 16,
    SymAlgo.CAMELLIA192: 24,
    SymAlgo.CAMELLIA256: 32,
}
SYM_BLOCK_SIZE = {
    SymAlgo.IDEA: 8,
    SymAlgo.TRIPLEDES: 8,
    SymAlgo.CAST5: 8,
    SymAlgo.BLOWFISH: 8,
}  # every other cipher has 16-octet blocks


class CompressionAlgo(IntEnum):
    """Compression Algorithms (RFC 9580 §9.4)."""

    UNCOMPRESSED = 0
    ZIP = 1
    ZLIB = 2
    BZIP2 = 3


class HashAlgo(IntEnum):
    """Hash Algorithms (RFC 9580 §9.5)."""

    MD5 = 1
    SHA1 = 2
    RIPEMD160 = 3
    SHA256 = 8
    SHA384 = 9
    SHA512 = 10
    SHA224 = 11
    SHA3_256 = 12
    SHA3_512 = 14


class AEADAlgo(IntEnum):
    """AEAD Algorithms (RFC 9580 §9.6)."""

    EAX = 1
    OCB = 2
    GCM = 3


AEAD_NONCE_SIZE = {AEADAlgo.EAX: 16, AEADAlgo.OCB: 15, AEADAlgo.GCM: 12}


class S2KType(IntEnum):
    """String-to-Key specifier types (RFC 9580 §3.7.1)."""

    SIMPLE = 0
    SALTED = 1
    ITERATED_SALTED = 3
    ARGON2 = 4
    GNU_DUMMY = 101  # GnuPG extension: no secret material (gnu-dummy / smartcard stubs)


class S2KUsage(IntEnum):
    """Secret-key protection (the "S2K usage octet", RFC 9580 §3.7.2.1)."""

    UNPROTECTED = 0
    AEAD = 253
    CFB = 254
    MALLEABLE_CFB = 255


class SignatureType(IntEnum):
    """Signature Types (RFC 9580 §5.2.1)."""

    BINARY = 0x00
    TEXT = 0x01
    STANDALONE = 0x02
    GENERIC_CERT = 0x10
    PERSONA_CERT = 0x11
    CASUAL_CERT = 0x12
    POSITIVE_CERT = 0x13
    SUBKEY_BINDING = 0x18
    PRIMARY_KEY_BINDING = 0x19
    DIRECT_KEY = 0x1F
    KEY_REVOCATION = 0x20
    SUBKEY_REVOCATION = 0x28
    CERT_REVOCATION = 0x30
    TIMESTAMP = 0x40
    THIRD_PARTY_CONFIRMATION = 0x50


class SubpacketType(IntEnum):
    """Signature subpacket types (RFC 9580 §5.2.3.7)."""

    SIGNATURE_CREATION_TIME = 2
    SIGNATURE_EXPIRATION_TIME = 3
    EXPORTABLE_CERTIFICATION = 4
    TRUST_SIGNATURE = 5
    REGULAR_EXPRESSION = 6
    REVOCABLE = 7
    KEY_EXPIRATION_TIME = 9
    PLACEHOLDER = 10
    PREFERRED_SYMMETRIC = 11
    REVOCATION_KEY = 12
    ISSUER_KEY_ID = 16
    NOTATION_DATA = 20
    PREFERRED_HASH = 21
    PREFERRED_COMPRESSION = 22
    KEY_SERVER_PREFERENCES = 23
    PREFERRED_KEY_SERVER = 24
    PRIMARY_USER_ID = 25
    POLICY_URI = 26
    KEY_FLAGS = 27
    SIGNERS_USER_ID = 28
    REASON_FOR_REVOCATION = 29
    FEATURES = 30
    SIGNATURE_TARGET = 31
    EMBEDDED_SIGNATURE = 32
    ISSUER_FINGERPRINT = 33
    PREFERRED_AEAD_ALGORITHMS = 34  # GnuPG / rfc4880bis
    INTENDED_RECIPIENT_FINGERPRINT = 35
    PREFERRED_AEAD_CIPHERSUITES = 39


class LiteralFormat(IntEnum):
    """Literal Data format octet (RFC 9580 §5.9)."""

    BINARY = 0x62  # 'b'
    TEXT = 0x74  # 't'
    UTF8 = 0x75  # 'u'
    LOCAL = 0x6C  # 'l' (RFC 1991)
    MIME = 0x6D  # 'm' (rfc4880bis, GnuPG)


# Curve OIDs (RFC 9580 §9.2), DER body without tag and length.
CURVE_OIDS: dict[bytes, str] = {
    bytes.fromhex("2a8648ce3d030107"): "NIST P-256",
    bytes.fromhex("2b81040022"): "NIST P-384",
    bytes.fromhex("2b81040023"): "NIST P-521",
    bytes.fromhex("2b2403030208010107"): "brainpoolP256r1",
    bytes.fromhex("2b240303020801010b"): "brainpoolP384r1",
    bytes.fromhex("2b240303020801010d"): "brainpoolP512r1",
    bytes.fromhex("2b06010401da470f01"): "Ed25519Legacy",
    bytes.fromhex("2b060104019755010501"): "Curve25519Legacy",
    bytes.fromhex("2b656f"): "X448 (legacy OID)",
}


def enum_name(enum: type[IntEnum], value: int) -> str:
    """``enum`` member name of ``value``, or ``unknown(N)``."""
    try:
        return enum(value).name
    except ValueError:
        return f"unknown({value})"


_KEY_FLAGS = (
    (0x01, "certify"),
    (0x02, "sign"),
    (0x04, "encrypt-communications"),
    (0x08, "encrypt-storage"),
    (0x10, "split-key"),
    (0x20, "authenticate"),
    (0x80, "group-key"),
)
_FEATURES = ((0x01, "seipd-v1"), (0x02, "aead-v5"), (0x04, "v5-keys"), (0x08, "seipd-v2"))


def _flag_names(value: int, table: tuple[tuple[int, str], ...]) -> list[str]:
    return [name for bit, name in table if value & bit] + (
        [f"0x{value & ~sum(b for b, _ in table):x}"] if value & ~sum(b for b, _ in table) else []
    )


def describe_subpacket(kind: int, data: bytes) -> object:
    """A JSON-able reading of a signature subpacket's data (RFC 9580 §5.2.3.11-36); the hex of
    the data for types without a reading here or data of the wrong size."""
    n = len(data)
    if kind in (2, 3, 9) and n == 4:  # creation time; signature/key expiration (seconds)
        return int.from_bytes(data, "big")
    if kind in (4, 7, 25) and n == 1:  # exportable, revocable, primary user ID
        return bool(data[0])
    if kind == 5 and n == 2:
        return {"depth": data[0], "amount": data[1]}
    if kind == 16 and n == 8:
        return data.hex().upper()
    if kind in (33, 35) and n in (21, 33):  # issuer / intended recipient fingerprint
        return {"version": data[0], "fingerprint": data[1:].hex().upper()}
    if kind in (11, 21, 22):
        enum = {11: SymAlgo, 21: HashAlgo, 22: CompressionAlgo}[kind]
        return [enum_name(enum, b) for b in data]
    if kind == 39 and n % 2 == 0:
        return [
            [enum_name(SymAlgo, data[i]), enum_name(AEADAlgo, data[i + 1])] for i in range(0, n, 2)
        ]
    if kind == 27 and n:
        return _flag_names(data[0], _KEY_FLAGS)
    if kind == 30 and n:
        return _flag_names(data[0], _FEATURES)
    if kind in (6, 24, 26, 28):  # regex, preferred key server, policy URI, signer's user ID
        return data.decode("utf-8", "replace")
    if kind == 29 and n:
        return {"code": data[0], "reason": data[1:].decode("utf-8", "replace")}
    if kind == 20 and n >= 8:
        name_len, value_len = int.from_bytes(data[4:6], "big"), int.from_bytes(data[6:8], "big")
        if 8 + name_len + value_len == n:
            name = data[8 : 8 + name_len].decode("utf-8", "replace")
            value = data[8 + name_len :]
            human = bool(data[0] & 0x80)
            return {
                "name": name,
                "value": value.decode("utf-8", "replace") if human else value.hex(),
            }
    return data.hex()
