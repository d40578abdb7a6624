"""DTLS record protection: DTLS 1.0/1.2 (RFC 6347 §4.1.2.1) and DTLS 1.3 (RFC 9147 §4).

DTLS 1.0/1.2 protect records exactly as TLS 1.1/1.2 do (:mod:`netsec_layers.crypto.tls_record`),
except that the 64-bit sequence number in the MAC/AEAD input is epoch (16 bits) ‖ sequence
number (48 bits) taken from the record header (RFC 6347 §4.1.2.1) -- and so is the
ChaCha20-Poly1305 nonce input (RFC 7905 §2: "the 64-bit record sequence number" of DTLS is
that concatenation; tshark 4.0 leaves the epoch out).  :class:`DTLSRecordProtection` therefore
wraps one :class:`~netsec_layers.crypto.tls_record.RecordProtection` and sets its sequence
number per record.

DTLS 1.3 keys come from the traffic secrets with the "dtls13" HKDF label prefix (RFC 9147
§5.9); the AEAD nonce is the IV XOR the 64-bit sequence number *without* the epoch and the
additional data is the unified header as sent but with the sequence number decrypted (§4);
the sequence number is encrypted with a mask from the first 16 ciphertext bytes (§4.2.3).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from netsec_layers.crypto.tls13 import hash_len, hkdf_expand
from netsec_layers.crypto.tls_prf import hashlib_name
from netsec_layers.crypto.tls_record import RecordProtection, _aead
from netsec_layers.crypto.tls_suites import CipherSuiteInfo
from netsec_layers.errors import IntegrityError, UnsupportedAlgorithmError, UsageError

__all__ = [
    "DTLS10",
    "DTLS12",
    "DTLS13",
    "DTLS13RecordProtection",
    "DTLSRecordProtection",
    "dtls13_expand_label",
    "dtls13_finished_verify_data",
    "dtls13_next_traffic_secret",
    "dtls13_traffic_keys",
    "reconstruct_seq",
    "sequence_number_mask",
    "tls_version_of",
]

DTLS10, DTLS12, DTLS13 = 0xFEFF, 0xFEFD, 0xFEFC
_TLS_EQUIVALENT = {DTLS10: 0x0302, DTLS12: 0x0303, DTLS13: 0x0304}
_SEQ48 = (1 << 48) - 1


def tls_version_of(dtls_version: int) -> int:
    """The TLS version whose PRF, Finished and record rules a DTLS version uses (RFC 6347 §1:
    DTLS 1.0 is TLS 1.1, DTLS 1.2 is TLS 1.2; RFC 9147: DTLS 1.3 is TLS 1.3)."""
    try:
        return _TLS_EQUIVALENT[dtls_version]
    except KeyError:
        raise UsageError(f"0x{dtls_version:04x} is not a DTLS version") from None


class DTLSRecordProtection:
    """DTLS 1.0/1.2 protection of one direction in one epoch.

    Every call names the record's epoch and 48-bit sequence number: DTLS records are not
    implicitly numbered (they may be lost, reordered or replayed)."""

    def __init__(self, suite: CipherSuiteInfo, version: int, *, key: bytes, mac_key: bytes,
                 iv: bytes, encrypt_then_mac: bool = False) -> None:  # fmt: skip
        if version not in (DTLS10, DTLS12):
            raise UsageError(f"DTLSRecordProtection is for DTLS 1.0/1.2, not 0x{version:04x}")
        self.suite = suite
        self.version = version
        self._rp = RecordProtection.tls12(
            suite, tls_version_of(version), key=key, mac_key=mac_key, iv=iv,
            encrypt_then_mac=encrypt_then_mac,
        )  # fmt: skip
        # RFC 9146 connection-ID records change the AEAD input: their own AEAD object
        self._cid_aead = _aead(suite.cipher, key) if suite.cipher_type == "aead" else None
        self._iv = iv

    @property
    def encrypt_then_mac(self) -> bool:
        return self._rp.encrypt_then_mac

    def _at(self, epoch: int, seq: int) -> None:
        if not (0 <= epoch <= 0xFFFF and 0 <= seq <= _SEQ48):
            raise UsageError("epoch is 16 bits and the sequence number 48 bits")
        self._rp.seq = (epoch << 48) | seq  # RFC 6347 §4.1.2.1

    def decrypt(self, *, content_type: int, version: int, epoch: int, seq: int,
                fragment: bytes) -> bytes:  # fmt: skip
        """Authenticate and decrypt one record's fragment (header values as on the wire).

        Raises :class:`IntegrityError` on a bad MAC/tag/padding or a short fragment."""
        self._at(epoch, seq)
        _ct, plain = self._rp.decrypt(content_type, version, fragment)
        return plain

    def encrypt(self, *, content_type: int, version: int, epoch: int, seq: int, plaintext: bytes,
                explicit_iv: bytes | None = None, padding: int = 0,
                fault: str | None = None) -> bytes:  # fmt: skip
        """Protect one record; returns the fragment.  The GCM/CCM explicit nonce defaults to
        epoch ‖ seq (as OpenSSL and GnuTLS send it); ``fault`` = "mac" | "padding" breaks it."""
        self._at(epoch, seq)
        _ct, fragment = self._rp.encrypt(
            content_type, version, plaintext, padding=padding, explicit_iv=explicit_iv,
            fault=fault,
        )  # fmt: skip
        return fragment

    # -- RFC 9146 connection-ID records (AEAD suites) --------------------------------------------
    def _cid_parts(self, *, version: int, epoch: int, seq: int, cid: bytes,
                   inner_len: int, explicit: bytes) -> tuple[bytes, bytes]:  # fmt: skip
        """(nonce, additional data) of RFC 9146 §5.3."""
        self._at(epoch, seq)
        seq64 = (epoch << 48) | seq
        if self.suite.cipher == "CHACHA20_POLY1305":  # RFC 7905 §2 with epoch || seq
            nonce = (int.from_bytes(self._iv, "big") ^ seq64).to_bytes(12, "big")
        else:  # RFC 5288 §3: salt || explicit nonce
            nonce = self._iv + explicit
        aad = b"\xff" * 8 + bytes([25, len(cid), 25]) + struct.pack("!HQ", version, seq64)
        return nonce, aad + cid + struct.pack("!H", inner_len)

    def decrypt_cid(self, *, version: int, epoch: int, seq: int, cid: bytes,
                    fragment: bytes) -> tuple[int, bytes]:  # fmt: skip
        """Open a tls12_cid record (RFC 9146 §5.3, AEAD suites); returns (real content type,
        content).  Raises :class:`IntegrityError` / :class:`UnsupportedAlgorithmError`."""
        if self._cid_aead is None:
            raise UnsupportedAlgorithmError(f"{self.suite.name}: CID records need an AEAD suite")
        explicit_len = self.suite.record_iv_len
        body = fragment[explicit_len:]
        inner_len = len(body) - self.suite.tag_len
        if inner_len < 1 or len(fragment) < explicit_len:
            raise IntegrityError("CID record shorter than its nonce and tag")
        nonce, aad = self._cid_parts(version=version, epoch=epoch, seq=seq, cid=cid,
                                     inner_len=inner_len, explicit=fragment[:explicit_len])  # fmt: skip
        try:
            inner = self._cid_aead.decrypt(nonce, body, aad)
        except Exception:  # noqa: BLE001 - InvalidTag
            raise IntegrityError(f"CID record {epoch}/{seq}: bad AEAD tag") from None
        stripped = inner.rstrip(b"\x00")  # DTLSInnerPlaintext: content, real_type, zeros (§4)
        if not stripped:
            raise IntegrityError("DTLSInnerPlaintext has no content type")
        return stripped[-1], stripped[:-1]

    def encrypt_cid(self, *, content_type: int, version: int, epoch: int, seq: int, cid: bytes,
                    plaintext: bytes, padding: int = 0) -> bytes:  # fmt: skip
        """Protect a tls12_cid record (RFC 9146 §5.3); returns the fragment."""
        if self._cid_aead is None:
            raise UnsupportedAlgorithmError(f"{self.suite.name}: CID records need an AEAD suite")
        inner = plaintext + bytes([content_type]) + bytes(padding)
        explicit = ((epoch << 48) | seq).to_bytes(8, "big")[: self.suite.record_iv_len]
        nonce, aad = self._cid_parts(version=version, epoch=epoch, seq=seq, cid=cid,
                                     inner_len=len(inner), explicit=explicit)  # fmt: skip
        return explicit + self._cid_aead.encrypt(nonce, inner, aad)


# -- DTLS 1.3 ----------------------------------------------------------------------------------


def dtls13_expand_label(
    hash_name: str, *, secret: bytes, label: bytes, context: bytes, length: int
) -> bytes:
    """HKDF-Expand-Label with the DTLS 1.3 prefix "dtls13" (no space; RFC 9147 §5.9)."""
    full = b"dtls13" + label
    if len(full) > 255 or len(context) > 255 or length > 0xFFFF:
        raise UsageError("HKDF-Expand-Label argument too long")
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + bytes([len(context)]) + context
    return hkdf_expand(hash_name, prk=secret, info=info, length=length)


def dtls13_next_traffic_secret(hash_name: str, *, traffic_secret: bytes) -> bytes:
    """application_traffic_secret_N+1 (RFC 8446 §7.2 with the "dtls13" prefix)."""
    return dtls13_expand_label(
        hash_name, secret=traffic_secret, label=b"traffic upd", context=b"",
        length=hash_len(hash_name),
    )  # fmt: skip


def dtls13_finished_verify_data(hash_name: str, *, base_key: bytes, transcript: bytes) -> bytes:
    """Finished verify_data (RFC 8446 §4.4.4) over the TLS-form transcript (RFC 9147 §5.2)."""
    name = hashlib_name(hash_name)
    fkey = dtls13_expand_label(
        hash_name, secret=base_key, label=b"finished", context=b"", length=hash_len(hash_name)
    )
    return hmac.digest(fkey, hashlib.new(name, transcript).digest(), name)


@dataclass(frozen=True)
class DTLS13Keys:
    key: bytes
    iv: bytes
    sn_key: bytes


def dtls13_traffic_keys(suite: CipherSuiteInfo, *, traffic_secret: bytes) -> DTLS13Keys:
    """write_key, write_iv and sn_key of one epoch (RFC 8446 §7.3, RFC 9147 §4.2.3)."""
    h = suite.prf_hash
    expand = dtls13_expand_label
    key = expand(h, secret=traffic_secret, label=b"key", context=b"", length=suite.key_len)
    iv = expand(h, secret=traffic_secret, label=b"iv", context=b"", length=12)
    sn = expand(h, secret=traffic_secret, label=b"sn", context=b"", length=suite.key_len)
    return DTLS13Keys(key, iv, sn)


def sequence_number_mask(cipher: str, *, sn_key: bytes, ciphertext: bytes) -> bytes:
    """The 16-byte record-number mask of RFC 9147 §4.2.3.

    AES suites: AES-ECB(sn_key, ciphertext[0:16]).  ChaCha20: the ChaCha20 block with counter
    ciphertext[0:4] (little-endian, RFC 8439 §2.3) and nonce ciphertext[4:16] -- exactly
    pyca's 16-byte ChaCha20 "nonce" (counter ‖ nonce) applied to zeros."""
    if len(ciphertext) < 16:
        raise IntegrityError("DTLS 1.3 record shorter than 16 bytes (RFC 9147 §4.2.3)")
    sample = ciphertext[:16]
    if cipher.startswith("AES_"):
        enc = Cipher(algorithms.AES(sn_key), modes.ECB()).encryptor()  # noqa: S305 - §4.2.3
        return enc.update(sample) + enc.finalize()
    if cipher == "CHACHA20_POLY1305":
        enc = Cipher(algorithms.ChaCha20(sn_key, sample), None).encryptor()
        return enc.update(bytes(16))
    raise UnsupportedAlgorithmError(f"no DTLS 1.3 record number encryption for {cipher}")


