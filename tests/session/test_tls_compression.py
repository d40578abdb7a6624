"""TLS record compression (issue #20): DEFLATE, RFC 3749, in SSL 3.0 .. TLS 1.2.

No peer on this machine compresses (Debian's OpenSSL is built without zlib), so the evidence is
independent implementations on both sides of our code:

* we craft compressed connections (one DEFLATE stream per direction across records, Z_SYNC_FLUSH
  per record) and tshark 4.0 decrypts *and decompresses* them to the bytes we put in; Scapy's
  TLS (``scapy.layers.tls``, its ``Comp_Deflate``) does the same;
* Scapy's ``Comp_Deflate`` compresses (Z_FULL_FLUSH, another flush mode) and we decompress;
* hostile streams (a compression bomb, bytes that are not DEFLATE, a compressed fragment over
  2^14+1024, a record lost before) give a typed verdict, never an exception or a hang.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netsec_layers.crypto.tls_record import RecordProtection
from netsec_layers.crypto.tls_suites import suite_info
from netsec_layers.errors import DecompressionError
from netsec_layers.keys.keylog import parse_keylog
from netsec_layers.session.tcp import StreamChunk, TCPConn
from netsec_layers.session.tls import TLSRecordInfo, TLSTracker
from netsec_layers.session.tls_craft import CraftedTLSConnection, write_connections
from netsec_layers.session.tls_keys import TLSKeyMaterial
from netsec_layers.session.verdicts import TLSFailure
from tests.tshark_util import tshark_tls_records

Flights = list[tuple[bool, bytes]]

# (version, suite): each record-protection family that TLS compression can sit under.
CASES = [
    (0x0303, 0xC02F),  # TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256
    (0x0303, 0xC013),  # TLS 1.2 AES128-SHA, CBC MAC-then-encrypt
    (0x0303, 0xCCA8),  # TLS 1.2 ChaCha20-Poly1305
    (0x0302, 0x002F),  # TLS 1.1 AES128-SHA, explicit IV
    (0x0301, 0x002F),  # TLS 1.0 AES128-SHA, chained IV
    (0x0300, 0x000A),  # SSL 3.0 DES-CBC3-SHA
    (0x0300, 0x0005),  # SSL 3.0 RC4-SHA
]
IDS = [f"{v:04x}-{s:04x}" for v, s in CASES]


def _traffic(rng: random.Random) -> tuple[list[bytes], list[bytes]]:
    """Record payloads per direction.  A random block sent again in a later record compresses
    only if the DEFLATE history carries over from record to record (RFC 3749 §2)."""
    block = rng.randbytes(1200)
    c2s = [b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", block, block, b"x" * 16384]
    s2c = [b"HTTP/1.1 200 OK\r\n\r\n" + b"hello " * 500, rng.randbytes(3000), block, block]
    return c2s, s2c


def _connection(
    version: int, suite: int, rng: random.Random
) -> tuple[CraftedTLSConnection, Flights, list[bytes], list[bytes]]:
    conn = CraftedTLSConnection(
        version=version,
        suite=suite,
        compression=1,
        extended_master_secret=version > 0x0300,
        rng=rng,
    )
    c2s, s2c = _traffic(rng)
    flights = conn.handshake()
    for data in c2s:
        flights.append((True, conn.application_data(data, from_client=True)))
    for data in s2c:
        flights.append((False, conn.application_data(data, from_client=False)))
    flights.append((True, conn.alert(1, 0, from_client=True)))
    return conn, flights, c2s, s2c


def _wire_records(flights: Flights, from_client: bool) -> list[bytes]:
    stream = b"".join(d for c, d in flights if c == from_client)
    out, pos = [], 0
    while pos < len(stream):
        end = pos + 5 + int.from_bytes(stream[pos + 3 : pos + 5], "big")
        out.append(stream[pos:end])
        pos = end
    return out


def _track(conn: CraftedTLSConnection, flights: Flights) -> list[TLSRecordInfo]:
    keys = TLSKeyMaterial()
    keys.add_keylog(parse_keylog(conn.keylog()))
    tracker = TLSTracker(keys)
    tcp = TCPConn(0, ("10.0.0.1", 40000), ("10.0.0.2", 443), 4, True)
    out: list[TLSRecordInfo] = []
    for i, (c, data) in enumerate(flights):
        out += tracker.feed(StreamChunk(tcp, c, data, i + 1, i))
    return out


def _app(recs: list[TLSRecordInfo], from_client: bool) -> list[bytes]:
    return [
        r.plaintext or b""
        for r in recs
        if r.from_client == from_client and r.decrypted and r.inner_content_type == 23
    ]


# -- tshark decrypts and decompresses what we craft ---------------------------------------------
@pytest.mark.integration
@pytest.mark.parametrize(("version", "suite"), CASES, ids=IDS)
def test_tshark_decompresses_what_we_craft(tmp_path: Path, version: int, suite: int) -> None:
    rng = random.Random(version * 65536 + suite)
    conn, flights, c2s, s2c = _connection(version, suite, rng)
    pcap, keylog = tmp_path / "deflate.pcap", tmp_path / "deflate.keys"
    keylog.write_text(write_connections(pcap, [(conn, flights)]))
    recs = tshark_tls_records(pcap, keylog=keylog)
    got_c2s = [bytes.fromhex(r["app_data"]) for r in recs if r["app_data"] and r["dst_port"] == 443]
    got_s2c = [bytes.fromhex(r["app_data"]) for r in recs if r["app_data"] and r["src_port"] == 443]
    assert got_c2s == c2s
    assert got_s2c == s2c
    # tshark decoded the Finished messages and the close_notify inside compressed records too.
    assert [r["handshake_types"] for r in recs if r["handshake_types"] == [20]] == [[20], [20]]
    assert [r["alert"] for r in recs if r["alert"]] == [[1, 0]]
    # The records really are compressed, across records: the repeated random block costs a
    # few dozen bytes the second time (the DEFLATE history persists, RFC 3749 §2).
    app_wire = _wire_records(flights, True)[-5:-1]
    assert len(app_wire[2]) < 200 < 1200 < len(app_wire[1])
    # And netsec reads the same file to the same plaintext, Finished checked on both sides.
    ours = _track(conn, flights)
    assert [r.error for r in ours if r.error] == []
    assert _app(ours, True) == c2s and _app(ours, False) == s2c
    sh = next(r for r in ours if r.handshake_types == [2])
    assert [w.code.value for w in sh.warnings or ()][-1] == "compression"


# -- Scapy, both ways -----------------------------------------------------------------------------
@contextmanager
def _scapy_tls_session(keylog: Path) -> Iterator[None]:
    """Scapy's TLS decrypts while dissecting, driven by process-wide switches: set them for the
    block only (other tests dissect TLS without a session)."""
    from scapy.config import conf
    from scapy.main import load_layer

    load_layer("tls")
    from scapy.layers.tls.session import _tls_sessions

    saved = (conf.tls_session_enable, conf.tls_nss_filename, conf.tls_nss_keys, conf.tls_sessions)
    conf.tls_session_enable = True
    conf.tls_nss_filename = str(keylog)
    # Scapy finds a session by addresses and ports in its global table: a fresh table, so that an
    # earlier capture with the same endpoints is not taken for this one.
    conf.tls_sessions = _tls_sessions()
    try:
        yield
    finally:
        (conf.tls_session_enable, conf.tls_nss_filename, conf.tls_nss_keys, conf.tls_sessions) = (
            saved
        )


@pytest.mark.parametrize(("version", "suite"), [(0x0303, 0xC02F), (0x0301, 0x002F)])
def test_scapy_decompresses_what_we_craft(tmp_path: Path, version: int, suite: int) -> None:
    from scapy.layers.tls.record import TLS, TLSApplicationData
    from scapy.utils import rdpcap

    rng = random.Random(7)
    conn, flights, c2s, s2c = _connection(version, suite, rng)
    pcap, keylog = tmp_path / "deflate.pcap", tmp_path / "deflate.keys"
    # One record per TCP segment (Scapy's rdpcap does not reassemble TCP).
    keylog.write_text(write_connections(pcap, [(conn, flights)], mss=20000))
    got: dict[int, list[bytes]] = {443: [], 40000: []}
    with _scapy_tls_session(keylog):
        for pkt in rdpcap(str(pcap)):
            layer: Any = pkt.getlayer(TLS)
            while isinstance(layer, TLS):
                for msg in layer.msg:
                    if isinstance(msg, TLSApplicationData):
                        got[pkt.dport].append(bytes(msg.data))
                layer = layer.payload
    assert got[443] == c2s
    assert got[40000] == s2c


def test_we_decompress_what_scapy_compresses(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole connection's compression (Finished included) done by Scapy's Comp_Deflate
    (Z_FULL_FLUSH); our tracker decompresses it."""
    from scapy.layers.tls.crypto.compression import Comp_Deflate

    compressors: dict[int, Any] = {}

    def scapy_compress(self: RecordProtection, data: bytes) -> bytes:
        out: bytes = compressors.setdefault(id(self), Comp_Deflate()).compress(data)
        return out

    monkeypatch.setattr(RecordProtection, "_compress", scapy_compress)
    conn, flights, c2s, s2c = _connection(0x0303, 0xC02F, random.Random(3))
    assert len(compressors) == 2  # really Scapy's compressors, one per direction
    recs = _track(conn, flights)
    assert [r.error for r in recs if r.error] == []
    assert _app(recs, True) == c2s and _app(recs, False) == s2c


