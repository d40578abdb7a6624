"""DTLS layers: every datagram of the real OpenSSL/GnuTLS samples dissects to the fields tshark
4.0 reports (recorded in tests/vectors/dtls/tshark_records.json) and rebuilds byte for byte;
crafted records, handshake fragments, CID records, unified headers and ACKs round-trip;
garbage never raises and always rebuilds to itself."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import UDP
from scapy.utils import rdpcap

from netsec_layers.layers.dtls import (
    DTLSAck,
    DTLSCIDRecord,
    DTLSCiphertext,
    DTLSClientHello,
    DTLSHandshake,
    DTLSHandshakeFragmentBody,
    DTLSHelloVerifyRequest,
    DTLSRecord,
    DTLSRecordNumber,
    dissect_dtls,
    iter_dtls_records,
    looks_like_dtls,
)
from netsec_layers.layers.tls import TLSAlert, TLSEncryptedRecord, TLSUndecoded
from netsec_layers.layers.tls._base import has_undecoded

REPO = Path(__file__).resolve().parents[3]
VECTORS = json.loads((REPO / "tests" / "vectors" / "dtls" / "tshark_records.json").read_text())
SAMPLES = sorted(VECTORS)


def _datagrams(name: str) -> list[tuple[int, bytes]]:
    return [
        (i + 1, bytes(p[UDP].payload))
        for i, p in enumerate(rdpcap(str(REPO / "pcaps" / "dtls" / f"{name}.pcap")))
        if UDP in p
    ]


def _ours(pkt: Any) -> dict[str, list[Any]]:
    """Our fields, named and ordered like tshark's (plaintext handshake fragments only)."""
    out: dict[str, list[Any]] = {k: [] for k in (
        "dtls.record.content_type", "dtls.record.version", "dtls.record.epoch",
        "dtls.record.sequence_number", "dtls.record.length", "dtls.handshake.type",
        "dtls.handshake.length", "dtls.handshake.message_seq",
        "dtls.handshake.fragment_offset", "dtls.handshake.fragment_length",
        "dtls.handshake.cookie")}  # fmt: skip
    for rec in iter_dtls_records(pkt):
        out["dtls.record.content_type"].append(rec.content_type)
        out["dtls.record.version"].append(rec.version)
        out["dtls.record.epoch"].append(rec.epoch)
        out["dtls.record.sequence_number"].append(rec.seq)
        out["dtls.record.length"].append(rec.length)
        for m in rec.messages:
            if isinstance(m, DTLSHandshake):
                out["dtls.handshake.type"].append(m.msg_type)
                out["dtls.handshake.length"].append(m.length)
                out["dtls.handshake.message_seq"].append(m.message_seq)
                out["dtls.handshake.fragment_offset"].append(m.fragment_offset)
                out["dtls.handshake.fragment_length"].append(m.fragment_length)
                body = m.payload
                if isinstance(body, DTLSClientHello | DTLSHelloVerifyRequest) and body.cookie:
                    out["dtls.handshake.cookie"].append(body.cookie.hex())
    return out


@pytest.mark.parametrize("name", SAMPLES)
def test_real_datagrams_match_tshark_and_rebuild(name: str) -> None:
    expected = VECTORS[name]["plain"]
    grams = _datagrams(name)
    assert len(grams) == len(expected)
    records = 0
    for frame, data in grams:
        pkt = dissect_dtls(data)
        assert bytes(pkt) == data
        assert not has_undecoded(pkt), pkt.summary()
        ours = _ours(pkt)
        want = expected[str(frame)]
        for key, values in ours.items():
            assert values == want[key], (name, frame, key)
        records += len(ours["dtls.record.content_type"])
    assert records >= (4 if "failure" in name else 13)


def test_hello_verify_request_and_fragments() -> None:
    grams = dict(_datagrams("ossl-dtls12-hvr-mtu"))
    hvr = dissect_dtls(grams[2]).messages[0]
    assert isinstance(hvr.payload, DTLSHelloVerifyRequest)
    ch2 = dissect_dtls(grams[3]).messages[0].payload
    assert isinstance(ch2, DTLSClientHello) and ch2.cookie == hvr.payload.cookie
    frag = dissect_dtls(grams[5]).messages[0]
    assert isinstance(frag.payload, DTLSHandshakeFragmentBody) and frag.fragment_offset == 261
    fin = dissect_dtls(grams[8])
    assert isinstance(iter_dtls_records(fin)[2].messages[0], TLSEncryptedRecord)


