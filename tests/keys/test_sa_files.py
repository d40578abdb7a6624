"""SA files: Wireshark esp_sa, `ip xfrm state`, project JSON (examples from /work/shared/FORMATS.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsec_layers.errors import KeyFileError, NetsecError, UnsupportedAlgorithmError, UsageError
from netsec_layers.keys.sa import (
    ANY_SPI,
    ENCRYPTION_ALGORITHMS,
    INTEGRITY_ALGORITHMS,
    SecurityAssociation,
    canonical_encryption,
    canonical_integrity,
)
from netsec_layers.keys.sa_files import (
    format_esp_sa,
    format_project,
    format_xfrm_add,
    load_sa_file,
    parse_esp_sa,
    parse_project,
    parse_sa_text,
    parse_xfrm_state,
)

K16 = "000102030405060708090a0b0c0d0e0f"
K20 = K16 + "10111213"

# FORMATS.md "Linux ip xfrm state" example, verbatim.
XFRM_FORMATS_MD = """src 10.0.0.161 dst 69.27.252.3
\tproto esp spi 0x66a336c8 reqid 6 mode tunnel
\treplay-window 32 flag af-unspec
\tauth-trunc hmac(sha1) 0x0472ec471f7342db23904ccae9091303c710a318 96
\tenc cbc(aes) 0xc033ab0b0b7d0b28841ffc8c2746da60a6cfd32c19fcfcddbd0e318c430a94cd
\tencap type espinudp sport 4500 dport 4500 addr 0.0.0.0
"""

# `ip -s xfrm state` shape: decimal SPI, reqid in hex, key bit counts, ESN context, lifetimes.
XFRM_STATS = f"""src 2001:db8::1 dst 2001:db8::2
\tproto esp spi 0xc0ffee01(3237998081) reqid 1(0x00000001) mode transport
\treplay-window 0 seq 0x00000000 flag af-unspec esn (0x10100000)
\taead rfc4106(gcm(aes)) 0x{K20} (160 bits) 96
\tanti-replay esn context:
\t seq-hi 0x2, seq 0x1c, oseq-hi 0x0, oseq 0x0
\t replay_window 128, bitmap-length 4
\t 00000000 00000000 00000000 0fffffff
\tlifetime config:
\t  limit: soft (INF)(bytes), hard (INF)(bytes)
\tsel src ::/0 dst ::/0 uid 0
src 10.9.0.1 dst 10.9.0.2
\tproto ah spi 0x00000777(1911) reqid 2(0x00000002) mode tunnel
\treplay-window 64 seq 0x00000000 flag af-unspec
\tauth-trunc hmac(sha256) 0x{K16 * 2} (256 bits) 128
src 10.9.0.1 dst 10.9.0.2
\tproto comp spi 0x00001234 reqid 3 mode tunnel
\tcomp deflate
"""


def test_formats_md_xfrm_example() -> None:
    (sa,) = parse_xfrm_state(XFRM_FORMATS_MD)
    assert sa.spi == 0x66A336C8
    assert (sa.src, sa.dst, sa.mode, sa.protocol) == ("10.0.0.161", "69.27.252.3", "tunnel", "esp")
    assert sa.encryption == "AES-CBC" and len(sa.enc_key) == 32
    assert sa.enc_key.hex().startswith("c033ab0b")
    assert sa.integrity == "HMAC-SHA1-96"
    assert sa.auth_key == bytes.fromhex("0472ec471f7342db23904ccae9091303c710a318")
    assert sa.udp_encap == (4500, 4500)
    assert sa.replay_window == 32


def test_xfrm_stats_output_esn_aead_ah_and_comp() -> None:
    esp, ah = parse_xfrm_state(XFRM_STATS)  # the comp state carries no keys
    assert esp.spi == 0xC0FFEE01 and esp.src == "2001:db8::1"
    assert esp.encryption == "AES-GCM-12" and esp.enc_key == bytes.fromhex(K20)
    assert esp.esn and esp.esn_high == 2 and esp.mode == "transport"
    assert esp.replay_window == 128
    assert ah.protocol == "ah" and ah.integrity == "HMAC-SHA2-256-128"
    assert ah.auth_key == bytes.fromhex(K16 * 2) and ah.mode == "tunnel"


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ("ANY 64 bit authentication [no checking]", "AES-GCM-8"),
        ("ANY 96 bit authentication [no checking]", "AES-GCM-12"),
        ("ANY 128 bit authentication [no checking]", "AES-GCM-16"),
    ],
)
def test_strongswan_save_keys_gcm_pair(auth: str, expected: str) -> None:
    line = (
        f'"IPv4","192.168.0.1","192.168.0.2","0xc1234567","AES-GCM [RFC4106]","0x{K20}","{auth}",""'
    )
    (sa,) = parse_esp_sa(line)
    assert sa.encryption == expected and sa.integrity == "NONE"
    assert sa.spi == 0xC1234567 and sa.src == "192.168.0.1"


def test_esp_sa_eight_and_ten_fields_wildcards_header_comments() -> None:
    text = (
        '"Protocol","Src IP","Dest IP","SPI","Encryption","Encryption Key","Authentication",'
        '"Authentication Key","SN","ESN High Bits"\n'
        "# a comment\n\n"
        f'"IPv6","*","2001:db8::/32","*","AES-CBC [RFC3602]","0x{K16}",'
        f'"HMAC-SHA-256-128 [RFC4868]","0x{K16 * 2}"\n'
        f'"IPv4","10.0.*.*","*","0x00000101","AES-GCM with 16 octet ICV [RFC4106]","0x{K20}",'
        '"NULL","","64-bit","0x0000002a"\n'
        f'"IPv4","*","*","0x102","TripleDES-CBC [RFC2451]","0x{K16}{K16[:16]}",'
        f'"HMAC-MD5-96 [RFC2403]","0x{K16}","32-bit",""\n'
    )
    a, b, c = parse_esp_sa(text)
    assert a.spi == ANY_SPI and a.dst == "2001:db8::/32" and a.integrity == "HMAC-SHA2-256-128"
    assert b.esn and b.esn_high == 0x2A and b.src == "10.0.*.*" and b.encryption == "AES-GCM-16"
    assert c.encryption == "3DES-CBC" and c.integrity == "HMAC-MD5-96" and not c.esn


def test_ascii_key_warns() -> None:
    warnings: list[str] = []
    line = '"IPv4","*","*","0x1","AES-CBC [RFC3602]","sixteen byte key","NULL",""'
    (sa,) = parse_esp_sa(line, warnings_out=warnings)
    assert sa.enc_key == b"sixteen byte key"
    assert len(warnings) == 1 and "ASCII" in warnings[0]
    with pytest.warns(UserWarning):
        parse_esp_sa(line)


@pytest.mark.parametrize(
    "line",
    [
        f'"IPv4","*","*","0x1","CAST5-CBC [RFC2144]","0x{K16}","NULL",""',
        f'"IPv4","*","*","0x1","AES-CBC [RFC3602]","0x{K16}","MAC-RIPEMD-160-96 [RFC2857]","0x{K16}"',
        f'"IPv4","*","*","0x1","AES-CBC [RFC3602]","0x{K16}","ANY 96 bit authentication [no checking]",""',
    ],
)
def test_unsupported_names_list_known(line: str) -> None:
    with pytest.raises(UnsupportedAlgorithmError) as exc:
        parse_esp_sa(line)
    assert "line 1" in str(exc.value)
    assert "HMAC-SHA" in str(exc.value) or "AES-GCM-16" in str(exc.value)


def test_bad_esp_sa_lines() -> None:
    with pytest.raises(KeyFileError, match="line 2"):
        parse_esp_sa('"IPv4","*","*","0x1","NULL","","NULL",""\n"IPv4","*","*"\n')
    with pytest.raises(KeyFileError, match="line 1"):
        parse_esp_sa('"IPv4","*","*","0x1","AES-CBC [RFC3602]","0x0102","NULL",""')
    with pytest.raises(KeyFileError):
        parse_esp_sa('"IPv4","*","*","0x1","AES-CBC [RFC3602]","0xzz","NULL",""')


@pytest.mark.parametrize(
    ("name", "canon"),
    [
        ("ENCR_AES_GCM_16", "AES-GCM-16"),
        ("ENCR_AES_GCM_8", "AES-GCM-8"),
        ("ENCR_AES_CCM_12", "AES-CCM-12"),
        ("ENCR_CHACHA20_POLY1305", "CHACHA20-POLY1305"),
        ("ENCR_CHACHA20_POLY1305_IIV", "CHACHA20-POLY1305-IIV"),
        ("ENCR_AES_GCM_16_IIV", "AES-GCM-16-IIV"),
        ("ENCR_NULL_AUTH_AES_GMAC", "AES-GMAC"),
        ("ENCR_AES_CBC", "AES-CBC"),
        ("ENCR_3DES", "3DES-CBC"),
        ("ENCR_NULL", "NULL"),
        ("cbc(aes)", "AES-CBC"),
        ("rfc3686(ctr(aes))", "AES-CTR"),
        ("rfc4543(gcm(aes))", "AES-GMAC"),
        ("aes256gcm16", "AES-GCM-16"),
        ("aes128ccm8", "AES-CCM-8"),
        ("aes128", "AES-CBC"),
        ("ChaCha20 with Poly1305 and IIV [RFC7634 & RFC8750]", "CHACHA20-POLY1305-IIV"),
        ("AES-GCM with IIV and 16 octet ICV [RFC4106 & RFC8750]", "AES-GCM-16-IIV"),
        ("aes-gcm-16", "AES-GCM-16"),
    ],
)
def test_canonical_encryption(name: str, canon: str) -> None:
    assert canonical_encryption(name) == canon


@pytest.mark.parametrize(
    ("name", "canon"),
    [
        ("AUTH_HMAC_SHA2_256_128", "HMAC-SHA2-256-128"),
        ("AUTH_HMAC_SHA2_384_192", "HMAC-SHA2-384-192"),
        ("AUTH_HMAC_SHA2_512_256", "HMAC-SHA2-512-256"),
        ("AUTH_HMAC_SHA1_96", "HMAC-SHA1-96"),
        ("AUTH_HMAC_MD5_96", "HMAC-MD5-96"),
        ("AUTH_AES_XCBC_96", "AES-XCBC-MAC-96"),
        ("AUTH_AES_CMAC_96", "AES-CMAC-96"),
        ("AUTH_NONE", "NONE"),
        ("HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]", "HMAC-SHA-256-96"),
        ("xcbc(aes)", "AES-XCBC-MAC-96"),
        ("SHA2-256-128", "HMAC-SHA2-256-128"),
    ],
)
def test_canonical_integrity(name: str, canon: str) -> None:
    assert canonical_integrity(name) == canon


def test_iana_names_in_json_key_size_from_key() -> None:
    text = f"""[{{"spi": "0x00000010", "encryption": "ENCR_AES_CBC", "enc_key": "{K16 * 2}",
      "integrity": "AUTH_HMAC_SHA2_256_128", "auth_key": "{K16 * 2}", "src": "10.0.0.1",
      "dst": "10.0.0.2", "udp_encap": [4500, 4500], "esn": true, "esn_high": 3}}]"""
    (sa,) = parse_project(text)
    assert sa.encryption == "AES-CBC" and len(sa.enc_key) == 32
    assert sa.udp_encap == (4500, 4500) and sa.esn and sa.esn_high == 3
    with pytest.raises(KeyFileError, match="unknown fields"):
        parse_project('[{"spi": 1, "cipher": "x"}]')
    with pytest.raises(UnsupportedAlgorithmError):
        parse_project('[{"spi": 1, "encryption": "ENCR_CAMELLIA_CBC", "enc_key": "00"}]')


def _every_sa() -> list[SecurityAssociation]:
    out = []
    for i, (name, spec) in enumerate(ENCRYPTION_ALGORITHMS.items()):
        integ = "NONE" if spec.aead else list(INTEGRITY_ALGORITHMS)[1 + i % 8]
        ispec = INTEGRITY_ALGORITHMS[integ]
        out.append(
            SecurityAssociation(
                spi=0x100 + i,
                encryption=name,
                enc_key=bytes(range(spec.key_sizes[-1] + spec.salt_len)),
                integrity=integ,
                auth_key=bytes(range(ispec.key_sizes[0] if ispec.key_sizes else 32))
                if integ != "NONE"
                else b"",
                src="10.0.0.1" if i % 2 else "2001:db8::1",
                dst="10.0.0.2" if i % 2 else "2001:db8::2",
                mode="transport" if i % 3 else "tunnel",
                esn=bool(i % 2),
                esn_high=i if i % 2 else 0,
                udp_encap=(4500, 4500) if i % 4 == 0 else None,
            )
        )
    return out


def test_project_json_roundtrip_every_algorithm() -> None:
    sas = _every_sa() + [
        SecurityAssociation(
            spi=ANY_SPI,
            protocol="ah",
            mode="transport",
            integrity="AES-XCBC-MAC-96",
            auth_key=bytes(16),
        )
    ]
    assert parse_project(format_project(sas)) == sas


def test_esp_sa_roundtrip_wireshark_algorithms() -> None:
    sas = [
        sa
        for sa in _every_sa()
        if sa.encryption in ("NULL", "AES-CBC", "AES-CTR", "3DES-CBC", "DES-CBC")
        or sa.encryption.startswith(("AES-GCM", "CHACHA"))
    ]
    sas = [s for s in sas if s.integrity not in ("AES-XCBC-MAC-96", "AES-CMAC-96")]
    back = parse_esp_sa(format_esp_sa(sas))
    strip = {"mode": "tunnel", "udp_encap": None, "replay_window": 64}  # not in esp_sa
    import dataclasses

    assert back == [dataclasses.replace(s, **strip) for s in sas]
    wild = SecurityAssociation(spi=5, encryption="AES-GCM-16", enc_key=bytes(20))
    text = format_esp_sa([wild])
    assert text.count("\n") == 2 and text.startswith('"IPv4"') and '"IPv6"' in text
    assert parse_esp_sa(text) == [wild]
    with pytest.raises(UnsupportedAlgorithmError):
        format_esp_sa([SecurityAssociation(spi=1, encryption="AES-CCM-16", enc_key=bytes(19))])


def test_xfrm_add_roundtrip() -> None:
    for sa in _every_sa():
        if sa.enc_spec.implicit_iv:
            with pytest.raises(UnsupportedAlgorithmError):
                format_xfrm_add(sa)
            continue
        cmd = format_xfrm_add(sa)
        assert cmd.startswith("ip xfrm state add src ")
        (back,) = parse_xfrm_state(cmd)
        assert back == sa, cmd
    with pytest.raises(UsageError):
        format_xfrm_add(SecurityAssociation(spi=1, src="10.*.*.*", dst="10.0.0.1"))


def test_load_sa_file_autodetect(tmp_path: Path) -> None:
    sas = [
        SecurityAssociation(
            spi=7, encryption="AES-GCM-16", enc_key=bytes(20), src="10.0.0.1", dst="10.0.0.2"
        )
    ]
    (tmp_path / "a.json").write_text(format_project(sas))
    (tmp_path / "esp_sa").write_text(format_esp_sa(sas))
    (tmp_path / "xfrm.txt").write_text(format_xfrm_add(sas[0]) + "\n")
    (tmp_path / "state.txt").write_text(XFRM_FORMATS_MD)
    assert load_sa_file(tmp_path / "a.json") == sas
    assert load_sa_file(tmp_path / "esp_sa")[0].enc_key == bytes(20)
    assert load_sa_file(tmp_path / "xfrm.txt")[0].replay_window == 64
    assert load_sa_file(tmp_path / "state.txt")[0].spi == 0x66A336C8
    with pytest.raises(KeyFileError):
        load_sa_file(tmp_path / "missing")
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(KeyFileError):
        load_sa_file(tmp_path / "bin")


@settings(max_examples=200, deadline=None)
@given(
    text=st.one_of(
        st.text(max_size=300),
        st.lists(
            st.sampled_from(
                [
                    '"IPv4"',
                    '"*"',
                    '"0x1"',
                    '"AES-CBC [RFC3602]"',
                    '"0x00"',
                    '"NULL"',
                    "src",
                    "dst",
                    "10.0.0.1",
                    "proto",
                    "esp",
                    "spi",
                    "0x5",
                    "enc",
                    "aead",
                    "auth-trunc",
                    "cbc(aes)",
                    "rfc4106(gcm(aes))",
                    "96",
                    "\n",
                    ",",
                    "[",
                    "{",
                    '"spi"',
                    ":",
                    "]",
                    "}",
                    "encap",
                    "type",
                    "espinudp",
                    "flag",
                    "esn",
                    "seq-hi",
                    "(160 bits)",
                ]
            ),
            max_size=40,
        ).map(" ".join),
    )
)
def test_sa_text_garbage_only_our_errors(text: str) -> None:
    try:
        parse_sa_text(text, warnings_out=[])
    except NetsecError:
        pass
