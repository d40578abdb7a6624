"""``stats`` and ``report`` as units of work (issue 21): with ``--jobs 2`` (forked processes),
``--dask-workers 2`` (an embedded LocalCluster) and on a separate ``dask scheduler`` with two
``dask worker`` processes, ``stats`` prints the one-process lines (text and ``--json``) in the
one-process order, ``report`` writes the one-process page byte for byte, with the same exit
status.  The reference is the one-process run of the same files."""

from __future__ import annotations

import importlib.util
import json
import random
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from netsec_layers.cli import status
from netsec_layers.cli.main import main
from tests.cluster.conftest import PCAPS, ROOT, editcap_split

pytestmark = pytest.mark.integration  # editcap, forked processes, dask processes

# one file of each kind, with the keys that decrypt it: TLS 1.3, ESP (two SAs, ESN), SSH,
# DTLS, IKEv2 + its ESP in UDP; all but the TLS/SSH/DTLS samples (127.0.0.1) are host pairs
# of their own, so the files make several chains
SAMPLES = {
    "tls/tls13-keyupdate.pcap": ["--keylog", "tls/tls13-keyupdate.keys"],
    "esp/esp-transport-gcm.pcap": ["--esp-sa", "esp/esp-transport-gcm.esp_sa"],
    "esp/esp-esn-cbc-sha256.pcap": ["--esp-sa", "esp/esp-esn-cbc-sha256.json"],
    "ssh/ssh-sample.pcap": ["--ssh-keylog", "ssh/ssh-sample.keys"],
    "dtls/gnutls-dtls12-gcm.pcap": ["--keylog", "dtls/gnutls-dtls12-gcm.keys"],
    "ike/strongswan_ikev2.pcap": ["--esp-sa", "ike/strongswan_ikev2.esp_sa"],
    "mail/smtp-aiosmtpd.pcap": ["--keylog", "mail/smtp-aiosmtpd.keys"],  # SMTP rows, STARTTLS
}
MODES = {"jobs": ["--jobs", "2"]}
if importlib.util.find_spec("distributed") is not None:  # the 'cluster' extra
    MODES["local"] = ["--dask-workers", "2"]


@pytest.fixture(scope="module")
def mixed(
    tmp_path_factory: pytest.TempPathFactory, synth_tls: tuple[Path, Path]
) -> tuple[Path, list[str]]:
    """A directory: the 6-connection synthetic TLS capture rotated by ``editcap -c 70`` (5
    files sharing connections) and copies of the samples; the key options for all of them."""
    d = tmp_path_factory.mktemp("mixed")
    cap, keys = synth_tls
    editcap_split(cap, d, 70)
    args = ["--keylog", str(keys)]
    for sample, key_args in SAMPLES.items():
        shutil.copy(PCAPS / sample, d)
        args += [key_args[0], str(PCAPS / key_args[1])]
    return d, args


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _units(d: Path, *options: str) -> int:
    """How many units the plan cuts the files of ``d`` into (the test's premise)."""
    import argparse

    from netsec_layers.cli.cluster import plan
    from netsec_layers.cli.common import Progress
    from netsec_layers.io.cluster import process_executor

    ns = argparse.Namespace(rsa_key=[], ike_keys=[], quiet=True, progress=False)
    with process_executor(2) as ex:
        infos, units = plan(ex, [str(d)], Progress.for_args(ns), together=False)
    assert len(infos) == 12
    return len(units)


def test_stats_same_lines(
    capsys: pytest.CaptureFixture[str], mixed: tuple[Path, list[str]]
) -> None:
    d, keys = mixed
    assert _units(d) >= 2  # several units, so the merge is what is tested
    for fmt in ([], ["--json"]):
        rc, one, _ = run(capsys, "stats", str(d), *keys, *fmt)
        assert rc == status.DONE
        lines = one.splitlines()
        assert len(lines) > 30
        if fmt:  # every file contributed: rows of every protocol, the 6 synthetic connections
            rows = [json.loads(line) for line in lines]
            protos = {r["proto"] for r in rows}
            assert protos == {"tls", "esp", "ssh", "dtls", "ike", "smtp"}
            assert sum(1 for r in rows if r["proto"] == "tls" and r["decrypted"] == 42) == 6
            streams = [r["stream"] for r in rows if r["proto"] == "tls"]
            assert streams == sorted(streams) and len(set(streams)) == 7
        for mode, opts in MODES.items():
            rc, out, _ = run(capsys, "stats", str(d), *keys, *fmt, *opts)
            assert rc == status.DONE, mode
            assert out == one, mode


def test_report_same_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mixed: tuple[Path, list[str]]
) -> None:
    d, keys = mixed
    ref = tmp_path / "one.html"
    rc, _, err = run(capsys, "report", str(d), *keys, "-o", str(ref))
    assert rc == status.DONE and "11 connections, 23 ESP/AH SAs, 6 IKE SAs" in err
    page = ref.read_bytes()
    assert page.count(b'<section class="conversation"') == 11
    for mode, opts in MODES.items():
        out = tmp_path / f"{mode}.html"
        rc, _, err2 = run(capsys, "report", str(d), *keys, "-o", str(out), *opts)
        assert rc == status.DONE and err2.replace(str(out), str(ref)) == err, mode
        assert out.read_bytes() == page, mode


