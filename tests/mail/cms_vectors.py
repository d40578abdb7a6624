"""The one loader of tests/vectors/mail/cms_vectors.json (CMS objects from other implementations)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography import x509

from netsec_layers.crypto.cms_envelope import RecipientKeys, load_private_key

VECTORS = Path(__file__).parents[1] / "vectors" / "mail"
CMS = VECTORS / "cms"
MANIFEST: dict[str, Any] = json.loads((VECTORS / "cms_vectors.json").read_text())


def cert(name: str) -> x509.Certificate:
    data = (VECTORS / name).read_bytes()
    if data.startswith(b"-----"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def content_of(v: dict[str, Any]) -> bytes:
    c = v.get("content")
    return c.encode() if c is not None else (CMS / "content.txt").read_bytes()


def default_keys() -> RecipientKeys:
    keys = RecipientKeys()
    for n in ("rsa", "ec", "ec384"):
        keys.private_keys.append(
            (load_private_key((CMS / f"{n}.key").read_bytes()), cert(f"cms/{n}.crt"))
        )
    keys.keks[bytes.fromhex((CMS / "kekid.hex").read_text().strip())] = bytes.fromhex(
        (CMS / "kek.hex").read_text().strip()
    )
    keys.passwords.append((CMS / "password.txt").read_text().strip().encode())
    return keys


def keys_of(v: dict[str, Any]) -> RecipientKeys:
    if "keys" not in v:
        return default_keys()
    return RecipientKeys(
        private_keys=[(load_private_key((VECTORS / k).read_bytes()), cert(c)) for k, c in v["keys"]]
    )
