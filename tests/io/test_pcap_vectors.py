"""Reader vs tshark on committed captures made by tcpdump/editcap/mergecap on this machine.

``tests/vectors/io/expected.json`` holds tshark's per-frame view (time, lengths, interface,
sha256 of the bytes) and the generator's digests of what each TCP side sent; it was written by
``make_vectors.py`` from tools we did not write.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path

import pytest

from netsec_layers.io.pcap import SECRETS_TLS, CaptureReader
from netsec_layers.session.netstack import IPDecoder
from netsec_layers.session.tcp import TCPReassembler

VEC = Path(__file__).resolve().parent.parent / "vectors" / "io"
EXPECTED = json.loads((VEC / "expected.json").read_text())

LINKTYPES = {
    "lo_us.pcap": {1},
    "lo_ns.pcap": {1},
    "any_sll2.pcap": {276},
    "any_sll.pcap": {113},
    "lo_ns.pcapng": {1},
    "merged.pcapng": {1, 113},
    "dsb.pcapng": {1},
}


@pytest.mark.parametrize("name", sorted(EXPECTED["frames"]))
def test_frames_match_tshark(name: str) -> None:
    want = EXPECTED["frames"][name]
    with CaptureReader(VEC / name) as r:
        got = list(r)
        assert r.truncated is None
        assert r.format == ("pcapng" if name.endswith("pcapng") else "pcap")
        assert r.bytes_read == (VEC / name).stat().st_size == r.size
    assert len(got) == len(want) > 0
    for f, w in zip(got, want, strict=True):
        assert f.number == w["number"]
        assert f.ts_ns == int(Decimal(w["time_epoch"]) * 10**9)
        assert f.orig_len == w["len"]
        assert len(f.data) == w["cap_len"]
        assert f.interface == w["interface"]
        assert hashlib.sha256(f.data).hexdigest() == w["sha256"]
    assert {f.linktype for f in got} == LINKTYPES[name]


def test_nanosecond_magic() -> None:
    with CaptureReader(VEC / "lo_ns.pcap") as r:
        assert r.nanosecond
        assert any(f.ts_ns % 1000 for f in r)
    with CaptureReader(VEC / "lo_us.pcap") as r:
        assert not r.nanosecond


def test_dsb_from_editcap() -> None:
    seen: list[tuple[int, bytes]] = []
    with CaptureReader(VEC / "dsb.pcapng") as r:
        r.on_secrets = lambda t, d: seen.append((t, d))
        first = next(iter(r))
        # editcap puts the DSB before the first packet: known before frame 1 is returned
        assert first.number == 1 and len(seen) == 1
        list(r)
    assert r.secrets == seen
    stype, data = seen[0]
    assert stype == SECRETS_TLS
    assert data == b"CLIENT_RANDOM " + b"ab" * 32 + b" " + b"cd" * 48 + b"\n"


@pytest.mark.parametrize("name", sorted(EXPECTED["tcp_sent"]))
def test_tcp_stream_matches_generator(name: str) -> None:
    want = EXPECTED["tcp_sent"][name]
    dec = IPDecoder()
    tcp = TCPReassembler()
    streams: dict[bool, bytearray] = {True: bytearray(), False: bytearray()}
    fins = set()
    with CaptureReader(VEC / name) as r:
        for f in r:
            ip = dec.feed(f)
            assert ip is not None, dec.last_error
            for c in tcp.feed(ip):
                assert c.conn.index == 0 and c.gap == 0
                assert c.conn.client[0] == "127.0.0.1" and c.conn.saw_syn
                streams[c.from_client] += c.data
                if c.fin:
                    fins.add(c.from_client)
    assert tcp.flush() == []
    assert fins == {True, False}
    assert len(streams[True]) == want["client_len"]
    assert hashlib.sha256(streams[True]).hexdigest() == want["client_sha256"]
    assert len(streams[False]) == want["server_len"]
    assert hashlib.sha256(streams[False]).hexdigest() == want["server_sha256"]
