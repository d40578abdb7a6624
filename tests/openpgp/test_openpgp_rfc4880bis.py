"""GnuPG's AEAD format (rfc4880bis: v5 SKESK + AEAD Encrypted Data packet, tag 20) against the
draft's sample EAX and OCB messages; gpg 2.2 and sq do not write it, GnuPG 2.3+ does."""

from __future__ import annotations

import json
from typing import Any

import pytest

from netsec_layers.layers.openpgp import PGPSKESK, PGPOCBEncryptedData, dissect_packets
from netsec_layers.session.openpgp import OpenVerdict, open_message
from tests.openpgp.openpgp_util import VECTORS

V = json.loads((VECTORS / "rfc4880bis" / "vectors.json").read_text())["messages"]


@pytest.mark.parametrize("m", V, ids=lambda m: m["name"])
def test_decrypts(m: dict[str, Any]) -> None:
    data = bytes.fromhex(m["hex"])
    out = open_message(data, passphrases=[m["passphrase"].encode()]).to_json()
    assert out["error"] is None and out["decrypted"] is True
    assert bytes.fromhex(out["content"]) == m["content"].encode()
    assert [n["tag"] for n in out["tree"]] == [3, 20]
    assert [n["tag"] for n in out["tree"][1]["children"]] == [11]


@pytest.mark.parametrize("m", V, ids=lambda m: m["name"])
def test_layers(m: dict[str, Any]) -> None:
    data = bytes.fromhex(m["hex"])
    skesk, enc = dissect_packets(data)
    assert isinstance(skesk.payload, PGPSKESK) and isinstance(enc.payload, PGPOCBEncryptedData)
    assert (skesk.payload.version, skesk.payload.aead_algo) == (5, m["aead"])
    assert (enc.payload.version, enc.payload.aead_algo, enc.payload.chunk_size) == (
        1,
        m["aead"],
        14,
    )
    assert len(enc.payload.iv) == {1: 16, 2: 15}[m["aead"]]
    assert bytes(skesk) + bytes(enc) == data


@pytest.mark.parametrize("m", V, ids=lambda m: m["name"])
def test_tamper_and_wrong_passphrase(m: dict[str, Any]) -> None:
    data = bytearray(bytes.fromhex(m["hex"]))
    assert open_message(bytes(data), passphrases=[b"Password"]).verdict is OpenVerdict.NO_KEY
    data[-1] ^= 1  # final tag
    res = open_message(bytes(data), passphrases=[m["passphrase"].encode()])
    assert res.verdict is OpenVerdict.INTEGRITY_FAILED and res.to_json()["content"] is None
