"""ECH end to end, on a real TLS 1.3 connection and an ECH client written from the RFC.

The connection: Python ``ssl`` (OpenSSL 3.0) client and server; the client's hello carries the
ClientHelloInner marker (added through OpenSSL's custom-extension API, ``ech_builder``), so it
is a real ClientHelloInner and the server's handshake is an ECH-accepting server's.  The test's
ECH client (``ech_builder``, pyhpke, no netsec code) wraps that hello into a ClientHelloOuter
under a test ECHConfig and writes what a server logs: ``ECH_SECRET`` (its HPKE Decap output)
and ``ECH_CONFIG``.  OpenSSL's key log keys the TLS 1.3 secrets by the inner random.

netsec then has to: open the payload, rebuild ClientHelloInner byte for byte (the bytes
OpenSSL sent), take the inner random for the keys and the inner hello for the transcript (both
Finished messages verify: an independent check that the transcript is the peers'), and show
the application data the Python peers exchanged.  Hostile variants: no ECH lines, a wrong
ECH_SECRET, a mismatched ECH_CONFIG, a malformed extension, GREASE ECH.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pyhpke = pytest.importorskip("pyhpke")

from netsec_layers.session.tcp import StreamChunk, TCPConn  # noqa: E402
from netsec_layers.session.tls import TLSRecordInfo, TLSTracker  # noqa: E402
from netsec_layers.session.tls_keys import TLSKeyMaterial  # noqa: E402
from tests.crypto.test_tls_peer import make_cert, run_session  # noqa: E402
from tests.ech import ech_builder as B  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CLIENT_MSGS = [b"GET /hidden HTTP/1.1\r\nHost: secret.example\r\n\r\n", b"second client record"]
SERVER_MSGS = [b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello", b"server again"]


@dataclass
class Real:
    chunks: list[tuple[str, bytes]]
    keylog: str
    inner_msg: bytes  # the ClientHello OpenSSL sent (a ClientHelloInner)
    rest0: bytes  # what followed it in the client's first write


def _real_session(tmp: Path, marker_body: bytes = b"\x01") -> Real:
    cert = make_cert(str(tmp))
    with B.inner_marker_clients(body=marker_body):
        s = run_session(
            str(tmp), cert, version=0x0304, client_msgs=CLIENT_MSGS, server_msgs=SERVER_MSGS
        )
    first = s.chunks[0][1]
    n = 5 + int.from_bytes(first[3:5], "big")
    assert first[0] == 22 and first[5] == 1
    return Real(list(s.chunks), s.keylog, first[5:n], first[n:])


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Real:
    return _real_session(tmp_path_factory.mktemp("ech-real"))


def _ech_lines(random: bytes, secret: bytes, config: bytes) -> str:
    return f"ECH_SECRET {random.hex()} {secret.hex()}\nECH_CONFIG {random.hex()} {config.hex()}\n"


def _chunks_with(real: Real, outer_msg: bytes) -> list[tuple[str, bytes]]:
    chunks = list(real.chunks)
    chunks[0] = ("c", B.record(outer_msg) + real.rest0)
    return chunks


def _track(chunks: list[tuple[str, bytes]], keylog: str) -> list[TLSRecordInfo]:
    km = TLSKeyMaterial()
    km.add_keylog_text(keylog)
    tracker = TLSTracker(km)
    conn = TCPConn(0, ("10.0.0.1", 40000), ("10.0.0.2", 443), 4, True)
    out: list[TLSRecordInfo] = []
    for i, (side, data) in enumerate(chunks):
        out += tracker.feed(StreamChunk(conn, side == "c", data, i + 1, i))
    return out


def _app(recs: list[TLSRecordInfo], from_client: bool) -> list[bytes]:
    return [
        r.plaintext
        for r in recs
        if r.from_client == from_client
        and r.decrypted
        and r.inner_content_type == 23
        and r.plaintext is not None
    ]


def _hello_records(recs: list[TLSRecordInfo]) -> tuple[dict[str, Any], dict[str, Any]]:
    ch = next(r for r in recs if r.handshake_types[:1] == [1]).to_json()
    sh = next(r for r in recs if r.handshake_types[:1] == [2]).to_json()
    return ch, sh


SUITES = [
    (pyhpke.KEMId.DHKEM_X25519_HKDF_SHA256, pyhpke.KDFId.HKDF_SHA256, pyhpke.AEADId.AES128_GCM),
    (
        pyhpke.KEMId.DHKEM_X25519_HKDF_SHA256,
        pyhpke.KDFId.HKDF_SHA256,
        pyhpke.AEADId.CHACHA20_POLY1305,
    ),
    (pyhpke.KEMId.DHKEM_P256_HKDF_SHA256, pyhpke.KDFId.HKDF_SHA256, pyhpke.AEADId.AES128_GCM),
    (pyhpke.KEMId.DHKEM_X25519_HKDF_SHA256, pyhpke.KDFId.HKDF_SHA384, pyhpke.AEADId.AES256_GCM),
]


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: f"{s[0].name}-{s[1].name}-{s[2].name}")
def test_ech_connection_decrypts_with_the_inner_random(real: Real, suite: Any) -> None:
    keys = B.new_ech_keys(kem=suite[0], kdf=suite[1], aead=suite[2])
    outer = B.build_outer(real.inner_msg, keys)
    assert outer.random != real.inner_msg[6:38]
    recs = _track(
        _chunks_with(real, outer.message),
        real.keylog + _ech_lines(outer.random, outer.shared_secret, keys.config),
    )
    # what the Python peers sent, read back from records decrypted with the inner random's keys
    assert _app(recs, True) == CLIENT_MSGS
    assert _app(recs, False) == SERVER_MSGS
    # the transcript is the peers': both Finished verify (no record has an error)
    assert [r.error for r in recs if r.error] == []
    fin = [r for r in recs if 20 in r.handshake_types]
    assert len(fin) == 2 and all(r.decrypted for r in fin)
    ch, sh = _hello_records(recs)
    ech = ch["ech"]
    assert ech["decrypted"] is True and ech["status"] == "decrypted" and ech["error"] is None
    assert ech["type"] == "outer" and ech["config_id"] == keys.config_id
    assert ech["cipher_suite"] == {"kdf_id": keys.kdf_id, "aead_id": keys.aead_id}
    body = dict(B.parse_client_hello(outer.message).extensions)[B.ECH]
    assert ech["enc"] == body[8 : 8 + int.from_bytes(body[6:8], "big")].hex()
    assert ech["payload_length"] == len(outer.encoded_inner) + 16
    assert ech["inner_sni"] == "secret.example"
    assert ech["inner_random"] == real.inner_msg[6:38].hex()
    assert ech["accepted"] is None and ech["used"] is None  # not known at the ClientHello
    # the server is not ECH-aware, so ServerHello.random carries no confirmation; the key log
    # (secrets for the inner random only) says the inner hello was used
    assert sh["ech"]["accepted"] is False and sh["ech"]["used"] == "inner"
    assert ch["ja3"] and ch["decrypted"] is False  # the ClientHello record itself is plaintext


def test_rebuilt_inner_hello_is_the_bytes_openssl_sent(real: Real) -> None:
    from netsec_layers.crypto import ech

    keys = B.new_ech_keys()
    for compress in ((11, 10, 13), (43, 45, 51), (35, 22, 23), (10,)):
        outer = B.build_outer(real.inner_msg, keys, compress=compress, pad_to=64)
        encoded, _ = ech.open_client_hello(
            outer.message, shared_secret=outer.shared_secret, ech_config=keys.config
        )
        assert encoded == outer.encoded_inner
        assert ech.decode_client_hello_inner(encoded, client_hello_outer=outer.message) == (
            real.inner_msg
        )
        # ClientHelloOuterAAD: the outer body with the payload zeroed, as the builder sealed it
        aad = ech.client_hello_outer_aad(outer.message)
        assert len(aad) == len(outer.message) - 4 and aad.endswith(bytes(len(encoded) + 16))


def _outer_and_lines(real: Real, **kw: Any) -> tuple[B.Outer, B.ECHKeys]:
    keys = B.new_ech_keys(**kw)
    return B.build_outer(real.inner_msg, keys), keys


def _assert_stays_as_captured(recs: list[TLSRecordInfo]) -> None:
    # keys exist only for the inner random: without ClientHelloInner nothing decrypts, and no
    # record shows plaintext
    assert _app(recs, True) == [] and _app(recs, False) == []
    assert not any(r.decrypted for r in recs)


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("no ech lines", "no key"),
        ("wrong secret", "decryption failed"),
        ("other config_id", "config mismatch"),
        ("suite not offered", "config mismatch"),
        ("flipped payload bit", "decryption failed"),
    ],
)
def test_hostile_keys_give_a_typed_verdict_and_the_connection_stays_as_captured(
    real: Real, case: str, status: str
) -> None:
    outer, keys = _outer_and_lines(real)
    msg, secret, config = outer.message, outer.shared_secret, keys.config
    if case == "wrong secret":
        secret = bytes(b ^ 0x55 for b in secret)
    elif case == "other config_id":
        config = B.new_ech_keys(config_id=keys.config_id ^ 1).config
    elif case == "suite not offered":
        config = B.new_ech_keys(
            config_id=keys.config_id, aead=pyhpke.AEADId.CHACHA20_POLY1305
        ).config
    elif case == "flipped payload bit":
        msg = msg[:-5] + bytes((msg[-5] ^ 1,)) + msg[-4:]
    lines = "" if case == "no ech lines" else _ech_lines(outer.random, secret, config)
    recs = _track(_chunks_with(real, msg), real.keylog + lines)
    ch, sh = _hello_records(recs)
    assert ch["ech"]["status"] == status and ch["ech"]["decrypted"] is False
    assert ch["ech"]["error"] and ch["ech"]["inner_sni"] is None
    assert sh["ech"]["used"] == "outer"
    _assert_stays_as_captured(recs)


def _patch_ech_extension(msg: bytes, new_body: Callable[[bytes], bytes]) -> bytes:
    """``msg`` with its encrypted_client_hello body replaced (lengths fixed up)."""
    h = B.parse_client_hello(msg)
    exts = [(t, new_body(x) if t == B.ECH else x) for t, x in h.extensions]
    return B.handshake(B.client_hello_body(h, exts))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda x: x[:-3],  # payload shorter than its length says
        lambda x: x + b"\x00",  # trailing byte
        lambda x: b"\x07" + x[1:],  # unknown ECHClientHelloType
        lambda x: x[:6] + b"\xff\xff" + x[8:],  # enc length past the end
    ],
    ids=["truncated", "trailing", "unknown-type", "enc-overrun"],
)
def test_malformed_extension_is_reported_with_a_reason(
    real: Real, mutate: Callable[[bytes], bytes]
) -> None:
    from netsec_layers.layers.tls import TLSExtEncryptedClientHello, TLSExtension, dissect_handshake

    outer, keys = _outer_and_lines(real)
    msg = _patch_ech_extension(outer.message, mutate)
    recs = _track(
        _chunks_with(real, msg),
        real.keylog
        + _ech_lines(B.parse_client_hello(msg).random, outer.shared_secret, keys.config),
    )
    ch, _ = _hello_records(recs)
    assert ch["ech"]["status"] == "malformed" and ch["ech"]["error"]
    assert not ch["ech"]["decrypted"]
    _assert_stays_as_captured(recs)
    # the Scapy view: the extension is kept opaque (generic TLSExtension), the hello rebuilds
    p = dissect_handshake(msg)
    assert bytes(p) == msg
    exts = [e for e in p.extensions if getattr(e, "type", None) == B.ECH]
    assert len(exts) == 1 and type(exts[0]) is TLSExtension
    assert not isinstance(exts[0], TLSExtEncryptedClientHello)


def test_grease_ech_is_dissected_not_decrypted(tmp_path: Path) -> None:
    """RFC 9849 §6.2: a client without ECHConfig sends a GREASE extension (random config_id,
    enc and payload).  Here OpenSSL's own hello carries it, so the connection is keyed by the
    outer (only) random and decrypts as usual; the extension is dissected, not decrypted."""
    from netsec_layers.layers.tls import TLSExtEncryptedClientHello, dissect_handshake

    grease = (
        struct.pack("!BHHB", 0, 1, 1, 0xA7) + B.vec(os.urandom(32), 2) + B.vec(os.urandom(239), 2)
    )
    real = _real_session(tmp_path, marker_body=grease)
    recs = _track(real.chunks, real.keylog)
    ch, sh = _hello_records(recs)
    assert ch["ech"]["status"] == "no key" and ch["ech"]["decrypted"] is False
    assert ch["ech"]["config_id"] == 0xA7 and ch["ech"]["payload_length"] == 239
    assert sh["ech"]["used"] == "outer" and sh["ech"]["accepted"] is None
    assert _app(recs, True) == CLIENT_MSGS and _app(recs, False) == SERVER_MSGS
    p = dissect_handshake(real.inner_msg)
    ext = next(e for e in p.extensions if isinstance(e, TLSExtEncryptedClientHello))
    assert (ext.ech_type, ext.config_id, len(ext.enc), len(ext.ech_payload)) == (0, 0xA7, 32, 239)


def test_accept_confirmation_in_server_hello_is_recognised(real: Real) -> None:
    """ServerHello.random's last 8 bytes set as an ECH server would (RFC 9849 §7.2), computed
    here on pyca's HKDF (not on netsec's key schedule): netsec reports ``accepted``."""
    from cryptography.hazmat.primitives import hashes, hmac
    from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

    outer, keys = _outer_and_lines(real)
    chunks = _chunks_with(real, outer.message)
    side, first = chunks[1]
    assert side == "s" and first[5] == 2
    sh_len = 4 + int.from_bytes(first[6:9], "big")
    sh = first[5 : 5 + sh_len]
    suite = int.from_bytes(sh[4 + 2 + 32 + 1 + sh[38] : 4 + 2 + 32 + 1 + sh[38] + 2], "big")
    alg: Any = hashes.SHA384() if suite == 0x1302 else hashes.SHA256()
    zeroed = sh[:30] + bytes(8) + sh[38:]
    h = hashes.Hash(alg)
    h.update(real.inner_msg + zeroed)
    th = h.finalize()
    mac = hmac.HMAC(bytes(alg.digest_size), alg)  # HKDF-Extract(0, ClientHelloInner.random)
    mac.update(real.inner_msg[6:38])
    prk = mac.finalize()
    label = b"tls13 ech accept confirmation"
    info = struct.pack("!H", 8) + bytes((len(label),)) + label + bytes((len(th),)) + th
    confirmation = HKDFExpand(alg, 8, info).derive(prk)
    new_sh = sh[:30] + confirmation + sh[38:]
    chunks[1] = ("s", first[:5] + new_sh + first[5 + sh_len :])
    recs = _track(chunks, real.keylog + _ech_lines(outer.random, outer.shared_secret, keys.config))
    _, sh_json = _hello_records(recs)
    assert sh_json["ech"]["accepted"] is True and sh_json["ech"]["used"] == "inner"
    # the records still decrypt with the inner random's secrets (the altered ServerHello only
    # changes the transcript, so the Finished check now reports the edit)
    assert _app(recs, True) == CLIENT_MSGS


def write_capture(real: Real, outer_msg: bytes, pcap: Path) -> None:
    """The connection with ``outer_msg`` for its ClientHello, as TCP over Ethernet in a pcap."""
    from netsec_layers.io.pcap import CaptureWriter
    from netsec_layers.session.tcpflow import TCPFlow

    flow = TCPFlow(("10.0.0.1", 40000), ("10.0.0.2", 443))
    packets = flow.open()
    for side, data in _chunks_with(real, outer_msg):
        packets += flow.data(side == "c", data, mss=1400)
    packets += flow.close()
    with CaptureWriter(pcap, linktype=1, nanosecond=True) as w:
        for i, pkt in enumerate(packets):
            w.write(pkt, ts_ns=1_700_000_000 * 10**9 + i * 1000)


def test_dissect_json_through_the_cli(real: Real, tmp_path: Path) -> None:
    outer, keys = _outer_and_lines(real)
    pcap, keylog = tmp_path / "ech.pcap", tmp_path / "ech.keys"
    write_capture(real, outer.message, pcap)
    keylog.write_text(real.keylog + _ech_lines(outer.random, outer.shared_secret, keys.config))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "netsec_layers",
            "dissect",
            str(pcap),
            "--keylog",
            str(keylog),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        check=True,
    )
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert rows[0]["handshake_types"] == [1] and rows[0]["ech"]["inner_sni"] == "secret.example"
    apps = [bytes.fromhex(r["app_data"]) for r in rows if r["app_data"]]
    assert apps == [*CLIENT_MSGS, *SERVER_MSGS] or sorted(apps) == sorted(CLIENT_MSGS + SERVER_MSGS)
    assert all(r["error"] is None for r in rows)
    # decrypt writes the connection as plaintext TCP: the peers' bytes, in order per direction
    out = tmp_path / "plain.pcap"
    subprocess.run(
        [sys.executable, "-m", "netsec_layers", "decrypt", str(pcap), "-w", str(out)]
        + ["--keylog", str(keylog), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        check=True,
    )
    from scapy.layers.inet import TCP
    from scapy.utils import rdpcap

    streams = {True: b"", False: b""}
    for pkt in rdpcap(str(out)):
        if TCP in pkt and bytes(pkt[TCP].payload):
            streams[pkt[TCP].dport == 443] += bytes(pkt[TCP].payload)
    assert streams[True] == b"".join(CLIENT_MSGS) and streams[False] == b"".join(SERVER_MSGS)
    # keys check counts the two ECH labels as usable
    check = subprocess.run(
        [sys.executable, "-m", "netsec_layers", "keys", "check", str(keylog)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert "ECH_SECRET" in check.stdout and "ECH_CONFIG" in check.stdout, check.stdout


def _swap_client_hello(chunk: bytes, new_msg: bytes | None) -> tuple[bytes, bytes]:
    """``(chunk with its ClientHello record's message replaced by new_msg, the old message)``."""
    out, pos, old = b"", 0, b""
    while pos < len(chunk):
        n = 5 + int.from_bytes(chunk[pos + 3 : pos + 5], "big")
        rec = chunk[pos : pos + n]
        if rec[0] == 22 and rec[5] == 1:
            old = rec[5:]
            if new_msg is not None:
                rec = B.record(new_msg, version=int.from_bytes(rec[1:3], "big"))
        out += rec
        pos += n
    assert old, "no ClientHello record in the chunk"
    return out, old


def test_hello_retry_request_both_outer_hellos_open(tmp_path: Path) -> None:
    """A real HelloRetryRequest (the server wants secp384r1, the client offered an X25519 key
    share): both ClientHellos are ClientHelloInner; the test client wraps the second with the
    first's HPKE context and an empty enc (RFC 9849 §6.1.5), the same outer random.  netsec
    opens both, puts both inner hellos in the transcript (message_hash rule) and decrypts."""
    cert = make_cert(str(tmp_path))
    with B.inner_marker_clients():
        s = run_session(
            str(tmp_path),
            cert,
            version=0x0304,
            client_msgs=CLIENT_MSGS,
            server_msgs=SERVER_MSGS,
            server_curve="secp384r1",
        )
    chunks = list(s.chunks)
    keys = B.new_ech_keys()
    _, ch1 = _swap_client_hello(chunks[0][1], None)
    outer1 = B.build_outer(ch1, keys)
    chunks[0] = ("c", _swap_client_hello(chunks[0][1], outer1.message)[0])
    i2 = next(i for i, (side, d) in enumerate(chunks[1:], 1) if side == "c")
    _, ch2 = _swap_client_hello(chunks[i2][1], None)
    assert ch2 != ch1 and ch2[6:38] == ch1[6:38]  # a second hello, same random (HRR)
    outer2 = B.build_outer(ch2, keys, sender=outer1.sender, outer_random=outer1.random)
    chunks[i2] = ("c", _swap_client_hello(chunks[i2][1], outer2.message)[0])
    recs = _track(chunks, s.keylog + _ech_lines(outer1.random, outer1.shared_secret, keys.config))
    hellos = [r.to_json() for r in recs if r.handshake_types[:1] == [1]]
    assert [h["ech"]["status"] for h in hellos] == ["decrypted", "decrypted"]
    assert hellos[1]["ech"]["enc"] == "" and hellos[1]["ech"]["inner_sni"] == "secret.example"
    sh = [r.to_json() for r in recs if r.handshake_types[:1] == [2]]
    assert sh[0]["ech"] is None and sh[1]["ech"]["used"] == "inner"  # HRR, then ServerHello
    assert [r.error for r in recs if r.error] == []  # both Finished verify
    assert _app(recs, True) == CLIENT_MSGS and _app(recs, False) == SERVER_MSGS
