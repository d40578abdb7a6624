"""SADatabase behaviour: replay window, ESN inference, tamper detection, truncation, TFC padding,
faults, lookup wildcards, and garbage input (only our errors escape)."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netsec_layers.errors import (
    IntegrityError,
    NetsecError,
    ParseError,
    ReplayError,
    TruncatedError,
    UnknownSPIError,
    UsageError,
)
from netsec_layers.keys.sa import SecurityAssociation
from netsec_layers.session.ipsec import SADatabase, infer_esn
from netsec_layers.session.ipsec_replay import ReplayWindow

SUITES = [
    ("AES-GCM-16", 20, "NONE", 0),
    ("AES-GCM-8", 36, "NONE", 0),
    ("AES-CCM-12", 27, "NONE", 0),
    ("CHACHA20-POLY1305", 36, "NONE", 0),
    ("CHACHA20-POLY1305-IIV", 36, "NONE", 0),
    ("AES-GCM-16-IIV", 20, "NONE", 0),
    ("AES-GMAC", 20, "NONE", 0),
    ("AES-CBC", 16, "HMAC-SHA2-256-128", 32),
    ("AES-CTR", 28, "AES-XCBC-MAC-96", 16),
    ("3DES-CBC", 24, "HMAC-SHA2-512-256", 64),
    ("NULL", 0, "AES-CMAC-96", 16),
    ("AES-CBC", 32, "HMAC-SHA-256-96", 32),
]


def make_sa(enc: str, klen: int, integ: str, alen: int, **kw: object) -> SecurityAssociation:
    return SecurityAssociation(
        spi=0x4242,
        encryption=enc,
        enc_key=bytes(range(klen)),
        integrity=integ,
        auth_key=bytes(range(100, 100 + alen)),
        **kw,  # type: ignore[arg-type]
    )


def ipv4(payload: bytes) -> bytes:
    return (
        struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(payload),
            1,
            0,
            64,
            17,
            0,
            b"\x0a\0\0\1",
            b"\x0a\0\0\2",
        )
        + payload
    )


@pytest.mark.parametrize("suite", SUITES, ids=[f"{s[0]}+{s[2]}" for s in SUITES])
def test_every_single_bit_flip_detected(suite: tuple) -> None:
    """Exhaustive: flipping any one bit of a protected packet raises one of our errors."""
    sa = make_sa(*suite, esn=True, esn_high=3)
    tx = SADatabase()
    packets = [tx.encrypt(ipv4(os.urandom(n)), sa=sa, next_header=4) for n in (0, 13)]
    for pkt in packets:
        for i in range(len(pkt)):
            for bit in range(8):
                bad = bytearray(pkt)
                bad[i] ^= 1 << bit
                with pytest.raises(NetsecError) as exc:
                    SADatabase([sa]).decrypt(bytes(bad))
                assert isinstance(exc.value, (IntegrityError, UnknownSPIError, TruncatedError))
        assert SADatabase([sa]).decrypt(pkt).payload[:1] == b"\x45"


@pytest.mark.parametrize("suite", SUITES, ids=[f"{s[0]}+{s[2]}" for s in SUITES])
def test_truncated_packets(suite: tuple) -> None:
    sa = make_sa(*suite)
    pkt = SADatabase().encrypt(b"hello", sa=sa, next_header=17)
    for n in range(len(pkt)):
        with pytest.raises((TruncatedError, IntegrityError)) as exc:
            SADatabase([sa]).decrypt(pkt[:n])
        if n < 8 + sa.enc_spec.iv_len + sa.icv_len:
            assert isinstance(exc.value, TruncatedError)


def test_replay_window_verdicts() -> None:
    sa = make_sa("AES-GCM-16", 20, "NONE", 0, replay_window=32)
    tx, rx = SADatabase(), SADatabase([sa])
    pkts = {s: tx.encrypt(b"x", sa=sa, next_header=59, seq=s) for s in (1, 2, 3, 40, 8, 9, 100)}
    assert rx.decrypt(pkts[1]).replay == "new"
    assert rx.decrypt(pkts[3]).replay == "new"
    assert rx.decrypt(pkts[2]).replay == "new"  # out of order but inside the window
    with pytest.raises(ReplayError) as exc:
        rx.decrypt(pkts[2])
    assert exc.value.verdict == "replayed" and exc.value.seq == 2
    assert rx.decrypt(pkts[40]).replay == "new"
    assert rx.decrypt(pkts[9]).replay == "new"  # 40 - 9 = 31 < 32
    with pytest.raises(ReplayError) as exc:
        rx.decrypt(pkts[8])  # 40 - 8 = 32: left of the window
    assert exc.value.verdict == "outside-window"
    assert rx.decrypt(pkts[8], check_replay=False).replay == "outside-window"
    assert rx.decrypt(pkts[2], check_replay=False).replay == "outside-window"
    assert rx.decrypt(pkts[100]).replay == "new"


def test_window_updated_only_after_icv() -> None:
    sa = make_sa("AES-CBC", 16, "HMAC-SHA1-96", 20)
    tx, rx = SADatabase(), SADatabase([sa])
    good = tx.encrypt(b"data", sa=sa, next_header=17, seq=5)
    forged = tx.encrypt(b"data", sa=sa, next_header=17, seq=6, fault="bad-icv")
    with pytest.raises(IntegrityError):
        rx.decrypt(forged)
    assert rx.state(sa, sa.spi).window.seen is False
    assert rx.decrypt(good).replay == "new"
    real6 = tx.encrypt(b"data", sa=sa, next_header=17, seq=6)
    assert rx.decrypt(real6).replay == "new"  # the forged 6 did not poison the window


def test_no_integrity_means_unchecked() -> None:
    sa = make_sa("AES-CBC", 16, "NONE", 0)
    pkt = SADatabase().encrypt(b"data", sa=sa, next_header=17)
    rx = SADatabase([sa])
    assert rx.decrypt(pkt).replay == "unchecked"
    assert rx.decrypt(pkt).replay == "unchecked"


def test_infer_esn_rfc4303_appendix_a() -> None:
    w = 64
    # Case A (window within one block): Tl >= W - 1
    assert infer_esn((5 << 32) | 1000, w, 990) == (5 << 32) | 990
    assert infer_esn((5 << 32) | 1000, w, 5) == (6 << 32) | 5  # below the window: wrapped
    assert infer_esn((5 << 32) | 1000, w, 2000) == (5 << 32) | 2000
    # Case B (window spans the boundary): Tl < W - 1
    assert infer_esn((6 << 32) | 10, w, 0xFFFFFFF0) == (5 << 32) | 0xFFFFFFF0
    assert infer_esn((6 << 32) | 10, w, 20) == (6 << 32) | 20


@pytest.mark.parametrize("suite", SUITES[:1] + SUITES[7:8], ids=["gcm", "cbc-sha256"])
def test_esn_stream_across_2_32(suite: tuple) -> None:
    """A captured stream crossing 2^32: the receiver infers the high half (Appendix A3)."""
    sa = make_sa(*suite, esn=True, esn_high=0x10, replay_window=64)
    start = (0x10 << 32) | 0xFFFFFFF0
    tx, rx = SADatabase(), SADatabase([sa])
    seqs = list(range(start, start + 40))
    seqs[20], seqs[22] = seqs[22], seqs[20]  # reordering across the boundary
    pkts = [(s, tx.encrypt(b"p", sa=sa, next_header=59, seq=s)) for s in seqs]
    for s, p in pkts:
        opened = rx.decrypt(p)
        assert opened.seq == s
        assert opened.wire_seq == s & 0xFFFFFFFF
    # Packets lost for a whole 2^32 cycle plus a bit: resynchronised by trying Seqh + 1.
    far = tx.encrypt(b"p", sa=sa, next_header=59, seq=(0x11 << 32) | 0xFFFFFFFF)
    assert rx.decrypt(far).seq == (0x11 << 32) | 0xFFFFFFFF


def test_esn_high_given() -> None:
    sa = make_sa("AES-GCM-16", 20, "NONE", 0, esn=True)
    pkt = SADatabase().encrypt(b"p", sa=sa, next_header=59, seq=(9 << 32) | 4)
    with pytest.raises(IntegrityError):
        SADatabase([sa]).decrypt(pkt, esn_high=8)
    assert SADatabase([sa]).decrypt(pkt, esn_high=9).seq == (9 << 32) | 4


def test_tfc_padding_tunnel_mode() -> None:
    sa = make_sa("AES-GCM-16", 20, "NONE", 0)
    inner = ipv4(b"abc")
    pkt = SADatabase().encrypt(inner, sa=sa, next_header=4, tfc_pad=37)
    opened = SADatabase([sa]).decrypt(pkt)
    assert opened.payload == inner
    assert opened.tfc_padding == bytes(37)
    assert opened.pad_ok
    with pytest.raises(UsageError):
        SADatabase().encrypt(b"udp", sa=sa, next_header=17, tfc_pad=4)


def test_dummy_packet_and_faults() -> None:
    sa = make_sa("AES-CBC", 16, "HMAC-SHA2-256-128", 32)
    tx = SADatabase()
    dummy = SADatabase([sa]).decrypt(tx.encrypt(os.urandom(30), sa=sa, next_header=59))
    assert dummy.next_header == 59
    bad_pad = SADatabase([sa]).decrypt(tx.encrypt(b"abc", sa=sa, next_header=17, fault="bad-pad"))
    assert bad_pad.pad_ok is False and bad_pad.pad_length > 0
    with pytest.raises(ParseError):
        SADatabase([sa]).decrypt(tx.encrypt(b"abc", sa=sa, next_header=17, fault="bad-pad-length"))
    a = tx.encrypt(b"1", sa=sa, next_header=17)
    b = tx.encrypt(b"2", sa=sa, next_header=17, fault="reuse-seq")
    assert a[4:8] == b[4:8]
    c = tx.encrypt(b"3", sa=sa, next_header=17)
    assert int.from_bytes(c[4:8], "big") == int.from_bytes(a[4:8], "big") + 1
    with pytest.raises(UsageError):
        tx.encrypt(b"x", sa=sa, next_header=17, fault="nonsense")


def test_ivs_unique() -> None:
    for enc, klen in (("AES-GCM-16", 20), ("AES-CTR", 20), ("AES-CBC", 16), ("AES-CCM-8", 19)):
        integ, alen = (
            ("NONE", 0) if enc.startswith(("AES-GCM", "AES-CCM")) else ("HMAC-SHA1-96", 20)
        )
        sa = make_sa(enc, klen, integ, alen)
        tx = SADatabase()
        ivs = {tx.encrypt(b"x", sa=sa, next_header=17)[8:16] for _ in range(200)}
        assert len(ivs) == 200


def test_lookup_wildcards() -> None:
    def sa(spi: int, src: str, dst: str, tag: int) -> SecurityAssociation:
        return SecurityAssociation(
            spi=spi,
            encryption="NULL",
            integrity="HMAC-SHA1-96",
            auth_key=bytes([tag]) * 20,
            src=src,
            dst=dst,
        )

    db = SADatabase(
        [
            sa(1, "*", "*", 1),
            sa(1, "10.0.*.*", "*", 2),
            sa(1, "10.0.0.5", "192.168.1.0/24", 3),
            sa(1, "2001:db8::/32", "*", 4),
            sa(-1, "*", "172.16.0.1", 5),
            sa(2, "*", "2001:db8:0:0:*:*:*:1", 6),
        ]
    )
    assert db.lookup(1, src="10.0.0.5", dst="192.168.1.77").auth_key[0] == 3
    assert db.lookup(1, src="10.0.3.5", dst="1.1.1.1").auth_key[0] == 2
    assert db.lookup(1, src="10.1.3.5", dst="1.1.1.1").auth_key[0] == 1
    assert db.lookup(1, src="2001:db8::9", dst="::1").auth_key[0] == 4
    assert db.lookup(99, src="1.2.3.4", dst="172.16.0.1").auth_key[0] == 5
    assert db.lookup(2, src="::1", dst="2001:db8::abcd:1").auth_key[0] == 6
    with pytest.raises(UnknownSPIError):
        db.lookup(99, src="1.2.3.4", dst="172.16.0.2")
    with pytest.raises(UnknownSPIError):
        db.lookup(2, dst="2001:db9::1")


def test_window_bitmap_directly() -> None:
    w = ReplayWindow(4)
    for s in (10, 8):
        assert w.check(s) == "new"
        w.update(s)
    assert w.check(8) == "replayed" and w.check(9) == "new" and w.check(6) == "outside-window"
    w.update(100)
    assert w.check(10) == "outside-window" and w.check(99) == "new"


def test_bad_keys_and_names() -> None:
    with pytest.raises(UsageError):
        SecurityAssociation(spi=1, encryption="AES-GCM-16", enc_key=bytes(16))
    with pytest.raises(UsageError):
        SecurityAssociation(
            spi=1, encryption="AES-CBC", enc_key=bytes(16), integrity="HMAC-SHA1-96"
        )
    with pytest.raises(NetsecError) as exc:
        SecurityAssociation(spi=1, encryption="BLOWFISH-CBC", enc_key=bytes(16))
    assert "AES-GCM-16" in str(exc.value)


GARBAGE_SAS = [make_sa(*s) for s in SUITES[:4] + SUITES[7:9]] + [
    make_sa("AES-GCM-16", 20, "NONE", 0, esn=True)
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=120), which=st.integers(0, len(GARBAGE_SAS) - 1))
def test_garbage_only_our_errors(data: bytes, which: int) -> None:
    sa = GARBAGE_SAS[which]
    db = SADatabase([sa])
    for blob in (data, struct.pack("!I", sa.spi) + data):
        try:
            db.decrypt(blob, src="10.0.0.1", dst="10.0.0.2")
        except NetsecError:
            pass


@settings(max_examples=60, deadline=None)
@given(
    payload=st.binary(max_size=300), nh=st.integers(0, 255), which=st.integers(0, len(SUITES) - 1)
)
def test_roundtrip_property(payload: bytes, nh: int, which: int) -> None:
    sa = make_sa(*SUITES[which])
    opened = SADatabase([sa]).decrypt(SADatabase().encrypt(payload, sa=sa, next_header=nh))
    assert opened.payload + opened.tfc_padding == payload
    assert opened.next_header == nh and opened.pad_ok


@pytest.mark.parametrize(
    ("iiv", "explicit", "klen"),
    [
        ("AES-GCM-16-IIV", "AES-GCM-16", 20),
        ("CHACHA20-POLY1305-IIV", "CHACHA20-POLY1305", 36),
        ("AES-CCM-8-IIV", "AES-CCM-8", 19),
    ],
)
@pytest.mark.parametrize("esn", [False, True])
def test_implicit_iv_is_the_sequence_number(iiv: str, explicit: str, klen: int, esn: bool) -> None:
    """RFC 8750 §3: the nonce uses the 64-bit (E)SN as IV and the IV field is not sent; so an
    IIV packet equals the RFC 4106/4309/7634 packet (checked against their vectors above) with
    IV = the sequence number, minus those 8 bytes."""
    key = os.urandom(klen)
    seq = (0x1234 << 32 | 77) if esn else 77
    a = SecurityAssociation(spi=9, encryption=iiv, enc_key=key, esn=esn)
    b = SecurityAssociation(spi=9, encryption=explicit, enc_key=key, esn=esn)
    iiv_pkt = SADatabase().encrypt(b"payload", sa=a, next_header=17, seq=seq)
    iv = (seq if esn else seq & 0xFFFFFFFF).to_bytes(8, "big")
    exp_pkt = SADatabase().encrypt(b"payload", sa=b, next_header=17, seq=seq, iv=iv)
    assert exp_pkt[8:16] == iv
    assert iiv_pkt == exp_pkt[:8] + exp_pkt[16:]
    opened = SADatabase([a]).decrypt(iiv_pkt, esn_high=seq >> 32 if esn else None)
    assert opened.payload == b"payload" and opened.iv == b""


@pytest.mark.parametrize("suite", [s for s in SUITES if not s[0].endswith("CBC")], ids=str)
@pytest.mark.parametrize("esn", [False, True])
def test_fast_seal_is_the_ordinary_encrypt(suite: tuple, esn: bool) -> None:
    """``encrypt`` remembers a shortcut for the common case (explicit seq, no options) after
    the first packet; it must give the bytes of the ordinary path (``pad_length=0`` always
    takes it) and leave the same state.  CBC is left out: its IVs are random either way."""
    sa = make_sa(*suite, esn=esn, esn_high=3 if esn else 0)
    fast_db, slow_db = SADatabase([sa]), SADatabase([sa])
    slow_db.state(sa).iv_counter = fast_db.state(sa).iv_counter
    for i, n in enumerate((0, 1, 15, 16, 17, 255, 1400)):
        # random bytes as a UDP datagram (next header 17) whose length field is right: the
        # receiver splits TFC padding off at the length the inner UDP/IP header declares
        # (RFC 4303 §2.7), so a random length field would cut the payload short
        payload = os.urandom(n)
        if n >= 8:
            payload = payload[:4] + n.to_bytes(2, "big") + payload[6:]
        seq = [1, 2, 3, 0xFFFFFFFF, 7, 0x1_0000_0005, 9][i] if esn else i + 1
        fast = fast_db.encrypt(payload, sa=sa, next_header=17, seq=seq)
        slow = slow_db.encrypt(payload, sa=sa, next_header=17, seq=seq, pad_length=0)
        assert fast == slow
        fs, ss = fast_db.state(sa), slow_db.state(sa)
        assert (fs.out_seq, fs.last_out, fs.iv_counter) == (ss.out_seq, ss.last_out, ss.iv_counter)
        high = (3 if seq <= 0xFFFFFFFF else seq >> 32) if esn else None
        opened = fast_db.decrypt(fast, src=sa.src, dst=sa.dst, check_replay=False, esn_high=high)
        assert opened.payload == payload
    assert fast_db._fast_seal, "the shortcut was never taken"
    with pytest.raises(UsageError):
        fast_db.encrypt(b"x", sa=sa, next_header=4, seq=(1 << 64) if esn else (1 << 32))
