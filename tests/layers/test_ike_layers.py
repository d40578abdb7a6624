"""IKE Scapy layers: real strongSwan messages round-trip byte for byte and agree field by field
with Scapy's own IKEv2 (scapy.contrib.ikev2) and ISAKMP (scapy.layers.isakmp) layers; the
header/payload layout against RFC 7296 §3.1/§3.2 built with ``struct``; hostile bytes give an
undecoded layer with a reason, never an exception (Hypothesis)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.contrib import ikev2 as scapy_ikev2
from scapy.layers import isakmp as scapy_isakmp
from scapy.layers.inet import UDP
from scapy.packet import Raw
from scapy.utils import rdpcap

from netsec_layers.layers.ike import (
    ISAKMP,
    ISAKMPKE,
    ISAKMPSA,
    IKEUndecoded,
    IKEv2,
    IKEv2Attribute,
    IKEv2AUTH,
    IKEv2CP,
    IKEv2CPAttribute,
    IKEv2Delete,
    IKEv2EAP,
    IKEv2IDi,
    IKEv2KE,
    IKEv2Nonce,
    IKEv2Notify,
    IKEv2Proposal,
    IKEv2SA,
    IKEv2SK,
    IKEv2SKF,
    IKEv2TrafficSelector,
    IKEv2Transform,
    IKEv2TSi,
    IKEv2VendorID,
    ISAKMPNonce,
    ISAKMPVendorID,
    dissect_ikev2_payloads,
)

REPO = Path(__file__).resolve().parents[2]
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _ike_messages(path: Path) -> list[bytes]:
    out = []
    for p in rdpcap(str(path)):
        if UDP not in p:
            continue
        b = bytes(p[UDP].payload)
        if 4500 in (p[UDP].sport, p[UDP].dport):
            if b[:4] != b"\0\0\0\0" or len(b) < 32:
                continue
            b = b[4:]
        elif 500 not in (p[UDP].sport, p[UDP].dport):
            continue
        out.append(b)
    return out


MESSAGES = [
    *_ike_messages(REPO / "pcaps/ike/strongswan_ikev2.pcap"),
    *_ike_messages(REPO / "pcaps/ike/strongswan_ikev2_algs.pcap"),
    *_ike_messages(REPO / "pcaps/strongswan/strongswan_natt.pcap"),
]


def test_samples_hold_ike() -> None:
    assert len(MESSAGES) >= 45


def _chain(first, cls) -> list:
    """Scapy's IKEv2 chains proposals/transforms as payloads of each other."""
    out, x = [], first
    while isinstance(x, cls):
        out.append(x)
        x = x.payload
    return out


@pytest.mark.parametrize("i", range(len(MESSAGES)))
def test_real_message_round_trip_and_scapy_agrees(i: int) -> None:
    b = MESSAGES[i]
    ours = IKEv2(b)
    assert bytes(ours) == b
    assert IKEUndecoded not in ours
    theirs = scapy_ikev2.IKEv2(b)
    assert ours.init_spi == theirs.init_SPI and ours.resp_spi == theirs.resp_SPI
    assert ours.exch_type == theirs.exch_type and ours.message_id == theirs.id
    assert ours.length == theirs.length == len(b)
    # walk both payload chains in step
    a, t = ours.payload, theirs.payload
    steps = 0
    while a.name != "NoPayload" and t.name != "NoPayload":
        steps += 1
        assert a.next_payload == t.next_payload and a.length == t.length
        if isinstance(a, IKEv2SA):
            their_props = _chain(t.prop, scapy_ikev2.IKEv2_Proposal)
            for pa, pt in zip(a.proposals, their_props, strict=True):
                ids = [(x.transform_type, x.transform_id) for x in pa.transforms]
                their = _chain(pt.trans, scapy_ikev2.IKEv2_Transform)
                assert ids == [(x.transform_type, x.transform_id) for x in their]
        elif isinstance(a, IKEv2KE):
            assert a.group == t.group and a.ke_data == t.ke
        elif isinstance(a, IKEv2Nonce):
            assert a.nonce == t.nonce
        elif isinstance(a, IKEv2Notify):
            assert a.notify_type == t.type and a.notify_data == t.notify
        elif isinstance(a, IKEv2SKF):
            assert (a.fragment_number, a.total_fragments) == (t.frag_number, t.frag_total)
            assert a.encrypted == t.load
        elif isinstance(a, IKEv2SK):
            assert a.encrypted == t.load
        a, t = a.payload, t.payload
    assert steps >= 1 and a.name == t.name == "NoPayload"


