"""Building OpenPGP packets: encrypted session keys and signatures (RFC 9580), bytes out.

The counterpart of :mod:`netsec_layers.crypto.openpgp_pk`: PKESK v3/v6 for RSA, ElGamal, ECDH
(RFC 6637 KDF + AES key wrap) and X25519; signatures v4/v6 with RSA, DSA, ECDSA, EdDSALegacy and
Ed25519.  Every function takes the parsed key (:class:`PublicKey` + secret material).
"""

from __future__ import annotations

import os
import struct
import time

from cryptography.hazmat.primitives import hashes, keywrap
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, x448, x25519
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from netsec_layers.constants.openpgp import CURVE_OIDS, HashAlgo, PubKeyAlgo
from netsec_layers.errors import UnsupportedAlgorithmError, UsageError

from .openpgp_pk import _PYCA_HASH, _curve, _ecdh_param, _int, ecdh_kdf, rsa_private, rsa_public
from .openpgp_sym import SessionKey, hash_new, hkdf_sha256, key_size
from .openpgp_wire import PublicKey, Signature, encode_mpi, new_length, parse_signature

ENCRYPTING = (
    PubKeyAlgo.X448,
    PubKeyAlgo.RSA,
    PubKeyAlgo.RSA_ENCRYPT_ONLY,
    PubKeyAlgo.ELGAMAL,
    PubKeyAlgo.ECDH,
    PubKeyAlgo.X25519,
)
SIGNING = (
    PubKeyAlgo.ED448,
    PubKeyAlgo.RSA,
    PubKeyAlgo.RSA_SIGN_ONLY,
    PubKeyAlgo.DSA,
    PubKeyAlgo.ECDSA,
    PubKeyAlgo.EDDSA_LEGACY,
    PubKeyAlgo.ED25519,
)


# RFC 9580 §9.5: the v6 signature salt size is fixed by the hash algorithm
V6_SALT_SIZE: dict[int, int] = {
    HashAlgo.SHA256: 16,
    HashAlgo.SHA384: 24,
    HashAlgo.SHA512: 32,
    HashAlgo.SHA224: 16,
    HashAlgo.SHA3_256: 16,
    HashAlgo.SHA3_512: 32,
}


def _checksum(key: bytes) -> bytes:
    return struct.pack(">H", sum(key) & 0xFFFF)


