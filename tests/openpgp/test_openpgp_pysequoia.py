"""RFC 9580 v6 against Sequoia (pysequoia, PyPI): v6 keys, PKESK v6 / SKESK v6, SEIPD v2 and
salted v6 signatures made by Sequoia are opened and verified by netsec, and the ones netsec
crafts are opened and verified by Sequoia (Debian's gpg 2.2 and sq 0.27 have no v6)."""

from __future__ import annotations

import os
import warnings
from typing import Any

import pysequoia as ps
import pytest

from netsec_layers.constants.openpgp import AEADAlgo, SymAlgo
from netsec_layers.keys.openpgp_keys import Keyring
from netsec_layers.session.openpgp import open_message
from netsec_layers.session.openpgp_craft import encrypt_message, sign_message
from tests.openpgp.openpgp_util import flat_tags

warnings.filterwarnings("ignore", category=DeprecationWarning, module="pysequoia")
MSG = os.urandom(5000) + b"\nv6\n"


@pytest.fixture(scope="module", params=["RFC9580", "RFC4880"])
def key(request: pytest.FixtureRequest) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tsk = ps.Tsk.generate("<seq@example.org>", profile=getattr(ps.Profile, request.param))
        cert = tsk.extract_certificate()
    sec, pub = Keyring(), Keyring()
    sec.add_bytes(str(tsk).encode())
    pub.add_bytes(str(cert).encode())
    signing = next(e for e in pub.entries if e.flags and e.flags & 0x02)
    version = 6 if request.param == "RFC9580" else 4
    assert {e.public.version for e in pub.entries} == {version}
    return {
        "tsk": tsk,
        "cert": cert,
        "sec": sec,
        "pub": pub,
        "signer": signing.fingerprint_hex,
        "version": version,
    }


def _b(x: Any) -> bytes:
    return x.encode() if isinstance(x, str) else bytes(x)


def test_sequoia_encrypted_signed(key: dict[str, Any]) -> None:
    msg = _b(
        ps.encrypt(
            MSG, recipients=[key["cert"]], signer=key["tsk"].signer(), passwords=["pass word"]
        )
    )
    for kwargs in ({"keyring": key["sec"]}, {"passphrases": [b"pass word"]}):
        out = open_message(msg, certs=key["pub"], **kwargs).to_json()
        assert out["error"] is None and bytes.fromhex(out["content"]) == MSG
        assert out["signatures"] == [{"signer": key["signer"], "valid": True, "error": None}]
        assert len(key["signer"]) == (64 if key["version"] == 6 else 40)
    tags = flat_tags(open_message(msg, keyring=key["sec"]).to_json()["tree"])
    assert tags[:3] == [1, 3, 18] and 11 in tags
    bad = open_message(msg, passphrases=[b"pass Word"]).to_json()
    assert bad["decrypted"] is False and bad["content"] is None


@pytest.mark.parametrize("mode", ["INLINE", "DETACHED", "CLEAR"])
def test_sequoia_signatures(key: dict[str, Any], mode: str) -> None:
    text = b"signed by sequoia\n- with a dash\n"
    sig = _b(ps.sign(key["tsk"].signer(), text, mode=getattr(ps.SignatureMode, mode)))
    det = text if mode == "DETACHED" else None
    out = open_message(sig, certs=key["pub"], detached=det).to_json()
    assert out["signatures"] == [{"signer": key["signer"], "valid": True, "error": None}]
    # Sequoia writes a line ending after the text before the armor: it is not signed
    assert bytes.fromhex(out["content"]) == text
    if det is not None:
        tampered = open_message(sig, certs=key["pub"], detached=text + b"x").to_json()
        assert tampered["signatures"][0]["valid"] is False


@pytest.mark.parametrize("aead", [AEADAlgo.OCB, AEADAlgo.EAX, AEADAlgo.GCM])
@pytest.mark.parametrize("algo", [SymAlgo.AES128, SymAlgo.AES256])
def test_crafted_accepted_by_sequoia(key: dict[str, Any], aead: int, algo: int) -> None:
    v6 = key["version"] == 6
    enc = encrypt_message(
        MSG, certs=key["pub"], passphrases=[b"pw"], v6=v6, algo=algo, aead=aead, compress=2
    )
    assert ps.decrypt(enc, decryptor=key["tsk"].decryptor()).bytes == MSG
    assert ps.decrypt(enc, passwords=["pw"]).bytes == MSG


