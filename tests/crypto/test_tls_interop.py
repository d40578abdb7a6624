"""Cross-implementation record tests: OpenSSL (through Python's ssl) produces, we decrypt.

A client/server pair runs over MemoryBIOs (tests/crypto/test_tls_peer.py) so every byte is seen.
The records are parsed here with struct, keys come from OpenSSL's key log and the hello randoms,
and every record is opened with netsec_layers: the application data must equal what was sent,
every Finished must match our verify_data, and (static RSA) the pre-master we decrypt must
reproduce OpenSSL's master secret, with and without RFC 7627.  Records we build are then fed to
the real peer, which must accept them.  Before opening each real record, single-bit flips of
it are tried with the same state: each must raise IntegrityError and leave the state alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netsec_layers.crypto.tls13 import Transcript13, finished_verify_data13
from netsec_layers.crypto.tls_prf import (
    compute_master_secret,
    finished_verify_data,
    handshake_hash,
    key_block,
)
from netsec_layers.crypto.tls_record import RecordProtection
from netsec_layers.crypto.tls_rsa import decrypt_pre_master, load_rsa_key_file
from netsec_layers.crypto.tls_suites import CipherSuiteInfo, suite_info
from netsec_layers.errors import IntegrityError
from netsec_layers.keys.keylog import KeyLog, parse_keylog
from tests.crypto.test_tls_peer import (
    OP_NO_ENCRYPT_THEN_MAC,
    OP_NO_EXTENDED_MASTER_SECRET,
    Session,
    make_cert,
    run_session,
)

HRR_RANDOM = hashlib.sha256(b"HelloRetryRequest").digest()  # RFC 8446 §4.1.3
CLIENT_MSGS = [b"GET / HTTP/1.0\r\n\r\n", os.urandom(1000), bytes(range(256)) * 80]  # 20480 B
SERVER_MSGS = [b"HTTP/1.0 200 OK\r\n\r\n", os.urandom(3000)]


def _exts(data: bytes) -> dict[int, bytes]:
    out, pos = {}, 0
    while pos + 4 <= len(data):
        t, n = (
            int.from_bytes(data[pos : pos + 2], "big"),
            int.from_bytes(data[pos + 2 : pos + 4], "big"),
        )
        out[t] = data[pos + 4 : pos + 4 + n]
        pos += 4 + n
    return out


def _hello(msg: bytes, server: bool) -> tuple[int, bytes, int, dict[int, bytes]]:
    """(legacy_version, random, cipher_suite (server) or 0, extensions) of a Client/ServerHello."""
    body = msg[4:]
    version, random = int.from_bytes(body[:2], "big"), body[2:34]
    pos = 35 + body[34]
    if server:
        suite = int.from_bytes(body[pos : pos + 2], "big")
        pos += 3
    else:
        suite = 0
        pos += 2 + int.from_bytes(body[pos : pos + 2], "big")
        pos += 1 + body[pos]
    exts = _exts(body[pos + 2 :]) if pos + 2 <= len(body) else {}
    return version, random, suite, exts


class Walk:
    """Follow one captured connection record by record, both directions, in wire order."""

    def __init__(self, keylog: KeyLog, rsa_key_path: str | None = None, flip: bool = True) -> None:
        self.keylog = keylog
        self.rsa_key = load_rsa_key_file(rsa_key_path) if rsa_key_path else None
        self.flip = flip
        self.buf = {"c": b"", "s": b""}
        self.hs = {"c": b"", "s": b""}
        self.prot: dict[str, RecordProtection | None] = {"c": None, "s": None}
        self.pending: dict[str, RecordProtection | None] = {"c": None, "s": None}
        self.app = {"c": bytearray(), "s": bytearray()}
        self.transcript = bytearray()
        self.suite: CipherSuiteInfo | None = None
        self.version = 0
        self.client_version = 0
        self.cr = self.sr = b""
        self.ems = self.etm = False
        self.master = b""
        self.secrets: dict[str, bytes] = {}
        self.checks: list[str] = []  # what was verified (for assertions)
        self.protected = {"c": 0, "s": 0}
        self.flips = 0
        self.hrr = False
        self.all_msgs: list[bytes] = []

    @property
    def is13(self) -> bool:
        return self.version == 0x0304

    def feed(self, side: str, data: bytes) -> None:
        self.buf[side] += data
        buf = self.buf[side]
        while len(buf) >= 5:
            n = int.from_bytes(buf[3:5], "big")
            if len(buf) < 5 + n:
                break
            self.record(side, buf[0], int.from_bytes(buf[1:3], "big"), buf[5 : 5 + n])
            buf = buf[5 + n :]
        self.buf[side] = buf

    def record(self, side: str, ct: int, ver: int, frag: bytes) -> None:
        if ct == 20:  # ChangeCipherSpec: TLS <= 1.2 activates the pending state
            if not self.is13:
                self.prot[side] = self.pending[side]
            return
        prot = self.prot[side]
        if prot is None:
            inner, plain = ct, frag
        else:
            if self.flip:
                self._flip_bits(prot, ct, ver, frag)
            inner, plain = prot.decrypt(ct, ver, frag)
            self.protected[side] += 1
        if inner == 22:
            self.hs[side] += plain
            while len(self.hs[side]) >= 4:
                n = int.from_bytes(self.hs[side][1:4], "big")
                if len(self.hs[side]) < 4 + n:
                    break
                msg, self.hs[side] = self.hs[side][: 4 + n], self.hs[side][4 + n :]
                self.handshake(side, msg)
        elif inner == 23:
            self.app[side] += plain

    def _flip_bits(self, prot: RecordProtection, ct: int, ver: int, frag: bytes) -> None:
        seq = prot.seq
        nbits = len(frag) * 8
        if len(frag) <= 160:
            positions: list[int] | range = range(nbits)
        else:  # every bit of the first and last 16 bytes, and 128 bits in between
            positions = [*range(128), *range(129, nbits - 128, (nbits - 256) // 128 or 1)]
            positions += range(nbits - 128, nbits)
        for bit in positions:
            bad = bytearray(frag)
            bad[bit // 8] ^= 1 << (bit % 8)
            with pytest.raises(IntegrityError):
                prot.decrypt(ct, ver, bytes(bad))
            self.flips += 1
        assert prot.seq == seq

    def handshake(self, side: str, msg: bytes) -> None:
        t = msg[0]
        if t != 20:
            self.all_msgs.append(msg)
        if t == 1:
            self.client_version, self.cr, _s, cexts = _hello(msg, False)
            self.client_exts = cexts
        elif t == 2:
            self._server_hello(msg)
            if self.hrr:
                return
        elif t == 16 and self.suite is not None and self.suite.kex == "RSA":
            self._check_rsa(msg)
        elif t == 20:
            self._check_finished(side, msg)
            self.all_msgs.append(msg)
        elif t == 24 and self.is13:
            # KeyUpdate (RFC 8446 §4.6.3): the sender's next records use the next secret.
            prot = self.prot[side]
            assert prot is not None
            prot.key_update()
            self.checks.append(f"key_update-{side}")
        if not (self.is13 and t in (4, 24)):  # TLS 1.3 post-handshake messages stay out
            self.transcript += msg
        if self.is13 and t == 20:
            label = "SERVER_TRAFFIC_SECRET_0" if side == "s" else "CLIENT_TRAFFIC_SECRET_0"
            assert self.suite is not None
            self.prot[side] = RecordProtection.tls13(self.suite, traffic_secret=self.secrets[label])

    def _server_hello(self, msg: bytes) -> None:
        _v, self.sr, code, exts = _hello(msg, True)
        self.suite = suite_info(code)
        assert self.suite is not None, hex(code)
        sv = exts.get(0x002B)
        self.version = int.from_bytes(sv, "big") if sv else _v
        if self.is13 and self.sr == HRR_RANDOM:
            # RFC 8446 §4.4.1: ClientHello1 is replaced by message_hash in the transcript.
            ch1 = hashlib.new(self.suite.prf_hash.lower(), bytes(self.transcript)).digest()
            self.transcript = bytearray(b"\xfe\x00\x00" + bytes([len(ch1)]) + ch1 + msg)
            self.hrr = True
            self.checks.append("hello_retry_request")
            return
        self.hrr = False
        if self.is13:
            self.secrets = self.keylog.secrets_for(self.cr)
            self.prot["c"] = RecordProtection.tls13(
                self.suite, traffic_secret=self.secrets["CLIENT_HANDSHAKE_TRAFFIC_SECRET"]
            )
            self.prot["s"] = RecordProtection.tls13(
                self.suite, traffic_secret=self.secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"]
            )
            return
        self.ems = 0x0017 in exts and 0x0017 in self.client_exts
        self.etm = 0x0016 in exts and 0x0016 in self.client_exts
        self.master = self.keylog.secrets_for(self.cr)["CLIENT_RANDOM"]
        kb = key_block(
            self.version, self.suite, master_secret=self.master, client_random=self.cr,
            server_random=self.sr,
        )  # fmt: skip
        for side, key, mac, iv in (
            ("c", kb.client_key, kb.client_mac, kb.client_iv),
            ("s", kb.server_key, kb.server_mac, kb.server_iv),
        ):
            self.pending[side] = RecordProtection.tls12(
                self.suite, self.version, key=key, mac_key=mac, iv=iv, encrypt_then_mac=self.etm
            )

    def _check_rsa(self, msg: bytes) -> None:
        assert self.suite is not None and self.rsa_key is not None
        body = msg[4:]
        enc = body[2 : 2 + int.from_bytes(body[:2], "big")]
        pms = decrypt_pre_master(self.rsa_key, enc, client_version=self.client_version)
        logged = self.keylog.rsa_pre_master(enc[:8])
        assert logged is None or logged == pms
        shash = None
        if self.ems:
            shash = handshake_hash(self.version, self.suite.prf_hash, bytes(self.transcript) + msg)
        ms = compute_master_secret(
            self.version, self.suite, pre_master=pms, client_random=self.cr,
            server_random=self.sr, session_hash=shash,
        )  # fmt: skip
        assert ms == self.master
        self.checks.append("rsa-ems" if self.ems else "rsa")

    def _check_finished(self, side: str, msg: bytes) -> None:
        assert self.suite is not None
        if self.is13:
            label = (
                "SERVER_HANDSHAKE_TRAFFIC_SECRET"
                if side == "s"
                else "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
            )
            th = hashlib.new(self.suite.prf_hash.lower(), bytes(self.transcript)).digest()
            # Our Transcript13 (with its §4.4.1 HRR rule) must agree with the test's own hash.
            tr = Transcript13(self.suite.prf_hash)
            for m in self.all_msgs:
                if m[0] == 2 and m[6:38] == HRR_RANDOM:
                    tr.hello_retry_request(m)
                elif m[0] not in (4, 24):
                    tr.update(m)
            assert tr.digest() == th
            expected = finished_verify_data13(
                self.suite.prf_hash, base_key=self.secrets[label], transcript_hash=th
            )
        else:
            expected = finished_verify_data(
                self.version, self.suite, master_secret=self.master, from_client=side == "c",
                transcript=bytes(self.transcript),
            )  # fmt: skip
        assert msg[4:] == expected
        self.checks.append(f"finished-{side}")


def _walk(sess: Session, rsa_key: str | None = None) -> Walk:
    w = Walk(parse_keylog(sess.keylog), rsa_key)
    assert not w.keylog.errors
    for side, data in sess.chunks:
        w.feed(side, data)
    assert bytes(w.app["c"]) == b"".join(CLIENT_MSGS)
    assert bytes(w.app["s"]) == b"".join(SERVER_MSGS)
    assert "finished-c" in w.checks and "finished-s" in w.checks
    assert w.flips > 0
    return w


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return make_cert(str(tmp_path_factory.mktemp("tlscert")))


@pytest.fixture(scope="module")
def dh_params(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("dh") / "ffdhe2048.pem")
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is required")
    subprocess.run(
        [openssl, "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048",
         "-out", path],
        check=True, capture_output=True,
    )  # fmt: skip
    return path


def _inject(sess: Session, w: Walk, side: str, payload: bytes) -> None:
    """Seal ``payload`` with our state for ``side`` and have the real peer read it."""
    prot = w.prot[side]
    assert prot is not None
    version = 0x0303 if w.is13 else w.version
    outer, frag = prot.encrypt(23, version, payload)
    record = bytes([outer]) + version.to_bytes(2, "big") + len(frag).to_bytes(2, "big") + frag
    peer = sess.server if side == "c" else sess.client
    bio = sess.bios["sin"] if side == "c" else sess.bios["cin"]
    assert peer is not None
    bio.write(record)
    assert peer.read(len(payload) + 10) == payload


TLS12_CASES = [
    # (id, version, OpenSSL cipher string, options, expected EtM)
    ("ecdhe-rsa-aes128-gcm", 0x0303, "ECDHE-RSA-AES128-GCM-SHA256", 0, False),
    ("ecdhe-rsa-aes256-gcm-sha384", 0x0303, "ECDHE-RSA-AES256-GCM-SHA384", 0, False),
    ("ecdhe-rsa-chacha20", 0x0303, "ECDHE-RSA-CHACHA20-POLY1305", 0, False),
    ("aes128-sha-etm", 0x0303, "AES128-SHA", 0, True),
    ("aes128-sha-mte", 0x0303, "AES128-SHA", OP_NO_ENCRYPT_THEN_MAC, False),
    (
        "ecdhe-rsa-aes256-sha384-mte",
        0x0303,
        "ECDHE-RSA-AES256-SHA384",
        OP_NO_ENCRYPT_THEN_MAC,
        False,
    ),
    ("aes128-sha256", 0x0303, "AES128-SHA256", 0, True),
    ("aes128-gcm-static-rsa", 0x0303, "AES128-GCM-SHA256", 0, False),
    (
        "aes128-gcm-static-rsa-no-ems",
        0x0303,
        "AES128-GCM-SHA256",
        OP_NO_EXTENDED_MASTER_SECRET,
        False,
    ),
    ("aes256-ccm", 0x0303, "AES256-CCM", 0, False),
    ("aes128-ccm8", 0x0303, "AES128-CCM8", 0, False),
    ("camellia128-sha-mte", 0x0303, "CAMELLIA128-SHA:@SECLEVEL=0", OP_NO_ENCRYPT_THEN_MAC, False),
    ("camellia256-sha256", 0x0303, "CAMELLIA256-SHA256:@SECLEVEL=0", 0, True),
    # OpenSSL echoes encrypt_then_mac for NULL suites; RFC 7366 §3 applies to block ciphers
    # only, so the records are plain content + MAC (and decrypt as such).
    ("null-sha256", 0x0303, "NULL-SHA256:@SECLEVEL=0", 0, True),
    ("null-md5", 0x0303, "NULL-MD5:@SECLEVEL=0", 0, True),
    ("dhe-rsa-aes128-gcm", 0x0303, "DHE-RSA-AES128-GCM-SHA256", 0, False),
    ("dhe-rsa-chacha20", 0x0303, "DHE-RSA-CHACHA20-POLY1305", 0, False),
    (
        "tls11-ecdhe-aes256-sha-mte",
        0x0302,
        "ECDHE-RSA-AES256-SHA:@SECLEVEL=0",
        OP_NO_ENCRYPT_THEN_MAC,
        False,
    ),
    ("tls11-aes128-sha-etm", 0x0302, "AES128-SHA:@SECLEVEL=0", 0, True),
    ("tls10-aes128-sha-mte", 0x0301, "AES128-SHA:@SECLEVEL=0", OP_NO_ENCRYPT_THEN_MAC, False),
    ("tls10-ecdhe-aes128-sha-etm", 0x0301, "ECDHE-RSA-AES128-SHA:@SECLEVEL=0", 0, True),
]


@pytest.mark.parametrize(
    "version,ciphers,options,etm",
    [
        # DHE needs RFC 7919 parameters generated by the openssl CLI -> integration.
        pytest.param(*c[1:], marks=pytest.mark.integration) if c[2].startswith("DHE") else c[1:]
        for c in TLS12_CASES
    ],
    ids=[c[0] for c in TLS12_CASES],
)
def test_openssl_tls12_records(
    request: pytest.FixtureRequest, tmp_path: Path, cert: tuple[str, str], version: int,
    ciphers: str, options: int, etm: bool,
) -> None:  # fmt: skip
    dh = request.getfixturevalue("dh_params") if ciphers.startswith("DHE") else None
    sess = run_session(
        str(tmp_path), cert, version=version, ciphers=ciphers, options=options, dh_params=dh,
        client_msgs=CLIENT_MSGS, server_msgs=SERVER_MSGS,
    )  # fmt: skip
    w = _walk(sess, rsa_key=cert[0])
    assert w.version == version and w.etm == etm
    assert w.suite is not None and w.suite.name.endswith(w.suite.name.split("_WITH_")[-1])
    if w.suite.kex == "RSA":
        assert ("rsa-ems" if not options & OP_NO_EXTENDED_MASTER_SECRET else "rsa") in w.checks
    # Encrypt direction: records we seal are accepted by OpenSSL, both ways.
    _inject(sess, w, "c", b"sealed by netsec_layers (client side)")
    _inject(sess, w, "s", b"sealed by netsec_layers (server side)" * 20)


def test_openssl_tls13_default_suite_with_key_update(tmp_path: Path, cert: tuple[str, str]) -> None:
    sess = run_session(
        str(tmp_path), cert, version=0x0304, client_msgs=CLIENT_MSGS, server_msgs=SERVER_MSGS
    )
    w = _walk(sess)
    assert w.is13 and w.suite is not None and w.suite.code == 0x1302
    _inject(sess, w, "c", b"client record sealed by us")
    _inject(sess, w, "s", b"server record sealed by us")
    # KeyUpdate from the real client: our walker must follow it (RFC 8446 §4.6.3).
    # Python exposes no KeyUpdate call, so we send one as the client (RFC 8446 §4.6.3), switch
    # our keys (§7.2) and OpenSSL must read the next record with its own updated keys.
    prot = w.prot["c"]
    assert prot is not None
    outer, frag = prot.encrypt(
        22, 0x0303, b"\x18\x00\x00\x01\x00"
    )  # KeyUpdate(update_not_requested)
    sess.bios["sin"].write(bytes([outer]) + b"\x03\x03" + len(frag).to_bytes(2, "big") + frag)
    prot.key_update()
    _inject(sess, w, "c", b"after KeyUpdate")


def test_openssl_tls13_hello_retry_request(tmp_path: Path, cert: tuple[str, str]) -> None:
    """Server only accepts P-384: the client's X25519 share triggers HRR (RFC 8446 §4.1.4)."""
    sess = run_session(
        str(tmp_path), cert, version=0x0304, server_curve="secp384r1",
        client_msgs=CLIENT_MSGS, server_msgs=SERVER_MSGS,
    )  # fmt: skip
    w = _walk(sess)
    assert "hello_retry_request" in w.checks


