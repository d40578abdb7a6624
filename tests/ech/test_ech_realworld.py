"""A browser's real ECH ClientHellos (Zeek's trace ``tls13-ech.pcap``, no keys): dissected
to the values Zeek's own baseline prints, reported as not decrypted (``no key``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from scapy.layers.inet import TCP
from scapy.utils import rdpcap

from netsec_layers.layers.tls import TLSExtEncryptedClientHello, TLSExtServerName, dissect_tls

REPO = Path(__file__).resolve().parents[2]
PCAP = Path(__file__).with_name("vectors") / "zeek-tls13-ech.pcap"
# testing/btest/Baseline/scripts.base.protocols.ssl.tls-ech/.stdout (Zeek):
# kdf_id, aead_id, config_id, |enc|, payload_length, for both connections
ZEEK = [(1, 1, 209, 32, 144), (1, 1, 209, 32, 144)]


def test_dissect_json_matches_zeeks_baseline() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "netsec_layers", "dissect", str(PCAP), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        check=True,
    )
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    hellos = [r["ech"] for r in rows if r["handshake_types"][:1] == [1] and r["ech"]]
    got = [
        (
            e["cipher_suite"]["kdf_id"],
            e["cipher_suite"]["aead_id"],
            e["config_id"],
            len(bytes.fromhex(e["enc"])),
            e["payload_length"],
        )
        for e in hellos
    ]
    assert got == ZEEK
    assert all(e["status"] == "no key" and not e["decrypted"] and e["error"] for e in hellos)
    answers = [r["ech"] for r in rows if r["handshake_types"][:1] == [2]]
    assert [a["used"] for a in answers] == ["outer", "outer"]


def test_scapy_layers_read_the_browser_hello() -> None:
    seen = []
    for pkt in rdpcap(str(PCAP)):
        payload = bytes(pkt[TCP].payload) if TCP in pkt else b""
        if payload[:1] == b"\x16" and payload[5:6] == b"\x01":
            rec = dissect_tls(payload)
            assert bytes(rec) == payload
            exts = rec.messages[0].payload.extensions  # TLSHandshake / TLSClientHello
            ech = next(e for e in exts if isinstance(e, TLSExtEncryptedClientHello))
            sni = next(e for e in exts if isinstance(e, TLSExtServerName))
            seen.append(
                (ech.kdf_id, ech.aead_id, ech.config_id, len(ech.enc), len(ech.ech_payload))
            )
            assert sni.server_names[0].server_name == b"cloudflare-ech.com"
    assert seen == ZEEK
