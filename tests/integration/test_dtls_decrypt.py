"""``netsec decrypt -w`` on real DTLS (OpenSSL and GnuTLS peers): each decrypted application-data
record becomes a plaintext UDP datagram that tshark reads without keys, carrying exactly the bytes
the peers sent; everything else is kept as captured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tshark_util import tshark_fields

DTLS = Path(__file__).resolve().parents[2] / "pcaps" / "dtls"
SAMPLES = ["gnutls-dtls12-gcm", "gnutls-dtls12-chacha20", "gnutls-dtls10-cbc", "ossl-dtls1-cbc"]


def _is_dtls(d: bytes) -> bool:
    return len(d) >= 13 and 20 <= d[0] <= 26 and d[1] == 0xFE


@pytest.mark.integration
@pytest.mark.parametrize("name", SAMPLES)
def test_decrypt_writes_the_peers_bytes_as_plain_udp(name: str, tmp_path: Path) -> None:
    side = json.loads((DTLS / f"{name}.json").read_text())
    port = int(side["port"])
    out = tmp_path / "out.pcap"
    res = subprocess.run(
        [sys.executable, "-m", "netsec_layers", "decrypt", str(DTLS / f"{name}.pcap"), "-w",
         str(out), "--keylog", str(DTLS / f"{name}.keys"), "--jobs", "1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    rows = tshark_fields(
        out, ["udp.srcport", "udp.dstport", "data.data"],
        options=["-Y", "data", "-d", f"udp.port=={port},data"],
    )  # fmt: skip
    # the handshake (and anything not decrypted) stays as captured: DTLS records
    plain = [r for r in rows if not _is_dtls(bytes.fromhex(r["data.data"]))]
    c2s = b"".join(bytes.fromhex(r["data.data"]) for r in plain if int(r["udp.dstport"]) == port)
    s2c = b"".join(bytes.fromhex(r["data.data"]) for r in plain if int(r["udp.srcport"]) == port)
    assert len(plain) < len(rows)
    want_c2s = b"".join(bytes.fromhex(c["c2s"]) for c in side["connections"])
    want_s2c = b"".join(bytes.fromhex(c["s2c"]) for c in side["connections"])
    assert (c2s, s2c) == (want_c2s, want_s2c)
    assert want_c2s and want_s2c
