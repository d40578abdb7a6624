"""ESP cryptographic transforms on bytes (RFC 4303 §3.3.2, §3.4.2-§3.4.4).

:class:`ESPTransform` holds one SA's keys with the pyca cipher/AEAD objects built once, and
seals/opens the part of an ESP packet after the 8-byte ESP header.  It knows nothing about
padding rules, replay or addresses (see :mod:`netsec_layers.session.ipsec`).  Integrity is
always verified before any decryption; a failure raises :class:`IntegrityError` and no
plaintext is returned.
"""

from __future__ import annotations

import hmac as _hmac
import struct
from collections.abc import Callable
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

from netsec_layers.crypto.esp_algorithms import (
    ENCRYPTION_ALGORITHMS,
    INTEGRITY_ALGORITHMS,
    EncryptionSpec,
    IntegritySpec,
)
from netsec_layers.errors import (
    IntegrityError,
    TruncatedError,
    UnsupportedAlgorithmError,
    UsageError,
)

__all__ = [
    "AEADParts",
    "CBCParts",
    "ESPTransform",
    "InvalidTag",
    "Integrity",
    "aes_cmac",
    "aes_xcbc_mac",
    "encryption_spec",
    "integrity_spec",
]

#: Any bytes-like input the per-packet path accepts without copying.
Buffer = bytes | bytearray | memoryview
_U32 = struct.Struct("!I")
_U64 = struct.Struct("!Q")
_ZERO16 = bytes(16)


def encryption_spec(name: str) -> EncryptionSpec:
    """The spec for a canonical encryption name (see :data:`ENCRYPTION_ALGORITHMS`)."""
    try:
        return ENCRYPTION_ALGORITHMS[name]
    except KeyError:
        raise UnsupportedAlgorithmError(
            f"unknown ESP encryption {name!r}; known: {', '.join(ENCRYPTION_ALGORITHMS)}"
        ) from None


def integrity_spec(name: str) -> IntegritySpec:
    """The spec for a canonical integrity name (see :data:`INTEGRITY_ALGORITHMS`)."""
    try:
        return INTEGRITY_ALGORITHMS[name]
    except KeyError:
        raise UnsupportedAlgorithmError(
            f"unknown ESP/AH integrity {name!r}; known: {', '.join(INTEGRITY_ALGORITHMS)}"
        ) from None


def aes_xcbc_mac(key: bytes, data: bytes) -> bytes:
    """AES-XCBC-MAC (RFC 3566 §4), full 16 bytes; IPsec keeps the first 12 (-96)."""
    return _XCBC(key).mac(data)


def aes_cmac(key: bytes, data: bytes) -> bytes:
    """AES-CMAC (RFC 4493), full 16 bytes; RFC 4494 keeps the first 12 for IPsec."""
    c = cmac.CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


class CBCParts(NamedTuple):
    """What a per-packet shortcut needs to open ESP under CBC with HMAC integrity
    (RFC 3602, RFC 4868): ``mac()`` a fresh HMAC context keyed for the SA (``update``/``digest``),
    ``ecb(data)`` the block decryption of a whole ciphertext (CBC is then
    ``P_i = D(C_i) xor C_(i-1)``, ``C_0`` the IV), and the IV, ICV and block lengths."""

    mac: Callable[[], _hmac.HMAC]
    ecb: Callable[[bytes], bytes]
    iv_len: int
    icv_len: int
    block_size: int


class AEADParts(NamedTuple):
    """What a per-packet shortcut needs to open ESP under a combined-mode transform with one
    AEAD call: ``decrypt(nonce, ciphertext ‖ tag, aad)`` (raises :class:`InvalidTag`), the salt
    that prefixes the nonce (RFC 4106 §4, RFC 4309 §4, RFC 7634 §2) and the IV/ICV lengths."""

    decrypt: Callable[[bytes, bytes, bytes], bytes]
    salt: bytes
    iv_len: int
    icv_len: int


