"""Expert warnings (issue #20) on hostile captures crafted with Scapy's TLS layers, and none
(but ``deprecated_version`` on TLS 1.0/1.1) on the real OpenSSL/GnuTLS/Python samples.

Each case is a TCP connection (three-way handshake, the TLS bytes, FIN) written to a pcap with
Scapy and read back through the capture engine, as ``netsec dissect`` does.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.tls.extensions import TLS_Ext_ExtendedMasterSecret
from scapy.layers.tls.handshake import TLSClientHello, TLSHelloRequest, TLSServerHello
from scapy.layers.tls.handshake_sslv2 import SSLv2ClientHello
from scapy.layers.tls.record_sslv2 import SSLv2
from scapy.utils import wrpcap

from netsec_layers.keys.keylog import load_keylog
from netsec_layers.session.engine import CaptureEngine, iter_capture
from netsec_layers.session.tls import TLSRecordInfo
from netsec_layers.session.tls_keys import TLSKeyMaterial

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "pcaps" / "tls").glob("*.pcap"))
C, S = True, False


def _rec(ct: int, payload: bytes, version: int = 0x0303) -> bytes:
    return struct.pack("!BHH", ct, version, len(payload)) + payload


def _ch(**kw: Any) -> bytes:
    kw.setdefault("ciphers", [0xC02F, 0x002F])
    return _rec(22, bytes(TLSClientHello(**kw)), 0x0301)


def _sh(**kw: Any) -> bytes:
    kw.setdefault("cipher", 0xC02F)
    kw.setdefault("version", 0x0303)
    return _rec(22, bytes(TLSServerHello(**kw)))


def _run(tmp_path: Path, segments: list[tuple[bool, bytes]], *, fin: bool = True) -> list[Any]:
    """Write the segments as one TCP connection and dissect it; the JSON of every TLS record."""
    cli, srv = ("10.20.0.1", 40123), ("10.20.0.2", 443)
    seq = {C: 1000, S: 5000}
    pkts = [
        IP(src=cli[0], dst=srv[0]) / TCP(sport=cli[1], dport=srv[1], flags="S", seq=999),
        IP(src=srv[0], dst=cli[0])
        / TCP(sport=srv[1], dport=cli[1], flags="SA", seq=4999, ack=1000),
        IP(src=cli[0], dst=srv[0]) / TCP(sport=cli[1], dport=srv[1], flags="A", seq=1000, ack=5000),
    ]

    def seg(frm: bool, data: bytes, flags: str) -> Any:
        a, b = (cli, srv) if frm else (srv, cli)
        p = IP(src=a[0], dst=b[0]) / TCP(
            sport=a[1], dport=b[1], flags=flags, seq=seq[frm], ack=seq[not frm]
        )
        seq[frm] += len(data) + (1 if "F" in flags else 0)
        return p / data if data else p

    for frm, data in segments:
        pkts.append(seg(frm, data, "PA"))
    if fin:
        pkts += [seg(C, b"", "FA"), seg(S, b"", "FA")]
    for i, p in enumerate(pkts):
        p.time = 1_700_000_000 + i / 1000
    path = tmp_path / "case.pcap"
    wrpcap(str(path), pkts)
    engine = CaptureEngine()
    out = []
    for res in iter_capture(path, engine):
        out += [u.to_json() for u in res.units if isinstance(u, TLSRecordInfo)]
    out += [u.to_json() for u in engine.flush() if isinstance(u, TLSRecordInfo)]
    return out


def _codes(rec: dict[str, Any]) -> list[str]:
    return [w["code"] for w in rec["warnings"]]


def _all_codes(recs: list[dict[str, Any]]) -> list[str]:
    return [c for r in recs for c in _codes(r)]


def test_fallback_scsv_on_the_client_hello(tmp_path: Path) -> None:
    recs = _run(tmp_path, [(C, _ch(ciphers=[0xC02F, 0x5600])), (S, _sh())])
    assert _codes(recs[0]) == ["fallback_scsv"]
    assert _codes(recs[1]) == []


@pytest.mark.parametrize(
    ("suite", "why"),
    [(0x0005, "RC4"), (0x0018, "anonymous"), (0x0003, "export"), (0x0002, "NULL cipher")],
)
def test_weak_suite_chosen(tmp_path: Path, suite: int, why: str) -> None:
    recs = _run(tmp_path, [(C, _ch(ciphers=[suite])), (S, _sh(cipher=suite))])
    assert _codes(recs[1]) == ["weak_suite"]
    assert why in recs[1]["warnings"][0]["text"]


def test_deprecated_version_and_compression_on_the_server_hello(tmp_path: Path) -> None:
    recs = _run(
        tmp_path,
        [
            (C, _ch(comp=[1, 0])),
            (S, _rec(22, bytes(TLSServerHello(version=0x0301, cipher=0x2F, comp=[1])), 0x0301)),
        ],
    )
    assert _codes(recs[1]) == ["deprecated_version", "compression"]
    assert "TLS 1.0" in recs[1]["warnings"][0]["text"]


def test_ssl3_is_deprecated(tmp_path: Path) -> None:
    sh = _rec(22, bytes(TLSServerHello(version=0x0300, cipher=0x2F)), 0x0300)
    recs = _run(tmp_path, [(C, _ch(version=0x0300)), (S, sh)])
    assert _codes(recs[1]) == ["deprecated_version"]


def test_heartbleed_request_and_leaking_response(tmp_path: Path) -> None:
    request = _rec(24, b"\x01\x40\x00")  # payload_length 16384, no payload (CVE-2014-0160)
    leak = _rec(24, b"\x02\xff\xff" + b"M" * 16000)  # claims 65535, carries 16000
    good = _rec(24, b"\x01\x00\x04" + b"ping" + b"P" * 16)  # RFC 6520: payload + 16 padding
    recs = _run(tmp_path, [(C, _ch()), (S, _sh()), (C, request), (S, leak), (C, good)])
    assert [_codes(r) for r in recs[2:]] == [
        ["heartbeat_length_overflow"],
        ["heartbeat_length_overflow"],
        [],
    ]


def test_truncated_record_at_fin(tmp_path: Path) -> None:
    cut = _rec(22, bytes(TLSClientHello()))[:40]
    recs = _run(tmp_path, [(C, cut)])
    assert len(recs) == 1 and _codes(recs[0]) == ["truncated_record"]
    assert recs[0]["frame"] == 5  # the client's FIN that cut it


def test_truncated_handshake_message_at_fin(tmp_path: Path) -> None:
    msg = bytes(TLSClientHello())
    recs = _run(tmp_path, [(C, _rec(22, msg[:30], 0x0301))])
    assert _all_codes(recs) == ["truncated_record"]
    assert "handshake message 1" in recs[-1]["warnings"][0]["text"]


def test_stream_opening_with_a_65535_byte_header_is_reported(tmp_path: Path) -> None:
    recs = _run(tmp_path, [(C, b"\x16\x03\x01\xff\xff" + b"\x00" * 100)])
    assert _all_codes(recs) == ["truncated_record", "oversized_record"]


def test_complete_oversized_record(tmp_path: Path) -> None:
    big = _rec(23, b"\x00" * (16384 + 2048 + 1))
    recs = _run(tmp_path, [(C, _ch()), (S, _sh()), (C, big)])
    assert _codes(recs[2]) == ["oversized_record"]


def test_data_after_close_notify(tmp_path: Path) -> None:
    close = _rec(21, b"\x01\x00")
    recs = _run(tmp_path, [(C, _ch()), (S, _sh()), (C, close), (C, _rec(23, b"late")), (S, close)])
    assert [_codes(r) for r in recs[2:]] == [[], ["data_after_close_notify"], []]


def test_handshake_length_mismatch_trailing_bytes(tmp_path: Path) -> None:
    msg = bytes(TLSClientHello(ciphers=[0x2F], ext=[TLS_Ext_ExtendedMasterSecret()]))
    body = msg[4:] + b"JUNKJUNK"  # the message length covers 8 bytes past the last field
    bad = b"\x01" + len(body).to_bytes(3, "big") + body
    recs = _run(tmp_path, [(C, _rec(22, bad, 0x0301))])
    assert _codes(recs[0]) == ["handshake_length_mismatch"]
    assert "8 bytes after" in recs[0]["warnings"][0]["text"]


def test_handshake_length_mismatch_extensions_overrun(tmp_path: Path) -> None:
    msg = bytes(TLSClientHello(ciphers=[0x2F], ext=[TLS_Ext_ExtendedMasterSecret()]))
    bad = msg[:-6] + b"\x00\x40" + msg[-4:]  # extensions length 64, 4 bytes follow
    recs = _run(tmp_path, [(C, _rec(22, bad, 0x0301))])
    assert "handshake_length_mismatch" in _codes(recs[0])
    assert "claims 64 bytes, 4 follow" in recs[0]["warnings"][0]["text"]
    assert recs[0]["error"] is not None  # the hello itself does not parse: malformed


def test_unknown_content_type(tmp_path: Path) -> None:
    recs = _run(tmp_path, [(C, _ch()), (S, _sh()), (C, _rec(99, b"??"))])
    assert _codes(recs[2]) == ["unknown_content_type"]


def test_sslv2_client_hello(tmp_path: Path) -> None:
    v2 = bytes(SSLv2(msg=[SSLv2ClientHello(version=0x0301, ciphers=[0x2F], challenge=b"A" * 16)]))
    recs = _run(tmp_path, [(C, v2), (S, _sh(cipher=0x2F))])
    assert _codes(recs[0]) == ["sslv2_client_hello"]
    assert recs[0]["handshake_types"] == [1]


def test_renegotiation_client_hello_and_hello_request(tmp_path: Path) -> None:
    hello_request = _rec(22, bytes(TLSHelloRequest()))
    recs = _run(tmp_path, [(C, _ch()), (S, _sh()), (S, hello_request), (C, _ch())])
    assert [_codes(r) for r in recs] == [[], [], ["renegotiation"], ["renegotiation"]]


def test_stats_counts_warnings_per_connection(tmp_path: Path) -> None:
    from netsec_layers.cli.stats import tls_row

    _run(tmp_path, [])  # writes case.pcap; rewritten below
    close = _rec(21, b"\x01\x00")
    _run(tmp_path, [(C, _ch(ciphers=[0x5600, 0x5])), (S, _sh(cipher=5)), (C, close), (C, close)])
    engine = CaptureEngine()
    rows: list[dict[str, Any]] = []
    engine.tls.on_release = lambda c: rows.append(tls_row(c))
    for _ in iter_capture(tmp_path / "case.pcap", engine):
        pass
    engine.flush()
    engine.tls.release_all()
    assert rows[0]["warnings"] == {
        "data_after_close_notify": 1,
        "fallback_scsv": 1,
        "weak_suite": 1,
    }


@pytest.mark.parametrize("pcap", SAMPLES, ids=lambda p: p.stem)
def test_real_samples_have_no_false_warnings(pcap: Path) -> None:
    keys = TLSKeyMaterial()
    keys.add_keylog(load_keylog(pcap.with_suffix(".keys")))
    engine = CaptureEngine(tls_keys=keys)
    codes = []
    for res in iter_capture(pcap, engine):
        for u in res.units:
            if isinstance(u, TLSRecordInfo):
                codes += [w.code.value for w in u.warnings or ()]
    expected = ["deprecated_version"] if pcap.stem.startswith(("tls10-", "tls11-")) else []
    if pcap.stem != "tls12-handshake-failure":  # the peers' test certificates are self-signed
        expected += ["certificate_self_signed", "certificate_untrusted"]  # (openssl verify agrees)
    assert sorted(codes) == sorted(expected)


def test_truncated_record_at_the_end_of_the_capture_via_flush() -> None:
    """No FIN: TLSTracker.flush() (for the engine's end of capture) reports the record held,
    in the frame that brought its last bytes; a closed or complete stream gives nothing."""
    from netsec_layers.session.tcp import StreamChunk, TCPConn
    from netsec_layers.session.tls import TLSTracker

    tracker = TLSTracker()
    conn = TCPConn(0, ("10.0.0.1", 40000), ("10.0.0.2", 443), 4, True)
    whole = _ch()
    assert tracker.feed(StreamChunk(conn, True, whole, 7, 70))
    assert tracker.flush() == []
    tracker.feed(StreamChunk(conn, False, _sh()[:30], 9, 90))
    [rec] = [r.to_json() for r in tracker.flush()]
    assert rec["frame"] == 9 and rec["dir"] == "s2c" and _codes(rec) == ["truncated_record"]
    assert rec["warnings"][0]["text"].startswith("capture ends inside a record: 25 of")
    assert tracker.flush() == []  # reported once


def test_record_over_the_negotiated_max_fragment_length(tmp_path: Path) -> None:
    """RFC 6066 §4: code 1 (2^9) offered and echoed; a 600-byte record after the ServerHello is
    oversized, a 512-byte one is not; without the server's echo nothing is negotiated."""
    from scapy.layers.tls.extensions import TLS_Ext_MaxFragLen

    ch = _ch(ext=[TLS_Ext_MaxFragLen(maxfraglen=1)])
    sh = _sh(ext=[TLS_Ext_MaxFragLen(maxfraglen=1)])
    recs = _run(tmp_path, [(C, ch), (S, sh), (S, _rec(23, b"\x00" * 600)),
                           (C, _rec(23, b"x" * 512))])  # fmt: skip
    assert [_codes(r) for r in recs] == [[], [], ["oversized_record"], []]
    assert "max_fragment_length 512" in recs[2]["warnings"][0]["text"]
    recs = _run(tmp_path, [(C, ch), (S, _sh()), (S, _rec(23, b"x" * 600))])
    assert [_codes(r) for r in recs] == [[], [], []]


def test_record_over_the_negotiated_record_size_limit(tmp_path: Path) -> None:
    """RFC 8449 §4: each side's value limits what the *other* side sends (hellos built by
    Scapy's TLS layers); in force only when both sent one; §5: it wins over
    max_fragment_length; values under 64 are illegal and ignored."""
    from scapy.layers.tls.extensions import TLS_Ext_MaxFragLen, TLS_Ext_RecordSizeLimit

    ch = _ch(ext=[TLS_Ext_RecordSizeLimit(record_size_limit=300)])
    sh = _sh(ext=[TLS_Ext_RecordSizeLimit(record_size_limit=200)])
    recs = _run(tmp_path, [(C, ch), (S, sh),
                           (S, _rec(23, b"s" * 301)), (S, _rec(23, b"s" * 300)),
                           (C, _rec(23, b"c" * 201)), (C, _rec(23, b"c" * 200))])  # fmt: skip
    assert [_codes(r) for r in recs] == [[], [], ["oversized_record"], [], ["oversized_record"], []]
    assert "record_size_limit 300 (RFC 8449" in recs[2]["warnings"][0]["text"]
    assert "record_size_limit 200 (RFC 8449" in recs[4]["warnings"][0]["text"]
    # only the client sent one: nothing negotiated
    recs = _run(tmp_path, [(C, ch), (S, _sh()), (S, _rec(23, b"s" * 400))])
    assert [_codes(r) for r in recs] == [[], [], []]
    # both extensions: record_size_limit (1000) wins over max_fragment_length (512)
    ch2 = _ch(
        ext=[TLS_Ext_MaxFragLen(maxfraglen=1), TLS_Ext_RecordSizeLimit(record_size_limit=1000)]
    )
    sh2 = _sh(
        ext=[TLS_Ext_MaxFragLen(maxfraglen=1), TLS_Ext_RecordSizeLimit(record_size_limit=1000)]
    )
    recs = _run(tmp_path, [(C, ch2), (S, sh2), (S, _rec(23, b"s" * 600)),
                           (S, _rec(23, b"s" * 1001))])  # fmt: skip
    assert [_codes(r) for r in recs] == [[], [], [], ["oversized_record"]]
    # an illegal value (< 64) is not taken as a limit
    ch3 = _ch(ext=[TLS_Ext_RecordSizeLimit(record_size_limit=10)])
    sh3 = _sh(ext=[TLS_Ext_RecordSizeLimit(record_size_limit=10)])
    recs = _run(tmp_path, [(C, ch3), (S, sh3), (S, _rec(23, b"s" * 100))])
    assert [_codes(r) for r in recs] == [[], [], []]


def test_one_renegotiation_warning_per_record(tmp_path: Path) -> None:
    hello_requests = _rec(22, bytes(4) * 50)  # 50 HelloRequest messages in one record
    recs = _run(tmp_path, [(C, _ch()), (S, _sh()), (S, hello_requests)])
    assert _codes(recs[2]) == ["renegotiation"] and recs[2]["handshake_types"] == [0] * 50
