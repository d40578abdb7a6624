#!/usr/bin/env python3
"""Make real DTLS sample captures (pcap + key log + ground-truth JSON sidecar) on 127.0.0.1.

Peers are implementations nobody here wrote: OpenSSL ``s_server``/``s_client`` (``-dtls1_2``,
``-dtls1``) and GnuTLS ``gnutls-serv --udp``/``gnutls-cli --udp``.  Each scenario runs in a
private network namespace (see ``capture_lib.private_netns``), is captured with ``tcpdump -i lo``,
sends known application bytes both ways and checks that each peer received exactly them; the
sidecar records them so tests compare our decryption with what the peers really sent.

    python tools/make_dtls_captures.py --list
    python tools/make_dtls_captures.py                  # every scenario into pcaps/dtls/
    python tools/make_dtls_captures.py --only ossl-dtls12-aes128gcm --out /tmp/x

Needs root (network namespace, tcpdump), openssl and gnutls-bin.  The keys it writes are
throwaway test keys.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from capture_lib import (  # type: ignore[import-not-found]  # noqa: E402
    CaptureError,
    check_prerequisites,
    ensure_test_keys,
    in_netns,
    private_netns,
)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "pcaps" / "dtls"


@dataclass
class Scenario:
    name: str
    impl: str  # "openssl" | "gnutls"
    version: str  # "dtls1_2" | "dtls1"
    cipher: str  # OpenSSL cipher string or GnuTLS priority string
    suite: int  # the IANA code the server must select
    port: int = 4433
    server_extra: list[str] = field(default_factory=list)
    client_extra: list[str] = field(default_factory=list)
    mtu: int = 1500
    resume: bool = False  # a second connection resuming the first session
    client_cipher: str | None = None  # a client cipher list the server refuses: fatal alert
    # datagrams a proxy drops (0-based, per direction): the capture, taken on the client's side
    # of the proxy, then shows the peers' real retransmissions
    drop_c2s: list[int] = field(default_factory=list)
    drop_s2c: list[int] = field(default_factory=list)
    note: str = ""


SCENARIOS = [
    Scenario("ossl-dtls12-aes128gcm", "openssl", "dtls1_2", "ECDHE-RSA-AES128-GCM-SHA256", 0xC02F,
             note="ECDHE-RSA AES-128-GCM, close_notify from the client"),
    Scenario("ossl-dtls12-chacha20", "openssl", "dtls1_2", "ECDHE-RSA-CHACHA20-POLY1305", 0xCCA8,
             port=50000, note="RFC 7905 nonce over epoch||seq (tshark 4.0 gets it wrong)"),
    Scenario("ossl-dtls12-cbc-etm", "openssl", "dtls1_2", "ECDHE-RSA-AES128-SHA", 0xC013,
             note="AES-128-CBC-SHA1 with encrypt_then_mac (RFC 7366)"),
    Scenario("ossl-dtls12-cbc-mte", "openssl", "dtls1_2", "ECDHE-RSA-AES256-SHA", 0xC014,
             client_extra=["-no_etm"], note="AES-256-CBC-SHA1, MAC-then-encrypt"),
    Scenario("ossl-dtls12-rsa-ccm", "openssl", "dtls1_2", "AES128-CCM", 0xC09C,
             note="static RSA key exchange (decryptable with the server key) and AES-128-CCM"),
    Scenario("ossl-dtls12-rsa-ccm8", "openssl", "dtls1_2", "AES256-CCM8", 0xC0A1,
             note="static RSA, AES-256-CCM-8"),
    Scenario("ossl-dtls1-cbc", "openssl", "dtls1", "ECDHE-RSA-AES128-SHA:@SECLEVEL=0", 0xC013,
             note="DTLS 1.0 (version 0xfeff, TLS 1.1 PRF/MD5+SHA1 Finished)"),
    Scenario("ossl-dtls12-hvr-mtu", "openssl", "dtls1_2", "ECDHE-RSA-AES128-GCM-SHA256", 0xC02F,
             server_extra=["-listen", "-mtu", "400"], client_extra=["-mtu", "400"], mtu=1500,
             note="HelloVerifyRequest cookie exchange; MTU 400 fragments the certificate"),
    Scenario("ossl-dtls12-resume", "openssl", "dtls1_2", "ECDHE-RSA-AES128-GCM-SHA256", 0xC02F,
             resume=True, note="two connections: full handshake, then session resumption"),
    Scenario("ossl-dtls12-lost-flights", "openssl", "dtls1_2", "ECDHE-RSA-AES128-GCM-SHA256",
             0xC02F, drop_c2s=[2], drop_s2c=[2],
             note="a proxy drops the client's key-exchange flight and one server datagram: "
                  "both flights are retransmitted with new record sequence numbers"),
    Scenario("ossl-dtls12-handshake-failure", "openssl", "dtls1_2", "ECDHE-RSA-AES128-GCM-SHA256",
             0, client_cipher="AES256-SHA256",
             note="no common suite: the server's fatal handshake_failure alert in epoch 0"),
    Scenario("gnutls-dtls12-gcm", "gnutls", "dtls1_2",
             "NORMAL:-VERS-ALL:+VERS-DTLS1.2:-CIPHER-ALL:+AES-128-GCM", 0xC02F,
             note="GnuTLS 3.7 both sides"),
    Scenario("gnutls-dtls12-chacha20", "gnutls", "dtls1_2",
             "NORMAL:-VERS-ALL:+VERS-DTLS1.2:-CIPHER-ALL:+CHACHA20-POLY1305", 0xCCA8, port=50000,
             note="GnuTLS 3.7, ChaCha20-Poly1305"),
    Scenario("gnutls-dtls10-cbc", "gnutls", "dtls1",
             "NORMAL:-VERS-ALL:+VERS-DTLS1.0:-CIPHER-ALL:+AES-128-CBC", 0xC013,
             note="GnuTLS 3.7, DTLS 1.0 AES-128-CBC-SHA1"),
]  # fmt: skip


class Proc:
    """A peer process whose stdout is collected in the background."""

    def __init__(self, argv: list[str], netns: str, env: dict[str, str] | None, log: Path) -> None:
        self.log = log
        self._logf = open(log, "wb")
        self.proc = subprocess.Popen(
            in_netns(netns, argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._logf,
            env=dict(os.environ, **(env or {})),
        )
        self.out = bytearray()
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while chunk := os.read(self.proc.stdout.fileno(), 65536):
            self.out += chunk

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def wait_for(self, data: bytes, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while data not in self.out:
            if time.monotonic() > deadline or (
                self.proc.poll() is not None and data not in self.out
            ):
                time.sleep(0.2)
                if data in self.out:
                    return
                raise CaptureError(
                    f"{self.proc.args!r} did not receive {data[:40]!r}; got {bytes(self.out)[-300:]!r}"
                    f"; log {self.log.read_text(errors='replace')[-1500:]}"
                )
            time.sleep(0.05)

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass

    def stop(self, timeout: float = 5.0) -> None:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._logf.close()


def proxy(listen: int, server: int, drop_c2s: set[int], drop_s2c: set[int]) -> None:
    """A UDP relay 127.0.0.1:listen <-> 127.0.0.1:server dropping the given datagrams."""
    import select
    import socket

    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", listen))
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b.connect(("127.0.0.1", server))
    client = None
    nc = ns = 0
    while True:
        ready, _, _ = select.select([a, b], [], [])
        if a in ready:
            data, client = a.recvfrom(65535)
            if nc not in drop_c2s:
                b.send(data)
            nc += 1
        if b in ready:
            data = b.recv(65535)
            if ns not in drop_s2c and client is not None:
                a.sendto(data, client)
            ns += 1


def wait_udp(pid: int, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for table in ("udp", "udp6"):
            try:
                lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                if int(line.split()[1].rsplit(":", 1)[1], 16) == port:
                    return
        time.sleep(0.05)
    raise CaptureError(f"nothing bound UDP port {port}")


def peer_argv(sc: Scenario, keys: dict[str, Path], tmp: Path, n: int) -> tuple[list[str], ...]:
    sport = sc.port + 1 if sc.drop_c2s or sc.drop_s2c else sc.port
    if sc.impl == "openssl":
        server = ["openssl", "s_server", f"-{sc.version}", "-accept", str(sport),
                  "-cert", str(keys["rsa-cert"]), "-key", str(keys["rsa-key"]),
                  "-cipher", sc.cipher, "-keylogfile", str(tmp / "server.keys"), "-quiet",
                  "-naccept", str(2 if sc.resume else 1), *sc.server_extra]  # fmt: skip
        clients = []
        for i in range(n):
            c = ["openssl", "s_client", f"-{sc.version}", "-connect", f"127.0.0.1:{sc.port}",
                 "-cipher", sc.client_cipher or sc.cipher, "-keylogfile", str(tmp / "client.keys"),
                 *sc.client_extra]  # fmt: skip
            if sc.resume:
                c += ["-sess_out" if i == 0 else "-sess_in", str(tmp / "session.pem")]
            clients.append(c)
        return (server, *clients)
    server = ["gnutls-serv", "--udp", "--echo", "-p", str(sport), "--priority", sc.cipher,
              "--x509certfile", str(keys["rsa-cert"]), "--x509keyfile", str(keys["rsa-key"])]  # fmt: skip
    client = ["gnutls-cli", "--udp", "--insecure", "-p", str(sc.port), "--priority", sc.cipher,
              "127.0.0.1"]  # fmt: skip
    return (server, client)


def run(sc: Scenario, out: Path, keys: dict[str, Path]) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as td, private_netns(sc.mtu) as netns:
        tmp = Path(td)
        pcap = tmp / "cap.pcap"
        dump_log = tmp / "tcpdump.log"
        dump = subprocess.Popen(
            in_netns(netns, ["tcpdump", "-i", "lo", "-U", "--immediate-mode", "-B", "32768",
                             "-n", "-s", "0", "-w", str(pcap), f"udp port {sc.port}"]),
            stdout=subprocess.DEVNULL, stderr=open(dump_log, "wb"),
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while b"listening on" not in dump_log.read_bytes():
            if time.monotonic() > deadline:
                raise CaptureError("tcpdump did not start")
            time.sleep(0.05)
        n = 2 if sc.resume else 1
        argvs = peer_argv(sc, keys, tmp, n)
        env_c = {"SSLKEYLOGFILE": str(tmp / "client.keys")} if sc.impl == "gnutls" else None
        server = Proc(argvs[0], netns, None, tmp / "server.log")
        relay = None
        if sc.drop_c2s or sc.drop_s2c:
            relay = Proc([sys.executable, __file__, "--proxy", str(sc.port), str(sc.port + 1),
                          ",".join(map(str, sc.drop_c2s)), ",".join(map(str, sc.drop_s2c))],
                         netns, None, tmp / "proxy.log")  # fmt: skip
        exchanges = []
        try:
            wait_udp(server.proc.pid, sc.port + (1 if relay else 0))
            if relay is not None:
                wait_udp(relay.proc.pid, sc.port)
            if sc.client_cipher:  # the handshake fails: no data, the client exits by itself
                client = Proc(argvs[1], netns, None, tmp / "client0.log")
                client.stop(timeout=15)
                n = 0
            for i in range(n):
                c2s = f"{sc.name} conn {i}: client says hello over DTLS\n".encode()
                s2c = c2s if sc.impl == "gnutls" else f"{sc.name} conn {i}: server reply\n".encode()
                client = Proc(argvs[1 + i if sc.impl == "openssl" else 1], netns, env_c,
                              tmp / f"client{i}.log")  # fmt: skip
                time.sleep(1.0)
                client.send(c2s)
                if sc.impl == "openssl":  # gnutls-serv --echo logs on stderr: the echo proves it
                    server.wait_for(c2s)
                    server.send(s2c)
                client.wait_for(s2c)
                time.sleep(0.3)
                client.close_stdin()  # s_client/gnutls-cli send close_notify on EOF
                client.stop()
                exchanges.append({"c2s": c2s.hex(), "s2c": s2c.hex()})
                if sc.impl == "openssl" and i + 1 < n:
                    time.sleep(0.5)
        finally:
            time.sleep(0.5)
            if sc.impl == "gnutls" or server.proc.poll() is None:
                server.proc.terminate()
            server.stop()
            if relay is not None:
                relay.proc.terminate()
                relay.stop()
            dump.send_signal(2)
            dump.wait(10)
        if b"0 packets dropped by kernel" not in dump_log.read_bytes():
            raise CaptureError(f"tcpdump dropped packets: {dump_log.read_text()}")
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(pcap, out / f"{sc.name}.pcap")
        if not (tmp / "client.keys").exists():  # no secret was ever derived
            (tmp / "client.keys").write_text("")
        shutil.copy(tmp / "client.keys", out / f"{sc.name}.keys")
        if sc.suite in (0xC09C, 0xC0A1):
            shutil.copy(keys["rsa-key"], out / f"{sc.name}.rsa.pem")
        meta: dict[str, object] = {
            "scenario": sc.name,
            "impl": sc.impl,
            "version": {"dtls1_2": 0xFEFD, "dtls1": 0xFEFF}[sc.version],
            "suite": sc.suite,
            "port": sc.port,
            "note": sc.note,
            "server_argv": " ".join(argvs[0]).replace(str(tmp), "$TMP").replace(
                str(keys["rsa-key"].parent), "$KEYS"),
            "connections": exchanges,
        }  # fmt: skip
        (out / f"{sc.name}.json").write_text(json.dumps(meta, indent=1) + "\n")
        return meta


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--proxy", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.proxy:
        listen, server, dc, ds = args.proxy
        proxy(int(listen), int(server), {int(x) for x in dc.split(",") if x},
              {int(x) for x in ds.split(",") if x})  # fmt: skip
        return 0
    if args.list:
        for sc in SCENARIOS:
            print(f"{sc.name:28} {sc.note}")
        return 0
    check_prerequisites(["ip", "tcpdump", "openssl", "gnutls-serv", "gnutls-cli"])
    args.out.mkdir(parents=True, exist_ok=True)
    # the same throwaway server credentials as the TLS samples (pcaps/tls/test-*.pem)
    keys = ensure_test_keys(REPO / "pcaps" / "tls")
    failed = 0
    for sc in SCENARIOS:
        if args.only and sc.name not in args.only:
            continue
        for attempt in range(3):
            try:
                run(sc, args.out, keys)
                print(f"ok   {sc.name}")
                break
            except CaptureError as exc:
                if attempt == 2:
                    print(f"FAIL {sc.name}: {exc}", file=sys.stderr)
                    failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
