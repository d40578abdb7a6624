"""decrypt_packet/encrypt_packet/AH glue against Scapy's own IPsec implementation
(``scapy.layers.ipsec.SecurityAssociation``): what Scapy encrypts we decrypt, what we encrypt
Scapy decrypts, for every algorithm both implement, tunnel/transport, IPv4/IPv6, with and
without RFC 3948 UDP encapsulation."""

from __future__ import annotations

import pytest
from scapy.layers import ipsec as scapy_ipsec
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from netsec_layers.errors import (
    IntegrityError,
    ParseError,
    ReplayError,
    UnknownSPIError,
    UsageError,
)
from netsec_layers.keys.sa import SecurityAssociation
from netsec_layers.layers.ipsec import AH, ESP, ESPPlaintext
from netsec_layers.session.ipsec import SADatabase
from netsec_layers.session.ipsec_scapy import (
    build_ah_packet,
    decrypt_packet,
    dissect_ip,
    encrypt_packet,
    verify_ah_packet,
)

# (scapy crypt, scapy auth, ours encryption, ours integrity, enc key length, auth key length)
ALGOS = [
    ("NULL", "HMAC-SHA1-96", "NULL", "HMAC-SHA1-96", 0, 20),
    ("AES-CBC", "SHA2-256-128", "AES-CBC", "HMAC-SHA2-256-128", 16, 32),
    ("AES-CBC", "SHA2-512-256", "AES-CBC", "HMAC-SHA2-512-256", 32, 64),
    ("AES-CTR", "SHA2-384-192", "AES-CTR", "HMAC-SHA2-384-192", 20, 48),
    ("AES-GCM", "NULL", "AES-GCM-16", "NONE", 20, 0),
    ("AES-GCM", "NULL", "AES-GCM-16", "NONE", 36, 0),
    ("AES-CCM", "NULL", "AES-CCM-16", "NONE", 19, 0),
    ("CHACHA20-POLY1305", "NULL", "CHACHA20-POLY1305", "NONE", 36, 0),
    ("AES-NULL-GMAC", "NULL", "AES-GMAC", "NONE", 20, 0),
    ("3DES", "HMAC-MD5-96", "3DES-CBC", "HMAC-MD5-96", 24, 16),
    ("AES-CBC", "AES-CMAC-96", "AES-CBC", "AES-CMAC-96", 16, 16),
]
SHAPES = [
    ("tunnel", 4, False),
    ("tunnel", 4, True),
    ("transport", 4, False),
    ("transport", 4, True),
    ("tunnel", 6, False),
    ("transport", 6, False),
    ("tunnel", 6, True),
]


def _key(n: int, seed: int) -> bytes:
    return bytes((seed + 7 * i) & 0xFF for i in range(n))


def _inner(version: int):
    if version == 4:
        return IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1111, dport=2222) / b"inner payload 4"
    return (
        IPv6(src="2001:db8:1::1", dst="2001:db8:2::2") / UDP(sport=1, dport=2) / b"inner payload 6"
    )


def _pair(algo, shape, spi=0x51A):
    crypt, auth, enc, integ, klen, alen = algo
    mode, version, natt = shape
    ek, ak = _key(klen, 1), _key(alen, 99)
    outer_src, outer_dst = (
        ("192.0.2.1", "192.0.2.2") if version == 4 else ("2001:db8::a", "2001:db8::b")
    )
    tunnel = None
    if mode == "tunnel":
        tunnel = (
            IP(src=outer_src, dst=outer_dst) if version == 4 else IPv6(src=outer_src, dst=outer_dst)
        )
    theirs = scapy_ipsec.SecurityAssociation(
        scapy_ipsec.ESP,
        spi=spi,
        crypt_algo=crypt,
        crypt_key=ek,
        auth_algo=auth,
        auth_key=ak,
        tunnel_header=tunnel,
        nat_t_header=UDP(sport=4500, dport=4500) if natt else None,
    )
    ours = SecurityAssociation(
        spi=spi,
        encryption=enc,
        enc_key=ek,
        integrity=integ,
        auth_key=ak,
        mode=mode,
        src=outer_src if mode == "tunnel" else "*",
        dst=outer_dst if mode == "tunnel" else "*",
        udp_encap=(4500, 4500) if natt else None,
    )
    return theirs, ours


def _ids(x):
    return "-".join(str(v) for v in x) if isinstance(x, tuple) else str(x)


