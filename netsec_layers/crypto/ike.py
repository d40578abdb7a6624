"""IKE key schedules and SK payload protection, bytes in and bytes out.

* IKEv2 PRFs (RFC 7296 §3.3.2 Transform Type 2): HMAC-MD5/SHA1/SHA2-256/384/512,
  AES128-XCBC (RFC 4434: keys of any length are first reduced to 16 bytes) and AES128-CMAC
  (RFC 4615, same rule); ``prf+`` (§2.13).
* SKEYSEED and SK_d/ai/ar/ei/er/pi/pr (§2.14), rekeyed IKE SAs (§2.18), CHILD_SA KEYMAT (§2.17).
* SK payload (§3.14): integrity transform over the whole message up to the ICV, then CBC/CTR
  decryption; or AEAD (RFC 5282 for AES-GCM/CCM, RFC 7634 for ChaCha20-Poly1305) with the
  IKE header and the SK payload header (and RFC 7383 fragment header) as associated data.
* IKEv1 (RFC 2409 §5, Appendix B): SKEYID for pre-shared keys, SKEYID_d/a/e, the key expansion
  of Appendix B, and the CBC IV chain (phase 1 IV from g^xi | g^xr, phase 2 IVs from the last
  phase 1 block and the message ID).

Authentication always comes first: a bad ICV raises :class:`IntegrityError` and no plaintext.
"""

from __future__ import annotations

import hashlib
import hmac as _hmac
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

from netsec_layers.crypto.esp import Integrity, aes_cmac, aes_xcbc_mac, encryption_spec
from netsec_layers.errors import (
    IntegrityError,
    ParseError,
    TruncatedError,
    UnsupportedAlgorithmError,
    UsageError,
)

__all__ = [
    "IKEv2Keys",
    "SKCipher",
    "ikev1_iv_chain_next",
    "ikev1_keymat",
    "ikev1_keys",
    "ikev1_phase1_iv",
    "ikev1_phase2_iv",
    "keymat",
    "prf",
    "prf_plus",
    "psk_auth",
    "x25519_keypair",
    "x25519_shared",
    "prf_output_len",
    "skeyseed",
    "skeyseed_rekey",
    "derive_ike_keys",
]

#: IKEv2 PRF transform ID -> hashlib name or "xcbc"/"cmac"
PRFS: dict[int, str] = {
    1: "md5",
    2: "sha1",
    4: "xcbc",
    5: "sha256",
    6: "sha384",
    7: "sha512",
    8: "cmac",
}


def _prf_name(prf_id: int) -> str:
    try:
        return PRFS[prf_id]
    except KeyError:
        raise UnsupportedAlgorithmError(f"IKEv2 PRF {prf_id} not supported") from None


def prf_output_len(prf_id: int) -> int:
    """Output (and preferred key) length of a PRF in bytes."""
    name = _prf_name(prf_id)
    return 16 if name in ("xcbc", "cmac") else hashlib.new(name).digest_size


def _aes_prf_key(name: str, key: bytes) -> bytes:
    # RFC 4434 §2: a 16-byte key is used as is, a shorter one zero-padded, a longer one
    # replaced by XCBC(0^128, key).  RFC 4615 §3: for CMAC any key that is not 16 bytes
    # (shorter too) becomes CMAC(0^128, key).
    if len(key) == 16:
        return key
    if name == "xcbc":
        return key + bytes(16 - len(key)) if len(key) < 16 else aes_xcbc_mac(bytes(16), key)
    return aes_cmac(bytes(16), key)


def prf(prf_id: int, key: bytes, data: bytes) -> bytes:
    """``prf(K, S)`` of RFC 7296 for the negotiated PRF transform."""
    name = _prf_name(prf_id)
    if name == "xcbc":
        return aes_xcbc_mac(_aes_prf_key(name, key), data)
    if name == "cmac":
        return aes_cmac(_aes_prf_key(name, key), data)
    return _hmac.new(key, data, name).digest()


def prf_plus(prf_id: int, key: bytes, seed: bytes, length: int) -> bytes:
    """``prf+ (K, S)`` (RFC 7296 §2.13): T1 | T2 | ..., Tn = prf(K, Tn-1 | S | n)."""
    if length > 255 * prf_output_len(prf_id):
        raise UsageError("prf+ cannot produce more than 255 blocks")
    out, t, n = b"", b"", 1
    while len(out) < length:
        t = prf(prf_id, key, t + seed + bytes([n]))
        out += t
        n += 1
    return out[:length]


