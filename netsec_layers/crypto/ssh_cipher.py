"""SSH binary packet protection (RFC 4253 §6): decrypt-and-verify and encrypt, per direction.

Modes: CTR and CBC ciphers (RFC 4344, RFC 4253 §6.3) with Encrypt-and-MAC (RFC 4253 §6.4:
MAC over ``seq || plaintext packet``) or Encrypt-then-MAC (OpenSSH PROTOCOL §1.5: the length in
clear, MAC over ``seq || length || ciphertext``); AES-GCM (RFC 5647 as amended by OpenSSH
PROTOCOL §1.6: length in clear as AAD, 12-byte nonce whose last 8 bytes count packets) and
chacha20-poly1305@openssh.com (OpenSSH PROTOCOL.chacha20poly1305: length under K_1, payload
under K_2 with block counter 1, Poly1305 key from block 0, nonce = sequence number).

Each :class:`SSHPacketCipher` is one direction's state.  :meth:`packet_size` reads the total
size of the next packet from its first bytes without changing the state; :meth:`open` verifies
then decrypts a whole packet (no plaintext is returned unless the MAC/tag is right) and only
then advances the state.  A failure raises :class:`IntegrityError`; the state does not move.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import poly1305
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from netsec_layers.errors import IntegrityError, ParseError, UnsupportedAlgorithmError

# RFC 4253 §6.1 requires 35000; OpenSSH accepts 256 KiB (PACKET_MAX_SIZE)
MAX_PACKET_LENGTH = 256 * 1024


@dataclass(frozen=True, slots=True)
class CipherSpec:
    name: str
    kind: str  # "ctr", "cbc", "gcm", "chacha", "none"
    key_len: int
    iv_len: int
    block_size: int


CIPHERS: dict[str, CipherSpec] = {
    s.name: s
    for s in (
        CipherSpec("none", "none", 0, 0, 8),
        CipherSpec("aes128-ctr", "ctr", 16, 16, 16),
        CipherSpec("aes192-ctr", "ctr", 24, 16, 16),
        CipherSpec("aes256-ctr", "ctr", 32, 16, 16),
        CipherSpec("aes128-cbc", "cbc", 16, 16, 16),
        CipherSpec("aes192-cbc", "cbc", 24, 16, 16),
        CipherSpec("aes256-cbc", "cbc", 32, 16, 16),
        CipherSpec("rijndael-cbc@lysator.liu.se", "cbc", 32, 16, 16),
        CipherSpec("3des-cbc", "cbc", 24, 8, 8),
        CipherSpec("3des-ctr", "ctr", 24, 8, 8),
        CipherSpec("aes128-gcm@openssh.com", "gcm", 16, 12, 16),
        CipherSpec("aes256-gcm@openssh.com", "gcm", 32, 12, 16),
        CipherSpec("chacha20-poly1305@openssh.com", "chacha", 64, 0, 8),
    )
}


@dataclass(frozen=True, slots=True)
class MacSpec:
    name: str
    hash_name: str
    key_len: int
    mac_len: int
    etm: bool


MACS: dict[str, MacSpec] = {}
for _base, _hash, _klen, _mlen in (
    ("hmac-sha1", "sha1", 20, 20),
    ("hmac-sha1-96", "sha1", 20, 12),
    ("hmac-sha2-256", "sha256", 32, 32),
    ("hmac-sha2-512", "sha512", 64, 64),
    ("hmac-md5", "md5", 16, 16),
    ("hmac-md5-96", "md5", 16, 12),
    ("umac-64@openssh.com", "umac", 16, 8),
    ("umac-128@openssh.com", "umac", 16, 16),
):
    MACS[_base] = MacSpec(_base, _hash, _klen, _mlen, False)
    _etm = f"{_base.removesuffix('@openssh.com')}-etm@openssh.com"
    MACS[_etm] = MacSpec(_etm, _hash, _klen, _mlen, True)


def cipher_spec(name: str) -> CipherSpec:
    try:
        return CIPHERS[name]
    except KeyError:
        raise UnsupportedAlgorithmError(
            f"unknown SSH cipher {name!r} (known: {', '.join(sorted(CIPHERS))})"
        ) from None


def mac_spec(name: str) -> MacSpec:
    try:
        return MACS[name]
    except KeyError:
        raise UnsupportedAlgorithmError(
            f"unknown SSH MAC {name!r} (known: {', '.join(sorted(MACS))})"
        ) from None


def _block_cipher(spec: CipherSpec, key: bytes) -> algorithms.AES | TripleDES:
    return TripleDES(key) if spec.name.startswith("3des") else algorithms.AES(key)


def _chacha_block(key: bytes, seq: int, counter: int, data: bytes) -> bytes:
    # pyca's 16-byte nonce is the 64-bit little-endian block counter then the 64-bit nonce
    # (the layout of the original ChaCha20 that OpenSSH uses), as long as counter < 2^32
    nonce = counter.to_bytes(8, "little") + seq.to_bytes(8, "big")
    enc = Cipher(algorithms.ChaCha20(key, nonce), mode=None).encryptor()
    return enc.update(data)


class SSHPacketCipher:
    """One direction of an SSH connection after NEWKEYS (or before: cipher ``none``)."""

    def __init__(
        self,
        *,
        cipher: str,
        mac: str | None,
        enc_key: bytes,
        iv: bytes,
        mac_key: bytes = b"",
    ) -> None:
        self.spec = cipher_spec(cipher)
        aead = self.spec.kind in ("gcm", "chacha")
        self.mac = None if aead or mac in (None, "none") else mac_spec(str(mac))
        if len(enc_key) != self.spec.key_len:
            raise UnsupportedAlgorithmError(
                f"{cipher} needs a {self.spec.key_len}-byte key, not {len(enc_key)}"
            )
        if len(iv) != self.spec.iv_len:
            raise UnsupportedAlgorithmError(f"{cipher} needs a {self.spec.iv_len}-byte IV")
        self.enc_key = enc_key
        self.mac_key = mac_key
        self.iv = iv  # CBC: the last ciphertext block; CTR: the counter; GCM: the nonce
        self.block_size = self.spec.block_size
        if aead:
            self.mac_len = 16
        else:
            self.mac_len = self.mac.mac_len if self.mac else 0
        self.length_in_clear = self.spec.kind in ("gcm", "none") or bool(self.mac and self.mac.etm)

    # ------------------------------------------------------------------ helpers

    def _first_block(self, data: bytes, seq: int) -> bytes:
        """The plaintext of the first ``block_size`` bytes (stateless)."""
        kind = self.spec.kind
        head = data[: self.block_size]
        if kind == "ctr":
            return (
                Cipher(_block_cipher(self.spec, self.enc_key), modes.CTR(self.iv))
                .decryptor()
                .update(head)
            )
        if kind == "cbc":
            return (
                Cipher(_block_cipher(self.spec, self.enc_key), modes.CBC(self.iv))
                .decryptor()
                .update(head)
            )
        return head

    def _check_length(self, length: int) -> None:
        bs = self.block_size
        if length < 5 or length > MAX_PACKET_LENGTH:
            raise ParseError(f"packet length {length} out of range")
        # RFC 4253 §6: the packet (length field included, MAC excluded) is a multiple of the
        # block size; with the length outside the encryption (EtM, GCM) the rest is
        aligned = length if self.length_in_clear and self.spec.kind != "none" else length + 4
        if self.spec.kind == "chacha":
            aligned = length  # OpenSSH PROTOCOL.chacha20poly1305: padded like EtM (to 8)
        if aligned % bs:
            raise ParseError(f"packet length {length} not a multiple of the block size {bs}")

    def packet_length(self, data: bytes, seq: int) -> int:
        """The ``packet_length`` field of the packet starting ``data`` (at least
        :attr:`header_size` bytes); raises :class:`ParseError` when it cannot be an SSH packet."""
        if len(data) < self.header_size:
            raise ParseError("need more bytes")
        if self.spec.kind == "chacha":
            length = int.from_bytes(_chacha_block(self.enc_key[32:], seq, 0, data[:4]), "big")
        elif self.length_in_clear:
            length = int.from_bytes(data[:4], "big")
        else:
            length = int.from_bytes(self._first_block(data, seq)[:4], "big")
        self._check_length(length)
        return length

    @property
    def header_size(self) -> int:
        """Bytes needed before the length is known."""
        return 4 if self.length_in_clear or self.spec.kind == "chacha" else self.block_size

    def packet_size(self, data: bytes, seq: int) -> int:
        """Bytes on the wire of the packet starting ``data``: 4 + length + MAC/tag."""
        return 4 + self.packet_length(data, seq) + self.mac_len

    def _mac(self, seq: int, data: bytes) -> bytes:
        assert self.mac is not None
        if self.mac.hash_name == "umac":
            # OpenSSH PROTOCOL: UMAC's nonce is the sequence number (8 bytes), not in the data
            from netsec_layers.crypto.ssh_umac import umac

            return umac(self.mac_key, data, seq.to_bytes(8, "big"), self.mac.mac_len)
        full = hmac.new(self.mac_key, seq.to_bytes(4, "big") + data, self.mac.hash_name).digest()
        return full[: self.mac.mac_len]

    # ------------------------------------------------------------------ open

    def open(self, packet: bytes, seq: int) -> bytes:
        """Verify and decrypt one whole packet (``packet_size`` bytes); returns the plaintext
        ``packet_length || padding_length || payload || padding``.  ``seq`` is the sequence
        number (mod 2^32) of RFC 4253 §6.4."""
        seq &= 0xFFFFFFFF
        size = self.packet_size(packet, seq)
        if len(packet) != size:
            raise ParseError(f"packet is {len(packet)} bytes, its length says {size}")
        body, tag = packet[: size - self.mac_len], packet[size - self.mac_len :]
        kind = self.spec.kind
        if kind == "gcm":
            nonce = self.iv
            try:
                plain = AESGCM(self.enc_key).decrypt(nonce, body[4:] + tag, body[:4])
            except InvalidTag:
                raise IntegrityError("AES-GCM tag mismatch") from None
            inv = (int.from_bytes(nonce[4:], "big") + 1) & 0xFFFFFFFFFFFFFFFF
            self.iv = nonce[:4] + inv.to_bytes(8, "big")  # RFC 5647 §7.1
            return body[:4] + plain
        if kind == "chacha":
            poly_key = _chacha_block(self.enc_key[:32], seq, 0, b"\x00" * 32)
            try:
                poly1305.Poly1305.verify_tag(poly_key, body, tag)
            except InvalidSignature:
                raise IntegrityError("Poly1305 tag mismatch") from None
            length = _chacha_block(self.enc_key[32:], seq, 0, body[:4])
            return length + _chacha_block(self.enc_key[:32], seq, 1, body[4:])
        if self.mac is not None and self.mac.etm:
            if not hmac.compare_digest(self._mac(seq, body), tag):
                raise IntegrityError(f"{self.mac.name} mismatch")
            return body[:4] + self._decrypt(body[4:])
        plain = self._decrypt(body, commit=False)
        if self.mac is not None and not hmac.compare_digest(self._mac(seq, plain), tag):
            raise IntegrityError(f"{self.mac.name} mismatch")
        self._decrypt(body)  # advance the state only once authenticated
        return plain

    def _decrypt(self, data: bytes, *, commit: bool = True) -> bytes:
        kind = self.spec.kind
        if kind == "none":
            return data
        algo = _block_cipher(self.spec, self.enc_key)
        if kind == "ctr":
            out = Cipher(algo, modes.CTR(self.iv)).decryptor().update(data)
            if commit:
                self._advance_ctr(len(data))
            return out
        if len(data) % self.block_size:
            raise ParseError("CBC data not a multiple of the block size")
        out = Cipher(algo, modes.CBC(self.iv)).decryptor().update(data)
        if commit and data:
            self.iv = data[-self.block_size :]
        return out

    def _advance_ctr(self, nbytes: int) -> None:
        bits = 8 * len(self.iv)
        ctr = (int.from_bytes(self.iv, "big") + nbytes // self.block_size) % (1 << bits)
        self.iv = ctr.to_bytes(len(self.iv), "big")

    # ------------------------------------------------------------------ seal

    def seal(self, plain_packet: bytes, seq: int) -> bytes:
        """Encrypt and authenticate ``packet_length || padding_length || payload || padding``
        (built by the caller, e.g. :class:`netsec_layers.layers.ssh.SSHBinaryPacket`)."""
        seq &= 0xFFFFFFFF
        kind = self.spec.kind
        if kind == "gcm":
            nonce = self.iv
            ct = AESGCM(self.enc_key).encrypt(nonce, plain_packet[4:], plain_packet[:4])
            inv = (int.from_bytes(nonce[4:], "big") + 1) & 0xFFFFFFFFFFFFFFFF
            self.iv = nonce[:4] + inv.to_bytes(8, "big")
            return plain_packet[:4] + ct
        if kind == "chacha":
            body = _chacha_block(self.enc_key[32:], seq, 0, plain_packet[:4])
            body += _chacha_block(self.enc_key[:32], seq, 1, plain_packet[4:])
            poly_key = _chacha_block(self.enc_key[:32], seq, 0, b"\x00" * 32)
            return body + poly1305.Poly1305.generate_tag(poly_key, body)
        if self.mac is not None and self.mac.etm:
            body = plain_packet[:4] + self._encrypt(plain_packet[4:])
            return body + self._mac(seq, body)
        tag = self._mac(seq, plain_packet) if self.mac is not None else b""
        return self._encrypt(plain_packet) + tag

    def _encrypt(self, data: bytes) -> bytes:
        kind = self.spec.kind
        if kind == "none":
            return data
        algo = _block_cipher(self.spec, self.enc_key)
        if kind == "ctr":
            out = Cipher(algo, modes.CTR(self.iv)).encryptor().update(data)
            self._advance_ctr(len(data))
            return out
        out = Cipher(algo, modes.CBC(self.iv)).encryptor().update(data)
        if out:
            self.iv = out[-self.block_size :]
        return out


def craft_packet(
    payload: bytes,
    cipher: SSHPacketCipher | None,
    seq: int,
    *,
    padding: bytes | None = None,
    break_mac: bool = False,
    wrong_length: int | None = None,
) -> bytes:
    """One binary packet (RFC 4253 §6) carrying ``payload``, sealed by ``cipher`` (``None``:
    in clear) with sequence number ``seq``.  ``padding`` (default: zeros, at least 4 bytes, to
    the block size) may be given as is, even if it breaks the rules; ``break_mac`` flips a bit
    of the MAC/tag; ``wrong_length`` writes that packet_length instead of the true one."""
    block = cipher.block_size if cipher else 8
    aad = cipher is not None and (cipher.length_in_clear or cipher.spec.kind == "chacha")
    if padding is None:
        n = -(len(payload) + 1 + (0 if aad else 4)) % block
        padding = bytes(n + (block if n < 4 else 0))
    body = bytes([len(padding) & 0xFF]) + payload + padding
    length = len(body) if wrong_length is None else wrong_length
    plain = (length & 0xFFFFFFFF).to_bytes(4, "big") + body
    if cipher is None:
        return plain
    wire = cipher.seal(plain, seq)
    if break_mac and cipher.mac_len:
        wire = wire[:-1] + bytes([wire[-1] ^ 0x01])
    return wire
