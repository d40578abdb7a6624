#!/usr/bin/env python3
"""Make real TLS sample captures (pcap + key log + ground-truth JSON sidecar) on 127.0.0.1.

Peers are real implementations nobody here wrote: OpenSSL ``s_server``/``s_client``, GnuTLS
``gnutls-serv``/``gnutls-cli`` and Python's ``ssl`` module. Each scenario runs in a private network
namespace (loopback MTU 1500, so records span TCP segments), is captured with ``tcpdump -i lo -U
-w``, sends known application bytes both ways and checks that each peer received exactly them.

    python tools/make_tls_captures.py --list
    python tools/make_tls_captures.py                      # every default scenario into pcaps/tls/
    python tools/make_tls_captures.py --only tls13-aes128gcm --out /tmp/x
    python tools/make_tls_captures.py --only large-transfer --out /tmp/x   # not in the default set

Needs root (network namespace, tcpdump), openssl, gnutls-bin, tcpdump and tshark (used to
check the negotiated version/suite). The keys/certificates it writes are throwaway test keys.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from capture_lib import (  # noqa: E402
    CaptureDropped,
    CaptureError,
    Peer,
    Tcpdump,
    check_prerequisites,
    ensure_test_keys,
    field_ints,
    make_payload,
    peer_versions,
    private_netns,
    redact,
    tcp_endpoints,
    tshark_fields,
    wait_listening,
)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "pcaps" / "tls"
CAPLIB = Path(__file__).resolve().parent / "capture_lib.py"
HEX_LIMIT = 32768  # payloads up to this size are stored as hex in the sidecar; larger: recipe only


# --------------------------------------------------------------------------- scenarios

VERSIONS = {"1.0": 0x0301, "1.1": 0x0302, "1.2": 0x0303, "1.3": 0x0304}
SUITES = {  # IANA TLS Cipher Suites registry
    "TLS_RSA_WITH_AES_128_CBC_SHA": 0x002F,
    "TLS_RSA_WITH_AES_128_CBC_SHA256": 0x003C,
    "TLS_RSA_WITH_AES_128_GCM_SHA256": 0x009C,
    "TLS_RSA_WITH_AES_256_GCM_SHA384": 0x009D,
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256": 0x009E,
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": 0xC013,
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384": 0xC028,
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": 0xC02F,
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": 0xC030,
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": 0xC02C,
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": 0xCCA8,
    "TLS_AES_128_GCM_SHA256": 0x1301,
    "TLS_AES_256_GCM_SHA384": 0x1302,
    "TLS_CHACHA20_POLY1305_SHA256": 0x1303,
    "TLS_AES_128_CCM_SHA256": 0x1304,
}


@dataclass
class Scenario:
    """One capture: peers, what they negotiate, what they send. Defaults: OpenSSL both sides."""

    name: str
    description: str
    version: str
    suite: str
    openssl_cipher: str = ""  # -cipher (TLS <= 1.2) or -ciphersuites (TLS 1.3), both peers
    exercises: list[str] = field(default_factory=list)
    server: str = "openssl"  # openssl | gnutls | python
    client: str = "openssl"
    client_cipher: str = ""  # overrides the client's -cipher (suite mismatch)
    server_args: list[str] = field(default_factory=list)
    client_args: list[str] = field(default_factory=list)
    gnutls_priority: str = "NORMAL"
    python_ciphers: str = ""
    port: int = 443
    connections: int = 1
    cert: str = "rsa"  # server certificate: rsa | ecdsa
    client_auth: bool = False
    keyupdate: bool = False
    hrr: bool = False
    server_closes: bool = False
    expect_failure: bool = False
    rsa_decryptable: bool = False  # static RSA key exchange: test-rsa-key.pem alone decrypts
    text_data: bool = False  # hex text payloads (command letters must not appear)
    c2s_len: int = 1500
    s2c_len: int = 6000
    mss: int = 0
    large: bool = False  # not made by default (too big to ship)
    keylog_from: str = "client"
    early_data: int = 0  # bytes of 0-RTT data on the resumed connection
    ipv6: bool = False  # over ::1 instead of 127.0.0.1
    pcapng_dsb: bool = False  # also NAME.pcapng with the key log in a Decryption Secrets Block

    @property
    def host(self) -> str:
        return "::1" if self.ipv6 else "127.0.0.1"

    @property
    def hostport(self) -> str:
        return f"[::1]:{self.port}" if self.ipv6 else f"127.0.0.1:{self.port}"


def _s(
    name: str, description: str, version: str, suite: str, cipher: str = "", **kw: object
) -> Scenario:
    return Scenario(name, description, version, suite, cipher, **kw)  # type: ignore[arg-type]


SCENARIOS: list[Scenario] = [
    _s(
        "tls10-aes128-sha",
        "TLS 1.0, static RSA, AES-128-CBC + HMAC-SHA1 (implicit IV chaining)",
        "1.0",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "AES128-SHA",
        rsa_decryptable=True,
        exercises=[
            "TLS 1.0 CBC with IV from the previous record",
            "MD5/SHA1 PRF",
            "EtM",
            "empty application-data records before each real one",
        ],
    ),
    _s(
        "tls11-aes128-sha",
        "TLS 1.1, static RSA, AES-128-CBC + HMAC-SHA1 (explicit IV)",
        "1.1",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "AES128-SHA",
        rsa_decryptable=True,
        exercises=["TLS 1.1 explicit CBC IV", "MD5/SHA1 PRF", "EtM"],
    ),
    _s(
        "tls12-ecdhe-rsa-aes128gcm",
        "TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256",
        "1.2",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        exercises=["AES-GCM explicit nonce", "extended master secret"],
    ),
    _s(
        "tls12-ecdhe-ecdsa-aes256gcm",
        "TLS 1.2 ECDHE-ECDSA-AES256-GCM-SHA384 (ECDSA P-256 cert)",
        "1.2",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        cert="ecdsa",
        exercises=["SHA-384 PRF", "AES-256-GCM", "ECDSA certificate"],
    ),
    _s(
        "tls12-ecdhe-rsa-chacha20",
        "TLS 1.2 ECDHE-RSA-CHACHA20-POLY1305",
        "1.2",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "ECDHE-RSA-CHACHA20-POLY1305",
        exercises=["ChaCha20-Poly1305 TLS 1.2 nonce (RFC 7905)"],
    ),
    _s(
        "tls12-ecdhe-rsa-aes128-sha-etm",
        "TLS 1.2 ECDHE-RSA-AES128-SHA with encrypt-then-MAC",
        "1.2",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "ECDHE-RSA-AES128-SHA",
        exercises=["CBC encrypt-then-MAC (RFC 7366)"],
    ),
    _s(
        "tls12-ecdhe-rsa-aes128-sha-noetm",
        "TLS 1.2 ECDHE-RSA-AES128-SHA, MAC-then-encrypt",
        "1.2",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "ECDHE-RSA-AES128-SHA",
        client_args=["-no_etm"],
        exercises=["CBC MAC-then-encrypt (client -no_etm)"],
    ),
    _s(
        "tls12-rsa-aes128-sha256",
        "TLS 1.2 static RSA AES128-SHA256 (CBC, HMAC-SHA256)",
        "1.2",
        "TLS_RSA_WITH_AES_128_CBC_SHA256",
        "AES128-SHA256",
        rsa_decryptable=True,
        exercises=["CBC with HMAC-SHA256", "RSA key exchange"],
    ),
    _s(
        "tls12-rsa-aes128gcm",
        "TLS 1.2 static RSA AES128-GCM-SHA256: decryptable with "
        "test-rsa-key.pem alone (or the key log)",
        "1.2",
        "TLS_RSA_WITH_AES_128_GCM_SHA256",
        "AES128-GCM-SHA256",
        rsa_decryptable=True,
        exercises=["RSA pre-master decryption with the server key", "extended master secret"],
    ),
    _s(
        "tls12-dhe-rsa-aes128gcm",
        "TLS 1.2 DHE-RSA-AES128-GCM-SHA256",
        "1.2",
        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        "DHE-RSA-AES128-GCM-SHA256",
        exercises=["finite-field DHE ServerKeyExchange"],
    ),
    _s(
        "tls12-resumption",
        "TLS 1.2 session ticket resumption: two connections, the second abbreviated",
        "1.2",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        connections=2,
        exercises=["abbreviated handshake (RFC 5077)", "two TCP streams"],
    ),
    _s(
        "tls12-handshake-failure",
        "TLS 1.2 suite mismatch: the server answers with a plaintext handshake_failure alert",
        "1.2",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        client_cipher="ECDHE-RSA-AES256-GCM-SHA384",
        expect_failure=True,
        exercises=["plaintext fatal alert", "no application data"],
    ),
    _s(
        "tls13-aes128gcm",
        "TLS 1.3 TLS_AES_128_GCM_SHA256",
        "1.3",
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_128_GCM_SHA256",
        exercises=["TLS 1.3 key schedule", "NewSessionTicket"],
    ),
    _s(
        "tls13-aes256gcm",
        "TLS 1.3 TLS_AES_256_GCM_SHA384",
        "1.3",
        "TLS_AES_256_GCM_SHA384",
        "TLS_AES_256_GCM_SHA384",
        exercises=["SHA-384 HKDF"],
    ),
    _s(
        "tls13-chacha20",
        "TLS 1.3 TLS_CHACHA20_POLY1305_SHA256",
        "1.3",
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_CHACHA20_POLY1305_SHA256",
        exercises=["ChaCha20-Poly1305"],
    ),
    _s(
        "tls13-aes128ccm",
        "TLS 1.3 TLS_AES_128_CCM_SHA256",
        "1.3",
        "TLS_AES_128_CCM_SHA256",
        "TLS_AES_128_CCM_SHA256",
        exercises=["AES-CCM (16-byte tag)"],
    ),
    _s(
        "tls13-hrr",
        "TLS 1.3 HelloRetryRequest: client key_share X25519, server wants P-256",
        "1.3",
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_128_GCM_SHA256",
        hrr=True,
        client_args=["-groups", "X25519:P-256"],
        server_args=["-groups", "P-256"],
        exercises=["HelloRetryRequest", "message_hash transcript (RFC 8446 4.4.1)"],
    ),
    _s(
        "tls13-resumption",
        "TLS 1.3 PSK resumption with a ticket: two connections",
        "1.3",
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_128_GCM_SHA256",
        connections=2,
        exercises=["psk_dhe_ke resumption", "two TCP streams", "pre_shared_key extension"],
    ),
    _s(
        "tls13-early-data",
        "TLS 1.3 resumption with 0-RTT early data on the second connection",
        "1.3",
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_128_GCM_SHA256",
        connections=2,
        early_data=700,
        server_args=["-early_data"],
        exercises=[
            "0-RTT early data (client_early_traffic_secret)",
            "EndOfEarlyData",
            "c2s of connection 1 starts with the early data",
        ],
    ),
    _s(
        "tls13-keyupdate",
        "TLS 1.3 KeyUpdate (update_requested) from the client mid-stream",
        "1.3",
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_128_GCM_SHA256",
        keyupdate=True,
        text_data=True,
        exercises=["KeyUpdate both directions (RFC 8446 4.6.3)"],
    ),
    _s(
        "tls13-client-auth",
        "TLS 1.3 with client certificate authentication",
        "1.3",
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_128_GCM_SHA256",
        client_auth=True,
        exercises=["CertificateRequest", "client Certificate/CertificateVerify"],
    ),
    _s(
        "tls13-record-padding",
        "TLS 1.3 with record padding to 512-byte blocks on both sides",
        "1.3",
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_128_GCM_SHA256",
        client_args=["-record_padding", "512"],
        server_args=["-record_padding", "512"],
        exercises=["TLSInnerPlaintext zero padding (RFC 8446 5.4)"],
    ),
    _s(
        "tls13-server-close",
        "TLS 1.3 where the server closes first (encrypted close_notify alert)",
        "1.3",
        "TLS_AES_256_GCM_SHA384",
        "TLS_AES_256_GCM_SHA384",
        server_closes=True,
        exercises=["encrypted alert from the server"],
    ),
    _s(
        "tls13-ipv6",
        "TLS 1.3 TLS_AES_128_GCM_SHA256 over IPv6 (::1)",
        "1.3",
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_128_GCM_SHA256",
        ipv6=True,
        exercises=["IPv6 transport"],
    ),
    _s(
        "tls13-dsb",
        "TLS 1.3 TLS_AES_256_GCM_SHA384; also shipped as pcapng with the key log in "
        "a Decryption Secrets Block",
        "1.3",
        "TLS_AES_256_GCM_SHA384",
        "TLS_AES_256_GCM_SHA384",
        pcapng_dsb=True,
        exercises=["pcapng DSB (editcap --inject-secrets)"],
    ),
    _s(
        "tls12-dsb",
        "TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256; also shipped as pcapng with a DSB",
        "1.2",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        pcapng_dsb=True,
        exercises=["pcapng DSB (editcap --inject-secrets)"],
    ),
    _s(
        "tls12-ecdhe-rsa-aes256-sha384",
        "TLS 1.2 ECDHE-RSA-AES256-SHA384 (CBC, HMAC-SHA384)",
        "1.2",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        "ECDHE-RSA-AES256-SHA384",
        exercises=["CBC with HMAC-SHA384", "SHA-384 PRF", "EtM"],
    ),
    _s(
        "gnutls-tls13",
        "GnuTLS client and echo server, TLS 1.3 (default suite)",
        "1.3",
        "TLS_AES_256_GCM_SHA384",
        server="gnutls",
        client="gnutls",
        gnutls_priority="NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-256-GCM",
        text_data=True,
        exercises=["GnuTLS peers", "echo: s2c equals c2s"],
    ),
    _s(
        "gnutls-tls12",
        "GnuTLS client and echo server, TLS 1.2 ECDHE-RSA-AES256-GCM-SHA384",
        "1.2",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        server="gnutls",
        client="gnutls",
        gnutls_priority="NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:-KX-ALL:+ECDHE-RSA",
        text_data=True,
        exercises=["GnuTLS peers", "echo: s2c equals c2s"],
    ),
    _s(
        "python-tls13-port50443",
        "Python ssl client and server, TLS 1.3 on non-standard port 50443",
        "1.3",
        "TLS_AES_256_GCM_SHA384",
        server="python",
        client="python",
        port=50443,
        exercises=["TLS on a non-standard port", "Python ssl keylog_filename"],
    ),
    _s(
        "python-openssl-tls12",
        "Python ssl client against OpenSSL s_server, TLS 1.2 AES256-GCM",
        "1.2",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        client="python",
        python_ciphers="ECDHE-RSA-AES256-GCM-SHA384",
        exercises=["mixed implementations"],
    ),
    _s(
        "large-transfer",
        "TLS 1.3 large transfer (256 KiB each way), many records over many "
        "segments; Python client with TCP_MAXSEG 1000",
        "1.3",
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_128_GCM_SHA256",
        client="python",
        c2s_len=262144,
        s2c_len=262144,
        mss=1000,
        large=True,
        exercises=["records spanning many TCP segments", "bulk data"],
    ),
]


# --------------------------------------------------------------------------- keys and data


def payload_recipe(sc: Scenario, conn: int, direction: str, length: int) -> dict[str, object]:
    """The deterministic recipe for one direction's application bytes (see make_payload)."""
    seed = int.from_bytes(
        hashlib.sha256(f"{sc.name}/{conn}/{direction}".encode()).digest()[:8], "big"
    )
    header = f"netsec_layers sample {sc.name} conn {conn} {direction}\n"
    return {
        "header": header,
        "seed": seed,
        "random_length": length,
        "encoding": "hexlines" if sc.text_data else "raw",
        "generator": "header.encode() + body, R = random.Random(seed).randbytes(random_length); "
        "body = R (raw) or, for hexlines, R.hex() cut in 64-char lines each ending "
        "with a newline",
    }