def skeyseed(prf_id: int, *, nonce_i: bytes, nonce_r: bytes, g_ir: bytes) -> bytes:
    """SKEYSEED = prf(Ni | Nr, g^ir) (RFC 7296 §2.14).

    For AES-XCBC/CMAC PRFs the key Ni | Nr is cut to the first 64 bits of each nonce
    (RFC 7296 §2.14, "taking the first 64 bits of Ni and Nr")."""
    key = nonce_i + nonce_r
    if _prf_name(prf_id) in ("xcbc", "cmac"):
        key = nonce_i[:8] + nonce_r[:8]
    return prf(prf_id, key, g_ir)


def skeyseed_rekey(
    prf_id: int, *, old_sk_d: bytes, g_ir: bytes, nonce_i: bytes, nonce_r: bytes
) -> bytes:
    """SKEYSEED of a rekeyed IKE SA = prf(SK_d (old), g^ir (new) | Ni | Nr) (§2.18)."""
    return prf(prf_id, old_sk_d, g_ir + nonce_i + nonce_r)


@dataclass(frozen=True)
class IKEv2Keys:
    """SK_d, SK_ai, SK_ar, SK_ei, SK_er, SK_pi, SK_pr of one IKE SA (§2.14)."""

    sk_d: bytes
    sk_ai: bytes
    sk_ar: bytes
    sk_ei: bytes
    sk_er: bytes
    sk_pi: bytes
    sk_pr: bytes


def derive_ike_keys(
    prf_id: int,
    *,
    seed: bytes,
    nonce_i: bytes,
    nonce_r: bytes,
    spi_i: bytes,
    spi_r: bytes,
    enc_key_len: int,
    integ_key_len: int,
) -> IKEv2Keys:
    """{SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni|Nr|SPIi|SPIr).

    ``enc_key_len`` includes the salt of AEAD/CTR ciphers (RFC 5282 §7.1, RFC 5930, RFC 7634
    §4); ``integ_key_len`` is 0 for AEAD ciphers.  SK_d, SK_pi, SK_pr are PRF-sized."""
    p = prf_output_len(prf_id)
    lens = [p, integ_key_len, integ_key_len, enc_key_len, enc_key_len, p, p]
    stream = prf_plus(prf_id, seed, nonce_i + nonce_r + spi_i + spi_r, sum(lens))
    parts, pos = [], 0
    for n in lens:
        parts.append(stream[pos : pos + n])
        pos += n
    return IKEv2Keys(*parts)


def keymat(
    prf_id: int, *, sk_d: bytes, nonce_i: bytes, nonce_r: bytes, g_ir: bytes = b"", length: int
) -> bytes:
    """CHILD_SA KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) (RFC 7296 §2.17).

    The caller slices it: initiator->responder encryption key, its integrity key, then the
    responder->initiator pair (salts included in the encryption keys)."""
    return prf_plus(prf_id, sk_d, g_ir + nonce_i + nonce_r, length)


def psk_auth(
    prf_id: int, *, psk: bytes, real_message: bytes, nonce: bytes, sk_p: bytes, id_body: bytes
) -> bytes:
    """AUTH data for "Shared Key Message Integrity Code" (RFC 7296 §2.15).

    AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>) with SignedOctets =
    the sender's first message (IKE_SA_INIT, as sent) | the *peer's* nonce data |
    prf(SK_px, the sender's ID payload body: ID Type, RESERVED, data)."""
    octets = real_message + nonce + prf(prf_id, sk_p, id_body)
    return prf(prf_id, prf(prf_id, psk, b"Key Pad for IKEv2"), octets)


def x25519_keypair(private: bytes | None = None) -> tuple[bytes, bytes]:
    """(private, public) raw 32-byte X25519 keys (RFC 8031: the KE data is the public key)."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    key = X25519PrivateKey.from_private_bytes(private) if private else X25519PrivateKey.generate()
    priv = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return priv, key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def x25519_shared(private: bytes, peer_public: bytes) -> bytes:
    """g^ir for Curve25519 (RFC 8031 §2): the raw X25519 output; all-zero output is refused."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )

    if len(peer_public) != 32:
        raise UsageError(f"X25519 public key must be 32 bytes, got {len(peer_public)}")
    try:
        return X25519PrivateKey.from_private_bytes(private).exchange(
            X25519PublicKey.from_public_bytes(peer_public)
        )
    except ValueError as e:  # all-zero shared secret (RFC 8031 §2.2)
        raise IntegrityError(f"X25519: {e}") from None


