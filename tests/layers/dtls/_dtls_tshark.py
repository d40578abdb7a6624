"""tshark 4.0's DTLS dissector as the independent reference (never imports netsec_layers).

``tshark_dtls_fields(pcap, port, keylog)`` gives per frame the DTLS fields tshark reports, as
lists in wire order.  ``python -m tests.layers.dtls._dtls_tshark`` rewrites
tests/vectors/dtls/tshark_records.json from the samples in pcaps/dtls (recorded tshark output, without
and with the key log, so the unit tests compare against tshark even where tshark is not installed).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.tshark_util import run_tshark

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "pcaps" / "dtls"
VECTOR = REPO / "tests" / "vectors" / "dtls" / "tshark_records.json"

FIELDS = [
    "dtls.record.content_type",
    "dtls.record.version",
    "dtls.record.epoch",
    "dtls.record.sequence_number",
    "dtls.record.length",
    "dtls.handshake.type",
    "dtls.handshake.length",
    "dtls.handshake.message_seq",
    "dtls.handshake.fragment_offset",
    "dtls.handshake.fragment_length",
    "dtls.handshake.cookie",
    "dtls.alert_message.level",
    "dtls.alert_message.desc",
]


def tshark_dtls_fields(
    pcap: Path, port: int, keylog: Path | None
) -> dict[int, dict[str, list[Any]]]:
    """frame number -> {field: [values...]} for every frame with DTLS."""
    argv = ["-n", "-r", str(pcap), "-d", f"udp.port=={port},dtls",
            "-o", f"tls.keylog_file:{keylog or ''}", "-Y", "dtls",
            "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,",
            "-e", "frame.number"]  # fmt: skip
    for f in FIELDS:
        argv += ["-e", f]
    stdout = run_tshark(argv)
    out: dict[int, dict[str, list[Any]]] = {}
    for line in stdout.splitlines():
        cols = line.split("|")
        row: dict[str, list[Any]] = {}
        for name, val in zip(FIELDS, cols[1:], strict=True):
            vals = [v for v in val.split(",") if v]
            if name != "dtls.handshake.cookie":
                row[name] = [int(v, 0) for v in vals]
            else:
                row[name] = vals
        out[int(cols[0])] = row
    return out


def sample_list() -> list[dict[str, Any]]:
    """Every sample in pcaps/dtls with its sidecar."""
    out = []
    for meta_path in sorted(SAMPLES.glob("*.json")):
        meta = json.loads(meta_path.read_text())
        meta["pcap"] = SAMPLES / f"{meta['scenario']}.pcap"
        meta["keys"] = SAMPLES / f"{meta['scenario']}.keys"
        rsa = SAMPLES / f"{meta['scenario']}.rsa.pem"
        meta["rsa"] = rsa if rsa.exists() else None
        out.append(meta)
    return out


def main() -> int:
    data = {}
    for s in sample_list():
        plain = tshark_dtls_fields(s["pcap"], s["port"], None)
        keyed = tshark_dtls_fields(s["pcap"], s["port"], s["keys"])
        data[s["scenario"]] = {
            "plain": {str(k): v for k, v in plain.items()},
            "decrypted": {str(k): v for k, v in keyed.items()},
        }
    VECTOR.write_text(json.dumps(data, indent=None, sort_keys=True) + "\n")
    print(f"wrote {VECTOR} ({len(data)} samples)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
