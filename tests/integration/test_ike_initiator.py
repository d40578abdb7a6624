"""The Sans-I/O IKEv2 initiator against a real strongSwan responder (charon 5.9, namespaces).

tools/ike_capture.py's peers are started, the initiator-side charon is stopped, and
tools/ike_initiator_run.py takes its place in that namespace (same address, IDs and PSK as
connection ``c1``): IKE_SA_INIT + IKE_AUTH (PSK), ESP (AES-GCM, UDP-encapsulated) through the
first CHILD_SA, CREATE_CHILD_SA with a new Curve25519 exchange and ESP through it, Delete.
Evidence that strongSwan accepted it: its ESP echo replies (decrypted here), its SA list, and
its log; the capture of the run decrypts with the key file the initiator wrote, in netsec and
in tshark 4.0 (same plaintext)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netsec_layers.keys.ike_keys import parse_ike_keys
from netsec_layers.session.engine import CaptureEngine, iter_capture
from netsec_layers.session.ike import IKEMessage, IKETracker
from tests.tshark_util import run_tshark

pytestmark = [pytest.mark.integration, pytest.mark.root, pytest.mark.slow]

TOOLS = Path(__file__).resolve().parents[2] / "tools"


def _rig():
    spec = importlib.util.spec_from_file_location("ike_capture_for_init", TOOLS / "ike_capture.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, dict, str]:
    assert os.geteuid() == 0, "this test needs root (network namespaces)"
    assert shutil.which("tcpdump") and shutil.which("tshark"), "tcpdump and tshark are required"
    rig = _rig()
    sp = rig.sp
    sp.NS = {"a": "nslikei-a", "b": "nslikei-b"}
    sp.VETH = {"a": "nslikeia0", "b": "nslikeib0"}
    work = tmp_path_factory.mktemp("ike-init")
    with sp.Peers(work / "peers") as peers:
        a = peers._procs[0]  # charon of side A: the initiator replaces it
        a.terminate()
        a.wait(timeout=10)
        pcap = work / "init.pcap"
        with peers.capture("a", sp.VETH["a"], pcap):
            r = subprocess.run(
                [
                    "ip",
                    "netns",
                    "exec",
                    sp.NS["a"],
                    sys.executable,
                    str(TOOLS / "ike_initiator_run.py"),
                    "--local",
                    sp.OUTER["a"],
                    "--remote",
                    sp.OUTER["b"],
                    "--psk",
                    sp.PSK,
                    "--id-i",
                    "a-c1@netsec",
                    "--id-r",
                    "b-c1@netsec",
                    "--ts",
                    f"{sp.inner_addr('a', 1)}:{sp.inner_addr('b', 1)}",
                    "--child-ts",
                    f"{sp.inner_addr('a', 2)}:{sp.inner_addr('b', 2)}",
                    "--child-esp",
                    "12:128:12",
                    "--out",
                    str(work),
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )
        log = peers.log("b")
    result = json.loads((work / "result.json").read_text())
    assert r.returncode == 0, (r.stdout, r.stderr[-2000:], result.get("error"))
    return work, result, log


def test_strongswan_completes_exchanges_and_accepts_esp(run) -> None:
    work, result, log = run
    assert result["established"] and result["liveness_answered"]
    # strongSwan decrypted our ESP and answered through the tunnel
    assert result["reply1"] == "netsec initiator ping 1"
    assert result["reply2"] == "netsec initiator ping 2 (PFS child)"
    assert "IKE_SA c1[" in log and "established between" in log
    assert log.count("CHILD_SA c1gcm{") and log.count("CHILD_SA c1pfs{")
    assert "selected proposal: ESP:AES_GCM_16_128/NO_EXT_SEQ" in log
    assert "selected proposal: ESP:AES_CBC_128/HMAC_SHA2_256_128/CURVE_25519/NO_EXT_SEQ" in log
    assert "ESP decryption or ICV verification failed" not in log
    assert len(result["child_spis"]) == 2
    # the deliberately broken messages: charon says why it dropped each
    assert "verifying encrypted payload integrity failed" in log  # bad ICV
    assert "padding invalid" in log and result["bad_padding_answer"] == 7  # INVALID_SYNTAX
    assert re.search(r"received message ID \d+, expected \d+, ignored", log)  # wrong M-ID


def test_capture_decrypts_with_the_initiators_key_file(run) -> None:
    work, result, _ = run
    keys = parse_ike_keys((work / "ike.json").read_text())
    eng = CaptureEngine(trackers=[IKETracker(keys)])
    units = [u for r in iter_capture(str(work / "init.pcap"), eng) for u in r.units]
    ike = [u for u in units if isinstance(u, IKEMessage)]
    enc = [m for m in ike if m.exchange_type != 34]
    # the two broken requests the initiator sent on purpose are caught, everything else opens
    bad = sorted(m.verdict.name for m in enc if not m.decrypted)
    assert bad == ["BAD_ICV", "MALFORMED"], [(m.frame, m.error) for m in enc if not m.decrypted]
    enc = [m for m in enc if m.decrypted]
    assert len(enc) >= 8
    assert {m.auth_verdict.value for m in ike if m.auth_verdict} == {"verified"}
    assert eng.stats.esp_packets >= 4 and eng.stats.esp_decrypted == eng.stats.esp_packets
    # tshark with the Wireshark line the initiator wrote decrypts the same messages
    line = (work / "ikev2_decryption_table").read_text().strip()
    out = run_tshark(
        [
            "-n",
            "-r",
            str(work / "init.pcap"),
            "-o",
            f"uat:ikev2_decryption_table:{line}",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "isakmp.typepayload",
            "-E",
            "occurrence=a",
            "-Y",
            "isakmp.enc.contained",
        ]
    )
    frames = {int(r.split("\t")[0]): r.split("\t")[1] for r in out.splitlines() if "\t" in r}
    compared = 0
    for m in enc:
        if not m.inner_payloads:  # an empty SK (the Delete response): no contained payloads
            continue
        types = [int(t) for t in frames[m.frame].split(",")][1:]
        assert [t for t in types if t not in (2, 3)] == m.inner_payloads, m.frame
        compared += 1
    assert compared >= 5