def test_craft_client_hello_flight() -> None:
    rec = (
        DTLSRecord(version=0xFEFF)
        / DTLSHandshake(message_seq=1)
        / DTLSClientHello(cookie=b"\x01" * 20, cipher_suites=[0xC02F])
    )
    raw = bytes(rec)
    assert raw[0] == 22 and raw[1:3] == b"\xfe\xff"
    assert struct.unpack("!H", raw[11:13])[0] == len(raw) - 13
    assert raw[13] == 1 and raw[14:17] == raw[22:25]  # length == fragment_length
    back = dissect_dtls(raw)
    hs = back.messages[0]
    assert hs.message_seq == 1 and hs.payload.cookie == b"\x01" * 20
    assert hs.payload.cipher_suites == [0xC02F]
    assert bytes(back) == raw


def test_several_records_and_alert() -> None:
    a = DTLSRecord(epoch=0, seq=5, messages=[TLSAlert(level=2, description=40)])
    b = DTLSRecord(content_type=23, epoch=1, seq=(1 << 48) - 1, messages=[TLSEncryptedRecord(
        ciphertext=b"x" * 40)])  # fmt: skip
    raw = bytes(a) + bytes(b)
    pkt = dissect_dtls(raw)
    recs = iter_dtls_records(pkt)
    assert [r.seq for r in recs] == [5, (1 << 48) - 1]
    assert recs[0].messages[0].description == 40
    assert bytes(pkt) == raw


def test_cid_record_given_and_guessed() -> None:
    rec = DTLSCIDRecord(epoch=1, seq=7, cid=b"\xaa\xbb\xcc\xdd", encrypted_record=b"E" * 30)
    raw = bytes(rec)
    assert raw[0] == 25 and raw[11:15] == b"\xaa\xbb\xcc\xdd" and raw[15:17] == b"\x00\x1e"
    for kw in ({"cid_length": 4}, {}):
        pkt = dissect_dtls(raw + raw, **kw)  # type: ignore[arg-type]
        recs = iter_dtls_records(pkt)
        assert len(recs) == 2 and recs[1].cid == b"\xaa\xbb\xcc\xdd"
        assert recs[0].encrypted_record == b"E" * 30
        assert bytes(pkt) == raw + raw


@pytest.mark.parametrize("c", [0, 1])
@pytest.mark.parametrize("s", [0, 1])
@pytest.mark.parametrize("l", [0, 1])
def test_unified_header_bits(c: int, s: int, l: int) -> None:  # noqa: E741
    rec = DTLSCiphertext(c=c, s=s, l=l, epoch_bits=2, cid=b"\x01\x02" if c else b"",
                         seq=0x1234 if s else 0x34, encrypted_record=b"\x99" * 21)  # fmt: skip
    raw = bytes(rec)
    assert raw[0] == 0x20 | c << 4 | s << 3 | l << 2 | 2  # RFC 9147 §4 Figure 3
    second = bytes(DTLSRecord(content_type=23, epoch=3, messages=[TLSEncryptedRecord(
        ciphertext=b"z" * 17)]))  # fmt: skip
    data = raw + second if l else raw
    pkt = dissect_dtls(data, cid_length=2)
    recs = iter_dtls_records(pkt)
    assert isinstance(recs[0], DTLSCiphertext)
    assert recs[0].seq == (0x1234 if s else 0x34)
    if l:
        assert recs[0].encrypted_record == b"\x99" * 21 and len(recs) == 2
    assert bytes(pkt) == data


def test_ack_round_trip() -> None:
    ack = DTLSRecord(content_type=26, messages=[DTLSAck(record_numbers=[
        DTLSRecordNumber(epoch=2, seq=0), DTLSRecordNumber(epoch=2, seq=7)])])  # fmt: skip
    raw = bytes(ack)
    assert raw[13:15] == b"\x00\x20"
    back = dissect_dtls(raw)
    assert [(r.epoch, r.seq) for r in back.messages[0].record_numbers] == [(2, 0), (2, 7)]
    assert bytes(back) == raw


