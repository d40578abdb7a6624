"""IKE key schedule and SK protection.

Evidence from outside this project: RFC 4434 / RFC 4615 PRF vectors, the SP 800-135 IKEv2 KDF
vector (CAVP format, as published with libreswan's CAVS tool), and every SKEYSEED and SK_*
that strongSwan's charon logged for the IKE SAs of pcaps/ike (derived here from the logged
g^ir and the nonces/SPIs read from the capture)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM

from netsec_layers.crypto.ike import (
    SKCipher,
    derive_ike_keys,
    enc_key_len,
    ikev1_decrypt,
    ikev1_iv_chain_next,
    ikev1_keys,
    ikev1_phase1_iv,
    ikev1_phase2_iv,
    integ_key_len,
    keymat,
    prf,
    prf_plus,
    skeyseed,
    skeyseed_rekey,
)
from netsec_layers.errors import (
    IntegrityError,
    TruncatedError,
    UnsupportedAlgorithmError,
    UsageError,
)

VEC = Path(__file__).resolve().parents[1] / "vectors" / "ike"
REPO = Path(__file__).resolve().parents[2]


def _load(name: str) -> list[dict]:
    return json.loads((VEC / name).read_text())["vectors"]


@pytest.mark.parametrize("v", _load("prf_vectors.json"), ids=lambda v: v["name"])
def test_prf_vectors(v: dict) -> None:
    out = prf(v["prf"], bytes.fromhex(v["key"]), bytes.fromhex(v["data"]))
    assert out.hex() == v["out"]


@pytest.mark.parametrize("v", _load("kdf_vectors.json"), ids=lambda v: v["name"])
def test_sp800_135_ikev2_kdf(v: dict) -> None:
    h = {k: bytes.fromhex(x) for k, x in v.items() if isinstance(x, str) and k != "name"}
    p = v["prf"]
    seed = skeyseed(p, nonce_i=h["ni"], nonce_r=h["nr"], g_ir=h["g_ir"])
    assert seed == h["skeyseed"]
    dkm = prf_plus(p, seed, h["ni"] + h["nr"] + h["spi_i"] + h["spi_r"], v["dkm_len"])
    assert dkm == h["dkm"]
    sk_d = dkm[: len(seed)]
    assert (
        keymat(p, sk_d=sk_d, nonce_i=h["ni"], nonce_r=h["nr"], length=v["dkm_len"])
        == h["dkm_child"]
    )
    assert (
        keymat(
            p, sk_d=sk_d, nonce_i=h["ni"], nonce_r=h["nr"], g_ir=h["g_ir_new"], length=v["dkm_len"]
        )
        == h["dkm_child_dh"]
    )
    assert (
        skeyseed_rekey(p, old_sk_d=sk_d, g_ir=h["g_ir_new"], nonce_i=h["ni"], nonce_r=h["nr"])
        == h["skeyseed_rekey"]
    )


def _charon_ike_sas() -> list[dict]:
    """Initial IKE SAs of both samples with the transforms and nonces read from the capture."""
    from scapy.layers.inet import UDP
    from scapy.utils import rdpcap

    from netsec_layers.session.ike_wire import parse_header, parse_payloads, parse_sa

    out = []
    for stem in ("strongswan_ikev2", "strongswan_ikev2_algs"):
        secrets = json.loads((REPO / f"pcaps/ike/{stem}.secrets.json").read_text())
        inits: dict[str, dict] = {}
        for pkt in rdpcap(str(REPO / f"pcaps/ike/{stem}.pcap")):
            if UDP in pkt and pkt[UDP].sport == 500:
                msg = bytes(pkt[UDP].payload)
                hdr = parse_header(msg)
                d = inits.setdefault(hdr.spi_i.hex(), {})
                for pl in parse_payloads(msg, hdr.next_payload, 28, hdr.length):
                    if pl.ptype == 40:
                        d["nr" if hdr.is_response else "ni"] = pl.body(msg)
                    if pl.ptype == 33 and hdr.is_response:
                        d["prop"] = parse_sa(pl.body(msg))[0]
        out += [{**s, **inits[s["spi_i"]]} for s in secrets["ike_sas"] if s["spi_i"] in inits]
    return out


CHARON = _charon_ike_sas()


def test_charon_samples_have_nine_initial_ike_sas() -> None:
    assert len(CHARON) == 9


@pytest.mark.parametrize("s", CHARON, ids=lambda s: s["name"])
def test_key_schedule_equals_charon(s: dict) -> None:
    prop = s["prop"]
    p = prop.get(2).tid
    encr, integ = prop.get(1), prop.get(3)
    seed = skeyseed(p, nonce_i=s["ni"], nonce_r=s["nr"], g_ir=bytes.fromhex(s["g_ir"]))
    assert seed.hex() == s["skeyseed"]
    keys = derive_ike_keys(
        p,
        seed=seed,
        nonce_i=s["ni"],
        nonce_r=s["nr"],
        spi_i=bytes.fromhex(s["spi_i"]),
        spi_r=bytes.fromhex(s["spi_r"]),
        enc_key_len=enc_key_len(encr.tid, encr.key_bits),
        integ_key_len=integ_key_len(integ.tid) if integ else 0,
    )
    for name in ("sk_d", "sk_ai", "sk_ar", "sk_ei", "sk_er", "sk_pi", "sk_pr"):
        assert getattr(keys, name).hex() == s.get(name, ""), name


# -- SK payload: RFC 7296 §3.14 / RFC 5282 layout built here with pyca directly -------------
HDR = bytes(range(28)) + b"\x29\x00\x00\x00"  # IKE header + SK payload header (lengths unused)


@pytest.mark.parametrize(
    ("encr", "key_len", "integ", "ikey_len"),
    [
        (12, 16, 12, 32),
        (12, 32, 14, 64),
        (3, 24, 2, 20),
        (13, 20, 5, 16),
        (12, 24, 8, 16),
        (13, 36, 13, 48),
    ],
)
def test_sk_cbc_ctr_seal_open_and_bad_icv(
    encr: int, key_len: int, integ: int, ikey_len: int
) -> None:
    c = SKCipher(encr, bytes(range(key_len)), integ, bytes(range(100, 100 + ikey_len)))
    iv = b"\x42" * c.iv_len
    body = c.seal(HDR, b"inner payloads", iv=iv)
    assert len(body) == c.sealed_len(14)
    assert c.open(HDR + body, len(HDR)) == b"inner payloads"
    bad = bytearray(HDR + body)
    bad[-1] ^= 1
    with pytest.raises(IntegrityError):
        c.open(bytes(bad), len(HDR))
    bad = bytearray(HDR + body)
    bad[3] ^= 1  # the IKE header is covered by the ICV too
    with pytest.raises(IntegrityError):
        c.open(bytes(bad), len(HDR))


@pytest.mark.parametrize(("encr", "icv"), [(18, 8), (19, 12), (20, 16), (14, 8), (16, 16)])
def test_sk_aead_is_rfc5282_layout(encr: int, icv: int) -> None:
    salt_len = 3 if encr in (14, 15, 16) else 4
    key = bytes(range(16)) + b"\xaa" * salt_len
    c = SKCipher(encr, key)
    iv = b"\x01" * 8
    pt = b"payloads" + b"\x00"  # pad length 0
    if salt_len == 3:
        want = AESCCM(key[:16], tag_length=icv).encrypt(key[16:] + iv, pt, HDR)
    else:
        full = AESGCM(key[:16]).encrypt(key[16:] + iv, pt, HDR)
        want = full[: len(full) - 16 + icv]
    assert c.seal(HDR, b"payloads", iv=iv) == iv + want
    assert c.open(HDR + iv + want, len(HDR)) == b"payloads"
    tampered = HDR[:-1] + b"\x01" + iv + want  # AAD covers the SK payload header
    with pytest.raises(IntegrityError):
        c.open(tampered, len(HDR))


def test_sk_misuse() -> None:
    with pytest.raises(UsageError):
        SKCipher(20, bytes(16))  # GCM key without salt
    with pytest.raises(UsageError):
        SKCipher(20, bytes(20), 12, bytes(32))  # AEAD with integrity
    with pytest.raises(UnsupportedAlgorithmError):
        SKCipher(99, bytes(16))
    c = SKCipher(12, bytes(16), 12, bytes(32))
    with pytest.raises(TruncatedError):
        c.open(HDR + bytes(10), len(HDR))  # shorter than IV + block + ICV
    with pytest.raises(UsageError):
        prf_plus(2, b"k", b"s", 255 * 20 + 1)


def test_ikev1_key_expansion_and_iv_chain() -> None:
    # RFC 2409 Appendix B: a 32-byte AES key from SHA-1 SKEYID_e needs K1 | K2
    skeyid, d, a, k = ikev1_keys(
        2,
        psk=b"secret",
        nonce_i=b"i" * 16,
        nonce_r=b"r" * 16,
        g_xy=b"g" * 128,
        cky_i=b"I" * 8,
        cky_r=b"R" * 8,
        key_len=32,
    )
    import hashlib
    import hmac

    e = hmac.new(skeyid, a + b"g" * 128 + b"I" * 8 + b"R" * 8 + b"\2", hashlib.sha1).digest()
    k1 = hmac.new(e, b"\0", hashlib.sha1).digest()
    assert k == (k1 + hmac.new(e, k1, hashlib.sha1).digest())[:32]
    iv1 = ikev1_phase1_iv(2, g_xi=b"x" * 128, g_xr=b"y" * 128, block=16)
    assert iv1 == hashlib.sha1(b"x" * 128 + b"y" * 128).digest()[:16]
    assert (
        ikev1_phase2_iv(2, last_phase1_block=b"L" * 16, message_id=b"\0\0\0\1", block=16)
        == hashlib.sha1(b"L" * 16 + b"\0\0\0\1").digest()[:16]
    )
    ct = bytes(range(32))
    assert ikev1_iv_chain_next(ct, 16) == ct[16:]
    assert len(ikev1_decrypt("AES-CBC", k, iv1, ct)) == 32


def test_non_aead_cipher_without_integrity_is_refused() -> None:
    with pytest.raises(UsageError):
        SKCipher(12, bytes(16), 0)  # AES-CBC and no integrity: nothing to authenticate with
