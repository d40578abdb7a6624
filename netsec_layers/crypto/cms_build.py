"""Crafting CMS objects (RFC 5652): SignedData, EnvelopedData and AuthEnvelopedData that other
implementations (``openssl cms``) accept -- and, on request, deliberately broken ones.

Keyword-only arguments throughout, so content, keys and certificates cannot be swapped.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any, Literal

from asn1crypto import algos, keys  # type: ignore[import-untyped]
from asn1crypto import cms as acms
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric import padding as apad
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from netsec_layers.crypto.cms import hash_by_name
from netsec_layers.crypto.cms_envelope import (
    OID_PWRI_KEK,
    GCMParameters,
    kari_kek,
)
from netsec_layers.errors import UsageError

__all__ = ["CONTENT_CIPHERS", "encrypt_content", "sign_content"]

CONTENT_CIPHERS = {  # name -> (key length, AEAD)
    "aes128_cbc": (16, False),
    "aes192_cbc": (24, False),
    "aes256_cbc": (32, False),
    "tripledes_3key": (24, False),
    "aes128_gcm": (16, True),
    "aes192_gcm": (24, True),
    "aes256_gcm": (32, True),
}
_WRAP_FOR = {16: "aes128_wrap", 24: "aes192_wrap", 32: "aes256_wrap"}
_KARI_SHA256 = "1.3.132.1.11.1"  # dhSinglePass-stdDH-sha256kdf-scheme (RFC 5753 section 7.1.4)

Tamper = Literal["signature", "digest", "tag", "ciphertext"] | None


def _ias(cert: x509.Certificate) -> acms.IssuerAndSerialNumber:
    ac = ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    return acms.IssuerAndSerialNumber({"issuer": ac.issuer, "serial_number": ac.serial_number})


def _flip(data: bytes, index: int = -1) -> bytes:
    b = bytearray(data)
    b[index] ^= 0x01
    return bytes(b)


def _sign(key: Any, data: bytes, digest: str, pss: bool) -> tuple[bytes, dict[str, Any]]:
    h = hash_by_name(digest)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data), {"algorithm": "ed25519"}
    if isinstance(key, rsa.RSAPrivateKey):
        if pss:
            params = algos.RSASSAPSSParams(
                {
                    "hash_algorithm": {"algorithm": digest},
                    "mask_gen_algorithm": {
                        "algorithm": "mgf1",
                        "parameters": {"algorithm": digest},
                    },
                    "salt_length": h.digest_size,
                }
            )
            pad = apad.PSS(mgf=apad.MGF1(h), salt_length=h.digest_size)
            return key.sign(data, pad, h), {"algorithm": "rsassa_pss", "parameters": params}
        return key.sign(data, apad.PKCS1v15(), h), {"algorithm": "rsassa_pkcs1v15"}
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(h)), {"algorithm": f"{digest}_ecdsa"}
    raise UsageError(f"cannot sign with a {type(key).__name__}")


def sign_content(
    *,
    content: bytes,
    signers: list[tuple[Any, x509.Certificate]],
    digest: str = "sha256",
    pss: bool = False,
    detached: bool = False,
    signed_attributes: bool = True,
    include_certificates: bool = True,
    extra_certificates: list[x509.Certificate] | None = None,
    content_type: str = "1.2.840.113549.1.7.1",
    tamper: Tamper = None,
) -> bytes:
    """A DER ContentInfo holding SignedData over ``content`` by every ``(key, cert)``.

    Ed25519 signers use SHA-512 as the digest algorithm (RFC 8419 section 3).  ``tamper``
    breaks the result on purpose: ``"signature"`` flips a signature bit, ``"digest"`` the
    messageDigest attribute (the signature then covers the wrong digest)."""
    if not signers:
        raise UsageError("sign_content needs at least one signer")
    infos = []
    digests: list[str] = []
    for key, cert in signers:
        dg = "sha512" if isinstance(key, ed25519.Ed25519PrivateKey) else digest
        if dg not in digests:
            digests.append(dg)
        si: dict[str, Any] = {"version": "v1", "sid": {"issuer_and_serial_number": _ias(cert)}}
        si["digest_algorithm"] = {"algorithm": dg}
        if signed_attributes:
            hasher = hashes.Hash(hash_by_name(dg))
            hasher.update(content)
            md = hasher.finalize()
            if tamper == "digest":
                md = _flip(md)
            attrs = [
                {"type": "content_type", "values": [content_type]},
                {"type": "signing_time", "values": [acms.Time({"utc_time": _now()})]},
                {"type": "message_digest", "values": [md]},
            ]
            # DER: a SET OF is ordered by the encodings of its elements (X.690 11.6)
            encoded = sorted(acms.CMSAttribute(a).dump() for a in attrs)
            attr_set = acms.CMSAttributes([acms.CMSAttribute.load(e) for e in encoded])
            to_sign = attr_set.dump()
            si["signed_attrs"] = attr_set
        else:
            to_sign = content
        sig, sig_alg = _sign(key, to_sign, dg, pss)
        if tamper == "signature":
            sig = _flip(sig, len(sig) // 2)
        si["signature_algorithm"] = sig_alg
        si["signature"] = sig
        infos.append(acms.SignerInfo(si))
    certs = [c for _, c in signers] if include_certificates else []
    certs += list(extra_certificates or [])
    sd: dict[str, Any] = {
        "version": "v1" if content_type == "1.2.840.113549.1.7.1" else "v3",
        "digest_algorithms": [{"algorithm": d} for d in digests],
        "encap_content_info": {
            "content_type": content_type,
            "content": None if detached else content,
        },
        "signer_infos": infos,
    }
    if certs:
        sd["certificates"] = [
            acms.CertificateChoices(
                name="certificate",
                value=ax509.Certificate.load(c.public_bytes(serialization.Encoding.DER)),
            )
            for c in certs
        ]
    ci = acms.ContentInfo({"content_type": "signed_data", "content": acms.SignedData(sd)})
    return bytes(ci.dump())


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _ktri(cert: x509.Certificate, cek: bytes, oaep: bool) -> acms.RecipientInfo:
    pub = cert.public_key()
    assert isinstance(pub, rsa.RSAPublicKey)
    if oaep:  # RFC 8017 A.2.1 / RFC 3560: SHA-256 for hash and MGF1
        pad: apad.AsymmetricPadding = apad.OAEP(
            mgf=apad.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None
        )
        alg: dict[str, Any] = {
            "algorithm": "rsaes_oaep",
            "parameters": {
                "hash_algorithm": {"algorithm": "sha256"},
                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
            },
        }
    else:
        pad, alg = apad.PKCS1v15(), {"algorithm": "rsaes_pkcs1v15"}
    ktri = {
        "version": "v0",
        "rid": {"issuer_and_serial_number": _ias(cert)},
        "key_encryption_algorithm": alg,
        "encrypted_key": pub.encrypt(cek, pad),
    }
    return acms.RecipientInfo(name="ktri", value=acms.KeyTransRecipientInfo(ktri))


def _kari(cert: x509.Certificate, cek: bytes) -> acms.RecipientInfo:
    pub = cert.public_key()
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    eph = ec.generate_private_key(pub.curve)
    wrap_len = 32 if len(cek) >= 24 else 16
    wrap = _WRAP_FOR[wrap_len]
    wrap_oid = acms.KeyEncryptionAlgorithmId(wrap).dotted
    kek = kari_kek(eph.exchange(ec.ECDH(), pub), _KARI_SHA256, wrap_oid, None)
    point = eph.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    # RFC 5753 section 7.1.1 (and what OpenSSL writes): id-ecPublicKey, parameters absent
    originator = keys.PublicKeyInfo(
        {"algorithm": {"algorithm": "ec"}, "public_key": keys.ECPointBitString(point)}
    )
    kari = acms.KeyAgreeRecipientInfo(
        {
            "version": "v3",
            "originator": acms.OriginatorIdentifierOrKey(name="originator_key", value=originator),
            "key_encryption_algorithm": {
                "algorithm": _KARI_SHA256,
                "parameters": acms.KeyEncryptionAlgorithm({"algorithm": wrap}),
            },
            "recipient_encrypted_keys": [
                {
                    "rid": {"issuer_and_serial_number": _ias(cert)},
                    "encrypted_key": aes_key_wrap(kek, cek),
                }
            ],
        }
    )
    return acms.RecipientInfo(name="kari", value=kari)


def _kekri(kid: bytes, kek: bytes, cek: bytes) -> acms.RecipientInfo:
    kekri = acms.KEKRecipientInfo(
        {
            "version": "v4",
            "kekid": {"key_identifier": kid},
            "key_encryption_algorithm": {"algorithm": _WRAP_FOR[len(kek)]},
            "encrypted_key": aes_key_wrap(kek, cek),
        }
    )
    return acms.RecipientInfo(name="kekri", value=kekri)


def pwri_wrap(key: bytes, iv: bytes, cek: bytes) -> bytes:
    """RFC 3211 section 2.3.1 with AES: length, check bytes, key, random pad; encrypted twice."""
    b = 16
    block = bytes([len(cek)]) + bytes(x ^ 0xFF for x in cek[:3]) + cek
    size = max(2 * b, -(-len(block) // b) * b)
    block += os.urandom(size - len(block))
    enc1 = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor().update(block)
    return Cipher(algorithms.AES(key), modes.CBC(enc1[-b:])).encryptor().update(enc1)


def _pwri(password: bytes, cek: bytes) -> acms.RecipientInfo:
    salt, iv, iterations = os.urandom(16), os.urandom(16), 2048
    kek = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=iterations).derive(
        password
    )
    pwri = acms.PasswordRecipientInfo(
        {
            "version": "v0",
            "key_derivation_algorithm": {
                "algorithm": "pbkdf2",
                "parameters": {
                    "salt": algos.Pbkdf2Salt(name="specified", value=salt),
                    "iteration_count": iterations,
                    "prf": {"algorithm": "sha256"},
                },
            },
            "key_encryption_algorithm": {
                "algorithm": OID_PWRI_KEK,
                "parameters": algos.EncryptionAlgorithm(
                    {"algorithm": "aes256_cbc", "parameters": iv}
                ),
            },
            "encrypted_key": pwri_wrap(kek, iv, cek),
        }
    )
    return acms.RecipientInfo(name="pwri", value=pwri)


def encrypt_content(
    *,
    content: bytes,
    recipients: list[x509.Certificate] | None = None,
    keks: list[tuple[bytes, bytes]] | None = None,
    passwords: list[bytes] | None = None,
    cipher: str = "aes256_cbc",
    oaep: bool = False,
    content_type: str = "1.2.840.113549.1.7.1",
    tamper: Tamper = None,
) -> bytes:
    """A DER ContentInfo: EnvelopedData for the CBC ciphers, AuthEnvelopedData (RFC 5083/5084)
    for the GCM ones.  RSA certificates get ktri (PKCS#1 v1.5, or OAEP with SHA-256), EC ones
    kari (ephemeral-static ECDH, X9.63 KDF with SHA-256, AES key wrap); ``keks`` are
    ``(key identifier, AES key)``; ``passwords`` get pwri (PBKDF2-SHA256, RFC 3211 wrap).
    ``tamper``: ``"tag"`` flips a GCM tag bit, ``"ciphertext"`` a ciphertext bit."""
    if cipher not in CONTENT_CIPHERS:
        raise UsageError(f"unknown content cipher {cipher!r} (known: {', '.join(CONTENT_CIPHERS)})")
    klen, aead = CONTENT_CIPHERS[cipher]
    cek = os.urandom(klen)
    ris: list[acms.RecipientInfo] = []
    for cert in recipients or []:
        pub = cert.public_key()
        if isinstance(pub, rsa.RSAPublicKey):
            ris.append(_ktri(cert, cek, oaep))
        elif isinstance(pub, ec.EllipticCurvePublicKey):
            ris.append(_kari(cert, cek))
        else:
            raise UsageError(f"cannot encrypt to a {type(pub).__name__} certificate")
    ris += [_kekri(kid, kek, cek) for kid, kek in keks or []]
    ris += [_pwri(pw, cek) for pw in passwords or []]
    if not ris:
        raise UsageError("encrypt_content needs at least one recipient")
    if aead:
        nonce = os.urandom(12)
        sealed = AESGCM(cek).encrypt(nonce, content, None)
        ct, tag = sealed[:-16], sealed[-16:]
        if tamper == "tag":
            tag = _flip(tag)
        if tamper == "ciphertext" and ct:
            ct = _flip(ct, 0)
        aed = acms.AuthEnvelopedData(
            {
                "version": "v0",
                "recipient_infos": ris,
                "auth_encrypted_content_info": {
                    "content_type": content_type,
                    "content_encryption_algorithm": {
                        "algorithm": cipher,
                        "parameters": GCMParameters({"aes_nonce": nonce, "aes_icvlen": 16}),
                    },
                    "encrypted_content": ct,
                },
                "mac": tag,
            }
        )
        return bytes(
            acms.ContentInfo(
                {"content_type": "authenticated_enveloped_data", "content": aed}
            ).dump()
        )
    iv = os.urandom(8 if cipher == "tripledes_3key" else 16)
    algo = TripleDES(cek) if cipher == "tripledes_3key" else algorithms.AES(cek)
    padder = padding.PKCS7(algo.block_size).padder()
    enc = Cipher(algo, modes.CBC(iv)).encryptor()
    ct = enc.update(padder.update(content) + padder.finalize()) + enc.finalize()
    if tamper == "ciphertext":
        ct = _flip(ct, 0)
    version = "v2" if any(r.name in ("pwri", "kekri", "ori") for r in ris) else "v0"
    if any(r.name == "kari" for r in ris) and version == "v0":
        version = "v2"  # RFC 5652 section 6.1: v2 when a kari... (OpenSSL writes 2 as well)
    ed = acms.EnvelopedData(
        {
            "version": version,
            "recipient_infos": ris,
            "encrypted_content_info": {
                "content_type": content_type,
                "content_encryption_algorithm": {"algorithm": cipher, "parameters": iv},
                "encrypted_content": ct,
            },
        }
    )
    return bytes(acms.ContentInfo({"content_type": "enveloped_data", "content": ed}).dump())
