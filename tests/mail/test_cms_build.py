"""Crafted CMS objects open with our reader for any content (the reader itself is checked
against OpenSSL and CryptoSys objects in test_cms_vectors.py; openssl's acceptance of what we
craft is in test_cms_openssl.py).  Ed25519 signing is only checked here: OpenSSL 3.0 cannot
verify CMS Ed25519 ("invalid digest"), so our verifier -- validated on CryptoSys's Ed25519
objects -- is the reference."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsec_layers.crypto.cms import SignerVerdict, load_content_info, verify_signed_data
from netsec_layers.crypto.cms_build import CONTENT_CIPHERS, encrypt_content, sign_content
from netsec_layers.crypto.cms_envelope import open_auth_enveloped, open_enveloped
from netsec_layers.errors import IntegrityError, UsageError
from tests.mail.cms_vectors import CMS, cert, default_keys


def _key(name: str):  # type: ignore[no-untyped-def]
    from netsec_layers.crypto.cms_envelope import load_private_key

    return load_private_key((CMS / f"{name}.key").read_bytes())


@given(st.binary(max_size=300), st.sampled_from(["rsa", "ec", "ed", "ec384"]), st.booleans())
@settings(max_examples=25, deadline=None)
def test_sign_then_verify(content: bytes, who: str, attrs: bool) -> None:
    der = sign_content(
        content=content, signers=[(_key(who), cert(f"cms/{who}.crt"))], signed_attributes=attrs
    )
    res = verify_signed_data(load_content_info(der)["content"], anchors=[cert("cms/ca.crt")])
    assert res.content == content and res.signers[0].valid is True


def test_ed25519_tamper_detected() -> None:
    der = sign_content(content=b"x", signers=[(_key("ed"), cert("cms/ed.crt"))], tamper="signature")
    res = verify_signed_data(load_content_info(der)["content"])
    assert res.signers[0].verdict is SignerVerdict.BAD_SIGNATURE


@given(
    st.binary(max_size=300),
    st.sampled_from(sorted(CONTENT_CIPHERS)),
    st.sampled_from(["rsa", "ec", "kek", "pw"]),
)
@settings(max_examples=40, deadline=None)
def test_encrypt_then_decrypt(content: bytes, cipher: str, who: str) -> None:
    kw: dict[str, object] = {}
    if who in ("rsa", "ec"):
        kw["recipients"] = [cert(f"cms/{who}.crt")]
    elif who == "kek":
        kw["keks"] = [(b"\xc0\xff\xee", bytes.fromhex("000102030405060708090a0b0c0d0e0f"))]
    else:
        kw["passwords"] = [b"correct horse"]
    der = encrypt_content(content=content, cipher=cipher, **kw)  # type: ignore[arg-type]
    ci = load_content_info(der)
    opener = open_auth_enveloped if cipher.endswith("gcm") else open_enveloped
    res = opener(ci["content"], default_keys())
    assert res.content == content and res.authenticated is cipher.endswith("gcm")


def test_broken_tag_and_usage_errors() -> None:
    der = encrypt_content(
        content=b"abc", recipients=[cert("cms/ec.crt")], cipher="aes128_gcm", tamper="tag"
    )
    with pytest.raises(IntegrityError):
        open_auth_enveloped(load_content_info(der)["content"], default_keys())
    with pytest.raises(UsageError):
        encrypt_content(content=b"", cipher="rc4")
    with pytest.raises(UsageError):
        encrypt_content(content=b"")


def test_compressed_data_and_decompression_bomb() -> None:
    """CompressedData (RFC 3274) made with asn1crypto + zlib; an 80 MiB bomb is refused past the 64 MiB bound."""
    import zlib

    from asn1crypto import cms as acms

    from netsec_layers.crypto.cms_envelope import decompress
    from netsec_layers.errors import ParseError
    from netsec_layers.session.mail_message import dissect_message

    def compressed(data: bytes) -> bytes:
        cd = acms.CompressedData(
            {
                "version": "v0",
                "compression_algorithm": {"algorithm": "zlib"},
                "encap_content_info": {"content_type": "data", "content": data},
            }
        )
        return bytes(acms.ContentInfo({"content_type": "compressed_data", "content": cd}).dump())

    inner = b"Content-Type: text/plain\r\n\r\nsqueezed\r\n"
    out = dissect_message(compressed(zlib.compress(inner))).to_json()
    assert out["kind"] == "cms" and bytes.fromhex(out["content"]) == inner
    bomb = zlib.compressobj(9)
    blob = b"".join(bomb.compress(bytes(1 << 20)) for _ in range(80)) + bomb.flush()
    ci = load_content_info(compressed(blob))
    with pytest.raises(ParseError, match="expands beyond"):
        decompress(ci["content"])
    out = dissect_message(compressed(blob)).to_json()
    assert out["content"] is None and "expands beyond" in out["error"]
