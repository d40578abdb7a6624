"""Parameters of the ESP/AH algorithms netsec_layers implements (canonical names → sizes).

Key sizes here are the sizes of the *cipher* key; the salt/nonce that RFC 4106 §8.1, RFC 4309
§7.1, RFC 4543 §3.2, RFC 3686 §5.1 and RFC 7634 §2 append to the keying material (the layout
Linux xfrm, strongSwan and Wireshark use) is ``salt_len`` more bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from netsec_layers.constants.ipsec import EncrTransform, IntegTransform


@dataclass(frozen=True)
class EncryptionSpec:
    """One ESP encryption (or combined-mode) transform."""

    name: str
    kind: str  # "null" | "cbc" | "ctr" | "gcm" | "ccm" | "chacha" | "gmac"
    key_sizes: tuple[int, ...]  # cipher key bytes, salt excluded
    salt_len: int  # bytes appended to the key (RFC 4106 salt, RFC 3686 nonce, ...)
    iv_len: int  # IV bytes on the wire (0 for NULL and implicit-IV transforms)
    block_size: int  # plaintext alignment the cipher needs (1 for stream/AEAD)
    icv_len: int  # combined-mode ICV bytes (0 for plain ciphers)
    implicit_iv: bool = False  # RFC 8750: IV = sequence number, not transmitted
    ikev2: int | None = None

    @property
    def aead(self) -> bool:
        """Combined mode (RFC 4303 §3.2.3): integrity comes with the cipher."""
        return self.icv_len > 0


@dataclass(frozen=True)
class IntegritySpec:
    """One ESP/AH integrity transform."""

    name: str
    kind: str  # "none" | "hmac" | "xcbc" | "cmac"
    hash_name: str | None  # hashlib name for HMAC
    key_sizes: tuple[int, ...]  # () = any length (HMAC keys)
    icv_len: int
    ikev2: int | None = None


_AES = (16, 24, 32)
_E = EncrTransform
_I = IntegTransform

ENCRYPTION_ALGORITHMS: dict[str, EncryptionSpec] = {
    s.name: s
    for s in (
        EncryptionSpec("NULL", "null", (0,), 0, 0, 1, 0, ikev2=_E.ENCR_NULL),
        EncryptionSpec("AES-CBC", "cbc", _AES, 0, 16, 16, 0, ikev2=_E.ENCR_AES_CBC),  # RFC 3602
        EncryptionSpec("AES-CTR", "ctr", _AES, 4, 8, 1, 0, ikev2=_E.ENCR_AES_CTR),  # RFC 3686
        EncryptionSpec("3DES-CBC", "cbc", (24,), 0, 8, 8, 0, ikev2=_E.ENCR_3DES),  # RFC 2451
        EncryptionSpec("DES-CBC", "cbc", (8,), 0, 8, 8, 0, ikev2=_E.ENCR_DES),  # RFC 2405
        EncryptionSpec("AES-GCM-8", "gcm", _AES, 4, 8, 1, 8, ikev2=_E.ENCR_AES_GCM_8),
        EncryptionSpec("AES-GCM-12", "gcm", _AES, 4, 8, 1, 12, ikev2=_E.ENCR_AES_GCM_12),
        EncryptionSpec("AES-GCM-16", "gcm", _AES, 4, 8, 1, 16, ikev2=_E.ENCR_AES_GCM_16),
        EncryptionSpec(
            "AES-GCM-16-IIV", "gcm", _AES, 4, 0, 1, 16, True, ikev2=_E.ENCR_AES_GCM_16_IIV
        ),
        EncryptionSpec("AES-CCM-8", "ccm", _AES, 3, 8, 1, 8, ikev2=_E.ENCR_AES_CCM_8),
        EncryptionSpec("AES-CCM-12", "ccm", _AES, 3, 8, 1, 12, ikev2=_E.ENCR_AES_CCM_12),
        EncryptionSpec("AES-CCM-16", "ccm", _AES, 3, 8, 1, 16, ikev2=_E.ENCR_AES_CCM_16),
        EncryptionSpec("AES-CCM-8-IIV", "ccm", _AES, 3, 0, 1, 8, True, ikev2=_E.ENCR_AES_CCM_8_IIV),
        EncryptionSpec(
            "CHACHA20-POLY1305", "chacha", (32,), 4, 8, 1, 16, ikev2=_E.ENCR_CHACHA20_POLY1305
        ),
        EncryptionSpec(
            "CHACHA20-POLY1305-IIV",
            "chacha",
            (32,),
            4,
            0,
            1,
            16,
            True,
            ikev2=_E.ENCR_CHACHA20_POLY1305_IIV,
        ),
        # RFC 4543: integrity only (ENCR_NULL_AUTH_AES_GMAC); payload travels in clear.
        EncryptionSpec("AES-GMAC", "gmac", _AES, 4, 8, 1, 16, ikev2=_E.ENCR_NULL_AUTH_AES_GMAC),
    )
}

INTEGRITY_ALGORITHMS: dict[str, IntegritySpec] = {
    s.name: s
    for s in (
        IntegritySpec("NONE", "none", None, (0,), 0, ikev2=_I.AUTH_NONE),
        IntegritySpec("HMAC-MD5-96", "hmac", "md5", (), 12, ikev2=_I.AUTH_HMAC_MD5_96),
        IntegritySpec("HMAC-SHA1-96", "hmac", "sha1", (), 12, ikev2=_I.AUTH_HMAC_SHA1_96),
        IntegritySpec(
            "HMAC-SHA2-256-128", "hmac", "sha256", (), 16, ikev2=_I.AUTH_HMAC_SHA2_256_128
        ),
        IntegritySpec(
            "HMAC-SHA2-384-192", "hmac", "sha384", (), 24, ikev2=_I.AUTH_HMAC_SHA2_384_192
        ),
        IntegritySpec(
            "HMAC-SHA2-512-256", "hmac", "sha512", (), 32, ikev2=_I.AUTH_HMAC_SHA2_512_256
        ),
        # draft-ietf-ipsec-ciph-sha-256-00: the 96-bit truncation Linux used before RFC 4868.
        IntegritySpec("HMAC-SHA-256-96", "hmac", "sha256", (), 12),
        IntegritySpec("AES-XCBC-MAC-96", "xcbc", None, (16,), 12, ikev2=_I.AUTH_AES_XCBC_96),
        IntegritySpec("AES-CMAC-96", "cmac", None, (16,), 12, ikev2=_I.AUTH_AES_CMAC_96),
    )
}