# -- hostile input: a typed verdict -----------------------------------------------------------------
def _hostile_record(conn: CraftedTLSConnection, case: str) -> bytes:
    """One server application-data record after the handshake, authentic but hostile."""
    prot = conn.server_prot
    assert prot is not None
    if case == "bomb":  # 1 MiB of zeros: about a kilobyte of valid DEFLATE
        return conn.application_data(bytes(1 << 20), from_client=False, record_size=1 << 20)
    if case == "one_byte_over":  # 2^14 + 1 bytes (RFC 5246 §6.2.2)
        return conn.application_data(bytes(16385), from_client=False, record_size=16385)
    if case == "compressed_too_long":  # incompressible: TLSCompressed.length > 2^14 + 1024
        data = random.Random(1).randbytes(17500)
        return conn.application_data(data, from_client=False, record_size=17500)
    # Bytes that are not a DEFLATE continuation, protected as they are (authentic, not DEFLATE).
    prot.compression = 0
    try:
        return conn.application_data(b"\xff" * 40, from_client=False)
    finally:
        prot.compression = 1


HOSTILE = [
    ("bomb", TLSFailure.DECOMPRESSION_OVERSIZED),
    ("one_byte_over", TLSFailure.DECOMPRESSION_OVERSIZED),
    ("compressed_too_long", TLSFailure.DECOMPRESSION_OVERSIZED),
    ("not_deflate", TLSFailure.DECOMPRESSION_FAILED),
]


