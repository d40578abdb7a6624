"""AH (RFC 4302) against Scapy's AH implementation, both directions, plus mutable-field rules."""

from __future__ import annotations

import os
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsec_layers.crypto.ah import ah_icv_input
from netsec_layers.errors import (
    IntegrityError,
    NetsecError,
    ReplayError,
    TruncatedError,
    UnknownSPIError,
)
from netsec_layers.keys.sa import SecurityAssociation
from netsec_layers.session.ipsec import SADatabase

scapy_all = pytest.importorskip("scapy.all")
ipsec = pytest.importorskip("scapy.layers.ipsec")
IP, IPv6, UDP, Raw, IPOption = (
    scapy_all.IP,
    scapy_all.IPv6,
    scapy_all.UDP,
    scapy_all.Raw,
    scapy_all.IPOption,
)

AUTHS = [
    ("HMAC-SHA1-96", 20, "HMAC-SHA1-96"),
    ("HMAC-SHA2-256-128", 32, "SHA2-256-128"),
    ("HMAC-SHA2-384-192", 48, "SHA2-384-192"),
    ("HMAC-SHA2-512-256", 64, "SHA2-512-256"),
    ("HMAC-MD5-96", 16, "HMAC-MD5-96"),
    ("AES-CMAC-96", 16, "AES-CMAC-96"),
]
PACKETS = {
    "v4": lambda: (
        IP(src="10.0.0.1", dst="10.0.0.2", tos=0x10, ttl=33)
        / UDP(sport=1, dport=2)
        / Raw(b"ah payload")
    ),
    "v4-router-alert": lambda: (
        IP(src="10.0.0.1", dst="10.0.0.2", options=[IPOption(b"\x94\x04\x00\x00")])
        / UDP()
        / Raw(b"x" * 7)
    ),
    "v6": lambda: (
        IPv6(src="2001:db8::1", dst="2001:db8::2", tc=3, fl=0x12345, hlim=9)
        / UDP(sport=1, dport=2)
        / Raw(b"ah payload")
    ),
}


