"""What the commands say: one clear line per error, right plurals, named key-log problems,
documented options, and the stats fields the README lists."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from netsec_layers.cli.main import build_parser

REPO = Path(__file__).resolve().parents[2]
TLS = "pcaps/tls/tls12-ecdhe-rsa-aes128gcm"
CR = "11" * 32
MS = "22" * 48


def netsec(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netsec_layers", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["decrypt", f"{TLS}.pcap"],
        ["encrypt", f"{TLS}.pcap", "--esp-sa", "pcaps/esp/esp-transport-gcm.esp_sa"],
        ["keys", "inject", f"{TLS}.pcap", "--keylog", f"{TLS}.keys"],
        ["keys", "export", f"{TLS}.pcap", "--keylog", f"{TLS}.keys"],
        ["keys", "convert", "pcaps/esp/esp-transport-gcm.esp_sa", "--to", "json"],
    ],
    ids=lambda a: "-".join(a[:2]),
)
def test_missing_output_directory_is_named(argv: list[str]) -> None:
    proc = netsec(*argv, "-w", "/nonexistent/dir/out.pcap")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "netsec: /nonexistent/dir/out.pcap: directory /nonexistent/dir does not exist"
    ]


def test_missing_input_is_one_plain_line() -> None:
    proc = netsec("dissect", "/nonexistent.pcap")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["netsec: /nonexistent.pcap: no such file"]


@pytest.mark.parametrize(
    ("spec", "line"),
    [
        ("README.md", "README.md: not an RSA private key (PEM or DER)"),
        ("/dev/null", "/dev/null: not an RSA private key (PEM or DER)"),
        ("pcaps/tls/test-ecdsa-key.pem", "pcaps/tls/test-ecdsa-key.pem: not an RSA private key"),
        (
            "pcaps/tls/test-rsa-key.pem:secret",
            "pcaps/tls/test-rsa-key.pem: a password was given but the key is not encrypted",
        ),
    ],
)
def test_bad_rsa_key_is_one_line_without_asn1_text(spec: str, line: str) -> None:
    proc = netsec("dissect", f"{TLS}.pcap", "--rsa-key", spec)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("netsec: " + line), lines
    assert "ASN.1" not in proc.stderr and "Tag" not in proc.stderr


def _one_frame_pcap(path: Path) -> Path:
    from scapy.all import IP, UDP, Ether, wrpcap

    wrpcap(str(path), [Ether() / IP(src="10.1.1.1", dst="10.2.2.2") / UDP()])
    return path


def test_counts_of_one_are_singular(tmp_path: Path) -> None:
    one = _one_frame_pcap(tmp_path / "one.pcap")
    keys = tmp_path / "one.keys"
    keys.write_text(f"CLIENT_RANDOM {CR} {MS}\n")
    stderr = [
        netsec("dissect", str(one)).stderr,
        netsec("encrypt", str(one), "-w", str(tmp_path / "e.pcap"), "--esp-sa",
               "pcaps/esp/esp-transport-gcm.esp_sa").stderr,
        netsec("keys", "inject", str(one), "--keylog", str(keys), "-w",
               str(tmp_path / "i.pcapng")).stderr,
        netsec("keys", "export", f"{TLS}.pcap", "--keylog", f"{TLS}.keys", "-w",
               str(tmp_path / "x.keys")).stderr,
    ]  # fmt: skip
    stdout = netsec("keys", "check", str(keys)).stdout
    text = "\n".join([*stderr, stdout])
    for wrong in re.findall(r"\b1 (?!secrets block)[a-zA-Z-]+s\b", text):
        pytest.fail(f"{wrong!r} in {text!r}")
    assert "1 frame" in stderr[0]
    assert "1 packet encrypted" in stderr[1] and "0 non-IP frames" in stderr[1]
    assert "1 frame and 1 secrets block written" in stderr[2]
    assert "1 key log line written" in stderr[3]
    assert "1 usable entry, 0 bad lines" in stdout


def test_keys_check_counts_each_bad_line_once_and_names_unknown_labels(tmp_path: Path) -> None:
    log = tmp_path / "k.log"
    log.write_text(
        f"CLIENT_RANDOM {CR} {MS}\n"  # 1 usable
        "garbage\n"  # 2 bad
        f"CLIENT_RANDOM zz {MS}\n"  # 3 bad, known label
        f"FOO_SECRET {CR} {MS}\n"  # 4 unknown label
        "# a comment\n"
        f"SERVER_TRAFFIC_SECRET_0 {CR} {'33' * 32}\n"  # 6 usable
    )
    proc = netsec("keys", "check", str(log))
    assert proc.returncode == 1
    errs = proc.stderr.splitlines()
    assert [e.split(":")[1] for e in errs] == ["2", "3", "4"]
    assert "FOO_SECRET" in errs[2] and "unknown label" in errs[2]
    out = proc.stdout.splitlines()
    assert out[0] == f"{log}: 2 usable entries, 3 bad lines (1 with an unknown label)"
    # the per-label list holds usable entries only: no bad line is counted there again
    assert out[1:] == ["  CLIENT_RANDOM: 1", "  SERVER_TRAFFIC_SECRET_0: 1"]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    out: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out[name] = sub
                for inner, p in _subparsers(sub).items():
                    out[f"{name} {inner}"] = p
    return out


COMMANDS = [
    "dissect", "encrypt", "decrypt", "stats",
    "keys convert", "keys check", "keys inject", "keys export",
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_a_description(command: str) -> None:
    parser = _subparsers(build_parser())[command]
    undocumented = [
        a.option_strings or a.dest
        for a in parser._actions
        if not a.help and not isinstance(a, argparse._HelpAction)
    ]
    assert undocumented == [], command


def test_stats_text_shows_key_source_and_finished_checks() -> None:
    args = ("stats", f"{TLS}.pcap", "--keylog", f"{TLS}.keys")
    row = json.loads(netsec(*args, "--json").stdout.splitlines()[0])
    assert row["key_source"] == "keylog" and row["finished_ok"] == {"client": True, "server": True}
    line = netsec(*args).stdout.splitlines()[0]
    assert "keys=keylog" in line and "finished=client ok,server ok" in line
    assert f"decrypted={row['decrypted']}" in line and row["decrypted"] > 0
    bare = netsec("stats", f"{TLS}.pcap").stdout.splitlines()[0]
    assert "keys=- finished=-" in bare