def test_crafted_signatures_accepted_by_sequoia(key: dict[str, Any]) -> None:
    store = lambda ids: [key["cert"]]  # noqa: E731
    assert ps.verify(sign_message(MSG, key["sec"]), store=store).bytes == MSG
    det = sign_message(MSG, key["sec"], detached=True)
    assert ps.verify(MSG, store=store, signature=ps.Sig.from_bytes(det)).valid_sigs
    clear = sign_message(b"netsec\n- clear\n", key["sec"], clearsign=True)
    assert ps.verify(clear, store=store).bytes == b"netsec\n- clear\n"
    with pytest.raises(Exception, match="verification failed"):
        ps.verify(sign_message(MSG, key["sec"], break_sig=True), store=store)


def test_crafted_broken_tag_rejected_by_sequoia(key: dict[str, Any]) -> None:
    enc = encrypt_message(MSG, passphrases=[b"pw"], v6=key["version"] == 6, break_mdc=True)
    with pytest.raises(Exception):  # noqa: B017 - pysequoia raises a bare RuntimeError
        ps.decrypt(enc, passwords=["pw"])
    assert open_message(enc, passphrases=[b"pw"]).to_json()["content"] is None


@pytest.mark.parametrize("passphrase", [None, b"v6 pass"])
@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_generated_v6_key_used_by_sequoia(kind: str, passphrase: bytes | None) -> None:
    """Sequoia reads a netsec-made v6 key (Argon2 + OCB locked when a passphrase is given),
    encrypts to it, decrypts and signs with it."""
    from netsec_layers.crypto.openpgp_keygen import generate_key

    key = generate_key(f"<gen6-{kind}@example.org>", kind=kind, version=6, passphrase=passphrase)
    cert = ps.Cert.from_bytes(key.public)
    assert cert.fingerprint.upper() == key.fingerprint and len(key.fingerprint) == 64
    enc = _b(ps.encrypt(MSG, recipients=[cert], armor=False))
    ring, pub = Keyring(), Keyring()
    ring.add_bytes(key.secret, passphrase=passphrase)
    pub.add_bytes(key.public)
    assert bytes.fromhex(open_message(enc, keyring=ring).to_json()["content"]) == MSG
    if passphrase is not None:  # the AEAD-locked secret does not open with another passphrase
        wrong = Keyring()
        wrong.add_bytes(key.secret, passphrase=passphrase + b"!")
        assert open_message(enc, keyring=wrong).to_json()["content"] is None
    tsk = ps.Tsk.from_bytes(key.secret)
    args = [passphrase.decode()] if passphrase else []
    assert ps.decrypt(enc, decryptor=tsk.decryptor(*args)).bytes == MSG
    if passphrase is None:
        sig = _b(ps.sign(tsk.signer(), MSG))
        assert open_message(sig, certs=pub).to_json()["signatures"][0]["valid"] is True


def test_x448_ed448_both_ways() -> None:
    """RFC 9580 X448 (PKESK v6, HKDF-SHA512 + AES-256 wrap) and Ed448 (v6, SHA-512) against
    Sequoia, on a netsec-made v6 Ed448/X448 key."""
    from netsec_layers.crypto.openpgp_keygen import generate_key

    key = generate_key("<x448@example.org>", kind="ed448", version=6)
    cert, tsk = ps.Cert.from_bytes(key.public), ps.Tsk.from_bytes(key.secret)
    ring, pub = Keyring(), Keyring()
    ring.add_bytes(key.secret)
    pub.add_bytes(key.public)
    assert [e.public.algo for e in pub.entries] == [28, 26]
    theirs = _b(ps.encrypt(MSG, recipients=[cert], armor=False))
    assert bytes.fromhex(open_message(theirs, keyring=ring).to_json()["content"]) == MSG
    ours = encrypt_message(MSG, certs=pub, v6=True)
    assert ps.decrypt(ours, decryptor=tsk.decryptor()).bytes == MSG
    assert ps.verify(sign_message(MSG, ring), store=lambda ids: [cert]).bytes == MSG
    sig = _b(ps.sign(tsk.signer(), MSG, armor=False))
    assert open_message(sig, certs=pub).to_json()["signatures"] == [
        {"signer": key.fingerprint, "valid": True, "error": None}
    ]
