"""TLS record protection for one direction: SSL 3.0 .. TLS 1.3 (RFC 6101/2246/4346/5246/8446).

One :class:`RecordProtection` object holds the keys and the 64-bit sequence number of one
direction.  :meth:`RecordProtection.decrypt` returns plaintext only after the MAC/tag verified;
any failure raises :class:`IntegrityError` and leaves the state (sequence number, CBC chain,
RC4 keystream position) as it was, so a caller can try another key on the same record.

Timing (CBC, MAC-then-encrypt, the Lucky13/padding-oracle setting): the padding is checked
with :func:`hmac.compare_digest`, the MAC is *always* computed (over the content implied by a
zero-length padding when the padding byte is impossible) and compared with
:func:`hmac.compare_digest`, then one combined verdict is taken -- there is no early return
that depends on padding validity.  Padding length still changes how many bytes are MACed; we
hash a dummy block of the same size to even that out approximately.  CPython cannot promise
true constant time; this code is meant for offline analysis, not to serve as a network oracle.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import zlib
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4, Camellia, TripleDES
from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

from netsec_layers.crypto.tls13 import next_traffic_secret, traffic_key_iv
from netsec_layers.crypto.tls_prf import SSL3, TLS10, hashlib_name, ssl3_mac
from netsec_layers.crypto.tls_suites import CipherSuiteInfo
from netsec_layers.errors import (
    DecompressionError,
    IntegrityError,
    UnsupportedAlgorithmError,
    UsageError,
)

_SEQ_MASK = (1 << 64) - 1
_AAD12 = struct.Struct("!QBHH").pack  # seq_num, type, version, length (RFC 5246 §6.2.3.3)
_CT_APPLICATION_DATA = 23

COMPRESSION_NULL = 0
COMPRESSION_DEFLATE = 1  # RFC 3749 §2.1
# RFC 5246 §6.2.2: TLSCompressed.length <= 2^14 + 1024, and a fragment that would decompress
# to more than 2^14 bytes is a fatal decompression_failure.
MAX_COMPRESSED = (1 << 14) + 1024
MAX_DECOMPRESSED = 1 << 14


def _block_algorithm(cipher: str, key: bytes) -> BlockCipherAlgorithm:
    if cipher.startswith("AES_"):
        return algorithms.AES(key)
    if cipher.startswith("CAMELLIA_"):
        return Camellia(key)
    if cipher == "3DES_EDE_CBC":
        return TripleDES(key)
    if cipher == "DES_CBC":
        # Single DES = 3DES-EDE with K1 = K2 = K3 (E_K(D_K(E_K(x))) = E_K(x)).
        return TripleDES(key * 3)
    raise UnsupportedAlgorithmError(f"no block cipher for {cipher}")


def _aead(cipher: str, key: bytes) -> AESGCM | AESCCM | ChaCha20Poly1305:
    if cipher in ("AES_128_GCM", "AES_256_GCM"):
        return AESGCM(key)
    if cipher in ("AES_128_CCM", "AES_256_CCM"):
        return AESCCM(key, tag_length=16)
    if cipher in ("AES_128_CCM_8", "AES_256_CCM_8"):
        return AESCCM(key, tag_length=8)
    if cipher == "CHACHA20_POLY1305":
        return ChaCha20Poly1305(key)
    raise UnsupportedAlgorithmError(f"no AEAD for {cipher}")


class RecordProtection:
    """Record protection state of one direction (create with :meth:`tls12` or :meth:`tls13`)."""

    def __init__(self, suite: CipherSuiteInfo, version: int, *, key: bytes, mac_key: bytes,
                 iv: bytes, encrypt_then_mac: bool = False, tls13: bool = False,
                 traffic_secret: bytes | None = None, compression: int = 0) -> None:  # fmt: skip
        """Prefer :meth:`tls12` / :meth:`tls13`; arguments are checked against the suite."""
        self.suite = suite
        if not 0 <= compression <= 255 or (tls13 and compression):
            raise UsageError(f"compression method {compression} is not possible here")
        # The CompressionMethod of the connection state (RFC 5246 §6.1; TLS 1.3 has none).
        self.compression = compression
        # RFC 3749 §2: one DEFLATE stream per direction that persists across records (made on
        # first use: a zlib state costs hundreds of kilobytes).
        self._inflate: Any = None
        self._deflate: Any = None
        self._inflate_lost = False  # a record's compressed bytes are missing from the stream
        self._explicit_aead = False
        self.version = version
        self.seq = 0
        self.is_tls13 = tls13
        self.traffic_secret = traffic_secret
        # RFC 7366 §3: encrypt-then-MAC changes block ciphers only, and does not exist in SSL 3.0.
        self.encrypt_then_mac = (
            encrypt_then_mac and suite.cipher_type == "block" and version != SSL3
        )
        self.key = key
        self.mac_key = mac_key
        self.iv = iv
        ctype = suite.cipher_type
        if len(key) != suite.key_len:
            raise UsageError(f"{suite.name}: key must be {suite.key_len} bytes, got {len(key)}")
        if not tls13 and suite.mac and len(mac_key) != suite.mac_len:
            raise UsageError(f"{suite.name}: MAC key must be {suite.mac_len} bytes")
        self._mode = "aead13" if tls13 else ctype
        self._mac_name = hashlib_name(suite.mac) if suite.mac else None
        self._aead = None
        self._stream = None
        self._stream_offset = 0
        if ctype == "aead":
            if len(iv) != suite.fixed_iv_len:
                raise UsageError(f"{suite.name}: IV must be {suite.fixed_iv_len} bytes")
            self._aead = _aead(suite.cipher, key)  # one AEAD object per direction, reused
            # RFC 8446 §5.3 and RFC 7905 §2: nonce = IV XOR seq (left-padded to the IV length).
            self._xor_nonce = tls13 or suite.cipher == "CHACHA20_POLY1305"
            self._iv_int = int.from_bytes(iv, "big")
            # TLS 1.2 GCM/CCM without compression: decrypt's one-step path
            self._explicit_aead = not self._xor_nonce and not compression
            self._min_len = 8 + suite.tag_len  # explicit nonce + tag
        elif ctype == "block":
            self._algorithm = _block_algorithm(suite.cipher, key)
            self._bs = suite.block_size
            # Creating a pyca cipher context costs ~80 us, so one CBC context per direction and
            # operation is kept.  A CBC context chains from the last ciphertext block it saw: to
            # start a record at IV X we feed block X first and drop its output (one extra block).
            zero = bytes(self._bs)
            self._cbc_dec = Cipher(self._algorithm, modes.CBC(zero)).decryptor()
            self._dec_state = zero
            self._cbc_enc = Cipher(self._algorithm, modes.CBC(zero)).encryptor()
            self._enc_state = zero
            self._explicit_iv = version > TLS10
            if not self._explicit_iv and len(iv) != self._bs:
                raise UsageError(f"{suite.name}: SSL 3.0/TLS 1.0 need a {self._bs}-byte IV")
            # SSL 3.0/TLS 1.0: the IV of the next record is the last ciphertext block of this
            # direction (RFC 2246 §6.2.3.2); shared by decrypt and encrypt so that one object can
            # follow a direction and then inject records into it.
            self._chain = iv
        elif ctype == "stream":
            # One RC4 keystream per direction, shared by decrypt and encrypt (RC4 is symmetric).
            self._stream = Cipher(ARC4(key), None).decryptor()

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def tls12(cls, suite: CipherSuiteInfo, version: int, *, key: bytes, mac_key: bytes,
              iv: bytes, encrypt_then_mac: bool = False,
              compression: int = 0) -> RecordProtection:  # fmt: skip
        """SSL 3.0 .. TLS 1.2 protection from a key block (``iv`` may be b"" when unused).

        ``compression`` is the ServerHello's compression_method: 1 (DEFLATE, RFC 3749) makes
        :meth:`decrypt` decompress after authentication and :meth:`encrypt` compress first;
        any other non-zero method is carried and reported by :meth:`decrypt` as unsupported.
        """
        if suite.is_tls13:
            raise UsageError(f"{suite.name} is a TLS 1.3 suite: use RecordProtection.tls13")
        if not 0x0300 <= version <= 0x0303:
            raise UsageError(f"record version 0x{version:04x} is not SSL 3.0..TLS 1.2")
        if suite.cipher_type == "aead" and version < 0x0303:
            raise UsageError(f"{suite.name} (AEAD) needs TLS 1.2")
        return cls(suite, version, key=key, mac_key=mac_key, iv=iv,
                   encrypt_then_mac=encrypt_then_mac, compression=compression)  # fmt: skip

    @classmethod
    def tls13(cls, suite: CipherSuiteInfo, *, traffic_secret: bytes) -> RecordProtection:
        """TLS 1.3 protection keyed by a traffic secret (RFC 8446 §7.3)."""
        if not suite.is_tls13:
            raise UsageError(f"{suite.name} is not a TLS 1.3 suite")
        key, iv = traffic_key_iv(
            suite.prf_hash, traffic_secret=traffic_secret, key_len=suite.key_len, iv_len=12
        )
        return cls(suite, 0x0304, key=key, mac_key=b"", iv=iv, tls13=True,
                   traffic_secret=traffic_secret)  # fmt: skip

    def key_update(self) -> None:
        """TLS 1.3 KeyUpdate (RFC 8446 §4.6.3/§7.2): next traffic secret, sequence number 0."""
        if not self.is_tls13 or self.traffic_secret is None:
            raise UsageError("key_update applies to TLS 1.3 protection only")
        secret = next_traffic_secret(self.suite.prf_hash, traffic_secret=self.traffic_secret)
        key, iv = traffic_key_iv(
            self.suite.prf_hash, traffic_secret=secret, key_len=self.suite.key_len, iv_len=12
        )
        self.traffic_secret, self.key, self.iv = secret, key, iv
        self._aead = _aead(self.suite.cipher, key)
        self._iv_int = int.from_bytes(iv, "big")
        self.seq = 0

    # -- helpers ---------------------------------------------------------------------------
    def _nonce(self, seq: int) -> bytes:
        return (self._iv_int ^ seq).to_bytes(12, "big")

    def _mac(self, seq: int, content_type: int, version: int, data: bytes) -> bytes:
        """HMAC over seq + type + version + length + data (RFC 5246 §6.2.3.1); SSL 3.0 variant."""
        assert self._mac_name is not None
        if self.version == SSL3:
            head = struct.pack("!QBH", seq, content_type, len(data))
            return ssl3_mac(self._mac_name, mac_key=self.mac_key, data=head + data)
        head = struct.pack("!QBHH", seq, content_type, version, len(data))
        return hmac.digest(self.mac_key, head + data, self._mac_name)

    # -- decryption ------------------------------------------------------------------------
    def decrypt(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes]:
        """Open one record; returns (real content type, plaintext).

        ``content_type``/``version`` are the record header's values (they enter the MAC/AAD).
        Raises IntegrityError on a bad MAC/tag/padding or a fragment too short; the sequence
        number advances only on success.  With DEFLATE (``compression=1``) the authenticated
        fragment is then decompressed: :class:`DecompressionError` if that fails (the record
        did authenticate, so its sequence number is used).
        """
        if self._explicit_aead:
            # RFC 5288 §3 (GCM) / RFC 6655 §3 (CCM), the common TLS 1.2 case in one step
            # (issue #22): nonce = salt + the record's explicit 8 bytes; AAD = seq, type,
            # version and the plaintext length (RFC 5246 §6.2.3.3).
            if len(fragment) < self._min_len:
                raise IntegrityError("AEAD record shorter than its nonce and tag")
            seq = self.seq
            try:
                plain: bytes = self._aead.decrypt(  # type: ignore[union-attr]
                    self.iv + fragment[:8],
                    fragment[8:],
                    _AAD12(seq, content_type, version, len(fragment) - self._min_len),
                )
            except InvalidTag:
                raise IntegrityError(f"record {seq}: bad AEAD tag") from None
            self.seq = (seq + 1) & _SEQ_MASK
            return content_type, plain
        mode = self._mode
        if mode == "aead13":
            result = self._open13(content_type, version, fragment)
        elif mode == "aead":
            result = (content_type, self._open12(content_type, version, fragment))
        elif mode == "block":
            result = (content_type, self._open_cbc(content_type, version, fragment))
        elif mode == "stream":
            result = (content_type, self._open_stream(content_type, version, fragment))
        else:
            result = (content_type, self._open_null(content_type, version, fragment))
        self.seq = (self.seq + 1) & _SEQ_MASK
        if self.compression:
            # RFC 5246 §6.2: decompression follows authentication (MAC-then-decompress), so
            # only authenticated bytes ever reach zlib.
            return content_type, self._decompress(result[1])
        return result

    # -- compression (RFC 3749, RFC 5246 §6.2.2) ---------------------------------------------
    def _decompress(self, data: bytes) -> bytes:
        """TLSCompressed.fragment -> TLSPlaintext.fragment on this direction's DEFLATE stream.

        Raises :class:`DecompressionError`; after one the stream state is lost (the next records
        of the direction fail too: their back-references may reach into what was lost)."""
        if self.compression != COMPRESSION_DEFLATE:
            raise DecompressionError(f"compression method {self.compression} is not supported")
        if self._inflate_lost:
            raise DecompressionError("DEFLATE state lost at an earlier record of this direction")
        if len(data) > MAX_COMPRESSED:
            self._inflate_lost = True
            raise DecompressionError(
                f"TLSCompressed.length {len(data)} exceeds 2^14+1024 (RFC 5246 §6.2.2)",
                oversized=True,
            )
        if self._inflate is None:
            self._inflate = zlib.decompressobj()  # the zlib format (RFC 1950), as OpenSSL sends
        inflate = self._inflate
        if inflate.eof and data:
            self._inflate_lost = True
            raise DecompressionError("record after the end of the DEFLATE stream")
        try:
            # Bounded: at most 2^14+1 bytes come out whatever the input (a bomb stops here).
            out: bytes = inflate.decompress(data, MAX_DECOMPRESSED + 1)
        except zlib.error as exc:
            self._inflate_lost = True
            raise DecompressionError(f"bad DEFLATE data: {exc}") from None
        if len(out) > MAX_DECOMPRESSED or inflate.unconsumed_tail:
            self._inflate_lost = True
            raise DecompressionError(
                "record decompresses to more than 2^14 bytes (RFC 5246 §6.2.2)", oversized=True
            )
        if inflate.unused_data:
            self._inflate_lost = True
            raise DecompressionError("bytes after the end of the DEFLATE stream")
        return out

    def _compress(self, data: bytes) -> bytes:
        """TLSPlaintext.fragment -> TLSCompressed.fragment; RFC 3749 §2: all input is in the
        output of this record (Z_SYNC_FLUSH), the history carries on to the next record."""
        if self.compression != COMPRESSION_DEFLATE:
            raise UsageError(f"compression method {self.compression} is not supported")
        if self._deflate is None:
            self._deflate = zlib.compressobj()
        out: bytes = self._deflate.compress(data) + self._deflate.flush(zlib.Z_SYNC_FLUSH)
        return out

    # -- recovery after a record that did not authenticate (issue #20) -----------------------
    SKIP_TAIL = 64  # bytes of a failed fragment that :meth:`skip` needs (last block + MAC)

    def skip(self, length: int, tail: bytes) -> None:
        """Move on as the sender did past a record it protected with this state that did not
        authenticate here (damaged on the way): sequence number + 1, the SSL 3.0/TLS 1.0 CBC
        chain on the record's last ciphertext block (RFC 2246 §6.2.3.2), the RC4 keystream past
        its length. ``length`` is the fragment's length, ``tail`` its last :attr:`SKIP_TAIL`
        bytes (what a tracker keeps of a failed record). A damaged last CBC block spoils the
        next record's first block as well."""
        self.seq = (self.seq + 1) & _SEQ_MASK
        if self.compression:
            self._inflate_lost = True  # the record's compressed bytes are not in our history
        if self._mode == "block" and not self._explicit_iv:
            ct = tail[: len(tail) - self.suite.mac_len] if self.encrypt_then_mac else tail
            if len(ct) >= self._bs:
                self._chain = ct[-self._bs :]
        elif self._mode == "stream" and self._stream is not None:
            self._stream.update(bytes(length))
            self._stream_offset += length

    @property
    def iv_unauthenticated(self) -> bool:
        """SSL 3.0/TLS 1.0 CBC with encrypt-then-MAC: a record's IV is the previous record's last
        ciphertext block and its MAC does not cover it (RFC 7366 §3), so after a record that did
        not authenticate the next one's first block cannot be trusted."""
        return self._mode == "block" and not self._explicit_iv and self.encrypt_then_mac

    def snapshot(self) -> tuple[int, bytes | None, int, bool]:
        """The state :meth:`skip` changes (for :meth:`restore`)."""
        return self.seq, getattr(self, "_chain", None), self._stream_offset, self._inflate_lost

    def restore(self, state: tuple[int, bytes | None, int, bool]) -> None:
        seq, chain, offset, self._inflate_lost = state
        self.seq = seq
        if chain is not None:
            self._chain = chain
        if self._mode == "stream" and offset != self._stream_offset:
            self._stream_offset = offset
            self._rewind_stream()

    def _open13(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes]:
        if len(fragment) < self.suite.tag_len + 1:
            raise IntegrityError("TLS 1.3 record shorter than its tag")
        aad = struct.pack("!BHH", content_type, version, len(fragment))
        try:
            inner = self._aead.decrypt(self._nonce(self.seq), fragment, aad)  # type: ignore[union-attr]
        except InvalidTag:
            raise IntegrityError(f"TLS 1.3 record {self.seq}: bad AEAD tag") from None
        # RFC 8446 §5.4: the real type is the last non-zero byte; all zeros is an error.
        stripped = inner.rstrip(b"\x00")
        if not stripped:
            raise IntegrityError("TLS 1.3 inner plaintext has no non-zero content type")
        return stripped[-1], stripped[:-1]

    def _open12(self, content_type: int, version: int, fragment: bytes) -> bytes:
        s = self.suite
        seq = self.seq
        if self._xor_nonce:
            body, nonce = fragment, self._nonce(seq)
        else:
            # RFC 5288 §3: nonce = salt(4) + explicit nonce(8) carried in the record.
            body, nonce = fragment[8:], self.iv + fragment[:8]
        if len(body) < s.tag_len or len(fragment) < s.record_iv_len:
            raise IntegrityError("AEAD record shorter than its nonce and tag")
        aad = struct.pack("!QBHH", seq, content_type, version, len(body) - s.tag_len)
        try:
            return self._aead.decrypt(nonce, body, aad)  # type: ignore[union-attr]
        except InvalidTag:
            raise IntegrityError(f"record {seq}: bad AEAD tag") from None

    def _cbc_decrypt(self, iv: bytes, ct: bytes) -> bytes:
        dec = self._cbc_dec
        if self._dec_state != iv:
            dec.update(iv)  # resynchronise the chaining block to this record's IV
        self._dec_state = ct[-self._bs :]
        return dec.update(ct)

    def _open_cbc(self, content_type: int, version: int, fragment: bytes) -> bytes:
        bs, mac_len = self._bs, self.suite.mac_len
        if self._explicit_iv:
            iv, ct = fragment[:bs], fragment[bs:]
        else:
            iv, ct = self._chain, fragment
        if self.encrypt_then_mac:
            # RFC 7366 §3: MAC over the IV and ciphertext, checked before any decryption.
            ct, tag = ct[: len(ct) - mac_len], ct[len(ct) - mac_len :]
            if len(ct) < bs or len(ct) % bs or len(tag) != mac_len:
                raise IntegrityError("encrypt-then-MAC record has a bad length")
            macced = fragment[: len(fragment) - mac_len]
            if not hmac.compare_digest(self._mac(self.seq, content_type, version, macced), tag):
                raise IntegrityError(f"record {self.seq}: bad MAC (encrypt-then-MAC)")
            plain = self._cbc_decrypt(iv, ct)
            pad = plain[-1]
            ok = self._padding_ok(plain, pad, 0)
            if not ok:
                raise IntegrityError(f"record {self.seq}: bad padding")
            if not self._explicit_iv:
                self._chain = ct[-bs:]
            return plain[: len(plain) - pad - 1]
        min_len = max(bs, ((mac_len + 1 + bs - 1) // bs) * bs)
        if len(ct) < min_len or len(ct) % bs:
            raise IntegrityError("CBC record length is not a positive multiple of the block size")
        plain = self._cbc_decrypt(iv, ct)
        n = len(plain)
        pad = plain[-1]
        pad_ok = self._padding_ok(plain, pad, mac_len)
        # Bad padding: MAC the data as if the padding were one byte long (no early exit).
        eff_pad = pad if pad_ok else 0
        content_end = n - eff_pad - 1 - mac_len
        content = plain[:content_end]
        expected = self._mac(self.seq, content_type, version, content)
        mac_ok = hmac.compare_digest(expected, plain[content_end : content_end + mac_len])
        # Even out the hashing work that depends on the padding length (Lucky13 mitigation).
        hashlib.new(self._mac_name or "sha1", plain[: eff_pad + 1]).digest()
        if not (pad_ok & mac_ok):
            raise IntegrityError(f"record {self.seq}: bad MAC or padding")
        if not self._explicit_iv:
            self._chain = ct[-bs:]
        return content

    def _padding_ok(self, plain: bytes, pad: int, mac_len: int) -> bool:
        n = len(plain)
        if pad + 1 + mac_len > n:
            return False
        if self.version == SSL3:
            # RFC 6101 §5.2.3.2: padding bytes are arbitrary, its length below the block size.
            return pad < self._bs
        # RFC 5246 §6.2.3.2: every padding byte (and the length byte) equals the length.
        return hmac.compare_digest(plain[n - pad - 1 :], bytes((pad,)) * (pad + 1))

    def _open_stream(self, content_type: int, version: int, fragment: bytes) -> bytes:
        mac_len = self.suite.mac_len
        if len(fragment) < mac_len:
            raise IntegrityError("stream record shorter than its MAC")
        assert self._stream is not None
        plain = self._stream.update(fragment)
        content, tag = plain[: len(plain) - mac_len], plain[len(plain) - mac_len :]
        if not hmac.compare_digest(self._mac(self.seq, content_type, version, content), tag):
            self._rewind_stream()
            raise IntegrityError(f"record {self.seq}: bad MAC")
        self._stream_offset += len(fragment)
        return content

    def _rewind_stream(self) -> None:
        # RC4 state cannot be copied: rebuild it and skip the keystream used by good records.
        self._stream = Cipher(ARC4(self.key), None).decryptor()
        left = self._stream_offset
        while left:
            step = min(left, 1 << 16)
            self._stream.update(bytes(step))
            left -= step

    def _open_null(self, content_type: int, version: int, fragment: bytes) -> bytes:
        mac_len = self.suite.mac_len
        if not mac_len:
            return fragment
        if len(fragment) < mac_len:
            raise IntegrityError("record shorter than its MAC")
        content, tag = fragment[: len(fragment) - mac_len], fragment[len(fragment) - mac_len :]
        if not hmac.compare_digest(self._mac(self.seq, content_type, version, content), tag):
            raise IntegrityError(f"record {self.seq}: bad MAC")
        return content

    # -- encryption ------------------------------------------------------------------------
    def encrypt(self, content_type: int, version: int, plaintext: bytes, *, padding: int = 0,
                explicit_iv: bytes | None = None, fault: str | None = None) -> tuple[int, bytes]:  # fmt: skip
        """Protect one record; returns (outer content type, fragment) and advances seq.

        * TLS 1.3: the fragment is AEAD(plaintext + inner type + ``padding`` zeros) and the
          outer type is application_data (23); ``version`` is the legacy_record_version.
        * CBC: ``padding`` = extra padding blocks' worth of bytes (rounded to keep the total
          below 256); ``explicit_iv`` overrides the random TLS 1.1+ IV / the GCM/CCM explicit
          nonce (default: the sequence number, as OpenSSL does).
        * ``fault`` builds a deliberately broken record for tests: ``"mac"`` (flip a MAC/tag
          bit) or ``"padding"`` (CBC: corrupt the padding before encryption).
        """
        if fault not in (None, "mac", "padding"):
            raise UsageError(f"unknown fault {fault!r}; known: mac, padding")
        if self.compression:
            plaintext = self._compress(plaintext)  # RFC 5246 §6.2.2: compress, then protect
        mode = self._mode
        seq = self.seq
        if mode == "aead13":
            outer = _CT_APPLICATION_DATA
            inner = plaintext + bytes((content_type,)) + bytes(padding)
            length = len(inner) + self.suite.tag_len
            aad = struct.pack("!BHH", outer, version, length)
            out = self._aead.encrypt(self._nonce(seq), inner, aad)  # type: ignore[union-attr]
            fragment = _fault_last(out) if fault == "mac" else out
            self.seq = (seq + 1) & _SEQ_MASK
            return outer, fragment
        if mode == "aead":
            aad = struct.pack("!QBHH", seq, content_type, version, len(plaintext))
            if self._xor_nonce:
                prefix, nonce = b"", self._nonce(seq)
            else:
                prefix = explicit_iv if explicit_iv is not None else seq.to_bytes(8, "big")
                if len(prefix) != 8:
                    raise UsageError("explicit nonce must be 8 bytes")
                nonce = self.iv + prefix
            out = self._aead.encrypt(nonce, plaintext, aad)  # type: ignore[union-attr]
            fragment = prefix + (_fault_last(out) if fault == "mac" else out)
        elif mode == "block":
            fragment = self._seal_cbc(content_type, version, plaintext, padding, explicit_iv, fault)
        elif mode == "stream":
            tag = self._mac(seq, content_type, version, plaintext)
            if fault == "mac":
                tag = _fault_last(tag)
            assert self._stream is not None
            fragment = self._stream.update(plaintext + tag)
            self._stream_offset += len(fragment)
        else:
            tag = self._mac(seq, content_type, version, plaintext) if self.suite.mac_len else b""
            fragment = plaintext + (_fault_last(tag) if fault == "mac" and tag else tag)
        self.seq = (seq + 1) & _SEQ_MASK
        return content_type, fragment

    def _seal_cbc(self, content_type: int, version: int, plaintext: bytes, padding: int,
                  explicit_iv: bytes | None, fault: str | None) -> bytes:  # fmt: skip
        bs, seq = self._bs, self.seq
        etm = self.encrypt_then_mac
        body = plaintext if etm else plaintext + self._mac(seq, content_type, version, plaintext)
        if not etm and fault == "mac":
            body = _fault_last(body)
        pad = (bs - (len(body) + 1) % bs) % bs
        if self.version != SSL3:
            # RFC 5246 §6.2.3.2: up to 255 bytes of padding may hide the length.
            extra = (padding // bs) * bs
            while pad + extra > 255:
                extra -= bs
            pad += max(extra, 0)
            if fault == "padding" and pad == 0:
                pad = bs  # a padding byte that can be corrupted
        pad_byte = pad if fault != "padding" else (pad + 1) & 0xFF
        if self.version == SSL3:
            block = body + bytes(pad) + bytes((pad,))
            if fault == "padding":
                block = body + bytes(pad) + bytes((bs + pad,))
        else:
            block = body + bytes((pad_byte,)) * pad + bytes((pad,))
        if self._explicit_iv and explicit_iv is None:
            # RFC 4346 §6.2.3.2 (2)(b): encrypt a random first block and send its ciphertext
            # as the explicit IV -- the continuing context needs no re-keying.
            out = self._cbc_enc.update(os.urandom(bs) + block)
            prefix, ct = out[:bs], out[bs:]
        else:
            iv = self._chain if explicit_iv is None else explicit_iv
            if len(iv) != bs:
                raise UsageError(f"explicit IV must be {bs} bytes")
            prefix = iv if self._explicit_iv else b""
            if self._enc_state != iv:
                self._cbc_enc = Cipher(self._algorithm, modes.CBC(iv)).encryptor()
            ct = self._cbc_enc.update(block)
        self._enc_state = ct[-bs:]
        if not self._explicit_iv:
            self._chain = ct[-bs:]
        if etm:
            tag = self._mac(seq, content_type, version, prefix + ct)
            if fault == "mac":
                tag = _fault_last(tag)
            return prefix + ct + tag
        return prefix + ct


def _fault_last(data: bytes) -> bytes:
    return data[:-1] + bytes((data[-1] ^ 0x01,))
