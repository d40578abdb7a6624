"""Published ESP/AH vectors (RFC 3602, 3686, 7634, 4868, 2202, 3566, 4494, draft-mcgrew-gcm-test-01).

The data files under tests/vectors/esp/ hold the RFCs' bytes; every vector is one test id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netsec_layers.crypto.esp import ESPTransform, Integrity, aes_cmac, aes_xcbc_mac
from netsec_layers.keys.sa import SecurityAssociation
from netsec_layers.session.ipsec import SADatabase

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "esp"


def load(name: str) -> list[Any]:
    """The one loader: a JSON list of vectors → pytest params with the vector id as test id."""
    data = json.loads((VECTORS / name).read_text())
    return [pytest.param(v, id=v["id"]) for v in data]


@pytest.mark.parametrize("v", load("esp_packets.json"))
def test_esp_packet_open(v: dict[str, Any]) -> None:
    """Decrypting the published packet gives the published plaintext (payload, padding, trailer)."""
    sa = SecurityAssociation(
        spi=v["spi"],
        encryption=v["encryption"],
        enc_key=bytes.fromhex(v["enc_key"]),
        integrity=v["integrity"],
        auth_key=bytes.fromhex(v["auth_key"]),
        esn=v["esn"],
    )
    packet = bytes.fromhex(v["packet"])
    plaintext = bytes.fromhex(v["plaintext"])
    db = SADatabase([sa])
    opened = db.decrypt(packet, esn_high=v["seq"] >> 32 if v["esn"] else None)
    pad_len, nh = plaintext[-2], plaintext[-1]
    assert opened.seq == v["seq"]
    assert opened.iv == bytes.fromhex(v["iv"])
    assert opened.next_header == nh
    assert opened.pad_length == pad_len
    assert opened.payload + opened.tfc_padding == plaintext[: len(plaintext) - 2 - pad_len]
    assert opened.pad_ok
    if "payload" in v:
        assert opened.payload == bytes.fromhex(v["payload"])
        assert opened.next_header == v["next_header"]


@pytest.mark.parametrize("v", load("esp_packets.json"))
def test_esp_packet_seal(v: dict[str, Any]) -> None:
    """Sealing the published plaintext with the published IV gives the published packet."""
    tr = ESPTransform(
        v["encryption"], bytes.fromhex(v["enc_key"]), v["integrity"], bytes.fromhex(v["auth_key"])
    )
    packet = bytes.fromhex(v["packet"])
    body = tr.seal(
        spi=v["spi"],
        seq=v["seq"],
        esn=v["esn"],
        iv=bytes.fromhex(v["iv"]),
        plaintext=bytes.fromhex(v["plaintext"]),
    )
    assert packet[8:] == body


@pytest.mark.parametrize("v", load("esp_packets.json"))
def test_esp_packet_encrypt_whole(v: dict[str, Any]) -> None:
    """SADatabase.encrypt builds the identical packet when the vector uses default padding."""
    plaintext = bytes.fromhex(v["plaintext"])
    pad_len, nh = plaintext[-2], plaintext[-1]
    if plaintext[len(plaintext) - 2 - pad_len : -2] != bytes(range(1, pad_len + 1)):
        pytest.skip("vector's padding is not the RFC 4303 default")
    sa = SecurityAssociation(
        spi=v["spi"],
        encryption=v["encryption"],
        enc_key=bytes.fromhex(v["enc_key"]),
        integrity=v["integrity"],
        auth_key=bytes.fromhex(v["auth_key"]),
        esn=v["esn"],
    )
    tr_align = ESPTransform(v["encryption"], sa.enc_key).align
    payload = plaintext[: len(plaintext) - 2 - pad_len]
    extra = pad_len - (-(len(payload) + 2)) % tr_align
    if extra < 0 or extra % tr_align:
        pytest.skip("vector pads differently from the minimal alignment")
    out = SADatabase().encrypt(
        payload,
        sa=sa,
        next_header=nh,
        seq=v["seq"],
        iv=bytes.fromhex(v["iv"]),
        pad_length=extra or None,
    )
    assert out == bytes.fromhex(v["packet"])


@pytest.mark.parametrize("v", load("cipher_cases.json"))
def test_cipher_vector(v: dict[str, Any]) -> None:
    """RFC 3602 §4 cases 1-4 (AES-CBC) and RFC 3686 §6 (AES-CTR, key‖nonce) through the ESP
    transform: IV ‖ ciphertext out, plaintext back."""
    tr = ESPTransform(v["encryption"], bytes.fromhex(v["key"]))
    iv, pt, ct = (bytes.fromhex(v[k]) for k in ("iv", "plaintext", "ciphertext"))
    assert tr.seal(spi=1, seq=1, esn=False, iv=iv, plaintext=pt) == iv + ct
    _iv, back, _icv = tr.open(b"\0\0\0\1\0\0\0\1" + iv + ct, seq=1, esn=False)
    assert back == pt


@pytest.mark.parametrize("v", load("mac_cases.json"))
def test_mac_vector(v: dict[str, Any]) -> None:
    """Integrity transforms give the RFC's MAC truncated as IPsec uses it."""
    key, data, full = (bytes.fromhex(v[k]) for k in ("key", "data", "full"))
    integ = Integrity(v["integrity"], key)
    assert integ.compute(data) == full[: integ.icv_len]
    integ.verify(full[: integ.icv_len], data)
    if v["integrity"] == "AES-XCBC-MAC-96":
        assert aes_xcbc_mac(key, data) == full
    if v["integrity"] == "AES-CMAC-96":
        assert aes_cmac(key, data) == full