@pytest.mark.parametrize(("case", "failure"), HOSTILE, ids=[c for c, _ in HOSTILE])
def test_hostile_compressed_record_is_a_verdict(case: str, failure: TLSFailure) -> None:
    conn = CraftedTLSConnection(compression=1, rng=random.Random(5))
    flights = conn.handshake()
    flights.append((False, conn.application_data(b"before", from_client=False)))
    flights.append((False, _hostile_record(conn, case)))
    flights.append((False, conn.application_data(b"after", from_client=False)))
    flights.append((True, conn.application_data(b"other direction", from_client=True)))
    recs = _track(conn, flights)
    app = [r for r in recs if r.content_type == 23]
    assert app[0].plaintext == b"before"
    assert app[1].failure is failure and app[1].plaintext is None and not app[1].decrypted
    assert app[1].error is not None and app[1].error.startswith("decompression failed")
    # The direction's DEFLATE history is gone: later records cannot be trusted to decompress.
    assert app[2].failure is TLSFailure.DECOMPRESSION_FAILED and app[2].plaintext is None
    assert app[3].plaintext == b"other direction"  # the other direction has its own stream


def test_summaries_count_records_that_do_not_decompress(tmp_path: Path) -> None:
    """A record that authenticates but does not decompress is a failed record in the ``dissect``
    and ``decrypt`` summaries (it was counted nowhere), and ``decrypt -w`` keeps its place as a
    hole, not as plaintext."""
    import subprocess
    import sys

    conn = CraftedTLSConnection(compression=1, rng=random.Random(5))
    flights = conn.handshake()
    flights.append((False, conn.application_data(b"before", from_client=False)))
    flights.append((False, _hostile_record(conn, "not_deflate")))
    flights.append((False, conn.application_data(b"after", from_client=False)))
    pcap, keylog = tmp_path / "bad.pcap", tmp_path / "bad.keys"
    keylog.write_text(write_connections(pcap, [(conn, flights)]))
    base = [sys.executable, "-m", "netsec_layers"]
    d = subprocess.run([*base, "dissect", str(pcap), "--keylog", str(keylog)],
                       capture_output=True, text=True, check=True)  # fmt: skip
    assert ", 2 failed" in d.stderr.splitlines()[-1], d.stderr  # the hostile one and the next
    x = subprocess.run([*base, "decrypt", str(pcap), "-w", str(tmp_path / "o.pcap"),
                        "--keylog", str(keylog)], capture_output=True, text=True)  # fmt: skip
    assert "2 records failed" in x.stderr, x.stderr


