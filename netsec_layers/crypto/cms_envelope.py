"""CMS EnvelopedData / AuthEnvelopedData / CompressedData opening (RFC 5652 section 6, RFC 5083,
RFC 5084, RFC 3560, RFC 5753, RFC 3211).

Recipient types: ktri (RSA PKCS#1 v1.5 and RSA-OAEP), kari (ECDH with the X9.63 KDF and AES key
wrap, RFC 5753), kekri (AES key wrap with a pre-shared key), pwri (PBKDF2 + RFC 3211 key wrap).
Content encryption: AES-128/192/256-CBC and 3DES-CBC (no integrity: results say
``authenticated=False``) and AES-GCM in AuthEnvelopedData (tag checked before any plaintext is
returned).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import algos, core  # type: ignore[import-untyped]
from asn1crypto import cms as acms
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x448, x25519
from cryptography.hazmat.primitives.asymmetric import padding as apad
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap

from netsec_layers.crypto.cms import asn1_guard, hash_by_name, match_identifier, sid_text
from netsec_layers.errors import IntegrityError, KeyUnavailableError, ParseError

__all__ = [
    "MAX_DECOMPRESSED",
    "describe_recipients",
    "OpenedContent",
    "RecipientKeys",
    "decompress",
    "open_auth_enveloped",
    "open_enveloped",
]

MAX_DECOMPRESSED = 64 << 20  # CompressedData output bound (decompression bombs)

OID_PWRI_KEK = "1.2.840.113549.1.9.16.3.9"
# RFC 5753 section 7.1.4 / SEC 1: ECDH schemes and the hash of their X9.63 KDF
KARI_SCHEMES = {
    "1.3.133.16.840.63.0.2": "sha1",  # dhSinglePass-stdDH-sha1kdf-scheme
    "1.3.132.1.11.0": "sha224",
    "1.3.132.1.11.1": "sha256",
    "1.3.132.1.11.2": "sha384",
    "1.3.132.1.11.3": "sha512",
    "1.3.133.16.840.63.0.3": "sha1",  # cofactorDH (cofactor 1 on the prime curves)
    "1.3.132.1.14.0": "sha224",
    "1.3.132.1.14.1": "sha256",
    "1.3.132.1.14.2": "sha384",
    "1.3.132.1.14.3": "sha512",
}
# RFC 8418 section 2.2: X25519/X448 key agreement with HKDF (dhSinglePass-stdDH-hkdf-*)
KARI_HKDF = {
    "1.2.840.113549.1.9.16.3.19": "sha256",
    "1.2.840.113549.1.9.16.3.20": "sha384",
    "1.2.840.113549.1.9.16.3.21": "sha512",
}
OID_CHACHA20_POLY1305 = "1.2.840.113549.1.9.16.3.18"  # RFC 8103
_WRAP_LEN = {
    "2.16.840.1.101.3.4.1.5": 16,
    "2.16.840.1.101.3.4.1.25": 24,
    "2.16.840.1.101.3.4.1.45": 32,
}
_GCM_KEY = {
    "2.16.840.1.101.3.4.1.6": 16,
    "2.16.840.1.101.3.4.1.26": 24,
    "2.16.840.1.101.3.4.1.46": 32,
}


class GCMParameters(core.Sequence):  # type: ignore[misc]
    """RFC 5084 section 3.2."""

    _fields = [("aes_nonce", core.OctetString), ("aes_icvlen", core.Integer, {"default": 12})]


class EccCmsSharedInfo(core.Sequence):  # type: ignore[misc]
    """RFC 5753 section 7.2: the X9.63 KDF's SharedInfo."""

    _fields = [
        ("key_info", algos.AlgorithmIdentifier),
        ("entity_u_info", core.OctetString, {"explicit": 0, "optional": True}),
        ("supp_pub_info", core.OctetString, {"explicit": 2}),
    ]


