"""tcpdump -E (OpenSSL EVP ciphers) decrypts the CBC-mode ESP we build: a second independent
decryptor next to tshark.  tcpdump skips the ICV without checking it, so this covers encryption,
padding and the inner packet only.  (Single DES is left out: OpenSSL 3 moved it to the legacy
provider and tcpdump 4.99 crashes on the missing cipher.)"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from netsec_layers.keys.sa import SecurityAssociation
from netsec_layers.session.ipsec import SADatabase

pytestmark = pytest.mark.integration

# (ours, key bytes, integrity, auth key bytes, tcpdump -E algorithm)
SUITES = [
    ("AES-CBC", 16, "HMAC-SHA1-96", 20, "aes128-cbc-hmac96"),
    ("AES-CBC", 32, "HMAC-MD5-96", 16, "aes256-cbc-hmac96"),
    ("3DES-CBC", 24, "HMAC-SHA1-96", 20, "3des-cbc-hmac96"),
    ("AES-CBC", 16, "NONE", 0, "aes128-cbc"),
]


def _ip4(src: bytes, dst: bytes, proto: int, payload: bytes) -> bytes:
    return (
        struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0, src, dst)
        + payload
    )


def test_tcpdump_decrypts_our_cbc_esp(tmp_path: Path) -> None:
    exe = shutil.which("tcpdump")
    assert exe, "tcpdump is required for this integration test"
    db = SADatabase()
    frames: list[bytes] = []
    secrets: list[str] = []
    expect: list[tuple[int, int]] = []
    for n, (enc, klen, integ, alen, algo) in enumerate(SUITES):
        sa = SecurityAssociation(
            spi=0x7000 + n,
            encryption=enc,
            enc_key=os.urandom(klen),
            integrity=integ,
            auth_key=os.urandom(alen),
        )
        secrets.append(f"0x{sa.spi:08x}@192.0.2.2 {algo}:0x{sa.enc_key.hex()}")
        for length in (1, 17, 300):
            udp = struct.pack("!HHHH", 40000 + n, 40001, 8 + length, 0) + os.urandom(length)
            inner = _ip4(b"\x0a\0\0\1", b"\x0a\0\0\2", 17, udp)
            esp = db.encrypt(inner, sa=sa, next_header=4)
            frames.append(_ip4(b"\xc0\0\2\1", b"\xc0\0\2\2", 50, esp))
            expect.append((40000 + n, length))
    pcap = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)
    for i, f in enumerate(frames):
        pcap += struct.pack("<IIII", 1700000000 + i, 0, len(f), len(f)) + f
    path = tmp_path / "esp.pcap"
    path.write_bytes(pcap)
    out = subprocess.run(
        [exe, "-n", "-r", str(path), "-E", ",".join(secrets)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    lines = out.splitlines()
    assert len(lines) == len(expect)
    for line, (sport, length) in zip(lines, expect, strict=True):
        m = re.search(r": IP 10\.0\.0\.1\.(\d+) > 10\.0\.0\.2\.40001: UDP, length (\d+)", line)
        assert m, line
        assert (int(m.group(1)), int(m.group(2))) == (sport, length), line
