"""pcap/pcapng reader and writer: spec-built files, Scapy round trips, truncation, garbage."""

from __future__ import annotations

import importlib.util
import io
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netsec_layers.errors import ParseError, UsageError
from netsec_layers.io.pcap import (
    SECRETS_ESP,
    SECRETS_TLS,
    CaptureReader,
    CaptureWriter,
    Frame,
    open_capture,
)

# explicit addresses: Scapy would otherwise resolve them (ARP/ND) on the network
MACS = {"dst": "02:00:00:00:00:02", "src": "02:00:00:00:00:01"}
NS = 10**9


_spec = importlib.util.spec_from_file_location(
    "pcapng_build", Path(__file__).with_name("pcapng_build.py")
)
assert _spec is not None and _spec.loader is not None
pcapng_build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pcapng_build)
block, shb, idb, epb = pcapng_build.block, pcapng_build.shb, pcapng_build.idb, pcapng_build.epb
multi_section_file = pcapng_build.multi_section_file


def test_multi_section_pcapng() -> None:
    data = multi_section_file()
    seen: list[tuple[int, bytes]] = []
    r = CaptureReader(io.BytesIO(data))
    r.on_secrets = lambda t, d: seen.append((t, d))
    frames = list(r)
    assert r.format == "pcapng" and r.truncated is None
    # frame 1 is the custom block: numbered (as Wireshark does) but not returned
    assert [(f.number, f.linktype, f.interface) for f in frames] == [
        (2, 1, 0),
        (3, 101, 1),
        (4, 113, 0),
        (5, 276, 1),
        (6, 228, 0),
    ]
    assert frames[0].ts_ns == 1_600_000_000_123_456_000
    assert frames[1].ts_ns == 1_600_000_000_123_456_789 and frames[1].orig_len == 1500
    assert frames[2].ts_ns == 105_500_000_000  # 5.5 s in 2^-10 units + if_tsoffset 100 s
    assert frames[3].ts_ns == 7_000  # default µs resolution
    assert frames[4].data == b"\x05" * 10 and frames[4].orig_len == 30  # SPB cut to snaplen
    assert frames[4].ts_ns == 0  # SPBs carry no timestamp
    assert seen == r.secrets == [(SECRETS_TLS, b"CLIENT_RANDOM x y\n"), (SECRETS_ESP, b"esp")]
    assert r.bytes_read == len(data)


def test_modified_pcap() -> None:
    r = CaptureReader(io.BytesIO(pcapng_build.modified_pcap()))
    frames = list(r)
    assert r.format == "pcap" and r.truncated is None
    assert [(f.ts_ns, f.data) for f in frames] == [
        ((1_600_000_000 + i) * NS + 250_000 * i, bytes([i]) * (30 + i)) for i in range(3)
    ]


def test_chunking_does_not_matter() -> None:
    data = multi_section_file()
    ref = list(CaptureReader(io.BytesIO(data)))
    for chunk in (4096, 4097, 5000):
        assert list(CaptureReader(io.BytesIO(data), chunk_size=chunk)) == ref


class Trickle(io.RawIOBase):
    """A pipe-like source returning at most 7 bytes per read and no fileno."""

    def __init__(self, data: bytes) -> None:
        self._b = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        return self._b.read(min(n, 7) if n > 0 else 7)


def test_short_reads_from_a_pipe() -> None:
    data = multi_section_file()
    ref = list(CaptureReader(io.BytesIO(data)))
    r = CaptureReader(Trickle(data))  # type: ignore[arg-type]
    assert list(r) == ref and r.size is None


