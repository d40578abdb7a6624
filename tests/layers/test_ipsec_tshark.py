"""Our ESP/AH/NAT-T dissection of a pcap compared field by field with tshark's (an independent
dissector) on the same file."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.utils import rdpcap, wrpcap

from netsec_layers.layers.ipsec import AH, ESP, NATKeepalive, NonESPMarker, bind_ipsec, unbind_ipsec
from tests.tshark_util import tshark_fields

pytestmark = pytest.mark.integration

FIELDS = [
    "frame.number",
    "frame.protocols",
    "esp.spi",
    "esp.sequence",
    "ah.spi",
    "ah.sequence",
    "ah.length",
    "ah.next_header",
    "ah.icv",
]


def _frames() -> list:
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    v4 = IP(src="192.0.2.1", dst="192.0.2.2")
    v6 = IPv6(src="2001:db8::1", dst="2001:db8::2")
    ike = bytes.fromhex("00112233445566778899aabbccddeeff2e202300000000010000001c")
    return [
        eth / v4 / ESP(spi=0x12345678, seq=7, data=b"\x11" * 40),
        eth / v6 / ESP(spi=0x00000101, seq=4294967295, data=b"\x22" * 33),
        eth / v4 / UDP(sport=4500, dport=4500) / ESP(spi=0xCAFEBABE, seq=1, data=b"\x33" * 48),
        eth / v4 / UDP(sport=4500, dport=4500) / NATKeepalive(),
        eth / v4 / UDP(sport=4500, dport=4500) / NonESPMarker() / ike,
        eth / v6 / UDP(sport=4500, dport=4500) / ESP(spi=0x0BADF00D, seq=99, data=b"\x44" * 36),
        eth / v4 / AH(spi=0xA0A0A0A0, seq=3, icv=b"\x55" * 12) / TCP(sport=1, dport=2),
        eth / v4 / AH(spi=0xB0B0B0B0, seq=5, icv=b"\x66" * 16) / ICMP(),
        eth / v6 / AH(spi=0xC0C0C0C0, seq=8, icv=b"\x77" * 20) / UDP(sport=3, dport=4),
        eth
        / v4
        / AH(spi=0xD0D0D0D0, seq=9, icv=b"\x88" * 12)
        / IP(src="10.0.0.1", dst="10.0.0.2")
        / ICMP(),
    ]


def test_fields_match_tshark(tmp_path):
    pcap = tmp_path / "ipsec_layers.pcap"
    frames = _frames()
    wrpcap(str(pcap), frames)
    ts = tshark_fields(pcap, FIELDS)
    assert len(ts) == len(frames)
    bind_ipsec()
    try:
        ours = rdpcap(str(pcap))
    finally:
        unbind_ipsec()
    for pkt, row, built in zip(ours, ts, frames, strict=True):
        assert bytes(pkt) == bytes(built)  # dissect -> build is byte-exact
        protos = row["frame.protocols"].split(":")
        if ESP in pkt:
            assert "esp" in protos
            assert int(row["esp.spi"], 0) == pkt[ESP].spi
            assert int(row["esp.sequence"]) == pkt[ESP].seq
        elif AH in pkt:
            ah = pkt[AH]
            assert int(row["ah.spi"], 0) == ah.spi
            assert int(row["ah.sequence"]) == ah.seq
            assert int(row["ah.next_header"], 0) == ah.next_header
            # the raw field (32-bit words minus 2); tshark sizes the ICV from it as we do
            assert int(row["ah.length"]) == ah.payload_len
            assert bytes.fromhex(row["ah.icv"].replace(":", "")) == ah.icv
        elif NATKeepalive in pkt:
            assert protos[-1] == "udpencap" and "esp" not in protos and "isakmp" not in protos
        elif NonESPMarker in pkt:
            assert "udpencap" in protos and "isakmp" in protos
        else:
            pytest.fail(f"frame {row['frame.number']} not recognised: {pkt.summary()}")


# -- what encrypt_packet() sends, decrypted by tshark -----------------------------------------
# (ours encryption, key, ours integrity, auth key, Wireshark names, mode, IP version, NAT-T)
_WS = [
    ("AES-GCM-16", 20, "NONE", 0, "AES-GCM with 16 octet ICV [RFC4106]", "NULL", "tunnel", 4, True),
    (
        "AES-CBC",
        16,
        "HMAC-SHA2-256-128",
        32,
        "AES-CBC [RFC3602]",
        "HMAC-SHA-256-128 [RFC4868]",
        "tunnel",
        4,
        False,
    ),
    (
        "AES-CTR",
        20,
        "HMAC-SHA1-96",
        20,
        "AES-CTR [RFC3686]",
        "HMAC-SHA-1-96 [RFC2404]",
        "transport",
        4,
        False,
    ),
    ("NULL", 0, "HMAC-SHA2-512-256", 64, "NULL", "HMAC-SHA-512-256 [RFC4868]", "tunnel", 6, False),
    (
        "3DES-CBC",
        24,
        "HMAC-MD5-96",
        16,
        "TripleDES-CBC [RFC2451]",
        "HMAC-MD5-96 [RFC2403]",
        "tunnel",
        6,
        True,
    ),
]


def test_encrypt_packet_output_decrypted_by_tshark(tmp_path):
    from netsec_layers.keys.sa import SecurityAssociation
    from netsec_layers.session.ipsec import SADatabase
    from netsec_layers.session.ipsec_scapy import encrypt_packet

    frames, lines, expected = [], [], []
    for i, (enc, klen, integ, alen, ws_enc, ws_auth, mode, version, natt) in enumerate(_WS):
        spi = 0x1000 + i
        ek, ak = (
            bytes((i * 11 + j) & 0xFF for j in range(klen)),
            bytes((i * 13 + j) & 0xFF for j in range(alen)),
        )
        src, dst = ("192.0.2.1", "192.0.2.2") if version == 4 else ("2001:db8::1", "2001:db8::2")
        sa = SecurityAssociation(
            spi=spi,
            encryption=enc,
            enc_key=ek,
            integrity=integ,
            auth_key=ak,
            mode=mode,
            src=src,
            dst=dst,
            udp_encap=(4500, 4500) if natt else None,
        )
        ip_cls = IP if version == 4 else IPv6
        if mode == "tunnel":
            inner = (
                IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=5, dport=6) / f"inner #{i}".encode()
            )
            expected_plain = bytes(inner)
        else:
            inner = ip_cls(src=src, dst=dst) / UDP(sport=5, dport=6) / f"transport #{i}".encode()
            expected_plain = bytes(inner)[20 if version == 4 else 40 :]
        pkt = encrypt_packet(
            inner.__class__(bytes(inner)),
            sa,
            SADatabase([sa]),
            seq=i + 1,
            tfc_pad=8 if mode == "tunnel" else 0,
        )
        frames.append(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / pkt)
        lines.append(
            ",".join(
                f'"{f}"'
                for f in (
                    "IPv4" if version == 4 else "IPv6",
                    src,
                    dst,
                    f"0x{spi:08x}",
                    ws_enc,
                    "0x" + ek.hex() if ek else "",
                    ws_auth,
                    "0x" + ak.hex() if ak else "",
                )
            )
        )
        expected.append((spi, i + 1, expected_plain + (b"\x00" * 8 if mode == "tunnel" else b"")))
    pcap = tmp_path / "ours.pcap"
    wrpcap(str(pcap), frames)
    prefs = ["esp.enable_encryption_decode:TRUE", "esp.enable_authentication_check:TRUE"]
    prefs += [f"uat:esp_sa:{ln}" for ln in lines]
    rows = tshark_fields(
        pcap,
        ["esp.spi", "esp.sequence", "esp.icv_good", "esp.contained_data", "esp.pad"],
        options=[a for p in prefs for a in ("-o", p)],
    )
    assert len(rows) == len(expected)
    for row, (spi, seq, plain) in zip(rows, expected, strict=True):
        assert int(row["esp.spi"], 0) == spi and int(row["esp.sequence"]) == seq
        assert row["esp.icv_good"] in ("1", "True"), row
        assert bytes.fromhex(row["esp.contained_data"].replace(":", "")) == plain
        pad = bytes.fromhex(row["esp.pad"].replace(":", ""))
        assert pad == bytes(range(1, len(pad) + 1))  # RFC 4303 §2.4 as tshark sees it
