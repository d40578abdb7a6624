"""Live DTLS evidence: real OpenSSL 3.0 and GnuTLS 3.7 peers on 127.0.0.1 over UDP, captured
with tcpdump by tools/make_dtls_captures.py (in a private network namespace), decrypted by
the DTLS tracker to exactly what the peers sent; tshark 4.0 run live agrees record by record
(and its output equals the recorded vectors the unit tests use)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netsec_layers.session.dtls import DTLSTracker
from tests.layers.dtls._dtls_tshark import sample_list, tshark_dtls_fields
from tests.session.dtls._dtls_feed import datagrams, run, sample_keys

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "tools" / "make_dtls_captures.py"
VECTORS = json.loads((REPO / "tests" / "vectors" / "dtls" / "tshark_records.json").read_text())
LIVE = ["ossl-dtls12-chacha20", "gnutls-dtls12-gcm", "ossl-dtls1-cbc"]

pytestmark = pytest.mark.integration


def _require(*programs: str) -> None:
    missing = [p for p in programs if shutil.which(p) is None]
    assert not missing, f"missing {missing} (apt-get install openssl gnutls-bin tcpdump tshark)"


@pytest.fixture(scope="module")
def live_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _require("openssl", "gnutls-serv", "gnutls-cli", "tcpdump", "tshark", "ip")
    assert os.geteuid() == 0, "needs root (network namespace, tcpdump)"
    out = tmp_path_factory.mktemp("dtls")
    argv = [sys.executable, str(TOOL), "--out", str(out)]
    for name in LIVE:
        argv += ["--only", name]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@pytest.mark.parametrize("name", LIVE)
def test_live_peers_decrypt_to_what_they_sent(live_dir: Path, name: str) -> None:
    meta = json.loads((live_dir / f"{name}.json").read_text())
    from netsec_layers.keys.keylog import load_keylog
    from netsec_layers.session.tls_keys import TLSKeyMaterial

    keys = TLSKeyMaterial()
    keys.add_keylog(load_keylog(str(live_dir / f"{name}.keys")))
    tracker = DTLSTracker(keys)
    events = run(tracker, datagrams(live_dir / f"{name}.pcap"))
    assert all(e.error is None for e in events)
    assoc = tracker.associations()[0]
    assert assoc.finished_ok == {"client": True, "server": True}
    assert assoc.suite == meta["suite"]
    c2s = b"".join(
        e.plaintext or b"" for e in events if e.inner_content_type == 23 and e.from_client
    )
    s2c = b"".join(
        e.plaintext or b"" for e in events if e.inner_content_type == 23 and not e.from_client
    )
    conn = meta["connections"][0]
    assert (c2s, s2c) == (bytes.fromhex(conn["c2s"]), bytes.fromhex(conn["s2c"]))
    # tshark live: the same record headers, frame by frame
    t = tshark_dtls_fields(live_dir / f"{name}.pcap", meta["port"], live_dir / f"{name}.keys")
    for e_frame, row in t.items():
        ours = [e for e in events if e.frame == e_frame]
        assert [e.seq for e in ours] == row["dtls.record.sequence_number"]
        assert [e.epoch for e in ours] == row["dtls.record.epoch"]
        assert [e.length for e in ours] == row["dtls.record.length"]


def test_recorded_tshark_vectors_are_what_tshark_says() -> None:
    _require("tshark")
    for s in sample_list():
        live = tshark_dtls_fields(s["pcap"], s["port"], s["keys"])
        assert {str(k): v for k, v in live.items()} == VECTORS[s["scenario"]]["decrypted"]


def test_shipped_samples_decrypt_with_their_key_logs() -> None:
    for s in sample_list():
        tracker = DTLSTracker(sample_keys(s["scenario"]))
        events = run(tracker, datagrams(s["pcap"]))
        assert events and all(e.error is None for e in events), s["scenario"]
