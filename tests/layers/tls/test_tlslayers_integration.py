"""Live: openssl s_server/s_client on 127.0.0.1 recorded through a proxy, dissected by us and
by tshark (from a pcap written with Scapy) -- compared field by field; our default
ClientHello sent to a real openssl server gets a ServerHello back; bind_tls on the pcap."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from netsec_layers.constants.tls import suite_kex
from netsec_layers.layers import tls as T
from netsec_layers.layers.tls import dissect_tls, handshake_messages
from netsec_layers.layers.tls.bind import bind_tls, unbind_tls
from tests.layers.tls import _tlslayers_capture as cap
from tests.layers.tls._tlslayers_compare import normalise, ours, rebuild, undecoded_parts

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cap.require("openssl")
    cap.require("tshark")
    return tmp_path_factory.mktemp("tlslayers")


def _split(chunks: list[tuple[bool, str]]) -> tuple[bytes, bytes]:
    return (
        b"".join(bytes.fromhex(h) for c, h in chunks if c),
        b"".join(bytes.fromhex(h) for c, h in chunks if not c),
    )


@pytest.mark.parametrize("scenario", sorted(cap.SCENARIOS))
def test_live_handshake_matches_tshark(scenario: str, workdir: Path) -> None:
    run = cap.capture(scenario, workdir)
    chunks = [(c, bytes.fromhex(h)) for c, h in run["chunks"]]  # type: ignore[union-attr]
    c2s, s2c = _split(run["chunks"])  # type: ignore[arg-type]
    assert c2s and s2c, "openssl produced no traffic"
    pcap = workdir / f"{scenario}.pcap"
    cap.write_pcap(chunks, pcap)
    theirs = cap.tshark_fields(pcap)
    sh = next(
        m.payload
        for m in handshake_messages(dissect_tls(s2c))
        if type(m.payload) is T.TLSServerHello
    )
    version = sh.negotiated_version()
    for direction, data in (("c2s", c2s), ("s2c", s2c)):
        assert rebuild(dissect_tls(data)) == data
        assert undecoded_parts(dissect_tls(data)) == []
        got = ours(data, tls13=version == 0x0304, version=version, kex=suite_kex(sh.cipher_suite))
        want = normalise(theirs[direction])
        for field in set(got) | set(want):
            assert got.get(field, []) == want.get(field, []), (direction, field)


def test_default_client_hello_is_accepted_by_openssl(workdir: Path) -> None:
    key, cert = cap.make_cert(workdir)
    server, port = cap.start_server(key, cert, [])
    try:
        hello = bytes(T.TLSRecord(messages=[T.TLSHandshake() / T.TLSClientHello(sni="localhost")]))
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(hello)
            reply = b""
            while len(reply) < 5 or len(reply) < 5 + int.from_bytes(reply[3:5], "big"):
                data = s.recv(65536)
                if not data:
                    break
                reply += data
    finally:
        server.kill()
        server.wait(10)
    got = dissect_tls(reply)
    body = got.messages[0].payload
    assert type(body) is T.TLSServerHello, got.summary()
    assert body.negotiated_version() == 0x0304
    assert body.cipher_suite in (0x1301, 0x1302, 0x1303)
    ks = next(e for e in body.extensions if e.type == 51)
    assert ks.group == 29 and len(ks.key_exchange) == 32


def test_bind_tls_on_pcap_any_port(workdir: Path) -> None:
    from scapy.layers.inet import TCP
    from scapy.layers.tls.record import TLS
    from scapy.utils import rdpcap

    run = cap.capture("tls12_ecdhe", workdir)
    chunks = [(c, bytes.fromhex(h)) for c, h in run["chunks"]]  # type: ignore[union-attr]
    pcap = workdir / "bind.pcap"
    cap.write_pcap(chunks, pcap, server_port=443)
    assert any(p.haslayer(TLS) for p in rdpcap(str(pcap)))  # Scapy's own TLS on 443
    bind_tls()
    try:
        pkts = rdpcap(str(pcap))
        assert not any(p.haslayer(TLS) for p in pkts)
        first = next(p for p in pkts if p.haslayer(TCP) and bytes(p[TCP].payload))
        assert isinstance(first[TCP].payload, T.TLSRecord)
        assert first[T.TLSClientHello].sni == "example.com"
    finally:
        unbind_tls()
    assert any(p.haslayer(TLS) for p in rdpcap(str(pcap)))
