"""RFC 9580 Appendix A: v6 keys, X25519 + SEIPD v2 (OCB), SKESK v6 with EAX/OCB/GCM, Argon2,
cleartext and inline v6 signatures — every value checked against the RFC's own numbers."""

from __future__ import annotations

from typing import Any

import pytest

from netsec_layers.crypto import openpgp_armor as armor
from netsec_layers.crypto.openpgp_pk import parse_pkesk, parse_secret_key, pkesk_decrypt, unlock
from netsec_layers.crypto.openpgp_sym import (
    S2K,
    derive_s2k,
    hkdf_sha256,
    seipd1_decrypt,
    seipd2_decrypt,
    skesk_decrypt,
)
from netsec_layers.crypto.openpgp_wire import parse_public_key, read_packets
from netsec_layers.errors import IntegrityError
from netsec_layers.keys.openpgp_keys import Keyring, parse_session_key
from netsec_layers.layers.openpgp import dissect_packets, undecoded_reason
from netsec_layers.session.openpgp import OpenVerdict, open_message
from tests.openpgp.openpgp_util import RFC, flat_tags, rfc_vectors

V = rfc_vectors()
FAST = [m for m in V["messages"] if "argon2" not in m["file"] and "key_passphrase" not in m]


def _packets(name: str) -> list[Any]:
    block = armor.decode((RFC / name).read_bytes())[0]
    assert isinstance(block, armor.ArmorBlock)
    return read_packets(block.data)


def test_a3_fingerprints() -> None:
    pk = _packets("a3_cert.asc")
    assert parse_public_key(pk[0].body)[0].fingerprint.hex().upper() == V["cert_fingerprint"]
    assert parse_public_key(pk[2].body)[0].fingerprint.hex().upper() == V["subkey_fingerprint"]
    assert parse_public_key(pk[0].body)[0].key_id.hex().upper() == V["cert_fingerprint"][:16]


def test_a3_self_signatures_verify() -> None:
    out = open_message((RFC / "a3_cert.asc").read_bytes()).to_json()
    assert [s["valid"] for s in out["signatures"]] == [True, True]
    assert {s["signer"] for s in out["signatures"]} == {V["cert_fingerprint"]}


@pytest.mark.parametrize("m", FAST, ids=lambda m: m["file"])
def test_message_decrypts(m: dict[str, Any]) -> None:
    kr = Keyring()
    if "key" in m:
        kr.add_bytes((RFC / m["key"]).read_bytes())
    res = open_message(
        (RFC / m["file"]).read_bytes(),
        keyring=kr,
        passphrases=[m["passphrase"].encode()] if "passphrase" in m else [],
    )
    out = res.to_json()
    assert out["error"] is None and out["decrypted"] is True
    assert bytes.fromhex(out["content"]) == m["content"].encode()
    assert res.session_key is not None and res.session_key.key.hex() == m["session_key"]
    assert flat_tags(out["tree"]) == [m["tags"][0], 18, 11, 21]


def test_a8_x25519_intermediates() -> None:
    """A.8.2: the decrypted session key from the A.4 X25519 subkey."""
    sec = _packets("a4_secret.asc")
    sub = parse_secret_key(sec[2].body, sec[2].tag)
    pk = parse_pkesk(_packets("a8_x25519_ocb.asc")[0].body)
    assert pk.version == 6 and pk.fingerprint.hex().upper() == V["subkey_fingerprint"]
    assert sub.secret is not None
    sk = pkesk_decrypt(pk, sub.public, sub.secret)
    assert sk.key.hex() == "dd708f6fa1ed65114d68d2343e7c2f1d"


