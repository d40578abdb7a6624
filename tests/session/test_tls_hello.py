"""session/tls_hello.py (the tracker's struct-level hello parser) against tshark 4.0's TLS
dissector, on every ClientHello and ServerHello of the real-peer samples (OpenSSL, GnuTLS,
Python): version, random, session id, cipher suites, extension types in order, SNI."""

from __future__ import annotations

from pathlib import Path

import pytest

from netsec_layers.io.capture import iter_capture
from netsec_layers.session import tls_hello as hs
from netsec_layers.session.engine import CaptureEngine
from netsec_layers.session.tls import TLSRecordInfo
from tests.tshark_util import tshark_fields

TLS = Path(__file__).resolve().parents[2] / "pcaps" / "tls"
# one per implementation and handshake shape (the tracker test covers the rest end to end)
SAMPLES = [
    "tls10-aes128-sha",
    "tls12-ecdhe-rsa-aes128gcm",
    "tls12-resumption",
    "tls13-aes128gcm",
    "tls13-hrr",
    "tls13-early-data",
    "gnutls-tls12",
    "gnutls-tls13",
    "python-tls13-port50443",
]
FIELDS = [
    "frame.number",
    "tls.handshake.type",
    "tls.handshake.random",
    "tls.handshake.session_id",
    "tls.handshake.ciphersuite",
    "tls.handshake.extension.type",
    "tls.handshake.extensions_server_name",
]


def _ours(pcap: Path) -> dict[int, list[hs.Hello]]:
    """Hellos per frame, from plaintext handshake records."""
    out: dict[int, list[hs.Hello]] = {}
    bufs: dict[tuple[int, bool], bytearray] = {}
    for res in iter_capture(str(pcap), CaptureEngine()):
        for u in res.units:
            if not isinstance(u, TLSRecordInfo) or u.inner_content_type != 22 or u.decrypted:
                continue
            buf = bufs.setdefault((u.stream, u.from_client), bytearray())
            buf += u.plaintext or b""
            msgs, used = hs.split_messages(buf)
            del buf[:used]
            for mtype, msg in msgs:
                if mtype in (hs.HT_CLIENT_HELLO, 2):
                    out.setdefault(u.frame, []).append(hs.parse_hello(msg))
    return out


@pytest.mark.integration
@pytest.mark.parametrize("name", SAMPLES)
def test_hello_fields_equal_tshark(name: str) -> None:
    pcap = TLS / f"{name}.pcap"
    ours = _ours(pcap)
    rows = tshark_fields(pcap, FIELDS, options=["-Y", "tls.handshake.type == 1 or tls.handshake.type == 2", "-o", "tls.desegment_ssl_records:TRUE", "-o", "tcp.desegment_tcp_streams:TRUE", "-d", "tcp.port==50443,tls"], occurrence="a", aggregator=",")  # fmt: skip
    assert rows, "tshark saw no hello"
    checked = 0
    for row in rows:
        frame = int(row["frame.number"])
        hellos = [h for h in ours.get(frame, [])]
        types = [int(t) for t in row["tls.handshake.type"].split(",")]
        hello_types = [t for t in types if t in (1, 2)]
        assert [1 if h.is_client else 2 for h in hellos] == hello_types, frame
        randoms = row["tls.handshake.random"].split(",")
        assert [h.random.hex() for h in hellos] == [r.replace(":", "") for r in randoms]
        for h in hellos:
            if h.is_client:
                suites = [int(x, 16) for x in row["tls.handshake.ciphersuite"].split(",")]
                assert h.cipher_suites == suites
                exts = [int(x) for x in row["tls.handshake.extension.type"].split(",") if x]
                assert h.extension_order == exts
                assert (h.sni() or "") == row["tls.handshake.extensions_server_name"]
            checked += 1
    assert checked >= 1
