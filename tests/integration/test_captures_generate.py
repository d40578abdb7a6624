"""The TLS sample captures and their ground truth, checked with tshark only (no netsec code).

* A few scenarios are regenerated into a temporary directory with tools/make_tls_captures.py
  (real OpenSSL / GnuTLS / Python ssl peers, tcpdump) and tshark must decrypt them with the key
  log to exactly the bytes the peers sent (sidecar). This validates the tool and its sidecars.
* Every shipped sample in pcaps/tls/ must decrypt in tshark to its sidecar's bytes, per
  connection and direction, record by record (and with ``follow,tls`` for the regenerated ones).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import tshark_util
from tests.tshark_util import (
    load_sidecar,
    sidecar_bytes,
    tshark_follow_tcp,
    tshark_follow_tls,
    tshark_tls_records,
)

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "tools" / "make_tls_captures.py"
SAMPLES = REPO / "pcaps" / "tls"
SIDECARS = sorted(SAMPLES.glob("*.json"))
# Regenerated at test time: static RSA (key-only decryption), KeyUpdate, GnuTLS echo, and the
# large transfer that is too big to ship.
REGENERATED = ["tls12-rsa-aes128gcm", "tls13-keyupdate", "gnutls-tls12", "large-transfer"]

pytestmark = pytest.mark.integration


def _directions(recs: list[dict[str, Any]], stream: int, server_port: int) -> tuple[bytes, bytes]:
    """Decrypted application data per direction from tshark's per-record view."""
    c2s = b"".join(
        bytes.fromhex(r["app_data"])
        for r in recs
        if r["stream"] == stream and r["app_data"] and r["dst_port"] == server_port
    )
    s2c = b"".join(
        bytes.fromhex(r["app_data"])
        for r in recs
        if r["stream"] == stream and r["app_data"] and r["src_port"] == server_port
    )
    return c2s, s2c


def _check_sample(directory: Path, meta: dict[str, Any], *, follow: bool = True) -> None:
    """tshark's decryption of one sample equals its sidecar; ``follow`` adds the follow,tls view."""
    pcap, keylog, port = directory / meta["pcap"], directory / meta["keylog"], meta["server_port"]
    recs = tshark_tls_records(pcap, keylog=keylog, ports=[port])
    assert recs, "tshark sees no TLS record"
    streams = sorted({r["stream"] for r in recs})
    assert streams == list(range(len(meta["connections"])))
    for conn in meta["connections"]:
        stream = conn["tcp_stream"]
        want = (sidecar_bytes(conn, "c2s"), sidecar_bytes(conn, "s2c"))
        assert len(want[0]) == conn["c2s_length"] and len(want[1]) == conn["s2c_length"]
        if follow:
            assert tshark_follow_tls(pcap, stream, keylog=keylog, ports=[port]) == want
        assert _directions(recs, stream, port) == want
        ports = {(r["src_port"], r["dst_port"]) for r in recs if r["stream"] == stream}
        assert ports == {(conn["client_port"], port), (port, conn["client_port"])}
        if meta["handshake_fails"]:
            continue
        # The handshake messages tshark decrypts match what the sidecar recorded.
        for direction, to_server in (("c2s", True), ("s2c", False)):
            types = [
                t
                for r in recs
                if r["stream"] == stream and (r["dst_port"] == port) == to_server
                for t in r["handshake_types"]
            ]
            assert types == conn["handshake_types"][direction]
        # Each side ends with close_notify, which tshark decrypts with the key log.
        alerts = [r["alert"] for r in recs if r["stream"] == stream and r["content_type"] == 21]
        assert alerts and all(a == [1, 0] for a in alerts)
    if meta["rsa_key"]:
        # Static RSA key exchange: the server's private key alone decrypts everything.
        for conn in meta["connections"]:
            got = tshark_follow_tls(
                pcap, conn["tcp_stream"], rsa_key=directory / meta["rsa_key"], ports=[port]
            )
            assert got == (sidecar_bytes(conn, "c2s"), sidecar_bytes(conn, "s2c"))


# --------------------------------------------------------------------------- shipped samples


def test_samples_exist_and_are_small() -> None:
    names = {p.stem for p in SIDECARS}
    assert len(names) >= 20
    for name in names:
        assert (SAMPLES / f"{name}.pcap").is_file() and (SAMPLES / f"{name}.keys").is_file()
    total = sum(p.stat().st_size for p in SAMPLES.iterdir())
    assert total < 2_500_000, f"pcaps/tls is {total} bytes"


@pytest.mark.parametrize("sidecar", SIDECARS, ids=[p.stem for p in SIDECARS])
def test_shipped_sample_decrypts_to_sidecar_bytes(sidecar: Path) -> None:
    # Record by record only (one tshark run per sample keeps this fast); follow,tls is exercised
    # on the regenerated captures and on the key-only RSA samples.
    _check_sample(SAMPLES, load_sidecar(sidecar), follow=False)


def test_handshake_failure_sample_has_plaintext_alert() -> None:
    meta = load_sidecar(SAMPLES / "tls12-handshake-failure.json")
    recs = tshark_tls_records(SAMPLES / meta["pcap"], ports=[meta["server_port"]])
    assert [r["alert"] for r in recs if r["content_type"] == 21] == [[2, 40]]  # handshake_failure
    assert not any(r["content_type"] == 23 for r in recs)