@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
@pytest.mark.parametrize("algo", ALGOS, ids=lambda a: f"{a[0]}/{a[1]}/{a[4]}")
def test_scapy_encrypts_we_decrypt(algo, shape):
    theirs, ours = _pair(algo, shape)
    mode, version, natt = shape
    inner = _inner(version)
    if mode == "transport":
        inner = (
            inner.__class__(
                src="192.0.2.1" if version == 4 else "2001:db8::a",
                dst="192.0.2.2" if version == 4 else "2001:db8::b",
            )
            / inner[UDP]
        )
    wire = bytes(theirs.encrypt(inner, seq_num=77))
    pkt = (IP if version == 4 else IPv6)(wire)
    before = bytes(pkt)
    out = decrypt_packet(pkt, SADatabase([ours]))
    assert bytes(pkt) == before  # input untouched
    plain = out[ESPPlaintext]
    assert (plain.spi, plain.seq) == (0x51A, 77)
    assert plain.pad_ok
    if mode == "tunnel":
        assert plain.next_header == (4 if version == 4 else 41)
        assert bytes(plain.payload) == bytes(inner)
    else:
        assert plain.next_header == 17
        assert bytes(plain[UDP]) == bytes(inner[UDP])
    if natt:
        assert out[UDP].dport == 4500
    # headers before ESP are the ones from the wire
    assert (
        bytes(out)[: len(wire) - len(bytes(pkt[UDP].payload if natt else pkt.payload))]
        == wire[: len(wire) - len(bytes(pkt[UDP].payload if natt else pkt.payload))]
    )


@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
@pytest.mark.parametrize("algo", ALGOS, ids=lambda a: f"{a[0]}/{a[1]}/{a[4]}")
def test_we_encrypt_scapy_decrypts(algo, shape):
    theirs, ours = _pair(algo, shape)
    mode, version, natt = shape
    inner = _inner(version)
    if mode == "transport":
        inner = (IP if version == 4 else IPv6)(
            bytes(
                inner.__class__(
                    src="192.0.2.1" if version == 4 else "2001:db8::a",
                    dst="192.0.2.2" if version == 4 else "2001:db8::b",
                )
                / inner[UDP]
            )
        )
    before = bytes(inner)
    pkt = encrypt_packet(inner, ours, SADatabase([ours]), seq=5)
    assert bytes(inner) == before
    wire = bytes(pkt)
    dissected = (IP if version == 4 else IPv6)(wire)
    if natt:
        assert dissected[UDP].sport == dissected[UDP].dport == 4500
        if version == 4:
            assert dissected[UDP].chksum == 0  # RFC 3948 §2.1
    back = theirs.decrypt(dissected)
    if mode == "tunnel":
        assert bytes(back) == before
    else:
        assert bytes(back[UDP]) == bytes(inner[UDP])
        assert back.src == inner.src


def test_ethernet_frame_with_trailer_and_new_packet():
    theirs, ours = _pair(ALGOS[4], ("tunnel", 4, True))
    wire = bytes(theirs.encrypt(_inner(4), seq_num=1))
    frame = Ether(
        bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(wire)) + b"\x00" * 6
    )
    out = decrypt_packet(frame, SADatabase([ours]))
    assert isinstance(out, Ether) and out is not frame
    assert bytes(out[ESPPlaintext].payload[UDP].payload).startswith(b"inner payload 4")
    assert bytes(out).endswith(b"\x00" * 6)


def test_decrypts_scapy_esp_layer_and_raw_payload_when_unbound():
    from netsec_layers.layers.ipsec import unbind_ipsec

    unbind_ipsec()
    theirs, ours = _pair(ALGOS[1], ("tunnel", 4, True))
    pkt = IP(bytes(theirs.encrypt(_inner(4), seq_num=3)))
    assert type(pkt[UDP].payload) is scapy_ipsec.ESP
    assert decrypt_packet(pkt, SADatabase([ours]))[ESPPlaintext].seq == 3
    raw_pkt = IP(
        bytes(
            IP(src="192.0.2.1", dst="192.0.2.2")
            / UDP(sport=4500, dport=4501)
            / bytes(pkt[UDP].payload)
        )
    )
    raw_pkt[UDP].remove_payload()
    raw_pkt[UDP].add_payload(bytes(pkt[UDP].payload))
    assert decrypt_packet(raw_pkt, SADatabase([ours]))[ESPPlaintext].seq == 3