# -- SK payload ----------------------------------------------------------------------------
#: IKEv2 encryption transform ID -> (canonical ESP name, salt bytes, IV bytes on the wire)
SK_CIPHERS: dict[int, str] = {
    3: "3DES-CBC",
    12: "AES-CBC",
    13: "AES-CTR",
    14: "AES-CCM-8",
    15: "AES-CCM-12",
    16: "AES-CCM-16",
    18: "AES-GCM-8",
    19: "AES-GCM-12",
    20: "AES-GCM-16",
    28: "CHACHA20-POLY1305",
}
#: IKEv2 integrity transform ID -> canonical name (see keys.sa)
SK_INTEG: dict[int, str] = {
    0: "NONE",
    1: "HMAC-MD5-96",
    2: "HMAC-SHA1-96",
    5: "AES-XCBC-MAC-96",
    8: "AES-CMAC-96",
    12: "HMAC-SHA2-256-128",
    13: "HMAC-SHA2-384-192",
    14: "HMAC-SHA2-512-256",
}
_INTEG_KEY = {
    "NONE": 0,
    "HMAC-MD5-96": 16,
    "HMAC-SHA1-96": 20,
    "AES-XCBC-MAC-96": 16,
    "AES-CMAC-96": 16,
    "HMAC-SHA2-256-128": 32,
    "HMAC-SHA2-384-192": 48,
    "HMAC-SHA2-512-256": 64,
}


def integ_key_len(integ_id: int) -> int:
    """Key length of an IKEv2 integrity transform (RFC 7296 §3.3.2; RFC 4868 §2.1.1)."""
    try:
        return _INTEG_KEY[SK_INTEG[integ_id]]
    except KeyError:
        raise UnsupportedAlgorithmError(f"IKEv2 integrity {integ_id} not supported") from None


def enc_key_len(encr_id: int, key_bits: int | None) -> int:
    """Key bytes incl. salt of an IKEv2 encryption transform with its Key Length attribute."""
    try:
        spec = encryption_spec(SK_CIPHERS[encr_id])
    except KeyError:
        raise UnsupportedAlgorithmError(f"IKEv2 encryption {encr_id} not supported") from None
    if encr_id == 3:
        return 24
    if encr_id == 28:
        return 36
    if key_bits is None or key_bits // 8 not in spec.key_sizes:
        raise UsageError(f"IKEv2 encryption {encr_id} needs a key length, got {key_bits}")
    return key_bits // 8 + spec.salt_len


