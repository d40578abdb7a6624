"""Crafted TLS connections are decrypted by tshark with the key log we write (and by netsec)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from netsec_layers.session.tls_craft import CraftedTLSConnection, write_connections
from tests.tshark_util import tshark_tls_records

CASES = [
    (0x0303, 0xC02F, False),  # ECDHE-RSA-AES128-GCM-SHA256
    (0x0303, 0xC030, False),  # ECDHE-RSA-AES256-GCM-SHA384
    (0x0303, 0xCCA8, False),  # ECDHE-RSA-CHACHA20-POLY1305
    (0x0303, 0xC013, False),  # ECDHE-RSA-AES128-SHA, MAC-then-encrypt
    (0x0303, 0xC013, True),  # ECDHE-RSA-AES128-SHA, encrypt-then-MAC (RFC 7366)
    (0x0303, 0x003C, False),  # RSA-AES128-SHA256
    (0x0302, 0x002F, False),  # TLS 1.1 AES128-SHA
    (0x0301, 0x002F, False),  # TLS 1.0 AES128-SHA (chained IVs)
    (0x0304, 0x1301, False),
    (0x0304, 0x1302, False),
    (0x0304, 0x1303, False),
]


def _flights(
    conn: CraftedTLSConnection, rng: random.Random
) -> tuple[list[tuple[bool, bytes]], bytes, bytes]:
    c2s = b"GET / HTTP/1.1\r\n\r\n" + rng.randbytes(3000)
    s2c = b"HTTP/1.1 200 OK\r\n\r\n" + rng.randbytes(40000)
    flights = conn.handshake()
    flights.append((True, conn.application_data(c2s, from_client=True, record_size=1000)))
    if conn.version >= 0x0304:
        flights.append((False, conn.key_update(from_client=False)))
    flights.append((False, conn.application_data(s2c, from_client=False)))
    flights.append((True, conn.alert(1, 0, from_client=True)))
    return flights, c2s, s2c


@pytest.mark.integration
@pytest.mark.parametrize(
    ("version", "suite", "etm"),
    CASES,
    ids=[f"{v:04x}-{s:04x}{'-etm' if e else ''}" for v, s, e in CASES],
)
def test_tshark_decrypts_what_we_craft(tmp_path: Path, version: int, suite: int, etm: bool) -> None:
    rng = random.Random(suite + version)
    conn = CraftedTLSConnection(version=version, suite=suite, encrypt_then_mac=etm, rng=rng)
    flights, c2s, s2c = _flights(conn, rng)
    pcap = tmp_path / "crafted.pcap"
    keylog = tmp_path / "crafted.keys"
    keylog.write_text(write_connections(pcap, [(conn, flights)]))
    # tshark's record view (HTTP and other claimers disabled, see tshark_util) in each direction.
    recs = tshark_tls_records(pcap, keylog=keylog)
    assert len([r for r in recs if r["content_type"] == 23]) == len(
        [r for r in recs if r["app_data"] is not None]
    )
    assert (
        b"".join(
            bytes.fromhex(r["app_data"]) for r in recs if r["app_data"] and r["dst_port"] == 443
        )
        == c2s
    )
    assert (
        b"".join(
            bytes.fromhex(r["app_data"]) for r in recs if r["app_data"] and r["src_port"] == 443
        )
        == s2c
    )
    # netsec decrypts the same file with the same key log and checks both Finished messages.
    from netsec_layers.keys.keylog import parse_keylog
    from netsec_layers.session.engine import CaptureEngine, iter_capture
    from netsec_layers.session.tls_keys import TLSKeyMaterial

    keys = TLSKeyMaterial()
    keys.add_keylog(parse_keylog(keylog.read_text()))
    engine = CaptureEngine(tls_keys=keys)
    recs = [u for r in iter_capture(pcap, engine) for u in r.units]
    assert (
        b"".join(r.plaintext for r in recs if r.from_client and r.inner_content_type == 23) == c2s
    )
    assert (
        b"".join(r.plaintext for r in recs if not r.from_client and r.inner_content_type == 23)
        == s2c
    )
    assert engine.tls.connections[0].finished_ok == {"client": True, "server": True}
    assert not any(r.error for r in recs)