def test_header_and_generic_payload_layout_rfc7296() -> None:
    pkt = IKEv2(init_spi=b"I" * 8, resp_spi=b"R" * 8, exch_type=37, flags="I", message_id=7) / (
        IKEv2Nonce(nonce=b"n" * 16) / IKEv2VendorID(vendor_id=b"v" * 5, critical=1)
    )
    want = struct.pack("!8s8sBBBBII", b"I" * 8, b"R" * 8, 40, 0x20, 37, 0x08, 7, 28 + 20 + 9)
    want += struct.pack("!BBH", 43, 0, 20) + b"n" * 16 + struct.pack("!BBH", 0, 0x80, 9) + b"v" * 5
    assert bytes(pkt) == want
    assert IKEv2(want)[IKEv2VendorID].critical == 1


def test_every_ikev2_payload_builds_and_dissects() -> None:
    sa = IKEv2SA(
        proposals=[
            IKEv2Proposal(
                protocol_id=3,
                spi=b"\x01\x02\x03\x04",
                transforms=[
                    IKEv2Transform(transform_type=1, transform_id=20),
                    IKEv2Transform(transform_type=5, transform_id=0),
                ],
            )
        ]
    )
    ts = IKEv2TSi(
        traffic_selectors=[
            IKEv2TrafficSelector(start_addr="10.0.0.1", end_addr="10.0.0.9"),
            IKEv2TrafficSelector(ts_type=8, start_addr6="2001:db8::1", end_addr6="2001:db8::ff"),
        ]
    )
    chain = (
        sa
        / IKEv2KE(group=19, ke_data=b"k" * 64)
        / IKEv2IDi(id_type=2, id_data=b"a@netsec")
        / IKEv2AUTH(auth_data=b"x" * 32)
        / IKEv2Notify(notify_type=16431, notify_data=b"\x00\x02\x00\x05")
        / IKEv2Notify(protocol_id=3, spi=b"\xaa\xbb\xcc\xdd", notify_type=16393)
        / IKEv2Delete(num_spi=2, spis=b"\x01\x02\x03\x04\x05\x06\x07\x08")
        / ts
        / IKEv2CP(attributes=[IKEv2CPAttribute(attr_type=1, value=b"")])
        / IKEv2EAP(eap_message=b"\x01\x01\x00\x05\x01")
        / IKEv2SKF(fragment_number=1, total_fragments=3, encrypted=b"e" * 40)
    )
    b = bytes(IKEv2() / chain)
    m = IKEv2(b)
    assert bytes(m) == b
    assert IKEUndecoded not in m
    assert m[IKEv2Notify].decoded() == [2, 5]
    assert m[IKEv2Delete].spi_list() == [b"\x01\x02\x03\x04", b"\x05\x06\x07\x08"]
    assert m[IKEv2TSi].traffic_selectors[1].end_addr6 == "2001:db8::ff"
    assert m[IKEv2SKF].total_fragments == 3
    # Scapy's own layers read the same TS payload the same way
    theirs = scapy_ikev2.IKEv2(b)[scapy_ikev2.IKEv2_TSi]
    assert theirs.traffic_selector[0].starting_address_v4 == "10.0.0.1"
    # the inner chain helper
    inner = dissect_ikev2_payloads(34, bytes(IKEv2KE(ke_data=b"z" * 32) / IKEv2Nonce(nonce=b"q")))
    assert inner[IKEv2Nonce].nonce == b"q"


