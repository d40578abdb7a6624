"""IPDecoder vs packets built and written by Scapy (link types, VLANs, options, extension headers,
fragments made by Scapy's ``fragment``/``fragment6``).  The reference is always Scapy's own bytes
of the original, unfragmented packet."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, UDP, IPOption_RR, fragment
from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    fragment6,
)
from scapy.layers.ipsec import AH
from scapy.layers.l2 import (
    ARP,
    CookedLinux,
    CookedLinuxV2,
    Dot1AD,
    Dot1Q,
    Ether,
    Loopback,
    LoopbackOpenBSD,
)
from scapy.packet import Raw
from scapy.utils import wrpcap

from netsec_layers.io.pcap import CaptureReader, Frame
from netsec_layers.session.netstack import IPDecoder, decode_frame

# explicit addresses: Scapy would otherwise resolve them (ARP/ND) on the network
MACS = {"dst": "02:00:00:00:00:02", "src": "02:00:00:00:00:01"}
V4 = IP(src="192.0.2.1", dst="198.51.100.7", id=4321) / UDP(sport=1234, dport=53) / Raw(b"q" * 40)
V6 = IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=1234, dport=53) / Raw(b"r" * 40)


def wrappers(ip):  # type: ignore[no-untyped-def]
    et = 0x0800 if ip.version == 4 else 0x86DD
    af_bsd = 2 if ip.version == 4 else 24
    return [
        ("eth", 1, Ether(**MACS, type=et)),
        ("dot1q", 1, Ether(**MACS) / Dot1Q(vlan=10, type=et)),
        ("qinq", 1, Ether(**MACS, type=0x88A8) / Dot1AD(vlan=100) / Dot1Q(vlan=10, type=et)),
        ("sll", 113, CookedLinux(proto=et)),
        ("sll2", 276, CookedLinuxV2(proto=et)),
        ("null", 0, Loopback(type=af_bsd)),
        ("loop", 108, LoopbackOpenBSD(type=af_bsd)),
        ("raw", 101, None),
        ("raw12", 12, None),
        ("raw14", 14, None),
        ("ipv4" if ip.version == 4 else "ipv6", 228 if ip.version == 4 else 229, None),
    ]


CASES = [(ip, name, lt, w) for ip in (V4, V6) for name, lt, w in wrappers(ip)]


@pytest.mark.parametrize(
    "ip,name,lt,wrapper", CASES, ids=[f"v{c[0].version}-{c[1]}" for c in CASES]
)
def test_link_types_via_scapy_pcap(tmp_path: Path, ip, name, lt, wrapper) -> None:  # type: ignore[no-untyped-def]
    pkt = ip if wrapper is None else wrapper / ip
    path = tmp_path / "x.pcap"
    wrpcap(str(path), [pkt], linktype=lt)
    (frame,) = list(CaptureReader(path))
    assert frame.linktype == lt
    out = IPDecoder().feed(frame)
    assert out is not None
    ipb = bytes(ip)
    assert out.header + out.payload == ipb
    assert out.link == bytes(pkt)[: len(bytes(pkt)) - len(ipb)]
    assert (out.src, out.dst, out.proto, out.version) == (ip.src, ip.dst, 17, ip.version)
    assert out.payload == bytes(ip[UDP])
    assert not out.reassembled


def test_null_big_endian_host() -> None:
    # DLT_NULL is in the capturing host's byte order: a big-endian host writes 00 00 00 02.
    f = Frame(1, 0, 0, b"\x00\x00\x00\x1e" + bytes(V6), 0)
    out = IPDecoder().feed(f)
    assert out is not None and out.version == 6


def test_ethernet_padding_trimmed() -> None:
    small = IP(src="10.0.0.1", dst="10.0.0.2") / UDP() / b"x"
    frame = bytes(Ether(**MACS) / small)
    assert len(frame) < 60
    padded = frame + b"\xee" * (60 - len(frame))
    out = decode_frame(Frame(1, 0, 1, padded, 60))
    assert out is not None and out.header + out.payload == bytes(small)


def test_ipv4_options() -> None:
    p = IP(src="10.0.0.1", dst="10.0.0.2", options=[IPOption_RR(routers=["1.2.3.4"])]) / UDP()
    raw = bytes(p)
    ihl = IP(raw).ihl * 4
    out = decode_frame(Frame(1, 0, 101, raw, len(raw)))
    assert out is not None
    assert len(out.header) == ihl > 20
    assert out.header == raw[:ihl] and out.payload == bytes(p[UDP])


def test_ipv6_extension_headers_walked() -> None:
    p = (
        IPv6(src="2001:db8::1", dst="2001:db8::2")
        / IPv6ExtHdrHopByHop()
        / IPv6ExtHdrRouting(addresses=["2001:db8::9"])
        / IPv6ExtHdrDestOpt()
        / UDP()
        / b"data"
    )
    raw = bytes(p)
    out = decode_frame(Frame(1, 0, 229, raw, len(raw)))
    assert out is not None and out.proto == 17
    assert out.payload == bytes(p[UDP]) and out.header == raw[: len(raw) - len(out.payload)]


@pytest.mark.parametrize(
    "pkt",
    [
        IP(src="10.0.0.1", dst="10.0.0.2") / AH(spi=7, seq=1, icv=b"\0" * 12, nh=17) / UDP(),
        IPv6(src="::1", dst="::2") / IPv6ExtHdrHopByHop() / AH(spi=7, seq=1, icv=b"\0" * 12),
        IPv6(src="::1", dst="::2", nh=50) / Raw(b"\0\0\0\x07\0\0\0\x01" + b"e" * 20),
    ],
    ids=["ah4", "ah6", "esp6"],
)
def test_ah_esp_stay_visible(pkt) -> None:  # type: ignore[no-untyped-def]
    raw = bytes(pkt)
    out = decode_frame(Frame(1, 0, 101, raw, len(raw)))
    assert out is not None
    if AH in pkt:
        assert out.proto == 51 and out.payload == bytes(pkt[AH])
    else:
        assert out.proto == 50 and out.payload.startswith(b"\0\0\0\x07")


@pytest.mark.parametrize(
    "data,lt,why",
    [
        (bytes(Ether(**MACS) / ARP()), 1, "not IP"),
        (b"\x00" * 10, 1, "truncated Ethernet"),
        (bytes(V4)[:30], 101, "truncated IPv4 packet"),
        (bytes(V4)[:12], 101, "truncated IPv4 header"),
        (bytes(V6)[:50], 101, "truncated IPv6 packet"),
        (b"\x75" + bytes(V4)[1:], 101, "raw IP frame with version 7"),
        (bytes(V4), 147, "unsupported link type"),
        (b"\x05\x00\x00\x00" + bytes(V4), 0, "not IP (loopback family"),
    ],
)
def test_errors_are_reported(data: bytes, lt: int, why: str) -> None:
    dec = IPDecoder()
    assert dec.feed(Frame(1, 0, lt, data, len(data))) is None
    assert dec.last_error is not None and why in dec.last_error


# -- fragment reassembly ---------------------------------------------------------------------------
BIG4 = (
    IP(src="10.1.1.1", dst="10.2.2.2", id=999) / UDP(sport=5, dport=6) / Raw(bytes(range(256)) * 12)
)
BIG6 = (
    IPv6(src="2001:db8::a", dst="2001:db8::b")
    / IPv6ExtHdrHopByHop()
    / IPv6ExtHdrFragment(id=0x1234)
    / IPv6ExtHdrDestOpt()
    / UDP(sport=5, dport=6)
    / Raw(bytes(range(256)) * 12)
)


def expected6() -> bytes:
    """The IPv6 packet without its fragment header (RFC 8200 §4.5 reassembly result)."""
    p = IPv6(bytes(BIG6))
    frag = p[IPv6ExtHdrFragment]
    p[IPv6ExtHdrHopByHop].remove_payload()
    whole = p / frag.payload
    whole[IPv6ExtHdrHopByHop].nh = 60
    whole.plen = None
    return bytes(IPv6(bytes(whole)))


def feed_all(dec: IPDecoder, pkts: list[bytes], lt: int = 101, t0: int = 0):  # type: ignore[no-untyped-def]
    outs = []
    for i, p in enumerate(pkts):
        r = dec.feed(Frame(i + 1, t0 + i, lt, p, len(p)))
        if r is not None:
            outs.append(r)
    return outs


def test_ipv4_fragments_shuffled_and_duplicated() -> None:
    frags = [bytes(f) for f in fragment(BIG4, fragsize=400)]
    assert len(frags) > 5
    rng = random.Random(1)
    mixed = frags + rng.sample(frags, 3)
    rng.shuffle(mixed)
    # make sure the datagram completes on the last *new* fragment
    dec = IPDecoder()
    outs = feed_all(dec, [bytes(Ether(**MACS) / IP(f)) for f in mixed], lt=1)
    assert len(outs) == 1
    out = outs[0]
    assert out.reassembled and out.header + out.payload == bytes(IP(bytes(BIG4)))
    assert out.proto == 17 and len(out.fragment_frames) >= len(frags)


def test_ipv4_overlapping_fragmentations() -> None:
    # the same datagram cut two different ways: every byte arrives twice, at shifted offsets
    a = [bytes(f) for f in fragment(BIG4, fragsize=400)]
    b = [bytes(f) for f in fragment(BIG4, fragsize=248)]
    dec = IPDecoder()
    outs = feed_all(dec, a[::2] + b[1:] + a[1::2])
    assert len(outs) == 1 and outs[0].header + outs[0].payload == bytes(IP(bytes(BIG4)))
    assert dec.overlaps > 0


def test_conflicting_overlap_first_seen_wins() -> None:
    f1 = bytes(IP(src="10.0.0.1", dst="10.0.0.2", id=5, proto=17, flags="MF") / Raw(b"A" * 16))
    f2 = bytes(
        IP(src="10.0.0.1", dst="10.0.0.2", id=5, proto=17, flags="MF", frag=1) / Raw(b"B" * 16)
    )
    f3 = bytes(IP(src="10.0.0.1", dst="10.0.0.2", id=5, proto=17, frag=3) / Raw(b"C" * 8))
    outs = feed_all(IPDecoder(), [f2, f1, f3])
    assert outs[0].payload == b"A" * 8 + b"B" * 16 + b"C" * 8


def test_ipv6_fragments_from_scapy() -> None:
    frags = [bytes(f) for f in fragment6(BIG6, 1280)]
    assert len(frags) >= 3
    random.Random(2).shuffle(frags)
    dec = IPDecoder()
    outs = feed_all(dec, frags + frags[:1])
    assert len(outs) == 1
    out = outs[0]
    assert out.reassembled and out.proto == 17
    assert out.header + out.payload == expected6()
    assert out.payload == bytes(BIG6[UDP])


def test_atomic_ipv6_fragment() -> None:
    p = IPv6(src="::1", dst="::2") / IPv6ExtHdrFragment(id=1, m=0, offset=0) / UDP() / b"z"
    out = decode_frame(Frame(1, 0, 229, bytes(p), 0))
    assert out is not None and out.proto == 17 and out.payload == bytes(p[UDP])


def test_fragment_timeout() -> None:
    frags = [bytes(f) for f in fragment(BIG4, fragsize=400)]
    dec = IPDecoder(fragment_timeout_ns=1000)
    assert dec.feed(Frame(1, 0, 101, frags[0], 0)) is None
    assert dec.last_error == "fragment held for reassembly"
    outs = [dec.feed(Frame(i + 2, 5000, 101, f, 0)) for i, f in enumerate(frags[1:])]
    assert all(o is None for o in outs)
    assert dec.fragments_dropped == 1 and dec.pending_fragments == 1


def test_fragment_memory_bound() -> None:
    dec = IPDecoder(max_fragment_bytes=10_000)
    for i in range(200):
        f = bytes(IP(src="10.0.0.1", dst="10.0.0.2", id=i, proto=17, flags="MF") / Raw(b"x" * 1000))
        assert dec.feed(Frame(i, i, 101, f, 0)) is None
        assert dec._frag_bytes <= 10_000
    assert dec.fragments_dropped >= 190


def test_fragment_datagram_count_bound() -> None:
    dec = IPDecoder(max_datagrams=50)
    for i in range(500):
        f = bytes(IP(src="10.0.0.1", dst="10.0.0.2", id=i, proto=17, flags="MF") / Raw(b"x" * 8))
        dec.feed(Frame(i, i, 101, f, 0))
        assert dec.pending_fragments <= 50
    assert dec.fragments_dropped == 450


def test_many_tiny_fragments_reassemble() -> None:
    # 2000 8-byte fragments, every other slot first, then the rest: one datagram
    payload = bytes(range(256)) * 62 + b"end!"
    n = len(payload) // 8 + 1
    order = list(range(0, n, 2)) + list(range(1, n, 2))
    pkts = []
    for k in order:
        chunk = payload[8 * k : 8 * k + 8]
        last = 8 * k + 8 >= len(payload)
        pkts.append(
            bytes(
                IP(
                    src="10.0.0.1",
                    dst="10.0.0.2",
                    id=3,
                    proto=17,
                    flags=0 if last else "MF",
                    frag=k,
                )
                / Raw(chunk)
            )
        )
    outs = feed_all(IPDecoder(), pkts)
    assert len(outs) == 1 and outs[0].payload == payload


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(1, 60), min_size=1, max_size=25),
    st.randoms(use_true_random=False),
    st.integers(0, 3),
)
def test_property_ipv4_any_cut_any_order(cuts: list[int], rnd: random.Random, dups: int) -> None:
    """Cut the payload at random 8-byte boundaries (overlapping pieces too), shuffle, duplicate:
    the rebuilt packet is byte-identical to Scapy's original."""
    orig = bytes(IP(bytes(BIG4)))
    payload = orig[20:]
    bounds = sorted({min(c * 8 * 8, len(payload) // 8 * 8) for c in cuts} | {0})
    pieces = []
    for i, start in enumerate(bounds):
        end = bounds[i + 1] if i + 1 < len(bounds) else len(payload)
        if end <= start:
            continue
        # stretch some pieces backwards to overlap their neighbour (consistent data)
        s2 = max(0, start - 8 * rnd.randint(0, 2))
        last = end == len(payload)
        pieces.append(
            bytes(
                IP(
                    src="10.1.1.1",
                    dst="10.2.2.2",
                    id=999,
                    proto=17,
                    flags=0 if last else "MF",
                    frag=s2 // 8,
                )
                / Raw(payload[s2:end])
            )
        )
    pieces += [rnd.choice(pieces) for _ in range(dups)]
    rnd.shuffle(pieces)
    outs = feed_all(IPDecoder(), pieces)
    assert outs and outs[0].header + outs[0].payload == orig


@settings(max_examples=40, deadline=None)
@given(st.randoms(use_true_random=False), st.sampled_from([1280, 1400, 2000]))
def test_property_ipv6_shuffled(rnd: random.Random, mtu: int) -> None:
    frags = [bytes(f) for f in fragment6(BIG6, mtu)]
    frags += [rnd.choice(frags)]
    rnd.shuffle(frags)
    outs = feed_all(IPDecoder(), frags)
    assert outs and outs[0].header + outs[0].payload == expected6()


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 999]), st.binary(max_size=120))
def test_garbage_never_raises(lt: int, data: bytes) -> None:
    dec = IPDecoder()
    for i in range(2):
        out = dec.feed(Frame(i, i, lt, data, len(data)))
        assert out is None or out.version in (4, 6)
        if out is None:
            assert dec.last_error