@dataclass
class RecipientKeys:
    """What can open an envelope: private keys (with their certificates when known), KEKs by
    key identifier, passwords."""

    private_keys: list[tuple[Any, x509.Certificate | None]] = field(default_factory=list)
    keks: dict[bytes, bytes] = field(default_factory=dict)
    passwords: list[bytes] = field(default_factory=list)


@dataclass(slots=True)
class OpenedContent:
    content_type: str  # dotted OID of the enclosed content
    content: bytes
    cipher: str  # e.g. "aes256_cbc", "aes128_gcm"
    authenticated: bool  # False for CBC: nothing protects the ciphertext
    recipient: str  # which RecipientInfo opened it ("ktri rsaes_oaep", "kari", ...)


def _cbc_decrypt(cipher: Any, iv: bytes, data: bytes) -> bytes:
    dec = Cipher(cipher, modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def _block_cipher(name: str, key: bytes) -> Any:
    if name.startswith("aes"):
        return algorithms.AES(key)
    if name in ("tripledes_3key", "des"):
        return TripleDES(key)
    raise ParseError(f"unsupported content cipher {name}")


# --- recipient infos ------------------------------------------------------------------------


def _ktri(ri: Any, keys: RecipientKeys) -> bytes | None:
    alg = ri["key_encryption_algorithm"]
    name = alg["algorithm"].native
    enc = bytes(ri["encrypted_key"].native)
    candidates = [
        k for k, c in keys.private_keys if c is not None and match_identifier(ri["rid"], c)
    ]
    if not candidates:  # no certificate given: try every RSA key
        candidates = [k for k, c in keys.private_keys if c is None]
    for key in candidates:
        if not isinstance(key, rsa.RSAPrivateKey):
            continue
        if name == "rsaes_oaep":
            p = alg["parameters"]
            h = hash_by_name(p["hash_algorithm"]["algorithm"].native)
            mh = hash_by_name(p["mask_gen_algorithm"]["parameters"]["algorithm"].native)
            label = p["p_source_algorithm"]["parameters"].native or b""
            pad: apad.AsymmetricPadding = apad.OAEP(
                mgf=apad.MGF1(mh), algorithm=h, label=label or None
            )
        else:
            pad = apad.PKCS1v15()
        try:
            return key.decrypt(enc, pad)
        except ValueError:
            continue
    return None


def _kari(ri: Any, keys: RecipientKeys) -> bytes | None:
    kea = ri["key_encryption_algorithm"]
    scheme = kea["algorithm"].dotted
    if scheme not in KARI_SCHEMES and scheme not in KARI_HKDF:
        raise ParseError(f"unsupported key agreement {scheme}")
    wrap = acms.KeyEncryptionAlgorithm.load(kea["parameters"].dump())
    wrap_oid = wrap["algorithm"].dotted
    if wrap_oid not in _WRAP_LEN:
        raise ParseError(f"unsupported key wrap {wrap_oid}")
    orig = ri["originator"]
    if orig.name != "originator_key":
        raise ParseError("kari originator given by certificate: not supported")
    point = bytes(orig.chosen["public_key"].native)
    ukm = ri["ukm"].native
    for rek in ri["recipient_encrypted_keys"]:
        rid = rek["rid"]
        for key, cert in keys.private_keys:
            if cert is not None and not match_identifier(rid, cert):
                continue
            z = _agree(key, point)
            if z is None:
                continue
            kek = kari_kek(z, scheme, wrap_oid, ukm)
            try:
                return aes_key_unwrap(kek, bytes(rek["encrypted_key"].native))
            except InvalidUnwrap:
                raise IntegrityError("kari: AES key unwrap failed (wrong key or altered)") from None
    return None


def _agree(key: Any, point: bytes) -> bytes | None:
    """The shared secret Z with the originator's public key, or None if the types differ."""
    try:
        if isinstance(key, ec.EllipticCurvePrivateKey):
            peer = ec.EllipticCurvePublicKey.from_encoded_point(key.curve, point)
            return key.exchange(ec.ECDH(), peer)
        if isinstance(key, x25519.X25519PrivateKey):
            return key.exchange(x25519.X25519PublicKey.from_public_bytes(point))
        if isinstance(key, x448.X448PrivateKey):
            return key.exchange(x448.X448PublicKey.from_public_bytes(point))
    except ValueError:
        return None
    return None


def kari_kek(z: bytes, scheme: str, wrap_oid: str, ukm: bytes | None) -> bytes:
    """KEK of the wrap key's length from Z and the DER ECC-CMS-SharedInfo: the X9.63 KDF
    (RFC 5753 section 3.1.2) or, for the RFC 8418 schemes, HKDF with the ukm as salt."""
    size = _WRAP_LEN[wrap_oid]
    info: dict[str, Any] = {
        "key_info": {"algorithm": wrap_oid},
        "supp_pub_info": (size * 8).to_bytes(4, "big"),
    }
    if ukm is not None:
        info["entity_u_info"] = ukm
    shared = EccCmsSharedInfo(info).dump()
    if scheme in KARI_HKDF:  # RFC 8418 section 2.2
        hkdf = HKDF(algorithm=hash_by_name(KARI_HKDF[scheme]), length=size, salt=ukm, info=shared)
        return hkdf.derive(z)
    kdf = X963KDF(algorithm=hash_by_name(KARI_SCHEMES[scheme]), length=size, sharedinfo=shared)
    return kdf.derive(z)


def _kekri(ri: Any, keys: RecipientKeys) -> bytes | None:
    kid = bytes(ri["kekid"]["key_identifier"].native)
    kek = keys.keks.get(kid)
    if kek is None:
        return None
    try:
        return aes_key_unwrap(kek, bytes(ri["encrypted_key"].native))
    except (InvalidUnwrap, ValueError):
        raise IntegrityError("kekri: AES key unwrap failed (wrong KEK or altered)") from None


def _pwri(ri: Any, keys: RecipientKeys) -> bytes | None:
    kda = ri["key_derivation_algorithm"]
    kea = ri["key_encryption_algorithm"]
    if kea["algorithm"].dotted != OID_PWRI_KEK or kda.native is None:
        raise ParseError("pwri: only id-alg-PWRI-KEK with PBKDF2 is supported")
    inner = algos.EncryptionAlgorithm.load(kea["parameters"].dump())
    cipher_name = inner.encryption_cipher
    klen = inner.key_length
    iv = bytes(inner.encryption_iv)
    p = kda["parameters"]
    if kda["algorithm"].native != "pbkdf2":
        raise ParseError("pwri: key derivation other than PBKDF2")
    h = hash_by_name(p["prf"]["algorithm"].native.replace("sha", "sha", 1))
    enc = bytes(ri["encrypted_key"].native)
    for pw in keys.passwords:
        kek = PBKDF2HMAC(
            algorithm=h,
            length=klen,
            salt=bytes(p["salt"].native),
            iterations=p["iteration_count"].native,
        ).derive(pw)
        cek = pwri_unwrap(
            _block_cipher(cipher_name if cipher_name != "tripledes" else "tripledes_3key", kek),
            iv,
            enc,
        )
        if cek is not None:
            return cek
    if keys.passwords:
        raise IntegrityError("pwri: no password gives a valid key check (wrong password?)")
    return None


def pwri_unwrap(cipher: Any, iv: bytes, enc: bytes) -> bytes | None:
    """RFC 3211 section 2.3.2; ``None`` when the check bytes do not match."""
    b = cipher.block_size // 8
    n = len(enc)
    if n < 2 * b or n % b:
        return None
    last = _cbc_decrypt(cipher, enc[n - 2 * b : n - b], enc[n - b :])
    outer = _cbc_decrypt(cipher, last, enc[: n - b]) + last
    tmp = _cbc_decrypt(cipher, iv, outer)
    if ((tmp[1] ^ tmp[4]) & (tmp[2] ^ tmp[5]) & (tmp[3] ^ tmp[6])) != 0xFF:
        return None
    if tmp[0] > n - 4 or tmp[0] == 0:
        return None
    return tmp[4 : 4 + tmp[0]]


_OPENERS = {"ktri": _ktri, "kari": _kari, "kekri": _kekri, "pwri": _pwri}


def describe_recipients(env: Any) -> list[dict[str, str]]:
    """Who an EnvelopedData / AuthEnvelopedData is for, without any key: one entry per
    RecipientInfo (per recipient key for kari) with its type, key algorithm and identifier."""
    out: list[dict[str, str]] = []
    with asn1_guard("RecipientInfos"):
        for ri in env["recipient_infos"]:
            info, kind = ri.chosen, ri.name
            if kind == "ktri":
                alg = str(info["key_encryption_algorithm"]["algorithm"].native)
                out.append({"type": kind, "algorithm": alg, "id": sid_text(info["rid"])})
            elif kind == "kari":
                alg = str(info["key_encryption_algorithm"]["algorithm"].dotted)
                for rek in info["recipient_encrypted_keys"]:
                    rid = rek["rid"]
                    ident = (
                        sid_text(rid)
                        if rid.name == "issuer_and_serial_number"
                        else "ski=" + bytes(rid.chosen["subject_key_identifier"].native).hex()
                    )
                    out.append({"type": kind, "algorithm": alg, "id": ident})
            elif kind == "kekri":
                kid = bytes(info["kekid"]["key_identifier"].native).hex()
                alg = str(info["key_encryption_algorithm"]["algorithm"].native)
                out.append({"type": kind, "algorithm": alg, "id": f"kek={kid}"})
            elif kind == "pwri":
                out.append({"type": kind, "algorithm": "PBKDF2", "id": "password"})
            else:
                out.append({"type": str(kind), "algorithm": "", "id": ""})
    return out


def _content_key(recipient_infos: Any, keys: RecipientKeys) -> tuple[bytes, str]:
    errors: list[str] = []
    for ri in recipient_infos:
        opener = _OPENERS.get(ri.name)
        if opener is None:
            continue
        try:
            cek = opener(ri.chosen, keys)
        except IntegrityError as exc:
            errors.append(str(exc))
            continue
        if cek is not None:
            extra = ""
            if ri.name == "ktri":
                extra = " " + str(ri.chosen["key_encryption_algorithm"]["algorithm"].native)
            return cek, ri.name + extra
    if errors:
        raise IntegrityError("; ".join(errors))
    kinds = ",".join(ri.name for ri in recipient_infos)
    raise KeyUnavailableError(f"no key for any recipient ({kinds})")


def open_enveloped(env: Any, keys: RecipientKeys) -> OpenedContent:
    """Decrypt an asn1crypto ``EnvelopedData``.  CBC carries no integrity: a result with
    ``authenticated=False`` may be altered ciphertext that happened to unpad."""
    with asn1_guard("EnvelopedData"):
        eci = env["encrypted_content_info"]
        alg = eci["content_encryption_algorithm"]
        name = alg["algorithm"].native
        ctype = eci["content_type"].dotted
        data = eci["encrypted_content"].native
        cek, how = _content_key(env["recipient_infos"], keys)
        if data is None:
            raise ParseError("EnvelopedData without encrypted content (detached)")
        cipher = _block_cipher(str(name), cek)
        iv = bytes(alg.encryption_iv)
    data = bytes(data)
    b = cipher.block_size // 8
    if len(data) % b or not data or len(iv) != b:
        raise IntegrityError("ciphertext or IV length is not the cipher's block size")
    padded = _cbc_decrypt(cipher, iv, data)
    unpad = padding.PKCS7(cipher.block_size).unpadder()
    try:
        plain = unpad.update(padded) + unpad.finalize()
    except ValueError:
        raise IntegrityError("bad CBC padding (wrong key or altered ciphertext)") from None
    return OpenedContent(ctype, plain, str(name), False, how)


def open_auth_enveloped(env: Any, keys: RecipientKeys) -> OpenedContent:
    """Decrypt an asn1crypto ``AuthEnvelopedData`` with AES-GCM (RFC 5083/5084); the tag is
    checked first and a mismatch raises :class:`IntegrityError`."""
    with asn1_guard("AuthEnvelopedData"):
        eci = env["auth_encrypted_content_info"]
        alg = eci["content_encryption_algorithm"]
        oid = alg["algorithm"].dotted
        if oid == OID_CHACHA20_POLY1305:  # RFC 8103 section 3: the parameter is the nonce
            nonce = bytes(core.OctetString.load(alg["parameters"].dump()).native)
            icvlen = 16
        elif oid in _GCM_KEY:
            params = GCMParameters.load(alg["parameters"].dump())
            nonce = bytes(params["aes_nonce"].native)
            icvlen = int(params["aes_icvlen"].native)
        else:
            raise ParseError(f"unsupported AuthEnvelopedData cipher {oid}")
        ctype = eci["content_type"].dotted
        data = eci["encrypted_content"].native
        mac = bytes(env["mac"].native)
        aad = b""
        if env["auth_attrs"].native is not None:  # RFC 5083 section 2.2: DER of the SET OF
            aad = b"\x31" + env["auth_attrs"].dump()[1:]
        cek, how = _content_key(env["recipient_infos"], keys)
    if data is None:
        raise ParseError("AuthEnvelopedData without encrypted content")
    if oid == OID_CHACHA20_POLY1305:
        if len(cek) != 32 or len(nonce) != 12 or len(mac) != 16:
            raise IntegrityError("ChaCha20-Poly1305 key, nonce or tag of the wrong size")
        try:
            plain = ChaCha20Poly1305(cek).decrypt(nonce, bytes(data) + mac, aad or None)
        except InvalidTag:
            raise IntegrityError("ChaCha20-Poly1305 tag mismatch (wrong key or altered)") from None
        return OpenedContent(ctype, plain, "chacha20_poly1305", True, how)
    if len(cek) != _GCM_KEY[oid] or len(mac) != icvlen or not 12 <= icvlen <= 16 or not nonce:
        raise IntegrityError("AES-GCM key, tag or nonce of the wrong size")
    try:
        plain = _gcm_open(cek, nonce, bytes(data) + mac, aad, icvlen)
    except InvalidTag:
        raise IntegrityError("AES-GCM tag mismatch (wrong key or altered)") from None
    return OpenedContent(ctype, plain, f"aes{len(cek) * 8}_gcm", True, how)


def _gcm_open(key: bytes, nonce: bytes, data: bytes, aad: bytes, icvlen: int) -> bytes:
    if icvlen == 16:
        return AESGCM(key).decrypt(nonce, data, aad or None)
    ct, tag = data[:-icvlen], data[-icvlen:]
    dec = Cipher(algorithms.AES(key), modes.GCM(nonce, tag, min_tag_length=icvlen)).decryptor()
    dec.authenticate_additional_data(aad)
    return dec.update(ct) + dec.finalize()


def decompress(compressed: Any, limit: int = MAX_DECOMPRESSED) -> tuple[str, bytes]:
    """CompressedData (RFC 3274, zlib): ``(content type, content)``; at most ``limit`` bytes."""
    with asn1_guard("CompressedData"):
        if compressed["compression_algorithm"]["algorithm"].dotted != "1.2.840.113549.1.9.16.3.8":
            raise ParseError("CompressedData with an algorithm other than zlib")
        eci = compressed["encap_content_info"]
        ctype = eci["content_type"].dotted
        data = bytes(eci["content"])
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error as exc:
        raise ParseError(f"CompressedData: {exc}") from None
    if len(out) > limit:
        raise ParseError(f"CompressedData expands beyond {limit} bytes")
    return ctype, out


def load_private_key(data: bytes, password: bytes | None = None) -> Any:
    """A PEM or DER private key (PKCS#1, SEC 1, PKCS#8)."""
    try:
        if b"-----BEGIN" in data:
            return serialization.load_pem_private_key(data, password)
        return serialization.load_der_private_key(data, password)
    except (ValueError, TypeError) as exc:
        raise ParseError(f"unreadable private key: {exc}") from None


_ = hashes  # re-exported for cms_build