@pytest.mark.parametrize(
    ("tail", "reason"),
    [
        (struct.pack("!BBH", 0, 0, 2), "length 2"),
        (struct.pack("!BBH", 0, 0, 400) + b"x" * 8, "400 >"),
        (b"\x00\x00", "shorter than a payload header"),
    ],
)
def test_bad_lengths_give_undecoded_with_reason(tail: bytes, reason: str) -> None:
    b = bytes(IKEv2(next_payload=40, length=28 + len(tail))) + tail
    m = IKEv2(b)
    assert isinstance(m.payload, IKEUndecoded)
    assert reason in m.payload.reason
    assert bytes(m) == b


def test_isakmp_against_scapy_isakmp() -> None:
    sp = scapy_isakmp
    theirs = (
        sp.ISAKMP(init_cookie=b"c" * 8, exch_type=2)
        / sp.ISAKMP_payload_SA(
            prop=sp.ISAKMP_payload_Proposal(
                trans=sp.ISAKMP_payload_Transform(
                    transforms=[("Encryption", "AES-CBC"), ("Hash", "SHA"), ("KeyLength", 256)]
                )
            )
        )
        / sp.ISAKMP_payload_KE(ke=b"k" * 128)
        / sp.ISAKMP_payload_Nonce(nonce=b"n" * 16)
        / sp.ISAKMP_payload_VendorID(VendorID=b"v" * 16)
    )
    b = bytes(theirs)
    m = ISAKMP(b)
    assert bytes(m) == b
    attrs = [(a.type, a.value) for a in m[ISAKMPSA].proposals[0].transforms[0].attributes]
    assert attrs == [(1, 7), (2, 2), (14, 256)]
    assert m[ISAKMPKE].ke_data == b"k" * 128 and m[ISAKMPNonce].nonce == b"n" * 16
    assert m[ISAKMPVendorID].vendor_id == b"v" * 16
    # the encrypted form keeps the body opaque
    enc = bytes(sp.ISAKMP(flags="encryption", next_payload=8) / Raw(b"\x11" * 32))
    assert ISAKMP(enc).encrypted == b"\x11" * 32


@FAST
@given(st.binary(max_size=300))
def test_garbage_never_raises(data: bytes) -> None:
    for cls in (IKEv2, ISAKMP):
        m = cls(data)
        assert bytes(m) == data


@FAST
@given(
    st.lists(
        st.tuples(
            st.sampled_from([33, 34, 35, 39, 40, 41, 42, 43, 44, 47, 48, 53, 99]),
            st.binary(max_size=40),
        ),
        max_size=6,
    ),
    st.binary(max_size=12),
)
def test_garbage_payload_chains_round_trip(parts: list[tuple[int, bytes]], tail: bytes) -> None:
    # a chain of generic headers with random bodies (lengths right, contents hostile)
    body = b""
    for i, (_t, data) in enumerate(parts):
        nxt = parts[i + 1][0] if i + 1 < len(parts) else 0
        body += struct.pack("!BBH", nxt, 0, 4 + len(data)) + data
    first = parts[0][0] if parts else 0
    msg = (
        struct.pack(
            "!8s8sBBBBII", b"i" * 8, b"r" * 8, first, 0x20, 35, 8, 1, 28 + len(body) + len(tail)
        )
        + body
        + tail
    )
    m = IKEv2(msg)
    assert bytes(m) == msg


def test_bind_ike_routes_udp_500_by_version() -> None:
    from netsec_layers.layers.ike import bind_ike, unbind_ike

    pcaps = REPO / "pcaps" / "ike"
    bind_ike()
    try:
        v2 = rdpcap(str(pcaps / "strongswan_ikev2.pcap"))[2]
        v1 = rdpcap(str(pcaps / "strongswan_ikev1.pcap"))[2]
        assert IKEv2 in v2 and v2[IKEv2].exch_type == 34 and IKEv2SA in v2
        assert ISAKMP in v1 and v1[ISAKMP].exch_type == 2 and ISAKMPSA in v1
    finally:
        unbind_ike()
    assert IKEv2 not in rdpcap(str(pcaps / "strongswan_ikev2.pcap"))[2]


