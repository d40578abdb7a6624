"""TCPFlow packets checked by Scapy (an independent builder): Scapy recomputes every checksum
and length from scratch and must produce the very bytes TCPFlow wrote."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from netsec_layers.session.tcpflow import ACK, FIN, PSH, TCPFlow

ENDPOINTS = [
    (("192.0.2.1", 40000), ("198.51.100.7", 443)),
    (("2001:db8::1", 51515), ("2001:db8:ffff::2", 8443)),
    (("255.255.255.255", 65535), ("0.0.0.0", 0)),  # all-ones / all-zero words
]


def _rebuilt_by_scapy(pkt: bytes) -> bytes:
    p = Ether(pkt)
    ip = p[IP] if IP in p else p[IPv6]
    if IP in p:
        del ip.chksum, ip.len
    else:
        del ip.plen
    del p[TCP].chksum
    return bytes(p)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(ENDPOINTS),
    st.lists(st.tuples(st.booleans(), st.binary(max_size=1600)), min_size=1, max_size=6),
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 0xFFFFFFFF),
)
def test_every_packet_is_what_scapy_builds(
    ends: tuple[tuple[str, int], tuple[str, int]],
    sends: list[tuple[bool, bytes]],
    isn_c: int,
    isn_s: int,
) -> None:
    flow = TCPFlow(ends[0], ends[1], client_isn=isn_c, server_isn=isn_s)
    pkts = flow.open()
    for from_client, data in sends:
        pkts += flow.data(from_client, data, mss=1000)
    pkts += flow.close(from_client=sends[0][0])
    for pkt in pkts:
        assert _rebuilt_by_scapy(pkt) == pkt


def test_checksum_words_that_sum_to_zero() -> None:
    """A segment whose ones'-complement sum is -0 (0xFFFF) carries checksum 0x0000, which Scapy
    and RFC 1071 agree on; search data that produces it."""
    flow = TCPFlow(("10.0.0.1", 1), ("10.0.0.2", 2))
    for i in range(1 << 16):
        probe = TCPFlow(("10.0.0.1", 1), ("10.0.0.2", 2))
        pkt = probe.segment(True, i.to_bytes(2, "big"), ACK | PSH)
        if pkt[14 + 20 + 16 : 14 + 20 + 18] == b"\0\0":
            assert _rebuilt_by_scapy(pkt) == pkt
            break
    else:
        raise AssertionError("no data word gives checksum 0")
    fin = flow.segment(True, b"", FIN | ACK)
    assert _rebuilt_by_scapy(fin) == fin


@settings(max_examples=300, deadline=None)
@given(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=4).map(str),
    st.integers(0, 255),
    st.integers(0, 65515),
    st.integers(0, 1 << 20),
    st.integers(0, 255),
    st.integers(0, 255),
)
def test_ipv4_header_is_what_scapy_builds(
    src: str, dst: str, proto: int, payload_len: int, ident: int, ttl: int, tos: int
) -> None:
    """``ipbuild.ipv4_header`` (checksum summed by parts) against Scapy's IP builder."""
    from netsec_layers.session import ipbuild

    hdr = ipbuild.ipv4_header(
        src=src, dst=dst, proto=proto, payload_len=payload_len, ident=ident, ttl=ttl, tos=tos
    )
    ref = IP(src=src, dst=dst, proto=proto, id=ident & 0xFFFF, ttl=ttl, tos=tos, flags="DF")
    ref.len = 20 + payload_len
    assert hdr == bytes(ref)
