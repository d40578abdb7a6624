"""IKE over TCP (RFC 9329): the strongSwan sample's IKE messages reframed as an IKETCP stream
(prefix, 16-bit lengths counting themselves, non-ESP marker; frames split across TCP
segments) decrypt through the engine exactly as they do over UDP (which tests against tshark
elsewhere); the framing layer rebuilds byte for byte; hostile streams stay our errors."""

from __future__ import annotations

import struct
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import rdpcap, wrpcap

from netsec_layers.keys.ike_keys import parse_ike_keys
from netsec_layers.layers.ike import IKETCPFrame, IKEv2, dissect_iketcp_stream
from netsec_layers.session.engine import CaptureEngine, iter_capture
from netsec_layers.session.ike import IKEMessage, IKETracker
from netsec_layers.session.ike_tcp import IKETCPTracker

DIR = Path(__file__).resolve().parents[2] / "pcaps" / "ike"


def _messages() -> list[tuple[bool, bytes]]:
    out = []
    for p in rdpcap(str(DIR / "strongswan_ikev2.pcap")):
        if UDP not in p:
            continue
        b = bytes(p[UDP].payload)
        if p[UDP].sport == 4500:
            if b[:4] != b"\0\0\0\0" or len(b) < 8:
                continue
            b = b[4:]
        elif p[UDP].sport != 500:
            continue
        out.append((p[IP].src == "10.99.0.1", b))
    return out


def _stream_capture(path: Path, msgs: list[tuple[bool, bytes]]) -> None:
    c, s = ("10.99.0.1", 40000), ("10.99.0.2", 4500)
    seq = {True: 1000, False: 5000}
    pkts = [
        Ether() / IP(src=c[0], dst=s[0]) / TCP(sport=c[1], dport=s[1], flags="S", seq=999),
        Ether()
        / IP(src=s[0], dst=c[0])
        / TCP(sport=s[1], dport=c[1], flags="SA", seq=4999, ack=1000),
    ]
    first = True
    for from_client, m in msgs:
        data = struct.pack("!H", 2 + 4 + len(m)) + b"\0\0\0\0" + m  # RFC 9329 §3.1
        if from_client and first:
            data, first = b"IKETCP" + data, False
        src, dst = (c, s) if from_client else (s, c)
        for part in (data[:7], data[7:]):  # split inside the length/marker/header
            pkts.append(
                Ether()
                / IP(src=src[0], dst=dst[0])
                / TCP(
                    sport=src[1],
                    dport=dst[1],
                    flags="PA",
                    seq=seq[from_client],
                    ack=seq[not from_client],
                )
                / Raw(part)
            )
            seq[from_client] += len(part)
    wrpcap(str(path), pkts)


def test_iketcp_stream_decrypts_like_udp(tmp_path: Path) -> None:
    msgs = _messages()
    _stream_capture(tmp_path / "tcp.pcap", msgs)
    keys = (DIR / "strongswan_ikev2.ike.json").read_text()

    def run(path: Path, tcp: bool) -> list[IKEMessage]:
        ike = IKETracker(parse_ike_keys(keys))
        trackers = [IKETCPTracker(ike), ike] if tcp else [ike]
        eng = CaptureEngine(trackers=trackers)
        return [
            u for r in iter_capture(str(path), eng) for u in r.units if isinstance(u, IKEMessage)
        ]

    over_tcp = run(tmp_path / "tcp.pcap", True)
    over_udp = run(DIR / "strongswan_ikev2.pcap", False)
    assert len(over_tcp) == len(over_udp) == 62
    assert [
        (m.exchange_type, m.message_id, m.decrypted, m.inner_payloads, m.plaintext)
        for m in over_tcp
    ] == [
        (m.exchange_type, m.message_id, m.decrypted, m.inner_payloads, m.plaintext)
        for m in over_udp
    ]


def test_iketcp_layers_round_trip() -> None:
    msgs = _messages()[:4]
    stream = (
        b"IKETCP"
        + b"".join(struct.pack("!H", 6 + len(m)) + b"\0\0\0\0" + m for fc, m in msgs if fc)
        + b"\x00\x03\xff"
    )  # and a keepalive
    frames = dissect_iketcp_stream(stream, initiator=True)
    assert b"".join(bytes(f) for f in frames) == stream
    assert all(IKEv2 in f for f in frames[1:-1]) and bytes(frames[-1]) == b"\x00\x03\xff"
    assert bytes(IKETCPFrame() / Raw(b"\xff")) == b"\x00\x03\xff"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200), st.booleans())
def test_iketcp_garbage(data: bytes, initiator: bool) -> None:
    frames = dissect_iketcp_stream(data, initiator=initiator)
    assert b"".join(bytes(f) for f in frames) == data
