"""IKE key files: the exact lines strongSwan's save-keys plugin writes (format strings of
src/libcharon/plugins/save_keys/save_keys_listener.c: ``%.16PRIx64`` SPIs, ``%+B`` hex keys,
quoted Wireshark names; an AEAD SA has empty SK_ai/SK_ar and "NONE [RFC4306]"), Wireshark's
own UAT lines, the netsec JSON, bad lines skipped with a warning."""

from __future__ import annotations

import json

import pytest

from netsec_layers.errors import KeyFileError
from netsec_layers.keys.ike_keys import (
    IKEv2KeyEntry,
    format_ikev2_decryption_table,
    format_netsec_json,
    parse_ike_keys,
)

SAVE_KEYS_V2 = (
    "8418986ae07ff8e7,4fe7cfbdeac9c1a4,bacc26f14862299f0102030405060708,"
    'ee63cd975077539a0102030405060708,"AES-CBC-128 [RFC3602]",'
    + "11" * 32
    + ","
    + "22" * 32
    + ',"HMAC_SHA2_256_128 [RFC4868]"\n'
    "f96770467e9483d7,17c6cf0be15de009,"
    + "33" * 36
    + ","
    + "44" * 36
    + ',"AES-GCM-256 with 16 octet ICV [RFC5282]",,,"NONE [RFC4306]"\n'
    "0102030405060708,1112131415161718,"
    + "55" * 16
    + ","
    + "66" * 16
    + ',"AES-CBC-128 [RFC3602]",'
    + "77" * 32
    + ","
    + "88" * 32
    + ',"HMAC_SHA2_256_96 [draft-ietf-ipsec-ciph-sha-256-00]"\n'
)


def test_save_keys_ikev2_lines() -> None:
    keys = parse_ike_keys(SAVE_KEYS_V2)
    assert not keys.warnings and len(keys.v2) == 3
    cbc = keys.v2[(bytes.fromhex("8418986ae07ff8e7"), bytes.fromhex("4fe7cfbdeac9c1a4"))]
    assert cbc.encr == (12, 128) and cbc.integ == 12 and cbc.sk_ai == b"\x11" * 32
    gcm = keys.v2[(bytes.fromhex("f96770467e9483d7"), bytes.fromhex("17c6cf0be15de009"))]
    assert gcm.encr == (20, 256) and gcm.integ == 0 and gcm.sk_ai is None
    assert len(gcm.sk_ei) == 36 and gcm.sk_d is None  # no SK_d: decrypts, derives nothing


def test_save_keys_ikev1_line_and_comments() -> None:
    keys = parse_ike_keys("# generated\n\nf0ce692cea83bbc7,673aef8a2965394bafba6b27c6d4c3e4\n")
    assert keys.v1[bytes.fromhex("f0ce692cea83bbc7")].enc_key.hex().startswith("673aef8a")


def test_bad_lines_are_skipped_not_fatal() -> None:
    text = SAVE_KEYS_V2 + 'zz,yy,1,2,"AES-CBC-128 [RFC3602]",,,"NONE [RFC4306]"\n' + "a,b,c\n"
    keys = parse_ike_keys(text, "t")
    assert len(keys.v2) == 3 and len(keys.warnings) == 2
    with pytest.raises(KeyFileError):
        parse_ike_keys("only garbage\n")


def test_json_forms_and_round_trip() -> None:
    text = json.dumps(
        [
            {
                "spi_i": "00" * 8,
                "spi_r": "11" * 8,
                "g_ir": "ab" * 32,
                "pfs": [{"message_id": 2, "g_ir": "cd" * 32}],
                "psk": "secret",
            },
            {"spi_i": "22" * 8, "spi_r": "33" * 8, "sk_d": "01" * 32, "sk_ei": "02" * 16},
            {"spi_i": "short", "spi_r": "33" * 8},
        ]
    )
    keys = parse_ike_keys(text)
    assert len(keys.v2) == 2 and len(keys.warnings) == 1
    e = keys.v2[(bytes(8), b"\x11" * 8)]
    assert e.pfs == {2: b"\xcd" * 32} and e.psk == b"secret"
    again = parse_ike_keys(format_netsec_json(list(keys.v2.values())))
    assert {k: (v.g_ir, v.sk_d, v.pfs, v.psk) for k, v in again.v2.items()} == {
        k: (v.g_ir, v.sk_d, v.pfs, v.psk) for k, v in keys.v2.items()
    }


def test_table_writer_uses_wireshark_names() -> None:
    e = IKEv2KeyEntry(
        bytes(8),
        b"\x01" * 8,
        sk_ei=b"\x02" * 16,
        sk_er=b"\x03" * 16,
        sk_ai=b"\x04" * 32,
        sk_ar=b"\x05" * 32,
        encr=(12, 128),
        integ=12,
    )
    line = format_ikev2_decryption_table([e])
    assert line == (
        "0000000000000000,0101010101010101,"
        + "02" * 16
        + ","
        + "03" * 16
        + ',"AES-CBC-128 [RFC3602]",'
        + "04" * 32
        + ","
        + "05" * 32
        + ',"HMAC_SHA2_256_128 [RFC4868]"\n'
    )
