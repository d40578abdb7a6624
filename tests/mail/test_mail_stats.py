"""``netsec stats`` lists every SMTP/IMAP/POP3 session (issue 18's mail, issue 21's stats): the
messages it carried and, after STARTTLS/STLS, its TLS (version, suite, records).

Checked against the real peers' side (the sidecars written by the capture tools from what
aiosmtpd received and what Dovecot served) and against tshark 4.0, told which port is which
protocol so that it follows STARTTLS itself: the TLS records it finds on the session's stream and
the suite of its ServerHello."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from tests.tshark_util import run_tshark

MAIL = Path(__file__).resolve().parents[2] / "pcaps" / "mail"
SUITES = {"0x1301": "TLS_AES_128_GCM_SHA256", "0x1302": "TLS_AES_256_GCM_SHA384"}


def _rows(name: str) -> list[dict[str, Any]]:
    pcap, keys = MAIL / f"{name}.pcap", MAIL / f"{name}.keys"
    out = subprocess.run(
        [sys.executable, "-m", "netsec_layers", "stats", str(pcap), "--keylog", str(keys),
         "--json"], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [r for r in map(json.loads, out.splitlines()) if r["proto"] in ("smtp", "imap", "pop3")]


def _tshark_tls(name: str, servers: dict[int, str]) -> dict[int, tuple[int, str]]:
    """Per client port: (TLS records tshark saw on that connection, its ServerHello suite)."""
    args = ["-r", str(MAIL / f"{name}.pcap"), "-o", f"tls.keylog_file:{MAIL / f'{name}.keys'}"]
    for port, proto in servers.items():  # tshark follows STARTTLS on ports it knows as mail
        args += ["-d", f"tcp.port=={port},{proto}"]
    out = run_tshark([*args, "-Y", "tls", "-T", "fields", "-e", "tcp.srcport", "-e", "tcp.dstport",
                      "-e", "tls.record.length", "-e", "tls.handshake.ciphersuite"])  # fmt: skip
    records: Counter[int] = Counter()
    suites: dict[int, str] = {}
    for line in out.splitlines():
        sport, dport, lengths, suite = (line.split("\t") + ["", "", "", ""])[:4]
        client = int(dport) if int(sport) in servers else int(sport)
        records[client] += len([x for x in lengths.split(",") if x])
        if suite:
            suites[client] = SUITES.get(suite.split(",")[0], suite)
    return {c: (n, suites.get(c, "?")) for c, n in records.items()}


def _check_tls(row: dict[str, Any], theirs: dict[int, tuple[int, str]]) -> None:
    n, suite = theirs[int(row["client"].rsplit(":", 1)[1])]
    assert row["tls_records"] == n and row["tls_cipher_suite"] == suite, (row, n, suite)
    assert row["tls_version"] == "TLSv1.3" and row["tls_failed"] == 0
    assert 0 < row["tls_decrypted"] < row["tls_records"]  # the hellos are not encrypted


def test_smtp_sessions() -> None:
    received = json.loads((MAIL / "smtp-aiosmtpd.json").read_text())  # what aiosmtpd got
    rows = _rows("smtp-aiosmtpd")
    port = int(rows[0]["server"].rsplit(":", 1)[1])
    assert {r["proto"] for r in rows} == {"smtp"} and len(rows) >= 2
    assert sum(r["messages"] for r in rows) == len(received) == 5
    tls = [r for r in rows if r["starttls"]]
    assert len(tls) == 1 and tls[0]["messages"] == 5
    theirs = _tshark_tls("smtp-aiosmtpd", {port: "smtp"})
    _check_tls(tls[0], theirs)


def test_imap_pop3_sessions() -> None:
    served = json.loads((MAIL / "imap-pop3-dovecot.json").read_text())  # what Dovecot served
    ports = served["ports"]
    rows = _rows("imap-pop3-dovecot")
    by = {(r["proto"], r["starttls"]): r for r in rows}
    assert len(by) == len(rows) == 4, rows
    assert by["imap", False]["messages"] == len(served["imap_fetch"]) + len(served["imap_append"])
    assert by["pop3", False]["messages"] == len(served["pop3_retr"])
    assert by["imap", True]["messages"] == len(served["imap_starttls"])
    assert by["pop3", True]["messages"] == len(served["pop3_stls"])
    theirs = _tshark_tls("imap-pop3-dovecot", {ports["imap"]: "imap", ports["pop3"]: "pop"})
    _check_tls(by["imap", True], theirs)
    _check_tls(by["pop3", True], theirs)
    # the implicit-TLS sessions (IMAPS, POP3S on test ports) are the TLS tracker's: TLS rows
