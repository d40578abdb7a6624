"""Reader/writer vs tcpdump, editcap and tshark on captures made at test time on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from netsec_layers.io.pcap import SECRETS_TLS, CaptureReader, CaptureWriter
from tests import tshark_util
from tools.loopback_capture import free_port, pattern, tcpdump_capture, udp_send

pytestmark = pytest.mark.integration

_spec = importlib.util.spec_from_file_location(
    "pcapng_build", Path(__file__).with_name("pcapng_build.py")
)
assert _spec is not None and _spec.loader is not None
pcapng_build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pcapng_build)


def tshark_fields(path: Path, *fields: str) -> list[list[str]]:
    """tshark's values of ``fields``, one list per frame."""
    rows = tshark_util.tshark_fields(path, list(fields))
    return [[row[f] for f in fields] for row in rows]


def ours(path: Path) -> list[tuple[int, int, int, int]]:
    with CaptureReader(path) as r:
        rows = [(f.number, f.ts_ns, f.orig_len, len(f.data)) for f in r]
        assert r.truncated is None
    return rows


def theirs(path: Path) -> list[tuple[int, int, int, int]]:
    rows = tshark_fields(
        path,
        "frame.number",
        "frame.time_epoch",
        "frame.len",
        "frame.cap_len",
        "frame.interface_id",
    )
    return [
        (int(n), int(Decimal(t or "0") * 10**9), int(ln), int(cl))
        for n, t, ln, cl, iface in rows
        if t or iface  # custom blocks have neither; SPBs have no time; pcap has no iface
    ]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """tcpdump captures of UDP to 127.0.0.1: µs, ns, SLL, SLL2, and a 100-byte snaplen."""
    d = tmp_path_factory.mktemp("live")
    out: dict[str, Path] = {}
    grams = [pattern(f"d{i}", 1 + 613 * i) for i in range(8)]
    for name, extra, iface in [
        ("us", [], "lo"),
        ("ns", ["--time-stamp-precision=nano"], "lo"),
        ("sll", ["-y", "LINUX_SLL"], "any"),
        ("sll2", ["-y", "LINUX_SLL2"], "any"),
        ("snap", ["-s", "100"], "lo"),
    ]:
        port = free_port(kind=2)
        out[name] = d / f"{name}.pcap"
        tcpdump_capture(
            out[name],
            lambda p=port: udp_send(p, grams),
            bpf=f"udp port {port}",
            iface=iface,
            extra=extra,
            expect=len(grams),
        )
    return out


@pytest.mark.parametrize("name", ["us", "ns", "sll", "sll2", "snap"])
def test_live_pcap_matches_tshark(live: dict[str, Path], name: str) -> None:
    got = ours(live[name])
    assert len(got) == 8
    assert got == theirs(live[name])
    if name == "snap":
        assert all(cl <= 100 for _, _, _, cl in got) and any(ln > 100 for _, _, ln, _ in got)


@pytest.mark.parametrize("name", ["us", "ns", "sll2"])
def test_converted_pcapng_matches(tmp_path: Path, live: dict[str, Path], name: str) -> None:
    ng = tmp_path / "c.pcapng"
    subprocess.run(["editcap", "-F", "pcapng", str(live[name]), str(ng)], check=True)
    ref = ours(live[name])
    # live[name] itself was checked against tshark; editcap's conversion must read the same
    assert ours(ng) == ref
    if name == "ns":
        ng2 = tmp_path / "t.pcapng"
        tshark_util.run_tshark(["-r", str(live[name]), "-F", "pcapng", "-w", str(ng2)])
        assert ours(ng2) == ref
    with CaptureReader(ng) as r:
        assert [f.data for f in r] == [f.data for f in CaptureReader(live[name])]


def test_merged_interfaces(tmp_path: Path, live: dict[str, Path]) -> None:
    m = tmp_path / "m.pcapng"
    subprocess.run(
        ["mergecap", "-F", "pcapng", "-w", str(m), str(live["us"]), str(live["sll2"])], check=True
    )
    got = list(CaptureReader(m))
    want = tshark_fields(m, "frame.interface_id", "frame.time_epoch")
    assert [(f.interface, f.ts_ns) for f in got] == [
        (int(i), int(Decimal(t) * 10**9)) for i, t in want
    ]
    assert {f.linktype for f in got} == {1, 276}


def test_spec_built_pcapng_agrees_with_tshark(tmp_path: Path) -> None:
    """Sections in both byte orders, 2^-n and 10^-9 resolutions, if_tsoffset, SPB, PB, DSB."""
    p = tmp_path / "multi.pcapng"
    p.write_bytes(pcapng_build.multi_section_file())
    assert ours(p) == theirs(p)
    m = tmp_path / "modified.pcap"
    m.write_bytes(pcapng_build.modified_pcap())
    assert ours(m) == theirs(m)


@pytest.mark.parametrize("fmt,nano", [("pcap", False), ("pcap", True), ("pcapng", True)])
def test_writer_read_by_tshark(tmp_path: Path, live: dict[str, Path], fmt: str, nano: bool) -> None:
    out = tmp_path / f"w.{fmt}"
    src = list(CaptureReader(live["ns"]))
    with CaptureWriter(out, format=fmt, nanosecond=nano) as w:
        if fmt == "pcapng":
            w.write_secrets(SECRETS_TLS, b"CLIENT_RANDOM " + b"00" * 32 + b" " + b"11" * 48 + b"\n")
        for f in src:
            w.write(f.data, ts_ns=f.ts_ns)
    rows = tshark_fields(out, "frame.time_epoch", "frame.len", "frame.cap_len", "udp.payload")
    assert len(rows) == len(src)
    for (t, ln, cl, payload), f in zip(rows, src, strict=True):
        assert int(Decimal(t) * 10**9) == (f.ts_ns if nano else f.ts_ns // 1000 * 1000)
        assert int(ln) == int(cl) == len(f.data)
        # tshark decodes the UDP payload we wrote: the bytes tcpdump captured (IPv4 + UDP on
        # Ethernet: 14 + 20 + 8 header bytes)
        assert bytes.fromhex(payload) == f.data[42:]
    if fmt == "pcapng":
        # editcap keeps our DSB when rewriting; the copy still holds it
        copy = tmp_path / "copy.pcapng"
        subprocess.run(["editcap", str(out), str(copy)], check=True)
        with CaptureReader(copy) as r:
            list(r)
            assert r.secrets == [(SECRETS_TLS, r.secrets[0][1])] and r.secrets[0][1].startswith(
                b"CLIENT_RANDOM"
            )