def pkesk_encrypt(pub: PublicKey, session: SessionKey, *, version: int = 3) -> bytes:
    """A PKESK body (v3 or v6) giving ``session`` to the holder of ``pub``."""
    if version == 3:
        if session.algo is None:
            raise UsageError("a v3 PKESK needs the session key's algorithm")
        head = bytes([3]) + pub.key_id
        plain = bytes([session.algo]) + session.key + _checksum(session.key)
    else:
        fpr = pub.fingerprint
        head = bytes([6, len(fpr) + 1, pub.version]) + fpr
        plain = session.key + _checksum(session.key)
    algo = pub.algo
    head += bytes([algo])
    if algo in (PubKeyAlgo.RSA, PubKeyAlgo.RSA_ENCRYPT_ONLY):
        return head + encode_mpi(rsa_public(pub).encrypt(plain, padding.PKCS1v15()))
    if algo == PubKeyAlgo.ELGAMAL:
        p, g, y = (_int(pub.material[k]) for k in ("p", "g", "y"))
        size = (p.bit_length() + 7) // 8
        ps = b""
        while len(ps) < size - 3 - len(plain):
            ps += bytes(b for b in os.urandom(size) if b)
        em = b"\x00\x02" + ps[: size - 3 - len(plain)] + b"\x00" + plain
        k = int.from_bytes(os.urandom(size), "big") % (p - 2) + 1
        a, b = pow(g, k, p), (int.from_bytes(em, "big") * pow(y, k, p)) % p
        return head + encode_mpi(a) + encode_mpi(b)
    if algo == PubKeyAlgo.ECDH:
        oid, point, kdf = pub.material["oid"], pub.material["point"], pub.material["kdf"]
        if CURVE_OIDS.get(oid) == "Curve25519Legacy":
            eph = x25519.X25519PrivateKey.generate()
            z = eph.exchange(x25519.X25519PublicKey.from_public_bytes(point[1:]))
            eph_point = b"\x40" + eph.public_key().public_bytes_raw()
        else:
            curve = _curve(oid)
            eph_ec = ec.generate_private_key(curve)
            z = eph_ec.exchange(
                ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
            )
            from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

            eph_point = eph_ec.public_key().public_bytes(
                Encoding.X962, PublicFormat.UncompressedPoint
            )
        kek = ecdh_kdf(kdf[1], z, _ecdh_param(pub), key_size(kdf[2]))
        pad = 8 - len(plain) % 8
        wrapped = keywrap.aes_key_wrap(kek, plain + bytes([pad]) * pad)
        return head + encode_mpi(eph_point) + bytes([len(wrapped)]) + wrapped
    if algo == PubKeyAlgo.X25519:
        eph = x25519.X25519PrivateKey.generate()
        eph_pub = eph.public_key().public_bytes_raw()
        shared = eph.exchange(x25519.X25519PublicKey.from_public_bytes(pub.material["key"]))
        kek = hkdf_sha256(eph_pub + pub.material["key"] + shared, b"OpenPGP X25519", 16)
        wrapped = keywrap.aes_key_wrap(kek, session.key)
        if version == 3:
            assert session.algo is not None
            return head + eph_pub + bytes([len(wrapped) + 1, session.algo]) + wrapped
        return head + eph_pub + bytes([len(wrapped)]) + wrapped
    if algo == PubKeyAlgo.X448:
        eph448 = x448.X448PrivateKey.generate()
        eph_pub = eph448.public_key().public_bytes_raw()
        shared = eph448.exchange(x448.X448PublicKey.from_public_bytes(pub.material["key"]))
        kek = HKDF(hashes.SHA512(), 32, None, b"OpenPGP X448").derive(
            eph_pub + pub.material["key"] + shared
        )
        wrapped = keywrap.aes_key_wrap(kek, session.key)
        if version == 3:
            assert session.algo is not None
            return head + eph_pub + bytes([len(wrapped) + 1, session.algo]) + wrapped
        return head + eph_pub + bytes([len(wrapped)]) + wrapped
    raise UnsupportedAlgorithmError(f"cannot encrypt to algorithm {algo}")


def subpacket(kind: int, data: bytes, *, critical: bool = False) -> bytes:
    return new_length(len(data) + 1) + bytes([kind | (0x80 if critical else 0)]) + data


def make_signature(
    pub: PublicKey,
    sec: dict[str, bytes],
    data: bytes,
    *,
    sig_type: int = 0,
    hash_algo: int | None = None,
    created: int | None = None,
    break_sig: bool = False,
    extra_hashed: bytes = b"",
    issuer_fingerprint: bool = True,
) -> bytes:
    """A v4 (v4 key) or v6 (v6 key) signature body by ``pub`` over ``data`` (already
    canonicalised for text signatures); ``extra_hashed``: more encoded hashed subpackets."""
    version = 6 if pub.version == 6 else 4
    if hash_algo is None:
        hash_algo = _hash_for(pub)
    when = int(time.time()) if created is None else created
    fpr = pub.fingerprint
    hashed = subpacket(2, struct.pack(">I", when))
    if issuer_fingerprint:  # without it only the unhashed issuer key ID names the signer (v4)
        hashed += subpacket(33, bytes([pub.version]) + fpr)
    hashed += extra_hashed
    unhashed = b"" if version == 6 else subpacket(16, pub.key_id)
    lenfmt = ">I" if version == 6 else ">H"
    head = bytes([version, sig_type, pub.algo, hash_algo]) + struct.pack(lenfmt, len(hashed))
    hashed_part = head + hashed
    salt = os.urandom(V6_SALT_SIZE[hash_algo]) if version == 6 else b""
    h = hash_new(hash_algo)
    h.update(
        salt + data + hashed_part + bytes([version, 0xFF]) + struct.pack(">I", len(hashed_part))
    )
    digest = h.digest()
    material = _sign_digest(pub, sec, digest, hash_algo)
    if break_sig:
        material = material[:-1] + bytes([material[-1] ^ 1])
    body = hashed_part + struct.pack(lenfmt, len(unhashed)) + unhashed + digest[:2]
    if version == 6:
        body += bytes([len(salt)]) + salt
    return body + material