def test_exactly_two_to_the_14_decompresses() -> None:
    conn = CraftedTLSConnection(compression=1, rng=random.Random(6))
    flights = conn.handshake()
    flights.append((False, conn.application_data(bytes(16384), from_client=False)))
    assert _app(_track(conn, flights), False) == [bytes(16384)]


def test_unauthenticated_bytes_never_reach_zlib() -> None:
    """A record whose tag fails is a decryption failure; the next one authenticates (the tracker
    steps over the failed record), but the lost record's compressed bytes are missing from the
    DEFLATE history, so it is reported as not decompressible rather than shown wrong."""
    conn = CraftedTLSConnection(compression=1, rng=random.Random(8))
    flights = conn.handshake()
    prot = conn.server_prot
    assert prot is not None
    outer, fragment = prot.encrypt(23, 0x0303, b"damaged on the way", fault="mac")
    flights.append((False, bytes((outer, 3, 3)) + len(fragment).to_bytes(2, "big") + fragment))
    flights.append((False, conn.application_data(b"next", from_client=False)))
    app = [r for r in _track(conn, flights) if r.content_type == 23]
    assert app[0].failure is TLSFailure.DECRYPTION_FAILED
    assert app[1].failure is TLSFailure.DECOMPRESSION_FAILED
    assert app[1].error is not None and "lost" in app[1].error


def test_unsupported_method_is_a_verdict() -> None:
    si = suite_info(0xC02F)
    assert si is not None
    seal = RecordProtection.tls12(si, 0x0303, key=bytes(16), mac_key=b"", iv=bytes(4))
    opener = RecordProtection.tls12(
        si, 0x0303, key=bytes(16), mac_key=b"", iv=bytes(4), compression=64
    )
    _, fragment = seal.encrypt(23, 0x0303, b"LZS (RFC 3943)")
    with pytest.raises(DecompressionError, match="not supported") as err:
        opener.decrypt(23, 0x0303, fragment)
    assert not err.value.oversized and opener.seq == 1  # it did authenticate


# -- round trip across records (Hypothesis) ---------------------------------------------------------
ROUND_TRIP_SUITES = [(0x0303, 0xC02F), (0x0301, 0x002F), (0x0300, 0x0005)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=st.sampled_from(ROUND_TRIP_SUITES),
    records=st.lists(st.binary(max_size=3000), min_size=1, max_size=12),
    repeat=st.booleans(),
)
def test_round_trip_across_records(
    case: tuple[int, int], records: list[bytes], repeat: bool
) -> None:
    version, code = case
    si = suite_info(code)
    assert si is not None
    if repeat:
        records = records + records  # back-references into earlier records
    kw: dict[str, Any] = {"key": bytes(range(si.key_len)), "mac_key": bytes(si.mac_len)}
    kw["iv"] = bytes(si.fixed_iv_len if si.cipher_type == "aead" else si.block_size or 0)
    seal = RecordProtection.tls12(si, version, compression=1, **kw)
    opener = RecordProtection.tls12(si, version, compression=1, **kw)
    raw = RecordProtection.tls12(si, version, compression=0, **kw)  # sees TLSCompressed
    independent = zlib.decompressobj()
    for data in records:
        ct, fragment = seal.encrypt(23, version, data)
        assert opener.decrypt(ct, version, fragment) == (23, data)
        # The wire format, checked without our decompressor: each record's TLSCompressed
        # fragment continues one zlib stream and yields exactly that record's bytes.
        _, compressed = raw.decrypt(ct, version, fragment)
        assert len(compressed) <= (1 << 14) + 1024
        assert independent.decompress(compressed) == data
