"""Security associations (RFC 4301 §4.4.2) as plain data, and algorithm-name canonicalisation.

Canonical encryption names (keys of :data:`ENCRYPTION_ALGORITHMS`): ``NULL``, ``AES-CBC``,
``AES-CTR``, ``3DES-CBC``, ``DES-CBC``, ``AES-GCM-8|12|16``, ``AES-GCM-16-IIV``,
``AES-CCM-8|12|16``, ``AES-CCM-8-IIV``, ``CHACHA20-POLY1305``, ``CHACHA20-POLY1305-IIV``,
``AES-GMAC`` (ENCR_NULL_AUTH_AES_GMAC).  Canonical integrity names: ``NONE``, ``HMAC-MD5-96``,
``HMAC-SHA1-96``, ``HMAC-SHA2-256-128``, ``HMAC-SHA2-384-192``, ``HMAC-SHA2-512-256``,
``HMAC-SHA-256-96``, ``AES-XCBC-MAC-96``, ``AES-CMAC-96``.

:func:`canonical_encryption` / :func:`canonical_integrity` also accept Wireshark ``esp_sa``
names, IANA IKEv2 names (``ENCR_AES_GCM_16``, ``AUTH_HMAC_SHA2_256_128``), Linux xfrm names
(``cbc(aes)``, ``hmac(sha256)``), Scapy's names and strongSwan proposal keywords.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from netsec_layers.crypto.esp_algorithms import (
    ENCRYPTION_ALGORITHMS,
    INTEGRITY_ALGORITHMS,
    EncryptionSpec,
    IntegritySpec,
)
from netsec_layers.errors import UnsupportedAlgorithmError, UsageError

__all__ = [
    "ANY_SPI",
    "ENCRYPTION_ALGORITHMS",
    "INTEGRITY_ALGORITHMS",
    "SecurityAssociation",
    "canonical_encryption",
    "canonical_integrity",
]

#: ``spi`` value of an SA that matches every SPI (Wireshark's ``*`` in the SPI column).
ANY_SPI = -1

_ENC_ALIASES: dict[str, str] = {
    # Wireshark esp_sa names (packet-esp.c)
    "null": "NULL",
    "tripledes-cbc [rfc2451]": "3DES-CBC",
    "aes-cbc [rfc3602]": "AES-CBC",
    "aes-ctr [rfc3686]": "AES-CTR",
    "des-cbc [rfc2405]": "DES-CBC",
    "aes-gcm [rfc4106]": "AES-GCM-16",  # ICV length from the auth column (sa_files)
    "aes-gcm with 8 octet icv [rfc4106]": "AES-GCM-8",
    "aes-gcm with 12 octet icv [rfc4106]": "AES-GCM-12",
    "aes-gcm with 16 octet icv [rfc4106]": "AES-GCM-16",
    "aes-gcm with iiv and 16 octet icv [rfc4106 & rfc8750]": "AES-GCM-16-IIV",
    "chacha20 with poly1305 [rfc7634]": "CHACHA20-POLY1305",
    "chacha20 with poly1305 and iiv [rfc7634 & rfc8750]": "CHACHA20-POLY1305-IIV",
    # IANA IKEv2 names
    "encr_null": "NULL",
    "encr_aes_cbc": "AES-CBC",
    "encr_aes_ctr": "AES-CTR",
    "encr_3des": "3DES-CBC",
    "encr_des": "DES-CBC",
    "encr_aes_gcm_8": "AES-GCM-8",
    "encr_aes_gcm_12": "AES-GCM-12",
    "encr_aes_gcm_16": "AES-GCM-16",
    "encr_aes_gcm_16_iiv": "AES-GCM-16-IIV",
    "encr_aes_ccm_8": "AES-CCM-8",
    "encr_aes_ccm_12": "AES-CCM-12",
    "encr_aes_ccm_16": "AES-CCM-16",
    "encr_aes_ccm_8_iiv": "AES-CCM-8-IIV",
    "encr_chacha20_poly1305": "CHACHA20-POLY1305",
    "encr_chacha20_poly1305_iiv": "CHACHA20-POLY1305-IIV",
    "encr_null_auth_aes_gmac": "AES-GMAC",
    # Linux xfrm (crypto API template names)
    "cbc(aes)": "AES-CBC",
    "rfc3686(ctr(aes))": "AES-CTR",
    "cbc(des3_ede)": "3DES-CBC",
    "cbc(des)": "DES-CBC",
    "ecb(cipher_null)": "NULL",
    "cipher_null": "NULL",
    "rfc4106(gcm(aes))": "AES-GCM-16",
    "rfc4309(ccm(aes))": "AES-CCM-16",
    "rfc4543(gcm(aes))": "AES-GMAC",
    "rfc7539esp(chacha20,poly1305)": "CHACHA20-POLY1305",
    # Scapy CRYPT_ALGOS
    "aes-gcm": "AES-GCM-16",
    "aes-ccm": "AES-CCM-16",
    "aes-null-gmac": "AES-GMAC",
    "des": "DES-CBC",
    "3des": "3DES-CBC",
    "chacha20poly1305": "CHACHA20-POLY1305",
}

_INT_ALIASES: dict[str, str] = {
    # Wireshark esp_sa names
    "null": "NONE",
    "hmac-sha-1-96 [rfc2404]": "HMAC-SHA1-96",
    "hmac-sha-256-96 [draft-ietf-ipsec-ciph-sha-256-00]": "HMAC-SHA-256-96",
    "hmac-sha-256-128 [rfc4868]": "HMAC-SHA2-256-128",
    "hmac-sha-384-192 [rfc4868]": "HMAC-SHA2-384-192",
    "hmac-sha-512-256 [rfc4868]": "HMAC-SHA2-512-256",
    "hmac-md5-96 [rfc2403]": "HMAC-MD5-96",
    # IANA IKEv2 names
    "auth_none": "NONE",
    "auth_hmac_md5_96": "HMAC-MD5-96",
    "auth_hmac_sha1_96": "HMAC-SHA1-96",
    "auth_aes_xcbc_96": "AES-XCBC-MAC-96",
    "auth_aes_cmac_96": "AES-CMAC-96",
    "auth_hmac_sha2_256_128": "HMAC-SHA2-256-128",
    "auth_hmac_sha2_384_192": "HMAC-SHA2-384-192",
    "auth_hmac_sha2_512_256": "HMAC-SHA2-512-256",
    # Linux xfrm defaults (the `auth` keyword's truncation; `auth-trunc` decides otherwise)
    "hmac(md5)": "HMAC-MD5-96",
    "hmac(sha1)": "HMAC-SHA1-96",
    "hmac(sha256)": "HMAC-SHA-256-96",
    "hmac(sha384)": "HMAC-SHA2-384-192",
    "hmac(sha512)": "HMAC-SHA2-512-256",
    "xcbc(aes)": "AES-XCBC-MAC-96",
    "cmac(aes)": "AES-CMAC-96",
    "digest_null": "NONE",
    # Scapy AUTH_ALGOS and strongSwan keywords
    "sha2-256-128": "HMAC-SHA2-256-128",
    "sha2-384-192": "HMAC-SHA2-384-192",
    "sha2-512-256": "HMAC-SHA2-512-256",
    "sha1": "HMAC-SHA1-96",
    "md5": "HMAC-MD5-96",
    "sha256": "HMAC-SHA2-256-128",
    "sha384": "HMAC-SHA2-384-192",
    "sha512": "HMAC-SHA2-512-256",
    "sha256_96": "HMAC-SHA-256-96",
    "aesxcbc": "AES-XCBC-MAC-96",
    "aescmac": "AES-CMAC-96",
    "hmac-sha256-128": "HMAC-SHA2-256-128",
    "hmac-sha384-192": "HMAC-SHA2-384-192",
    "hmac-sha512-256": "HMAC-SHA2-512-256",
    "aes-xcbc-96": "AES-XCBC-MAC-96",
}

# strongSwan proposal keywords: aes128, aes256ctr, aes128gcm16, aes256ccm12, aes128gmac, ...
_SWAN = re.compile(r"aes(?:128|192|256)?(ctr|gcm|ccm|gmac)?(8|12|16|64|96|128)?")
_SWAN_BITS = {"8": 8, "12": 12, "16": 16, "64": 8, "96": 12, "128": 16}


def _norm(name: str) -> str:
    return " ".join(name.split()).lower()


def canonical_encryption(name: str) -> str:
    """Canonical ESP encryption name for any accepted spelling; else UnsupportedAlgorithmError."""
    n = _norm(name)
    for cand in (n, n.replace("_", "-")):
        for canon in ENCRYPTION_ALGORITHMS:
            if cand == canon.lower():
                return canon
        if cand in _ENC_ALIASES:
            return _ENC_ALIASES[cand]
    m = _SWAN.fullmatch(n)
    if m:
        mode, bits = m.groups()
        if mode is None and bits is None:
            return "AES-CBC"
        if mode == "ctr" and bits is None:
            return "AES-CTR"
        if mode == "gmac" and bits is None:
            return "AES-GMAC"
        if mode in ("gcm", "ccm"):
            return f"AES-{mode.upper()}-{_SWAN_BITS[bits or '16']}"
    raise UnsupportedAlgorithmError(
        f"unknown ESP encryption algorithm {name!r}; known: {', '.join(ENCRYPTION_ALGORITHMS)} "
        "(also Wireshark esp_sa, IKEv2 ENCR_*, xfrm, Scapy and strongSwan spellings)"
    )


def canonical_integrity(name: str) -> str:
    """Canonical integrity name for any accepted spelling; else UnsupportedAlgorithmError."""
    n = _norm(name)
    for cand in (n, n.replace("_", "-")):
        for canon in INTEGRITY_ALGORITHMS:
            if cand == canon.lower():
                return canon
        if cand in _INT_ALIASES:
            return _INT_ALIASES[cand]
    if n in _INT_ALIASES:
        return _INT_ALIASES[n]
    raise UnsupportedAlgorithmError(
        f"unknown integrity algorithm {name!r}; known: {', '.join(INTEGRITY_ALGORITHMS)} "
        "(also Wireshark esp_sa, IKEv2 AUTH_*, xfrm, Scapy and strongSwan spellings)"
    )


_IIV = {
    "AES-GCM-16": "AES-GCM-16-IIV",
    "AES-CCM-8": "AES-CCM-8-IIV",
    "CHACHA20-POLY1305": "CHACHA20-POLY1305-IIV",
}


@dataclass
class SecurityAssociation:
    """One unidirectional ESP or AH SA.

    Names are canonicalised and key lengths checked on construction (``UsageError``).
    ``enc_key`` includes the trailing salt/nonce for CTR, GCM, CCM, GMAC and ChaCha20.
    ``spi == ANY_SPI`` (-1) matches every SPI.  ``src``/``dst`` accept ``*``, per-octet
    wildcards (``10.0.*.*``), prefixes (``10.0.0.0/8``, ``2001:db8::/32``) or addresses; when
    encrypting in tunnel mode concrete values are the outer addresses.
    """

    spi: int
    encryption: str = "NULL"
    enc_key: bytes = b""
    integrity: str = "NONE"
    auth_key: bytes = b""
    src: str = "*"
    dst: str = "*"
    protocol: str = "esp"
    mode: str = "tunnel"
    esn: bool = False
    esn_high: int = 0
    replay_window: int = 64
    udp_encap: tuple[int, int] | None = None
    implicit_iv: bool = False

    def __post_init__(self) -> None:
        self.encryption = canonical_encryption(self.encryption)
        self.integrity = canonical_integrity(self.integrity)
        self.protocol = self.protocol.lower()
        self.mode = self.mode.lower()
        if self.protocol not in ("esp", "ah"):
            raise UsageError(f"protocol must be 'esp' or 'ah', not {self.protocol!r}")
        if self.mode not in ("tunnel", "transport"):
            raise UsageError(f"mode must be 'tunnel' or 'transport', not {self.mode!r}")
        if not (self.spi == ANY_SPI or 0 <= self.spi <= 0xFFFFFFFF):
            raise UsageError(f"SPI {self.spi} out of range")
        if not 0 <= self.esn_high <= 0xFFFFFFFF:
            raise UsageError("esn_high must fit in 32 bits")
        if self.replay_window < 0:
            raise UsageError("replay_window must be >= 0")
        if self.udp_encap is not None:
            self.udp_encap = (int(self.udp_encap[0]), int(self.udp_encap[1]))
        # RFC 8750: implicit IV is a property of the transform; keep name and flag in step.
        if self.implicit_iv and self.encryption in _IIV:
            self.encryption = _IIV[self.encryption]
        if self.encryption.endswith("-IIV"):
            self.implicit_iv = True
        elif self.implicit_iv:
            raise UsageError(f"{self.encryption} has no implicit-IV variant (RFC 8750)")
        self.enc_key = bytes(self.enc_key)
        self.auth_key = bytes(self.auth_key)
        self._check_keys()

    def _check_keys(self) -> None:
        enc, integ = self.enc_spec, self.int_spec
        if self.protocol == "ah":
            if self.encryption != "NULL":
                raise UsageError("an AH SA has no encryption")
        elif (len(self.enc_key) - enc.salt_len) not in enc.key_sizes:
            want = "/".join(str(k + enc.salt_len) for k in enc.key_sizes)
            salt = f" incl. {enc.salt_len}-byte salt" if enc.salt_len else ""
            raise UsageError(
                f"SPI 0x{self.spi & 0xFFFFFFFF:08x}: {self.encryption} key must be {want} bytes"
                f"{salt}, got {len(self.enc_key)}"
            )
        if enc.aead and self.integrity != "NONE":
            raise UsageError(f"{self.encryption} is a combined mode; integrity must be NONE")
        if integ.key_sizes and integ.kind != "none" and len(self.auth_key) not in integ.key_sizes:
            raise UsageError(
                f"{self.integrity} key must be {integ.key_sizes[0]} bytes, got {len(self.auth_key)}"
            )
        if integ.kind == "hmac" and not self.auth_key:
            raise UsageError(f"{self.integrity} needs a key")

    @property
    def enc_spec(self) -> EncryptionSpec:
        """Parameters of the encryption transform."""
        return ENCRYPTION_ALGORITHMS[self.encryption]

    @property
    def int_spec(self) -> IntegritySpec:
        """Parameters of the integrity transform."""
        return INTEGRITY_ALGORITHMS[self.integrity]

    @property
    def icv_len(self) -> int:
        """ICV bytes on the wire (combined-mode tag or integrity ICV)."""
        return self.enc_spec.icv_len or self.int_spec.icv_len