def _pair(auth: tuple, esn: bool, tunnel: object = None) -> tuple[SecurityAssociation, object]:
    name, klen, sname = auth
    key = os.urandom(klen)
    ours = SecurityAssociation(
        spi=0xA0A0,
        protocol="ah",
        integrity=name,
        auth_key=key,
        mode="tunnel" if tunnel is not None else "transport",
        esn=esn,
        esn_high=7 if esn else 0,
        src="192.0.2.1" if tunnel is not None else "*",
        dst="192.0.2.2" if tunnel is not None else "*",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = ipsec.SecurityAssociation(
            ipsec.AH,
            spi=0xA0A0,
            auth_algo=sname,
            auth_key=key,
            esn_en=esn,
            esn=7 if esn else 0,
            tunnel_header=tunnel,
        )
    return ours, theirs


@pytest.mark.parametrize("esn", [False, True], ids=["seq32", "esn"])
@pytest.mark.parametrize("kind", list(PACKETS))
@pytest.mark.parametrize("auth", AUTHS, ids=[a[0] for a in AUTHS])
def test_ah_transport_both_ways(auth: tuple, kind: str, esn: bool) -> None:
    ours, theirs = _pair(auth, esn)
    pkt = PACKETS[kind]()
    # Scapy builds → we verify (mutable fields changed en route must not matter).
    built = theirs.encrypt(pkt, seq_num=5)
    wire = bytearray(bytes(built))
    if kind.startswith("v4"):
        wire[8] = 1  # TTL decremented by routers; checksum would change too
    else:
        wire[7] = 1  # hop limit
    got = SADatabase([ours]).verify_ah(bytes(wire))
    assert got.wire_seq == 5 and got.seq == ((7 << 32) | 5 if esn else 5)
    assert got.next_header == 17
    assert got.payload == bytes(pkt[UDP])
    # We build → Scapy verifies.
    mine = SADatabase().build_ah(bytes(pkt), sa=ours, seq=9)
    cls = IP if kind.startswith("v4") else IPv6
    back = theirs.decrypt(cls(mine))
    assert bytes(back.payload) == bytes(pkt[UDP])


@pytest.mark.parametrize("auth", AUTHS[:2], ids=[a[0] for a in AUTHS[:2]])
def test_ah_tunnel_both_ways(auth: tuple) -> None:
    ours, theirs = _pair(auth, False, tunnel=IP(src="192.0.2.1", dst="192.0.2.2"))
    inner = PACKETS["v4"]()
    built = theirs.encrypt(inner, seq_num=3)
    got = SADatabase([ours]).verify_ah(bytes(built))
    assert got.next_header == 4 and got.payload == bytes(inner)
    mine = SADatabase().build_ah(bytes(inner), sa=ours)
    back = theirs.decrypt(IP(mine))
    assert bytes(back) == bytes(inner)


def test_ah_errors_and_replay() -> None:
    sa = SecurityAssociation(
        spi=0x55,
        protocol="ah",
        integrity="HMAC-SHA2-256-128",
        auth_key=b"k" * 32,
        mode="transport",
    )
    pkt = bytes(PACKETS["v6"]())
    tx, rx = SADatabase(), SADatabase([sa])
    p1 = tx.build_ah(pkt, sa=sa)
    rx.verify_ah(p1)
    with pytest.raises(ReplayError) as exc:
        rx.verify_ah(p1)
    assert exc.value.verdict == "replayed"
    bad = tx.build_ah(pkt, sa=sa, fault="bad-icv")
    with pytest.raises(IntegrityError):
        rx.verify_ah(bad)
    with pytest.raises(TruncatedError):
        rx.verify_ah(p1[:50])
    with pytest.raises(UnknownSPIError):
        SADatabase().verify_ah(p1)
    # Every single-bit flip in the immutable parts is detected.
    p2 = tx.build_ah(pkt, sa=sa)
    mutable = {0, 1, 2, 3, 7}  # version/TC/flow label bytes, hop limit
    for i in range(len(p2)):
        if i in mutable:
            continue
        for bit in (0, 7):
            flipped = bytearray(p2)
            flipped[i] ^= 1 << bit
            db = SADatabase([sa])
            with pytest.raises(NetsecError):
                db.verify_ah(bytes(flipped))


def test_ipv4_mutable_options_zeroed() -> None:
    """RFC 4302 Appendix A.1: Record Route (mutable) is zeroed, Router Alert (immutable) kept;
    LSRR makes the destination the final hop."""
    rr = b"\x07\x07\x04" + b"\x0a\x00\x00\x09"  # record route, one slot
    ra = b"\x94\x04\x00\x00"
    hdr_opts = rr + b"\x01" + ra  # 12 bytes of options
    pkt = IP(src="10.0.0.1", dst="10.0.0.2", options=[IPOption(hdr_opts)], proto=51) / Raw(
        bytes([17, 4, 0, 0]) + (1).to_bytes(4, "big") * 2 + b"\xee" * 12
    )
    raw = bytes(pkt)
    canon = ah_icv_input(raw)
    assert canon[20 : 20 + 7] == bytes(7)
    assert canon[28:32] == ra
    assert canon[8] == 0 and canon[10:12] == b"\0\0"
    lsrr = b"\x83\x07\x04" + bytes([198, 51, 100, 7])
    pkt2 = IP(src="10.0.0.1", dst="10.0.0.2", options=[IPOption(lsrr + b"\x00")], proto=51) / Raw(
        bytes([17, 4, 0, 0]) + bytes(8) + bytes(12)
    )
    canon2 = ah_icv_input(bytes(pkt2))
    assert canon2[16:20] == bytes([198, 51, 100, 7])


def test_ipv6_hop_by_hop_mutable_option() -> None:
    """RFC 4302 §3.3.3.1.2.1: option data with the 'may change' bit (0x20) is zeroed for the ICV,
    so a router rewriting it does not break AH; immutable option data stays covered."""
    key = os.urandom(32)
    ours = SecurityAssociation(
        spi=0x77, protocol="ah", integrity="HMAC-SHA2-256-128", auth_key=key, mode="transport"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = ipsec.SecurityAssociation(
            ipsec.AH, spi=0x77, auth_algo="SHA2-256-128", auth_key=key
        )
    opts = [
        scapy_all.HBHOptUnknown(otype=0x3E, optdata=b"abcd"),
        scapy_all.HBHOptUnknown(otype=0x1E, optdata=b"wxyz"),
    ]
    pkt = (
        IPv6(src="2001:db8::1", dst="2001:db8::2")
        / scapy_all.IPv6ExtHdrHopByHop(options=opts)
        / UDP()
        / Raw(b"hi")
    )
    wire = bytearray(bytes(theirs.encrypt(pkt)))
    i = wire.find(b"abcd")
    wire[i : i + 4] = b"ZZZZ"  # mutable option rewritten en route
    assert SADatabase([ours]).verify_ah(bytes(wire)).next_header == 17
    mine = SADatabase().build_ah(bytes(pkt), sa=ours)
    assert bytes(theirs.decrypt(IPv6(mine)).payload).endswith(b"hi")
    tampered = bytearray(mine)
    tampered[tampered.find(b"wxyz")] ^= 1  # immutable option data is covered
    with pytest.raises(IntegrityError):
        SADatabase([ours]).verify_ah(bytes(tampered))


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=120), v6=st.booleans())
def test_ah_garbage_only_our_errors(data: bytes, v6: bool) -> None:
    sa = SecurityAssociation(
        spi=0x55, protocol="ah", integrity="HMAC-SHA1-96", auth_key=bytes(20), mode="transport"
    )
    head = (
        bytes(IPv6(src="::1", dst="::2", nh=51))
        if v6
        else bytes(IP(src="1.1.1.1", dst="2.2.2.2", proto=51))
    )
    for blob in (data, head + data, head + bytes([17, 4, 0, 0, 0, 0, 0, 0x55]) + data):
        try:
            SADatabase([sa]).verify_ah(blob)
        except NetsecError:
            pass


@pytest.mark.parametrize("inner_v", [4, 6])
def test_ah_tunnel_ipv6_outer_esn(inner_v: int) -> None:
    key = os.urandom(48)
    ours = SecurityAssociation(
        spi=0x78,
        protocol="ah",
        integrity="HMAC-SHA2-384-192",
        auth_key=key,
        mode="tunnel",
        src="2001:db8::a",
        dst="2001:db8::b",
        esn=True,
        esn_high=3,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = ipsec.SecurityAssociation(
            ipsec.AH,
            spi=0x78,
            auth_algo="SHA2-384-192",
            auth_key=key,
            esn_en=True,
            esn=3,
            tunnel_header=IPv6(src="2001:db8::a", dst="2001:db8::b"),
        )
    inner = PACKETS["v4" if inner_v == 4 else "v6"]()
    got = SADatabase([ours]).verify_ah(bytes(theirs.encrypt(inner, seq_num=4)))
    assert got.payload == bytes(inner) and got.seq == (3 << 32) | 4
    assert got.next_header == (4 if inner_v == 4 else 41)
    mine = SADatabase().build_ah(bytes(inner), sa=ours, seq=5)
    assert bytes(theirs.decrypt(IPv6(mine))) == bytes(inner)
