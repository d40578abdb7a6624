"""OpenPGP wire format without Scapy: packet framing and the bodies the crypto needs.

Bytes in, dataclasses out; every malformed input raises :class:`ParseError` (or
:class:`TruncatedError`).  The Scapy layers in :mod:`netsec_layers.layers.openpgp` give the
field-by-field view; this module is what decryption, verification and key loading run on, so
signatures are checked over exactly the bytes that were signed (the raw body of each packet is
kept).  References are to RFC 9580.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

from netsec_layers.constants.openpgp import PubKeyAlgo
from netsec_layers.errors import ParseError, TruncatedError

MAX_PACKETS = 100_000


class Reader:
    """A cursor over bytes whose reads raise :class:`TruncatedError` past the end."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def left(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise TruncatedError(f"need {n} octets at offset {self.pos}, have {self.left()}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def rest(self) -> bytes:
        out = self.data[self.pos :]
        self.pos = len(self.data)
        return out

    def mpi(self) -> bytes:
        """A multiprecision integer (§3.2): 2-octet bit count, then the big-endian octets."""
        bits = self.u16()
        return self.take((bits + 7) // 8)

    def mpi_int(self) -> int:
        return int.from_bytes(self.mpi(), "big")

    def opaque8(self) -> bytes:
        return self.take(self.u8())


def encode_mpi(value: bytes | int) -> bytes:
    """MPI encoding of an integer or of big-endian octets (leading zeros stripped)."""
    if isinstance(value, int):
        value = value.to_bytes((value.bit_length() + 7) // 8, "big")
    value = value.lstrip(b"\x00")
    bits = (len(value) - 1) * 8 + value[0].bit_length() if value else 0
    return struct.pack(">H", bits) + value


# ---------------------------------------------------------------------------------------------
# framing (§4.2)


@dataclass
class RawPacket:
    """One packet: its type, its body (partial-length chunks joined) and where it was."""

    tag: int
    body: bytes
    offset: int
    new_format: bool
    partial: bool = False
    indeterminate: bool = False
    raw: bytes = b""


def _new_length(r: Reader) -> tuple[int, bool]:
    """(length, is_partial) of an OpenPGP-format length (§4.2.1)."""
    o1 = r.u8()
    if o1 < 192:
        return o1, False
    if o1 < 224:
        return ((o1 - 192) << 8) + r.u8() + 192, False
    if o1 == 255:
        return r.u32(), False
    return 1 << (o1 & 0x1F), True


def read_packets(data: bytes, *, max_packets: int = MAX_PACKETS) -> list[RawPacket]:
    """Split a binary OpenPGP packet sequence; raises ParseError on anything malformed."""
    r = Reader(data)
    out: list[RawPacket] = []
    while r.left():
        if len(out) >= max_packets:
            raise ParseError(f"more than {max_packets} packets")
        start = r.pos
        ctb = r.u8()
        if not ctb & 0x80:
            raise ParseError(f"offset {start}: octet 0x{ctb:02x} is not a packet header")
        if ctb & 0x40:
            tag = ctb & 0x3F
            length, partial = _new_length(r)
            if not partial:
                body = r.take(length)
                out.append(RawPacket(tag, body, start, True, raw=data[start : r.pos]))
                continue
            # §4.2.1.4: partial chunks, the last one has a normal length
            chunks = [r.take(length)]
            total = length
            while True:
                length, partial = _new_length(r)
                chunks.append(r.take(length))
                total += length
                if not partial:
                    break
            body = b"".join(chunks)
            out.append(RawPacket(tag, body, start, True, partial=True, raw=data[start : r.pos]))
        else:
            tag = (ctb >> 2) & 0x0F
            ltype = ctb & 3
            if ltype == 3:  # indeterminate: to the end of the data (§4.2.2)
                body = r.rest()
                out.append(RawPacket(tag, body, start, False, indeterminate=True, raw=data[start:]))
                continue
            length = int.from_bytes(r.take(1 << ltype), "big")
            body = r.take(length)
            out.append(RawPacket(tag, body, start, False, raw=data[start : r.pos]))
    return out


def frame_packet(tag: int, body: bytes, *, new_format: bool = True, partial: int = 0) -> bytes:
    """Header + body.  ``partial``: chunk size (power of two >= 512) to use partial lengths."""
    if not new_format:
        if tag > 15:
            raise ParseError(f"tag {tag} does not fit a legacy header")
        n = len(body)
        lt, size = (0, 1) if n < 256 else (1, 2) if n < 65536 else (2, 4)
        return bytes([0x80 | (tag << 2) | lt]) + n.to_bytes(size, "big") + body
    head = bytes([0xC0 | tag])
    if partial:
        power = partial.bit_length() - 1
        if partial != 1 << power or not 0 <= power <= 30:
            raise ParseError("partial chunk size must be a power of two")
        out = [head]
        pos = 0
        while len(body) - pos > partial:
            out.append(bytes([0xE0 | power]) + body[pos : pos + partial])
            pos += partial
        out.append(new_length(len(body) - pos) + body[pos:])
        return b"".join(out)
    return head + new_length(len(body)) + body


def new_length(n: int) -> bytes:
    """Shortest OpenPGP-format length encoding of ``n`` (§4.2.1)."""
    if n < 192:
        return bytes([n])
    if n < 8384:
        n -= 192
        return bytes([(n >> 8) + 192, n & 0xFF])
    return b"\xff" + struct.pack(">I", n)


# ---------------------------------------------------------------------------------------------
# keys (§5.5)


@dataclass
class PublicKey:
    """A public key or subkey packet body, parsed; ``body`` is the public part as hashed."""

    version: int
    created: int
    algo: int
    body: bytes
    material: dict[str, bytes] = field(default_factory=dict)
    expires_days: int = 0  # v3 only

    @property
    def fingerprint(self) -> bytes:
        return fingerprint(self.version, self.body)

    @property
    def key_id(self) -> bytes:
        if self.version == 6:
            return self.fingerprint[:8]
        if self.version < 4:
            return self.material.get("n", b"\x00" * 8)[-8:]
        return self.fingerprint[-8:]


def key_hash_prefix(version: int, body: bytes) -> bytes:
    """What precedes a key body when it is hashed (§5.2.4, §5.5.4)."""
    if version == 6:
        return b"\x9b" + struct.pack(">I", len(body))
    return b"\x99" + struct.pack(">H", len(body) & 0xFFFF)


def fingerprint(version: int, body: bytes) -> bytes:
    """v4: SHA-1, v6: SHA-256 over the prefixed body; v3: MD5 of n and e (§5.5.4)."""
    if version == 6:
        return hashlib.sha256(key_hash_prefix(6, body) + body).digest()
    if version == 4:
        return hashlib.sha1(key_hash_prefix(4, body) + body).digest()
    r = Reader(body, 8)
    n, e = r.mpi(), r.mpi()
    return hashlib.md5(n + e).digest()


_NATIVE_SIZES = {
    PubKeyAlgo.X25519: 32,
    PubKeyAlgo.X448: 56,
    PubKeyAlgo.ED25519: 32,
    PubKeyAlgo.ED448: 57,
}


def _public_material(r: Reader, algo: int) -> dict[str, bytes]:
    """Algorithm-specific public fields (§5.5.5)."""
    if algo in (PubKeyAlgo.RSA, PubKeyAlgo.RSA_ENCRYPT_ONLY, PubKeyAlgo.RSA_SIGN_ONLY):
        return {"n": r.mpi(), "e": r.mpi()}
    if algo == PubKeyAlgo.DSA:
        return {"p": r.mpi(), "q": r.mpi(), "g": r.mpi(), "y": r.mpi()}
    if algo in (PubKeyAlgo.ELGAMAL, PubKeyAlgo.ELGAMAL_SIGN):
        return {"p": r.mpi(), "g": r.mpi(), "y": r.mpi()}
    if algo in (PubKeyAlgo.ECDSA, PubKeyAlgo.EDDSA_LEGACY):
        oid = r.take(_oid_len(r))
        return {"oid": oid, "point": r.mpi()}
    if algo == PubKeyAlgo.ECDH:
        oid = r.take(_oid_len(r))
        point = r.mpi()
        kdf = r.opaque8()
        if len(kdf) != 3 or kdf[0] != 1:
            raise ParseError("ECDH KDF parameters malformed")
        return {"oid": oid, "point": point, "kdf": kdf}
    if algo in _NATIVE_SIZES:
        return {"key": r.take(_NATIVE_SIZES[PubKeyAlgo(algo)])}
    raise ParseError(f"unknown public-key algorithm {algo}")


def _oid_len(r: Reader) -> int:
    n = r.u8()
    if n in (0, 0xFF):
        raise ParseError("reserved curve OID length")
    return n


def parse_public_key(body: bytes) -> tuple[PublicKey, int]:
    """Parse the public part of a key packet; returns it and the offset where it ends."""
    r = Reader(body)
    version = r.u8()
    if version in (2, 3):
        created = r.u32()
        days = r.u16()
        algo = r.u8()
        mat = _public_material(r, algo)
        return PublicKey(version, created, algo, body[: r.pos], mat, days), r.pos
    if version not in (4, 6):
        raise ParseError(f"unsupported key version {version}")
    created = r.u32()
    algo = r.u8()
    if version == 6:
        size = r.u32()
        end = r.pos + size
        if end > len(body):
            raise TruncatedError("v6 key material length past the packet")
        sub = Reader(body[:end], r.pos)
        mat = _public_material(sub, algo)
        if sub.pos != end:
            raise ParseError("v6 key material length does not match its fields")
        r.pos = end
    else:
        mat = _public_material(r, algo)
    return PublicKey(version, created, algo, body[: r.pos], mat), r.pos


# ---------------------------------------------------------------------------------------------
# signatures (§5.2)


@dataclass
class Subpacket:
    type: int
    critical: bool
    data: bytes


@dataclass
class Signature:
    """A parsed signature; ``hashed_part`` is what the trailer hashes (§5.2.4)."""

    version: int
    sig_type: int
    pk_algo: int
    hash_algo: int
    hashed: list[Subpacket]
    unhashed: list[Subpacket]
    left16: bytes
    salt: bytes
    material: list[bytes]
    hashed_part: bytes
    created: int = 0
    v3_key_id: bytes = b""
    raw: bytes = b""

    def subpackets(self, kind: int, *, hashed_only: bool = False) -> list[Subpacket]:
        pool = self.hashed if hashed_only else self.hashed + self.unhashed
        return [s for s in pool if s.type == kind]

    @property
    def issuer_fingerprint(self) -> bytes | None:
        for s in self.subpackets(33):
            if len(s.data) in (21, 33):
                return s.data[1:]
        return None

    @property
    def issuer_key_id(self) -> bytes | None:
        if self.v3_key_id:
            return self.v3_key_id
        for s in self.subpackets(16):
            if len(s.data) == 8:
                return s.data
        fp = self.issuer_fingerprint
        if fp is not None:
            return fp[:8] if len(fp) == 32 else fp[-8:]
        return None


def parse_subpackets(data: bytes) -> list[Subpacket]:
    r = Reader(data)
    out: list[Subpacket] = []
    while r.left():
        length, partial = _new_length(r)
        if partial:  # 224..254 are not subpacket lengths (§5.2.3.7)
            raise ParseError("bad subpacket length")
        if length == 0:
            raise ParseError("zero-length subpacket")
        body = r.take(length)
        out.append(Subpacket(body[0] & 0x7F, bool(body[0] & 0x80), body[1:]))
    return out


def _sig_material(r: Reader, algo: int, version: int) -> list[bytes]:
    if algo in (PubKeyAlgo.RSA, PubKeyAlgo.RSA_SIGN_ONLY, PubKeyAlgo.RSA_ENCRYPT_ONLY):
        return [r.mpi()]
    if algo in (PubKeyAlgo.DSA, PubKeyAlgo.ECDSA, PubKeyAlgo.EDDSA_LEGACY, PubKeyAlgo.ELGAMAL_SIGN):
        return [r.mpi(), r.mpi()]
    if algo == PubKeyAlgo.ED25519:
        return [r.take(64)]
    if algo == PubKeyAlgo.ED448:
        return [r.take(114)]
    return [r.rest()]


def parse_signature(body: bytes) -> Signature:
    r = Reader(body)
    version = r.u8()
    if version in (2, 3):
        if r.u8() != 5:
            raise ParseError("v3 signature hashed length must be 5")
        hashed_part = r.take(5)
        key_id = r.take(8)
        algo, halgo = r.u8(), r.u8()
        left = r.take(2)
        mat = _sig_material(r, algo, version)
        return Signature(
            version,
            hashed_part[0],
            algo,
            halgo,
            [],
            [],
            left,
            b"",
            mat,
            hashed_part,
            created=int.from_bytes(hashed_part[1:], "big"),
            v3_key_id=key_id,
            raw=body,
        )
    if version not in (4, 5, 6):
        raise ParseError(f"unsupported signature version {version}")
    sig_type, algo, halgo = r.u8(), r.u8(), r.u8()
    hlen = r.u32() if version == 6 else r.u16()
    hashed = parse_subpackets(r.take(hlen))
    hashed_part = body[: r.pos]
    ulen = r.u32() if version == 6 else r.u16()
    unhashed = parse_subpackets(r.take(ulen))
    left = r.take(2)
    salt = r.opaque8() if version == 6 else b""
    mat = _sig_material(r, algo, version)
    sig = Signature(version, sig_type, algo, halgo, hashed, unhashed, left, salt, mat, hashed_part)
    sig.raw = body
    for s in hashed:
        if s.type == 2 and len(s.data) == 4:
            sig.created = int.from_bytes(s.data, "big")
    return sig


def parse_one_pass(body: bytes) -> dict[str, object]:
    """One-Pass Signature (§5.4): version 3 or 6."""
    r = Reader(body)
    version = r.u8()
    if version not in (3, 6):
        raise ParseError(f"unsupported one-pass signature version {version}")
    out: dict[str, object] = {
        "version": version,
        "sig_type": r.u8(),
        "hash_algo": r.u8(),
        "pk_algo": r.u8(),
    }
    if version == 6:
        out["salt"] = r.opaque8()
        out["fingerprint"] = r.take(32)
    else:
        out["key_id"] = r.take(8)
    out["nested"] = r.u8()
    return out


@dataclass
class Literal:
    format: int
    filename: bytes
    date: int
    data: bytes


def parse_literal(body: bytes) -> Literal:
    r = Reader(body)
    fmt = r.u8()
    name = r.opaque8()
    date = r.u32()
    return Literal(fmt, name, date, r.rest())