def test_record_flood_is_bounded() -> None:
    one = bytes(DTLSRecord(content_type=23, epoch=0, messages=[]))
    data = one * 5000  # 65,000 bytes of empty records
    pkt = dissect_dtls(data)
    recs = iter_dtls_records(pkt)
    assert len(recs) == 64
    assert isinstance(pkt.lastlayer(), TLSUndecoded)
    assert bytes(pkt) == data


def test_hostile_fragment_headers() -> None:
    # fragment offset past the length, fragment_length past the record, truncated records
    hs = bytes([1, 0, 0, 10, 0, 0, 0xFF, 0xFF, 0xF0, 0, 0, 4]) + b"abcd"
    rec = bytes([22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 1, 0, len(hs)]) + hs
    for data in (rec, rec[:-3], rec[:9], rec + b"\x16\xfe", hs):
        pkt = dissect_dtls(data)
        assert bytes(pkt) == data


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_never_raises(data: bytes) -> None:
    pkt = dissect_dtls(data)
    assert bytes(pkt) == data


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([0xFEFF, 0xFEFD, 0xFEFC]),
    st.integers(0, 0xFFFF),
    st.integers(0, (1 << 48) - 1),
    st.lists(st.binary(min_size=0, max_size=40), min_size=1, max_size=4),
    st.integers(0, 5),
)
def test_handshake_fragments_round_trip(
    version: int, epoch: int, seq: int, bodies: list[bytes], msg_seq: int
) -> None:
    # arbitrary fragments of a message (offset/length independent of the bytes) in one record
    frags = [
        DTLSHandshake(msg_type=11, length=1000, message_seq=msg_seq, fragment_offset=17 * i,
                      fragment_length=len(b)) / DTLSHandshakeFragmentBody(load=b)
        for i, b in enumerate(bodies)
    ]  # fmt: skip
    raw = bytes(DTLSRecord(content_type=22, version=version, epoch=0, seq=seq, messages=frags))
    raw += bytes(DTLSRecord(content_type=23, version=version, epoch=epoch or 1, seq=seq,
                            messages=[TLSEncryptedRecord(ciphertext=b"".join(bodies))]))  # fmt: skip
    pkt = dissect_dtls(raw)
    recs = iter_dtls_records(pkt)
    assert len(recs) == 2 and recs[0].seq == seq and recs[1].epoch == (epoch or 1)
    got = [bytes(m.payload) for m in recs[0].messages]
    assert got == bodies
    assert bytes(pkt) == raw


def test_looks_like_dtls() -> None:
    grams = _datagrams("gnutls-dtls12-gcm")
    assert all(looks_like_dtls(d) for _, d in grams)
    assert not looks_like_dtls(b"\x16\x03\x01\x00\x10" + bytes(16))  # TLS, not DTLS


def test_malformed_record_does_not_hide_the_next() -> None:
    bad = bytes([21, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 1, 0, 3]) + b"\x02\x28\x00"  # 3-byte alert
    good = bytes(DTLSRecord(content_type=21, messages=[TLSAlert(level=1, description=0)]))
    pkt = dissect_dtls(bad + good)
    recs = iter_dtls_records(pkt)
    assert len(recs) == 2 and recs[1].messages[0].description == 0
    assert bytes(pkt) == bad + good


def test_bind_dtls_any_port() -> None:
    from scapy.packet import Raw

    from netsec_layers.layers.dtls.bind import bind_dtls, unbind_dtls

    pcap = str(REPO / "pcaps" / "dtls" / "ossl-dtls12-chacha20.pcap")  # port 50000
    bind_dtls()
    try:
        pkts = rdpcap(pcap)
        recs = [len(iter_dtls_records(p[UDP].payload)) for p in pkts]
        assert all(isinstance(p[UDP].payload, DTLSRecord) for p in pkts)
        frames = VECTORS["ossl-dtls12-chacha20"]["plain"]
        assert recs == [
            len(frames[str(i + 1)]["dtls.record.content_type"]) for i in range(len(pkts))
        ]
        raw = rdpcap(pcap)
        assert all(bytes(a) == bytes(b) for a, b in zip(pkts, raw, strict=True))
        assert pkts[0][DTLSClientHello].cookie == b""
    finally:
        unbind_dtls()
    assert isinstance(rdpcap(pcap)[0][UDP].payload, Raw)
