"""The ``netsec`` command end to end, checked with tshark and Scapy (independent readers)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tshark_util import load_sidecar, run_tshark, sidecar_bytes, tshark_follow_tcp

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "pcaps" / "tls"
GCM_KEY = "0x0102030405060708090a0b0c0d0e0f1011121314"
SA_LINE = f'"IPv4","10.0.0.1","10.0.0.2","0x00001234","AES-GCM with 16 octet ICV [RFC4106]","{GCM_KEY}","NULL",""\n'
CBC_LINE = (
    '"IPv4","10.0.0.1","10.0.0.2","0x00005678","AES-CBC [RFC3602]","0x000102030405060708090a0b0c0d0e0f",'
    '"HMAC-SHA-256-128 [RFC4868]","0x' + "11" * 32 + '"\n'
)
JSON_KEYS_TLS = {
    "proto",
    "frame",
    "stream",
    "dir",
    "content_type",
    "version",
    "length",
    "decrypted",
    "inner_content_type",
    "handshake_types",
    "alert",
    "app_data",
    "error",
    # issue #20 (keys added): expert warnings and hello fingerprints
    "warnings",
    "ja3",
    "ja3_string",
    "ja3s",
    "ja3s_string",
    "ja4",
    "ech",  # issue #20: RFC 9849 Encrypted Client Hello (docs/cli-contract.md)
}
JSON_KEYS_ESP = {
    "proto",
    "frame",
    "spi",
    "seq",
    "decrypted",
    "iv",
    "pad_length",
    "next_header",
    "icv",
    "inner",
    "error",
}


def netsec(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "netsec_layers", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"netsec {' '.join(args)} failed: {proc.stderr}")
    return proc


@pytest.fixture
def plain_pcap(tmp_path: Path) -> Path:
    from scapy.all import IP, TCP, UDP, Ether, Raw, wrpcap

    pkts = []
    for i in range(30):
        l4 = (
            UDP(sport=1000 + i, dport=53)
            if i % 2
            else TCP(sport=2000 + i, dport=80, flags="PA", seq=i)
        )
        pkts.append(
            Ether()
            / IP(src="192.168.1.10", dst="192.168.2.20", id=i)
            / l4
            / Raw(bytes([i]) * (i * 37 % 1400))
        )
    path = tmp_path / "plain.pcap"
    wrpcap(str(path), pkts)
    return path


@pytest.mark.integration
@pytest.mark.parametrize("line", [SA_LINE, CBC_LINE], ids=["aes-gcm-16", "aes-cbc-hmac-sha256"])
def test_encrypt_is_decrypted_by_tshark_and_decrypt_restores_the_packets(
    plain_pcap: Path, tmp_path: Path, line: str
) -> None:
    sa = tmp_path / "esp_sa"
    sa.write_text(line)
    esp = tmp_path / "esp.pcap"
    netsec("encrypt", str(plain_pcap), "-w", str(esp), "--esp-sa", str(sa), "-q")
    uat = "uat:esp_sa:" + line.strip()
    fields = [
        "-T",
        "fields",
        "-e",
        "ip.src",
        "-e",
        "ip.dst",
        "-e",
        "ip.id",
        "-e",
        "tcp.payload",
        "-e",
        "udp.length",
    ]
    theirs = run_tshark(
        [
            "-r",
            str(esp),
            "-o",
            "esp.enable_encryption_decode:TRUE",
            "-o",
            "esp.enable_authentication_check:TRUE",
            "-o",
            uat,
            *fields,
        ]
    )
    original = run_tshark(["-r", str(plain_pcap), *fields])
    # tshark lists outer then inner values of ip.src/ip.dst/ip.id: keep the inner (last) ones.
    inner = [[f.split(",")[-1] for f in row.split("\t")] for row in theirs.splitlines()]
    assert inner == [row.split("\t") for row in original.splitlines()]
    assert all(row.split("\t")[0].startswith("10.0.0.1,") for row in theirs.splitlines())
    # Our decrypt writes the inner packets back: byte-identical to the original capture's.
    out = tmp_path / "out.pcap"
    netsec("decrypt", str(esp), "-w", str(out), "--esp-sa", str(sa), "-q")
    from scapy.all import rdpcap

    assert [bytes(p) for p in rdpcap(str(out))] == [bytes(p) for p in rdpcap(str(plain_pcap))]


def test_dissect_json_keys_are_the_contract(plain_pcap: Path, tmp_path: Path) -> None:
    sa = tmp_path / "esp_sa"
    sa.write_text(SA_LINE)
    esp = tmp_path / "esp.pcap"
    netsec("encrypt", str(plain_pcap), "-w", str(esp), "--esp-sa", str(sa), "--seq", "7", "-q")
    rows = [
        json.loads(x)
        for x in netsec("dissect", str(esp), "--esp-sa", str(sa), "--json").stdout.splitlines()
    ]
    assert len(rows) == 30 and all(set(r) == JSON_KEYS_ESP for r in rows)
    assert [r["seq"] for r in rows] == list(range(7, 37))
    assert all(r["decrypted"] and r["error"] is None and r["next_header"] == 4 for r in rows)
    name = "tls13-aes128gcm"
    rows = [
        json.loads(x)
        for x in netsec(
            "dissect",
            str(SAMPLES / f"{name}.pcap"),
            "--keylog",
            str(SAMPLES / f"{name}.keys"),
            "--json",
        ).stdout.splitlines()
    ]
    assert rows and all(set(r) == JSON_KEYS_TLS for r in rows)
    assert rows[0]["dir"] == "c2s" and rows[0]["handshake_types"] == [1]


def test_wrong_key_and_replay_are_verdicts_not_plaintext(plain_pcap: Path, tmp_path: Path) -> None:
    sa = tmp_path / "esp_sa"
    sa.write_text(SA_LINE)
    esp = tmp_path / "esp.pcap"
    netsec("encrypt", str(plain_pcap), "-w", str(esp), "--esp-sa", str(sa), "-q")
    wrong = tmp_path / "wrong"
    wrong.write_text(SA_LINE.replace("0x0102", "0x0103"))
    rows = [
        json.loads(x)
        for x in netsec("dissect", str(esp), "--esp-sa", str(wrong), "--json").stdout.splitlines()
    ]
    assert all(not r["decrypted"] and r["inner"] is None and "ICV" in r["error"] for r in rows)
    other = tmp_path / "other"
    other.write_text(SA_LINE.replace("0x00001234", "0x00009999"))
    rows = [
        json.loads(x)
        for x in netsec("dissect", str(esp), "--esp-sa", str(other), "--json").stdout.splitlines()
    ]
    assert all("no SA" in r["error"] for r in rows)
    # The same capture twice in a row: the second copy of every packet is a replay.
    from scapy.all import rdpcap, wrpcap

    pkts = list(rdpcap(str(esp)))
    twice = tmp_path / "twice.pcap"
    wrpcap(str(twice), pkts + pkts)
    rows = [
        json.loads(x)
        for x in netsec("dissect", str(twice), "--esp-sa", str(sa), "--json").stdout.splitlines()
    ]
    assert all(r["decrypted"] for r in rows[:30])
    assert all(not r["decrypted"] and r["error"].startswith("replay") for r in rows[30:])


@pytest.mark.integration
def test_decrypt_tls_gives_a_plaintext_tcp_stream_tshark_follows(tmp_path: Path) -> None:
    name = "tls12-ecdhe-rsa-aes128gcm"
    meta = load_sidecar(SAMPLES / f"{name}.json")
    out = tmp_path / "plain.pcap"
    netsec(
        "decrypt",
        str(SAMPLES / f"{name}.pcap"),
        "-w",
        str(out),
        "--keylog",
        str(SAMPLES / f"{name}.keys"),
        "-q",
    )
    c2s, s2c = tshark_follow_tcp(out, 0)
    conn = meta["connections"][0]
    assert c2s == sidecar_bytes(conn, "c2s")
    assert s2c == sidecar_bytes(conn, "s2c")
    assert "tls" not in run_tshark(["-r", str(out), "-T", "fields", "-e", "frame.protocols"])


@pytest.mark.integration
def test_inject_secrets_lets_tshark_and_netsec_decrypt_without_a_key_file(tmp_path: Path) -> None:
    name = "tls13-chacha20"
    out = tmp_path / "with-secrets.pcapng"
    netsec(
        "keys",
        "inject",
        str(SAMPLES / f"{name}.pcap"),
        "-w",
        str(out),
        "--keylog",
        str(SAMPLES / f"{name}.keys"),
        "-q",
    )
    assert out.stat().st_mode & 0o777 == 0o600
    meta = load_sidecar(SAMPLES / f"{name}.json")
    want = sidecar_bytes(meta["connections"][0], "c2s")
    follow = run_tshark(["-r", str(out), "-q", "-z", "follow,tls,raw,0"])
    assert want.hex()[:64] in follow.replace("\n", "").replace("\t", "")
    rows = [json.loads(x) for x in netsec("dissect", str(out), "--json").stdout.splitlines()]
    got = b"".join(
        bytes.fromhex(r["app_data"]) for r in rows if r["app_data"] and r["dir"] == "c2s"
    )
    assert hashlib.sha256(got).digest() == hashlib.sha256(want).digest()


def test_export_keys_from_rsa_key_then_decrypt_with_the_exported_log(tmp_path: Path) -> None:
    name = "tls12-rsa-aes128gcm"
    meta = load_sidecar(SAMPLES / f"{name}.json")
    log = tmp_path / "exported.keys"
    netsec(
        "keys",
        "export",
        str(SAMPLES / f"{name}.pcap"),
        "-w",
        str(log),
        "--rsa-key",
        str(SAMPLES / meta["rsa_key"]),
        "-q",
    )
    assert log.stat().st_mode & 0o777 == 0o600
    assert log.read_text().startswith("CLIENT_RANDOM ")
    rows = [
        json.loads(x)
        for x in netsec(
            "dissect", str(SAMPLES / f"{name}.pcap"), "--keylog", str(log), "--json"
        ).stdout.splitlines()
    ]
    got = b"".join(
        bytes.fromhex(r["app_data"]) for r in rows if r["app_data"] and r["dir"] == "s2c"
    )
    assert got == sidecar_bytes(meta["connections"][0], "s2c")


def test_stats_names_version_suite_sni_and_counts() -> None:
    name = "tls12-ecdhe-ecdsa-aes256gcm"
    meta = load_sidecar(SAMPLES / f"{name}.json")
    rows = [
        json.loads(x)
        for x in netsec(
            "stats",
            str(SAMPLES / f"{name}.pcap"),
            "--keylog",
            str(SAMPLES / f"{name}.keys"),
            "--json",
            "-q",
        ).stdout.splitlines()
    ]
    assert len(rows) == 1
    r = rows[0]
    assert r["version"] == "TLSv1.2" and r["cipher_suite"] == meta["cipher_suite"]
    assert (
        r["decrypted"] > 0
        and r["failed"] == 0
        and r["finished_ok"] == {"client": True, "server": True}
    )
    assert r["certificate_subject"] and "CN=" in r["certificate_subject"]


def test_keylog_with_bad_lines_still_decrypts_and_reports_line_numbers(tmp_path: Path) -> None:
    name = "tls12-ecdhe-rsa-chacha20"
    text = (SAMPLES / f"{name}.keys").read_text()
    bad = tmp_path / "bad.keys"
    bad.write_bytes(
        ("garbage line\r\n\r\nCLIENT_RANDOM zz 00\r\n" + text.replace("\n", "\r\n")).encode()
    )
    proc = netsec("dissect", str(SAMPLES / f"{name}.pcap"), "--keylog", str(bad), "--json")
    assert ":1:" in proc.stderr and ":3:" in proc.stderr
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert any(r["decrypted"] for r in rows)
    check = netsec("keys", "check", str(bad), check=False)
    assert check.returncode == 1 and "2 bad lines" in check.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["dissect", "/nonexistent.pcap"], "no such file"),
        (["dissect", "README.md"], "netsec:"),
        (
            ["dissect", "pcaps/tls/tls13-aes128gcm.pcap", "--keylog", "/nonexistent.keys"],
            "nonexistent",
        ),
        (["dissect", "pcaps/tls/tls13-aes128gcm.pcap", "--rsa-key", "README.md"], "netsec:"),
    ],
)
def test_errors_are_one_line_and_nonzero(args: list[str], needle: str) -> None:
    proc = netsec(*args, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle.lower() in lines[0].lower() and "Traceback" not in proc.stderr


def test_unknown_algorithm_lists_the_known_ones(tmp_path: Path, plain_pcap: Path) -> None:
    sa = tmp_path / "esp_sa"
    sa.write_text(SA_LINE.replace("AES-GCM with 16 octet ICV [RFC4106]", "ROT13"))
    proc = netsec(
        "encrypt", str(plain_pcap), "-w", str(tmp_path / "x.pcap"), "--esp-sa", str(sa), check=False
    )
    assert proc.returncode == 2 and "ROT13" in proc.stderr and "AES-GCM" in proc.stderr


def test_keys_convert_round_trips_between_formats(tmp_path: Path) -> None:
    sa = tmp_path / "esp_sa"
    sa.write_text(SA_LINE + CBC_LINE)
    as_json = tmp_path / "sa.json"
    as_json.write_text(netsec("keys", "convert", str(sa), "--to", "json").stdout)
    back = netsec("keys", "convert", str(as_json), "--to", "esp_sa").stdout
    again = tmp_path / "again"
    again.write_text(back)
    assert netsec("keys", "convert", str(again), "--to", "json").stdout == as_json.read_text()
    xfrm = netsec("keys", "convert", str(sa), "--to", "xfrm").stdout
    assert "ip xfrm state add" in xfrm and "rfc4106(gcm(aes))" in xfrm and "spi 0x00001234" in xfrm


def test_help_runs_without_scapy() -> None:
    code = (
        "import sys, netsec_layers.cli.main as m; import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: m.main(['--help'])\n"
        "    except SystemExit: pass\n"
        "print('scapy' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_ah_packets_are_verified_and_reported(tmp_path: Path) -> None:
    from netsec_layers.io.pcap import CaptureWriter
    from netsec_layers.keys.sa import SecurityAssociation
    from netsec_layers.session import ipbuild
    from netsec_layers.session.ipsec import SADatabase

    sa = SecurityAssociation(
        spi=0x4242,
        encryption="NULL",
        integrity="HMAC-SHA2-256-128",
        auth_key=bytes(range(32)),
        protocol="ah",
        mode="transport",
    )
    db = SADatabase([sa])
    pcap = tmp_path / "ah.pcap"
    with CaptureWriter(pcap, linktype=101) as w:
        for i in range(5):
            udp = ipbuild.udp_datagram(
                version=4,
                src="10.0.0.1",
                dst="10.0.0.2",
                sport=7,
                dport=9,
                payload=bytes([i]) * 40,
                zero_checksum=False,
            )
            ip = (
                ipbuild.ipv4_header(
                    src="10.0.0.1", dst="10.0.0.2", proto=17, payload_len=len(udp), ident=i
                )
                + udp
            )
            w.write(db.build_ah(ip, sa=sa, seq=i + 1), ts_ns=i)
    sa_file = tmp_path / "sa.json"
    from netsec_layers.keys.sa_files import format_project

    sa_file.write_text(format_project([sa]))
    rows = [
        json.loads(x)
        for x in netsec(
            "dissect", str(pcap), "--esp-sa", str(sa_file), "--json"
        ).stdout.splitlines()
    ]
    assert [r["proto"] for r in rows] == ["ah"] * 5
    assert all(r["decrypted"] and r["error"] is None and r["next_header"] == 17 for r in rows)
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    bad = SecurityAssociation(**{**sa.__dict__, "auth_key": bytes(32)})
    sa_file.write_text(format_project([bad]))
    rows = [
        json.loads(x)
        for x in netsec(
            "dissect", str(pcap), "--esp-sa", str(sa_file), "--json"
        ).stdout.splitlines()
    ]
    assert all(not r["decrypted"] and "ICV" in r["error"] for r in rows)


@pytest.mark.integration
def test_decrypt_pcapng_with_embedded_secrets_writes_pcapng_tshark_follows(tmp_path: Path) -> None:
    name = "tls13-dsb"
    meta = load_sidecar(SAMPLES / f"{name}.json")
    out = tmp_path / "plain.pcapng"
    netsec("decrypt", str(SAMPLES / f"{name}.pcapng"), "-w", str(out), "-q")
    assert out.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"  # a pcapng Section Header Block
    c2s, s2c = tshark_follow_tcp(out, 0)
    conn = meta["connections"][0]
    assert (c2s, s2c) == (sidecar_bytes(conn, "c2s"), sidecar_bytes(conn, "s2c"))


def test_secrets_are_printed_only_with_show_keys() -> None:
    name = "tls12-rsa-aes128gcm"
    meta = load_sidecar(SAMPLES / f"{name}.json")
    args = ["dissect", str(SAMPLES / f"{name}.pcap"), "--rsa-key", str(SAMPLES / meta["rsa_key"])]
    quiet = netsec(*args)
    shown = netsec(*args, "--show-keys")
    lines = [x for x in shown.stderr.splitlines() if x.startswith("CLIENT_RANDOM ")]
    assert len(lines) == 1
    master_hex = lines[0].split()[2]
    assert len(master_hex) == 96 and master_hex not in quiet.stderr + quiet.stdout


def test_resource_limits_are_options_and_reaching_one_is_reported(tmp_path: Path) -> None:
    """Five connections each send 600 KiB behind a hole that never fills: with
    ``--max-tcp-buffer 1`` the fullest buffers are delivered past their holes and the dissection
    says so; with ``--max-connections 2`` the oldest connections are evicted, reported too."""
    from scapy.layers.inet import IP, TCP
    from scapy.utils import wrpcap

    pkts = []
    for i in range(5):
        sport = 6000 + i
        pkts.append(
            IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=sport, dport=443, flags="S", seq=0)
        )
        # a TLS application-data record of 16 KiB per segment, offset 0..99 missing
        rec = bytes([23, 3, 3, 0x40, 0]) + bytes(0x4000)
        for k in range(37):
            pkts.append(
                IP(src="10.0.0.1", dst="10.0.0.2")
                / TCP(sport=sport, dport=443, flags="A", seq=101 + k * len(rec))
                / rec
            )
    cap = tmp_path / "holes.pcap"
    wrpcap(str(cap), pkts, linktype=101)
    plain = netsec("dissect", str(cap), "--json")
    assert "holes skipped" not in plain.stderr and "evicted" not in plain.stderr
    limited = netsec("dissect", str(cap), "--json", "--max-tcp-buffer", "1")
    assert "TCP holes skipped" in limited.stderr and "1 MiB in all" in limited.stderr
    # the same records are found either way (re-synchronised after the skipped hole)
    assert len(limited.stdout.splitlines()) == len(plain.stdout.splitlines()) > 0
    evict = netsec("stats", str(cap), "--max-connections", "2")
    assert "3 connections evicted: more than 2 open at once" in evict.stderr
    bad = netsec("dissect", str(cap), "--max-connections", "0", check=False)
    assert bad.returncode == 2 and "must be at least 1" in bad.stderr


def test_stats_and_export_cover_connections_released_from_the_tracker(tmp_path: Path) -> None:
    """More connections than the tracker keeps once closed (1,000): ``stats`` still lists
    every one and ``keys export`` writes every secret (the generator's own key log)."""
    from tools import synth

    cap, keys = tmp_path / "seq.pcap", tmp_path / "seq.keys"
    synth.write_tls_sequential(cap, keys, version=12, connections=1100, records=1)
    rows = [
        json.loads(x)
        for x in netsec(
            "stats", str(cap), "--keylog", str(keys), "--json", "-q"
        ).stdout.splitlines()
    ]
    assert sorted(r["stream"] for r in rows) == list(range(1100))
    assert all(
        r["decrypted"] == 3 and r["finished_ok"] == {"client": True, "server": True} for r in rows
    )
    out = tmp_path / "exported.keys"
    netsec("keys", "export", str(cap), "--keylog", str(keys), "-w", str(out), "-q")
    assert sorted(out.read_text().split("\n")[:-1]) == sorted(keys.read_text().split("\n")[:-1])


def test_stats_sa_rows_are_capped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A flood of ESP packets with distinct SPIs (no SA needed) cannot grow ``stats`` without
    bound: past ``MAX_SA_ROWS`` rows the rest are not listed, with a warning."""
    from scapy.layers.inet import IP
    from scapy.packet import Raw
    from scapy.utils import wrpcap

    from netsec_layers.cli import stats as stats_mod
    from netsec_layers.cli.main import main

    monkeypatch.setattr(stats_mod, "MAX_SA_ROWS", 10)
    cap = tmp_path / "spis.pcap"
    wrpcap(str(cap), [IP(src="10.0.0.1", dst="10.0.0.2", proto=50) / Raw(
        spi.to_bytes(4, "big") + bytes(4) + bytes(24)) for spi in range(1, 31)],
        linktype=101)  # fmt: skip
    assert main(["stats", str(cap), "--json"]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(x) for x in captured.out.splitlines()]
    assert [r["spi"] for r in rows] == [f"0x{i:08x}" for i in range(1, 11)]
    assert "more than 10 ESP/AH SPIs" in captured.err


def test_gc_tuning_is_scoped_to_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """Streaming commands raise the cyclic-GC thresholds while they run and restore them."""
    import gc

    from netsec_layers.cli import main as main_mod
    from netsec_layers.cli import stats as stats_mod

    seen = []
    real = stats_mod.run_stats
    monkeypatch.setattr(
        stats_mod, "run_stats", lambda a: seen.append(gc.get_threshold()) or real(a)
    )
    before = gc.get_threshold()
    assert main_mod.main(["stats", str(SAMPLES / "tls12-ecdhe-ecdsa-aes256gcm.pcap"), "-q"]) == 0
    assert seen == [(100_000, 20, 10)] and gc.get_threshold() == before
