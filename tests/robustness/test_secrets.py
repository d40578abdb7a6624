"""Secrets hygiene of the ``netsec`` command.

Key material must not be echoed in logs or error messages, files that carry secrets (key logs
from ``netsec keys export``, pcapngs with Decryption Secrets Blocks from ``netsec keys inject``)
must be mode 0600 from the moment secrets are written, and no temporary file with secrets may be
left behind.  The CLI runs as a subprocess (as a user runs it), with TMPDIR pointing at an empty
directory that must stay empty.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.robustness._util import PCAPS, TLS

SAMPLE = "tls12-ecdhe-rsa-aes128gcm"


def _netsec(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    tmpdir = tmp_path / "TMPDIR"
    tmpdir.mkdir(exist_ok=True)
    env = dict(os.environ, TMPDIR=str(tmpdir), PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "netsec_layers", *args],
        capture_output=True,
        text=True,
        errors="replace",
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert list(tmpdir.iterdir()) == [], "temporary files left behind"
    return proc


def _secret_hex(text: str) -> list[str]:
    """The secret (third) field of every key log line, and 16-hex-digit windows of it."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and not line.startswith("#"):
            s = parts[2].lower()
            out += [s[i : i + 16] for i in range(0, len(s) - 15, 16)]
    return out


def _assert_no_secret(output: str, secrets: list[str]) -> None:
    low = output.lower()
    leaked = [s for s in secrets if s in low]
    assert not leaked, f"secret bytes printed: {leaked[:3]}"


def _bad_keylog(tmp_path: Path) -> tuple[Path, list[str]]:
    good = (TLS / f"{SAMPLE}.keys").read_text()
    bad_lines = [
        # wrong client-random length, a wrong-size secret, extra field, unknown label:
        "CLIENT_RANDOM " + "ab" * 31 + " " + "5e" * 48,
        "CLIENT_RANDOM " + "ab" * 32 + " " + "7c" * 40,
        "CLIENT_RANDOM " + "ab" * 32 + " " + "3d" * 48 + " extra",
        "bogus " + "ab" * 32 + " " + "4f" * 48,
    ]
    # and every good line with its secret changed: plausible, wrong
    wrong = []
    for line in good.splitlines():
        p = line.split(" ")
        if len(p) == 3:
            p[2] = p[2][:-2] + ("00" if p[2][-2:] != "00" else "11")
        wrong.append(" ".join(p))
    path = tmp_path / "bad.keys"
    path.write_text("\n".join(bad_lines + wrong) + "\n")
    return path, _secret_hex("\n".join(bad_lines + wrong + good.splitlines()))


@pytest.mark.parametrize("command", ["dissect", "stats", "dissect-V", "check", "export"])
def test_key_material_is_not_printed(tmp_path: Path, command: str) -> None:
    path, secrets = _bad_keylog(tmp_path)
    pcap = str(TLS / f"{SAMPLE}.pcap")
    args = {
        "dissect": ["dissect", pcap, "--keylog", str(path)],
        "dissect-V": ["dissect", pcap, "-V", "--keylog", str(path)],
        "stats": ["stats", pcap, "--json", "--keylog", str(path)],
        "check": ["keys", "check", str(path)],
        "export": ["keys", "export", pcap, "--keylog", str(path), "-w", str(tmp_path / "o")],
    }[command]
    proc = _netsec(tmp_path, *args)
    _assert_no_secret(proc.stderr, secrets)
    if command in ("dissect", "stats", "check"):
        _assert_no_secret(proc.stdout, secrets)
    assert "Traceback" not in proc.stderr


def test_bad_esp_sa_key_is_not_printed(tmp_path: Path) -> None:
    key = "0x" + "c3" * 15  # 15 bytes: wrong size for AES-CBC
    sa = tmp_path / "bad.esp_sa"
    sa.write_text(
        f'"IPv4","*","*","0x00001000","AES-CBC [RFC3602]","{key}",'
        '"HMAC-SHA-256-128 [RFC4868]","0x' + "d4" * 32 + '"\n'
    )
    proc = _netsec(
        tmp_path, "dissect", str(PCAPS / "strongswan" / "strongswan_natt.pcap"), "--esp-sa", str(sa)
    )
    assert proc.returncode != 0 and "line 1" in proc.stderr
    _assert_no_secret(proc.stderr + proc.stdout, ["c3c3c3c3c3c3c3c3", "d4d4d4d4d4d4d4d4"])


def test_ascii_esp_sa_key_is_not_printed(tmp_path: Path) -> None:
    sa = tmp_path / "ascii.esp_sa"
    sa.write_text(
        '"IPv4","*","*","0x00001000","AES-CBC [RFC3602]","Sup3rS3cretKey!!",'
        '"HMAC-SHA-256-128 [RFC4868]","0x' + "d4" * 32 + '"\n'
    )
    proc = _netsec(
        tmp_path,
        "dissect",
        str(PCAPS / "strongswan" / "strongswan_natt.pcap"),
        "-q",
        "--esp-sa",
        str(sa),
    )
    assert "Sup3rS3c" not in proc.stderr + proc.stdout


