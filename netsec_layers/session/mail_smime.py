"""S/MIME (RFC 8551) messages around CMS: clear-signed (multipart/signed, RFC 1847 + RFC 8551
section 3.5.3), opaque-signed and enveloped (application/pkcs7-mime).

The entity to protect is taken as given bytes (a MIME entity: header fields, empty line, body);
lone LF line breaks are turned into CRLF first (RFC 8551 section 3.1.1 canonical form), since a
signature over LF text would not survive transport."""

from __future__ import annotations

import os
import re
from typing import Any

from cryptography import x509

from netsec_layers.crypto.cms_build import encrypt_content, sign_content
from netsec_layers.layers.mail.transfer import encode_base64

__all__ = ["canonical_crlf", "smime_encrypt", "smime_sign"]

_MICALG = {"sha256": "sha-256", "sha384": "sha-384", "sha512": "sha-512"}


def canonical_crlf(entity: bytes) -> bytes:
    return re.sub(rb"(?<!\r)\n", b"\r\n", entity)


def smime_sign(
    entity: bytes,
    *,
    signer: tuple[Any, x509.Certificate],
    opaque: bool = False,
    pss: bool = False,
    digest: str = "sha256",
    tamper: Any = None,
) -> bytes:
    """A clear-signed (default) or opaque-signed S/MIME entity over ``entity``."""
    content = canonical_crlf(entity)
    if opaque:
        der = sign_content(content=content, signers=[signer], digest=digest, pss=pss, tamper=tamper)
        return (
            b'Content-Type: application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"\r\n'
            b"Content-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="smime.p7m"\r\n'
            b"\r\n" + encode_base64(der)
        )
    der = sign_content(
        content=content, signers=[signer], digest=digest, pss=pss, detached=True, tamper=tamper
    )
    boundary = b"----=_netsec_" + os.urandom(12).hex().encode()
    return (
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg='
        + _MICALG.get(digest, digest).encode()
        + b'; boundary="'
        + boundary
        + b'"\r\n\r\nThis is an S/MIME signed message\r\n\r\n--'
        + boundary
        + b"\r\n"
        + content
        + b"\r\n--"
        + boundary
        + b"\r\n"
        b'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\n'
        b"Content-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="smime.p7s"\r\n\r\n'
        + encode_base64(der)
        + b"\r\n--"
        + boundary
        + b"--\r\n"
    )


def smime_encrypt(
    entity: bytes,
    *,
    recipients: list[x509.Certificate],
    cipher: str = "aes256_cbc",
    oaep: bool = False,
    tamper: Any = None,
) -> bytes:
    """An application/pkcs7-mime enveloped-data (or authEnveloped-data for GCM) entity."""
    der = encrypt_content(
        content=canonical_crlf(entity),
        recipients=recipients,
        cipher=cipher,
        oaep=oaep,
        tamper=tamper,
    )
    smime_type = b"authEnveloped-data" if cipher.endswith("gcm") else b"enveloped-data"
    return (
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: application/pkcs7-mime; smime-type="
        + smime_type
        + b'; name="smime.p7m"\r\n'
        b"Content-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="smime.p7m"\r\n\r\n' + encode_base64(der)
    )
