"""Crafted hellos get a fresh random (and ClientHello a fresh session ID) unless given; captured
hellos dissect to exactly their bytes, with the random tshark 4.0 reads."""

from __future__ import annotations

from pathlib import Path

from scapy.utils import rdpcap

from netsec_layers.constants.tls import HRR_RANDOM
from netsec_layers.layers.all import bind_netsec_layers, unbind_netsec_layers
from netsec_layers.layers.tls import (
    TLSClientHello,
    TLSHelloRetryRequest,
    TLSServerHello,
)
from tests.tshark_util import tshark_fields

TLS = Path(__file__).resolve().parents[2] / "pcaps" / "tls"


def test_crafted_hellos_are_fresh_and_explicit_values_kept() -> None:
    a, b = TLSClientHello(), TLSClientHello()
    assert len(a.random) == len(a.session_id) == 32
    assert a.random != b.random and a.session_id != b.session_id
    assert bytes(a) == bytes(a)  # one value per object, not one per build
    assert a.copy().random == a.random
    given = TLSClientHello(random=b"\x01" * 32, session_id=b"")
    assert given.random == b"\x01" * 32 and given.session_id == b""
    assert TLSServerHello().random != TLSServerHello().random
    assert TLSServerHello(random=b"\x02" * 32).random == b"\x02" * 32
    assert TLSHelloRetryRequest().random == HRR_RANDOM  # RFC 8446 §4.1.3: fixed by the RFC


def test_captured_hellos_keep_their_bytes_and_random() -> None:
    pcap = TLS / "python-tls13-port50443.pcap"
    rows = tshark_fields(
        pcap,
        ["tls.handshake.type", "tls.handshake.random", "tls.handshake.session_id"],
        options=[
            "-d",
            "tcp.port==50443,tls",
            "-Y",
            "tls.handshake.type==1 || tls.handshake.type==2",
        ],
    )
    bind_netsec_layers()
    try:
        hellos = [
            p for p in rdpcap(str(pcap)) if p.haslayer(TLSClientHello) or p.haslayer(TLSServerHello)
        ]
        assert len(hellos) == len(rows) == 2
        for pkt, row in zip(hellos, rows, strict=True):
            hello = pkt[TLSClientHello] if pkt.haslayer(TLSClientHello) else pkt[TLSServerHello]
            assert hello.random.hex() == row["tls.handshake.random"].replace(":", "")
            assert hello.session_id.hex() == row["tls.handshake.session_id"].replace(":", "")
            again = type(hello)(bytes(hello))
            assert bytes(again) == bytes(hello) and again.random == hello.random
    finally:
        unbind_netsec_layers()


def test_crafted_dtls_client_hello_is_fresh_captured_one_keeps_its_random() -> None:
    """DTLS too (RFC 6347 §4.2.1): a crafted hello gets its own random, a given one (the second
    hello after HelloVerifyRequest repeats the first's) is kept, and a captured GnuTLS hello
    dissects to its bytes with the random tshark 4.0 reads."""
    from scapy.layers.inet import UDP

    from netsec_layers.layers.dtls import DTLSClientHello, DTLSRecord

    assert DTLSClientHello().random != DTLSClientHello().random
    assert DTLSClientHello(random=b"\x03" * 32).random == b"\x03" * 32
    pcap = TLS.parent / "dtls" / "gnutls-dtls12-gcm.pcap"
    rows = tshark_fields(
        pcap, ["frame.number", "dtls.handshake.random"], options=["-Y", "dtls.handshake.type==1"]
    )
    assert rows
    packets = rdpcap(str(pcap))
    for row in rows:
        payload = bytes(packets[int(row["frame.number"]) - 1][UDP].payload)
        hello = DTLSRecord(payload)[DTLSClientHello]
        assert hello.random.hex() == row["dtls.handshake.random"].replace(":", "")
        assert bytes(DTLSRecord(payload)) == payload