TLS13_SUITES = [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_CCM_SHA256",
    "TLS_AES_128_CCM_8_SHA256",
]


@pytest.mark.parametrize("suite", TLS13_SUITES)
def test_openssl_tls13_every_suite(tmp_path: Path, cert: tuple[str, str], suite: str) -> None:
    """A separate process, because OpenSSL reads Ciphersuites from OPENSSL_CONF at start-up."""
    conf = tmp_path / "openssl.cnf"
    conf.write_text(
        "openssl_conf = default_conf\n[default_conf]\nssl_conf = ssl_sect\n"
        "[ssl_sect]\nsystem_default = sys_sect\n[sys_sect]\n"
        f"Ciphersuites = {suite}\n"
    )
    args = {
        "dir": str(tmp_path), "key": cert[0], "cert": cert[1], "version": 0x0304,
        "client_msgs": [m.hex() for m in CLIENT_MSGS],
        "server_msgs": [m.hex() for m in SERVER_MSGS],
    }  # fmt: skip
    peer = Path(__file__).with_name("test_tls_peer.py")
    env = dict(os.environ, OPENSSL_CONF=str(conf))
    res = subprocess.run(
        [sys.executable, str(peer), json.dumps(args)], capture_output=True, env=env, check=True
    )
    out = json.loads(res.stdout)
    assert out["cipher"] == suite
    sess = Session(chunks=[(s, bytes.fromhex(h)) for s, h in out["chunks"]], keylog=out["keylog"])
    w = _walk(sess)
    assert w.suite is not None and w.suite.name == suite