class SKCipher:
    """One direction of an IKE SA's SK protection (encryption key + integrity key).

    :meth:`open` takes the whole message (IKE header included) and the offset of the SK/SKF
    payload, verifies the ICV / AEAD tag and returns the plaintext without padding."""

    def __init__(
        self, encr_id: int, enc_key: bytes, integ_id: int = 0, integ_key: bytes = b""
    ) -> None:
        if encr_id not in SK_CIPHERS:
            raise UnsupportedAlgorithmError(f"IKEv2 encryption {encr_id} not supported")
        self.name = SK_CIPHERS[encr_id]
        spec = encryption_spec(self.name)
        self.spec = spec
        klen = len(enc_key) - spec.salt_len
        if klen not in spec.key_sizes:
            raise UsageError(f"{self.name}: key of {len(enc_key)} bytes (salt included)")
        self.key, self.salt = enc_key[:klen], enc_key[klen:]
        self.aead = spec.aead
        if self.aead and integ_id != 0:
            raise UsageError(f"{self.name} is a combined mode: integrity must be NONE")
        if not self.aead and integ_id not in SK_INTEG:
            raise UnsupportedAlgorithmError(f"IKEv2 integrity {integ_id} not supported")
        if not self.aead and integ_id == 0:
            # RFC 7296 §3.3.3: a non-combined cipher always comes with an integrity transform;
            # without one nothing could be authenticated before decryption.
            raise UsageError(f"{self.name} needs an integrity algorithm (RFC 7296 §3.3.3)")
        self.integ = Integrity(SK_INTEG.get(integ_id, "NONE"), integ_key)
        self.iv_len = spec.iv_len
        self.icv_len = spec.icv_len if self.aead else self.integ.icv_len
        self.block = spec.block_size

    def _aead_obj(self) -> AESGCM | AESCCM | ChaCha20Poly1305:
        if self.spec.kind == "gcm":
            return AESGCM(self.key)
        if self.spec.kind == "ccm":
            return AESCCM(self.key, tag_length=self.icv_len)
        return ChaCha20Poly1305(self.key)

    def _cipher(self, iv: bytes) -> Cipher[modes.CBC] | Cipher[modes.CTR]:
        if self.name == "3DES-CBC":
            from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES

            return Cipher(TripleDES(self.key), modes.CBC(iv))
        if self.spec.kind == "ctr":  # RFC 5930 §2 / RFC 3686 §4: nonce | IV | counter 1
            return Cipher(algorithms.AES(self.key), modes.CTR(self.salt + iv + b"\0\0\0\1"))
        return Cipher(algorithms.AES(self.key), modes.CBC(iv))

    def _gcm_short(self, nonce: bytes, ct: bytes, tag: bytes, aad: bytes) -> bytes:
        dec = Cipher(algorithms.AES(self.key), modes.GCM(nonce, tag, min_tag_length=len(tag)))
        d = dec.decryptor()
        d.authenticate_additional_data(aad)
        return d.update(ct) + d.finalize()

    def open(self, message: bytes, body_offset: int) -> bytes:
        """Authenticate and decrypt; ``body_offset`` is where the IV starts (after the SK or
        SKF payload header).  Returns the inner payloads (padding and pad length removed)."""
        n = len(message)
        if n < body_offset + self.iv_len + self.icv_len + (0 if self.aead else self.block):
            raise TruncatedError("SK payload shorter than IV + ICV")
        iv = message[body_offset : body_offset + self.iv_len]
        ct = message[body_offset + self.iv_len : n - self.icv_len]
        icv = message[n - self.icv_len :]
        if self.aead:
            # RFC 5282 §5.1: AAD = IKE header .. end of the SK payload header (not the IV).
            aad = message[:body_offset]
            nonce = self.salt + iv
            try:
                if self.spec.kind == "gcm" and self.icv_len != 16:
                    pt = self._gcm_short(nonce, ct, icv, aad)
                else:
                    pt = self._aead_obj().decrypt(nonce, ct + icv, aad)
            except InvalidTag:
                raise IntegrityError(f"SK ICV mismatch ({self.name})") from None
        else:
            self.integ.verify(icv, message[: n - self.icv_len])  # §3.14: header .. ciphertext
            if self.block > 1 and len(ct) % self.block:
                raise ParseError("SK ciphertext not a multiple of the block size")
            d = self._cipher(iv).decryptor()
            pt = d.update(ct) + d.finalize()
        # authenticated by now: a bad padding is a malformed message, not a forgery
        if not pt:
            raise ParseError("SK plaintext has no Pad Length byte")
        pad = pt[-1]
        if pad + 1 > len(pt):
            raise ParseError(f"SK Pad Length {pad} exceeds the plaintext")
        return pt[: len(pt) - 1 - pad]

    def seal(
        self,
        header_and_sk_hdr: bytes,
        plaintext: bytes,
        *,
        iv: bytes,
        pad_length: int | None = None,
        pad_length_byte: int | None = None,
    ) -> bytes:
        """IV | ciphertext | ICV for ``plaintext`` (inner payloads).  ``header_and_sk_hdr`` is
        the message up to the IV with its final lengths already set (AAD/ICV input).
        ``pad_length_byte`` writes another Pad Length than the padding (a broken message)."""
        if len(iv) != self.iv_len:
            raise UsageError(f"{self.name} IV must be {self.iv_len} bytes")
        align = self.block if self.block > 1 else 1
        if pad_length is None:
            pad_length = (-(len(plaintext) + 1)) % align
        pad_byte = pad_length if pad_length_byte is None else pad_length_byte
        body = plaintext + bytes(pad_length) + bytes([pad_byte & 0xFF])
        if self.aead:
            nonce = self.salt + iv
            if self.spec.kind == "gcm" and self.icv_len != 16:
                out = AESGCM(self.key).encrypt(nonce, body, header_and_sk_hdr)
                out = out[: len(out) - 16 + self.icv_len]
            else:
                out = self._aead_obj().encrypt(nonce, body, header_and_sk_hdr)
            return iv + out
        e = self._cipher(iv).encryptor()
        wire = iv + e.update(body) + e.finalize()
        return wire + self.integ.compute(header_and_sk_hdr + wire)

    def sealed_len(self, plaintext_len: int, pad_length: int | None = None) -> int:
        """Length of :meth:`seal`'s output (to fill length fields before sealing)."""
        align = self.block if self.block > 1 else 1
        if pad_length is None:
            pad_length = (-(plaintext_len + 1)) % align
        return self.iv_len + plaintext_len + pad_length + 1 + self.icv_len


# -- IKEv1 (RFC 2409) ----------------------------------------------------------------------
_V1_HASH = {1: "md5", 2: "sha1", 4: "sha256", 5: "sha384", 6: "sha512"}


