"""The exit status contract (README "Exit statuses"), command by command.

0 done; 1 done but the capture was cut short or nothing could be done; 2 usage or I/O error.
Each row runs the real command and checks its status and whether its ``-w`` output exists.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TLS = "pcaps/tls/tls13-aes128gcm"
OTHER_KEYS = "pcaps/tls/tls12-ecdhe-rsa-aes128gcm.keys"  # matches no connection of TLS
ESP = "pcaps/esp/esp-transport-gcm"


@dataclass(frozen=True)
class Row:
    id: str
    argv: tuple[str, ...]  # {t}: the test's directory; {cut}: the TLS capture cut short
    status: int
    out: bool | None = None  # {t}/out exists afterwards (None: the command writes none)
    stderr: str = ""  # must appear in stderr


ROWS = [
    # -- dissect
    Row("dissect-ok", ("dissect", f"{TLS}.pcap", "--keylog", f"{TLS}.keys"), 0),
    Row("dissect-cut", ("dissect", "{cut}"), 1, stderr="capture ends early"),
    Row("dissect-missing", ("dissect", "/nonexistent.pcap"), 2, stderr="no such file"),
    Row("dissect-not-a-capture", ("dissect", "README.md"), 2),
    Row("dissect-bad-option", ("dissect", f"{TLS}.pcap", "--max-connections", "0"), 2),
    Row("dissect-keys-match-nothing", ("dissect", f"{TLS}.pcap", "--keylog", OTHER_KEYS), 0),
    # -- stats
    Row("stats-ok", ("stats", f"{TLS}.pcap", "--keylog", f"{TLS}.keys"), 0),
    Row("stats-cut", ("stats", "{cut}"), 1, stderr="capture ends early"),
    Row("stats-missing", ("stats", "/nonexistent.pcap"), 2),
    # -- decrypt
    Row(
        "decrypt-ok",
        ("decrypt", f"{TLS}.pcap", "--keylog", f"{TLS}.keys", "-w", "{t}/out"),
        0,
        True,
    ),  # fmt: skip
    Row(
        "decrypt-esp-ok",
        ("decrypt", f"{ESP}.pcap", "--esp-sa", f"{ESP}.esp_sa", "-w", "{t}/out"),
        0,
        True,
    ),  # fmt: skip
    Row(
        "decrypt-cut",
        ("decrypt", "{cut}", "--keylog", f"{TLS}.keys", "-w", "{t}/out"),
        1,
        True,
        "capture ends early",
    ),  # fmt: skip
    Row("decrypt-no-key", ("decrypt", f"{TLS}.pcap", "-w", "{t}/out"), 1, True, "nothing"),
    Row(
        "decrypt-keys-match-nothing",
        ("decrypt", f"{TLS}.pcap", "--keylog", OTHER_KEYS, "-w", "{t}/out"),
        1,
        True,
        "nothing",
    ),
    Row(
        "decrypt-no-dir",
        ("decrypt", f"{TLS}.pcap", "-w", "/nonexistent/dir/out.pcap"),
        2,
        None,
        "directory /nonexistent/dir does not exist",
    ),  # fmt: skip
    Row("decrypt-missing", ("decrypt", "/nonexistent.pcap", "-w", "{t}/out"), 2, False),
    Row(
        "decrypt-bad-rsa-key",
        ("decrypt", f"{TLS}.pcap", "--rsa-key", "README.md", "-w", "{t}/out"),
        2,
        False,
    ),  # fmt: skip
    Row("decrypt-no-w", ("decrypt", f"{TLS}.pcap"), 2),
    # -- encrypt
    Row(
        "encrypt-ok", ("encrypt", "{plain}", "--esp-sa", f"{ESP}.esp_sa", "-w", "{t}/out"), 0, True
    ),  # fmt: skip
    Row(
        "encrypt-cut",
        ("encrypt", "{plaincut}", "--esp-sa", f"{ESP}.esp_sa", "-w", "{t}/out"),
        1,
        True,
        "capture ends early",
    ),  # fmt: skip
    Row(
        "encrypt-no-ip",
        ("encrypt", "{noip}", "--esp-sa", f"{ESP}.esp_sa", "-w", "{t}/out"),
        1,
        True,
        "nothing",
    ),  # fmt: skip
    Row(
        "encrypt-seq-overflow",
        ("encrypt", "{plain}", "--esp-sa", f"{ESP}.esp_sa", "--seq", "4294967295", "-w", "{t}/out"),
        2,
        False,
    ),  # fmt: skip
    Row(
        "encrypt-unknown-spi",
        ("encrypt", "{plain}", "--esp-sa", f"{ESP}.esp_sa", "--spi", "7", "-w", "{t}/out"),
        2,
        False,
    ),  # fmt: skip
    # -- keys check
    Row("check-ok", ("keys", "check", f"{TLS}.keys"), 0),
    Row("check-bad-lines", ("keys", "check", "{badkeys}"), 1),
    Row("check-nothing-usable", ("keys", "check", "{empty}"), 1),
    Row("check-missing", ("keys", "check", "/nonexistent.keys"), 2),
    # -- keys convert
    Row(
        "convert-ok", ("keys", "convert", f"{ESP}.esp_sa", "--to", "xfrm", "-w", "{t}/out"), 0, True
    ),  # fmt: skip
    Row(
        "convert-no-sa",
        ("keys", "convert", "{empty}", "--to", "json", "-w", "{t}/out"),
        1,
        False,
        "no SA",
    ),  # fmt: skip
    Row("convert-missing", ("keys", "convert", "/nonexistent", "--to", "json"), 2),
    Row("convert-bad-format", ("keys", "convert", f"{ESP}.esp_sa", "--to", "yaml"), 2),
    # -- keys inject
    Row(
        "inject-ok",
        ("keys", "inject", f"{TLS}.pcap", "--keylog", f"{TLS}.keys", "-w", "{t}/out"),
        0,
        True,
    ),  # fmt: skip
    Row(
        "inject-cut",
        ("keys", "inject", "{cut}", "--keylog", f"{TLS}.keys", "-w", "{t}/out"),
        1,
        True,
        "capture ends early",
    ),  # fmt: skip
    Row("inject-nothing", ("keys", "inject", f"{TLS}.pcap", "-w", "{t}/out"), 2, False),
    Row(
        "inject-missing",
        ("keys", "inject", "/nonexistent.pcap", "--keylog", f"{TLS}.keys", "-w", "{t}/out"),
        2,
        False,
    ),  # fmt: skip
    # -- keys export
    Row(
        "export-ok",
        ("keys", "export", f"{TLS}.pcap", "--keylog", f"{TLS}.keys", "-w", "{t}/out"),
        0,
        True,
    ),  # fmt: skip
    Row(
        "export-cut",
        ("keys", "export", "{cut}", "--keylog", f"{TLS}.keys", "-w", "{t}/out"),
        1,
        True,
        "capture ends early",
    ),  # fmt: skip
    Row(
        "export-no-key",
        ("keys", "export", f"{TLS}.pcap", "-w", "{t}/out"),
        1,
        False,
        "no TLS secret",
    ),  # fmt: skip
    Row("export-missing", ("keys", "export", "/nonexistent.pcap", "-w", "{t}/out"), 2, False),
    # -- no command
    Row("no-command", (), 2),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from scapy.all import ARP, IP, UDP, Ether, Raw, wrpcap

    d = tmp_path_factory.mktemp("inputs")
    data = (REPO / f"{TLS}.pcap").read_bytes()
    (d / "cut.pcap").write_bytes(data[:-10])  # ends inside the last frame
    plain = d / "plain.pcap"
    wrpcap(str(plain), [Ether() / IP(id=i) / UDP() / Raw(b"p" * 40) for i in range(5)])
    (d / "plaincut.pcap").write_bytes(plain.read_bytes()[:-20])
    wrpcap(str(d / "noip.pcap"), [Ether() / ARP() for _ in range(3)])
    keys = (REPO / f"{TLS}.keys").read_text()
    (d / "bad.keys").write_text("garbage\n" + keys)
    (d / "empty").write_text("")
    return {
        "cut": str(d / "cut.pcap"),
        "plain": str(plain),
        "plaincut": str(d / "plaincut.pcap"),
        "noip": str(d / "noip.pcap"),
        "badkeys": str(d / "bad.keys"),
        "empty": str(d / "empty"),
    }


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_exit_status(row: Row, inputs: dict[str, str], tmp_path: Path) -> None:
    argv = [a.format(t=tmp_path, **inputs) for a in row.argv]
    proc = subprocess.run(
        [sys.executable, "-m", "netsec_layers", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == row.status, proc.stderr
    assert "Traceback" not in proc.stderr
    assert row.stderr.lower() in proc.stderr.lower()
    if row.status == 2 and row.argv:
        assert len(proc.stderr.strip().splitlines()) >= 1
        assert proc.stderr.strip().splitlines()[-1].startswith(("netsec: ", "usage:", "netsec "))
    if row.out is not None:
        assert (tmp_path / "out").exists() == row.out
    assert [p.name for p in tmp_path.iterdir() if p.name != "out"] == []  # no temporary files


def test_every_command_documents_its_exit_statuses() -> None:
    commands = [
        ["dissect"], ["stats"], ["decrypt"], ["encrypt"],
        ["keys", "check"], ["keys", "convert"], ["keys", "inject"], ["keys", "export"],
    ]  # fmt: skip
    for cmd in commands:
        out = subprocess.run(
            [sys.executable, "-m", "netsec_layers", *cmd, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
        ).stdout
        flat = " ".join(out.split())
        assert "exit status: 0 done; 1 done, but" in flat, cmd
        assert "2 usage or I/O error" in flat, cmd


def test_readme_documents_the_exit_statuses() -> None:
    text = (REPO / "README.md").read_text()
    assert "### Exit statuses" in text
    section = text.split("### Exit statuses", 1)[1].split("\n## ", 1)[0]
    for needle in ("| 0 |", "| 1 |", "| 2 |", "| 130 |", "| 143 |", "tshark", "keys export"):
        assert needle in section, needle
