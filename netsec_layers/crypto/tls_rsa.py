"""Static-RSA key exchange: server private keys and the encrypted pre-master secret.

RFC 5246 §7.4.7.1: a server must not reveal whether PKCS#1 v1.5 decryption failed (Bleichenbacher);
it continues with a random pre-master secret instead, so the handshake fails at Finished.  We
follow the same rule, which also means a *wrong key* gives a random pre-master: callers learn
the truth from the Finished check.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from netsec_layers.errors import KeyFileError, UsageError

__all__ = ["RSAPrivateKey", "decrypt_pre_master", "load_rsa_private_key", "load_rsa_key_file"]


def load_rsa_private_key(data: bytes, password: bytes | None = None) -> RSAPrivateKey:
    """Load an RSA private key from PEM (PKCS#1 or PKCS#8, optionally encrypted) or DER.

    Raises KeyFileError when the data is not an RSA private key or the password is wrong/missing,
    with a one-line reason of our own (never the ASN.1 parser's text).
    """
    key = None
    encrypted = b"ENCRYPTED" in data  # PKCS#8 "ENCRYPTED PRIVATE KEY" or "Proc-Type: 4,ENCRYPTED"
    loaders = []
    if b"-----BEGIN" in data:
        loaders.append(serialization.load_pem_private_key)
    loaders.append(serialization.load_der_private_key)
    reason = "not an RSA private key (PEM or DER)"
    for loader in loaders:
        try:
            key = loader(data, password=password)
            break
        except TypeError:  # password missing, or given for an unencrypted key
            reason = (
                "the key is encrypted: give its password as FILE:PASSWORD"
                if password is None
                else "a password was given but the key is not encrypted"
            )
            break
        except (ValueError, UsageError):
            if encrypted and password is not None:
                reason = "wrong password for the encrypted key"
                break
        except Exception:  # noqa: BLE001 - pyca raises UnsupportedAlgorithm for odd key types
            reason = "not an RSA private key (unsupported key type or encryption)"
    if key is None:
        raise KeyFileError(reason)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFileError(f"not an RSA private key: {type(key).__name__}")
    return key


def load_rsa_key_file(path: str | os.PathLike[str], password: bytes | None = None) -> RSAPrivateKey:
    """Read and load a key file; KeyFileError if it cannot be read or parsed."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise KeyFileError(f"cannot read RSA key {os.fspath(path)!r}: {exc.strerror}") from None
    return load_rsa_private_key(data, password)


def decrypt_pre_master(
    key: RSAPrivateKey, encrypted: bytes, *, client_version: int, check_version: bool = True
) -> bytes:
    """Decrypt the EncryptedPreMasterSecret with the RFC 5246 §7.4.7.1 countermeasure.

    ``client_version`` is ClientHello.client_version.  On a PKCS#1 failure or a wrong length the
    result is client_version + 46 random bytes; otherwise client_version + M[2:48] (the version
    check), or M itself when ``check_version`` is False and client_version <= TLS 1.0 (old
    clients that sent the negotiated version, as the RFC allows).
    """
    if not 0 <= client_version <= 0xFFFF:
        raise UsageError("client_version must fit in 16 bits")
    version = client_version.to_bytes(2, "big")
    random_tail = os.urandom(46)
    try:
        message = key.decrypt(bytes(encrypted), padding.PKCS1v15())
    except ValueError:
        message = b""
    if len(message) != 48:
        return version + random_tail
    if not check_version and client_version <= 0x0301:
        return message
    return version + message[2:]
