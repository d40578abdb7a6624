"""Against Sequoia's sq 0.27 (Debian 12): what sq encrypts and signs is decrypted and verified, and
its structure equals `sq packet dump --session-key`; what netsec crafts sq decrypts and verifies."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from netsec_layers.keys.openpgp_keys import Keyring
from netsec_layers.session.openpgp import open_message
from netsec_layers.session.openpgp_craft import encrypt_message, sign_message
from tests.openpgp.openpgp_util import KEYS, key_table, sq

pytestmark = pytest.mark.integration

TABLE = key_table()["keys"]
RECIPIENTS = ["gpg-ed", "gpg-rsa", "gpg-p256", "gpg-p384", "sq-cv25519", "sq-rsa3k"]
SIGNERS = ["sq-cv25519", "sq-rsa3k", "gpg-p384", "gpg-p256"]  # sq reads no passphrase in batch
MSG = os.urandom(900) + b"\nsq\n"

_NAMES = {
    "Public-Key Encrypted Session Key Packet": 1,
    "Signature Packet": 2,
    "Symmetric-Key Encrypted Session Key Packet": 3,
    "One-Pass Signature Packet": 4,
    "Compressed Data Packet": 8,
    "Literal Data Packet": 11,
    "Sym. Encrypted and Integrity Protected Data Packet": 18,
}
_LINE = re.compile(r"^[│├└─ ]*([A-Z][A-Za-z.\- ]+ Packet), (new|old) CTB, (\d+) bytes")


def _dump(path: Path, session_key: str | None) -> list[tuple[int, bool, int]]:
    args = ["packet", "dump", *(["--session-key", session_key] if session_key else []), str(path)]
    rows = []
    for line in sq(*args).decode("utf-8", "replace").splitlines():
        m = _LINE.match(line)
        if m and m.group(1) in _NAMES:
            rows.append((_NAMES[m.group(1)], m.group(2) == "new", int(m.group(3))))
    return rows


def _ours(nodes: list[dict[str, Any]]) -> list[tuple[int, bool, int]]:
    out = []
    for n in nodes:
        if "tag" in n:
            out.append((n["tag"], n["new_format"], n["length"]))
        out.extend(_ours(n.get("children", [])))
    return out


def _ring(name: str, kind: str) -> Keyring:
    kr = Keyring()
    kr.add_bytes(
        (KEYS / f"{name}.{kind}.asc").read_bytes(),
        passphrase=TABLE[name]["passphrase"].encode() if kind == "sec" else None,
    )
    return kr


def _signing_fpr(name: str) -> str:
    """The fingerprint of the key sq signs with: the signing-capable (sub)key."""
    ring = _ring(name, "pub")
    return next(e.fingerprint_hex for e in ring.entries if e.flags and e.flags & 0x02)


@pytest.mark.parametrize("compression", ["none", "zip", "zlib", "bzip2"])
@pytest.mark.parametrize("name", RECIPIENTS)
def test_sq_encrypted_and_signed(tmp_path: Path, name: str, compression: str) -> None:
    plain = tmp_path / "plain"
    plain.write_bytes(MSG)
    enc = tmp_path / "msg.pgp"
    sq(
        "encrypt",
        "--recipient-cert",
        str(KEYS / f"{name}.pub.asc"),
        "--signer-key",
        str(KEYS / "sq-cv25519.sec.asc"),
        "--compression",
        compression,
        "-o",
        str(enc),
        str(plain),
    )
    res = open_message(
        enc.read_bytes(), keyring=_ring(name, "sec"), certs=_ring("sq-cv25519", "pub")
    )
    out = res.to_json()
    assert out["error"] is None and bytes.fromhex(out["content"]) == MSG
    assert out["signatures"] == [
        {"signer": _signing_fpr("sq-cv25519"), "valid": True, "error": None}
    ]
    assert _ours(out["tree"][0]["children"]) == _dump(enc, str(res.session_key))


@pytest.mark.parametrize("mode", ["inline", "detached", "cleartext"])
@pytest.mark.parametrize("name", SIGNERS)
def test_sq_signatures(tmp_path: Path, name: str, mode: str) -> None:
    text = b"sq signed\n- dash\nFrom sq\n"  # sq drops trailing blanks in cleartext
    data = tmp_path / "data.txt"
    data.write_bytes(text)
    flag = {"inline": [], "detached": ["--detached"], "cleartext": ["--cleartext-signature"]}
    sig = sq("sign", "--signer-key", str(KEYS / f"{name}.sec.asc"), *flag[mode], str(data))
    detached = text if mode == "detached" else None
    out = open_message(sig, certs=_ring(name, "pub"), detached=detached).to_json()
    assert out["signatures"] == [{"signer": _signing_fpr(name), "valid": True, "error": None}]
    assert bytes.fromhex(out["content"]) == (text[:-1] if mode == "cleartext" else text)
    if mode == "inline":
        (tmp_path / "sig.pgp").write_bytes(sig)
        assert _ours(out["tree"][0]["children"]) == _dump(tmp_path / "sig.pgp", None)


@pytest.mark.parametrize("name", RECIPIENTS)
def test_crafted_v4_accepted_by_sq(tmp_path: Path, name: str) -> None:
    enc = tmp_path / "enc.pgp"
    enc.write_bytes(encrypt_message(MSG, certs=_ring(name, "pub"), compress=1, partial=1024))
    got = (
        sq("decrypt", "--recipient-key", str(KEYS / f"{name}.sec.asc"), str(enc), data=None)
        if not TABLE[name]["passphrase"]
        else None
    )
    if got is not None:
        assert got == MSG
    signer = "sq-cv25519" if name.startswith("gpg-ed") or TABLE[name]["passphrase"] else name
    sec = _ring(signer, "sec")
    (tmp_path / "data").write_bytes(MSG)
    (tmp_path / "data.sig").write_bytes(sign_message(MSG, sec, detached=True))
    sq(
        "verify",
        "--signer-cert",
        str(KEYS / f"{signer}.pub.asc"),
        "--detached",
        str(tmp_path / "data.sig"),
        str(tmp_path / "data"),
    )
    (tmp_path / "inline.pgp").write_bytes(sign_message(MSG, sec))
    assert (
        sq("verify", "--signer-cert", str(KEYS / f"{signer}.pub.asc"), str(tmp_path / "inline.pgp"))
        == MSG
    )
    (tmp_path / "clear.asc").write_bytes(sign_message(b"a\n- b\n", sec, clearsign=True))
    assert (
        sq("verify", "--signer-cert", str(KEYS / f"{signer}.pub.asc"), str(tmp_path / "clear.asc"))
        == b"a\n- b\n\n"
    )  # sq prints a line end after it
    (tmp_path / "bad.pgp").write_bytes(sign_message(MSG, sec, break_sig=True))
    assert (
        sq(
            "verify",
            "--signer-cert",
            str(KEYS / f"{signer}.pub.asc"),
            str(tmp_path / "bad.pgp"),
            check=False,
        )
        != MSG
    )