def test_errors_are_ours():
    theirs, ours = _pair(ALGOS[1], ("tunnel", 4, False))
    pkt = IP(bytes(theirs.encrypt(_inner(4), seq_num=10)))
    db = SADatabase([ours])
    decrypt_packet(pkt, db)
    with pytest.raises(ReplayError):
        decrypt_packet(pkt, db)
    assert decrypt_packet(pkt, db, check_replay=False)[ESPPlaintext].seq == 10
    wrong = SecurityAssociation(
        spi=0x51A,
        encryption="AES-CBC",
        enc_key=b"\x00" * 16,
        integrity="HMAC-SHA2-256-128",
        auth_key=b"\x01" * 32,
    )
    with pytest.raises(IntegrityError):
        decrypt_packet(pkt, SADatabase([wrong]))
    with pytest.raises(UnknownSPIError):
        decrypt_packet(pkt, SADatabase())
    with pytest.raises(ParseError):
        decrypt_packet(IP() / TCP(), db)
    with pytest.raises(UsageError):
        encrypt_packet(TCP(), ours, db)
    wildcard = SecurityAssociation(spi=1, encryption="AES-GCM-16", enc_key=b"k" * 20)
    with pytest.raises(UsageError):
        encrypt_packet(_inner(4), wildcard, SADatabase([wildcard]))


def test_encrypt_faults_detected_by_scapy():
    theirs, ours = _pair(ALGOS[1], ("tunnel", 4, False))
    db = SADatabase([ours])
    bad = encrypt_packet(_inner(4), ours, db, fault="bad-icv")
    with pytest.raises(scapy_ipsec.IPSecIntegrityError):
        theirs.decrypt(IP(bytes(bad)))
    tfc = encrypt_packet(_inner(4), ours, db, tfc_pad=24)
    plain = decrypt_packet(IP(bytes(tfc)), SADatabase([ours]))[ESPPlaintext]
    assert plain.tfc_padding == b"\x00" * 24 and bytes(plain.payload) == bytes(_inner(4))


# -- AH --------------------------------------------------------------------------------------
AH_ALGOS = [
    ("HMAC-SHA1-96", "HMAC-SHA1-96", 20),
    ("SHA2-256-128", "HMAC-SHA2-256-128", 32),
    ("HMAC-MD5-96", "HMAC-MD5-96", 16),
    ("SHA2-512-256", "HMAC-SHA2-512-256", 64),
]


@pytest.mark.parametrize("version", [4, 6])
@pytest.mark.parametrize("mode", ["transport", "tunnel"])
@pytest.mark.parametrize("algo", AH_ALGOS, ids=lambda a: a[0])
def test_ah_against_scapy(algo, mode, version):
    s_auth, ours_name, klen = algo
    key = _key(klen, 3)
    src, dst = ("192.0.2.1", "192.0.2.2") if version == 4 else ("2001:db8::a", "2001:db8::b")
    ip_cls = IP if version == 4 else IPv6
    tunnel = ip_cls(src=src, dst=dst) if mode == "tunnel" else None
    theirs = scapy_ipsec.SecurityAssociation(
        scapy_ipsec.AH, spi=0x77, auth_algo=s_auth, auth_key=key, tunnel_header=tunnel
    )
    ours = SecurityAssociation(
        spi=0x77,
        protocol="ah",
        integrity=ours_name,
        auth_key=key,
        mode=mode,
        src=src if mode == "tunnel" else "*",
        dst=dst if mode == "tunnel" else "*",
    )
    if mode == "tunnel":
        inner = _inner(version)
    else:
        inner = (
            ip_cls(bytes(ip_cls(src=src, dst=dst) / ICMP() / b"ah payload"))
            if version == 4
            else ip_cls(bytes(ip_cls(src=src, dst=dst) / UDP(sport=7, dport=8) / b"ah payload"))
        )
    # Scapy builds, we verify
    wire = bytes(theirs.encrypt(inner, seq_num=12))
    verdict = verify_ah_packet(ip_cls(wire), SADatabase([ours]))
    assert (verdict.spi, verdict.seq) == (0x77, 12)
    # We build, Scapy verifies (its decrypt raises IPSecIntegrityError on a bad ICV)
    built = build_ah_packet(inner, ours, SADatabase([ours]), seq=13)
    assert isinstance(built[AH], AH) and built[AH].seq == 13
    back = theirs.decrypt(ip_cls(bytes(built)))
    if mode == "tunnel":
        assert bytes(back) == bytes(inner)
    # A flipped ICV byte fails our verification
    tampered = bytearray(wire)
    ah_off = len(wire) - len(bytes(ip_cls(wire)[scapy_ipsec.AH]))
    tampered[ah_off + 12] ^= 0x80
    with pytest.raises(IntegrityError):
        verify_ah_packet(ip_cls(bytes(tampered)), SADatabase([ours]))


