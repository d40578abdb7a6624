"""Generating OpenPGP keys (RFC 9580 §5.5, §10.1-10.2): a signing primary key with a user ID and
an encryption subkey, self-signed, as a transferable secret key and a certificate (bytes).

Kinds: ``ed25519`` (v4: EdDSALegacy + ECDH Curve25519Legacy, what gpg 2.2 makes; v6: Ed25519 +
X25519), ``rsa`` (v4 or v6, RSA primary and subkey), ``p256`` (v4 ECDSA + ECDH NIST P-256).
With a passphrase the secrets are protected as RFC 9580 §3.7.2.1 recommends: v4 keys CFB with
the SHA-1 check under an iterated and salted S2K, v6 keys AEAD (OCB) under Argon2.
"""

from __future__ import annotations

import hashlib
import os
import struct
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x448, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from netsec_layers.constants.openpgp import (
    AEADAlgo,
    HashAlgo,
    PacketTag,
    PubKeyAlgo,
    S2KType,
    SymAlgo,
)
from netsec_layers.errors import UsageError

from .openpgp_craft import make_signature, subpacket
from .openpgp_sym import (
    S2K,
    _s2k_bytes,
    aead_seal,
    cfb_encrypt,
    derive_s2k,
    hkdf_sha256,
    key_size,
    nonce_size,
)
from .openpgp_wire import PublicKey, encode_mpi, frame_packet, key_hash_prefix, parse_public_key

_ED25519_OID = bytes.fromhex("2b06010401da470f01")
_CV25519_OID = bytes.fromhex("2b060104019755010501")
_P256_OID = bytes.fromhex("2a8648ce3d030107")


@dataclass
class GeneratedKey:
    secret: bytes  # transferable secret key (binary packets)
    public: bytes  # certificate (binary packets)
    fingerprint: str


@dataclass
class _Part:
    algo: int
    public: bytes  # algorithm-specific public octets
    secret: bytes  # algorithm-specific secret octets (MPIs or native)


def _rsa(bits: int) -> _Part:
    k = rsa.generate_private_key(65537, bits)
    n = k.private_numbers()
    p, q = n.p, n.q
    if p > q:  # OpenPGP's u is p^-1 mod q with p < q
        p, q = q, p
    u = pow(p, -1, q)
    pub = encode_mpi(n.public_numbers.n) + encode_mpi(n.public_numbers.e)
    return _Part(PubKeyAlgo.RSA, pub, b"".join(encode_mpi(x) for x in (n.d, p, q, u)))


def _parts(kind: str, version: int) -> tuple[_Part, _Part]:
    if kind == "rsa":
        return _rsa(2048), _rsa(2048)
    if kind == "p256":
        if version == 6:
            raise UsageError("p256 keys are generated as v4 here")
        sk = ec.generate_private_key(ec.SECP256R1())
        ek = ec.generate_private_key(ec.SECP256R1())

        def pt(k: ec.EllipticCurvePrivateKey) -> bytes:
            return encode_mpi(
                k.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
            )

        oid = bytes([len(_P256_OID)]) + _P256_OID
        sign = _Part(PubKeyAlgo.ECDSA, oid + pt(sk), encode_mpi(sk.private_numbers().private_value))
        kdf = bytes([3, 1, HashAlgo.SHA256, SymAlgo.AES128])
        enc = _Part(
            PubKeyAlgo.ECDH, oid + pt(ek) + kdf, encode_mpi(ek.private_numbers().private_value)
        )
        return sign, enc
    if kind == "ed448":
        if version != 6:
            raise UsageError("Ed448/X448 keys are v6 (RFC 9580 §5.5.5.8, §5.5.5.10)")
        s448 = ed448.Ed448PrivateKey.generate()
        e448 = x448.X448PrivateKey.generate()
        return (
            _Part(PubKeyAlgo.ED448, s448.public_key().public_bytes_raw(), s448.private_bytes_raw()),
            _Part(PubKeyAlgo.X448, e448.public_key().public_bytes_raw(), e448.private_bytes_raw()),
        )
    if kind != "ed25519":
        raise UsageError(f"unknown key kind {kind!r} (ed25519, ed448, rsa, p256)")
    s = ed25519.Ed25519PrivateKey.generate()
    e = x25519.X25519PrivateKey.generate()
    s_pub, s_sec = s.public_key().public_bytes_raw(), s.private_bytes_raw()
    e_pub, e_sec = e.public_key().public_bytes_raw(), e.private_bytes_raw()
    if version == 6:
        return _Part(PubKeyAlgo.ED25519, s_pub, s_sec), _Part(PubKeyAlgo.X25519, e_pub, e_sec)
    sign = _Part(
        PubKeyAlgo.EDDSA_LEGACY,
        bytes([len(_ED25519_OID)]) + _ED25519_OID + encode_mpi(b"\x40" + s_pub),
        encode_mpi(s_sec),
    )
    kdf = bytes([3, 1, HashAlgo.SHA256, SymAlgo.AES128])
    enc = _Part(
        PubKeyAlgo.ECDH,
        bytes([len(_CV25519_OID)]) + _CV25519_OID + encode_mpi(b"\x40" + e_pub) + kdf,
        encode_mpi(e_sec[::-1]),  # Curve25519Legacy secrets are stored big-endian (§5.5.5.6)
    )
    return sign, enc


