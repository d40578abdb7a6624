"""CMS verification and decryption of objects made by OpenSSL 3.0 and by CryptoSys (the
draft-ireland-examples-cms objects over RFC 9216 keys): contents equal to what they were given,
signers named as pyca names them, and every tampering a typed verdict."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsec_layers.crypto.cms import (
    ChainVerdict,
    SignerVerdict,
    load_content_info,
    verify_signed_data,
)
from netsec_layers.crypto.cms_envelope import (
    RecipientKeys,
    open_auth_enveloped,
    open_enveloped,
)
from netsec_layers.errors import IntegrityError, KeyUnavailableError, NetsecError, ParseError
from tests.mail.cms_vectors import CMS, MANIFEST, VECTORS, cert, content_of, default_keys, keys_of

SIGNED = MANIFEST["signed"]
ENVELOPED = MANIFEST["enveloped"]


def _verify(v: dict[str, Any], data: bytes | None = None, content: bytes | None = None) -> Any:
    ci = load_content_info(data if data is not None else (VECTORS / v["file"]).read_bytes())
    assert ci["content_type"].native == "signed_data"
    anchors = [cert("cms/ca.crt")] if v.get("anchors", True) else []
    return verify_signed_data(
        ci["content"],
        detached_content=(content or content_of(v)) if v.get("detached") else None,
        certificates=[cert(c) for c in v.get("certs", [])],
        anchors=anchors,
    )


@pytest.mark.parametrize("v", SIGNED, ids=lambda v: v["file"])
def test_signed_vectors_verify(v: dict[str, Any]) -> None:
    res = _verify(v)
    assert res.content == content_of(v)
    assert [[s.signer, s.valid] for s in res.signers] == v["signers"]
    assert all((s.error is None) is (s.valid is True) for s in res.signers)
    if "alg" in v:
        assert res.signers[0].signature_algorithm == v["alg"]
    if v.get("anchors", True):
        assert all(s.chain is ChainVerdict.TRUSTED for s in res.signers)


@pytest.mark.parametrize("v", SIGNED, ids=lambda v: v["file"])
def test_signed_vectors_detect_tampering(v: dict[str, Any]) -> None:
    data = (VECTORS / v["file"]).read_bytes()
    content = content_of(v)
    if v.get("detached"):
        res = _verify(v, content=content[:-1] + bytes([content[-1] ^ 1]))
    else:
        pos = data.find(content)
        if pos < 0:  # BER: the content split over several OCTET STRING pieces
            pos = data.find(content[8:16])
        assert pos > 0
        res = _verify(v, data=data[:pos] + bytes([data[pos] ^ 1]) + data[pos + 1 :])
    for s, (_, expected) in zip(res.signers, v["signers"], strict=True):
        if expected is None:  # no usable certificate: stays unknown
            assert s.valid is None
            continue
        assert s.valid is False
        assert s.verdict in (SignerVerdict.DIGEST_MISMATCH, SignerVerdict.BAD_SIGNATURE)
        assert s.error


def test_bad_signature_bytes() -> None:
    v = SIGNED[0]
    data = bytearray((VECTORS / v["file"]).read_bytes())
    data[-5] ^= 0x40  # inside the RSA signature, the last field of the only SignerInfo
    res = _verify(v, data=bytes(data))
    assert res.signers[0].verdict is SignerVerdict.BAD_SIGNATURE


def test_signer_without_certificate_is_null() -> None:
    v = next(x for x in SIGNED if x["file"] == "cms/signed-nocerts.der")
    ci = load_content_info((VECTORS / v["file"]).read_bytes())
    res = verify_signed_data(ci["content"])
    assert res.signers[0].valid is None and res.signers[0].error


def test_untrusted_anchor() -> None:
    v = SIGNED[0]
    ci = load_content_info((VECTORS / v["file"]).read_bytes())
    res = verify_signed_data(ci["content"], anchors=[cert("rfc9216/lamps-alice.crt")])
    assert res.signers[0].valid is True and res.signers[0].chain is ChainVerdict.UNTRUSTED


def _open(v: dict[str, Any], keys: RecipientKeys, data: bytes | None = None) -> Any:
    ci = load_content_info(data if data is not None else (VECTORS / v["file"]).read_bytes())
    if ci["content_type"].native == "enveloped_data":
        return open_enveloped(ci["content"], keys)
    return open_auth_enveloped(ci["content"], keys)


@pytest.mark.parametrize("v", ENVELOPED, ids=lambda v: v["file"])
def test_enveloped_vectors_decrypt(v: dict[str, Any]) -> None:
    res = _open(v, keys_of(v))
    assert res.content == content_of(v)
    assert res.cipher == v["cipher"]
    assert res.recipient == v["recipient"]
    assert res.authenticated is v.get("authenticated", False)


@pytest.mark.parametrize("v", ENVELOPED, ids=lambda v: v["file"])
def test_enveloped_without_key(v: dict[str, Any]) -> None:
    with pytest.raises((KeyUnavailableError, IntegrityError)):
        _open(v, RecipientKeys(passwords=[b"wrong"], keks={b"\xc0\xff\xee": bytes(16)}))


AEAD = [v for v in ENVELOPED if v.get("authenticated")]


@pytest.mark.parametrize("v", AEAD, ids=lambda v: v["file"])
def test_aead_tag_failure_is_integrity_error(v: dict[str, Any]) -> None:
    data = bytearray((VECTORS / v["file"]).read_bytes())
    data[-3] ^= 1  # inside the mac OCTET STRING (the last field)
    with pytest.raises(IntegrityError):
        _open(v, keys_of(v), bytes(data))


def test_cbc_alteration_is_unauthenticated() -> None:
    """CBC has no integrity: flipping a bit of the first ciphertext block still "decrypts"
    (padding intact), and the result says authenticated=False."""
    v = next(x for x in ENVELOPED if x["file"] == "cms/env-rsa-aes256.der")
    data = bytearray((VECTORS / v["file"]).read_bytes())
    ct_len = 80  # 67 bytes of content padded to 5 blocks
    data[len(data) - ct_len] ^= 1
    res = _open(v, default_keys(), bytes(data))
    assert res.authenticated is False and res.content != content_of(v)


@given(st.binary(max_size=600))
@settings(max_examples=300, deadline=None)
def test_garbage_raises_only_our_errors(data: bytes) -> None:
    for blob in (data, b"\x30" + data, (CMS / "env-kek.der").read_bytes()[: len(data)]):
        try:
            ci = load_content_info(blob)
            kind = ci["content_type"].native
            if kind == "signed_data":
                verify_signed_data(ci["content"])
            elif kind == "enveloped_data":
                open_enveloped(ci["content"], default_keys())
        except NetsecError:
            pass


def test_length_bomb_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        load_content_info(b"\x30\x84\xff\xff\xff\xff" + b"\x00" * 10)