def test_dissect_ip_uses_our_layers_even_unbound():
    from netsec_layers.layers.ipsec import unbind_ipsec

    unbind_ipsec()
    wire = bytes(IP() / UDP(sport=4500, dport=4500) / scapy_ipsec.ESP(spi=4, seq=5, data=b"e" * 16))
    pkt = dissect_ip(wire)
    assert isinstance(pkt[UDP].payload, ESP) and bytes(pkt) == wire
    ah = bytes(IP() / scapy_ipsec.AH(spi=4, seq=5, icv=b"\x00" * 12, nh=6) / TCP())
    assert isinstance(dissect_ip(ah).payload, AH)


# -- garbage in: only our errors out -----------------------------------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from netsec_layers.errors import NetsecError  # noqa: E402

_GARBAGE_SAS = [
    SecurityAssociation(spi=0x100, encryption="AES-GCM-16", enc_key=b"g" * 20),
    SecurityAssociation(
        spi=0x200,
        encryption="AES-CBC",
        enc_key=b"c" * 16,
        integrity="HMAC-SHA2-256-128",
        auth_key=b"h" * 32,
    ),
    SecurityAssociation(
        spi=0x300, encryption="NULL", integrity="HMAC-SHA1-96", auth_key=b"n" * 20, replay_window=0
    ),
    SecurityAssociation(
        spi=0x400, protocol="ah", integrity="HMAC-SHA1-96", auth_key=b"a" * 20, mode="transport"
    ),
]


_GARBAGE_DB = SADatabase(_GARBAGE_SAS)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([0x100, 0x200, 0x300, 0x400, 0x999]),
    st.binary(max_size=120),
    st.sampled_from(["ip", "udp", "v6", "ah", "any"]),
)
def test_garbage_only_raises_our_errors(spi, body, shape):
    import struct

    esp = struct.pack("!II", spi, 1) + body
    if shape == "ip":
        wire = bytes(IP(src="192.0.2.1", dst="192.0.2.2", proto=50) / esp)
    elif shape == "udp":
        wire = bytes(IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=4500, dport=4500) / esp)
    elif shape == "v6":
        wire = bytes(IPv6(nh=50) / esp)
    elif shape == "ah":
        wire = bytes(IP(src="192.0.2.1", dst="192.0.2.2", proto=51) / (bytes([6, 4, 0, 0]) + esp))
    else:
        wire = body
    try:
        pkt = dissect_ip(wire)
    except ParseError:
        assert shape == "any"
        return
    pkt.summary()
    assert bytes(pkt)[: len(wire)] == wire  # Scapy may complete a truncated header
    db = _GARBAGE_DB
    try:
        decrypt_packet(pkt, db).summary()
    except NetsecError:
        pass
    try:
        verify_ah_packet(pkt, db)
    except NetsecError:
        pass


def test_esn_both_ways_with_scapy():
    # RFC 4303 §2.2.1/App. A: high 32 bits enter the ICV (and AEAD AAD) but not the wire
    key, akey = _key(16, 5), _key(32, 6)
    theirs = scapy_ipsec.SecurityAssociation(
        scapy_ipsec.ESP,
        spi=0xE5,
        crypt_algo="AES-CBC",
        crypt_key=key,
        auth_algo="SHA2-256-128",
        auth_key=akey,
        tunnel_header=IP(src="192.0.2.1", dst="192.0.2.2"),
        esn_en=True,
        esn=3,
    )
    ours = SecurityAssociation(
        spi=0xE5,
        encryption="AES-CBC",
        enc_key=key,
        integrity="HMAC-SHA2-256-128",
        auth_key=akey,
        src="192.0.2.1",
        dst="192.0.2.2",
        esn=True,
        esn_high=3,
    )
    wire = bytes(theirs.encrypt(_inner(4), seq_num=42))
    out = decrypt_packet(IP(wire), SADatabase([ours]), esn_high=3)
    assert out[ESPPlaintext].seq == 42 and bytes(out[ESPPlaintext].payload) == bytes(_inner(4))
    with pytest.raises(IntegrityError):
        decrypt_packet(IP(wire), SADatabase([ours]), esn_high=2)
    sent = encrypt_packet(_inner(4), ours, SADatabase([ours]), seq=43)
    assert bytes(theirs.decrypt(IP(bytes(sent)))) == bytes(_inner(4))