FRAG_SAMPLES = [bytes(fragment(BIG4, fragsize=400)[1]), bytes(fragment6(BIG6, 1280)[1])]


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=60), st.integers(0, 1))
def test_garbage_fragments_never_raise(tail: bytes, v6: int) -> None:
    base = FRAG_SAMPLES[v6]
    dec = IPDecoder()
    dec.feed(Frame(1, 0, 101, base, 0))
    cut = len(base) // 2
    dec.feed(Frame(2, 0, 101, base[:cut] + tail, 0))


# -- tunnels (issue #13) ------------------------------------------------------------------------
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from netsec_layers.session.netstack import decap_gre, decap_udp_tunnel  # noqa: E402


@given(st.binary(max_size=64), st.sampled_from([4789, 6081, 53]))
def test_tunnel_decapsulation_never_raises(data: bytes, port: int) -> None:
    decap_gre(data)
    decap_udp_tunnel(port, data)


def test_gre_header_lengths_follow_the_c_k_s_bits() -> None:
    """RFC 2890: checksum+reserved, key and sequence number are 4 bytes each when flagged."""
    inner = b"\x45" + bytes(19)
    assert decap_gre(b"\x00\x00\x08\x00" + inner) == ("gre", 101, inner)
    assert decap_gre(b"\xb0\x00\x08\x00" + bytes(12) + inner) == ("gre", 101, inner)
    assert decap_gre(b"\x20\x00\x65\x58" + bytes(4) + inner) == ("gre", 1, inner)
    assert decap_gre(b"\x00\x01\x08\x00" + inner) is None  # version 1 (PPTP)
    assert decap_gre(b"\x30\x00\x08\x00" + bytes(4)) is None  # shorter than its flags say