class _XCBC:
    """RFC 3566 §4 over AES-CBC with a zero IV: K1 for the chain, K2/K3 whiten the last block."""

    def __init__(self, key: bytes) -> None:
        ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
        derived = ecb.update(b"\x01" * 16 + b"\x02" * 16 + b"\x03" * 16)
        self._k1 = algorithms.AES(derived[:16])
        self._k2 = int.from_bytes(derived[16:32], "big")
        self._k3 = int.from_bytes(derived[32:48], "big")

    def mac(self, data: bytes) -> bytes:
        n = len(data)
        if n and n % 16 == 0:
            head, last, k = data[:-16], data[-16:], self._k2
        else:
            cut = n - n % 16
            head, k = data[:cut], self._k3
            last = data[cut:] + b"\x80" + bytes(15 - n % 16)  # pad 10* (§4 step 3b)
        last = (int.from_bytes(last, "big") ^ k).to_bytes(16, "big")
        enc = Cipher(self._k1, modes.CBC(_ZERO16)).encryptor()
        return (enc.update(head + last) + enc.finalize())[-16:]


class Integrity:
    """One integrity transform with its key (HMAC objects prepared once and copied per packet)."""

    def __init__(self, name: str, key: bytes) -> None:
        spec = integrity_spec(name)
        self.spec = spec
        self.icv_len = spec.icv_len
        if spec.key_sizes and spec.kind != "none" and len(key) not in spec.key_sizes:
            raise UsageError(
                f"{name} needs a {'/'.join(map(str, spec.key_sizes))}-byte key, got {len(key)}"
            )
        self._hmac = (
            _hmac.new(key, digestmod=spec.hash_name)
            if spec.kind == "hmac" and spec.hash_name
            else None
        )
        self._xcbc = _XCBC(key) if spec.kind == "xcbc" else None
        self._cmac_alg = algorithms.AES(key) if spec.kind == "cmac" else None

    def compute(self, *parts: Buffer) -> bytes:
        """ICV over the concatenation of ``parts``, truncated to the transform's length."""
        kind = self.spec.kind
        if self._hmac is not None:
            h = self._hmac.copy()
            for p in parts:
                h.update(p)
            return h.digest()[: self.icv_len]
        if self._xcbc is not None:
            return self._xcbc.mac(b"".join(parts))[: self.icv_len]
        if self._cmac_alg is not None:
            c = cmac.CMAC(self._cmac_alg)
            for p in parts:
                c.update(bytes(p))
            return c.finalize()[: self.icv_len]
        assert kind == "none"
        return b""

    def verify(self, icv: Buffer, *parts: Buffer) -> None:
        """Raise :class:`IntegrityError` unless ``icv`` matches (constant-time compare)."""
        if not _hmac.compare_digest(self.compute(*parts), bytes(icv)):
            raise IntegrityError(f"ICV mismatch ({self.spec.name})")