def test_truncated_file_incomplete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], synth_tls: tuple[Path, Path]
) -> None:
    """A file cut short: status INCOMPLETE and the same warning (the path as given), the same
    lines and the same page (whose warnings name it)."""
    cap, keys = synth_tls
    parts = editcap_split(cap, tmp_path / "rot", 70)
    cut = parts[1].read_bytes()
    parts[1].write_bytes(cut[:-30])
    argv = [*map(str, parts), "--keylog", str(keys)]
    rc, one, err = run(capsys, "stats", *argv)
    assert rc == status.INCOMPLETE and f"capture ends early: {parts[1]}: " in err
    assert len(one.splitlines()) == 6
    assert run(capsys, "stats", *argv, "--jobs", "2") == (rc, one, err)
    pages = []
    for opts in ([], ["--jobs", "2"]):
        out = tmp_path / f"r{len(opts)}.html"
        assert run(capsys, "report", "-q", *argv, "-o", str(out), *opts)[0] == status.INCOMPLETE
        pages.append(out.read_bytes())
    assert pages[0] == pages[1] and b"capture ends early" in pages[0]


def _shuffled_closings(src: Path, dst: Path) -> None:
    """Every connection of ``src`` opened in turn, then closed (from its first FIN/RST on) in
    a shuffled order: more than the 1,000 closed connections the table keeps, so one process
    prints the first ones as they are released, in closing order, not by stream number."""
    from netsec_layers.io.pcap import CaptureWriter, open_capture

    conns: dict[tuple[bytes, bytes], list[list[bytes]]] = {}
    with open_capture(str(src)) as reader:
        for f in reader:
            d = f.data
            t = 14 + (d[14] & 15) * 4
            sport, dport = struct.unpack_from("!HH", d, t)
            a, b = d[26:30] + struct.pack("!H", sport), d[30:34] + struct.pack("!H", dport)
            opening, closing = conns.setdefault((min(a, b), max(a, b)), [[], []])
            (closing if closing or d[t + 13] & 0x05 else opening).append(d)
    order = list(conns)
    random.Random(21).shuffle(order)
    frames = [d for c in conns.values() for d in c[0]] + [d for k in order for d in conns[k][1]]
    with open(dst, "wb") as fh, CaptureWriter(fh, format="pcap", linktype=1, nanosecond=True) as w:
        for i, data in enumerate(frames):
            w.write(data, ts_ns=1_700_000_000 * 10**9 + i * 1000)


def test_release_order_past_the_closed_pool(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """1,100 connections closed in shuffled order: one process prints the first 100 closed as
    the table releases them, then the rest by stream number; each of 3 host-pair parts holds
    fewer than 1,000 closed ones, so the lead replays the pool over every part's closings."""
    cap, keys = tmp_path / "big.pcap", tmp_path / "big.keys"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "synth.py"), "tls12", str(cap), "--keys", str(keys),
         "--connections", "1100", "--records", "1"],
        check=True, capture_output=True, cwd=ROOT,
    )  # fmt: skip
    shuf = tmp_path / "shuf.pcap"
    _shuffled_closings(cap, shuf)
    argv = ["stats", str(shuf), "--keylog", str(keys)]
    rc, one, _ = run(capsys, *argv)
    streams = [int(line.split()[1][1:]) for line in one.splitlines()]
    assert rc == status.DONE and sorted(streams) == list(range(1100))
    assert streams[:100] != sorted(streams[:100]) and streams[100:] == sorted(streams[100:])
    assert run(capsys, *argv, "--jobs", "3")[:2] == (rc, one)
    pages = []
    for opts in ([], ["--jobs", "3"]):  # past MAX_ITEMS (300) connections: the same are drawn
        out = tmp_path / f"r{len(opts)}.html"
        assert run(capsys, "report", "-q", str(shuf), "--keylog", str(keys), "-o", str(out),
                   *opts)[0] == status.DONE  # fmt: skip
        pages.append(out.read_bytes())
    assert pages[0] == pages[1] and b"past 300 not drawn" in pages[0]


def test_on_scheduler(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mixed: tuple[Path, list[str]],
    dask_scheduler: str,
) -> None:
    """The separate ``dask scheduler`` + 2 ``dask worker`` processes: the same lines and page;
    a file that is not a capture fails on a worker: status 2, one message, no page."""
    pytest.importorskip("distributed")
    d, keys = mixed
    rc, one, _ = run(capsys, "stats", str(d), *keys, "--json")
    assert rc == status.DONE and len(one.splitlines()) > 30
    rc, out, _ = run(capsys, "stats", str(d), *keys, "--json", "--cluster", dask_scheduler)
    assert (rc, out) == (status.DONE, one)
    pages = []
    for opts in ([], ["--cluster", dask_scheduler]):
        page = tmp_path / f"r{len(opts)}.html"
        assert run(capsys, "report", "-q", str(d), *keys, "-o", str(page), *opts)[0] == 0
        pages.append(page.read_bytes())
    assert pages[0] == pages[1]
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"not a capture at all" * 10)
    argv = [str(d / "tls13-keyupdate.pcap"), str(junk), "--cluster", dask_scheduler]
    rc, out, err = run(capsys, "stats", *argv)
    assert rc == 2 and out == "" and err.startswith("netsec: ") and len(err.splitlines()) == 1
    assert run(capsys, "report", "-q", *argv, "-o", str(tmp_path / "j.html"))[0] == 2
    assert not (tmp_path / "j.html").exists()


def test_keys_force_one_unit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mixed: tuple[Path, list[str]]
) -> None:
    """``--ike-keys`` (CHILD_SAs derived from IKE): every file in one unit, the same lines."""
    d, keys = mixed
    ike = ["--ike-keys", str(PCAPS / "ike" / "strongswan_ikev2.ikev2_decryption_table")]
    rc, one, _ = run(capsys, "stats", str(d), *keys, *ike)
    assert rc == status.DONE and len(one.splitlines()) > 30
    assert run(capsys, "stats", str(d), *keys, *ike, "--jobs", "2")[:2] == (rc, one)
