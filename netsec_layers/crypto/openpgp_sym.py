"""OpenPGP symmetric cryptography on pyca: S2K, CFB, SEIPD v1 (MDC), SEIPD v2 (AEAD), SKESK.

Decryption authenticates before returning anything: a failed MDC, quick check or AEAD tag raises
:class:`IntegrityError` and no plaintext leaves this module.  References are to RFC 9580.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.decrepit.ciphers import algorithms as old_algorithms
from cryptography.hazmat.decrepit.ciphers import modes as old_modes
from cryptography.hazmat.primitives import cmac, hashes
from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESOCB3
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from netsec_layers.constants.openpgp import (
    AEAD_NONCE_SIZE,
    SYM_BLOCK_SIZE,
    SYM_KEY_SIZE,
    AEADAlgo,
    HashAlgo,
    S2KType,
    SymAlgo,
)
from netsec_layers.errors import (
    IntegrityError,
    KeyUnavailableError,
    ParseError,
    UnsupportedAlgorithmError,
    UsageError,
)

from .openpgp_wire import Reader

MAX_ARGON2_KIB = 1 << 21  # 2 GiB (RFC 9580 A.12 uses it): the most an Argon2 S2K may ask
MAX_S2K_COUNT = 65011712

_HASHES = {
    HashAlgo.MD5: "md5",
    HashAlgo.SHA1: "sha1",
    HashAlgo.RIPEMD160: "ripemd160",
    HashAlgo.SHA256: "sha256",
    HashAlgo.SHA384: "sha384",
    HashAlgo.SHA512: "sha512",
    HashAlgo.SHA224: "sha224",
    HashAlgo.SHA3_256: "sha3_256",
    HashAlgo.SHA3_512: "sha3_512",
}


def hash_new(algo: int) -> hashlib._Hash:
    """A hashlib object for an OpenPGP hash algorithm ID."""
    try:
        return hashlib.new(_HASHES[HashAlgo(algo)])
    except (KeyError, ValueError):
        raise UnsupportedAlgorithmError(f"hash algorithm {algo} not supported") from None


def key_size(algo: int) -> int:
    try:
        return SYM_KEY_SIZE[SymAlgo(algo)]
    except (KeyError, ValueError):
        raise UnsupportedAlgorithmError(f"symmetric algorithm {algo} not supported") from None


def block_size(algo: int) -> int:
    key_size(algo)
    return SYM_BLOCK_SIZE.get(SymAlgo(algo), 16)


def block_cipher(algo: int, key: bytes) -> BlockCipherAlgorithm:
    """The pyca algorithm object (Twofish is not in pyca: CFB only, see openpgp_twofish)."""
    if len(key) != key_size(algo):
        raise UsageError(f"{SymAlgo(algo).name} needs a {key_size(algo)}-octet key")
    a = SymAlgo(algo)
    if a in (SymAlgo.AES128, SymAlgo.AES192, SymAlgo.AES256):
        return algorithms.AES(key)
    if a in (SymAlgo.CAMELLIA128, SymAlgo.CAMELLIA192, SymAlgo.CAMELLIA256):
        return old_algorithms.Camellia(key)
    if a == SymAlgo.CAST5:
        return old_algorithms.CAST5(key)
    if a == SymAlgo.BLOWFISH:
        return old_algorithms.Blowfish(key)
    if a == SymAlgo.IDEA:
        return old_algorithms.IDEA(key)
    if a == SymAlgo.TRIPLEDES:
        return old_algorithms.TripleDES(key)
    raise UnsupportedAlgorithmError(f"symmetric algorithm {a.name} not supported")


def cfb_decrypt(algo: int, key: bytes, iv: bytes, data: bytes) -> bytes:
    """Plain CFB (no OpenPGP resync): SEIPD v1 with a zero IV and secret-key protection."""
    if algo == SymAlgo.TWOFISH:  # not in pyca: our own (openpgp_twofish)
        return _twofish_cfb(key, iv, data, decrypt=True)
    d = Cipher(block_cipher(algo, key), old_modes.CFB(iv)).decryptor()
    return d.update(data) + d.finalize()


def cfb_encrypt(algo: int, key: bytes, iv: bytes, data: bytes) -> bytes:
    if algo == SymAlgo.TWOFISH:
        return _twofish_cfb(key, iv, data, decrypt=False)
    e = Cipher(block_cipher(algo, key), old_modes.CFB(iv)).encryptor()
    return e.update(data) + e.finalize()


def _twofish_cfb(key: bytes, iv: bytes, data: bytes, *, decrypt: bool) -> bytes:
    from .openpgp_twofish import cfb

    if len(key) != key_size(SymAlgo.TWOFISH):
        raise UsageError("TWOFISH needs a 32-octet key")
    return cfb(key, iv, data, decrypt=decrypt)


# ---------------------------------------------------------------------------------------------
# S2K (§3.7)


@dataclass
class S2K:
    type: int
    hash_algo: int = HashAlgo.SHA256
    salt: bytes = b""
    count: int = 0  # coded count octet for type 3
    t: int = 0  # Argon2 passes
    p: int = 0  # Argon2 lanes
    m: int = 0  # Argon2 log2 of memory in KiB
    raw: bytes = b""


def parse_s2k(r: Reader) -> S2K:
    start = r.pos
    kind = r.u8()
    if kind == S2KType.SIMPLE:
        s = S2K(kind, r.u8())
    elif kind == S2KType.SALTED:
        s = S2K(kind, r.u8(), r.take(8))
    elif kind == S2KType.ITERATED_SALTED:
        s = S2K(kind, r.u8(), r.take(8), r.u8())
    elif kind == S2KType.ARGON2:
        s = S2K(kind, 0, r.take(16), 0, r.u8(), r.u8(), r.u8())
    elif kind == S2KType.GNU_DUMMY:
        s = S2K(kind, r.u8())
        if r.take(3) != b"GNU":
            raise ParseError("GNU S2K extension without 'GNU' marker")
        mode = r.u8()
        if mode == 2:  # smartcard stub: serial number follows
            r.take(r.u8())
    else:
        raise ParseError(f"unknown S2K type {kind}")
    s.raw = r.data[start : r.pos]
    return s


def iteration_count(coded: int) -> int:
    return (16 + (coded & 15)) << ((coded >> 4) + 6)


def derive_s2k(s2k: S2K, passphrase: bytes, size: int) -> bytes:
    """The key ``size`` octets long that ``passphrase`` gives under ``s2k`` (§3.7.1)."""
    if s2k.type == S2KType.ARGON2:
        if not (1 <= s2k.p and 1 <= s2k.t and 3 + (s2k.p - 1).bit_length() <= s2k.m <= 31):
            raise ParseError("Argon2 parameters out of range")
        if (1 << s2k.m) > MAX_ARGON2_KIB:
            raise UsageError(f"Argon2 asks for 2^{s2k.m} KiB of memory, more than allowed")
        from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

        kdf = Argon2id(
            salt=s2k.salt,
            length=size,
            iterations=s2k.t,
            lanes=s2k.p,
            memory_cost=1 << s2k.m,
        )
        return kdf.derive(passphrase)
    if s2k.type == S2KType.GNU_DUMMY:
        raise KeyUnavailableError("secret key material is not present (GnuPG stub)")
    if s2k.type == S2KType.SIMPLE:
        data = passphrase
        total = len(data)
    elif s2k.type == S2KType.SALTED:
        data = s2k.salt + passphrase
        total = len(data)
    elif s2k.type == S2KType.ITERATED_SALTED:
        data = s2k.salt + passphrase
        total = max(iteration_count(s2k.count), len(data))
    else:
        raise UnsupportedAlgorithmError(f"S2K type {s2k.type}")
    out = b""
    preload = 0
    while len(out) < size:
        h = hash_new(s2k.hash_algo)
        h.update(b"\x00" * preload)  # each further context is preloaded with one more zero
        if data:
            block = data * (65536 // len(data) + 1)  # a whole number of repetitions
            left = total
            while left >= len(block):
                h.update(block)
                left -= len(block)
            h.update(block[:left])
        out += h.digest()
        preload += 1
    return out[:size]


# ---------------------------------------------------------------------------------------------
# AEAD (§5.13.3-5)


def _eax(key: bytes, algo: int, nonce: bytes, data: bytes, ad: bytes, *, seal: bool) -> bytes:
    """EAX (Bellare-Rogaway-Wagner) on a 16-octet block cipher: CTR + OMAC (CMAC)."""
    alg = block_cipher(algo, key)

    def omac(t: int, msg: bytes) -> bytes:
        c = cmac.CMAC(block_cipher(algo, key))
        c.update(t.to_bytes(16, "big") + msg)
        return c.finalize()

    n = omac(0, nonce)
    h = omac(1, ad)
    if seal:
        enc = Cipher(alg, modes.CTR(n)).encryptor()
        ct = enc.update(data) + enc.finalize()
        c = omac(2, ct)
        tag = bytes(a ^ b ^ d for a, b, d in zip(n, h, c, strict=True))
        return ct + tag
    if len(data) < 16:
        raise IntegrityError("EAX ciphertext shorter than its tag")
    ct, tag = data[:-16], data[-16:]
    c = omac(2, ct)
    want = bytes(a ^ b ^ d for a, b, d in zip(n, h, c, strict=True))
    if not hmac.compare_digest(want, tag):
        raise IntegrityError("AEAD (EAX) tag mismatch")
    dec = Cipher(alg, modes.CTR(n)).decryptor()
    return dec.update(ct) + dec.finalize()


def aead_open(algo: int, aead: int, key: bytes, nonce: bytes, data: bytes, ad: bytes) -> bytes:
    """Decrypt and authenticate ``data`` (ciphertext || 16-octet tag)."""
    return _aead(algo, aead, key, nonce, data, ad, seal=False)


def aead_seal(algo: int, aead: int, key: bytes, nonce: bytes, data: bytes, ad: bytes) -> bytes:
    return _aead(algo, aead, key, nonce, data, ad, seal=True)


def _aead(
    algo: int, aead: int, key: bytes, nonce: bytes, data: bytes, ad: bytes, *, seal: bool
) -> bytes:
    if block_size(algo) != 16:
        raise UnsupportedAlgorithmError("AEAD needs a 16-octet block cipher")
    if aead == AEADAlgo.EAX:
        return _eax(key, algo, nonce, data, ad, seal=seal)
    if algo not in (SymAlgo.AES128, SymAlgo.AES192, SymAlgo.AES256):
        raise UnsupportedAlgorithmError(f"AEAD mode {aead} only with AES here")
    cipher: AESOCB3 | AESGCM
    if aead == AEADAlgo.OCB:
        cipher = AESOCB3(key)
    elif aead == AEADAlgo.GCM:
        cipher = AESGCM(key)
    else:
        raise UnsupportedAlgorithmError(f"AEAD algorithm {aead} not supported")
    if seal:
        return cipher.encrypt(nonce, data, ad)
    try:
        return cipher.decrypt(nonce, data, ad)
    except InvalidTag:
        raise IntegrityError(f"AEAD ({AEADAlgo(aead).name}) tag mismatch") from None


def nonce_size(aead: int) -> int:
    try:
        return AEAD_NONCE_SIZE[AEADAlgo(aead)]
    except (KeyError, ValueError):
        raise UnsupportedAlgorithmError(f"AEAD algorithm {aead} not supported") from None


def hkdf_sha256(ikm: bytes, info: bytes, length: int, salt: bytes | None = None) -> bytes:
    return HKDF(hashes.SHA256(), length, salt, info).derive(ikm)


# ---------------------------------------------------------------------------------------------
# SEIPD v1 (§5.13.1)


def seipd1_decrypt(algo: int, key: bytes, body: bytes) -> bytes:
    """Body of a v1 SEIPD (after the version octet) -> the inner packets, MDC verified."""
    bs = block_size(algo)
    if len(body) < bs + 2 + 22:
        raise IntegrityError("SEIPD v1 too short for prefix and MDC")
    pt = cfb_decrypt(algo, key, b"\x00" * bs, body)
    if pt[bs - 2 : bs] != pt[bs : bs + 2]:
        raise IntegrityError("SEIPD v1 quick check failed (wrong session key?)")
    mdc = hashlib.sha1(pt[:-20]).digest()
    if pt[-22:-20] != b"\xd3\x14" or not hmac.compare_digest(mdc, pt[-20:]):
        raise IntegrityError("SEIPD v1 MDC mismatch")
    return pt[bs + 2 : -22]


def seipd1_encrypt(algo: int, key: bytes, inner: bytes, *, break_mdc: bool = False) -> bytes:
    """The body of a v1 SEIPD packet (version octet included) carrying ``inner``."""
    bs = block_size(algo)
    prefix = os.urandom(bs)
    prefix += prefix[-2:]
    pt = prefix + inner + b"\xd3\x14"
    mdc = hashlib.sha1(pt).digest()
    if break_mdc:
        mdc = bytes([mdc[0] ^ 1]) + mdc[1:]
    return b"\x01" + cfb_encrypt(algo, key, b"\x00" * bs, pt + mdc)


# ---------------------------------------------------------------------------------------------
# SEIPD v2 (§5.13.2)

MAX_CHUNK_POWER = 16  # chunk sizes up to 2^22 octets (§5.13.2)


def seipd2_decrypt(key: bytes, body: bytes) -> bytes:
    """Body of a v2 SEIPD (version octet included) -> the inner packets, every tag verified."""
    r = Reader(body)
    version, algo, aead, csize = r.u8(), r.u8(), r.u8(), r.u8()
    if version != 2:
        raise ParseError(f"SEIPD version {version} is not 2")
    if csize > MAX_CHUNK_POWER:
        raise ParseError(f"SEIPD v2 chunk size octet {csize} too large")
    salt = r.take(32)
    data = r.rest()
    ks, ns = key_size(algo), nonce_size(aead)
    if len(key) != ks:
        raise IntegrityError("session key length does not fit the SEIPD v2 cipher")
    info = bytes([0xD2, version, algo, aead, csize])
    derived = hkdf_sha256(key, info, ks + ns - 8, salt)
    mkey, iv = derived[:ks], derived[ks:]
    chunk = 1 << (csize + 6)
    if len(data) < 16:
        raise IntegrityError("SEIPD v2 without final tag")
    data, final = data[:-16], data[-16:]
    out: list[bytes] = []
    idx = pos = total = 0
    while pos < len(data):
        piece = data[pos : pos + chunk + 16]
        pos += len(piece)
        pt = aead_open(algo, aead, mkey, iv + struct.pack(">Q", idx), piece, info)
        out.append(pt)
        total += len(pt)
        idx += 1
    aead_open(algo, aead, mkey, iv + struct.pack(">Q", idx), final, info + struct.pack(">Q", total))
    return b"".join(out)


def seipd2_encrypt(
    algo: int,
    aead: int,
    key: bytes,
    inner: bytes,
    *,
    chunk_power: int = 6,
    salt: bytes | None = None,
    break_tag: bool = False,
) -> bytes:
    """The body of a v2 SEIPD packet carrying ``inner``."""
    ks, ns = key_size(algo), nonce_size(aead)
    salt = salt if salt is not None else os.urandom(32)
    info = bytes([0xD2, 2, algo, aead, chunk_power])
    derived = hkdf_sha256(key, info, ks + ns - 8, salt)
    mkey, iv = derived[:ks], derived[ks:]
    chunk = 1 << (chunk_power + 6)
    out = [info[1:], salt]
    idx = 0
    for pos in range(0, len(inner), chunk):
        out.append(
            aead_seal(algo, aead, mkey, iv + struct.pack(">Q", idx), inner[pos : pos + chunk], info)
        )
        idx += 1
    final = aead_seal(
        algo, aead, mkey, iv + struct.pack(">Q", idx), b"", info + struct.pack(">Q", len(inner))
    )
    if break_tag:
        final = bytes([final[0] ^ 1]) + final[1:]
    out.append(final)
    return b"".join(out)


def ocb_packet_decrypt(key: bytes, body: bytes) -> bytes:
    """GnuPG's AEAD Encrypted Data packet (tag 20, rfc4880bis-10 §5.16), every tag verified.

    Unlike SEIPD v2 the session key is used as is, the nonce is the IV with the chunk index
    XORed into its last 8 octets, and the chunk index is part of the additional data.
    """
    r = Reader(body)
    version, algo, aead, csize = r.u8(), r.u8(), r.u8(), r.u8()
    if version != 1:
        raise ParseError(f"AEAD encrypted data version {version} is not 1")
    if csize > MAX_CHUNK_POWER:
        raise ParseError(f"AEAD chunk size octet {csize} too large")
    iv = r.take(nonce_size(aead))
    data = r.rest()
    if len(key) != key_size(algo):
        raise IntegrityError("session key length does not fit the AEAD packet's cipher")
    prefix = bytes([0xD4, version, algo, aead, csize])
    chunk = 1 << (csize + 6)

    def nonce(i: int) -> bytes:
        tail = int.from_bytes(iv[-8:], "big") ^ i
        return iv[:-8] + tail.to_bytes(8, "big")

    if len(data) < 16:
        raise IntegrityError("AEAD encrypted data without final tag")
    data, final = data[:-16], data[-16:]
    out: list[bytes] = []
    idx = pos = total = 0
    while pos < len(data):
        piece = data[pos : pos + chunk + 16]
        pos += len(piece)
        pt = aead_open(algo, aead, key, nonce(idx), piece, prefix + struct.pack(">Q", idx))
        out.append(pt)
        total += len(pt)
        idx += 1
    aead_open(algo, aead, key, nonce(idx), final, prefix + struct.pack(">QQ", idx, total))
    return b"".join(out)


# ---------------------------------------------------------------------------------------------
# SKESK (§5.3)


@dataclass
class SessionKey:
    """A session key; ``algo`` is None for v6 ESKs (the SEIPD v2 packet names the cipher)."""

    algo: int | None
    key: bytes

    def __str__(self) -> str:
        """``ALGO:HEX`` as ``gpg --show-session-key`` prints it."""
        return f"{self.algo if self.algo is not None else ''}:{self.key.hex().upper()}"


def skesk_decrypt(body: bytes, passphrase: bytes) -> SessionKey:
    """Session key from a v4, v5 (GnuPG) or v6 SKESK body; wrong passphrases fail the AEAD
    tag (v5, v6) or the session-key checks and then the SEIPD checks (v4)."""
    r = Reader(body)
    version = r.u8()
    if version == 4:
        algo = r.u8()
        s2k = parse_s2k(r)
        esk = r.rest()
        derived = derive_s2k(s2k, passphrase, key_size(algo))
        if not esk:
            return SessionKey(algo, derived)
        pt = cfb_decrypt(algo, derived, b"\x00" * block_size(algo), esk)
        inner_algo = pt[0]
        try:
            size = key_size(inner_algo)
        except UnsupportedAlgorithmError:
            raise IntegrityError("SKESK v4: wrong passphrase (bad session-key algorithm)") from None
        if len(pt) != 1 + size:
            raise IntegrityError("SKESK v4: wrong passphrase (bad session-key length)")
        return SessionKey(inner_algo, pt[1:])
    if version == 5:  # rfc4880bis-10 §5.3 (GnuPG 2.3+): the S2K output is the AEAD key
        algo, aead = r.u8(), r.u8()
        s2k = parse_s2k(r)
        nonce = r.take(nonce_size(aead))
        esk = r.rest()
        kek = derive_s2k(s2k, passphrase, key_size(algo))
        ad = bytes([0xC3, 5, algo, aead])
        return SessionKey(None, aead_open(algo, aead, kek, nonce, esk, ad))
    if version == 6:
        r.u8()  # count of the following fields up to the nonce
        algo, aead = r.u8(), r.u8()
        s2k_len = r.u8()
        s2k = parse_s2k(Reader(r.take(s2k_len)))
        nonce = r.take(nonce_size(aead))
        esk = r.rest()
        ikm = derive_s2k(s2k, passphrase, key_size(algo))
        info = bytes([0xC3, 6, algo, aead])
        kek = hkdf_sha256(ikm, info, key_size(algo))
        return SessionKey(None, aead_open(algo, aead, kek, nonce, esk, info))
    raise ParseError(f"unsupported SKESK version {version}")


def skesk_encrypt(
    passphrase: bytes,
    session: SessionKey,
    *,
    version: int = 4,
    algo: int = SymAlgo.AES256,
    aead: int = AEADAlgo.OCB,
    s2k: S2K | None = None,
) -> bytes:
    """A SKESK body (v4 with an encrypted session key, or v6) protecting ``session``."""
    s2k = s2k or S2K(S2KType.ITERATED_SALTED, HashAlgo.SHA256, os.urandom(8), 0xE0)
    spec = _s2k_bytes(s2k)
    derived = derive_s2k(s2k, passphrase, key_size(algo))
    if version == 4:
        if session.algo is None:
            raise UsageError("a v4 SKESK needs the session key's algorithm")
        esk = cfb_encrypt(
            algo, derived, b"\x00" * block_size(algo), bytes([session.algo]) + session.key
        )
        return bytes([4, algo]) + spec + esk
    nonce = os.urandom(nonce_size(aead))
    info = bytes([0xC3, 6, algo, aead])
    kek = hkdf_sha256(derived, info, key_size(algo))
    esk = aead_seal(algo, aead, kek, nonce, session.key, info)
    head = bytes([algo, aead, len(spec)]) + spec + nonce
    return bytes([6, len(head)]) + head + esk


def _s2k_bytes(s: S2K) -> bytes:
    if s.type == S2KType.ARGON2:
        return bytes([4]) + s.salt + bytes([s.t, s.p, s.m])
    if s.type == S2KType.ITERATED_SALTED:
        return bytes([3, s.hash_algo]) + s.salt + bytes([s.count])
    if s.type == S2KType.SALTED:
        return bytes([1, s.hash_algo]) + s.salt
    return bytes([0, s.hash_algo])