# --------------------------------------------------------------------------- peer command lines


def openssl_args(sc: Scenario, role: str) -> list[str]:
    v = {"1.0": "-tls1", "1.1": "-tls1_1", "1.2": "-tls1_2", "1.3": "-tls1_3"}[sc.version]
    args = [v]
    if sc.version == "1.3":
        args += ["-ciphersuites", sc.openssl_cipher]
    else:
        cipher = sc.openssl_cipher + (":@SECLEVEL=0" if sc.version in ("1.0", "1.1") else "")
        if role == "client" and sc.client_cipher:
            cipher = sc.client_cipher
        args += ["-cipher", cipher]
    return args + (sc.server_args if role == "server" else sc.client_args)


def build_server(sc: Scenario, keys: dict[str, Path], tmp: Path) -> Peer:
    cert = keys["ecdsa-cert" if sc.cert == "ecdsa" else "rsa-cert"]
    key = keys["ecdsa-key" if sc.cert == "ecdsa" else "rsa-key"]
    klog = tmp / "server.keys"
    env = None
    if sc.server == "openssl":
        argv = [
            "openssl",
            "s_server",
            "-accept",
            f"{sc.hostport}",
            "-naccept",
            str(sc.connections),
            "-cert",
            str(cert),
            "-key",
            str(key),
            "-quiet",
            "-no_ign_eof",
            "-keylogfile",
            str(klog),
            *openssl_args(sc, "server"),
        ]
        if sc.client_auth:
            argv += ["-Verify", "1", "-CAfile", str(keys["client-cert"])]
    elif sc.server == "gnutls":
        argv = [
            "gnutls-serv",
            "--echo",
            "-p",
            str(sc.port),
            "--x509certfile",
            str(cert),
            "--x509keyfile",
            str(key),
            "--priority",
            sc.gnutls_priority,
            "--disable-client-cert",
        ]
        env = {"SSLKEYLOGFILE": str(klog)}
    else:
        spec = {
            "role": "server",
            "host": sc.host,
            "port": sc.port,
            "cert": str(cert),
            "key": str(key),
            "keylog": str(klog),
            "version": sc.version,
            "ciphers": sc.python_ciphers,
            "mss": sc.mss,
        }
        argv = [sys.executable, str(CAPLIB), "peer", json.dumps(spec)]
    return Peer(f"{sc.server} server", argv, env=env, log=tmp / "server.log")