def _hash_for(pub: PublicKey) -> int:
    """A hash at least as strong as the key (gpg refuses ECDSA with a shorter digest)."""
    if pub.algo == PubKeyAlgo.ECDSA:
        curve = CURVE_OIDS.get(pub.material["oid"], "")
        if curve.endswith(("384", "384r1")):
            return HashAlgo.SHA384
        if curve.endswith(("521", "512r1")):
            return HashAlgo.SHA512
    if pub.algo == PubKeyAlgo.ED448:
        return HashAlgo.SHA512
    return HashAlgo.SHA256


def _sign_digest(pub: PublicKey, sec: dict[str, bytes], digest: bytes, hash_algo: int) -> bytes:
    algo = pub.algo
    if algo == PubKeyAlgo.ED25519:
        return ed25519.Ed25519PrivateKey.from_private_bytes(sec["x"]).sign(digest)
    if algo == PubKeyAlgo.ED448:
        return ed448.Ed448PrivateKey.from_private_bytes(sec["x"]).sign(digest)
    if algo == PubKeyAlgo.EDDSA_LEGACY:
        raw = ed25519.Ed25519PrivateKey.from_private_bytes(sec["x"].rjust(32, b"\x00")).sign(digest)
        return encode_mpi(raw[:32]) + encode_mpi(raw[32:])
    pre = Prehashed(_PYCA_HASH[hash_algo]())
    if algo in (PubKeyAlgo.RSA, PubKeyAlgo.RSA_SIGN_ONLY):
        return encode_mpi(rsa_private(pub, sec).sign(digest, padding.PKCS1v15(), pre))
    if algo == PubKeyAlgo.ECDSA:
        key = ec.derive_private_key(_int(sec["x"]), _curve(pub.material["oid"]))
        r, s = decode_dss_signature(key.sign(digest, ec.ECDSA(pre)))
        return encode_mpi(r) + encode_mpi(s)
    if algo == PubKeyAlgo.DSA:
        m = pub.material
        params = dsa.DSAParameterNumbers(_int(m["p"]), _int(m["q"]), _int(m["g"]))
        nums = dsa.DSAPrivateNumbers(_int(sec["x"]), dsa.DSAPublicNumbers(_int(m["y"]), params))
        r, s = decode_dss_signature(nums.private_key().sign(digest, pre))
        return encode_mpi(r) + encode_mpi(s)
    raise UnsupportedAlgorithmError(f"cannot sign with algorithm {algo}")


def one_pass_for(sig_body: bytes, *, nested: int = 1) -> bytes:
    """The One-Pass Signature body announcing ``sig_body`` (v3 for v4 sigs, v6 for v6)."""
    sig: Signature = parse_signature(sig_body)
    if sig.version == 6:
        fpr = sig.issuer_fingerprint or b"\x00" * 32
        return (
            bytes([6, sig.sig_type, sig.hash_algo, sig.pk_algo, len(sig.salt)])
            + sig.salt
            + (fpr + bytes([nested]))
        )
    kid = sig.issuer_key_id or b"\x00" * 8
    return bytes([3, sig.sig_type, sig.hash_algo, sig.pk_algo]) + kid + bytes([nested])
