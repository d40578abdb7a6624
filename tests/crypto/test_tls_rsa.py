"""RSA key loading and the RFC 5246 §7.4.7.1 pre-master countermeasure.

The pre-master path against OpenSSL is in test_tls_interop.py (static RSA suites, with and
without the extended master secret).  Here: key formats and the failure behaviour.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from netsec_layers.crypto.tls_rsa import (
    decrypt_pre_master,
    load_rsa_key_file,
    load_rsa_private_key,
)
from netsec_layers.errors import KeyFileError, UsageError

KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)


def _pem(fmt: serialization.PrivateFormat, password: bytes | None = None) -> bytes:
    enc = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return KEY.private_bytes(serialization.Encoding.PEM, fmt, enc)


@pytest.mark.parametrize(
    "data,password",
    [
        (_pem(serialization.PrivateFormat.TraditionalOpenSSL), None),
        (_pem(serialization.PrivateFormat.PKCS8), None),
        (_pem(serialization.PrivateFormat.PKCS8, b"pw"), b"pw"),
        (
            KEY.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            None,
        ),
    ],
    ids=["pkcs1-pem", "pkcs8-pem", "pkcs8-pem-encrypted", "pkcs8-der"],
)
def test_load_formats(data: bytes, password: bytes | None) -> None:
    key = load_rsa_private_key(data, password)
    assert key.private_numbers() == KEY.private_numbers()


def test_load_failures(tmp_path: Path) -> None:
    enc = _pem(serialization.PrivateFormat.PKCS8, b"pw")
    for data, pw in ((enc, None), (enc, b"wrong"), (b"garbage", None), (b"", None)):
        with pytest.raises(KeyFileError):
            load_rsa_private_key(data, pw)
    eckey = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(KeyFileError, match="not an RSA"):
        load_rsa_private_key(eckey)
    with pytest.raises(KeyFileError):
        load_rsa_key_file(tmp_path / "missing.pem")
    p = tmp_path / "k.pem"
    p.write_bytes(_pem(serialization.PrivateFormat.PKCS8))
    assert load_rsa_key_file(p).key_size == 1024


def test_pre_master_success_and_version_rule() -> None:
    pms = b"\x03\x03" + os.urandom(46)
    enc = KEY.public_key().encrypt(pms, padding.PKCS1v15())
    assert decrypt_pre_master(KEY, enc, client_version=0x0303) == pms
    # A client that put another version inside gets ClientHello.client_version + M[2:] ...
    bad_version = b"\x03\x01" + pms[2:]
    enc2 = KEY.public_key().encrypt(bad_version, padding.PKCS1v15())
    assert decrypt_pre_master(KEY, enc2, client_version=0x0303) == pms
    # ... unless the version check is explicitly off for an old client (RFC 5246 §7.4.7.1).
    assert decrypt_pre_master(KEY, enc2, client_version=0x0301, check_version=False) == bad_version


def test_pre_master_failures_give_random_secret() -> None:
    wrong_len = KEY.public_key().encrypt(os.urandom(20), padding.PKCS1v15())
    for enc in (wrong_len, b"", os.urandom(5)):
        a = decrypt_pre_master(KEY, enc, client_version=0x0303)
        b = decrypt_pre_master(KEY, enc, client_version=0x0303)
        assert len(a) == 48 and a[:2] == b"\x03\x03" and a != b
    with pytest.raises(UsageError):
        decrypt_pre_master(KEY, b"", client_version=0x10000)


def test_pre_master_of_random_ciphertexts() -> None:
    """Random bytes as ciphertext: OpenSSL >= 3.2 answers bad PKCS#1 padding with a synthetic
    message derived from the ciphertext (implicit rejection) instead of an error.  When that
    message has 48 bytes it is used like any other (same result every time); otherwise the
    secret is random, as RFC 5246 section 7.4.7.1 asks."""
    for _ in range(20):
        enc = os.urandom(128)
        try:
            synthetic = KEY.decrypt(enc, padding.PKCS1v15())
        except ValueError:
            synthetic = b""
        a = decrypt_pre_master(KEY, enc, client_version=0x0303)
        b = decrypt_pre_master(KEY, enc, client_version=0x0303)
        assert len(a) == 48 and a[:2] == b"\x03\x03"
        if len(synthetic) == 48:
            assert a == b == b"\x03\x03" + synthetic[2:]
        else:
            assert a != b