def build_client(sc: Scenario, keys: dict[str, Path], tmp: Path, conn: int) -> Peer:
    klog = tmp / "client.keys"
    env = None
    if sc.client == "openssl":
        argv = [
            "openssl",
            "s_client",
            "-connect",
            sc.hostport,
            "-servername",
            "localhost",
            "-quiet",
            "-no_ign_eof",
            "-keylogfile",
            str(klog),
        ]
        if not sc.keyupdate:
            # Binary data must not be taken for command letters (Q, R, k, K) at a read boundary.
            argv.append("-nocommands")
        argv += openssl_args(sc, "client")
        if sc.client_auth:
            argv += ["-cert", str(keys["client-cert"]), "-key", str(keys["client-key"])]
        if sc.connections > 1:
            sess = tmp / "session.pem"
            argv += ["-sess_out", str(sess)] if conn == 0 else ["-sess_in", str(sess)]
            if conn > 0 and sc.early_data:
                # 0-RTT: s_client sends this file as early data (RFC 8446 §4.2.10).
                recipe = payload_recipe(sc, conn, "early", sc.early_data)
                (tmp / "early.bin").write_bytes(make_payload(recipe))
                argv += ["-early_data", str(tmp / "early.bin")]
    elif sc.client == "gnutls":
        argv = [
            "gnutls-cli",
            "--insecure",
            "--logfile",
            str(tmp / f"gnutls-cli{conn}.info"),
            "--priority",
            sc.gnutls_priority,
            "-p",
            str(sc.port),
            sc.host,
        ]
        env = {"SSLKEYLOGFILE": str(klog)}
    else:
        spec = {
            "role": "client",
            "host": sc.host,
            "port": sc.port,
            "keylog": str(klog),
            "version": sc.version,
            "ciphers": sc.python_ciphers,
            "mss": sc.mss,
        }
        argv = [sys.executable, str(CAPLIB), "peer", json.dumps(spec)]
    return Peer(f"{sc.client} client {conn}", argv, env=env, log=tmp / f"client{conn}.log")


