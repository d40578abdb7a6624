"""What we craft, ``openssl cms`` (OpenSSL 3.0) accepts -- and rejects when we break it on
purpose; and what openssl makes now (fresh keys, random content), we open."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from netsec_layers.crypto.cms import load_content_info, verify_signed_data
from netsec_layers.crypto.cms_build import encrypt_content, sign_content
from netsec_layers.crypto.cms_envelope import RecipientKeys, open_auth_enveloped, open_enveloped
from tests.mail.cms_vectors import CMS, cert, default_keys

pytestmark = pytest.mark.integration

KEK = bytes.fromhex("000102030405060708090a0b0c0d0e0f")


def _openssl(*args: Any, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    exe = shutil.which("openssl")
    assert exe, "openssl is required (Debian package openssl)"
    return subprocess.run([exe, *map(str, args)], input=stdin, capture_output=True, timeout=60)


def _key(name: str) -> Any:
    from netsec_layers.crypto.cms_envelope import load_private_key

    return load_private_key((CMS / f"{name}.key").read_bytes())


CONTENT = b"Content-Type: text/plain\r\n\r\nmade by netsec_layers\r\n\xff\x00binary\r\n"


@pytest.mark.parametrize(
    ("signer", "kw"),
    [
        ("rsa", {}),
        ("rsa", {"pss": True, "digest": "sha384"}),
        ("rsa", {"signed_attributes": False}),
        ("ec", {}),
        ("ec384", {"digest": "sha384"}),
        ("rsa", {"detached": True}),
    ],
)
def test_openssl_verifies_our_signatures(tmp_path: Path, signer: str, kw: dict[str, Any]) -> None:
    der = sign_content(content=CONTENT, signers=[(_key(signer), cert(f"cms/{signer}.crt"))], **kw)
    (tmp_path / "s.der").write_bytes(der)
    args = ["cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "s.der"]
    args += ["-CAfile", CMS / "ca.crt"]
    if kw.get("detached"):
        (tmp_path / "c").write_bytes(CONTENT)
        args += ["-content", tmp_path / "c"]
    ok = _openssl(*args)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == CONTENT
    # broken on request: openssl refuses
    for tamper in ("signature", "digest") if kw.get("signed_attributes", True) else ("signature",):
        bad = sign_content(
            content=CONTENT,
            signers=[(_key(signer), cert(f"cms/{signer}.crt"))],
            tamper=tamper,
            **kw,
        )
        (tmp_path / "s.der").write_bytes(bad)
        assert _openssl(*args).returncode != 0


def test_openssl_verifies_two_signers(tmp_path: Path) -> None:
    der = sign_content(
        content=CONTENT,
        signers=[(_key("rsa"), cert("cms/rsa.crt")), (_key("ec"), cert("cms/ec.crt"))],
    )
    (tmp_path / "s.der").write_bytes(der)
    r = _openssl(
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        tmp_path / "s.der",
        "-CAfile",
        CMS / "ca.crt",
    )
    assert r.returncode == 0 and r.stdout == CONTENT


ENCRYPT_CASES = [
    ("rsa", "aes128_cbc", False),
    ("rsa", "aes192_cbc", False),
    ("rsa", "aes256_cbc", True),
    ("rsa", "tripledes_3key", False),
    ("rsa", "aes256_gcm", False),
    ("rsa", "aes128_gcm", True),
    ("ec", "aes128_cbc", False),
    ("ec", "aes256_cbc", False),
    ("ec384", "aes256_gcm", False),
]


@pytest.mark.parametrize(("who", "cipher", "oaep"), ENCRYPT_CASES)
def test_openssl_decrypts_ours(tmp_path: Path, who: str, cipher: str, oaep: bool) -> None:
    der = encrypt_content(
        content=CONTENT, recipients=[cert(f"cms/{who}.crt")], cipher=cipher, oaep=oaep
    )
    (tmp_path / "e.der").write_bytes(der)
    r = _openssl(
        "cms",
        "-decrypt",
        "-binary",
        "-inform",
        "DER",
        "-in",
        tmp_path / "e.der",
        "-recip",
        CMS / f"{who}.crt",
        "-inkey",
        CMS / f"{who}.key",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == CONTENT


def test_openssl_decrypts_kek_pwri_and_several_recipients(tmp_path: Path) -> None:
    der = encrypt_content(
        content=CONTENT,
        recipients=[cert("cms/rsa2.crt"), cert("cms/ec.crt"), cert("cms/rsa.crt")],
        keks=[(b"\xc0\xff\xee", KEK)],
        passwords=[b"pw 1"],
    )
    (tmp_path / "e.der").write_bytes(der)
    base = ["cms", "-decrypt", "-binary", "-inform", "DER", "-in", tmp_path / "e.der"]
    for extra in (
        ["-secretkey", KEK.hex(), "-secretkeyid", "c0ffee"],
        ["-pwri_password", "pw 1"],
        ["-recip", CMS / "ec.crt", "-inkey", CMS / "ec.key"],
        ["-recip", CMS / "rsa.crt", "-inkey", CMS / "rsa.key"],
    ):
        r = _openssl(*base, *extra)
        assert r.returncode == 0 and r.stdout == CONTENT, (extra, r.stderr)


def test_openssl_rejects_broken_gcm_tag(tmp_path: Path) -> None:
    der = encrypt_content(
        content=CONTENT, recipients=[cert("cms/rsa.crt")], cipher="aes256_gcm", tamper="tag"
    )
    (tmp_path / "e.der").write_bytes(der)
    r = _openssl(
        "cms",
        "-decrypt",
        "-binary",
        "-inform",
        "DER",
        "-in",
        tmp_path / "e.der",
        "-recip",
        CMS / "rsa.crt",
        "-inkey",
        CMS / "rsa.key",
    )
    assert r.returncode != 0


@pytest.mark.parametrize(
    "args",
    [
        ["-encrypt", "-aes-256-gcm", "-recip", "cms/ec384.crt"],
        ["-encrypt", "-aes128", "-recip", "cms/rsa.crt", "-keyopt", "rsa_padding_mode:oaep"],
        ["-encrypt", "-des3", "-pwri_password", "correct horse"],
        ["-sign", "-nodetach", "-signer", "cms/rsa.crt", "-inkey", "cms/rsa.key", "-md", "sha224"],
        ["-sign", "-nodetach", "-signer", "cms/ec.crt", "-inkey", "cms/ec.key", "-md", "sha512"],
    ],
)
def test_we_open_what_openssl_makes_now(tmp_path: Path, args: list[str]) -> None:
    content = os.urandom(777)
    (tmp_path / "in").write_bytes(content)
    full = [a if not a.startswith("cms/") else str(CMS.parent / a) for a in args]
    r = _openssl("cms", *full, "-binary", "-in", tmp_path / "in", "-outform", "DER")
    assert r.returncode == 0, r.stderr
    ci = load_content_info(r.stdout)
    kind = ci["content_type"].native
    if kind == "signed_data":
        res = verify_signed_data(ci["content"], anchors=[cert("cms/ca.crt")])
        assert res.content == content and res.signers[0].valid is True
        return
    keys: RecipientKeys = default_keys()
    opened = (open_enveloped if kind == "enveloped_data" else open_auth_enveloped)(
        ci["content"], keys
    )
    assert opened.content == content