def _v1_hash(hash_id: int) -> str:
    try:
        return _V1_HASH[hash_id]
    except KeyError:
        raise UnsupportedAlgorithmError(f"IKEv1 hash {hash_id} not supported") from None


def ikev1_keys(
    hash_id: int,
    *,
    psk: bytes,
    nonce_i: bytes,
    nonce_r: bytes,
    g_xy: bytes,
    cky_i: bytes,
    cky_r: bytes,
    key_len: int,
) -> tuple[bytes, bytes, bytes, bytes]:
    """(SKEYID, SKEYID_d, SKEYID_a, encryption key) for pre-shared-key authentication.

    RFC 2409 §5: SKEYID = prf(pre-shared-key, Ni_b | Nr_b); SKEYID_d = prf(SKEYID, g^xy |
    CKY-I | CKY-R | 0), SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1), SKEYID_e
    with 2; Appendix B: K = K1 | K2 ..., K1 = prf(SKEYID_e, 0), Kn = prf(SKEYID_e, Kn-1)
    when SKEYID_e is too short (else its first ``key_len`` bytes)."""
    h = _v1_hash(hash_id)

    def p(k: bytes, d: bytes) -> bytes:
        return _hmac.new(k, d, h).digest()

    skeyid = p(psk, nonce_i + nonce_r)
    d = p(skeyid, g_xy + cky_i + cky_r + b"\0")
    a = p(skeyid, d + g_xy + cky_i + cky_r + b"\1")
    e = p(skeyid, a + g_xy + cky_i + cky_r + b"\2")
    if len(e) >= key_len:
        return skeyid, d, a, e[:key_len]
    k, block = b"", p(e, b"\0")
    while len(k) < key_len:
        k += block
        block = p(e, block)
    return skeyid, d, a, k[:key_len]


def ikev1_keymat(
    hash_id: int,
    *,
    skeyid_d: bytes,
    protocol: int,
    spi: bytes,
    nonce_i: bytes,
    nonce_r: bytes,
    g_qm: bytes = b"",
    length: int,
) -> bytes:
    """Quick Mode KEYMAT (RFC 2409 §5.5): K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI |
    Ni_b | Nr_b), Kn = prf(SKEYID_d, Kn-1 | the same), KEYMAT = K1 | K2 | ... cut to
    ``length`` (encryption key first, then the authentication key).  ``spi`` is the SPI of the
    SA the keys are for (the receiving side's)."""
    h = _v1_hash(hash_id)
    seed = g_qm + bytes([protocol]) + spi + nonce_i + nonce_r
    out, k = b"", b""
    while len(out) < length:
        k = _hmac.new(skeyid_d, k + seed, h).digest()
        out += k
    return out[:length]


def ikev1_phase1_iv(hash_id: int, *, g_xi: bytes, g_xr: bytes, block: int) -> bytes:
    """First phase 1 IV = hash(g^xi | g^xr) cut to the block size (RFC 2409 Appendix B)."""
    return hashlib.new(_v1_hash(hash_id), g_xi + g_xr).digest()[:block]


def ikev1_phase2_iv(
    hash_id: int, *, last_phase1_block: bytes, message_id: bytes, block: int
) -> bytes:
    """First IV of a phase 2 / informational exchange = hash(last phase 1 CBC block | M-ID)."""
    return hashlib.new(_v1_hash(hash_id), last_phase1_block + message_id).digest()[:block]


def ikev1_iv_chain_next(ciphertext: bytes, block: int) -> bytes:
    """The IV of the next message of the same exchange: the last ciphertext block."""
    if len(ciphertext) < block:
        raise TruncatedError("IKEv1 ciphertext shorter than a block")
    return ciphertext[-block:]


def ikev1_decrypt(encr: str, key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """CBC-decrypt an IKEv1 message body (``encr``: "AES-CBC" or "3DES-CBC"); no integrity
    exists in IKEv1 encryption (the HASH payload inside is checked by the caller)."""
    if encr == "3DES-CBC":
        from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES

        alg: algorithms.AES | TripleDES = TripleDES(key)
        block = 8
    elif encr == "AES-CBC":
        alg, block = algorithms.AES(key), 16
    else:
        raise UnsupportedAlgorithmError(f"IKEv1 encryption {encr} not supported")
    if len(ciphertext) % block or len(iv) != block:
        raise TruncatedError("IKEv1 ciphertext not a multiple of the block size")
    d = Cipher(alg, modes.CBC(iv)).decryptor()
    return d.update(ciphertext) + d.finalize()


__all__ += ["PRFS", "SK_CIPHERS", "SK_INTEG", "enc_key_len", "ikev1_decrypt", "integ_key_len"]
