"""The shipped strongSwan capture (pcaps/strongswan, made by tools/strongswan_peer.py with two
real charon peers) decrypted by netsec, checked against the payloads the tool sent and against
tshark's decryption of the same file with the same esp_sa lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import rdpcap

from netsec_layers.keys.sa_files import load_sa_file
from netsec_layers.layers.ipsec import ESP, ESPPlaintext, NonESPMarker, bind_ipsec, unbind_ipsec
from netsec_layers.session.ipsec import SADatabase
from netsec_layers.session.ipsec_scapy import decrypt_packet
from tests.tshark_util import tshark_fields

SAMPLE = Path(__file__).resolve().parents[2] / "pcaps" / "strongswan"
PCAP = SAMPLE / "strongswan_natt.pcap"
SA_FILE = SAMPLE / "strongswan_natt.esp_sa"
# what write_sample() sent through each CHILD_SA
SENT = [
    b"netsec sample over AES-GCM",
    b"netsec ping over AES-GCM",
    b"netsec sample over AES-CBC/HMAC-SHA-256",
    b"netsec ping over AES-CBC/HMAC-SHA-256",
]


def _decrypt_all() -> list:
    db = SADatabase(load_sa_file(SA_FILE))
    bind_ipsec()
    try:
        frames = rdpcap(str(PCAP))
    finally:
        unbind_ipsec()
    out = []
    for frame in frames:
        if ESP in frame:
            before = bytes(frame)
            out.append((frame, decrypt_packet(frame, db)))
            assert bytes(frame) == before
    return out


def test_sample_decrypts_to_sent_payloads():
    pairs = _decrypt_all()
    assert len(pairs) == 8  # 4 packets A->B, 4 answers B->A
    inner = [p[ESPPlaintext].payload for _, p in pairs]
    assert all(isinstance(i, IP) for i in inner)
    assert all(p[ESPPlaintext].pad_ok for _, p in pairs)
    udp = [bytes(i[UDP].payload) for i in inner if i.src.startswith("10.98.1.") and UDP in i]
    echo = [bytes(i[ICMP].payload) for i in inner if ICMP in i and i[ICMP].type == 8]
    replies = [bytes(i[ICMP].payload) for i in inner if ICMP in i and i[ICMP].type == 0]
    assert sorted(udp) == sorted(SENT[0::2])
    assert sorted(echo) == sorted(SENT[1::2]) == sorted(replies)


def test_sample_has_ike_on_4500_with_marker():
    bind_ipsec()
    try:
        frames = rdpcap(str(PCAP))
    finally:
        unbind_ipsec()
    markers = [f for f in frames if NonESPMarker in f]
    assert markers and all(f[UDP].dport == 4500 or f[UDP].sport == 4500 for f in markers)
    assert all(isinstance(f, Ether) for f in frames)


@pytest.mark.integration
def test_sample_matches_tshark_decryption():
    lines = [ln for ln in SA_FILE.read_text().splitlines() if ln and not ln.startswith("#")]
    args = [
        "-Y",
        "esp",
        "-o",
        "esp.enable_encryption_decode:TRUE",
        "-o",
        "esp.enable_authentication_check:TRUE",
    ]
    for ln in lines:
        args += ["-o", f"uat:esp_sa:{ln}"]
    fields = [
        "esp.spi",
        "esp.sequence",
        "esp.iv",
        "esp.contained_data",
        "esp.pad",
        "esp.pad_len",
        "esp.protocol",
        "esp.icv",
        "esp.icv_good",
    ]
    rows = tshark_fields(PCAP, fields, options=args)
    pairs = _decrypt_all()
    assert len(rows) == len(pairs)

    def hx(s: str) -> bytes:
        return bytes.fromhex(s.replace(":", ""))

    for row, (_, dec) in zip(rows, pairs, strict=True):
        plain = dec[ESPPlaintext]
        assert row["esp.icv_good"] in ("1", "True")
        assert int(row["esp.spi"], 0) == plain.spi and int(row["esp.sequence"]) == plain.seq
        assert hx(row["esp.iv"]) == plain.iv
        assert hx(row["esp.contained_data"]) == bytes(plain.payload) + plain.tfc_padding
        assert hx(row["esp.pad"]) == plain.padding and int(row["esp.pad_len"]) == plain.pad_length
        assert int(row["esp.protocol"], 0) == plain.next_header
        assert hx(row["esp.icv"]) == plain.icv
