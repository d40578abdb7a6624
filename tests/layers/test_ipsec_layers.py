"""Scapy layers for ESP/AH/NAT-T: byte layout against the RFC field tables (built here with
``struct``, not by the code under test), dissection of packets made by Scapy's own IPsec
layers, bindings, presentation, and Hypothesis round-trips / garbage input."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers import ipsec as scapy_ipsec
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.packet import Raw

from netsec_layers.layers.ipsec import (
    AH,
    ESP,
    ESPDummy,
    ESPPlaintext,
    NATKeepalive,
    NonESPMarker,
    bind_ipsec,
    esp_padding,
    unbind_ipsec,
)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture
def bound():
    bind_ipsec()
    yield
    unbind_ipsec()


# -- wire ESP --------------------------------------------------------------------------------
def test_esp_build_is_rfc4303_layout():
    # RFC 4303 §2: SPI (32) | Sequence Number (32) | protected data
    pkt = ESP(spi=0x12345678, seq=7, data=b"\xaa" * 20)
    assert bytes(pkt) == struct.pack("!II", 0x12345678, 7) + b"\xaa" * 20


def test_esp_over_ip_sets_protocol_50_and_summary():
    b = bytes(IP(src="192.0.2.1", dst="192.0.2.2") / ESP(spi=0x12345678, seq=7, data=b"x" * 16))
    assert b[9] == 50
    assert "ESP spi=0x12345678 seq=7" in ESP(b[20:]).summary()


def test_esp_over_udp_defaults_to_natt_ports():
    b = bytes(IP() / UDP() / ESP(spi=1, seq=2, data=b"y" * 12))
    assert struct.unpack_from("!HH", b, 20) == (4500, 4500)


@pytest.mark.parametrize("ipv6", [False, True])
def test_dissect_scapy_built_esp(bound, ipv6):
    outer = (
        IPv6(src="2001:db8::1", dst="2001:db8::2") if ipv6 else IP(src="192.0.2.1", dst="192.0.2.2")
    )
    theirs = bytes(outer / scapy_ipsec.ESP(spi=0xDEADBEEF, seq=99, data=b"\x01" * 30))
    pkt = (IPv6 if ipv6 else IP)(theirs)
    esp = pkt[ESP]
    assert (esp.spi, esp.seq, esp.data) == (0xDEADBEEF, 99, b"\x01" * 30)
    assert bytes(pkt) == theirs


def test_dissect_scapy_security_association_output(bound):
    sa = scapy_ipsec.SecurityAssociation(
        scapy_ipsec.ESP,
        spi=0x1000,
        crypt_algo="AES-CBC",
        crypt_key=b"k" * 16,
        auth_algo="SHA2-256-128",
        auth_key=b"a" * 32,
        tunnel_header=IP(src="198.51.100.1", dst="198.51.100.2"),
        nat_t_header=UDP(sport=4500, dport=4500),
    )
    enc = sa.encrypt(IP(src="10.0.0.1", dst="10.0.0.2") / ICMP() / b"hi", seq_num=5)
    wire = bytes(enc)
    pkt = IP(wire)
    assert isinstance(pkt[UDP].payload, ESP)
    assert (pkt[ESP].spi, pkt[ESP].seq) == (0x1000, 5)
    assert pkt[ESP].data == wire[28 + 8 :]
    assert bytes(pkt) == wire


# -- bindings ---------------------------------------------------------------------------------
def test_bind_unbind_restores_scapy():
    wire = bytes(IP() / scapy_ipsec.ESP(spi=5, seq=1, data=b"z" * 12))
    unbind_ipsec()
    assert type(IP(wire).payload) is scapy_ipsec.ESP
    bind_ipsec()
    bind_ipsec()  # idempotent: a single entry of ours
    assert type(IP(wire).payload) is ESP
    assert sum(1 for _, u in IP.payload_guess if u is ESP) == 1
    unbind_ipsec()
    assert type(IP(wire).payload) is scapy_ipsec.ESP
    assert type(IP(bytes(IP() / UDP(sport=4500, dport=4500) / b"\xff")).payload.payload) is (
        scapy_ipsec.NAT_KEEPALIVE
    )


def test_ipv6_extension_header_then_esp(bound):
    from scapy.layers.inet6 import IPv6ExtHdrDestOpt

    wire = bytes(IPv6() / IPv6ExtHdrDestOpt() / ESP(spi=9, seq=3, data=b"q" * 16))
    pkt = IPv6(wire)
    assert pkt[ESP].spi == 9 and bytes(pkt) == wire


# -- NAT-T (RFC 3948) -------------------------------------------------------------------------
@pytest.mark.parametrize("ports", [(4500, 4500), (4500, 33000), (33000, 4500)])
def test_natt_demux(bound, ports):
    sport, dport = ports
    base = IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=sport, dport=dport)
    keep = IP(bytes(base / b"\xff"))
    assert isinstance(keep[UDP].payload, NATKeepalive) and keep.summary().endswith("NATKeepalive")
    ike = b"\x00" * 4 + bytes(range(28))
    marker = IP(bytes(base / ike))
    assert isinstance(marker[UDP].payload, NonESPMarker)
    assert bytes(marker[NonESPMarker].payload) == ike[4:]
    esp = IP(bytes(base / (struct.pack("!II", 0xABCDEF01, 42) + b"c" * 24)))
    assert (esp[ESP].spi, esp[ESP].seq) == (0xABCDEF01, 42)


def test_natt_layers_default_to_port_4500():
    for layer in (NATKeepalive(), NonESPMarker()):
        b = bytes(IP() / UDP() / layer)
        assert struct.unpack_from("!HH", b, 20) == (4500, 4500)


def test_natt_ipv6(bound):
    wire = bytes(IPv6() / UDP(sport=4500, dport=4500) / ESP(spi=3, seq=4, data=b"d" * 16))
    assert IPv6(wire)[ESP].seq == 4
    ka = IPv6(bytes(IPv6() / UDP(sport=4500, dport=4500) / NATKeepalive()))
    assert isinstance(ka[UDP].payload, NATKeepalive)
    assert bytes(NATKeepalive()) == b"\xff"


def test_non_esp_marker_uses_scapy_ikev2_when_loaded(bound):
    from scapy.contrib import ikev2

    ike = bytes(ikev2.IKEv2(init_SPI=b"A" * 8, exch_type=34, flags="Initiator"))
    pkt = IP(bytes(IP() / UDP(sport=4500, dport=4500) / NonESPMarker() / ike))
    assert isinstance(pkt[NonESPMarker].payload, ikev2.IKEv2)
    assert pkt[ikev2.IKEv2].init_SPI == b"A" * 8


# -- AH (RFC 4302) ----------------------------------------------------------------------------
def test_ah_build_layout_and_payload_len():
    icv = bytes(range(12))
    b = bytes(IP(src="192.0.2.1", dst="192.0.2.2") / AH(spi=0x100, seq=3, icv=icv) / TCP())
    assert b[9] == 51
    # RFC 4302 §2: Next Header | Payload Len | RESERVED | SPI | Seq | ICV;
    # Payload Len = AH length in 32-bit words minus 2 = (12 + 12) / 4 - 2 = 4
    assert b[20:44] == struct.pack("!BBHII", 6, 4, 0, 0x100, 3) + icv
    pkt = AH(b[20:])
    assert pkt.icv == icv and isinstance(pkt.payload, TCP)


def test_ah_ipv6_and_tunnel(bound):
    inner = IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / b"x"
    wire = bytes(IPv6() / AH(spi=7, seq=1, icv=b"\x11" * 20) / inner)
    pkt = IPv6(wire)
    assert pkt[AH].next_header == 4 and pkt[AH].payload_len == 6
    assert pkt[AH].payload[UDP].dport == 2 and bytes(pkt) == wire


def test_dissect_scapy_security_association_ah(bound):
    sa = scapy_ipsec.SecurityAssociation(
        scapy_ipsec.AH, spi=0x2222, auth_algo="HMAC-SHA1-96", auth_key=b"k" * 20
    )
    wire = bytes(sa.encrypt(IP(src="192.0.2.1", dst="192.0.2.2") / ICMP() / b"ping", seq_num=9))
    pkt = IP(wire)
    ah = pkt[AH]
    assert (ah.spi, ah.seq, ah.next_header, len(ah.icv)) == (0x2222, 9, 1, 12)
    assert isinstance(ah.payload, ICMP) and bytes(pkt) == wire
    assert "AH spi=0x00002222 seq=9" in pkt.summary()


# -- ESPPlaintext -----------------------------------------------------------------------------
def _expected_plain(spi, seq, iv, payload, tfc, padding, nh, icv):
    # RFC 4303 §2: header | IV | payload | TFC | padding | pad length | next header | ICV
    return (
        struct.pack("!II", spi, seq)
        + iv
        + payload
        + tfc
        + padding
        + bytes([len(padding), nh])
        + icv
    )


def test_plaintext_build_layout():
    inner = IP(src="10.0.0.1", dst="10.0.0.2") / ICMP() / b"hello"
    pkt = ESPPlaintext(spi=0x11, seq=2, iv=b"I" * 8, tfc_padding=b"\x00" * 5, icv=b"C" * 16) / inner
    raw_inner = bytes(inner)
    # 33 bytes + 5 TFC + 2 trailer = 40 -> already on a 4-byte boundary: no padding (§2.4)
    assert bytes(pkt) == _expected_plain(0x11, 2, b"I" * 8, raw_inner, b"\0" * 5, b"", 4, b"C" * 16)


@pytest.mark.parametrize(
    ("block", "length", "npad"), [(4, 33, 1), (16, 33, 13), (8, 30, 0), (16, 14, 0), (1, 5, 1)]
)
def test_default_padding_rfc4303_2_4(block, length, npad):
    assert esp_padding(length, block) == bytes(range(1, npad + 1))
    pkt = ESPPlaintext(spi=1, seq=1, block_size=block) / Raw(b"p" * length)
    b = bytes(pkt)
    assert b[-2] == npad and b[8 + length : -2] == bytes(range(1, npad + 1))
    assert (len(b) - 8) % max(block, 4) == 0


@pytest.mark.parametrize(
    ("nh", "inner", "cls"),
    [
        (4, IP(src="10.1.1.1", dst="10.2.2.2") / UDP(sport=7, dport=9) / b"data", IP),
        (41, IPv6(src="2001:db8::1", dst="2001:db8::2") / ICMPv6EchoRequest(data=b"q"), IPv6),
        (6, TCP(sport=80, dport=1234, flags="A") / b"tcp-bytes", TCP),
        (17, UDP(sport=53, dport=53) / b"udp", UDP),
        (1, ICMP() / b"icmp", ICMP),
        (58, ICMPv6EchoRequest(data=b"x"), ICMPv6EchoRequest),
        (59, ESPDummy(data=b"\x99" * 9), ESPDummy),
    ],
)
def test_plaintext_dissects_by_next_header(nh, inner, cls):
    raw_inner = bytes(inner)
    wire = _expected_plain(0xAB, 3, b"V" * 16, raw_inner, b"", b"\x01\x02", nh, b"T" * 12)
    pkt = ESPPlaintext(wire, iv_len=16, icv_len=12)
    assert isinstance(pkt.payload, cls)
    assert (pkt.next_header, pkt.pad_length, pkt.iv, pkt.icv) == (nh, 2, b"V" * 16, b"T" * 12)
    assert pkt.pad_ok is True
    assert bytes(pkt) == wire


def test_plaintext_tfc_padding_split_by_inner_length():
    inner = bytes(IP(src="10.1.1.1", dst="10.2.2.2") / UDP() / b"abc")
    wire = _expected_plain(1, 1, b"", inner, b"\x00" * 11, b"\x01", 4, b"")
    pkt = ESPPlaintext(wire)
    assert pkt.tfc_padding == b"\x00" * 11 and bytes(pkt[IP]) == inner
    assert bytes(pkt) == wire


def test_plaintext_bad_padding_reported_not_hidden():
    wire = _expected_plain(1, 1, b"", bytes(UDP() / b"x"), b"", b"\x00\x00\x07", 17, b"")
    pkt = ESPPlaintext(wire)
    assert pkt.pad_ok is False
    assert "pad=BAD" in pkt.summary()
    assert "NO (non-conforming padding)" in pkt.show(dump=True)
    assert bytes(pkt) == wire


def test_plaintext_pad_length_beyond_data_is_kept():
    wire = struct.pack("!II", 1, 1) + b"ab" + bytes([200, 59])
    pkt = ESPPlaintext(wire)
    assert pkt.pad_length == 200 and pkt.pad_ok is False and bytes(pkt) == wire


def test_plaintext_from_parts_and_show2():
    inner = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / ICMP())
    pkt = ESPPlaintext.from_parts(
        spi=0x42,
        seq=8,
        iv=b"\x01" * 8,
        payload=inner,
        tfc_padding=b"",
        padding=b"\x01\x02",
        pad_length=2,
        next_header=4,
        icv=b"\x02" * 16,
    )
    assert bytes(pkt) == _expected_plain(
        0x42, 8, b"\x01" * 8, inner, b"", b"\x01\x02", 4, b"\x02" * 16
    )
    assert "pad_ok    = yes" in pkt.show2(dump=True)
    assert pkt.copy().iv_len == 8 and bytes(pkt.copy()) == bytes(pkt)
    assert pkt.summary().startswith("ESPPlaintext spi=0x00000042 seq=8 nh=IPV4 / IP")


def test_plaintext_too_short_falls_back_to_raw():
    assert isinstance(ESPPlaintext(b"\x00" * 9), Raw)
    assert isinstance(ESPPlaintext(b"\x00" * 20, iv_len=8, icv_len=8), Raw)


def test_ls_lists_fields(capsys):
    from scapy.packet import ls

    ls(ESPPlaintext)
    out = capsys.readouterr().out
    for name in (
        "spi",
        "seq",
        "iv",
        "tfc_padding",
        "padding",
        "pad_length",
        "next_header",
        "icv",
        "pad_ok",
    ):
        assert name in out


# -- properties ------------------------------------------------------------------------------
@FAST
@given(st.binary(max_size=200))
def test_random_bytes_as_ip_proto_50_51_and_udp4500(data):
    bind_ipsec()
    try:
        for wire in (
            bytes(IP(src="192.0.2.1", dst="192.0.2.2", proto=50) / Raw(data)),
            bytes(IP(src="192.0.2.1", dst="192.0.2.2", proto=51) / Raw(data)),
            bytes(IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=4500, dport=4500) / Raw(data)),
            bytes(IPv6(nh=50) / Raw(data)),
            bytes(IPv6(nh=51) / Raw(data)),
        ):
            pkt = (IPv6 if wire[0] >> 4 == 6 else IP)(wire)
            pkt.summary()
            pkt.show(dump=True)
            assert bytes(pkt) == wire
    finally:
        unbind_ipsec()


@FAST
@given(st.binary(max_size=300), st.integers(0, 16), st.integers(0, 32))
def test_random_bytes_as_plaintext(data, iv_len, icv_len):
    pkt = ESPPlaintext(data, iv_len=iv_len, icv_len=icv_len)
    pkt.summary()
    pkt.show(dump=True)
    assert bytes(pkt) == data


@FAST
@given(
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    st.binary(max_size=16),
    st.binary(max_size=64),
    st.binary(max_size=8),
    st.binary(max_size=32),
    st.sampled_from([1, 4, 8, 16]),
)
def test_plaintext_build_dissect_roundtrip(spi, seq, iv, body, tfc, icv, block):
    inner = IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / body
    built = bytes(
        ESPPlaintext(spi=spi, seq=seq, iv=iv, tfc_padding=tfc, icv=icv, block_size=block) / inner
    )
    back = ESPPlaintext(built, iv_len=len(iv), icv_len=len(icv))
    assert (back.spi, back.seq, back.iv, back.icv, back.next_header) == (spi, seq, iv, icv, 4)
    assert back.tfc_padding == tfc and back.pad_ok
    assert bytes(back[IP]) == bytes(inner)
    assert bytes(back) == built


@FAST
@given(
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    st.integers(0, 12).map(lambda n: b"\x5a" * (4 * n)),
)
def test_ah_build_dissect_roundtrip(spi, seq, icv):
    built = bytes(AH(spi=spi, seq=seq, icv=icv) / UDP(sport=5, dport=6))
    back = AH(built)
    assert (back.spi, back.seq, back.icv, back.next_header) == (spi, seq, icv, 17)
    assert back.payload_len == (12 + len(icv)) // 4 - 2
    assert bytes(back) == built


def test_natt_ike_dissects_with_netsec_ike_layers() -> None:
    """UDP 4500 after the non-ESP marker: netsec's IKEv2/ISAKMP layers (strongSwan's traffic)."""
    from pathlib import Path

    from scapy.utils import rdpcap

    from netsec_layers.layers.all import bind_netsec_layers, unbind_netsec_layers
    from netsec_layers.layers.ike import ISAKMP, IKEv2

    bind_netsec_layers()
    try:
        pcaps = Path(__file__).resolve().parents[2] / "pcaps" / "ike"
        seen = set()
        for name in ("strongswan_ikev1.pcap", "strongswan_ikev2.pcap"):
            for p in rdpcap(str(pcaps / name)):
                if p.haslayer(NonESPMarker):
                    inner = p[NonESPMarker].payload
                    assert isinstance(inner, (ISAKMP, IKEv2)), p.summary()
                    seen.add(type(inner))
        assert seen == {ISAKMP, IKEv2}
    finally:
        unbind_netsec_layers()  # Scapy's bindings are process-wide: leave them as found
