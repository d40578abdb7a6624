"""``--ech-key``: a TLS server's ECH key file (draft-farrell-tls-pemesni: a PKCS#8 PRIVATE KEY
block and an ECHCONFIG block, the format OpenSSL's ECH builds, nginx and HAProxy load) opens the
ClientHelloOuter with no ``ECH_SECRET``/``ECH_CONFIG`` lines, as the server itself does
(DHKEM Decap with the config's private key, RFC 9180 §4.1; RFC 9849 §7.1).

The hellos are sealed by the test's ECH client on pyhpke (``ech_builder``, no netsec code) around
a real ClientHelloInner that OpenSSL sent (Python ``ssl``); the key file is written with pyca
``cryptography``'s PKCS#8 serializer and checked by ``openssl pkey``.  What netsec opens must be
that hello, and the connection's application data must then decrypt with the key log's TLS
secrets for the inner random (which carries no ECH line).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pyhpke = pytest.importorskip("pyhpke")

from cryptography.hazmat.primitives import serialization  # noqa: E402

from netsec_layers.crypto.ech import load_ech_pem  # noqa: E402
from netsec_layers.errors import ParseError  # noqa: E402
from netsec_layers.session.tcp import StreamChunk, TCPConn  # noqa: E402
from netsec_layers.session.tls import TLSRecordInfo, TLSTracker  # noqa: E402
from netsec_layers.session.tls_keys import TLSKeyMaterial  # noqa: E402
from tests.ech import ech_builder as B  # noqa: E402
from tests.ech.test_ech_capture import (  # noqa: E402
    CLIENT_MSGS,
    SERVER_MSGS,
    SUITES,
    Real,
    _app,
    _chunks_with,
    _real_session,
    write_capture,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Real:
    return _real_session(tmp_path_factory.mktemp("ech-server-key"))


def ech_pem(keys: B.ECHKeys, configs: list[bytes] | None = None) -> str:
    """The server's file: its private key (PKCS#8 PEM) and an ECHConfigList."""
    pem = keys.sk.raw.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    body = b"".join(configs if configs is not None else [keys.config])
    lst = base64.b64encode(len(body).to_bytes(2, "big") + body).decode()
    return f"{pem}-----BEGIN ECHCONFIG-----\n{lst}\n-----END ECHCONFIG-----\n"


def _track(real: Real, outer_msg: bytes, km: TLSKeyMaterial) -> list[TLSRecordInfo]:
    km.add_keylog_text(real.keylog)  # TLS 1.3 secrets of the inner random; no ECH lines
    tracker = TLSTracker(km)
    conn = TCPConn(0, ("10.0.0.1", 40000), ("10.0.0.2", 443), 4, True)
    out: list[TLSRecordInfo] = []
    for i, (side, data) in enumerate(_chunks_with(real, outer_msg)):
        out += tracker.feed(StreamChunk(conn, side == "c", data, i + 1, i))
    return out


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: f"{s[0].name}-{s[1].name}-{s[2].name}")
def test_server_key_opens_the_outer_hello(real: Real, suite: Any, tmp_path: Path) -> None:
    keys = B.new_ech_keys(kem=suite[0], kdf=suite[1], aead=suite[2])
    other = B.new_ech_keys(config_id=7)  # another config in the same list, another key
    outer = B.build_outer(real.inner_msg, keys)
    text = ech_pem(keys, [other.config, keys.config])
    if shutil.which("openssl"):  # the key block is a PKCS#8 key OpenSSL reads
        f = tmp_path / "ech.pem"
        f.write_text(text)
        subprocess.run(["openssl", "pkey", "-in", str(f), "-noout"], check=True)
    server_keys = load_ech_pem(text, "ech.pem")
    assert [k.config.raw for k in server_keys] == [keys.config]  # only the config of this key
    km = TLSKeyMaterial()
    km.add_ech_keys(server_keys)
    recs = _track(real, outer.message, km)
    ch = next(r for r in recs if r.handshake_types[:1] == [1]).to_json()
    assert ch["ech"]["status"] == "decrypted" and ch["ech"]["inner_sni"] == "secret.example"
    assert ch["ech"]["inner_random"] == real.inner_msg[6:38].hex()
    # the inner hello is OpenSSL's: its random finds the TLS secrets, both Finished verify
    assert _app(recs, True) == CLIENT_MSGS and _app(recs, False) == SERVER_MSGS
    assert [r.error for r in recs if r.error] == []