# --------------------------------------------------------------------------- running a scenario


@dataclass
class ConnResult:
    c2s: bytes = b""
    s2c: bytes = b""
    recipes: dict[str, list[dict[str, object]]] = field(
        default_factory=lambda: {"c2s": [], "s2c": []}
    )


def run_connection(sc: Scenario, netns: str, server: Peer, client: Peer, conn: int) -> ConnResult:
    res = ConnResult()
    client.start(netns)
    if sc.expect_failure:
        rc = client.wait(expect_ok=False)
        if rc == 0:
            raise CaptureError(
                f"{sc.name}: the handshake was expected to fail but the client exited 0"
            )
        return res
    if conn > 0 and sc.early_data:
        recipe = payload_recipe(sc, conn, "early", sc.early_data)
        early = make_payload(recipe)
        if server.read_exactly(len(early)) != early:
            raise CaptureError(f"{sc.name}: early data received differs from what was sent")
        res.c2s += early
        res.recipes["c2s"].append(recipe)
    parts = [("c2s", sc.c2s_len)] + (
        [("keyupdate", 0), ("c2s", sc.c2s_len)] if sc.keyupdate else []
    )
    parts.append(("s2c", sc.s2c_len))
    for i, (what, length) in enumerate(parts):
        if what == "keyupdate":
            # s_client command letter: "K" sends KeyUpdate(update_requested) so both sides update
            # (RFC 8446 §4.6.3). It must arrive alone in one read: the previous data was already
            # read (the server got it), and s_client logs KEYUPDATE before we write more.
            client.write(b"K\n").join(5)
            deadline = time.monotonic() + 15
            while "KEYUPDATE" not in client.log_text():
                if time.monotonic() > deadline:
                    raise CaptureError(f"{sc.name}: s_client did not take the K command")
                time.sleep(0.05)
            time.sleep(0.2)
            continue
        recipe = payload_recipe(sc, conn, f"{what}{i}" if sc.keyupdate else what, length)
        data = make_payload(recipe)
        res.recipes[what].append(recipe)
        if what == "c2s":
            writer = client.write(data)
            got = (
                server.read_exactly(len(data))
                if sc.server != "gnutls"
                else client.read_exactly(len(data))
            )
            res.c2s += data
            if sc.server == "gnutls":  # echo server: what it sends back is what it received
                res.s2c += data
                res.recipes["s2c"].append(recipe)
        elif sc.server == "gnutls":
            continue  # the echo server sends nothing of its own
        else:
            writer = server.write(data)
            got = client.read_exactly(len(data))
            res.s2c += data
        writer.join(20)
        if got != data:
            raise CaptureError(f"{sc.name}: {what} bytes received differ from those sent")
    if sc.server_closes:
        server.close_stdin()  # the server ends the connection: close_notify from the server
        server.wait()
        client.wait(expect_ok=False)
    else:
        client.close_stdin()  # the client ends the connection (close_notify from the client)
        client.wait()
    for p in (client, server):
        if p.proc is not None and p.proc.poll() is not None and (extra := p.drain()):
            raise CaptureError(f"{p.name} printed {len(extra)} unexpected bytes")
    return res


