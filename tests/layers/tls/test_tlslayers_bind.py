"""bind_tls / unbind_tls: TLS recognised by content on any TCP port or on one port; Scapy's
built-in TLS (port 443) does not win while bound; unbinding restores Scapy's behaviour."""

from __future__ import annotations

from scapy.layers.inet import IP, TCP
from scapy.layers.tls.record import TLS
from scapy.packet import Raw

from netsec_layers.layers import tls as T
from netsec_layers.layers.tls.bind import bind_tls, looks_like_tls, unbind_tls

HELLO = bytes(T.TLSRecord(messages=[T.TLSHandshake() / T.TLSClientHello(sni="b.example")]))


def _seg(dport: int, data: bytes) -> IP:
    return IP(bytes(IP() / TCP(sport=50000, dport=dport, flags="PA") / data))


def test_any_port_by_content_and_scapy_tls_loses() -> None:
    assert _seg(443, HELLO).haslayer(TLS)
    assert _seg(8443, HELLO).haslayer(Raw)
    bind_tls()
    try:
        for port in (443, 8443, 25):
            p = _seg(port, HELLO)
            assert isinstance(p[TCP].payload, T.TLSRecord) and not p.haslayer(TLS)
            assert p[T.TLSClientHello].sni == "b.example"
            assert p.summary().endswith("TLS 1.2 Handshake ClientHello sni=b.example")
        assert isinstance(_seg(80, b"GET / HTTP/1.1\r\n\r\n")[TCP].payload, Raw)
        v2 = bytes(T.SSLv2ClientHello())
        assert isinstance(_seg(4433, v2)[TCP].payload, T.SSLv2ClientHello)
    finally:
        unbind_tls()
    assert _seg(443, HELLO).haslayer(TLS)
    assert isinstance(_seg(8443, HELLO)[TCP].payload, Raw)


def test_one_port() -> None:
    bind_tls(8443)
    try:
        assert isinstance(_seg(8443, HELLO)[TCP].payload, T.TLSRecord)
        assert isinstance(_seg(8444, HELLO)[TCP].payload, Raw)
        assert isinstance(_seg(8443, b"\x99continuation")[TCP].payload, Raw)
        assert TCP(bytes(TCP() / T.TLSRecord())).dport == 8443
    finally:
        unbind_tls()
    assert TCP(bytes(TCP() / T.TLSRecord())).dport == 80
    assert isinstance(_seg(8443, HELLO)[TCP].payload, Raw)


def test_looks_like_tls() -> None:
    assert looks_like_tls(HELLO)
    assert not looks_like_tls(b"\x16\x03\x05\x00\x10")
    assert not looks_like_tls(b"\x16\x03\x03\x00\x00")
    assert not looks_like_tls(b"\x16\x03\x03\xff\xff")
    assert not looks_like_tls(b"HTTP/")


def test_ethernet_trailer_after_record_chain_kept() -> None:
    from scapy.layers.l2 import Ether

    wire = bytes(T.TLSRecord(messages=[T.TLSAlert()])) * 2
    raw = bytes(Ether() / IP() / TCP() / wire) + b"\x00" * 6  # Ethernet padding after IP
    bind_tls()
    try:
        p = Ether(raw)
        assert isinstance(p[TCP].payload, T.TLSRecord)
        assert isinstance(p[TCP].payload.payload, T.TLSRecord)
        assert bytes(p) == raw
        p.clear_cache()
        assert bytes(p) == raw
    finally:
        unbind_tls()
