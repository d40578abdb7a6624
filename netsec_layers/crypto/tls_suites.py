"""TLS cipher suites we can protect records for (RFC 5246 App. C, RFC 8446 §B.4, IANA registry).

Only suites whose bulk cipher and MAC pyca/cryptography provides are listed; :func:`suite_info`
returns ``None`` for any other code point (callers fall back to :func:`suite_name` for display).

Field meanings (per RFC 5246 §6.2.3 / §6.3 and RFC 8446 §5.3):

* ``fixed_iv_len`` -- implicit IV bytes taken from the key block: the 4-byte GCM/CCM salt, the
  12-byte ChaCha20/TLS 1.3 IV, or for CBC the chained IV used by SSL 3.0 and TLS 1.0 only.
* ``record_iv_len`` -- explicit per-record bytes: the 8-byte GCM/CCM nonce, or the CBC explicit
  IV of TLS 1.1+ (RFC 4346 §6.2.3.2).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CipherSuiteInfo:
    """Parameters of one cipher suite (sizes in bytes)."""

    code: int
    name: str
    kex: str  # "RSA", "DHE_RSA", "ECDHE_RSA", "ECDHE_ECDSA", "PSK", "TLS13", "NULL", ...
    cipher: str  # "AES_128_GCM", "AES_256_CBC", "CHACHA20_POLY1305", "3DES_EDE_CBC", ...
    cipher_type: str  # "aead" | "block" | "stream" | "null"
    key_len: int
    fixed_iv_len: int
    record_iv_len: int
    block_size: int
    tag_len: int
    mac: str | None  # "MD5" | "SHA1" | "SHA256" | "SHA384" | None (AEAD)
    mac_len: int
    prf_hash: str  # "SHA256" | "SHA384" (TLS 1.2 PRF / TLS 1.3 HKDF hash)

    @property
    def is_tls13(self) -> bool:
        """True for the five TLS 1.3 suites (RFC 8446 §B.4)."""
        return self.kex == "TLS13"


# cipher -> (cipher_type, key_len, fixed_iv_len, record_iv_len, block_size, tag_len)
_CIPHERS: dict[str, tuple[str, int, int, int, int, int]] = {
    "NULL": ("null", 0, 0, 0, 0, 0),
    "RC4_128": ("stream", 16, 0, 0, 0, 0),
    "DES_CBC": ("block", 8, 8, 8, 8, 0),
    "3DES_EDE_CBC": ("block", 24, 8, 8, 8, 0),
    "AES_128_CBC": ("block", 16, 16, 16, 16, 0),
    "AES_256_CBC": ("block", 32, 16, 16, 16, 0),
    "CAMELLIA_128_CBC": ("block", 16, 16, 16, 16, 0),
    "CAMELLIA_256_CBC": ("block", 32, 16, 16, 16, 0),
    # RFC 5288 / RFC 6655: 4-byte salt from the key block + 8-byte explicit nonce.
    "AES_128_GCM": ("aead", 16, 4, 8, 0, 16),
    "AES_256_GCM": ("aead", 32, 4, 8, 0, 16),
    "AES_128_CCM": ("aead", 16, 4, 8, 0, 16),
    "AES_256_CCM": ("aead", 32, 4, 8, 0, 16),
    "AES_128_CCM_8": ("aead", 16, 4, 8, 0, 8),
    "AES_256_CCM_8": ("aead", 32, 4, 8, 0, 8),
    # RFC 7905 §2: 12-byte IV XORed with the sequence number, no explicit nonce.
    "CHACHA20_POLY1305": ("aead", 32, 12, 0, 0, 16),
}

_MAC_LEN = {None: 0, "MD5": 16, "SHA1": 20, "SHA256": 32, "SHA384": 48}

# (code, kex, cipher, name suffix).  The suffix is the MAC for CBC/stream/NULL suites and the PRF
# hash for AEAD suites; "" means the IANA name has no suffix (the CCM suites of RFC 6655/7251).
_TABLE: list[tuple[int, str, str, str]] = [
    (0x0000, "NULL", "NULL", "NULL"),
    # static RSA
    (0x0001, "RSA", "NULL", "MD5"),
    (0x0002, "RSA", "NULL", "SHA"),
    (0x003B, "RSA", "NULL", "SHA256"),
    (0x0004, "RSA", "RC4_128", "MD5"),
    (0x0005, "RSA", "RC4_128", "SHA"),
    (0x0009, "RSA", "DES_CBC", "SHA"),
    (0x000A, "RSA", "3DES_EDE_CBC", "SHA"),
    (0x002F, "RSA", "AES_128_CBC", "SHA"),
    (0x0035, "RSA", "AES_256_CBC", "SHA"),
    (0x003C, "RSA", "AES_128_CBC", "SHA256"),
    (0x003D, "RSA", "AES_256_CBC", "SHA256"),
    (0x0041, "RSA", "CAMELLIA_128_CBC", "SHA"),
    (0x0084, "RSA", "CAMELLIA_256_CBC", "SHA"),
    (0x00BA, "RSA", "CAMELLIA_128_CBC", "SHA256"),
    (0x00C0, "RSA", "CAMELLIA_256_CBC", "SHA256"),
    (0x009C, "RSA", "AES_128_GCM", "SHA256"),
    (0x009D, "RSA", "AES_256_GCM", "SHA384"),
    (0xC09C, "RSA", "AES_128_CCM", ""),
    (0xC09D, "RSA", "AES_256_CCM", ""),
    (0xC0A0, "RSA", "AES_128_CCM_8", ""),
    (0xC0A1, "RSA", "AES_256_CCM_8", ""),
    # DHE_DSS / DHE_RSA
    (0x0012, "DHE_DSS", "DES_CBC", "SHA"),
    (0x0013, "DHE_DSS", "3DES_EDE_CBC", "SHA"),
    (0x0032, "DHE_DSS", "AES_128_CBC", "SHA"),
    (0x0038, "DHE_DSS", "AES_256_CBC", "SHA"),
    (0x0040, "DHE_DSS", "AES_128_CBC", "SHA256"),
    (0x006A, "DHE_DSS", "AES_256_CBC", "SHA256"),
    (0x00A2, "DHE_DSS", "AES_128_GCM", "SHA256"),
    (0x00A3, "DHE_DSS", "AES_256_GCM", "SHA384"),
    (0x0015, "DHE_RSA", "DES_CBC", "SHA"),
    (0x0016, "DHE_RSA", "3DES_EDE_CBC", "SHA"),
    (0x0033, "DHE_RSA", "AES_128_CBC", "SHA"),
    (0x0039, "DHE_RSA", "AES_256_CBC", "SHA"),
    (0x0067, "DHE_RSA", "AES_128_CBC", "SHA256"),
    (0x006B, "DHE_RSA", "AES_256_CBC", "SHA256"),
    (0x0045, "DHE_RSA", "CAMELLIA_128_CBC", "SHA"),
    (0x0088, "DHE_RSA", "CAMELLIA_256_CBC", "SHA"),
    (0x00BE, "DHE_RSA", "CAMELLIA_128_CBC", "SHA256"),
    (0x00C4, "DHE_RSA", "CAMELLIA_256_CBC", "SHA256"),
    (0x009E, "DHE_RSA", "AES_128_GCM", "SHA256"),
    (0x009F, "DHE_RSA", "AES_256_GCM", "SHA384"),
    (0xC09E, "DHE_RSA", "AES_128_CCM", ""),
    (0xC09F, "DHE_RSA", "AES_256_CCM", ""),
    (0xC0A2, "DHE_RSA", "AES_128_CCM_8", ""),
    (0xC0A3, "DHE_RSA", "AES_256_CCM_8", ""),
    (0xCCAA, "DHE_RSA", "CHACHA20_POLY1305", "SHA256"),
    # ECDHE_ECDSA
    (0xC006, "ECDHE_ECDSA", "NULL", "SHA"),
    (0xC007, "ECDHE_ECDSA", "RC4_128", "SHA"),
    (0xC008, "ECDHE_ECDSA", "3DES_EDE_CBC", "SHA"),
    (0xC009, "ECDHE_ECDSA", "AES_128_CBC", "SHA"),
    (0xC00A, "ECDHE_ECDSA", "AES_256_CBC", "SHA"),
    (0xC023, "ECDHE_ECDSA", "AES_128_CBC", "SHA256"),
    (0xC024, "ECDHE_ECDSA", "AES_256_CBC", "SHA384"),
    (0xC072, "ECDHE_ECDSA", "CAMELLIA_128_CBC", "SHA256"),
    (0xC073, "ECDHE_ECDSA", "CAMELLIA_256_CBC", "SHA384"),
    (0xC02B, "ECDHE_ECDSA", "AES_128_GCM", "SHA256"),
    (0xC02C, "ECDHE_ECDSA", "AES_256_GCM", "SHA384"),
    (0xC0AC, "ECDHE_ECDSA", "AES_128_CCM", ""),
    (0xC0AD, "ECDHE_ECDSA", "AES_256_CCM", ""),
    (0xC0AE, "ECDHE_ECDSA", "AES_128_CCM_8", ""),
    (0xC0AF, "ECDHE_ECDSA", "AES_256_CCM_8", ""),
    (0xCCA9, "ECDHE_ECDSA", "CHACHA20_POLY1305", "SHA256"),
    # ECDHE_RSA
    (0xC010, "ECDHE_RSA", "NULL", "SHA"),
    (0xC011, "ECDHE_RSA", "RC4_128", "SHA"),
    (0xC012, "ECDHE_RSA", "3DES_EDE_CBC", "SHA"),
    (0xC013, "ECDHE_RSA", "AES_128_CBC", "SHA"),
    (0xC014, "ECDHE_RSA", "AES_256_CBC", "SHA"),
    (0xC027, "ECDHE_RSA", "AES_128_CBC", "SHA256"),
    (0xC028, "ECDHE_RSA", "AES_256_CBC", "SHA384"),
    (0xC076, "ECDHE_RSA", "CAMELLIA_128_CBC", "SHA256"),
    (0xC077, "ECDHE_RSA", "CAMELLIA_256_CBC", "SHA384"),
    (0xC02F, "ECDHE_RSA", "AES_128_GCM", "SHA256"),
    (0xC030, "ECDHE_RSA", "AES_256_GCM", "SHA384"),
    (0xCCA8, "ECDHE_RSA", "CHACHA20_POLY1305", "SHA256"),
    # PSK (RFC 4279, 4785, 5487, 6655, 7905)
    (0x002C, "PSK", "NULL", "SHA"),
    (0x00B0, "PSK", "NULL", "SHA256"),
    (0x00B1, "PSK", "NULL", "SHA384"),
    (0x008A, "PSK", "RC4_128", "SHA"),
    (0x008B, "PSK", "3DES_EDE_CBC", "SHA"),
    (0x008C, "PSK", "AES_128_CBC", "SHA"),
    (0x008D, "PSK", "AES_256_CBC", "SHA"),
    (0x00AE, "PSK", "AES_128_CBC", "SHA256"),
    (0x00AF, "PSK", "AES_256_CBC", "SHA384"),
    (0x00A8, "PSK", "AES_128_GCM", "SHA256"),
    (0x00A9, "PSK", "AES_256_GCM", "SHA384"),
    (0xC0A4, "PSK", "AES_128_CCM", ""),
    (0xC0A5, "PSK", "AES_256_CCM", ""),
    (0xC0A8, "PSK", "AES_128_CCM_8", ""),
    (0xC0A9, "PSK", "AES_256_CCM_8", ""),
    (0xCCAB, "PSK", "CHACHA20_POLY1305", "SHA256"),
    (0x0090, "DHE_PSK", "AES_128_CBC", "SHA"),
    (0x0091, "DHE_PSK", "AES_256_CBC", "SHA"),
    (0x00B2, "DHE_PSK", "AES_128_CBC", "SHA256"),
    (0x00B3, "DHE_PSK", "AES_256_CBC", "SHA384"),
    (0x00AA, "DHE_PSK", "AES_128_GCM", "SHA256"),
    (0x00AB, "DHE_PSK", "AES_256_GCM", "SHA384"),
    (0xC0A6, "DHE_PSK", "AES_128_CCM", ""),
    (0xC0A7, "DHE_PSK", "AES_256_CCM", ""),
    (0xCCAD, "DHE_PSK", "CHACHA20_POLY1305", "SHA256"),
    (0x0094, "RSA_PSK", "AES_128_CBC", "SHA"),
    (0x0095, "RSA_PSK", "AES_256_CBC", "SHA"),
    (0x00B6, "RSA_PSK", "AES_128_CBC", "SHA256"),
    (0x00B7, "RSA_PSK", "AES_256_CBC", "SHA384"),
    (0x00AC, "RSA_PSK", "AES_128_GCM", "SHA256"),
    (0x00AD, "RSA_PSK", "AES_256_GCM", "SHA384"),
    (0xCCAE, "RSA_PSK", "CHACHA20_POLY1305", "SHA256"),
    (0xC035, "ECDHE_PSK", "AES_128_CBC", "SHA"),
    (0xC036, "ECDHE_PSK", "AES_256_CBC", "SHA"),
    (0xC037, "ECDHE_PSK", "AES_128_CBC", "SHA256"),
    (0xC038, "ECDHE_PSK", "AES_256_CBC", "SHA384"),
    (0xCCAC, "ECDHE_PSK", "CHACHA20_POLY1305", "SHA256"),
    (0xD001, "ECDHE_PSK", "AES_128_GCM", "SHA256"),
    (0xD002, "ECDHE_PSK", "AES_256_GCM", "SHA384"),
    (0xD003, "ECDHE_PSK", "AES_128_CCM_8", "SHA256"),
    (0xD005, "ECDHE_PSK", "AES_128_CCM", "SHA256"),
]

# TLS 1.3 (RFC 8446 §B.4): the suite only names the AEAD and the HKDF hash.
_TABLE13: list[tuple[int, str, str]] = [
    (0x1301, "AES_128_GCM", "SHA256"),
    (0x1302, "AES_256_GCM", "SHA384"),
    (0x1303, "CHACHA20_POLY1305", "SHA256"),
    (0x1304, "AES_128_CCM", "SHA256"),
    (0x1305, "AES_128_CCM_8", "SHA256"),
]

# Code points we recognise by name but cannot protect records for (signalling values, export
# and other ciphers pyca does not provide).
_NAMES_ONLY: dict[int, str] = {
    0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
    0x5600: "TLS_FALLBACK_SCSV",
    0x0003: "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
    0x0006: "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5",
    0x0007: "TLS_RSA_WITH_IDEA_CBC_SHA",
    0x0008: "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA",
    0x0018: "TLS_DH_anon_WITH_RC4_128_MD5",
    0x0034: "TLS_DH_anon_WITH_AES_128_CBC_SHA",
    0x003A: "TLS_DH_anon_WITH_AES_256_CBC_SHA",
    0x0096: "TLS_RSA_WITH_SEED_CBC_SHA",
    0xC0B4: "TLS_SHA256_SHA256",
    0xC0B5: "TLS_SHA384_SHA384",
}


def _build() -> dict[int, CipherSuiteInfo]:
    table: dict[int, CipherSuiteInfo] = {}
    for code, kex, cipher, suffix in _TABLE:
        ctype, key_len, fixed_iv, rec_iv, block, tag = _CIPHERS[cipher]
        if code == 0x0000:
            name, mac = "TLS_NULL_WITH_NULL_NULL", None
            prf_hash = "SHA256"
        elif ctype == "aead":
            name = f"TLS_{kex}_WITH_{cipher}" + (f"_{suffix}" if suffix else "")
            mac, prf_hash = None, suffix or "SHA256"
        else:
            name = f"TLS_{kex}_WITH_{cipher}_{suffix}"
            mac = "SHA1" if suffix == "SHA" else suffix
            # RFC 5246 §5: SHA-256 unless the suite says otherwise (the *_SHA384 suites).
            prf_hash = "SHA384" if suffix == "SHA384" else "SHA256"
        table[code] = CipherSuiteInfo(
            code, name, kex, cipher, ctype, key_len, fixed_iv, rec_iv, block, tag,
            mac, _MAC_LEN[mac], prf_hash,
        )  # fmt: skip
    for code, cipher, hash_name in _TABLE13:
        _ctype, key_len, _f, _r, _b, tag = _CIPHERS[cipher]
        # RFC 8446 §5.3: every TLS 1.3 AEAD uses a 12-byte per-record nonce from the IV.
        table[code] = CipherSuiteInfo(
            code, f"TLS_{cipher}_{hash_name}", "TLS13", cipher, "aead", key_len, 12, 0, 0, tag,
            None, 0, hash_name,
        )  # fmt: skip
    return table


SUITES: dict[int, CipherSuiteInfo] = _build()


def suite_info(code: int) -> CipherSuiteInfo | None:
    """Parameters of cipher suite ``code``, or ``None`` if we cannot protect records for it."""
    return SUITES.get(code)


def suite_name(code: int) -> str:
    """IANA name of ``code`` when known (including suites we cannot decrypt), else ``0xNNNN``.

    GREASE values (RFC 8701: 0x?A?A) are named ``GREASE``.
    """
    info = SUITES.get(code)
    if info is not None:
        return info.name
    if code in _NAMES_ONLY:
        return _NAMES_ONLY[code]
    if code & 0x0F0F == 0x0A0A and (code >> 8) == (code & 0xFF):
        return "GREASE"
    return f"0x{code:04X}"