def test_a9_skesk_intermediates() -> None:
    """A.9.2: S2K output and HKDF output of the EAX SKESK."""
    body = _packets("a9_eax.asc")[0].body
    s2k = S2K(3, 8, bytes.fromhex("a5ae579d1fc5d82b"), 0xFF)
    derived = derive_s2k(s2k, b"password", 16)
    assert derived.hex() == "154967e590aa1f923e1c0ac64c88f23d"
    assert hkdf_sha256(derived, bytes.fromhex("c3060701"), 16).hex() == (
        "2fce331f39dd955cc41e95d870c72139"
    )
    assert skesk_decrypt(body, b"password").key.hex() == "3881bafe985412459b86c36f98cb9a5e"


@pytest.mark.parametrize("m", FAST[1:], ids=lambda m: m["file"])
def test_wrong_passphrase_is_no_key(m: dict[str, Any]) -> None:
    out = open_message((RFC / m["file"]).read_bytes(), passphrases=[b"wrong"])
    assert out.verdict is OpenVerdict.NO_KEY
    j = out.to_json()
    assert j["decrypted"] is False and j["content"] is None and j["error"]


@pytest.mark.parametrize("m", FAST, ids=lambda m: m["file"])
def test_tampered_aead_gives_no_plaintext(m: dict[str, Any]) -> None:
    block = armor.decode((RFC / m["file"]).read_bytes())[0]
    assert isinstance(block, armor.ArmorBlock)
    data = bytearray(block.data)
    data[-20] ^= 0x01  # inside the last chunk's ciphertext/tag
    res = open_message(
        bytes(data),
        session_keys=[parse_session_key(":" + m["session_key"])],
    )
    j = res.to_json()
    assert res.verdict is OpenVerdict.INTEGRITY_FAILED
    assert j["decrypted"] is False and j["content"] is None and "tag mismatch" in j["error"]
    assert "children" not in j["tree"][1] and j["tree"][1]["decrypted"] is False
    with pytest.raises(IntegrityError):
        seipd2_decrypt(bytes.fromhex(m["session_key"]), read_packets(bytes(data))[1].body)


@pytest.mark.parametrize("file", ["a12_argon2_aes192.asc", "a12_argon2_aes256.asc"])
def test_a12_with_session_key(file: str) -> None:
    """A.12's session keys (printed in its armor comments) open the v1 SEIPD."""
    m = next(x for x in V["messages"] if x["file"] == file)
    pk = _packets(file)
    algo = 8 if "192" in file else 9
    inner = seipd1_decrypt(algo, bytes.fromhex(m["session_key"]), pk[1].body[1:])
    assert read_packets(inner)[0].body.endswith(b"Hello, world!")


@pytest.mark.slow
def test_a12_argon2_skesk() -> None:
    """Argon2id (t=1, p=4, m=2^21 KiB) through pyca: one derivation, ~10 s."""
    m = next(x for x in V["messages"] if x["file"] == "a12_argon2_aes128.asc")
    out = open_message((RFC / m["file"]).read_bytes(), passphrases=[b"password"]).to_json()
    assert bytes.fromhex(out["content"]) == b"Hello, world!"


@pytest.mark.slow
def test_a5_locked_subkey_unlocks_with_argon2_aead() -> None:
    """A.5: the X25519 subkey locked with Argon2 + AEAD (OCB) opens and equals A.4's."""
    locked = _packets("a5_locked.asc")
    plain = _packets("a4_secret.asc")
    sk = parse_secret_key(locked[2].body, locked[2].tag)
    assert sk.locked and sk.usage == 253
    secret = unlock(sk, b"correct horse battery staple")  # (one 2 GiB Argon2 run)
    assert secret == parse_secret_key(plain[2].body, plain[2].tag).secret


@pytest.mark.parametrize("s", V["signatures"], ids=lambda s: s["file"])
def test_signatures_verify(s: dict[str, Any]) -> None:
    certs = Keyring()
    certs.add_bytes((RFC / s["cert"]).read_bytes())
    out = open_message((RFC / s["file"]).read_bytes(), certs=certs).to_json()
    assert out["signatures"] == [{"signer": V["cert_fingerprint"], "valid": True, "error": None}]
    assert bytes.fromhex(out["content"]).decode() == s["content"]


