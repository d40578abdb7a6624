"""`netsec pgp`: the kind=openpgp JSON contract on RFC 9580 samples and gpg-made keys, key
arguments with colons and spaces, detached signatures, session keys, encrypt and sign."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netsec_layers.cli.main import main
from tests.openpgp.openpgp_util import KEYS, RFC, flat_tags, gpg_home, rfc_vectors

pytestmark = pytest.mark.integration  # gpg runs in some tests
V = rfc_vectors()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    rc = main(["pgp", "dissect", *argv, "--json"])
    out = capsys.readouterr().out
    return rc, json.loads(out)


def test_contract_keys_and_types(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = _run(capsys, str(RFC / "a9_eax.asc"), "--passphrase", "password")
    assert rc == 0
    assert set(out) == {"kind", "tree", "decrypted", "signatures", "content", "error"}
    assert out["kind"] == "openpgp" and out["decrypted"] is True and out["error"] is None
    assert bytes.fromhex(out["content"]) == b"Hello, world!"
    armor_node = out["tree"][0]
    assert "tag" not in armor_node and [n["tag"] for n in armor_node["children"]] == [3, 18]
    assert [n["tag"] for n in armor_node["children"][1]["children"]] == [11, 21]


def test_key_with_passphrase_after_first_colon(capsys: pytest.CaptureFixture[str]) -> None:
    """gpg-ed's passphrase is 'pw pw:x': everything after the first colon."""
    with gpg_home() as g:
        g.import_keys("gpg-ed.pub.asc")
        msg = g.run("-e", "-r", "ed@example.org", data=b"for ed\r\n")
    path = Path(g.home).parent / "netsec-cli-ed.gpg"
    try:
        path.write_bytes(msg)
        rc, out = _run(capsys, str(path), "--key", f"{KEYS / 'gpg-ed.sec.asc'}:pw pw:x")
        assert rc == 0 and bytes.fromhex(out["content"]) == b"for ed\r\n"
        rc, out = _run(
            capsys, str(path), "--key", str(KEYS / "gpg-ed.sec.asc"), "--passphrase", "pw pw:x"
        )
        assert rc == 0 and out["decrypted"] is True
        rc, out = _run(capsys, str(path), "--key", f"{KEYS / 'gpg-ed.sec.asc'}:wrong")
        assert rc == 1 and out["decrypted"] is False and out["content"] is None
        assert out["error"] and "for ed" not in json.dumps(out)
    finally:
        path.unlink(missing_ok=True)


