"""``netsec dissect CAPTURE [--keylog F] [--rsa-key K] --json`` on the DTLS samples: one object
per DTLS record with the contract keys of issue 16, the record fields as tshark 4.0 reports
them (recorded vectors), app_data equal to what the OpenSSL/GnuTLS peers sent (sidecars)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "pcaps" / "dtls"
VECTORS = json.loads((REPO / "tests" / "vectors" / "dtls" / "tshark_records.json").read_text())
CONTRACT = {
    "proto", "frame", "stream", "dir", "content_type", "version", "epoch", "seq", "length",
    "decrypted", "inner_content_type", "handshake_types", "alert", "app_data", "error",
}  # fmt: skip


def _dissect(*args: str) -> list[dict]:  # type: ignore[type-arg]
    proc = subprocess.run(
        [sys.executable, "-m", "netsec_layers", "dissect", *args, "--json", "-q"],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("name", "key_args"),
    [
        ("ossl-dtls12-resume", ["--keylog"]),
        ("gnutls-dtls10-cbc", ["--keylog"]),
        ("ossl-dtls12-rsa-ccm8", ["--rsa-key"]),
    ],
)
def test_dissect_json_contract(name: str, key_args: list[str]) -> None:
    key = SAMPLES / (f"{name}.keys" if key_args == ["--keylog"] else f"{name}.rsa.pem")
    objs = [o for o in _dissect(str(SAMPLES / f"{name}.pcap"), *key_args, str(key))]
    assert objs and all(o["proto"] == "dtls" for o in objs)
    assert all(CONTRACT <= set(o) for o in objs)
    assert all(o["error"] is None for o in objs)
    want = VECTORS[name]["decrypted"]
    for frame, row in want.items():
        mine = [o for o in objs if o["frame"] == int(frame)]
        assert [o["seq"] for o in mine] == row["dtls.record.sequence_number"]
        assert [o["epoch"] for o in mine] == row["dtls.record.epoch"]
        assert [o["version"] for o in mine] == row["dtls.record.version"]
        assert [o["content_type"] for o in mine] == row["dtls.record.content_type"]
        assert [o["length"] for o in mine] == row["dtls.record.length"]
        assert [t for o in mine for t in o["handshake_types"]] == row["dtls.handshake.type"]
    meta = json.loads((SAMPLES / f"{name}.json").read_text())
    for stream, conn in enumerate(meta["connections"]):
        for d, key_ in (("c2s", "c2s"), ("s2c", "s2c")):
            got = b"".join(
                bytes.fromhex(o["app_data"])
                for o in objs
                if o["stream"] == stream and o["dir"] == d and o["app_data"]
            )
            assert got == bytes.fromhex(conn[key_])
            assert all(
                o["decrypted"] and o["inner_content_type"] == 23
                for o in objs
                if o["stream"] == stream and o["dir"] == d and o["app_data"]
            )


def test_dissect_without_keys_and_verbose() -> None:
    objs = _dissect(str(SAMPLES / "ossl-dtls12-chacha20.pcap"))
    enc = [o for o in objs if o["epoch"]]
    assert enc and all(not o["decrypted"] and o["inner_content_type"] is None for o in enc)
    assert all(o["error"] == "no key for this association" for o in enc)
    proc = subprocess.run(
        [sys.executable, "-m", "netsec_layers", "dissect", str(SAMPLES / "ossl-dtls12-chacha20.pcap"),
         "--keylog", str(SAMPLES / "ossl-dtls12-chacha20.keys"), "-V", "-q"],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "###[ DTLS Record ]###" in proc.stdout and "DTLS ClientHello" in proc.stdout
    assert "server reply" in bytes.fromhex(
        next(o["app_data"] for o in _dissect(
            str(SAMPLES / "ossl-dtls12-chacha20.pcap"), "--keylog",
            str(SAMPLES / "ossl-dtls12-chacha20.keys")) if o["dir"] == "s2c" and o["app_data"])
    ).decode()  # fmt: skip


@pytest.mark.integration
def test_pcapng_decryption_secrets_block(tmp_path: Path) -> None:
    """Keys from a pcapng DSB (written by editcap --inject-secrets, Wireshark's own tool)."""
    import shutil

    assert shutil.which("editcap"), "editcap is missing (apt-get install tshark)"
    out = tmp_path / "dsb.pcapng"
    subprocess.run(
        ["editcap", "--inject-secrets", f"tls,{SAMPLES / 'gnutls-dtls12-gcm.keys'}",
         str(SAMPLES / "gnutls-dtls12-gcm.pcap"), str(out)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    objs = _dissect(str(out))
    app = [o for o in objs if o["app_data"]]
    meta = json.loads((SAMPLES / "gnutls-dtls12-gcm.json").read_text())["connections"][0]
    assert [bytes.fromhex(o["app_data"]) for o in app] == [
        bytes.fromhex(meta["c2s"]),
        bytes.fromhex(meta["s2c"]),
    ]


def test_stats_rows_per_association() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "netsec_layers", "stats", str(SAMPLES / "ossl-dtls12-resume.pcap"),
         "--keylog", str(SAMPLES / "ossl-dtls12-resume.keys"), "--json", "-q"],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in proc.stdout.splitlines() if '"dtls"' in x]
    assert [r["stream"] for r in rows] == [0, 1]
    assert [r["resumed"] for r in rows] == [False, True]  # s_client -sess_in
    assert all(r["cookie_exchange"] and r["version"] == "DTLS 1.2" for r in rows)
    assert all(r["finished_ok"] == {"client": True, "server": True} for r in rows)
    assert all(r["decrypted"] == 6 and r["failed"] == 0 for r in rows)