def check_with_tshark(pcap: Path, sc: Scenario, keylog: Path) -> list[dict[str, object]]:
    """Independent check (tshark, not our code) of what the scenario claims; per-connection facts.

    Fails unless every ServerHello carries the expected version and suite, tshark can decrypt the
    handshake with the key log (Finished visible both ways), and the scenario's feature (HRR,
    KeyUpdate, client auth, resumption) is really on the wire.
    """
    hello = tshark_fields(
        pcap,
        sc.port,
        [
            "tcp.stream",
            "tls.handshake.ciphersuite",
            "tls.handshake.version",
            "tls.handshake.extensions.supported_version",
            "tls.handshake.extension.type",
        ],
        dfilter="tls.handshake.type == 2",
    )
    if sc.expect_failure:
        if hello:
            raise CaptureError(
                f"{sc.name}: a ServerHello was sent although the handshake should fail"
            )
        return [{}]
    if len(hello) != sc.connections + (1 if sc.hrr else 0):
        raise CaptureError(
            f"{sc.name}: expected {sc.connections} ServerHello(s), tshark shows {hello}"
        )
    facts: list[dict[str, object]] = [{} for _ in range(sc.connections)]
    for stream, suite, legacy, sv, exts in hello:
        version = field_ints(sv)[0] if sv else field_ints(legacy)[0]
        if field_ints(suite) != [SUITES[sc.suite]] or version != VERSIONS[sc.version]:
            raise CaptureError(
                f"{sc.name}: ServerHello says suite {suite} version {version:#x}; "
                f"expected {SUITES[sc.suite]:#06x} {VERSIONS[sc.version]:#06x}"
            )
        # The last ServerHello of a stream wins (the first may be a HelloRetryRequest).
        facts[int(stream)]["server_hello_extensions"] = field_ints(exts)
    msgs = tshark_fields(
        pcap,
        sc.port,
        ["tcp.stream", "tcp.dstport", "tls.handshake.type"],
        dfilter="tls.handshake.type",
        keylog=keylog,
    )
    for f in facts:
        f["handshake_types"] = {"c2s": [], "s2c": []}
    for stream, dport, types in msgs:
        hs = facts[int(stream)]["handshake_types"]
        hs["c2s" if int(dport) == sc.port else "s2c"] += field_ints(types)  # type: ignore[index]
    for i, f in enumerate(facts):
        hs = f["handshake_types"]
        exts = f["server_hello_extensions"]
        assert isinstance(hs, dict) and isinstance(exts, list)
        tls12 = sc.version != "1.3"  # both are TLS <= 1.2 notions
        f["encrypt_then_mac"] = (22 in exts) if tls12 else None  # RFC 7366
        f["extended_master_secret"] = (23 in exts) if tls12 else None  # RFC 7627
        f["resumed"] = 41 in exts if sc.version == "1.3" else 11 not in hs["s2c"]
        want = {
            "finished both ways": 20 in hs["c2s"] and 20 in hs["s2c"],
            "resumption": f["resumed"] == (i > 0),
        }
        if sc.hrr:
            want["HelloRetryRequest"] = hs["s2c"].count(2) == 2
        if sc.keyupdate:
            want["KeyUpdate both ways"] = 24 in hs["c2s"] and 24 in hs["s2c"]
        if sc.early_data and i > 0:
            want["EndOfEarlyData"] = 5 in hs["c2s"]
        if sc.client_auth:
            want["client auth"] = 13 in hs["s2c"] and 11 in hs["c2s"] and 15 in hs["c2s"]
        if "_CBC_" in sc.suite:
            want["encrypt-then-MAC as configured"] = f["encrypt_then_mac"] == (
                "-no_etm" not in sc.client_args
            )
        bad = [k for k, ok in want.items() if not ok]
        if bad:
            raise CaptureError(f"{sc.name}: connection {i}: tshark does not see {bad}: {f}")
    return facts


