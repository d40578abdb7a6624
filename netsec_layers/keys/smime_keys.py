"""Key and certificate files for S/MIME / CMS: private keys (PEM, DER, PKCS#8 with or without
a password, PKCS#12 bundles) and certificates (PEM with one or more blocks, or DER), paired so
that a RecipientInfo naming a certificate finds its private key."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from netsec_layers.errors import KeyFileError

_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.S)

__all__ = ["SMIMEKeyring", "load_certificates", "load_private_keys", "split_key_spec"]


def split_key_spec(spec: str) -> tuple[str, bytes | None]:
    """``FILE[:PASSWORD]`` -> (path, password); a path that exists as given wins."""
    if Path(spec).exists() or ":" not in spec:
        return spec, None
    path, _, password = spec.partition(":")
    return path, password.encode()


def load_private_keys(
    data: bytes, password: bytes | None = None, *, name: str = "key"
) -> tuple[list[Any], list[x509.Certificate]]:
    """Private keys (and, from PKCS#12, certificates) in ``data``."""
    errors: list[str] = []
    if b"-----BEGIN" in data:
        keys: list[Any] = []
        certs: list[x509.Certificate] = []
        for m in _PEM.finditer(data):
            label, pem = m.group(1), m.group(0) + b"\n"
            if label.endswith(b"PRIVATE KEY"):
                try:
                    keys.append(serialization.load_pem_private_key(pem, password))
                except (ValueError, TypeError) as exc:
                    errors.append(str(exc))
            elif label in (b"CERTIFICATE", b"X509 CERTIFICATE"):
                try:
                    certs.append(x509.load_pem_x509_certificate(pem))
                except (ValueError, x509.InvalidVersion) as exc:
                    errors.append(str(exc))
        if keys:
            return keys, certs
    else:
        try:
            return [serialization.load_der_private_key(data, password)], []
        except (ValueError, TypeError) as exc:
            errors.append(str(exc))
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(data, password)
            if key is not None:
                return [key], ([cert] if cert else []) + list(extra)
        except (ValueError, TypeError) as exc:
            errors.append(str(exc))
    why = errors[0] if errors else "no private key found"
    raise KeyFileError(f"{name}: cannot read private key ({why})")


def load_certificates(data: bytes, *, name: str = "certificate") -> list[x509.Certificate]:
    """Every certificate in a PEM file, or the one in a DER file."""
    try:
        if b"-----BEGIN" in data:
            return list(x509.load_pem_x509_certificates(data))
        return [x509.load_der_x509_certificate(data)]
    except (ValueError, x509.InvalidVersion) as exc:
        raise KeyFileError(f"{name}: cannot read certificate ({exc})") from None


def _same_key(key: Any, cert: x509.Certificate) -> bool:
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    try:
        return bool(
            key.public_key().public_bytes(enc, fmt) == cert.public_key().public_bytes(enc, fmt)
        )
    except (ValueError, TypeError, AttributeError):
        return False


@dataclass
class SMIMEKeyring:
    """What ``--key``, ``--cert``, ``--passphrase`` (and ``--kek``) gave."""

    keys: list[Any] = field(default_factory=list)
    certificates: list[x509.Certificate] = field(default_factory=list)
    passwords: list[bytes] = field(default_factory=list)
    keks: dict[bytes, bytes] = field(default_factory=dict)
    anchors: list[x509.Certificate] = field(default_factory=list)

    def add_key_file(self, spec: str) -> None:
        path, password = split_key_spec(spec)
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise KeyFileError(f"{path}: {exc.strerror}") from None
        keys, certs = load_private_keys(data, password, name=path)
        self.keys += keys
        self.certificates += certs

    def add_cert_file(self, path: str, *, anchor: bool = False) -> None:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise KeyFileError(f"{path}: {exc.strerror}") from None
        certs = load_certificates(data, name=path)
        (self.anchors if anchor else self.certificates).extend(certs)

    def pairs(self) -> list[tuple[Any, x509.Certificate | None]]:
        """Each key with its certificate when one of the certificates matches it."""
        out: list[tuple[Any, x509.Certificate | None]] = []
        for key in self.keys:
            match = [c for c in self.certificates if _same_key(key, c)]
            out += [(key, c) for c in match] or [(key, None)]
        return out