class ESPTransform:
    """Encryption + integrity of one SA, ready for many packets.

    ``seal``/``open`` work on the bytes after the ESP header (IV, ciphertext, ICV); the ESP
    header bytes (SPI and low 32 bits of the sequence number) take part in the ICV/AAD, and with
    ESN the high 32 bits too (RFC 4303 §2.2.1, §3.3.2.2; RFC 4106 §5).
    """

    def __init__(
        self, encryption: str, enc_key: bytes, integrity: str = "NONE", auth_key: bytes = b""
    ) -> None:
        spec = encryption_spec(encryption)
        self.spec = spec
        klen = len(enc_key) - spec.salt_len
        if klen not in spec.key_sizes:
            want = "/".join(str(k + spec.salt_len) for k in spec.key_sizes)
            raise UsageError(
                f"{encryption} needs a {want}-byte key"
                + (f" (incl. {spec.salt_len}-byte salt)" if spec.salt_len else "")
                + f", got {len(enc_key)}"
            )
        key, self.salt = enc_key[:klen], enc_key[klen:]
        if spec.aead and integrity != "NONE":
            raise UsageError(f"{encryption} is a combined mode: integrity must be NONE")
        self.integrity = Integrity(integrity, auth_key)
        self.iv_len = spec.iv_len
        self.icv_len = spec.icv_len or self.integrity.icv_len
        # RFC 4303 §2.4: Pad Length and Next Header end on a 4-byte boundary whatever the cipher.
        self.align = max(spec.block_size, 4)
        self.block_size = spec.block_size
        self.kind = spec.kind
        self.authenticated = spec.aead or integrity != "NONE"
        self._aead: AESGCM | AESCCM | ChaCha20Poly1305 | None = None
        self._alg: algorithms.AES | algorithms.AES256 | object | None = None
        self._gcm_key = key
        if spec.kind == "gcm" or spec.kind == "gmac":
            self._aead = AESGCM(key)
        elif spec.kind == "ccm":
            self._aead = AESCCM(key, tag_length=spec.icv_len)
        elif spec.kind == "chacha":
            self._aead = ChaCha20Poly1305(key)
        elif spec.kind in ("cbc", "ctr"):
            if encryption in ("3DES-CBC", "DES-CBC"):
                from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES

                # DES = 3DES with K1 = K2 = K3 (cryptography has no single-DES primitive).
                self._alg = TripleDES(key * 3 if len(key) == 8 else key)
            else:
                self._alg = algorithms.AES(key)
            if spec.kind == "cbc":
                self._ecb_dec = Cipher(self._alg, modes.ECB()).decryptor()

    def aead_parts(self) -> AEADParts | None:
        """The pieces of :meth:`open` for the common combined-mode case (GCM with a 16-byte
        tag, CCM, ChaCha20-Poly1305, each with an explicit IV), or ``None`` when opening takes
        more than one AEAD call (truncated GCM tags, GMAC, RFC 8750 implicit IVs, CBC/CTR with
        separate integrity).  Without ESN the AAD is the 8 ESP header bytes as sent."""
        kind = self.kind
        if (
            self._aead is None
            or self.spec.implicit_iv
            or kind not in ("gcm", "ccm", "chacha")
            or (kind == "gcm" and self.icv_len != 16)
        ):
            return None
        return AEADParts(self._aead.decrypt, self.salt, self.iv_len, self.icv_len)

    def cbc_parts(self) -> CBCParts | None:
        """The pieces of :meth:`open` for CBC with HMAC integrity and an explicit IV, or
        ``None`` for anything else (CTR, XCBC/CMAC, no integrity, the combined modes)."""
        h = self.integrity._hmac
        if self.kind != "cbc" or h is None or self.spec.implicit_iv or not self.icv_len:
            return None
        return CBCParts(h.copy, self._ecb_dec.update, self.iv_len, self.icv_len, self.block_size)

    # -- helpers ------------------------------------------------------------------------------
    def _aad(self, spi: int, seq: int, esn: bool) -> bytes:
        if esn:  # RFC 4106 §5 / RFC 4309 §5 / RFC 7634 §2.1: SPI | seq high | seq low
            return struct.pack("!IQ", spi, seq & 0xFFFFFFFFFFFFFFFF)
        return struct.pack("!II", spi, seq & 0xFFFFFFFF)

    def _wire_iv(self, iv: bytes | None, seq: int, esn: bool) -> bytes:
        if self.spec.implicit_iv or (not self.iv_len and not iv):
            return b""
        if iv is None:
            raise UsageError("an IV is required")
        if len(iv) != self.iv_len:
            raise UsageError(f"{self.spec.name} IV must be {self.iv_len} bytes, got {len(iv)}")
        return iv

    def _nonce(self, iv: bytes, seq: int, esn: bool) -> bytes:
        if self.spec.implicit_iv:
            # RFC 8750 §3: the IV is the 64-bit (E)SN; without ESN its high half is zero.
            iv = _U64.pack(seq if esn else seq & 0xFFFFFFFF)
        return self.salt + iv

    def _ctr_block(self, iv: bytes) -> bytes:
        return self.salt + iv + b"\x00\x00\x00\x01"  # RFC 3686 §4: nonce | IV | counter 1

    # -- seal / open --------------------------------------------------------------------------
    def seal(self, *, spi: int, seq: int, esn: bool, iv: bytes | None, plaintext: bytes) -> bytes:
        """IV ‖ ciphertext ‖ ICV for an already padded plaintext (payload…next header)."""
        wire_iv = self._wire_iv(iv, seq, esn)
        kind = self.kind
        if kind in ("gcm", "ccm", "chacha"):
            nonce = self._nonce(wire_iv, seq, esn)
            aad = self._aad(spi, seq, esn)
            assert self._aead is not None
            out = self._aead.encrypt(nonce, plaintext, aad)
            if kind == "gcm" and self.icv_len != 16:
                out = out[: len(out) - 16 + self.icv_len]  # GCM tags truncate (SP 800-38D §5.2.1.2)
            return wire_iv + out
        if kind == "gmac":
            nonce = self._nonce(wire_iv, seq, esn)
            # RFC 4543 §3.2: AAD = SPI | (E)SN | IV | plaintext; nothing is encrypted.
            assert isinstance(self._aead, AESGCM)
            tag = self._aead.encrypt(nonce, b"", self._aad(spi, seq, esn) + wire_iv + plaintext)
            return wire_iv + plaintext + tag
        if kind == "cbc":
            if len(plaintext) % self.block_size:
                raise UsageError("CBC plaintext not a multiple of the block size")
            enc = Cipher(self._alg, modes.CBC(wire_iv)).encryptor()  # type: ignore[arg-type]
            body = wire_iv + enc.update(plaintext) + enc.finalize()
        elif kind == "ctr":
            enc = Cipher(self._alg, modes.CTR(self._ctr_block(wire_iv))).encryptor()  # type: ignore[arg-type]
            body = wire_iv + enc.update(plaintext) + enc.finalize()
        else:
            body = plaintext
        # RFC 4303 §2.2.1: the ESN high half is appended for the ICV only, never sent.
        header = _U32.pack(spi) + _U32.pack(seq & 0xFFFFFFFF)
        if esn:
            icv = self.integrity.compute(header, body, _U32.pack((seq >> 32) & 0xFFFFFFFF))
        else:
            icv = self.integrity.compute(header, body)
        return body + icv

    def open(self, esp: Buffer, *, seq: int, esn: bool) -> tuple[bytes, bytes, bytes]:
        """Verify and decrypt a whole ESP packet (from the SPI); → (iv, plaintext, icv).

        ``seq`` is the full sequence number (the low half must equal the wire field).
        Raises :class:`TruncatedError` if too short, :class:`IntegrityError` on a bad ICV.
        """
        mv = memoryview(esp)
        n = len(mv)
        ivl, icvl = self.iv_len, self.icv_len
        if n < 8 + ivl + icvl:
            raise TruncatedError(f"ESP packet of {n} bytes shorter than header+IV+ICV")
        body_end = n - icvl
        iv = bytes(mv[8 : 8 + ivl])
        icv = bytes(mv[body_end:])
        kind = self.kind
        if kind in ("gcm", "ccm", "chacha"):
            spi = _U32.unpack_from(mv, 0)[0]
            nonce = self._nonce(iv, seq, esn)
            aad = self._aad(spi, seq, esn)
            ct = mv[8 + ivl :]
            try:
                if kind == "gcm" and icvl != 16:
                    gdec = Cipher(
                        algorithms.AES(self._gcm_key), modes.GCM(nonce, icv, min_tag_length=icvl)
                    ).decryptor()
                    gdec.authenticate_additional_data(aad)
                    pt = gdec.update(ct[: len(ct) - icvl]) + gdec.finalize()
                else:
                    assert self._aead is not None
                    pt = self._aead.decrypt(nonce, ct, aad)
            except InvalidTag:
                raise IntegrityError(f"ICV mismatch ({self.spec.name})") from None
            return iv, pt, icv
        if kind == "gmac":
            spi = _U32.unpack_from(mv, 0)[0]
            nonce = self._nonce(iv, seq, esn)
            pt = bytes(mv[8 + ivl : body_end])
            assert isinstance(self._aead, AESGCM)
            try:
                self._aead.decrypt(nonce, icv, self._aad(spi, seq, esn) + iv + pt)
            except InvalidTag:
                raise IntegrityError(f"ICV mismatch ({self.spec.name})") from None
            return iv, pt, icv
        # Separate integrity: authenticate first (RFC 4303 §3.4.4), then decrypt.
        if self.integrity.icv_len:
            if esn:
                self.integrity.verify(icv, mv[:body_end], _U32.pack((seq >> 32) & 0xFFFFFFFF))
            else:
                self.integrity.verify(icv, mv[:body_end])
        ct = mv[8 + ivl : body_end]
        if kind == "cbc":
            if len(ct) % self.block_size:
                raise TruncatedError(
                    f"ciphertext of {len(ct)} bytes not a multiple of the {self.block_size}-byte block"
                )
            # CBC decryption as one reused ECB context: P_i = D(C_i) xor C_(i-1), C_0 = IV.
            # Saves building a Cipher per packet on the hot path (RFC 3602 §2.2 unchanged).
            ctb = bytes(ct)
            if not ctb:
                return iv, b"", icv
            d = self._ecb_dec.update(ctb)
            chain = iv + ctb[: len(ctb) - self.block_size]
            pt = (int.from_bytes(d, "big") ^ int.from_bytes(chain, "big")).to_bytes(len(d), "big")
        elif kind == "ctr":
            dec = Cipher(self._alg, modes.CTR(self._ctr_block(iv))).decryptor()  # type: ignore[arg-type]
            pt = dec.update(ct) + dec.finalize()
        else:
            pt = bytes(ct)
        return iv, pt, icv