def _public_body(version: int, created: int, part: _Part) -> bytes:
    head = bytes([version]) + struct.pack(">I", created) + bytes([part.algo])
    if version == 6:
        head += struct.pack(">I", len(part.public))
    return head + part.public


def _secret_body(
    version: int, tag: int, pub_body: bytes, part: _Part, passphrase: bytes | None
) -> bytes:
    if passphrase is None:
        if version == 6:
            return pub_body + b"\x00" + part.secret
        return pub_body + b"\x00" + part.secret + struct.pack(">H", sum(part.secret) & 0xFFFF)
    algo = SymAlgo.AES256
    if version == 6:  # AEAD (OCB) under Argon2 (t=1, p=4, 2^16 KiB)
        s2k = S2K(S2KType.ARGON2, 0, os.urandom(16), 0, 1, 4, 16)
        aead = AEADAlgo.OCB
        ikm = derive_s2k(s2k, passphrase, key_size(algo))
        kek = hkdf_sha256(ikm, bytes([0xC0 | tag, version, algo, aead]), key_size(algo))
        iv = os.urandom(nonce_size(aead))
        enc = aead_seal(algo, aead, kek, iv, part.secret, bytes([0xC0 | tag]) + pub_body)
        spec = _s2k_bytes(s2k)
        params = bytes([algo, aead, len(spec)]) + spec + iv
        return pub_body + bytes([253, len(params)]) + params + enc
    s2k = S2K(S2KType.ITERATED_SALTED, HashAlgo.SHA256, os.urandom(8), 0xE0)
    key = derive_s2k(s2k, passphrase, key_size(algo))
    iv = os.urandom(16)
    enc = cfb_encrypt(algo, key, iv, part.secret + hashlib.sha1(part.secret).digest())
    return pub_body + bytes([254, algo]) + _s2k_bytes(s2k) + iv + enc


def _secrets(part: _Part) -> dict[str, bytes]:
    """The secret material in the dict form :mod:`openpgp_pk` uses (for self-signing)."""
    from .openpgp_pk import _secret_material

    return _secret_material(part.secret, part.algo, exact=True)


def generate_key(
    user_id: str,
    *,
    kind: str = "ed25519",
    version: int = 4,
    passphrase: bytes | None = None,
    created: int | None = None,
) -> GeneratedKey:
    """A new key: signing primary (certify+sign) with ``user_id``, encryption subkey."""
    if version not in (4, 6):
        raise UsageError("key version must be 4 or 6")
    when = int(time.time()) - 60 if created is None else created
    sign, enc = _parts(kind, version)
    p_body = _public_body(version, when, sign)
    s_body = _public_body(version, when, enc)
    primary: PublicKey = parse_public_key(p_body)[0]
    parse_public_key(s_body)  # the subkey body must parse
    psec = _secrets(sign)
    uid = user_id.encode()
    prefs = (
        subpacket(11, bytes([SymAlgo.AES256, SymAlgo.AES128]))
        + subpacket(21, bytes([HashAlgo.SHA512, HashAlgo.SHA256]))
        + subpacket(22, bytes([2, 1, 0]))
        + subpacket(30, bytes([0x09 if version == 6 else 0x01]))  # SEIPD v1 (+ v2)
    )
    if version == 6:
        prefs += subpacket(39, bytes([SymAlgo.AES256, AEADAlgo.OCB, SymAlgo.AES128, AEADAlgo.OCB]))
    flags_primary = subpacket(27, b"\x03", critical=version == 6)
    key_data = key_hash_prefix(version, p_body) + p_body
    uid_data = key_data + b"\xb4" + struct.pack(">I", len(uid)) + uid
    sigs_primary: list[bytes] = []
    if version == 6:  # v6: preferences live on a direct key signature (§10.1.1)
        sigs_primary.append(
            make_signature(
                primary,
                psec,
                key_data,
                sig_type=0x1F,
                created=when,
                extra_hashed=flags_primary + prefs,
            )
        )
        uid_sig = make_signature(primary, psec, uid_data, sig_type=0x13, created=when)
    else:
        uid_sig = make_signature(
            primary, psec, uid_data, sig_type=0x13, created=when, extra_hashed=flags_primary + prefs
        )
    bind = make_signature(
        primary,
        psec,
        key_data + key_hash_prefix(version, s_body) + s_body,
        sig_type=0x18,
        created=when,
        extra_hashed=subpacket(27, b"\x0c", critical=version == 6),
    )

    def assemble(public: bool) -> bytes:
        pk = PacketTag.PUBLIC_KEY if public else PacketTag.SECRET_KEY
        sk = PacketTag.PUBLIC_SUBKEY if public else PacketTag.SECRET_SUBKEY
        first = p_body if public else _secret_body(version, pk, p_body, sign, passphrase)
        second = s_body if public else _secret_body(version, sk, s_body, enc, passphrase)
        out = [frame_packet(pk, first)]
        out += [frame_packet(PacketTag.SIGNATURE, s) for s in sigs_primary]
        out += [frame_packet(PacketTag.USER_ID, uid), frame_packet(PacketTag.SIGNATURE, uid_sig)]
        out += [frame_packet(sk, second), frame_packet(PacketTag.SIGNATURE, bind)]
        return b"".join(out)

    return GeneratedKey(assemble(False), assemble(True), primary.fingerprint.hex().upper())
