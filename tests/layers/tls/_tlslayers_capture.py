"""Record real TLS handshakes between openssl s_server and s_client on 127.0.0.1 through a
small TCP proxy, write them as a pcap and read tshark's view of them.

Used by the integration tests, and (``python -m tests.layers.tls._tlslayers_capture``) to refresh
``tests/vectors/tls_layers/recorded_handshakes.json``: the bytes openssl sent and the fields
tshark reported, so the non-integration tests compare against both without the programs.
"""

from __future__ import annotations

import json
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from tests import tshark_util

OPENSSL = "openssl"

# name -> (server args, client args)
SCENARIOS: dict[str, tuple[list[str], list[str]]] = {
    "tls13": ([], ["-tls1_3", "-alpn", "h2,http/1.1"]),
    "tls13_hrr": (["-groups", "X25519"], ["-tls1_3", "-groups", "P-256:X25519"]),
    "tls13_client_auth": (
        ["-Verify", "1", "-CAfile", "{cert}"],
        ["-tls1_3", "-cert", "{cert}", "-key", "{key}"],
    ),
    "tls12_ecdhe": ([], ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256", "-alpn", "http/1.1"]),
    "tls12_dhe": ([], ["-tls1_2", "-cipher", "DHE-RSA-AES256-GCM-SHA384"]),
    "tls12_rsa_client_auth": (
        ["-Verify", "1", "-CAfile", "{cert}"],
        ["-tls1_2", "-cipher", "AES128-SHA256", "-cert", "{cert}", "-key", "{key}"],
    ),
    "tls11_ecdhe": (
        ["-cipher", "DEFAULT@SECLEVEL=0"],
        ["-tls1_1", "-cipher", "ECDHE-RSA-AES128-SHA:@SECLEVEL=0"],
    ),
    "tls10_dhe": (
        ["-cipher", "DEFAULT@SECLEVEL=0"],
        ["-tls1", "-cipher", "DHE-RSA-AES128-SHA:@SECLEVEL=0"],
    ),
    # GnuTLS as the client (a second, independent TLS implementation); gnutls-serv is not
    # used because it cannot be bound to 127.0.0.1 only
    "gnutls_tls13": ([], ["gnutls", "--alpn", "h2"]),
    "gnutls_tls12": ([], ["gnutls", "--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.2"]),
}


def require(program: str) -> str:
    """Path of ``program``; raise (so integration tests fail, not skip) if missing."""
    path = shutil.which(program)
    if path is None:
        raise RuntimeError(f"{program} is required for this test")
    return path


def make_cert(directory: Path) -> tuple[Path, Path]:
    """A throwaway RSA-2048 key and self-signed certificate made with openssl req."""
    key, cert = directory / "key.pem", directory / "cert.pem"
    if not cert.exists():
        subprocess.run(
            [
                require(OPENSSL),
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-subj",
                "/CN=localhost",
                "-days",
                "2",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    return key, cert


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proxy(threading.Thread):
    """Accept one connection, relay it to ``upstream`` and record what each side sent."""

    def __init__(self, upstream: int) -> None:
        super().__init__(daemon=True)
        self.upstream = upstream
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = int(self.listener.getsockname()[1])
        self.chunks: list[tuple[bool, bytes]] = []  # (from_client, data) in arrival order

    def run(self) -> None:
        self.listener.settimeout(20)
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        server = socket.create_connection(("127.0.0.1", self.upstream), timeout=20)
        peers = {client: server, server: client}
        open_ = {client, server}
        deadline = time.monotonic() + 20
        while open_ and time.monotonic() < deadline:
            ready, _, _ = select.select(list(open_), [], [], 0.5)
            for s in ready:
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    open_.discard(s)
                    try:
                        peers[s].shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    continue
                self.chunks.append((s is client, data))
                try:
                    peers[s].sendall(data)
                except OSError:
                    open_.discard(s)
        client.close()
        server.close()
        self.listener.close()


def _substitute(args: Sequence[str], key: Path, cert: Path) -> list[str]:
    return [a.format(cert=cert, key=key) for a in args]


def start_server(
    key: Path, cert: Path, extra: Sequence[str]
) -> tuple[subprocess.Popen[bytes], int]:
    """openssl s_server on 127.0.0.1 (one connection), ready to accept."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            require(OPENSSL),
            "s_server",
            "-accept",
            f"127.0.0.1:{port}",
            "-naccept",
            "1",
            "-key",
            str(key),
            "-cert",
            str(cert),
            *_substitute(extra, key, cert),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line or b"ACCEPT" in line:
            break
    return proc, port


def capture(name: str, workdir: Path) -> dict[str, object]:
    """Run scenario ``name``; return {"chunks": [(from_client, hex)], "server_port": int}."""
    key, cert = make_cert(workdir)
    server_args, client_args = SCENARIOS[name]
    server, port = start_server(key, cert, server_args)
    proxy = Proxy(port)
    proxy.start()
    if client_args[:1] == ["gnutls"]:
        client = [
            require("gnutls-cli"),
            "--insecure",
            "-p",
            str(proxy.port),
            "127.0.0.1",
            "--sni-hostname",
            "example.com",
            *client_args[1:],
        ]
    else:
        client = [
            require(OPENSSL),
            "s_client",
            "-connect",
            f"127.0.0.1:{proxy.port}",
            "-servername",
            "example.com",
            *_substitute(client_args, key, cert),
        ]
    try:
        subprocess.run(client, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        proxy.join(25)
    finally:
        server.kill()
        server.wait(10)
    return {"chunks": [(c, d.hex()) for c, d in proxy.chunks], "server_port": 4433}


def write_pcap(
    chunks: Sequence[tuple[bool, bytes]],
    path: Path,
    *,
    server_port: int = 4433,
    client_port: int = 40000,
) -> None:
    """A pcap of one TCP connection (handshake + the chunks as MSS-sized segments)."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    c, s = ("127.0.0.1", client_port), ("127.0.0.2", server_port)
    seq = {True: 1000, False: 5000}
    pkts = []

    def seg(from_client: bool, flags: str, data: bytes = b"") -> None:
        src, dst = (c, s) if from_client else (s, c)
        p = (
            Ether()
            / IP(src=src[0], dst=dst[0])
            / TCP(
                sport=src[1],
                dport=dst[1],
                flags=flags,
                seq=seq[from_client],
                ack=seq[not from_client],
            )
            / data
        )
        p.time = 1_700_000_000 + len(pkts) * 0.001
        pkts.append(p)
        seq[from_client] += len(data) + (1 if "S" in flags else 0)

    seg(True, "S")
    seg(False, "SA")
    seg(True, "A")
    for from_client, data in chunks:
        for i in range(0, len(data), 1400):
            seg(from_client, "PA", data[i : i + 1400])
    wrpcap(str(path), pkts)


TSHARK_FIELDS = [
    "tcp.srcport",
    "tls.record.content_type",
    "tls.record.version",
    "tls.record.length",
    "tls.handshake.type",
    "tls.handshake.length",
    "tls.handshake.version",
    "tls.handshake.random",
    "tls.handshake.session_id",
    "tls.handshake.ciphersuite",
    "tls.handshake.extension.type",
    "tls.handshake.extensions_server_name",
    "tls.handshake.extensions_alpn_str",
    "tls.handshake.extensions.supported_version",
    "tls.handshake.extensions_supported_group",
    "tls.handshake.certificate_length",
    "tls.handshake.server_named_curve",
    "tls.handshake.p_len",
    "tls.handshake.ys_len",
    "tls.handshake.epms_len",
    "tls.handshake.client_point_len",
    "tls.handshake.yc_len",
    "tls.handshake.sig_len",
    "tls.handshake.client_cert_vrfy.sig_len",
    "tls.handshake.session_ticket_length",
    "tls.handshake.extensions_key_share_group",
    "tls.handshake.extensions_key_share_selected_group",
    "tls.alert_message.desc",
]


def tshark_fields(
    pcap: Path, *, server_port: int = 4433, fields: Sequence[str] | None = None
) -> dict[str, dict[str, list[str]]]:
    """tshark's fields, concatenated per direction: {"c2s"|"s2c": {field: [values]}}."""
    names = ["tcp.srcport", *(fields if fields is not None else TSHARK_FIELDS[1:])]
    rows = tshark_util.tshark_fields(
        pcap,
        names,
        options=["-d", f"tcp.port=={server_port},tls", "-o", "tcp.desegment_tcp_streams:TRUE"],
        occurrence="a",
        aggregator="|",
    )
    result: dict[str, dict[str, list[str]]] = {
        d: {f: [] for f in names[1:]} for d in ("c2s", "s2c")
    }
    for row in rows:
        if not row["tcp.srcport"]:
            continue
        d = "s2c" if int(row["tcp.srcport"]) == server_port else "c2s"
        for f in names[1:]:
            if row[f]:
                result[d][f] += row[f].split("|")
    return result


def _describe(name: str) -> str:
    ver = subprocess.run([OPENSSL, "version"], capture_output=True, text=True).stdout.strip()
    server, client = SCENARIOS[name]
    if client[:1] == ["gnutls"]:
        gver = subprocess.run(
            ["gnutls-cli", "--version"], capture_output=True, text=True
        ).stdout.splitlines()[0]
        return f"{ver} s_server {' '.join(server)}; {gver} {' '.join(client[1:])}"
    return f"{ver} s_server {' '.join(server)}; s_client {' '.join(client)}"


def main(out: str) -> None:
    """Capture every scenario and store bytes + tshark fields as JSON vectors."""
    import tempfile

    vectors = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in SCENARIOS:
            cap = capture(name, Path(tmp))
            chunks = [(c, bytes.fromhex(h)) for c, h in cap["chunks"]]  # type: ignore[union-attr]
            pcap = Path(tmp) / f"{name}.pcap"
            write_pcap(chunks, pcap)
            vectors[name] = {
                "source": _describe(name),
                "chunks": cap["chunks"],
                "tshark": tshark_fields(pcap),
            }
    Path(out).write_text(json.dumps(vectors, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/vectors/tls_layers/recorded_handshakes.json")
