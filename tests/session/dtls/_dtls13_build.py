"""An independent, minimal DTLS 1.3 sender written from RFC 9147's text, for the tests.

No DTLS 1.3 peer exists on Debian 12 (OpenSSL 3.0 and GnuTLS 3.7 stop at DTLS 1.2), so the
tracker's DTLS 1.3 path is checked against associations built here.  This module uses only
pyca primitives (HKDFExpand, HMAC, AESGCM/ChaCha20Poly1305, AES-ECB, ChaCha20) and never
imports netsec_layers.crypto, so a mistake there is not repeated here:

* HKDF-Expand-Label with the label prefix "dtls13" (RFC 9147 §5.9), key/iv/sn per epoch;
* unified header 001CSLEE (§4), AEAD additional data = that header with the *plaintext*
  sequence number, nonce = iv XOR the 64-bit sequence number (no epoch, §4);
* record number encryption (§4.2.3): mask = AES-ECB(sn_key, ct[0:16]) or the ChaCha20 block
  with counter ct[0:4] and nonce ct[4:16];
* handshake messages with the 12-byte DTLS header, hashed for Finished in TLS form (§5.2).
"""

from __future__ import annotations

import hashlib
import hmac
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

SUITES = {0x1301: ("aes", 16), 0x1303: ("chacha", 32)}


def expand_label(secret: bytes, label: bytes, length: int) -> bytes:
    full = b"dtls13" + label
    info = struct.pack("!H", length) + bytes([len(full)]) + full + b"\x00"
    return HKDFExpand(hashes.SHA256(), length, info).derive(secret)


class Epoch:
    """One sender's protection in one epoch."""

    def __init__(self, suite: int, secret: bytes, epoch: int) -> None:
        kind, klen = SUITES[suite]
        self.kind, self.epoch, self.secret = kind, epoch, secret
        self.key = expand_label(secret, b"key", klen)
        self.iv = expand_label(secret, b"iv", 12)
        self.sn_key = expand_label(secret, b"sn", klen)
        self.aead = AESGCM(self.key) if kind == "aes" else ChaCha20Poly1305(self.key)
        self.seq = 0

    def _mask(self, ct: bytes) -> bytes:
        if self.kind == "aes":
            e = Cipher(algorithms.AES(self.sn_key), modes.ECB()).encryptor()
            return e.update(ct[:16]) + e.finalize()
        return Cipher(algorithms.ChaCha20(self.sn_key, ct[:16]), None).encryptor().update(bytes(16))

    def record(self, content_type: int, data: bytes, *, short_seq: bool = False) -> bytes:
        seq, self.seq = self.seq, self.seq + 1
        inner = data + bytes([content_type])
        seq_bytes = struct.pack("!B", seq & 0xFF) if short_seq else struct.pack("!H", seq & 0xFFFF)
        first = 0x20 | (0 if short_seq else 0x08) | 0x04 | (self.epoch & 3)
        header = bytes([first]) + seq_bytes + struct.pack("!H", len(inner) + 16)
        nonce = (int.from_bytes(self.iv, "big") ^ seq).to_bytes(12, "big")
        ct = self.aead.encrypt(nonce, inner, header)
        enc = bytes(a ^ b for a, b in zip(seq_bytes, self._mask(ct), strict=False))
        return header[:1] + enc + header[1 + len(seq_bytes) :] + ct


def handshake(msg_type: int, message_seq: int, body: bytes) -> tuple[bytes, bytes]:
    """(DTLS form for the wire, TLS form for the transcript)."""
    n = len(body).to_bytes(3, "big")
    dtls = bytes([msg_type]) + n + struct.pack("!H", message_seq) + b"\0\0\0" + n + body
    return dtls, bytes([msg_type]) + n + body


def plaintext_record(content_type: int, seq: int, fragment: bytes) -> bytes:
    return struct.pack("!BHHH", content_type, 0xFEFD, 0, seq >> 32) + struct.pack(
        "!IH", seq & 0xFFFFFFFF, len(fragment)
    ) + fragment  # fmt: skip


def hello(client: bool, random: bytes, suite: int) -> bytes:
    """ClientHello (with an empty legacy_cookie) or ServerHello selecting DTLS 1.3."""
    if client:
        ext = struct.pack("!HHB", 43, 3, 2) + b"\xfe\xfc"
        return (b"\xfe\xfd" + random + b"\x00" + b"\x00" + struct.pack("!HH", 2, suite)
                + b"\x01\x00" + struct.pack("!H", len(ext)) + ext)  # fmt: skip
    ext = struct.pack("!HH", 43, 2) + b"\xfe\xfc"
    return (b"\xfe\xfd" + random + b"\x00" + struct.pack("!H", suite) + b"\x00"
            + struct.pack("!H", len(ext)) + ext)  # fmt: skip


def finished(base_key: bytes, transcript: bytes) -> bytes:
    fkey = expand_label(base_key, b"finished", 32)
    return hmac.digest(fkey, hashlib.sha256(transcript).digest(), "sha256")