def test_rsa_key_password_is_not_printed(tmp_path: Path) -> None:
    pcap = str(TLS / "tls12-rsa-aes128gcm.pcap")
    for spec in (f"{TLS / 'test-rsa-key.pem'}:Hunter2Password", "/nonexistent.pem:Hunter2Password"):
        proc = _netsec(tmp_path, "dissect", pcap, "--rsa-key", spec)
        assert "Hunter2Password" not in proc.stderr + proc.stdout
        assert "Traceback" not in proc.stderr


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_export_and_inject_write_0600(tmp_path: Path) -> None:
    keys = str(TLS / f"{SAMPLE}.keys")
    out = tmp_path / "exported.keys"
    proc = _netsec(
        tmp_path, "keys", "export", str(TLS / f"{SAMPLE}.pcap"), "--keylog", keys, "-w", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    assert _mode(out) == 0o600 and re.search(r"^CLIENT_RANDOM ", out.read_text(), re.M)
    ng = tmp_path / "with-secrets.pcapng"
    proc = _netsec(
        tmp_path,
        "keys",
        "inject",
        str(TLS / f"{SAMPLE}.pcap"),
        "--keylog",
        keys,
        "--esp-sa",
        str(PCAPS / "strongswan" / "strongswan_natt.esp_sa"),
        "-w",
        str(ng),
    )
    assert proc.returncode == 0, proc.stderr
    assert _mode(ng) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "TMPDIR",
        "exported.keys",
        "with-secrets.pcapng",
    ]


def test_export_over_an_existing_file_is_0600(tmp_path: Path) -> None:
    out = tmp_path / "exported.keys"
    out.write_text("")
    out.chmod(0o644)
    _netsec(
        tmp_path,
        "keys",
        "export",
        str(TLS / f"{SAMPLE}.pcap"),
        "--keylog",
        str(TLS / f"{SAMPLE}.keys"),
        "-w",
        str(out),
    )
    assert _mode(out) == 0o600


def test_inject_output_is_0600_while_secrets_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netsec_layers.cli.main import main
    from netsec_layers.io import pcap as pcap_mod

    ng = tmp_path / "with-secrets.pcapng"
    modes: list[int] = []
    orig = pcap_mod.CaptureWriter.write_secrets

    def spy(self, secrets_type: int, data: bytes) -> None:  # noqa: ANN001
        orig(self, secrets_type, data)
        # the file being written (a temporary one, renamed to ``ng`` when complete)
        modes.append(stat.S_IMODE(os.fstat(self._f.fileno()).st_mode))

    monkeypatch.setattr(pcap_mod.CaptureWriter, "write_secrets", spy)
    old = os.umask(0o022)
    try:
        assert (
            main(
                [
                    "keys",
                    "inject",
                    str(TLS / f"{SAMPLE}.pcap"),
                    "-q",
                    "--keylog",
                    str(TLS / f"{SAMPLE}.keys"),
                    "-w",
                    str(ng),
                ]
            )
            == 0
        )
    finally:
        os.umask(old)
    assert modes and all(m & 0o077 == 0 for m in modes), [oct(m) for m in modes]
    assert _mode(ng) == 0o600


@pytest.mark.parametrize("name", [SAMPLE, "tls13-aes128gcm"])
@pytest.mark.parametrize(
    "args",
    [["dissect", "-V"], ["dissect", "--json"], ["stats", "--json"]],
    ids=["dissect-V", "dissect-json", "stats-json"],
)
def test_working_keys_are_not_printed(tmp_path: Path, name: str, args: list[str]) -> None:
    """With keys that work, output shows plaintext but never the secrets that opened it."""
    keys = TLS / f"{name}.keys"
    proc = _netsec(tmp_path, *args, str(TLS / f"{name}.pcap"), "--keylog", str(keys))
    assert proc.returncode == 0, proc.stderr
    _assert_no_secret(proc.stdout + proc.stderr, _secret_hex(keys.read_text()))


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_decrypt_output_is_0600_and_complete(tmp_path: Path, jobs: str) -> None:
    """Decrypted plaintext is as sensitive as the keys: the output is 0600 (also over an
    existing 0644 file), whatever the number of worker processes, and it is a whole capture."""
    from netsec_layers.io.pcap import CaptureReader

    out = tmp_path / "plain.pcap"
    out.write_text("old")
    out.chmod(0o644)
    _netsec(tmp_path, "decrypt", str(TLS / f"{SAMPLE}.pcap"), "--keylog",
            str(TLS / f"{SAMPLE}.keys"), "-w", str(out), "--jobs", jobs)  # fmt: skip
    assert _mode(out) == 0o600
    with CaptureReader(str(out)) as r:
        frames = list(r)
        assert frames and r.truncated is None