def run_scenario(sc: Scenario, out: Path, keys: dict[str, Path], netns: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix=f"cap-{sc.name}-") as tmpname:
        tmp = Path(tmpname)
        pcap_tmp = tmp / "capture.pcap"
        server = build_server(sc, keys, tmp)
        commands: list[str] = []
        results: list[ConnResult] = []
        clients: list[Peer] = []
        tcpdump = Tcpdump(netns, pcap_tmp, [sc.port], tmp / "tcpdump.log")
        try:
            with tcpdump:
                server.start(netns)
                wait_listening(server.proc.pid, sc.port, ipv6=sc.ipv6)  # type: ignore[union-attr]
                commands.append(redact(server.argv, tmp, out))
                for conn in range(sc.connections):
                    client = build_client(sc, keys, tmp, conn)
                    clients.append(client)
                    commands.append(redact(client.argv, tmp, out))
                    results.append(run_connection(sc, netns, server, client, conn))
                if sc.server == "openssl" and not sc.server_closes:
                    server.wait(expect_ok=not sc.expect_failure)
                elif sc.server != "openssl":
                    server.close_stdin()
                    if sc.server == "gnutls":
                        server.terminate()
                    else:
                        server.wait()
                tcpdump.stop()
        except BaseException:
            for p in [server, *clients]:
                p.kill()
            sys.stderr.write(f"--- {sc.name}: peer logs ---\n")
            for p in [server, *clients]:
                sys.stderr.write(f"[{p.name}] {p.log_text()[-3000:]}\n")
            raise
        keylog_src = tmp / ("client.keys" if sc.keylog_from == "client" else "server.keys")
        keylog = keylog_src.read_text() if keylog_src.exists() else ""
        if not sc.expect_failure and not keylog.strip():
            raise CaptureError(f"{sc.name}: the peer wrote no key log")
        facts = check_with_tshark(pcap_tmp, sc, keylog_src)
        ports = tcp_endpoints(pcap_tmp, sc.port)
        if len(ports) != sc.connections:
            raise CaptureError(f"{sc.name}: expected {sc.connections} TCP connections, saw {ports}")
        shutil.copy(pcap_tmp, out / f"{sc.name}.pcap")
        if sc.pcapng_dsb:
            # editcap (Wireshark) writes the key log as a pcapng Decryption Secrets Block.
            subprocess.run(
                [
                    "editcap",
                    "--inject-secrets",
                    f"tls,{keylog_src}",
                    str(pcap_tmp),
                    str(out / f"{sc.name}.pcapng"),
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )
        (out / f"{sc.name}.keys").write_text(keylog)
        conns = []
        for i, (port, res, fact) in enumerate(zip(ports, results, facts, strict=True)):
            entry: dict[str, object] = {
                "tcp_stream": i,
                "client_port": port,
                "server_port": sc.port,
                **fact,
                "c2s_length": len(res.c2s),
                "s2c_length": len(res.s2c),
                "c2s_sha256": hashlib.sha256(res.c2s).hexdigest(),
                "s2c_sha256": hashlib.sha256(res.s2c).hexdigest(),
                "c2s_recipe": res.recipes["c2s"],
                "s2c_recipe": res.recipes["s2c"],
            }
            if len(res.c2s) + len(res.s2c) <= HEX_LIMIT:
                entry["c2s_hex"] = res.c2s.hex()
                entry["s2c_hex"] = res.s2c.hex()
            conns.append(entry)
        sidecar = {
            "name": sc.name,
            "description": sc.description,
            "exercises": sc.exercises,
            "peers": {"client": sc.client, "server": sc.server, "versions": peer_versions()},
            "tls_version": f"TLS {sc.version}",
            "tls_version_code": VERSIONS[sc.version],
            "cipher_suite": sc.suite,
            "cipher_suite_code": SUITES[sc.suite],
            "server_port": sc.port,
            "client_ip": sc.host,
            "server_ip": sc.host,
            "handshake_fails": sc.expect_failure,
            "pcap": f"{sc.name}.pcap",
            "keylog": f"{sc.name}.keys",
            "pcapng_dsb": f"{sc.name}.pcapng" if sc.pcapng_dsb else None,
            "keylog_from": sc.keylog_from,
            "rsa_key": "test-rsa-key.pem" if sc.rsa_decryptable else None,
            "server_cert": "test-ecdsa-cert.pem" if sc.cert == "ecdsa" else "test-rsa-cert.pem",
            "connections": conns,
            "commands": commands,
            "capture": redact(tcpdump.argv, tmp, out).replace(
                "$TMP/capture.pcap", f"$OUT/{sc.name}.pcap"
            ),
            "environment": "private network namespace, lo up, mtu 1500, gso_max_size 1500",
            "regenerate": f"python tools/make_tls_captures.py --only {sc.name}",
            "test_keys_notice": "all keys and certificates here are throwaway test keys",
        }
        (out / f"{sc.name}.json").write_text(json.dumps(sidecar, indent=1) + "\n")
        return sidecar


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output directory (default pcaps/tls)"
    )
    ap.add_argument(
        "--only", nargs="+", metavar="NAME", help="scenarios to make (default: all but large ones)"
    )
    ap.add_argument("--list", action="store_true", help="list scenarios and exit")
    args = ap.parse_args(argv)
    by_name = {s.name: s for s in SCENARIOS}
    if args.list:
        for s in SCENARIOS:
            print(f"{s.name:28} {'(not default) ' if s.large else ''}{s.description}")
        return 0
    if args.only:
        unknown = [n for n in args.only if n not in by_name]
        if unknown:
            ap.error(f"unknown scenario(s): {', '.join(unknown)} (see --list)")
        chosen = [by_name[n] for n in args.only]
    else:
        chosen = [s for s in SCENARIOS if not s.large]
    check_prerequisites(["ip", "tcpdump", "tshark", "openssl", "gnutls-cli", "gnutls-serv"])
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out.resolve()
    keys = ensure_test_keys(out)
    t0 = time.monotonic()
    with private_netns() as netns:
        for sc in chosen:
            t = time.monotonic()
            for attempt in range(1, 4):
                try:
                    run_scenario(sc, out, keys, netns)
                    break
                except CaptureDropped as e:
                    if attempt == 3:
                        raise
                    print(f"{sc.name}: capture incomplete, again ({e})".splitlines()[0], flush=True)
            print(f"{sc.name}: ok ({time.monotonic() - t:.1f}s)", flush=True)
    print(f"{len(chosen)} scenario(s) in {time.monotonic() - t0:.1f}s -> {out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CaptureError as e:
        sys.exit(f"make_tls_captures: FAILED: {e}")