@pytest.mark.parametrize("s", V["signatures"], ids=lambda s: s["file"])
def test_unknown_signer_is_null(s: dict[str, Any]) -> None:
    out = open_message((RFC / s["file"]).read_bytes()).to_json()
    assert out["signatures"][0]["valid"] is None
    assert out["signatures"][0]["signer"] == V["cert_fingerprint"]
    assert out["signatures"][0]["error"]


def test_altered_cleartext_is_invalid() -> None:
    certs = Keyring()
    certs.add_bytes((RFC / "a3_cert.asc").read_bytes())
    text = (RFC / "a6_cleartext.asc").read_bytes().replace(b"tofu", b"tofv")
    out = open_message(text, certs=certs).to_json()
    assert out["signatures"][0]["valid"] is False and out["signatures"][0]["error"]


@pytest.mark.parametrize("name", sorted(p.name for p in RFC.glob("*.asc")))
def test_layers_rebuild_rfc_samples(name: str) -> None:
    for block in armor.decode((RFC / name).read_bytes()):
        data = block.data if isinstance(block, armor.ArmorBlock) else block.signature.data
        pkts = dissect_packets(data)
        assert [undecoded_reason(p) for p in pkts] == [None] * len(pkts)
        assert b"".join(bytes(p) for p in pkts) == data
        assert [p.tag for p in pkts] == [r.tag for r in read_packets(data)]


def test_layer_fields_match_the_rfc_breakdown() -> None:
    """A.8.1 and A.8.3 broken out by the RFC, compared with the layer's fields."""
    pk, seipd = dissect_packets(armor.decode((RFC / "a8_x25519_ocb.asc").read_bytes())[0].data)
    body = pk.payload
    assert (body.version, body.fpr_len, body.key_version, body.pk_algo) == (6, 0x21, 6, 25)
    assert body.esk.ephemeral.hex().startswith("87cf18d5f1b53f81")
    assert body.esk.esk_len == 0x18 and body.esk.wrapped.hex().startswith("dea355437956")
    s = seipd.payload
    assert (s.version, s.sym_algo, s.aead_algo, s.chunk_size) == (2, 7, 2, 6)
    assert s.salt.hex().startswith("616416535be0b071")


def test_passphrase_also_unlocks_secret_keys() -> None:
    """`--passphrase` opens SKESK and protected keys alike (gpg-ed: passphrase 'pw pw:x')."""
    from netsec_layers.session.openpgp_craft import encrypt_message
    from tests.openpgp.openpgp_util import KEYS

    cert, key = Keyring(), Keyring()
    cert.add_bytes((KEYS / "gpg-ed.pub.asc").read_bytes())
    key.add_bytes((KEYS / "gpg-ed.sec.asc").read_bytes())
    msg = encrypt_message(b"to ed", certs=cert)
    assert open_message(msg, keyring=key).to_json()["content"] is None
    out = open_message(msg, keyring=key, passphrases=[b"pw pw:x"]).to_json()
    assert bytes.fromhex(out["content"]) == b"to ed" and key.passphrases == []


def test_gpg_revocation_certificate() -> None:
    """The revocation certificate gpg 2.2 wrote at key generation (openpgp-revocs.d, leading
    colon removed): valid against the key's certificate, unknown without it."""
    from tests.openpgp.openpgp_util import KEYS

    rev = (KEYS / "gpg-rsa.rev.asc").read_bytes()
    cert, other = Keyring(), Keyring()
    cert.add_bytes((KEYS / "gpg-rsa.pub.asc").read_bytes())
    other.add_bytes((KEYS / "gpg-ed.pub.asc").read_bytes())
    fpr = cert.entries[0].fingerprint_hex
    assert open_message(rev, certs=cert).to_json()["signatures"] == [
        {"signer": fpr, "valid": True, "error": None}
    ]
    assert open_message(rev, certs=other).to_json()["signatures"][0]["valid"] is None
    block = armor.decode(rev)[0]
    assert isinstance(block, armor.ArmorBlock)
    raw = bytearray(block.data)
    raw[-1] ^= 0x01  # inside the RSA signature value
    bad = open_message(bytes(raw), certs=cert).to_json()["signatures"]
    assert bad[0]["valid"] is False and bad[0]["signer"] == fpr


