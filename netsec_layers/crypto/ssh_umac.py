"""UMAC (RFC 4418) with AES-128, as OpenSSH's umac-64@openssh.com / umac-128@openssh.com use it
(PROTOCOL: the 8-byte big-endian sequence number is the nonce; the MAC covers the packet only).

Pure Python on pyca's AES.  Layers: KDF (§3.2.1), PDF (§3.2.2), UHASH = L1 NH (§5.2) → L2 POLY
(§5.3) → L3 (§5.4).  NH reads message words little-endian and key words big-endian, as the
reference implementation does; checked against Nettle (through asyncssh) in the tests.
"""

from __future__ import annotations

import struct
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

P36 = (1 << 36) - 5
P64 = (1 << 64) - 59
P128 = (1 << 128) - 159
_M32 = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF


def _aes(key: bytes, block: bytes) -> bytes:
    out: bytes = Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(block)
    return out


def _kdf(key: bytes, index: int, size: int) -> bytes:
    """RFC 4418 §3.2.1: AES(K, index (8 bytes) || i (8 bytes)) for i = 1, 2, …"""
    out = b""
    i = 1
    while len(out) < size:
        out += _aes(key, index.to_bytes(8, "big") + i.to_bytes(8, "big"))
        i += 1
    return out[:size]


@lru_cache(maxsize=64)
def _keys(key: bytes, iters: int) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    """The derived keys of UHASH (§5.1) and of the PDF (§3.2.2), cached per key."""
    return (
        _kdf(key, 1, 1024 + (iters - 1) * 16),
        _kdf(key, 2, iters * 24),
        _kdf(key, 3, iters * 64),
        _kdf(key, 4, iters * 4),
        _kdf(key, 0, 16),
    )


def _nh(k: tuple[int, ...], m: bytes) -> int:
    """§5.2.2 NH over a multiple of 32 bytes (message words little-endian)."""
    w = struct.unpack(f"<{len(m) // 4}I", m)
    y = 0
    for i in range(0, len(w), 8):
        y += ((w[i] + k[i]) & _M32) * ((w[i + 4] + k[i + 4]) & _M32)
        y += ((w[i + 1] + k[i + 1]) & _M32) * ((w[i + 5] + k[i + 5]) & _M32)
        y += ((w[i + 2] + k[i + 2]) & _M32) * ((w[i + 6] + k[i + 6]) & _M32)
        y += ((w[i + 3] + k[i + 3]) & _M32) * ((w[i + 7] + k[i + 7]) & _M32)
    return y & _M64


def _l1(key: bytes, m: bytes) -> bytes:
    """§5.2.1: NH of each 1024-byte chunk (zero-padded to 32 bytes) plus its bit length."""
    kw = struct.unpack(f">{len(key) // 4}I", key)  # key words big-endian
    out = bytearray()
    chunks = [m[i : i + 1024] for i in range(0, len(m), 1024)] or [b""]
    for c in chunks:
        padded = c + bytes(-len(c) % 32 if c else 32)
        out += ((_nh(kw, padded) + 8 * len(c)) & _M64).to_bytes(8, "big")
    return bytes(out)


def _poly(wordbits: int, maxword: int, k: int, m: bytes) -> int:
    """§5.3.2 POLY."""
    wb = wordbits // 8
    p = P64 if wordbits == 64 else P128
    offset = (1 << wordbits) - p
    marker = p - 1
    y = 1
    for i in range(0, len(m), wb):
        x = int.from_bytes(m[i : i + wb], "big")
        if x >= maxword:
            y = (k * y + marker) % p
            y = (k * y + (x - offset)) % p
        else:
            y = (k * y + x) % p
    return y


def _l2(key: bytes, m: bytes) -> bytes:
    """§5.3.1: POLY-64, then POLY-128 past 2^14 L1 outputs (2^17 bytes; 16 MiB of message).

    The switch point is the one of the reference code and of Nettle (UMAC_POLY64_BLOCKS); SSH
    packets (at most 256 KiB) never reach it."""
    k64 = int.from_bytes(key[:8], "big") & 0x01FFFFFF01FFFFFF
    k128 = int.from_bytes(key[8:24], "big") & 0x01FFFFFF01FFFFFF01FFFFFF01FFFFFF
    if len(m) <= 1 << 17:
        y = _poly(64, (1 << 64) - (1 << 32), k64, m)
    else:
        rest = m[1 << 17 :] + b"\x80"
        rest += bytes(-len(rest) % 16)
        y = _poly(64, (1 << 64) - (1 << 32), k64, m[: 1 << 17])
        y = _poly(128, (1 << 128) - (1 << 96), k128, y.to_bytes(16, "big") + rest)
    return y.to_bytes(16, "big")


def _l3(k1: bytes, k2: bytes, m: bytes) -> bytes:
    """§5.4.1."""
    y = 0
    for i in range(8):
        y += int.from_bytes(m[2 * i : 2 * i + 2], "big") * (
            int.from_bytes(k1[8 * i : 8 * i + 8], "big") % P36
        )
    y = (y % P36) & _M32
    return (y ^ int.from_bytes(k2, "big")).to_bytes(4, "big")


def umac(key: bytes, message: bytes, nonce: bytes, tag_len: int) -> bytes:
    """UMAC-32/64/96/128 (``tag_len`` 4, 8, 12, 16) of ``message`` under a 16-byte AES key."""
    if len(key) != 16 or tag_len not in (4, 8, 12, 16) or not 1 <= len(nonce) <= 16:
        raise ValueError("UMAC needs a 16-byte key, a 1-16 byte nonce and a 4/8/12/16-byte tag")
    iters = tag_len // 4
    l1k, l2k, l31k, l32k, pdf_key = _keys(key, iters)
    tag = bytearray()
    for i in range(iters):
        a = _l1(l1k[i * 16 : i * 16 + 1024], message)
        b = bytes(8) + a if len(message) <= 1024 else _l2(l2k[i * 24 : (i + 1) * 24], a)
        tag += _l3(l31k[i * 64 : (i + 1) * 64], l32k[i * 4 : (i + 1) * 4], b)
    # §3.2.2 PDF: for 4/8-byte tags the nonce's low bits pick a slice of one AES block
    n = bytearray(nonce)
    index = 0
    if tag_len in (4, 8):
        index = int.from_bytes(n, "big") % (16 // tag_len)
        n[-1] ^= index
    pad = _aes(pdf_key, bytes(n) + bytes(16 - len(n)))
    pad = pad[index * tag_len : (index + 1) * tag_len] if tag_len in (4, 8) else pad[:tag_len]
    return bytes(x ^ y for x, y in zip(tag, pad, strict=True))