def test_without_keys_tshark_decrypts_nothing() -> None:
    """Negative control: the key log is what makes the sidecar bytes appear."""
    meta = load_sidecar(SAMPLES / "tls13-aes128gcm.json")
    recs = tshark_tls_records(SAMPLES / meta["pcap"], ports=[443])
    assert recs and all(r["app_data"] is None for r in recs)
    assert tshark_follow_tls(SAMPLES / meta["pcap"], 0, ports=[443]) == (b"", b"")
    c2s, s2c = tshark_follow_tcp(SAMPLES / meta["pcap"], 0)
    assert c2s[:1] == b"\x16" and s2c[:1] == b"\x16"  # handshake records both ways


@pytest.mark.parametrize("name", ["tls13-dsb", "tls12-dsb"])
def test_pcapng_with_decryption_secrets_block(name: str) -> None:
    """The pcapng copy carries the key log itself: tshark decrypts it with no key option."""
    meta = load_sidecar(SAMPLES / f"{name}.json")
    conn = meta["connections"][0]
    want = (sidecar_bytes(conn, "c2s"), sidecar_bytes(conn, "s2c"))
    assert (SAMPLES / meta["pcapng_dsb"]).read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
    assert tshark_follow_tls(SAMPLES / meta["pcapng_dsb"], 0, ports=[443]) == want


def test_early_data_sample() -> None:
    meta = load_sidecar(SAMPLES / "tls13-early-data.json")
    first, second = meta["connections"]
    assert not first["resumed"] and second["resumed"] and 5 in second["handshake_types"]["c2s"]
    recs = tshark_tls_records(SAMPLES / meta["pcap"], keylog=SAMPLES / meta["keylog"], ports=[443])
    # The first application data of connection 1 precedes the client's Finished: 0-RTT.
    stream1 = [r for r in recs if r["stream"] == 1 and r["dst_port"] == 443]
    first_app = next(i for i, r in enumerate(stream1) if r["content_type"] == 23)
    finished = next(i for i, r in enumerate(stream1) if 20 in r["handshake_types"])
    assert first_app < finished
    assert sidecar_bytes(second, "c2s").startswith(bytes.fromhex(stream1[first_app]["app_data"]))


# --------------------------------------------------------------------------- regeneration


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.geteuid() != 0:
        pytest.fail("make_tls_captures.py needs root (network namespace, tcpdump)")
    out = tmp_path_factory.mktemp("captures")
    proc = subprocess.run(
        [sys.executable, str(TOOL), "--out", str(out), "--only", *REGENERATED],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ, CI="true"),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@pytest.mark.root
@pytest.mark.slow
@pytest.mark.parametrize("name", REGENERATED)
def test_regenerated_capture_matches_ground_truth(
    regenerated: Path, name: str, tmp_path: Path
) -> None:
    meta = json.loads((regenerated / f"{name}.json").read_text())
    assert meta["name"] == name and meta["regenerate"].endswith(f"--only {name}")
    assert meta["cipher_suite_code"] > 0 and meta["commands"]
    directory = regenerated
    for attempt in range(3):
        try:
            _check_sample(directory, meta)
            return
        except AssertionError:
            # tcpdump on a busy loopback sometimes records segments out of order (about one
            # large-transfer capture in four here); tshark 4.0's TLS reassembly then stops
            # (netsec decrypts those captures fully): such a capture is no ground truth for
            # tshark, so it is made again, as captures with dropped packets are.  tshark does
            # not always flag it (CI, session 5: s2c empty with no out-of-order expert note), so
            # any mismatch is made again; three failing captures in a row still fail.
            if attempt == 2:
                raise
        directory = tmp_path / f"again{attempt}"
        proc = subprocess.run(
            [sys.executable, str(TOOL), "--out", str(directory), "--only", name],
            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
            env=dict(os.environ, CI="true"),
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        meta = json.loads((directory / f"{name}.json").read_text())


@pytest.mark.root
@pytest.mark.slow
def test_large_transfer_spans_many_segments(regenerated: Path) -> None:
    meta = json.loads((regenerated / "large-transfer.json").read_text())
    conn = meta["connections"][0]
    assert conn["c2s_length"] >= 200_000 and conn["s2c_length"] >= 200_000
    assert "c2s_hex" not in conn  # large payloads are stored as a recipe + sha256
    recs = tshark_tls_records(
        regenerated / meta["pcap"], keylog=regenerated / meta["keylog"], ports=[443]
    )
    big = [r for r in recs if r["content_type"] == 23 and r["length"] > 8000]
    assert len(big) >= 20  # many full-size records, each reassembled from several segments


def test_list_option() -> None:
    proc = subprocess.run(
        [sys.executable, str(TOOL), "--list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    names = {line.split()[0] for line in proc.stdout.splitlines() if line.strip()}
    assert {p.stem for p in SIDECARS} <= names and "large-transfer" in names


def test_missing_tshark_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tshark_util.shutil, "which", lambda _name: None)
    with pytest.raises(tshark_util.TsharkMissingError):
        tshark_util.run_tshark(["-v"])
