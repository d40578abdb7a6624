"""HPKE (RFC 9180) against the RFC's own vectors and two implementations nobody here wrote.

* ``vectors/rfc9180_base.json``: every Base-mode vector of RFC 9180 Appendix A (7 suites:
  X25519/P-256/P-521 KEMs, HKDF-SHA256/512, AES-128/256-GCM, ChaCha20-Poly1305, export-only),
  each checked for the KEM (Decap and deterministic Encap), the key schedule, every encryption
  (sequence numbers 0..256) and every export;
* pyhpke (``pip install pyhpke``, a pure-Python HPKE on pyca): it seals, we open, and the other
  way round, for the suites ECH uses;
* ``cryptography.hazmat.primitives.hpke``: its single-shot ``Suite.encrypt`` seals, we open.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from netsec_layers.crypto import hpke
from netsec_layers.errors import IntegrityError, ParseError, UnsupportedAlgorithmError, UsageError

VECTORS = Path(__file__).with_name("vectors") / "rfc9180_base.json"


def load_vectors() -> list[dict[str, Any]]:
    """The one loader of the RFC 9180 vector file."""
    vectors: list[dict[str, Any]] = json.loads(VECTORS.read_text())["vectors"]
    return vectors


ALL = load_vectors()


def _h(v: dict[str, Any], key: str) -> bytes:
    return bytes.fromhex(str(v[key]))


def test_the_vector_file_holds_every_base_mode_suite_of_appendix_a() -> None:
    suites = {(v["kem_id"], v["kdf_id"], v["aead_id"]) for v in ALL}
    assert suites == {
        (0x20, 1, 1),
        (0x20, 1, 3),
        (0x10, 1, 1),
        (0x10, 3, 1),
        (0x10, 1, 3),
        (0x12, 3, 2),
        (0x20, 1, 0xFFFF),
    }
    assert sum(len(v["encryptions"]) for v in ALL) == 36
    assert sum(len(v["exports"]) for v in ALL) == 21


@pytest.mark.parametrize("v", ALL, ids=[v["suite_title"] for v in ALL])
def test_rfc9180_base_vector(v: dict[str, Any]) -> None:
    suite = hpke.HPKESuite(v["kem_id"], v["kdf_id"], v["aead_id"])
    shared = hpke.kem_decap(v["kem_id"], enc=_h(v, "enc"), private_key=_h(v, "skRm"))
    assert shared == _h(v, "shared_secret")
    shared_s, enc = hpke.kem_encap_with(
        v["kem_id"], public_key=_h(v, "pkRm"), ephemeral_private_key=_h(v, "skEm")
    )
    assert (shared_s, enc) == (shared, _h(v, "enc"))
    assert hpke.public_key_of(v["kem_id"], _h(v, "skRm")) == _h(v, "pkRm")
    ctx = hpke.key_schedule_base(suite, shared_secret=shared, info=_h(v, "info"))
    assert ctx.key == bytes.fromhex(v.get("key", ""))
    assert ctx.base_nonce == bytes.fromhex(v.get("base_nonce", ""))
    assert ctx.exporter_secret == _h(v, "exporter_secret")
    for e in v["encryptions"]:
        ctx.seq = int(e["sequence_number"])
        assert ctx._nonce() == _h(e, "nonce")
        assert ctx.open(aad=_h(e, "aad"), ciphertext=_h(e, "ct")) == _h(e, "pt")
        ctx.seq -= 1
        assert ctx.seal(aad=_h(e, "aad"), plaintext=_h(e, "pt")) == _h(e, "ct")
    for x in v["exports"]:
        got = ctx.export(exporter_context=_h(x, "exporter_context"), length=int(x["L"]))
        assert got == _h(x, "exported_value")


def test_a_flipped_bit_is_an_integrity_error_and_the_sequence_number_stays() -> None:
    v = ALL[0]
    shared = _h(v, "shared_secret")
    ctx = hpke.key_schedule_base(
        hpke.HPKESuite(0x20, 1, 1), shared_secret=shared, info=_h(v, "info")
    )
    e = v["encryptions"][0]
    bad = bytearray(_h(e, "ct"))
    bad[3] ^= 1
    with pytest.raises(IntegrityError):
        ctx.open(aad=_h(e, "aad"), ciphertext=bytes(bad))
    assert ctx.seq == 0
    with pytest.raises(IntegrityError):  # right bytes, wrong AAD
        ctx.open(aad=b"Count-1", ciphertext=_h(e, "ct"))
    assert ctx.open(aad=_h(e, "aad"), ciphertext=_h(e, "ct")) == _h(e, "pt")
    assert ctx.seq == 1


def test_misuse_is_refused_with_our_errors() -> None:
    with pytest.raises(UnsupportedAlgorithmError):
        hpke.HPKESuite(0x20, 1, 7)
    with pytest.raises(UnsupportedAlgorithmError):
        hpke.HPKESuite(0x99, 1, 1)
    with pytest.raises(UsageError):  # a P-256 secret is 32 bytes, not 48
        hpke.key_schedule_base(hpke.HPKESuite(0x10, 1, 1), shared_secret=bytes(48), info=b"")
    with pytest.raises(ParseError):  # enc of the wrong size
        hpke.kem_decap(0x20, enc=bytes(31), private_key=os.urandom(32))
    with pytest.raises(ParseError):  # an all-zero X25519 point (RFC 9180 §7.1.4)
        hpke.kem_decap(0x20, enc=bytes(32), private_key=os.urandom(32))
    with pytest.raises(ParseError):  # not a P-256 point
        hpke.kem_decap(0x10, enc=b"\x04" + bytes(64), private_key=os.urandom(32))
    export_only = hpke.key_schedule_base(
        hpke.HPKESuite(0x20, 1, 0xFFFF), shared_secret=bytes(32), info=b""
    )
    with pytest.raises(UsageError):
        export_only.open(aad=b"", ciphertext=bytes(20))


# -- pyhpke ----------------------------------------------------------------------------------------

try:
    import pyhpke
except ImportError:  # the `test` extra installs it; the vector tests above run without it
    pyhpke = None
SUITES = [
    (0x20, 1, 1),  # DHKEM(X25519), HKDF-SHA256, AES-128-GCM: the ECH mandatory-to-implement
    (0x20, 1, 3),
    (0x20, 1, 2),
    (0x10, 1, 1),
    (0x10, 1, 3),
    (0x11, 2, 2),
    (0x12, 3, 2),
    (0x20, 3, 1),
]


def _pyhpke_suite(kem: int, kdf: int, aead: int) -> Any:
    return pyhpke.CipherSuite.new(pyhpke.KEMId(kem), pyhpke.KDFId(kdf), pyhpke.AEADId(aead))


@pytest.mark.skipif(pyhpke is None, reason="pyhpke not installed (pip install .[test])")
@pytest.mark.parametrize("ids", SUITES, ids=[f"{k:#x}-{d}-{a}" for k, d, a in SUITES])
def test_pyhpke_seals_we_open_and_the_other_way_round(ids: tuple[int, int, int]) -> None:
    kem, kdf, aead = ids
    theirs = _pyhpke_suite(kem, kdf, aead)
    keypair = theirs.kem.derive_key_pair(os.urandom(32))
    info, aad, pt = os.urandom(40), os.urandom(200), os.urandom(300)
    enc, sender = theirs.create_sender_context(keypair.public_key, info)
    cts = [sender.seal(pt, aad) for _ in range(3)]
    sk = keypair.private_key.to_private_bytes()
    # from the recipient's private key (Decap) and from the shared secret alone (ECH_SECRET)
    shared = hpke.kem_decap(kem, enc=enc, private_key=sk)
    assert shared == theirs.kem.decap(enc, keypair.private_key)
    ours = hpke.key_schedule_base(hpke.HPKESuite(kem, kdf, aead), shared_secret=shared, info=info)
    assert [ours.open(aad=aad, ciphertext=c) for c in cts] == [pt, pt, pt]
    # we seal (deterministic Encap with our own ephemeral key), they open
    pk = keypair.public_key.to_public_bytes()
    eph = theirs.kem.derive_key_pair(os.urandom(32)).private_key.to_private_bytes()
    shared2, enc2 = hpke.kem_encap_with(kem, public_key=pk, ephemeral_private_key=eph)
    sender2 = hpke.key_schedule_base(
        hpke.HPKESuite(kem, kdf, aead), shared_secret=shared2, info=info
    )
    recipient = theirs.create_recipient_context(enc2, keypair.private_key, info)
    for _ in range(2):
        assert recipient.open(sender2.seal(aad=aad, plaintext=pt), aad) == pt
    assert sender2.export(exporter_context=b"ctx", length=40) == recipient.export(b"ctx", 40)


# -- cryptography's own HPKE -----------------------------------------------------------------------


@pytest.mark.parametrize("aead", ["AES_128_GCM", "AES_256_GCM", "CHACHA20_POLY1305"])
@pytest.mark.parametrize("curve", ["X25519", "P256"])
def test_cryptography_hpke_single_shot_opens_here(curve: str, aead: str) -> None:
    from cryptography.hazmat.primitives import hpke as pyca
    from cryptography.hazmat.primitives.asymmetric import ec, x25519

    if curve == "X25519":
        key: Any = x25519.X25519PrivateKey.generate()
        sk, kem_id = key.private_bytes_raw(), 0x20
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        sk, kem_id = key.private_numbers().private_value.to_bytes(32, "big"), 0x10
    aead_id = {"AES_128_GCM": 1, "AES_256_GCM": 2, "CHACHA20_POLY1305": 3}[aead]
    suite = pyca.Suite(getattr(pyca.KEM, curve), pyca.KDF.HKDF_SHA256, getattr(pyca.AEAD, aead))
    info, pt = os.urandom(17), os.urandom(100)
    blob = suite.encrypt(pt, key.public_key(), info=info)  # enc || ciphertext, empty AAD, seq 0
    n_enc = hpke.HPKESuite(kem_id, 1, aead_id).n_enc
    shared = hpke.kem_decap(kem_id, enc=blob[:n_enc], private_key=sk)
    ctx = hpke.key_schedule_base(
        hpke.HPKESuite(kem_id, 1, aead_id), shared_secret=shared, info=info
    )
    assert ctx.open(aad=b"", ciphertext=blob[n_enc:]) == pt
