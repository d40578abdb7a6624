"""Cross-implementation record tests with GnuTLS (gnutls-serv --echo <- proxy <- gnutls-cli).

GnuTLS is a second independent producer and still speaks what this OpenSSL build refuses:
3DES-EDE-CBC, RC4-128 (SHA1/MD5), NULL-SHA1/MD5.  A Python TCP proxy on 127.0.0.1 records
every byte in wire order; the Walk of test_tls_interop.py decrypts each record with keys from
gnutls-cli's SSLKEYLOGFILE, checks both Finished messages, flips bits, and compares the
application data with what was sent (the echo server sends it back).
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from netsec_layers.keys.keylog import parse_keylog
from tests.crypto.test_tls_interop import Walk
from tests.crypto.test_tls_peer import make_cert

pytestmark = pytest.mark.integration

MSGS = [b"hello gnutls\n", b"0123456789abcdef" * 200 + b"\n"]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is required for this integration test")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proxy(listener: socket.socket, server_port: int, chunks: list[tuple[str, bytes]]) -> None:
    listener.settimeout(15)
    try:
        client, _ = listener.accept()
    except OSError:
        return
    server = socket.create_connection(("127.0.0.1", server_port))
    peers = {client: ("c", server), server: ("s", client)}
    with client, server:
        while True:
            ready, _, _ = select.select(list(peers), [], [], 10)
            if not ready:
                return
            for sock in ready:
                data = sock.recv(65536)
                side, other = peers[sock]
                if not data:
                    return
                chunks.append((side, data))
                other.sendall(data)


def _run(
    tmp: Path, cert: tuple[str, str], priority: str, extra: tuple[str, ...] = ()
) -> tuple[list[tuple[str, bytes]], str, str]:
    serv, cli = _tool("gnutls-serv"), _tool("gnutls-cli")
    port = _free_port()
    server = subprocess.Popen(
        [serv, "--echo", "-p", str(port), "--x509keyfile", cert[0], "--x509certfile", cert[1],
         "--priority", priority],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        chunks: list[tuple[str, bytes]] = []
        thread = threading.Thread(target=_proxy, args=(listener, port, chunks), daemon=True)
        thread.start()
        keylog = tmp / "gnutls-keys.log"
        env = dict(os.environ, SSLKEYLOGFILE=str(keylog))
        res = subprocess.run(
            [cli, "--insecure", *extra, "-p", str(listener.getsockname()[1]), "127.0.0.1",
             "--priority", priority],
            input=b"".join(MSGS), capture_output=True, env=env, timeout=30, check=False,
        )  # fmt: skip
        thread.join(15)
        listener.close()
    finally:
        server.kill()
        server.wait()
    return chunks, keylog.read_text(encoding="ascii"), res.stdout.decode("ascii", "replace")


_BASE12 = "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:-MAC-ALL:-KX-ALL"
CASES = [
    ("rsa-3des-sha1", f"{_BASE12}:+3DES-CBC:+SHA1:+RSA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
    ("ecdhe-3des-sha1", f"{_BASE12}:+3DES-CBC:+SHA1:+ECDHE-RSA",
     "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    ("tls10-rsa-3des-sha1", f"{_BASE12}:+VERS-TLS1.0:-VERS-TLS1.2:+3DES-CBC:+SHA1:+RSA",
     "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
    ("rsa-rc4-sha1", f"{_BASE12}:+ARCFOUR-128:+SHA1:+RSA", "TLS_RSA_WITH_RC4_128_SHA"),
    ("rsa-rc4-md5", f"{_BASE12}:+ARCFOUR-128:+MD5:+RSA", "TLS_RSA_WITH_RC4_128_MD5"),
    ("rsa-null-sha1", f"{_BASE12}:+NULL:+SHA1:+RSA", "TLS_RSA_WITH_NULL_SHA"),
    ("rsa-null-md5", f"{_BASE12}:+NULL:+MD5:+RSA", "TLS_RSA_WITH_NULL_MD5"),
    ("rsa-camellia128-sha1", f"{_BASE12}:+CAMELLIA-128-CBC:+SHA1:+RSA",
     "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    ("ecdhe-aes256-cbc-sha384", f"{_BASE12}:+AES-256-CBC:+SHA384:+ECDHE-RSA",
     "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"),
    ("tls13-aes128-ccm", "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-CCM",
     "TLS_AES_128_CCM_SHA256"),
    ("tls13-chacha20", "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305",
     "TLS_CHACHA20_POLY1305_SHA256"),
]  # fmt: skip


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return make_cert(str(tmp_path_factory.mktemp("gnutlscert")))


@pytest.mark.parametrize("priority,suite", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_gnutls_records(tmp_path: Path, cert: tuple[str, str], priority: str, suite: str) -> None:
    chunks, keylog_text, _out = _run(tmp_path, cert, priority)
    keylog = parse_keylog(keylog_text)
    assert keylog.errors == [] and len(keylog) > 0
    w = Walk(keylog, cert[0])
    for side, data in chunks:
        w.feed(side, data)
    assert w.suite is not None and w.suite.name == suite
    assert "finished-c" in w.checks and "finished-s" in w.checks
    if w.suite.kex == "RSA":
        assert any(c.startswith("rsa") for c in w.checks)
    assert bytes(w.app["c"]) == b"".join(MSGS)
    assert bytes(w.app["s"]) == b"".join(MSGS)  # the echo
    assert w.flips > 0


@pytest.mark.parametrize("version", ["TLS1.2", "TLS1.3"])
def test_gnutls_keying_material_exporter(
    tmp_path: Path, cert: tuple[str, str], version: str
) -> None:
    """RFC 5705 §4 (TLS 1.2) and RFC 8446 §7.5 (TLS 1.3) exporters vs gnutls-cli --keymatexport."""
    from netsec_layers.crypto.tls13 import export_keying_material13
    from netsec_layers.crypto.tls_prf import export_keying_material

    label = "EXPERIMENTAL-netsec"
    priority = f"NORMAL:-VERS-ALL:+VERS-{version}"
    chunks, keylog_text, out = _run(
        tmp_path, cert, priority, ("--keymatexport=" + label, "--keymatexportsize=42")
    )
    lines = [ln for ln in out.splitlines() if ln.startswith("- Key material: ")]
    assert len(lines) == 1
    expected = bytes.fromhex(lines[0].split(": ", 1)[1])
    w = Walk(parse_keylog(keylog_text), cert[0], flip=False)
    for side, data in chunks:
        w.feed(side, data)
    assert w.suite is not None
    if w.is13:
        secret = w.keylog.secrets_for(w.cr)["EXPORTER_SECRET"]
        ours = export_keying_material13(
            w.suite.prf_hash, exporter_secret=secret, label=label.encode(), context=b"",
            length=42,
        )  # fmt: skip
    else:
        ours = export_keying_material(
            w.version, w.suite, master_secret=w.master, client_random=w.cr, server_random=w.sr,
            label=label.encode(), context=None, length=42,
        )  # fmt: skip
    assert ours == expected


@pytest.mark.parametrize(
    "version,priority",
    [("1.2", f"{_BASE12}:+AES-128-GCM:+AEAD:+ECDHE-RSA"),
     ("1.3", "NORMAL:-VERS-ALL:+VERS-TLS1.3")],
)  # fmt: skip
def test_gnutls_record_size_limit(
    tmp_path: Path, cert: tuple[str, str], version: str, priority: str
) -> None:
    """RFC 8449 with a real peer: gnutls-cli --recordsize=512 advertises 512 in TLS 1.2 and 513
    in TLS 1.3 (§4: there the value counts TLSInnerPlaintext, the content type byte too), and
    gnutls-serv keeps to it: records of at most 512 content bytes, so the tracker takes 512 for
    the server's direction either way, decrypts, and warns about nothing; GnuTLS's own
    advertisement (16384 / 16385: the protocol's maximum) sets no limit on the client's side."""
    from netsec_layers.session.tcp import StreamChunk, TCPConn
    from netsec_layers.session.tls import TLSKeyMaterial, TLSTracker

    chunks, keylog_text, out = _run(tmp_path, cert, priority, ("--recordsize=512",))
    keys = TLSKeyMaterial()
    keys.add_keylog(parse_keylog(keylog_text))
    tracker = TLSTracker(keys)
    conn = TCPConn(0, ("127.0.0.1", 40000), ("127.0.0.1", 443), 4, True)
    records = []
    for frame, (side, data) in enumerate(chunks, 1):
        records += tracker.feed(StreamChunk(conn, side == "c", data, frame, frame * 1000))
    [tconn] = tracker.connections.values()
    assert tconn.server.max_fragment == 512
    advertised = 512 if version == "1.2" else 513
    assert tconn.server.limit_rule == f"record_size_limit {advertised} (RFC 8449 §4)"
    assert tconn.client.max_fragment == 0
    app = [r for r in records if r.decrypted and r.inner_content_type == 23]
    echoed = b"".join(r.plaintext for r in app if not r.from_client)
    assert len(echoed) >= 512 and b"".join(MSGS).startswith(echoed)  # what the echo sent back
    assert max(len(r.plaintext) for r in app if not r.from_client) == tconn.server.max_fragment
    codes = [w.code.value for r in records for w in r.warnings or ()]
    # (the test's self-signed certificate, at timestamps near 1970, has certificate_* codes)
    assert [c for c in codes if not c.startswith("certificate_")] == []
