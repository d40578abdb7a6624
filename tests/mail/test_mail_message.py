"""The ``netsec mail dissect`` JSON contract on S/MIME messages made by ``openssl cms``
(clear-signed, opaque-signed, enveloped, signed-then-enveloped) and on bare CMS objects; our
S/MIME messages go through openssl (integration) and through our reader."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netsec_layers.keys.smime_keys import SMIMEKeyring
from netsec_layers.session.mail_message import detect_kind, dissect_message
from netsec_layers.session.mail_smime import smime_encrypt, smime_sign
from tests.mail.cms_vectors import CMS, cert

CONTENT = (CMS / "content.txt").read_bytes()
RSA_SUBJECT = "1.2.840.113549.1.9.1=rsa@example.org,CN=RSA user"


def _ring(*names: str, ca: bool = True) -> SMIMEKeyring:
    ring = SMIMEKeyring()
    for n in names:
        ring.add_key_file(str(CMS / f"{n}.key"))
        ring.add_cert_file(str(CMS / f"{n}.crt"))
    if ca:
        ring.add_cert_file(str(CMS / "ca.crt"), anchor=True)
    return ring


def _json(name: str, ring: SMIMEKeyring) -> dict[str, Any]:
    out = dissect_message((CMS / name).read_bytes(), ring).to_json()
    json.dumps(out)  # serialisable
    return out


def test_clear_signed() -> None:
    out = _json("clear-signed.eml", _ring())
    assert out["kind"] == "mime" and out["decrypted"] is False and out["error"] is None
    assert out["signatures"][0]["signer"] == RSA_SUBJECT
    assert out["signatures"][0]["valid"] is True and out["signatures"][0]["error"] is None
    root = out["tree"][0]
    assert root["content_type"] == "multipart/signed"
    assert [c["content_type"] for c in root["children"]] == [
        "text/plain",
        "application/pkcs7-signature",
    ]
    # content: the first body part's bytes, as signed (openssl canonicalises to CRLF)
    assert bytes.fromhex(out["content"]) == CONTENT
    leaf = root["children"][0]
    assert leaf["body_sha256"] == hashlib.sha256(CONTENT.split(b"\r\n\r\n", 1)[1]).hexdigest()


def test_clear_signed_tampered_is_invalid() -> None:
    data = (CMS / "clear-signed.eml").read_bytes().replace(b"Second line.", b"Second line!")
    out = dissect_message(data, _ring()).to_json()
    assert out["signatures"][0]["valid"] is False and out["signatures"][0]["error"]


def test_opaque_signed_and_no_certificate() -> None:
    out = _json("opaque-signed.eml", _ring())
    assert out["signatures"][0]["valid"] is True
    assert bytes.fromhex(out["content"]) == CONTENT
    assert out["tree"][0]["content_type"] == "application/pkcs7-mime"


def test_enveloped_needs_key() -> None:
    out = _json("enveloped.eml", _ring(ca=False))
    assert out["decrypted"] is False and out["content"] is None and out["error"]
    serial = cert("cms/rsa.crt").serial_number
    recipients = [n for n in out["tree"] if "cms" in n][0]["recipients"]
    assert recipients == [
        {
            "type": "ktri",
            "algorithm": "rsaes_pkcs1v15",
            "id": f"issuer=Common Name: netsec test CA serial=0x{serial:x}",
        }
    ]
    out = _json("enveloped.eml", _ring("rsa"))
    assert out["decrypted"] is True and bytes.fromhex(out["content"]) == CONTENT
    cms = [n for n in out["tree"] if "cms" in n]
    assert cms[0]["authenticated"] is False


def test_signed_then_enveloped() -> None:
    out = _json("signed-then-enveloped.eml", _ring("ec"))
    assert out["decrypted"] is True
    assert [s["valid"] for s in out["signatures"]] == [True]
    assert bytes.fromhex(out["content"]) == CONTENT


@pytest.mark.parametrize(
    ("name", "keys"),
    [("env-ecdh.der", ("ec",)), ("authenv-gcm256.der", ("rsa",)), ("signed-ecdsa.der", ())],
)
def test_bare_cms(name: str, keys: tuple[str, ...]) -> None:
    out = _json(name, _ring(*keys))
    assert out["kind"] == "cms" and bytes.fromhex(out["content"]) == CONTENT
    assert "content_type" not in out["tree"][0]  # the CMS node comes first
    assert out["tree"][1]["content_type"] == "text/plain"


def test_gcm_tamper_leaves_no_plaintext() -> None:
    data = bytearray((CMS / "authenv-gcm256.der").read_bytes())
    data[-2] ^= 1
    out = dissect_message(bytes(data), _ring("rsa")).to_json()
    assert out["decrypted"] is False and out["content"] is None and out["error"]
    assert CONTENT.hex() not in json.dumps(out)


def test_plain_mime_has_null_content() -> None:
    out = dissect_message(b"Subject: hi\r\n\r\nbody\r\n").to_json()
    assert out["kind"] == "mime" and out["content"] is None and out["signatures"] == []


def test_detect_kind() -> None:
    assert detect_kind(b"-----BEGIN PGP MESSAGE-----\n") == "openpgp"
    assert detect_kind(b"\x85\x01\x0c") == "openpgp"
    assert detect_kind((CMS / "env-kek.der").read_bytes()) == "cms"
    assert detect_kind(b"From: a\r\n\r\n") == "mime"


def test_our_smime_round_trip() -> None:
    ent = b"Content-Type: text/plain\nContent-Transfer-Encoding: 7bit\n\nhello\n"
    from netsec_layers.crypto.cms_envelope import load_private_key

    key = load_private_key((CMS / "rsa.key").read_bytes())
    signed = smime_sign(ent, signer=(key, cert("cms/rsa.crt")))
    enc = smime_encrypt(signed, recipients=[cert("cms/ec.crt")], cipher="aes128_gcm")
    out = dissect_message(enc, _ring("ec")).to_json()
    assert out["decrypted"] and out["signatures"][0]["valid"] is True
    assert bytes.fromhex(out["content"]) == ent.replace(b"\n", b"\r\n")


@pytest.mark.integration
@pytest.mark.parametrize("opaque", [False, True])
def test_openssl_verifies_our_smime(tmp_path: Path, opaque: bool) -> None:
    assert shutil.which("openssl"), "openssl is required"
    from netsec_layers.crypto.cms_envelope import load_private_key

    key = load_private_key((CMS / "ec.key").read_bytes())
    ent = b"Content-Type: text/plain\r\n\r\nsigned by netsec\r\n"
    (tmp_path / "m.eml").write_bytes(
        smime_sign(ent, signer=(key, cert("cms/ec.crt")), opaque=opaque)
    )
    r = subprocess.run(
        ["openssl", "cms", "-verify", "-in", tmp_path / "m.eml", "-CAfile", CMS / "ca.crt"],
        capture_output=True,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == ent
    enc = smime_encrypt(ent, recipients=[cert("cms/rsa.crt")], cipher="aes256_gcm")
    (tmp_path / "e.eml").write_bytes(enc)
    r = subprocess.run(
        [
            "openssl",
            "cms",
            "-decrypt",
            "-in",
            tmp_path / "e.eml",
            "-recip",
            CMS / "rsa.crt",
            "-inkey",
            CMS / "rsa.key",
        ],
        capture_output=True,
    )
    assert r.returncode == 0 and r.stdout == ent, r.stderr


def _cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "netsec_layers", "mail", *args],
        input=stdin,
        capture_output=True,
        cwd=Path(__file__).parents[2],
        timeout=60,
    )


def test_cli_json_and_exit_status() -> None:
    r = _cli(
        "dissect",
        str(CMS / "enveloped.eml"),
        "--key",
        str(CMS / "rsa.key"),
        "--cert",
        str(CMS / "rsa.crt"),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"kind", "tree", "decrypted", "signatures", "content", "error"}
    assert bytes.fromhex(out["content"]) == CONTENT
    r = _cli("dissect", "-", "--json", stdin=(CMS / "signed-rsa.der").read_bytes())
    assert r.returncode == 0 and json.loads(r.stdout)["signatures"][0]["valid"] is True
    r = _cli("dissect", "/nonexistent/file")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    r = _cli("dissect", "-", stdin=b"")
    assert r.returncode == 2


RFC4134 = CMS.parent / "rfc4134"


@pytest.mark.parametrize(
    ("name", "signed", "decrypted", "canonicalized"),
    [
        ("4.8.eml", True, False, True),
        ("4.9.eml", True, False, False),
        ("5.3.eml", False, True, False),
    ],
)
def test_rfc4134_smime_messages(
    name: str, signed: bool, decrypted: bool, canonicalized: bool
) -> None:
    """RFC 4134 sections 4.8, 4.9 (multipart/signed, DSA) and 5.3 (enveloped, 3DES).  4.8 is
    stored with LF line breaks: its signature holds over the CRLF canonical form, as openssl
    also finds (``openssl cms -verify`` canonicalises too)."""
    from cryptography import x509 as _x509

    from netsec_layers.crypto.cms_envelope import load_private_key

    ring = SMIMEKeyring(
        keys=[load_private_key((RFC4134 / "BobPrivRSAEncrypt.pri").read_bytes())],
        certificates=[
            _x509.load_der_x509_certificate((RFC4134 / n).read_bytes())
            for n in ("AliceDSSSignByCarlNoInherit.cer", "BobRSASignByCarl.cer")
        ],
    )
    out = dissect_message((RFC4134 / name).read_bytes(), ring).to_json()
    assert out["error"] is None and out["decrypted"] is decrypted
    assert bytes.fromhex(out["content"]).strip() == b"This is some sample content."
    if signed:
        sig = out["signatures"][0]
        assert sig["signer"] == "CN=AliceDSS" and sig["valid"] is True
        assert sig.get("canonicalized", False) is canonicalized


def _message(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "netsec_layers", "message", *args],
        input=stdin,
        capture_output=True,
        cwd=Path(__file__).parents[2],
        timeout=60,
    )


def test_netsec_message_contract_command() -> None:
    """``netsec message`` (the contract's name): S/MIME here, OpenPGP handed to issue 19's code
    (RFC 9580 A.12, passphrase "password"), key files of the other kind skipped with a warning."""
    r = _message(
        str(CMS / "signed-then-enveloped.eml"),
        "--key",
        str(CMS / "ec.key"),
        "--cert",
        str(CMS / "ec.crt"),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["kind"] == "mime" and out["decrypted"] is True
    assert out["signatures"][0]["valid"] is True and bytes.fromhex(out["content"]) == CONTENT
    pgp = Path(__file__).parents[1] / "vectors" / "openpgp"
    r = _message(
        str(pgp / "rfc9580" / "a12_argon2_aes128.asc"),
        "--passphrase",
        "password",
        "--key",
        str(CMS / "rsa.key"),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["kind"] == "openpgp" and out["decrypted"] is True and out["content"]
    r = _message(
        str(CMS / "enveloped.eml"), "--key", str(pgp / "keys" / "gpg-rsa.sec.asc"), "--json"
    )
    assert r.returncode == 0 and b"skipped" in r.stderr
    assert json.loads(r.stdout)["decrypted"] is False
    r = _message("/nonexistent")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    # a truncated DER object is unreadable input, not a MIME message
    r = _message("-", "--json", stdin=(CMS / "signed-rsa.der").read_bytes()[:300])
    assert r.returncode == 2 and r.stdout == b"" and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.integration
def test_cli_sign_encrypt_and_tamper(tmp_path: Path) -> None:
    """netsec mail sign/encrypt: openssl accepts the result, and rejects the --tamper one that
    netsec itself reports as invalid / not decrypted."""
    ent = tmp_path / "e.eml"
    ent.write_bytes(b"Content-Type: text/plain\r\n\r\nfrom the command line\r\n")
    for tamper in (None, "signature"):
        out = tmp_path / f"s-{tamper}.eml"
        args = ["sign", str(ent), "-w", str(out), "--key", str(CMS / "ec.key")]
        args += ["--cert", str(CMS / "ec.crt")] + (["--tamper", tamper] if tamper else [])
        assert _cli(*args).returncode == 0
        ok = subprocess.run(
            [
                "openssl",
                "cms",
                "-verify",
                "-in",
                out,
                "-CAfile",
                CMS / "ca.crt",
                "-out",
                "/dev/null",
            ],
            capture_output=True,
        )
        assert (ok.returncode == 0) is (tamper is None)
        sig = dissect_message(out.read_bytes(), _ring()).to_json()["signatures"][0]
        assert sig["valid"] is (tamper is None)
    for tamper in (None, "tag"):
        out = tmp_path / f"e-{tamper}.eml"
        args = ["encrypt", str(ent), "-w", str(out), "--to", str(CMS / "rsa.crt")]
        args += ["--cipher", "aes128_gcm"] + (["--tamper", tamper] if tamper else [])
        assert _cli(*args).returncode == 0
        ok = subprocess.run(
            [
                "openssl",
                "cms",
                "-decrypt",
                "-in",
                out,
                "-recip",
                CMS / "rsa.crt",
                "-inkey",
                CMS / "rsa.key",
                "-out",
                "/dev/null",
            ],
            capture_output=True,
        )
        assert (ok.returncode == 0) is (tamper is None)
        assert dissect_message(out.read_bytes(), _ring("rsa")).to_json()["decrypted"] is (
            tamper is None
        )


@pytest.mark.parametrize(
    ("name", "keys", "signed", "decrypted"),
    [
        ("smime-clear-signed.eml", (), True, False),
        ("smime-opaque-signed.eml", (), True, False),
        ("smime-enveloped.eml", ("rsa",), False, True),
        ("smime-enveloped-des3.eml", ("rsa2",), False, True),
    ],
)
def test_openssl_smime_messages(
    name: str, keys: tuple[str, ...], signed: bool, decrypted: bool
) -> None:
    """``openssl smime`` (S/MIME 2: application/x-pkcs7-signature / x-pkcs7-mime)."""
    out = _json(name, _ring(*keys))
    assert out["error"] is None and out["decrypted"] is decrypted
    assert bytes.fromhex(out["content"]) == CONTENT
    assert [s["valid"] for s in out["signatures"]] == ([True] if signed else [])