def test_a1_a2_v4_ed25519legacy() -> None:
    """A.1/A.2: the v4 EdDSALegacy key's fingerprint and packet, the detached signature over
    "OpenPGP" valid with the hash input and digest the RFC prints, and our signing primitive
    giving the RFC's r and s from its secret (Ed25519 is deterministic)."""
    from netsec_layers.crypto.openpgp_craft import _sign_digest
    from netsec_layers.crypto.openpgp_pk import signature_digest, signature_trailer
    from netsec_layers.crypto.openpgp_wire import encode_mpi, parse_signature

    v = V["v4_ed25519legacy"]
    (key_pkt,) = _packets(v["key"])
    pub = parse_public_key(key_pkt.body)[0]
    assert pub.fingerprint.hex().upper() == v["fingerprint"]
    # the RFC prints the packet with a legacy header (98 33), its armor uses the new one (c6 33)
    assert key_pkt.body.hex() == v["public_key_packet"][4:]
    (sig_pkt,) = _packets(v["signature"])
    sig = parse_signature(sig_pkt.body)
    assert (v["signed_data"].encode() + signature_trailer(sig)).hex() == v["hash_input"]
    assert signature_digest(sig, v["signed_data"].encode()).hex() == v["digest"]
    certs = Keyring()
    certs.add_bytes((RFC / v["key"]).read_bytes())
    out = open_message(
        (RFC / v["signature"]).read_bytes(), certs=certs, detached=v["signed_data"].encode()
    ).to_json()
    assert out["signatures"] == [{"signer": v["fingerprint"], "valid": True, "error": None}]
    bad = open_message((RFC / v["signature"]).read_bytes(), certs=certs, detached=b"OpenPGp")
    assert bad.to_json()["signatures"][0]["valid"] is False
    mpis = _sign_digest(pub, {"x": bytes.fromhex(v["secret_d"])}, bytes.fromhex(v["digest"]), 8)
    assert mpis == encode_mpi(bytes.fromhex(v["r"])) + encode_mpi(bytes.fromhex(v["s"]))


def test_a3_subpackets_read_as_the_rfc_breaks_them_out() -> None:
    """A.3.1's annotated Direct Key signature: each hashed subpacket's reading."""
    out = open_message((RFC / "a3_cert.asc").read_bytes()).to_json()
    direct = out["tree"][0]["children"][1]
    got = [(s["name"], s["critical"], s["value"]) for s in direct["hashed_subpackets"]]
    assert got == [
        ("SIGNATURE_CREATION_TIME", True, 0x63877FE3),
        ("PREFERRED_SYMMETRIC", False, ["AES256", "AES128"]),
        ("PREFERRED_HASH", False, ["SHA512", "SHA3_512", "SHA256", "SHA3_256"]),
        ("PREFERRED_COMPRESSION", False, ["UNCOMPRESSED"]),
        ("KEY_FLAGS", True, ["certify", "sign"]),
        ("FEATURES", False, ["seipd-v1", "seipd-v2"]),
        ("ISSUER_FINGERPRINT", False, {"version": 6, "fingerprint": V["cert_fingerprint"]}),
        ("PREFERRED_AEAD_CIPHERSUITES", False, [["AES256", "OCB"], ["AES128", "OCB"]]),
    ]
    sig_layer = dissect_packets(armor.decode((RFC / "a3_cert.asc").read_bytes())[0].data)[3]
    assert [s.value for s in sig_layer.payload.hashed] == [
        0x63877FE3, ["encrypt-communications", "encrypt-storage"],
        {"version": 6, "fingerprint": V["cert_fingerprint"]},
    ]  # fmt: skip