def reconstruct_seq(low: int, bits: int, expected: int) -> int:
    """The full sequence number whose low ``bits`` are ``low`` and which is closest to
    ``expected`` (one more than the highest deprotected number; RFC 9147 §4.2.2)."""
    span = 1 << bits
    base = (expected & ~(span - 1)) | low
    cands = [c for c in (base - span, base, base + span) if 0 <= c < 1 << 64]
    return min(cands, key=lambda c: abs(c - expected))


class DTLS13RecordProtection:
    """DTLS 1.3 protection of one direction in one epoch (from that epoch's traffic secret)."""

    def __init__(self, suite: CipherSuiteInfo, *, traffic_secret: bytes) -> None:
        if not suite.is_tls13:
            raise UsageError(f"{suite.name} is not a (D)TLS 1.3 suite")
        self.suite = suite
        self.keys = dtls13_traffic_keys(suite, traffic_secret=traffic_secret)
        self._aead = _aead(suite.cipher, self.keys.key)
        self._iv = int.from_bytes(self.keys.iv, "big")

    def mask(self, encrypted_record: bytes) -> bytes:
        return sequence_number_mask(
            self.suite.cipher, sn_key=self.keys.sn_key, ciphertext=encrypted_record
        )

    def open(self, *, header: bytes, seq_offset: int, seq_len: int, encrypted_record: bytes,
             expected_seq: int) -> tuple[int, int, bytes]:  # fmt: skip
        """Deprotect one unified-header record.

        ``header``: the unified header as received (sequence number still encrypted, at
        ``header[seq_offset:seq_offset + seq_len]``).  Returns (full sequence number, inner
        content type, plaintext).  Raises :class:`IntegrityError` on any failure."""
        if seq_len not in (1, 2) or seq_offset + seq_len > len(header):
            raise UsageError("bad sequence number position")
        mask = self.mask(encrypted_record)
        wire = header[seq_offset : seq_offset + seq_len]
        plain_seq = bytes(a ^ b for a, b in zip(wire, mask, strict=False))
        aad = header[:seq_offset] + plain_seq + header[seq_offset + seq_len :]
        seq = reconstruct_seq(int.from_bytes(plain_seq, "big"), 8 * seq_len, expected_seq)
        nonce = (self._iv ^ seq).to_bytes(12, "big")  # §4: the epoch is not in the nonce
        try:
            inner = self._aead.decrypt(nonce, encrypted_record, aad)
        except Exception:  # noqa: BLE001 - InvalidTag (or a tag-length ValueError)
            raise IntegrityError(f"DTLS 1.3 record {seq}: bad AEAD tag") from None
        stripped = inner.rstrip(b"\x00")  # RFC 8446 §5.4
        if not stripped:
            raise IntegrityError("DTLS 1.3 inner plaintext has no content type")
        return seq, stripped[-1], stripped[:-1]

    def seal(self, *, epoch: int, seq: int, content_type: int, plaintext: bytes,
             cid: bytes | None = None, seq_len: int = 2, with_length: bool = True,
             padding: int = 0, fault: str | None = None) -> bytes:  # fmt: skip
        """A whole DTLSCiphertext record (unified header, RFC 9147 §4 Figure 3).

        Short plaintexts are padded so that the ciphertext has the 16 bytes the record-number
        mask needs (§4.2.3).  ``fault="mac"`` flips a tag bit."""
        if seq_len not in (1, 2):
            raise UsageError("seq_len is 1 or 2")
        first = 0x20 | (0x10 if cid is not None else 0) | (0x08 if seq_len == 2 else 0)
        first |= (0x04 if with_length else 0) | (epoch & 0x03)
        inner = plaintext + bytes([content_type]) + bytes(padding)
        short = 16 - (len(inner) + self.suite.tag_len)
        if short > 0:
            inner += bytes(short)
        seq_bytes = (seq & ((1 << (8 * seq_len)) - 1)).to_bytes(seq_len, "big")
        head = bytes([first]) + (cid or b"")
        seq_offset = len(head)
        tail = struct.pack("!H", len(inner) + self.suite.tag_len) if with_length else b""
        aad = head + seq_bytes + tail
        nonce = (self._iv ^ seq).to_bytes(12, "big")
        ct = self._aead.encrypt(nonce, inner, aad)
        if fault == "mac":
            ct = ct[:-1] + bytes([ct[-1] ^ 1])
        elif fault is not None:
            raise UsageError(f"unknown fault {fault!r}; known: mac")
        mask = self.mask(ct)
        enc_seq = bytes(a ^ b for a, b in zip(seq_bytes, mask, strict=False))
        return aad[:seq_offset] + enc_seq + tail + ct
