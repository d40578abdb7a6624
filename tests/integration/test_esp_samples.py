"""The crafted IPsec samples in pcaps/esp (tools/make_esp_samples.py), checked by other readers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tshark_util import run_tshark

REPO = Path(__file__).resolve().parents[2]
ESP = REPO / "pcaps" / "esp"
SAMPLES = {
    "esp-transport-gcm": "esp_sa",
    "esp-esn-cbc-sha256": "json",
    "esp-ipv6-chacha20": "json",
    "esp-natt-tfc": "esp_sa",
    "ah-transport-sha256": "json",
}


def _dissect(name: str) -> list[dict]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "netsec_layers",
            "dissect",
            str(ESP / f"{name}.pcap"),
            "--esp-sa",
            str(ESP / f"{name}.{SAMPLES[name]}"),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_packet_of_every_sample_decrypts(name: str) -> None:
    rows = _dissect(name)
    assert rows and all(r["decrypted"] and r["error"] is None for r in rows)


def test_esn_sample_crosses_the_32_bit_wrap() -> None:
    rows = _dissect("esp-esn-cbc-sha256")
    assert [r["seq"] for r in rows] == [2**32 - 5 + i for i in range(5)] + list(range(5))


def test_samples_are_reproducible(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(REPO / "tools" / "make_esp_samples.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    for f in ESP.iterdir():
        assert (tmp_path / f.name).read_bytes() == f.read_bytes(), f.name


@pytest.mark.integration
@pytest.mark.parametrize("name", ["esp-transport-gcm", "esp-natt-tfc"])
def test_tshark_decrypts_the_gcm_samples(name: str) -> None:
    prefs = [
        "-o",
        "esp.enable_encryption_decode:TRUE",
        "-o",
        "esp.enable_authentication_check:TRUE",
    ]
    for line in (ESP / f"{name}.esp_sa").read_text().splitlines():
        if line and not line.startswith("#"):
            prefs += ["-o", "uat:esp_sa:" + ",".join(line.split(",")[:8])]
    fields = ["-e", "esp.spi", "-e", "esp.sequence", "-e", "esp.contained_data"]
    out = run_tshark(
        ["-r", str(ESP / f"{name}.pcap"), *prefs, "-Y", "esp", "-T", "fields", *fields]
    )
    rows = [r.split("\t") for r in out.splitlines()]
    ours = _dissect(name)
    assert len(rows) == len(ours)
    for theirs, mine in zip(rows, ours, strict=True):
        assert (int(theirs[0], 16), int(theirs[1])) == (mine["spi"], mine["seq"])
        # tshark's decrypted payload without padding/trailer is our `inner` plus, where the sample
        # adds it, the TFC padding (RFC 4303 §2.7) that tshark 4.0 does not separate.
        contained = theirs[2].replace(":", "")
        assert contained.startswith(mine["inner"])
        assert set(contained[len(mine["inner"]) :]) <= {"0"}


@pytest.mark.integration
def test_scapy_decrypts_the_esn_sample_across_the_wrap() -> None:
    from scapy.layers.inet import IP
    from scapy.layers.ipsec import ESP as ScapyESP
    from scapy.layers.ipsec import SecurityAssociation
    from scapy.utils import rdpcap

    sa = json.loads((ESP / "esp-esn-cbc-sha256.json").read_text())[0]
    seen = []
    for pkt in rdpcap(str(ESP / "esp-esn-cbc-sha256.pcap")):
        ip = IP(bytes(pkt)[14:])
        high = 0 if ip[ScapyESP].seq > 2**31 else 1
        ssa = SecurityAssociation(
            ScapyESP,
            spi=int(sa["spi"], 16),
            crypt_algo="AES-CBC",
            crypt_key=bytes.fromhex(sa["enc_key"]),
            auth_algo="SHA2-256-128",
            auth_key=bytes.fromhex(sa["auth_key"]),
            esn_en=True,
            esn=high,
        )
        inner = ssa.decrypt(ip)
        seen.append(bytes(inner[IP].payload)[:0] or bytes(inner)[20:40])
    assert len(seen) == 10