def test_wrong_or_missing_server_key_is_a_verdict(real: Real) -> None:
    keys = B.new_ech_keys()
    outer = B.build_outer(real.inner_msg, keys)
    # the same config_id and config, another private key: the payload does not authenticate
    impostor = B.new_ech_keys()
    forged = load_ech_pem(ech_pem(impostor), "impostor.pem")
    forged[0] = type(forged[0])(_config(keys.config), forged[0].private_key, forged[0].source)
    km = TLSKeyMaterial()
    km.add_ech_keys(forged)
    recs = _track(real, outer.message, km)
    ech = next(r for r in recs if r.handshake_types[:1] == [1]).to_json()["ech"]
    assert ech["status"] == "decryption failed" and "--ech-key" in ech["error"]
    assert _app(recs, True) == []  # nothing decrypts without the inner random
    # a key for another config_id: named as missing
    km = TLSKeyMaterial()
    km.add_ech_keys(load_ech_pem(ech_pem(B.new_ech_keys(config_id=9)), "nine.pem"))
    ech = next(r for r in _track(real, outer.message, km) if r.handshake_types[:1] == [1])
    info = ech.to_json()["ech"]
    assert info["status"] == "no key" and "config_id 66" in info["error"]


def _config(raw: bytes) -> Any:
    from netsec_layers.crypto.ech import parse_ech_config

    return parse_ech_config(raw)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not a key file", "one PRIVATE KEY and one ECHCONFIG"),
        ("-----BEGIN ECHCONFIG-----\nAAA=\n-----END ECHCONFIG-----\n", "one PRIVATE KEY"),
    ],
)
def test_bad_files_are_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        load_ech_pem(text)


def test_key_of_no_config_in_the_list(real: Real) -> None:
    a, b = B.new_ech_keys(), B.new_ech_keys()
    with pytest.raises(ParseError, match="no ECHConfig"):
        load_ech_pem(ech_pem(a, [b.config]))


def test_cli_dissect_with_ech_key(real: Real, tmp_path: Path) -> None:
    keys = B.new_ech_keys()
    outer = B.build_outer(real.inner_msg, keys)
    pcap, keylog, pem = tmp_path / "ech.pcap", tmp_path / "tls.keys", tmp_path / "ech.pem"
    write_capture(real, outer.message, pcap)
    keylog.write_text(real.keylog)
    pem.write_text(ech_pem(keys))

    def netsec(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "netsec_layers", *args],
            capture_output=True, text=True, timeout=300, cwd=REPO,
        )  # fmt: skip

    proc = netsec("dissect", str(pcap), "--keylog", str(keylog), "--ech-key", str(pem), "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert rows[0]["ech"]["status"] == "decrypted"
    assert rows[0]["ech"]["inner_sni"] == "secret.example"
    apps = sorted(bytes.fromhex(r["app_data"]) for r in rows if r["app_data"])
    assert apps == sorted(CLIENT_MSGS + SERVER_MSGS)
    # without the key file: the hello stays closed, and so does the connection
    proc = netsec("dissect", str(pcap), "--keylog", str(keylog), "--json")
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert rows[0]["ech"]["status"] == "no key" and not any(r["app_data"] for r in rows)
    # a file that is no ECH key file: one message, status 2
    bad = netsec("dissect", str(pcap), "--ech-key", str(keylog))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr
    assert "ECHCONFIG" in bad.stderr