# -- pcap byte orders / resolutions against Scapy's writer ----------------------------------------
@pytest.mark.parametrize("nano", [False, True])
@pytest.mark.parametrize("endian", ["<", ">"])
def test_scapy_written_pcap(tmp_path: Path, nano: bool, endian: str) -> None:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import EDecimal, PcapWriter

    pkts = []
    for i in range(5):
        p = Ether(**MACS) / IP() / UDP() / (b"x" * i)
        p.time = EDecimal(f"{1_700_000_000 + i}.{'000001234' if nano else '000123'}")
        pkts.append(p)
    path = tmp_path / "s.pcap"
    with PcapWriter(str(path), nano=nano, endianness=endian) as w:
        for p in pkts:
            w.write(p)
    with open_capture(path) as r:
        frames = list(r)
        assert r.nanosecond == nano and r.linktype == 1
    assert [f.data for f in frames] == [bytes(p) for p in pkts]
    frac = 1234 if nano else 123000
    assert [f.ts_ns for f in frames] == [(1_700_000_000 + i) * NS + frac for i in range(5)]


def test_scapy_written_pcapng(tmp_path: Path) -> None:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import PcapNgWriter

    pkts = [Ether(**MACS) / IP() / TCP(sport=i) for i in range(3)]
    for i, p in enumerate(pkts):
        p.time = 1_650_000_000 + i
    path = tmp_path / "s.pcapng"
    with PcapNgWriter(str(path)) as w:
        for p in pkts:
            w.write(p)
    frames = list(CaptureReader(path))
    assert [f.data for f in frames] == [bytes(p) for p in pkts]
    assert [f.ts_ns // NS for f in frames] == [1_650_000_000 + i for i in range(3)]


# -- writer, read back by Scapy (an independent reader) -------------------------------------------
@pytest.mark.parametrize(
    "fmt,nano", [("pcap", False), ("pcap", True), ("pcapng", False), ("pcapng", True)]
)
def test_writer_read_by_scapy(tmp_path: Path, fmt: str, nano: bool) -> None:
    from scapy.utils import PcapNgReader, PcapReader

    path = tmp_path / f"w.{fmt}"
    payloads = [b"\0" * 14 + bytes([i]) * (i * 13) for i in range(6)]
    ts = [1_700_000_000 * NS + i * 1_234_567 + 89 for i in range(6)]
    with CaptureWriter(path, format=fmt, nanosecond=nano) as w:
        for p, t in zip(payloads, ts, strict=True):
            w.write(p, ts_ns=t)
        if fmt == "pcapng":
            w.write_secrets(SECRETS_TLS, b"keylog")
            w.write(b"\x45" + b"\0" * 19, ts_ns=ts[0], linktype=101)
    reader = PcapNgReader if fmt == "pcapng" else PcapReader
    with reader(str(path)) as sr:
        got = list(sr)
    assert [bytes(p) for p in got[:6]] == payloads
    for p, t in zip(got[:6], ts, strict=True):
        want = t if nano else t // 1000 * 1000
        assert int(p.time * 10**9) == want  # scapy keeps an EDecimal
    ours = list(CaptureReader(path))
    assert [f.ts_ns for f in ours[:6]] == [t if nano else t // 1000 * 1000 for t in ts]
    if fmt == "pcapng":
        assert ours[6].linktype == 101 and ours[6].interface == 1


def test_writer_rules(tmp_path: Path) -> None:
    with CaptureWriter(tmp_path / "a.pcap", linktype=1, snaplen=10) as w:
        with pytest.raises(UsageError):
            w.write(b"x", ts_ns=0, linktype=101)
        with pytest.raises(UsageError):
            w.write_secrets(SECRETS_TLS, b"x")
        w.write(b"y" * 50, ts_ns=5)
    (f,) = list(CaptureReader(tmp_path / "a.pcap"))
    assert f.data == b"y" * 10 and f.orig_len == 50
    with pytest.raises(UsageError):
        CaptureWriter(tmp_path / "b", format="erf")
    with CaptureWriter(tmp_path / "c.pcapng", format="pcapng") as w:
        for bad in (-1, (1 << 32) * NS):
            with pytest.raises(UsageError):
                w.write(b"x", ts_ns=bad)
        with pytest.raises(UsageError):
            w.write(b"x", ts_ns=0, orig_len=1 << 32)


# -- bad input -------------------------------------------------------------------------------------
@pytest.mark.parametrize("data", [b"", b"\xd4\xc3", b"GIF89a....................", b"\0" * 64])
def test_bad_magic(data: bytes) -> None:
    with pytest.raises(ParseError):
        CaptureReader(io.BytesIO(data))


def test_bad_pcapng_bom() -> None:
    with pytest.raises(ParseError):
        CaptureReader(io.BytesIO(struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x12345678, 1, 0, -1)))


def test_missing_file() -> None:
    with pytest.raises(UsageError):
        CaptureReader("/nonexistent/x.pcap")


def _pcap(records: list[tuple[int, bytes]]) -> bytes:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for t, d in records:
        out += struct.pack("<IIII", t, 0, len(d), len(d)) + d
    return out


def test_every_cut_point_stops_cleanly() -> None:
    full = _pcap([(i, bytes([i]) * (20 + i)) for i in range(5)])
    ends = set()
    pos = 24
    for i in range(5):
        pos += 16 + 20 + i
        ends.add(pos)
    complete = list(CaptureReader(io.BytesIO(full)))
    for cut in range(4, len(full) + 1):
        r = CaptureReader(io.BytesIO(full[:cut]))
        got = list(r)
        assert got == complete[: len(got)]
        assert (r.truncated is None) == (cut in ends or cut == 24), cut
    ng = multi_section_file()
    complete = list(CaptureReader(io.BytesIO(ng)))
    for cut in range(4, len(ng)):
        r = CaptureReader(io.BytesIO(ng[:cut]))
        got = list(r)
        assert got == complete[: len(got)]


def test_huge_claimed_length_is_not_allocated() -> None:
    # A record header claiming a 4 GB packet: must stop (malformed), not try to read/allocate.
    data = _pcap([(1, b"ok")]) + struct.pack("<IIII", 2, 0, 0xFFFFFFF0, 0xFFFFFFF0) + b"z" * 100
    r = CaptureReader(io.BytesIO(data))
    assert [f.data for f in r] == [b"ok"]
    assert r.truncated and "limit" in r.truncated
    ng = shb("<") + idb("<", 1) + struct.pack("<II", 6, 0xFFFFFFF0) + b"\0" * 64
    r = CaptureReader(io.BytesIO(ng))
    assert list(r) == [] and r.truncated
    # configurable cap
    r = CaptureReader(io.BytesIO(_pcap([(1, b"a" * 100)])), max_packet=50)
    assert list(r) == [] and r.truncated


def test_huge_unknown_block_is_skipped_in_chunks() -> None:
    big = block("<", 0x0BAD, b"\0" * (3 << 20))
    data = shb("<") + idb("<", 1) + big + epb("<", 0, 0, b"after")
    r = CaptureReader(io.BytesIO(data), max_block=1 << 20)
    assert [f.data for f in r] == [b"after"] and r.truncated is None


def test_bad_trailer_and_interface() -> None:
    bad = bytearray(shb("<") + idb("<", 1) + epb("<", 0, 0, b"abcd"))
    bad[-1] ^= 1
    r = CaptureReader(io.BytesIO(bytes(bad)))
    assert list(r) == [] and r.truncated
    r = CaptureReader(io.BytesIO(shb("<") + idb("<", 1) + epb("<", 3, 0, b"abcd")))
    assert list(r) == [] and r.truncated


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a"]),
    st.binary(max_size=600),
)
def test_garbage_after_magic(magic: bytes, rest: bytes) -> None:
    try:
        r = CaptureReader(io.BytesIO(magic + rest), max_packet=1 << 12)
    except ParseError:
        return
    for f in r:
        assert isinstance(f, Frame)
        assert len(f.data) <= 1 << 12


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(multi_section_file()) - 1), st.integers(0, 255))
def test_bit_flips_in_valid_file(pos: int, value: int) -> None:
    data = bytearray(multi_section_file())
    data[pos] = value
    try:
        r = CaptureReader(io.BytesIO(bytes(data)))
    except ParseError:
        return
    for _ in r:
        pass