_transform = st.builds(
    lambda t, i, kl: IKEv2Transform(
        transform_type=t, transform_id=i, attributes=[IKEv2Attribute(value=kl)] if kl else []
    ),
    st.integers(1, 12),
    st.integers(0, 65535),
    st.sampled_from([0, 128, 192, 256]),
)
_proposal = st.builds(
    lambda n, p, spi, ts: IKEv2Proposal(proposal_num=n, protocol_id=p, spi=spi, transforms=ts),
    st.integers(1, 255),
    st.integers(0, 3),
    st.sampled_from([b"", b"\x01\x02\x03\x04", b"s" * 8]),
    st.lists(_transform, max_size=5),
)
_payload = st.one_of(
    st.builds(lambda ps: IKEv2SA(proposals=ps), st.lists(_proposal, min_size=1, max_size=3)),
    st.builds(
        lambda g, d: IKEv2KE(group=g, ke_data=d), st.integers(0, 65535), st.binary(max_size=64)
    ),
    st.builds(
        lambda t, spi, d: IKEv2Notify(notify_type=t, spi=spi, notify_data=d),
        st.integers(0, 65535),
        st.sampled_from([b"", b"\xaa" * 4, b"\xbb" * 8]),
        st.binary(max_size=32),
    ),
    st.builds(lambda d: IKEv2Nonce(nonce=d), st.binary(min_size=1, max_size=64)),
    st.builds(
        lambda a, b: IKEv2TSi(traffic_selectors=[IKEv2TrafficSelector(start_addr=a, end_addr=b)]),
        st.ip_addresses(v=4).map(str),
        st.ip_addresses(v=4).map(str),
    ),
    st.builds(
        lambda m, d: IKEv2AUTH(auth_method=m, auth_data=d),
        st.integers(0, 255),
        st.binary(max_size=48),
    ),
    st.builds(
        lambda n, t, d: IKEv2SKF(fragment_number=n, total_fragments=t, encrypted=d),
        st.integers(0, 65535),
        st.integers(0, 65535),
        st.binary(max_size=40),
    ),
)


@FAST
@given(st.lists(_payload, min_size=1, max_size=5), st.integers(0, 2**32 - 1))
def test_built_messages_round_trip(payloads: list, mid: int) -> None:
    # SKF must be last (nothing follows an encrypted payload)
    payloads = [p for p in payloads if not isinstance(p, IKEv2SKF)] + [
        p for p in payloads if isinstance(p, IKEv2SKF)
    ][:1]
    pkt = IKEv2(init_spi=b"i" * 8, message_id=mid)
    for p in payloads:
        pkt = pkt / p
    b = bytes(pkt)
    m = IKEv2(b)
    assert bytes(m) == b and IKEUndecoded not in m
    assert m.message_id == mid and m.length == len(b)
    # Scapy's own layer reads the same header and payload chain
    theirs = scapy_ikev2.IKEv2(b)
    assert theirs.length == len(b) and theirs.next_payload == m.next_payload


def test_registry_names_rfc9242_rfc9370_and_notifies() -> None:
    m = IKEv2(bytes(IKEv2(exch_type=43) / IKEv2Notify(notify_type=16438)))
    assert m.sprintf("%exch_type%") == "IKE_INTERMEDIATE"
    assert m[IKEv2Notify].sprintf("%notify_type%") == "INTERMEDIATE_EXCHANGE_SUPPORTED"
    assert IKEv2(exch_type=44).sprintf("%exch_type%") == "IKE_FOLLOWUP_KE"
    t = IKEv2Transform(transform_type=6, transform_id=36)  # ADDKE1 = ML-KEM-768
    assert t.sprintf("%transform_type%") == "ADDKE1" and "ML_KEM_768 (36)" in repr(t)
    n = IKEv2Notify(notify_type=16431, notify_data=b"\x00\x02\x00\x03\x00\x04")
    assert n.decoded() == [2, 3, 4]  # RFC 7427 hash algorithm IDs
    assert IKEv2Notify(notify_type=16391).decoded() is None  # USE_TRANSPORT_MODE: no data
