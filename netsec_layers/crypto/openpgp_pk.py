"""OpenPGP public-key cryptography on pyca: secret keys, PKESK, signatures (RFC 9580).

Secret keys are unlocked with their passphrase (v4 CFB with SHA-1 check, v6/v4 AEAD, legacy
checksums); PKESK v3/v6 is opened with RSA, ElGamal, ECDH (RFC 6637 KDF and AES key wrap, NIST
curves, brainpool and Curve25519Legacy), X25519 and X448; signatures v3/v4/v6 are checked with
RSA, DSA, ECDSA, EdDSALegacy, Ed25519 and Ed448.  Bytes in, bytes out; no Scapy.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, keywrap
from cryptography.hazmat.primitives.asymmetric import (
    dsa,
    ec,
    ed448,
    ed25519,
    padding,
    rsa,
    x448,
    x25519,
)
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

from netsec_layers.constants.openpgp import CURVE_OIDS, HashAlgo, PubKeyAlgo, S2KUsage
from netsec_layers.errors import (
    IntegrityError,
    KeyUnavailableError,
    ParseError,
    UnsupportedAlgorithmError,
)

from .openpgp_sym import (
    S2K,
    SessionKey,
    aead_open,
    block_size,
    cfb_decrypt,
    derive_s2k,
    hash_new,
    hkdf_sha256,
    key_size,
    nonce_size,
    parse_s2k,
)
from .openpgp_wire import PublicKey, Reader, Signature, parse_public_key

_RSA = (PubKeyAlgo.RSA, PubKeyAlgo.RSA_ENCRYPT_ONLY, PubKeyAlgo.RSA_SIGN_ONLY)
_NATIVE_SECRET = {
    PubKeyAlgo.X25519: 32,
    PubKeyAlgo.X448: 56,
    PubKeyAlgo.ED25519: 32,
    PubKeyAlgo.ED448: 57,
}


@dataclass
class SecretKey:
    """A secret key or subkey packet: the public part and the (maybe locked) secret part."""

    tag: int
    public: PublicKey
    usage: int
    sym_algo: int = 0
    aead_algo: int = 0
    s2k: S2K | None = None
    iv: bytes = b""
    encrypted: bytes = b""
    secret: dict[str, bytes] | None = field(default=None, repr=False)

    @property
    def locked(self) -> bool:
        return self.secret is None


def parse_secret_key(body: bytes, tag: int) -> SecretKey:
    """Parse a Secret Key / Secret Subkey body (§5.5.3); unprotected keys come out unlocked."""
    pub, pos = parse_public_key(body)
    r = Reader(body, pos)
    usage = r.u8()
    sk = SecretKey(tag, pub, usage)
    if pub.version == 6 and usage:
        r.u8()  # count of the optional fields that follow
    if usage in (S2KUsage.AEAD, S2KUsage.CFB, S2KUsage.MALLEABLE_CFB):
        sk.sym_algo = r.u8()
        if usage == S2KUsage.AEAD:
            sk.aead_algo = r.u8()
        if pub.version == 6 and usage in (S2KUsage.AEAD, S2KUsage.CFB):
            sk.s2k = parse_s2k(Reader(r.take(r.u8())))
        else:
            sk.s2k = parse_s2k(r)
        if sk.s2k.type == 101:  # GnuPG stub: no secret material
            sk.encrypted = r.rest()
            return sk
        sk.iv = r.take(
            nonce_size(sk.aead_algo) if usage == S2KUsage.AEAD else block_size(sk.sym_algo)
        )
    elif usage:
        sk.sym_algo = usage  # legacy: the octet is the cipher, S2K is simple MD5 (§3.7.2.1)
        sk.s2k = S2K(0, HashAlgo.MD5)
        sk.iv = r.take(block_size(usage))
    rest = r.rest()
    if usage == S2KUsage.UNPROTECTED:
        if pub.version == 6:
            sk.secret = _secret_material(rest, pub.algo, exact=True)
        else:
            data, csum = rest[:-2], rest[-2:]
            if len(rest) < 2 or sum(data) & 0xFFFF != int.from_bytes(csum, "big"):
                raise IntegrityError("secret key checksum mismatch")
            sk.secret = _secret_material(data, pub.algo, exact=True)
    else:
        sk.encrypted = rest
    return sk


def _secret_material(data: bytes, algo: int, *, exact: bool) -> dict[str, bytes]:
    r = Reader(data)
    if algo in _RSA:
        out = {"d": r.mpi(), "p": r.mpi(), "q": r.mpi(), "u": r.mpi()}
    elif algo in (PubKeyAlgo.DSA, PubKeyAlgo.ELGAMAL, PubKeyAlgo.ELGAMAL_SIGN):
        out = {"x": r.mpi()}
    elif algo in (PubKeyAlgo.ECDSA, PubKeyAlgo.ECDH, PubKeyAlgo.EDDSA_LEGACY):
        out = {"x": r.mpi()}
    elif algo in _NATIVE_SECRET:
        out = {"x": r.take(_NATIVE_SECRET[PubKeyAlgo(algo)])}
    else:
        raise UnsupportedAlgorithmError(f"public-key algorithm {algo}")
    if exact and r.left():
        raise ParseError("octets after the secret key material")
    return out


def unlock(sk: SecretKey, passphrase: bytes) -> dict[str, bytes]:
    """Decrypt the secret material; a wrong passphrase raises :class:`IntegrityError`."""
    if sk.secret is not None:
        return sk.secret
    if sk.s2k is None or sk.s2k.type == 101:
        raise KeyUnavailableError("this key has no secret material (GnuPG stub)")
    ks = key_size(sk.sym_algo)
    derived = derive_s2k(sk.s2k, passphrase, ks)
    pub = sk.public
    if sk.usage == S2KUsage.AEAD:
        info = bytes([0xC0 | sk.tag, pub.version, sk.sym_algo, sk.aead_algo])
        kek = hkdf_sha256(derived, info, ks)
        ad = bytes([0xC0 | sk.tag]) + pub.body  # §5.5.3: the packet's type octet + public part
        try:
            pt = aead_open(sk.sym_algo, sk.aead_algo, kek, sk.iv, sk.encrypted, ad)
        except IntegrityError:
            raise IntegrityError("wrong passphrase (secret key AEAD tag mismatch)") from None
        sk.secret = _secret_material(pt, pub.algo, exact=True)
        return sk.secret
    pt = cfb_decrypt(sk.sym_algo, derived, sk.iv, sk.encrypted)
    if sk.usage == S2KUsage.CFB:
        data, check = pt[:-20], pt[-20:]
        if len(pt) < 20 or not hmac.compare_digest(hashlib.sha1(data).digest(), check):
            raise IntegrityError("wrong passphrase (secret key SHA-1 check failed)")
    else:
        data, check = pt[:-2], pt[-2:]
        if len(pt) < 2 or sum(data) & 0xFFFF != int.from_bytes(check, "big"):
            raise IntegrityError("wrong passphrase (secret key checksum failed)")
    try:
        sk.secret = _secret_material(data, pub.algo, exact=True)
    except ParseError:
        raise IntegrityError("wrong passphrase (secret material does not parse)") from None
    return sk.secret


# ---------------------------------------------------------------------------------------------
# pyca key objects


def _curve(oid: bytes) -> ec.EllipticCurve:
    name = CURVE_OIDS.get(oid)
    table: dict[str | None, ec.EllipticCurve] = {
        "NIST P-256": ec.SECP256R1(),
        "NIST P-384": ec.SECP384R1(),
        "NIST P-521": ec.SECP521R1(),
        "brainpoolP256r1": ec.BrainpoolP256R1(),
        "brainpoolP384r1": ec.BrainpoolP384R1(),
        "brainpoolP512r1": ec.BrainpoolP512R1(),
    }
    if name not in table:
        raise UnsupportedAlgorithmError(f"curve OID {oid.hex()} ({name}) not supported here")
    return table[name]


def _int(b: bytes) -> int:
    return int.from_bytes(b, "big")


def rsa_public(pub: PublicKey) -> rsa.RSAPublicKey:
    return rsa.RSAPublicNumbers(_int(pub.material["e"]), _int(pub.material["n"])).public_key()


def rsa_private(pub: PublicKey, sec: dict[str, bytes]) -> rsa.RSAPrivateKey:
    p, q, d = _int(sec["p"]), _int(sec["q"]), _int(sec["d"])
    nums = rsa.RSAPrivateNumbers(
        p,
        q,
        d,
        d % (p - 1),
        d % (q - 1),
        rsa.rsa_crt_iqmp(p, q),
        rsa.RSAPublicNumbers(_int(pub.material["e"]), _int(pub.material["n"])),
    )
    return nums.private_key()


# ---------------------------------------------------------------------------------------------
# PKESK (§5.1)


@dataclass
class PKESK:
    version: int
    algo: int
    key_id: bytes  # 8 octets; zeros = wildcard
    fingerprint: bytes  # v6 only; empty = anonymous
    key_version: int
    fields: dict[str, bytes]


def parse_pkesk(body: bytes) -> PKESK:
    r = Reader(body)
    version = r.u8()
    if version == 3:
        key_id, fpr, kver = r.take(8), b"", 4
    elif version == 6:
        n = r.u8()
        kver = r.u8() if n else 0
        fpr = r.take(n - 1) if n else b""
        key_id = fpr[:8] if kver == 6 else fpr[-8:] if fpr else b"\x00" * 8
    else:
        raise ParseError(f"unsupported PKESK version {version}")
    algo = r.u8()
    f: dict[str, bytes]
    if algo in _RSA:
        f = {"c": r.mpi()}
    elif algo in (PubKeyAlgo.ELGAMAL, PubKeyAlgo.ELGAMAL_SIGN):
        f = {"a": r.mpi(), "b": r.mpi()}
    elif algo == PubKeyAlgo.ECDH:
        f = {"point": r.mpi(), "wrapped": r.opaque8()}
    elif algo in (PubKeyAlgo.X25519, PubKeyAlgo.X448):
        eph = r.take(32 if algo == PubKeyAlgo.X25519 else 56)
        n = r.u8()
        sym = bytes([r.u8()]) if version == 3 else b""
        f = {"ephemeral": eph, "sym": sym, "wrapped": r.take(n - len(sym))}
    else:
        raise UnsupportedAlgorithmError(f"PKESK algorithm {algo}")
    if r.left():
        raise ParseError("octets after the PKESK fields")
    return PKESK(version, algo, key_id, fpr, kver, f)


def _pkcs1_decode(em: bytes) -> bytes:
    if len(em) < 11 or em[0] != 0 or em[1] != 2 or b"\x00" not in em[2:]:
        raise IntegrityError("PKCS#1 v1.5 decoding failed (wrong key?)")
    return em[em.index(b"\x00", 2) + 1 :]


def _ecdh_param(pub: PublicKey) -> bytes:
    """The RFC 6637 / RFC 9580 §11.5 KDF parameter block."""
    oid, kdf = pub.material["oid"], pub.material["kdf"]
    fpr = pub.fingerprint
    return (
        bytes([len(oid)])
        + oid
        + bytes([PubKeyAlgo.ECDH])
        + bytes([3])
        + kdf
        + (b"Anonymous Sender    " + fpr)
    )


def ecdh_kdf(hash_algo: int, z: bytes, param: bytes, size: int) -> bytes:
    h = hash_new(hash_algo)
    h.update(b"\x00\x00\x00\x01" + z + param)
    return h.digest()[:size]


def pkesk_decrypt(pk: PKESK, pub: PublicKey, sec: dict[str, bytes]) -> SessionKey:
    """The session key in ``pk`` for the recipient key ``pub``/``sec`` (checksum verified)."""
    algo = pk.algo
    if algo in _RSA:
        key = rsa_private(pub, sec)
        c = pk.fields["c"].rjust(key.key_size // 8 + (1 if key.key_size % 8 else 0), b"\x00")
        try:
            m = key.decrypt(c, padding.PKCS1v15())
        except ValueError:
            raise IntegrityError("RSA decryption failed (wrong key?)") from None
        return _split_session(m, pk.version)
    if algo in (PubKeyAlgo.ELGAMAL, PubKeyAlgo.ELGAMAL_SIGN):
        p, x = _int(pub.material["p"]), _int(sec["x"])
        a, b = _int(pk.fields["a"]), _int(pk.fields["b"])
        m_int = (b * pow(a, p - 1 - x, p)) % p
        return _split_session(_pkcs1_decode(m_int.to_bytes((p.bit_length() + 7) // 8, "big")), 3)
    if algo == PubKeyAlgo.ECDH:
        oid, point = pub.material["oid"], pk.fields["point"]
        if CURVE_OIDS.get(oid) == "Curve25519Legacy":
            if len(point) != 33 or point[0] != 0x40:
                raise ParseError("Curve25519 ephemeral point must be 0x40 || 32 octets")
            scalar = sec["x"].rjust(32, b"\x00")[::-1]  # stored big-endian (§5.5.5.6)
            z = x25519.X25519PrivateKey.from_private_bytes(scalar).exchange(
                x25519.X25519PublicKey.from_public_bytes(point[1:])
            )
        else:
            curve = _curve(oid)
            priv = ec.derive_private_key(_int(sec["x"]), curve)
            try:
                peer = ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
            except ValueError:
                raise ParseError("ECDH ephemeral point not on the curve") from None
            z = priv.exchange(ec.ECDH(), peer)
        kdf = pub.material["kdf"]
        kek = ecdh_kdf(kdf[1], z, _ecdh_param(pub), key_size(kdf[2]))
        try:
            m = keywrap.aes_key_unwrap(kek, pk.fields["wrapped"])
        except keywrap.InvalidUnwrap:
            raise IntegrityError("ECDH key unwrap failed (wrong key?)") from None
        pad = m[-1] if m else 0
        if not 0 < pad <= 8 or m[-pad:] != bytes([pad]) * pad:  # RFC 8018 PKCS#5 padding
            raise IntegrityError("ECDH session key padding is wrong")
        return _split_session(m[:-pad], pk.version)
    if algo in (PubKeyAlgo.X25519, PubKeyAlgo.X448):
        eph, wrapped = pk.fields["ephemeral"], pk.fields["wrapped"]
        if algo == PubKeyAlgo.X25519:
            shared = x25519.X25519PrivateKey.from_private_bytes(sec["x"]).exchange(
                x25519.X25519PublicKey.from_public_bytes(eph)
            )
            kek = hkdf_sha256(eph + pub.material["key"] + shared, b"OpenPGP X25519", 16)
        else:
            shared = x448.X448PrivateKey.from_private_bytes(sec["x"]).exchange(
                x448.X448PublicKey.from_public_bytes(eph)
            )
            from cryptography.hazmat.primitives.kdf.hkdf import HKDF

            kek = HKDF(hashes.SHA512(), 32, None, b"OpenPGP X448").derive(
                eph + pub.material["key"] + shared
            )
        try:
            unwrapped = keywrap.aes_key_unwrap(kek, wrapped)
        except keywrap.InvalidUnwrap:
            raise IntegrityError(
                f"{PubKeyAlgo(algo).name} key unwrap failed (wrong key?)"
            ) from None
        return SessionKey(pk.fields["sym"][0] if pk.fields["sym"] else None, unwrapped)
    raise UnsupportedAlgorithmError(f"PKESK algorithm {algo}")


def _split_session(m: bytes, version: int) -> SessionKey:
    """``[algo] || key || 2-octet checksum`` (the algorithm octet only in v3, §5.1.3)."""
    if version == 3:
        if len(m) < 3:
            raise IntegrityError("session key too short")
        algo, key, csum = m[0], m[1:-2], m[-2:]
    else:
        algo, key, csum = None, m[:-2], m[-2:]
    if sum(key) & 0xFFFF != int.from_bytes(csum, "big"):
        raise IntegrityError("session key checksum mismatch (wrong key?)")
    if algo is not None and key_size(algo) != len(key):
        raise IntegrityError("session key length does not match its algorithm")
    return SessionKey(algo, key)


# ---------------------------------------------------------------------------------------------
# signatures (§5.2.3, §5.2.4)

_PYCA_HASH: dict[int, type[hashes.HashAlgorithm]] = {
    HashAlgo.MD5: hashes.MD5,
    HashAlgo.SHA1: hashes.SHA1,
    HashAlgo.SHA224: hashes.SHA224,
    HashAlgo.SHA256: hashes.SHA256,
    HashAlgo.SHA384: hashes.SHA384,
    HashAlgo.SHA512: hashes.SHA512,
    HashAlgo.SHA3_256: hashes.SHA3_256,
    HashAlgo.SHA3_512: hashes.SHA3_512,
}


# RFC 9580 §9.5 (and §5.2.3): a v6 signature's salt size is fixed by its hash algorithm
_V6_SALT: dict[int, int] = {
    HashAlgo.SHA256: 16,
    HashAlgo.SHA384: 24,
    HashAlgo.SHA512: 32,
    HashAlgo.SHA224: 16,
    HashAlgo.SHA3_256: 16,
    HashAlgo.SHA3_512: 32,
}


def signature_trailer(sig: Signature) -> bytes:
    if sig.version in (2, 3):
        return sig.hashed_part
    if sig.version == 5:  # GnuPG's v5: an 8-octet length
        return sig.hashed_part + b"\x05\xff" + len(sig.hashed_part).to_bytes(8, "big")
    return sig.hashed_part + bytes([sig.version, 0xFF]) + len(sig.hashed_part).to_bytes(4, "big")


def signature_digest(sig: Signature, data: bytes) -> bytes:
    """The hash a signature signs: salt (v6), the signed data, the trailer."""
    h = hash_new(sig.hash_algo)
    h.update(sig.salt)
    h.update(data)
    h.update(signature_trailer(sig))
    return h.digest()


def verify_signature(sig: Signature, pub: PublicKey, data: bytes) -> str | None:
    """None when ``sig`` by ``pub`` is valid over ``data``, else the reason."""
    if sig.pk_algo != pub.algo and not (sig.pk_algo in _RSA and pub.algo in _RSA):
        return "signature algorithm does not match the key"
    if sig.version == 6 and pub.version != 6:
        return "v6 signature by a non-v6 key"
    if sig.version == 6 and len(sig.salt) != _V6_SALT.get(sig.hash_algo, -1):
        return "v6 signature salt size does not match its hash algorithm"
    try:
        digest = signature_digest(sig, data)
    except UnsupportedAlgorithmError as exc:
        return str(exc)
    if digest[:2] != sig.left16:
        return "digest prefix mismatch (signed data differs)"
    algo = sig.pk_algo
    try:
        if algo in (PubKeyAlgo.ED25519, PubKeyAlgo.ED448, PubKeyAlgo.EDDSA_LEGACY):
            if algo == PubKeyAlgo.ED448:
                ed448.Ed448PublicKey.from_public_bytes(pub.material["key"]).verify(
                    sig.material[0], digest
                )
            elif algo == PubKeyAlgo.ED25519:
                ed25519.Ed25519PublicKey.from_public_bytes(pub.material["key"]).verify(
                    sig.material[0], digest
                )
            else:
                point = pub.material["point"]
                if CURVE_OIDS.get(pub.material["oid"]) != "Ed25519Legacy" or point[:1] != b"\x40":
                    return "EdDSALegacy key on an unsupported curve"
                raw = sig.material[0].rjust(32, b"\x00") + sig.material[1].rjust(32, b"\x00")
                ed25519.Ed25519PublicKey.from_public_bytes(point[1:]).verify(raw, digest)
            return None
        hcls = _PYCA_HASH.get(sig.hash_algo)
        if hcls is None:
            return f"hash algorithm {sig.hash_algo} not supported for this key type"
        pre = Prehashed(hcls())
        if algo in _RSA:
            key = rsa_public(pub)
            s = sig.material[0].rjust((key.key_size + 7) // 8, b"\x00")
            key.verify(s, digest, padding.PKCS1v15(), pre)
        elif algo == PubKeyAlgo.DSA:
            m = pub.material
            params = dsa.DSAParameterNumbers(_int(m["p"]), _int(m["q"]), _int(m["g"]))
            dkey = dsa.DSAPublicNumbers(_int(m["y"]), params).public_key()
            dkey.verify(
                encode_dss_signature(_int(sig.material[0]), _int(sig.material[1])), digest, pre
            )
        elif algo == PubKeyAlgo.ECDSA:
            curve = _curve(pub.material["oid"])
            ekey = ec.EllipticCurvePublicKey.from_encoded_point(curve, pub.material["point"])
            ekey.verify(
                encode_dss_signature(_int(sig.material[0]), _int(sig.material[1])),
                digest,
                ec.ECDSA(pre),
            )
        else:
            return f"signature algorithm {algo} not supported"
    except InvalidSignature:
        return "bad signature"
    except (ValueError, UnsupportedAlgorithmError) as exc:
        return f"key or signature unusable: {exc}"
    return None
