"""`netsec dissect --json --ike-keys` on the strongSwan sample: the JSON contract of issue 15,
one object per complete IKE message, and the capture's ESP decrypted with CHILD_SAs derived
from g^ir alone (no --esp-sa)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DIR = REPO / "pcaps" / "ike"
KEYS = {
    "proto",
    "frame",
    "version",
    "spi_i",
    "spi_r",
    "exchange_type",
    "message_id",
    "flags",
    "payloads",
    "decrypted",
    "inner_payloads",
    "error",
}


def _dissect(*args: str) -> list[dict]:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "netsec_layers",
            "dissect",
            "--json",
            "-q",
            str(DIR / "strongswan_ikev2.pcap"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=True,
    )
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def test_dissect_json_with_g_ir_keys() -> None:
    objs = _dissect("--ike-keys", str(DIR / "strongswan_ikev2.ike.json"))
    ike = [o for o in objs if o["proto"] == "ike"]
    esp = [o for o in objs if o["proto"] == "esp"]
    assert len(ike) == 62 and len(esp) == 30
    for o in ike:
        assert KEYS <= set(o)
        assert o["version"] == 2 and len(o["spi_i"]) == len(o["spi_r"]) == 16
        if o["exchange_type"] == 34:
            assert o["decrypted"] is False and o["inner_payloads"] is None and o["error"] is None
        else:
            assert o["decrypted"] is True and isinstance(o["inner_payloads"], list)
    assert all(o["decrypted"] for o in esp)
    # RFC 7383: the reassembled message is reported once, at the frame completing it
    frag = [o for o in ike if o["payloads"] == [53]]
    assert frag and all(o["inner_payloads"] for o in frag if o["message_id"] == 1)


def test_dissect_json_without_keys() -> None:
    objs = _dissect()
    ike = [o for o in objs if o["proto"] == "ike"]
    enc = [o for o in ike if o["exchange_type"] != 34]
    assert enc and all(
        not o["decrypted"] and o["inner_payloads"] is None and o["error"] for o in enc
    )
    assert not any(o["decrypted"] for o in objs if o["proto"] == "esp")


def test_dissect_json_with_wireshark_table_and_esp_sa_file() -> None:
    objs = _dissect(
        "--ike-keys",
        str(DIR / "strongswan_ikev2.ikev2_decryption_table"),
        "--esp-sa",
        str(DIR / "strongswan_ikev2.esp_sa"),
    )
    ike = [o for o in objs if o["proto"] == "ike" and o["exchange_type"] != 34]
    assert sum(o["decrypted"] for o in ike) >= 20
    assert all(o["decrypted"] for o in objs if o["proto"] == "esp")


def test_keys_export_child_sas_in_every_format(tmp_path: Path) -> None:
    from netsec_layers.keys.sa_files import load_sa_file

    truth = {sa.spi: sa for sa in load_sa_file(str(DIR / "strongswan_ikev2.esp_sa"))}
    assert len(truth) == 20  # charon's log: 10 CHILD_SAs, both directions
    for fmt in ("esp_sa", "json", "xfrm"):
        out = tmp_path / f"child.{fmt}"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "netsec_layers",
                "keys",
                "export",
                "-q",
                str(DIR / "strongswan_ikev2.pcap"),
                "--ike-keys",
                str(DIR / "strongswan_ikev2.ike.json"),
                "-w",
                str(out),
                "--to",
                fmt,
            ],
            check=True,
            timeout=120,
            cwd=REPO,
        )
        got = {sa.spi: sa for sa in load_sa_file(str(out))}
        assert set(got) == set(truth), fmt
        for spi, sa in got.items():
            t = truth[spi]
            assert (sa.encryption, sa.enc_key, sa.integrity, sa.auth_key) == (
                t.encryption,
                t.enc_key,
                t.integrity,
                t.auth_key,
            ), (fmt, hex(spi))
    # nothing derivable: no file, exit status "incomplete"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "netsec_layers",
            "keys",
            "export",
            "-q",
            str(DIR / "strongswan_ikev2.pcap"),
            "--ike-keys",
            str(DIR / "strongswan_ikev2.ikev2_decryption_table"),
            "-w",
            str(tmp_path / "none"),
        ],
        timeout=120,
        cwd=REPO,
    )
    assert r.returncode != 0 and not (tmp_path / "none").exists()


def test_stats_has_one_row_per_ike_sa() -> None:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "netsec_layers",
            "stats",
            "--json",
            "-q",
            str(DIR / "strongswan_ikev2.pcap"),
            "--ike-keys",
            str(DIR / "strongswan_ikev2.ike.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=True,
    )
    rows = [json.loads(x) for x in r.stdout.splitlines() if '"proto": "ike"' in x]
    secrets = json.loads((DIR / "strongswan_ikev2.secrets.json").read_text())
    assert sorted(x["spi_i"] for x in rows) == sorted(s["spi_i"] for s in secrets["ike_sas"])
    assert sum(len(x["child_sas"]) for x in rows) == 20
    assert all(
        x["failed"] == 0 and x["decrypted"] == x["messages"] - x["exchanges"].get("IKE_SA_INIT", 0)
        for x in rows
    )
    assert {x["proposal"] for x in rows} >= {
        "ENCR_CHACHA20_POLY1305/PRF_HMAC_SHA2_512/CURVE25519",
        "ENCR_3DES/AUTH_AES_XCBC_96/PRF_AES128_XCBC/MODP2048",
    }
    text = subprocess.run(
        [
            sys.executable,
            "-m",
            "netsec_layers",
            "stats",
            "-q",
            str(DIR / "strongswan_ikev2.pcap"),
            "--ike-keys",
            str(DIR / "strongswan_ikev2.ike.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=True,
    ).stdout
    assert sum(line.startswith("IKE  ") for line in text.splitlines()) == 6


def test_decrypt_writes_the_esp_inner_packets(tmp_path: Path) -> None:
    from scapy.layers.inet import IP
    from scapy.layers.ipsec import ESP
    from scapy.utils import rdpcap

    out = tmp_path / "plain.pcap"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "netsec_layers",
            "decrypt",
            "-q",
            str(DIR / "strongswan_ikev2.pcap"),
            "-w",
            str(out),
            "--ike-keys",
            str(DIR / "strongswan_ikev2.ike.json"),
        ],
        check=True,
        timeout=120,
        cwd=REPO,
    )
    pkts = rdpcap(str(out))
    inner = [p for p in pkts if IP in p and p[IP].src.startswith("10.98.")]
    assert len(inner) == 30 and not any(ESP in p for p in pkts)
    assert all(b"netsec " in bytes(p[IP].payload) for p in inner)


def test_dissect_verbose_shows_decrypted_payload_tree() -> None:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "netsec_layers",
            "dissect",
            "-V",
            "-q",
            str(DIR / "strongswan_ikev2_algs.pcap"),
            "--ike-keys",
            str(DIR / "strongswan_ikev2_algs.ike.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=True,
    )
    out = r.stdout
    for layer in (
        "###[ IKEv2 SA ]###",
        "###[ IKEv2 SK ]###",
        "###[ IKEv2 IDi ]###",
        "###[ IKEv2 AUTH ]###",
        "###[ IKEv2 TSr ]###",
        "id_data   = b'a-a1@netsec'",
    ):
        assert layer in out, layer
