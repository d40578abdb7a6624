"""Against GnuPG 2.2 (Debian 12): messages gpg makes are dissected, decrypted and verified to the
bytes gpg was given and to the packet structure `gpg --list-packets` prints; messages netsec
crafts are decrypted and verified by gpg."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from netsec_layers.crypto import openpgp_armor as armor
from netsec_layers.keys.openpgp_keys import Keyring, parse_session_key
from netsec_layers.layers.openpgp import dissect_packets, undecoded_reason
from netsec_layers.session.openpgp import OpenVerdict, open_message
from netsec_layers.session.openpgp_craft import encrypt_message, sign_message
from tests.openpgp.openpgp_util import GPG, KEYS, flat_tags, gpg_home, key_table

pytestmark = pytest.mark.integration

TABLE = key_table()["keys"]
GPG_KEYS = [k for k in TABLE if k.startswith("gpg-")]
ALL_KEYS = list(TABLE)
MSG = os.urandom(1500) + b"\nend\n"


@pytest.fixture(scope="module")
def g() -> Iterator[GPG]:
    with gpg_home() as home:
        for name in ALL_KEYS:
            home.import_keys(f"{name}.sec.asc", passphrase=TABLE[name]["passphrase"])
        yield home


def _secret(name: str) -> Keyring:
    kr = Keyring()
    kr.add_bytes(
        (KEYS / f"{name}.sec.asc").read_bytes(), passphrase=TABLE[name]["passphrase"].encode()
    )
    return kr


def _cert(name: str) -> Keyring:
    kr = Keyring()
    kr.add_bytes((KEYS / f"{name}.pub.asc").read_bytes())
    return kr


def _compare_headers(data: bytes, rows: list[dict[str, Any]]) -> int:
    """Top-level packets: ctb, header length, body length and partial flag as gpg lists them."""
    if armor.is_armored(data):
        block = armor.decode(data)[0]
        assert isinstance(block, armor.ArmorBlock)
        data = block.data
    pkts = dissect_packets(data)
    assert b"".join(bytes(p) for p in pkts) == data
    top = [r for r in rows if r["off"] in _offsets(pkts)]
    assert len(top) == len(pkts)
    for p, r in zip(pkts, top, strict=True):
        assert undecoded_reason(p) is None
        fr = p.framing
        assert (p.ctb, p.tag) == (r["ctb"], r["tag"])
        assert 1 + len(fr.headers[0]) == r["hlen"]
        assert fr.partial == r["partial"] and fr.indeterminate == r["indeterminate"]
        if not (fr.partial or fr.indeterminate):
            assert fr.total == r["plen"]
    return len(pkts)


def _offsets(pkts: list[Any]) -> set[int]:
    out, pos = set(), 0
    for p in pkts:
        out.add(pos)
        pos += len(bytes(p))
    return out


VARIANTS = {
    "stdin-partial": ["--compress-algo", "zip"],
    "armor-bzip2": ["--armor", "--compress-algo", "bzip2"],
    "zlib": ["--compress-algo", "zlib"],
    "uncompressed": ["--compress-algo", "none"],
}


ENCRYPT_CASES = [
    (name, variant)
    for name in ALL_KEYS
    for variant in VARIANTS
    if variant in ("stdin-partial", "armor-bzip2") or name in ("gpg-rsa", "gpg-ed", "gpg-dsa")
]


@pytest.mark.parametrize(("name", "variant"), ENCRYPT_CASES)
def test_gpg_encrypted_to_key(g: GPG, name: str, variant: str) -> None:
    uid = TABLE[name]["uid"]
    msg = g.run("-e", "-r", uid, *VARIANTS[variant], data=MSG)
    res = open_message(msg, keyring=_secret(name))
    out = res.to_json()
    assert out["error"] is None and out["decrypted"] is True
    assert bytes.fromhex(out["content"]) == MSG
    rows = g.list_packets(msg, TABLE[name]["passphrase"])
    assert flat_tags(out["tree"]) == [r["tag"] for r in rows]
    _compare_headers(msg, rows)
    # wrong key: a verdict, no plaintext
    other = "gpg-rsa" if name != "gpg-rsa" else "gpg-ed"
    bad = open_message(msg, keyring=_secret(other)).to_json()
    assert bad["decrypted"] is False and bad["content"] is None and bad["error"]
    assert MSG.hex()[:64] not in str(bad)


CIPHERS = [
    "AES",
    "AES192",
    "AES256",
    "CAST5",
    "3DES",
    "BLOWFISH",
    "IDEA",
    "CAMELLIA128",
    "CAMELLIA192",
    "CAMELLIA256",
    "TWOFISH",
]


@pytest.mark.parametrize("cipher", CIPHERS)
def test_gpg_symmetric_ciphers(g: GPG, cipher: str) -> None:
    msg = g.run("-c", "--passphrase", "sym pass: x", "--cipher-algo", cipher, data=MSG)
    out = open_message(msg, passphrases=[b"sym pass: x"]).to_json()
    assert out["error"] is None and bytes.fromhex(out["content"]) == MSG
    assert flat_tags(out["tree"]) == [r["tag"] for r in g.list_packets(msg, "sym pass: x")]


@pytest.mark.parametrize(
    "s2k", [("0", "SHA1"), ("1", "SHA256"), ("3", "SHA512"), ("3", "SHA1"), ("3", "SHA224")]
)
def test_gpg_symmetric_s2k(g: GPG, s2k: tuple[str, str]) -> None:
    mode, digest = s2k
    msg = g.run(
        "-c",
        "--passphrase",
        "pw",
        "--s2k-mode",
        mode,
        "--s2k-digest-algo",
        digest,
        "--s2k-count",
        "65536",
        data=MSG,
    )
    out = open_message(msg, passphrases=[b"pw"]).to_json()
    assert bytes.fromhex(out["content"]) == MSG
    assert open_message(msg, passphrases=[b"pW"]).to_json()["content"] is None


def test_gpg_sed_tag9_is_not_opened(g: GPG) -> None:
    msg = g.run("-c", "--rfc2440", "--passphrase", "pw", "--cipher-algo", "CAST5", data=MSG)
    res = open_message(msg, passphrases=[b"pw"])
    out = res.to_json()
    assert 9 in flat_tags(out["tree"]) and res.verdict is OpenVerdict.UNPROTECTED
    assert out["decrypted"] is False and out["content"] is None and "tag 9" in out["error"]


def test_gpg_mdc_tamper(g: GPG) -> None:
    msg = bytearray(g.run("-c", "--passphrase", "pw", "--compress-algo", "none", data=MSG))
    msg[-3] ^= 0x40  # inside the encrypted MDC
    res = open_message(bytes(msg), passphrases=[b"pw"])
    assert res.verdict is OpenVerdict.INTEGRITY_FAILED and "MDC" in (res.error or "")
    assert res.to_json()["content"] is None


def test_gpg_session_key(g: GPG) -> None:
    msg = g.run("-e", "-r", TABLE["gpg-rsa"]["uid"], data=MSG)
    g.run("--passphrase", TABLE["gpg-rsa"]["passphrase"], "--show-session-key", "-d", data=msg)
    m = re.search(r"session key: '([0-9]+:[0-9A-F]+)'", g.last_stderr)
    assert m, g.last_stderr
    out = open_message(msg, session_keys=[parse_session_key(m.group(1))]).to_json()
    assert bytes.fromhex(out["content"]) == MSG


SIGN_MODES = {
    "inline": ["-s"],
    "inline-text": ["-s", "--textmode"],
    "clearsign": ["--clearsign"],
    "detached": ["--detach-sign"],
    "detached-armor-text": ["--detach-sign", "--armor", "--textmode"],
}


def _gpg_signed(g: GPG, name: str, mode: str, data: bytes) -> bytes:
    return g.run(
        "-u",
        TABLE[name]["uid"],
        "--passphrase",
        TABLE[name]["passphrase"],
        *SIGN_MODES[mode],
        data=data,
    )


def _primary_fpr(name: str) -> str:
    return _cert(name).entries[0].fingerprint_hex


SIGN_CASES = [
    (name, mode)
    for name in GPG_KEYS
    for mode in SIGN_MODES
    if name in ("gpg-rsa", "gpg-ed") or mode in ("inline", "clearsign", "detached")
]


@pytest.mark.parametrize(("name", "mode"), SIGN_CASES)
def test_gpg_signatures(g: GPG, name: str, mode: str) -> None:
    text = b"first line\n- dashed line\nFrom here  \ntrailing\n"
    sig = _gpg_signed(g, name, mode, text)
    detached = text if mode.startswith("detached") else None
    good = open_message(sig, certs=_cert(name), detached=detached).to_json()
    assert good["signatures"] == [{"signer": _primary_fpr(name), "valid": True, "error": None}]
    # a clearsigned text ends before the line ending that precedes the signature armor;
    # a text-mode literal body keeps gpg's CRLF line endings
    want = {"clearsign": text[:-1], "inline-text": text.replace(b"\n", b"\r\n")}.get(mode, text)
    assert bytes.fromhex(good["content"]) == want
    unknown = open_message(
        sig, certs=_cert("gpg-rsa" if name != "gpg-rsa" else "gpg-ed"), detached=detached
    ).to_json()
    assert unknown["signatures"][0]["valid"] is None
    assert unknown["signatures"][0]["signer"] == _primary_fpr(name)
    if detached is not None:
        bad = open_message(sig, certs=_cert(name), detached=text.replace(b"first", b"First"))
    elif mode == "clearsign":
        bad = open_message(sig.replace(b"first", b"First"), certs=_cert(name))
    else:
        return  # inline messages are compressed: tampering is covered by the crafted ones
    assert bad.to_json()["signatures"][0]["valid"] is False


@pytest.mark.parametrize("name", ALL_KEYS)
def test_crafted_v4_accepted_by_gpg(g: GPG, name: str) -> None:
    pw = TABLE[name]["passphrase"]
    enc = encrypt_message(MSG, certs=_cert(name), compress=2, partial=512)
    assert g.run("--passphrase", pw, "-d", data=enc) == MSG
    sec = _secret(name)
    det = sign_message(MSG, sec, detached=True)
    data_file = os.path.join(g.home, "data.bin")
    sig_file = os.path.join(g.home, "data.sig")
    with open(data_file, "wb") as fh:
        fh.write(MSG)
    with open(sig_file, "wb") as fh:
        fh.write(det)
    g.run("--verify", sig_file, data_file)
    assert "Good signature" in g.last_stderr
    assert g.run("-d", data=sign_message(MSG, sec)) == MSG
    assert "Good signature" in g.last_stderr
    g.run("--verify", data=sign_message(b"a\n- b\nc  \n", sec, clearsign=True))
    assert "Good signature" in g.last_stderr
    broken = sign_message(MSG, sec, break_sig=True)
    g.run("-d", data=broken, check=False)
    assert "BAD signature" in g.last_stderr


@pytest.mark.parametrize("cipher", [7, 8, 9, 3, 2, 4, 1, 10, 11, 12, 13])
def test_crafted_skesk_accepted_by_gpg(g: GPG, cipher: int) -> None:
    enc = encrypt_message(MSG, passphrases=[b"pw: with space"], algo=cipher, compress=1)
    assert g.run("--passphrase", "pw: with space", "-d", data=enc) == MSG
    broken = encrypt_message(MSG, passphrases=[b"pw"], algo=cipher, break_mdc=True)
    g.run("--passphrase", "pw", "-d", data=broken, check=False)
    assert "manipulated" in g.last_stderr or "decryption failed" in g.last_stderr


@pytest.mark.parametrize("passphrase", [None, b"gen pass: 1"])
@pytest.mark.parametrize("kind", ["ed25519", "rsa", "p256"])
def test_generated_v4_key_used_by_gpg(kind: str, passphrase: bytes | None) -> None:
    """gpg imports a netsec-made key, finds its self-signatures good, encrypts to it and signs
    with it (so gpg opened the protected secret material)."""
    from netsec_layers.crypto.openpgp_keygen import generate_key

    key = generate_key(f"Gen <gen-{kind}@example.org>", kind=kind, passphrase=passphrase)
    pw = (passphrase or b"").decode()
    with gpg_home() as g:
        g.run("--passphrase", pw, "--import", data=key.secret)
        g.run("--check-sigs", key.fingerprint)
        assert "2 good signatures" in g.last_stderr
        enc = g.run("-e", "-r", key.fingerprint, data=MSG)
        signed = g.run("-s", "-u", key.fingerprint, "--passphrase", pw, data=MSG)
    ring, cert = Keyring(), Keyring()
    ring.add_bytes(key.secret, passphrase=passphrase)
    cert.add_bytes(key.public)
    assert bytes.fromhex(open_message(enc, keyring=ring).to_json()["content"]) == MSG
    sigs = open_message(signed, certs=cert).to_json()["signatures"]
    assert sigs == [{"signer": key.fingerprint, "valid": True, "error": None}]


def test_gpg_two_signers_two_recipients(g: GPG) -> None:
    """One message signed by two keys and encrypted to two: either recipient opens it and both
    signatures verify; with one certificate the other signer is unknown (null)."""
    msg = g.run(
        "-s", "-e", "-u", "rsa@example.org", "-u", "p256@example.org",
        "-r", "ed@example.org", "-r", "dsa@example.org", "--passphrase", "rsa pass",
        data=MSG,
    )  # fmt: skip
    certs = _cert("gpg-rsa")
    certs.add_bytes((KEYS / "gpg-p256.pub.asc").read_bytes())
    for recipient in ("gpg-ed", "gpg-dsa"):
        out = open_message(msg, keyring=_secret(recipient), certs=certs).to_json()
        assert bytes.fromhex(out["content"]) == MSG
        assert sorted(s["signer"] for s in out["signatures"]) == sorted(
            [_primary_fpr("gpg-rsa"), _primary_fpr("gpg-p256")]
        )
        assert [s["valid"] for s in out["signatures"]] == [True, True]
    one = open_message(msg, keyring=_secret("gpg-dsa"), certs=_cert("gpg-rsa")).to_json()
    assert sorted(str(s["valid"]) for s in one["signatures"]) == ["None", "True"]


def test_gpg_secret_subkeys_only_stub(g: GPG) -> None:
    """`gpg --export-secret-subkeys`: the primary is a GnuPG stub (S2K 101, no secret); it
    dissects and rebuilds, the encryption subkey still opens messages, signing is refused."""
    from netsec_layers.errors import KeyUnavailableError

    stub = g.run("--passphrase", "pw pw:x", "--export-secret-subkeys", "ed@example.org")
    pkts = dissect_packets(stub)
    assert b"".join(bytes(p) for p in pkts) == stub
    assert pkts[0].payload.s2k.type == 101 and pkts[0].payload.secret == b""
    ring = Keyring()
    ring.add_bytes(stub, passphrase=b"pw pw:x")
    msg = g.run("-e", "-r", "ed@example.org", data=MSG)
    assert bytes.fromhex(open_message(msg, keyring=ring).to_json()["content"]) == MSG
    with pytest.raises(KeyUnavailableError):
        sign_message(MSG, ring)


@pytest.mark.parametrize("cut", [1, 600])
def test_crafted_truncated_partial_body(g: GPG, cut: int) -> None:
    """A partial-length SEIPD cut short (inside the last chunk, or a whole chunk and more):
    gpg refuses it, netsec reports it without plaintext, and the layers keep the bytes."""
    full = encrypt_message(MSG, passphrases=[b"pw"], partial=512)
    broken = full[:-cut]
    plain = g.run("--passphrase", "pw", "-d", data=broken, check=False)
    assert g.last_rc != 0 and plain != MSG, g.last_stderr  # gpg: "read error", "pending bytes"
    out = open_message(broken, passphrases=[b"pw"]).to_json()
    assert out["error"] and out["content"] is None and out["decrypted"] is False
    pkts = dissect_packets(broken)
    assert b"".join(bytes(p) for p in pkts) == broken
    assert undecoded_reason(pkts[-1]) == "packet length runs past the data"