def test_signature_unknown_then_known(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = _run(capsys, str(RFC / "a7_inline.asc"))
    assert out["signatures"] == [
        {
            "signer": V["cert_fingerprint"],
            "valid": None,
            "error": "no certificate holds the signing key",
        }
    ]
    rc, out = _run(capsys, str(RFC / "a7_inline.asc"), "--cert", str(RFC / "a3_cert.asc"))
    assert rc == 0 and out["signatures"][0]["valid"] is True
    assert out["decrypted"] is False and out["error"] is None


def test_detached_signature(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_bytes(b"detached data\n")
    sig = tmp_path / "data.sig"
    assert (
        main(
            [
                "pgp",
                "sign",
                str(data),
                "-w",
                str(sig),
                "--key",
                f"{KEYS / 'gpg-rsa.sec.asc'}:rsa pass",
                "--detached",
            ]
        )
        == 0
    )
    rc, out = _run(
        capsys, str(data), "--signature", str(sig), "--cert", str(KEYS / "gpg-rsa.pub.asc")
    )
    assert rc == 0 and out["signatures"][0]["valid"] is True
    assert bytes.fromhex(out["content"]) == b"detached data\n"
    assert flat_tags(out["tree"]) == [2]
    data.write_bytes(b"detached dat4\n")
    rc, out = _run(
        capsys, str(data), "--signature", str(sig), "--cert", str(KEYS / "gpg-rsa.pub.asc")
    )
    assert out["signatures"][0]["valid"] is False and out["signatures"][0]["error"]
    assert out["error"] is None  # signature problems go only into signatures


def test_session_key_option(capsys: pytest.CaptureFixture[str]) -> None:
    m = next(x for x in V["messages"] if x["file"] == "a12_argon2_aes256.asc")
    rc, out = _run(capsys, str(RFC / m["file"]), "--session-key", "9:" + m["session_key"])
    assert rc == 0 and bytes.fromhex(out["content"]) == b"Hello, world!"


def test_encrypt_command_then_gpg(tmp_path: Path) -> None:
    src = tmp_path / "plain"
    src.write_bytes(b"cli encrypt\n")
    sym, pub = tmp_path / "sym.asc", tmp_path / "pub.gpg"
    assert (
        main(["pgp", "encrypt", str(src), "-w", str(sym), "--passphrase", "p: q", "--armor"]) == 0
    )
    assert (
        main(["pgp", "encrypt", str(src), "-w", str(pub), "--cert", str(KEYS / "gpg-p256.pub.asc")])
        == 0
    )
    assert sym.read_bytes().startswith(b"-----BEGIN PGP MESSAGE-----")
    with gpg_home() as g:
        assert g.run("--passphrase", "p: q", "-d", data=sym.read_bytes()) == b"cli encrypt\n"
        g.import_keys("gpg-p256.sec.asc")
        assert g.run("-d", data=pub.read_bytes()) == b"cli encrypt\n"


def test_text_output_and_exit_status(tmp_path: Path) -> None:
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "netsec_layers",
            "pgp",
            "dissect",
            str(RFC / "a10_ocb.asc"),
            "--passphrase",
            "password",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert p.returncode == 0 and ":18 SEIPD" in p.stdout and "decrypted: yes" in p.stdout
    bad = tmp_path / "garbage"
    bad.write_bytes(b"\x00not openpgp")
    p = subprocess.run(
        [sys.executable, "-m", "netsec_layers", "pgp", "dissect", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert p.returncode == 1 and "error: malformed" in p.stdout and not p.stderr
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "netsec_layers",
            "pgp",
            "dissect",
            str(bad),
            "--key",
            str(tmp_path / "missing.asc"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert p.returncode == 2 and p.stderr.startswith("netsec:")


def test_signer_from_key_id_only(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A signature naming its issuer by key ID only: the fingerprint comes from the given
    certificate; without one the signer is the 16-digit key ID and valid is null."""
    from netsec_layers.crypto.openpgp_craft import make_signature
    from netsec_layers.crypto.openpgp_wire import frame_packet
    from netsec_layers.keys.openpgp_keys import Keyring

    ring = Keyring()
    ring.add_bytes((KEYS / "gpg-rsa.sec.asc").read_bytes(), passphrase=b"rsa pass")
    entry = ring.entries[0]
    secret = ring.unlocked_secret(entry)
    assert secret is not None
    sig = make_signature(entry.public, secret, b"data", issuer_fingerprint=False)
    (tmp_path / "sig").write_bytes(frame_packet(2, sig))
    (tmp_path / "data").write_bytes(b"data")
    args = [str(tmp_path / "data"), "--signature", str(tmp_path / "sig")]
    _, out = _run(capsys, *args, "--cert", str(KEYS / "gpg-rsa.pub.asc"))
    assert out["signatures"] == [{"signer": entry.fingerprint_hex, "valid": True, "error": None}]
    _, out = _run(capsys, *args)
    assert out["signatures"][0]["signer"] == entry.public.key_id.hex().upper()
    assert len(out["signatures"][0]["signer"]) == 16 and out["signatures"][0]["valid"] is None


@pytest.mark.parametrize(
    ("file", "extra"),
    [
        ("a8_x25519_ocb.asc", ["--key", str(RFC / "a4_secret.asc")]),
        ("a10_ocb.asc", ["--passphrase", "password"]),
        ("a7_inline.asc", ["--cert", str(RFC / "a3_cert.asc")]),
    ],
)
def test_netsec_message_gives_the_same_object(
    capsys: pytest.CaptureFixture[str], file: str, extra: list[str]
) -> None:
    """`netsec message` (the contract command, cli/mail.py) hands OpenPGP to open_message:
    its JSON equals `netsec pgp dissect --json`."""
    _, ours = _run(capsys, str(RFC / file), *extra)
    assert main(["message", str(RFC / file), *extra, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == ours
    assert ours["content"] is not None and ours["error"] is None
