"""The stderr summary of ``netsec dissect`` names every protocol's units, not only TLS and ESP:
``N SSH (D decrypted)``, ``N IKE``, ``N DTLS (D decrypted)``, ``N mail``, with N and D the
``--json`` lines of that protocol and the decrypted ones among them; TLS records are counted
as TLS records whichever tracker found them (mail after STARTTLS)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PCAPS = Path(__file__).resolve().parents[2] / "pcaps"

CASES = [
    ("ssh/ssh-sample.pcap", ["--ssh-keylog", "ssh/ssh-sample.keys"], "SSH", {"ssh"}),
    ("ssh/ssh-sample.pcap", [], "SSH", {"ssh"}),
    ("dtls/gnutls-dtls12-gcm.pcap", ["--keylog", "dtls/gnutls-dtls12-gcm.keys"], "DTLS", {"dtls"}),
    ("mail/" + sorted(p.name for p in (PCAPS / "mail").glob("*.pcap"))[0], [], "mail",
     {"smtp", "imap", "pop3"}),
]  # fmt: skip


def _run(pcap: str, keys: list[str], *extra: str) -> subprocess.CompletedProcess[str]:
    opts = [str(PCAPS / k) if i % 2 else k for i, k in enumerate(keys)]
    return subprocess.run(
        [sys.executable, "-m", "netsec_layers", "dissect", str(PCAPS / pcap), *opts, *extra],
        capture_output=True, text=True, check=True,
    )  # fmt: skip


@pytest.mark.parametrize(("pcap", "keys", "label", "protos"), CASES)
def test_summary_counts_the_units_json_prints(
    pcap: str, keys: list[str], label: str, protos: set[str]
) -> None:
    lines = [json.loads(x) for x in _run(pcap, keys, "--json", "-q").stdout.splitlines()]
    mine = [o for o in lines if o["proto"] in protos]
    assert mine, pcap
    decrypted = sum(o.get("decrypted") is True for o in mine)
    summary = _run(pcap, keys).stderr.strip().splitlines()[-1]
    want = f"{len(mine)} {label}" + (f" ({decrypted} decrypted)" if decrypted else "")
    assert summary.startswith("netsec: ") and (", " + want) in summary, (summary, want)
    # TLS records are TLS records whoever found them (the mail tracker after STARTTLS, too)
    tls = sum(o["proto"] == "tls" for o in lines)
    assert f" {tls} TLS record" in summary, (summary, tls)
    assert bool(keys) == bool(decrypted)
