"""``netsec extract``: mail messages (checked against what the servers stored / the clients
received) and TLS certificates (checked against tshark 4.0's ``tls.handshake.certificate``,
with the key log so TLS 1.3's encrypted Certificate counts)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st

from netsec_layers.session.mail_extract import certificates_of
from tests.tshark_util import run_tshark

ROOT = Path(__file__).parents[2]
TLS = ROOT / "pcaps" / "tls"
MAIL = ROOT / "pcaps" / "mail"


def _extract(tmp: Path, *args: str) -> list[dict[str, object]]:
    r = subprocess.run(
        [sys.executable, "-m", "netsec_layers", "extract", *args, "-o", str(tmp), "--json", "-q"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return [json.loads(x) for x in r.stdout.splitlines()]


def test_extract_mail(tmp_path: Path) -> None:
    lines = _extract(tmp_path, str(MAIL / "imap-pop3-dovecot.pcap"))
    got = json.loads((MAIL / "imap-pop3-dovecot.json").read_text())
    clear = ("imap_fetch", "imap_append", "pop3_retr")
    want = sorted(x["sha256"] for k in clear for x in got[k])
    files = [Path(str(x["path"])) for x in lines]
    assert all(x["kind"] == "mail" for x in lines) and len(files) == 10
    assert sorted(hashlib.sha256(f.read_bytes()).hexdigest() for f in files) == want
    assert [f.name for f in files] == [f"{i:04d}.eml" for i in range(1, 11)]
    assert (files[0].stat().st_mode & 0o777) == 0o600
    # with the key log, the messages after IMAP STARTTLS and POP3 STLS too (the implicit-TLS
    # listeners of the sample are on test ports, not 993/995, so they stay TLS)
    (tmp_path / "k").mkdir()
    keyed = _extract(
        tmp_path / "k",
        str(MAIL / "imap-pop3-dovecot.pcap"),
        "--keylog",
        str(MAIL / "imap-pop3-dovecot.keys"),
    )
    mails = [Path(str(x["path"])) for x in keyed if x["kind"] == "mail"]
    extra = sorted(x["sha256"] for k in ("imap_starttls", "pop3_stls") for x in got[k])
    assert sorted(hashlib.sha256(f.read_bytes()).hexdigest() for f in mails) == sorted(want + extra)
    # the server's certificate, from the TLS handshakes (TLS 1.3: with the key log)
    certs = [Path(str(x["path"])).read_bytes() for x in keyed if x["kind"] == "cert"]
    rsa = x509.load_pem_x509_certificate((ROOT / "tests/vectors/mail/cms/rsa.crt").read_bytes())
    assert certs == [rsa.public_bytes(Encoding.DER)]


CERT_SAMPLES = [
    "gnutls-tls13",
    "python-tls13-port50443",
    "tls12-ecdhe-ecdsa-aes256gcm",
    "gnutls-tls12",
]


@pytest.mark.integration
@pytest.mark.parametrize("name", CERT_SAMPLES)
def test_extract_certificates_like_tshark(tmp_path: Path, name: str) -> None:
    assert shutil.which("tshark"), "tshark is required"
    meta = json.loads((TLS / f"{name}.json").read_text())
    pcap, keys = TLS / f"{name}.pcap", TLS / f"{name}.keys"
    r = run_tshark(
        [
            "-r",
            str(pcap),
            "-o",
            f"tls.keylog_file:{keys}",
            "-d",
            f"tcp.port=={meta['server_port']},tls",
            "-T",
            "fields",
            "-e",
            "tls.handshake.certificate",
        ]
    )
    theirs = {h for line in r.split() for h in line.split(",") if h}
    lines = _extract(tmp_path, str(pcap), "--keylog", str(keys))
    ours = {Path(str(x["path"])).read_bytes().hex() for x in lines if x["kind"] == "cert"}
    assert ours == theirs and ours
    if name == "gnutls-tls13":  # without the key log TLS 1.3 hides its certificates
        (tmp_path / "nokeys").mkdir()
        assert not [x for x in _extract(tmp_path / "nokeys", str(pcap)) if x["kind"] == "cert"]


def test_certificate_message_layouts() -> None:
    a, b = b"\x30\x03\x01\x02\x03", b"\x30\x01\x00"
    tls12 = (len(a) + len(b) + 6).to_bytes(3, "big") + len(a).to_bytes(3, "big") + a
    tls12 += len(b).to_bytes(3, "big") + b
    assert certificates_of(tls12) == [a, b]
    entries = len(a).to_bytes(3, "big") + a + b"\x00\x00" + len(b).to_bytes(3, "big") + b
    entries += b"\x00\x04\x00\x05\x00\x00"  # an extension block
    tls13 = b"\x00" + len(entries).to_bytes(3, "big") + entries
    assert certificates_of(tls13) == [a, b]
    assert certificates_of(b"") == [] and certificates_of(b"\x00\x00\x05\x01") == []


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_certificate_parser_never_raises(data: bytes) -> None:
    for cert in certificates_of(data):
        assert cert in data
