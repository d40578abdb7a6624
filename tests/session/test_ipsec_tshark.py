"""tshark (Wireshark's ESP dissector, libgcrypt) decrypts and checks the ESP we build.

One pcap holds packets for every algorithm pair tshark 4.0 supports (each under its own SPI),
tunnel and transport, IPv4 and IPv6, NAT-T, plus one packet per SA with a corrupted ICV. The
esp_sa entries come from ``format_esp_sa`` (first 8 columns, Wireshark 4.0's shape), so tshark
also checks our writer.  Wireshark 4.0 has no ESN, ChaCha20, CCM, GMAC, XCBC or CMAC.
"""

from __future__ import annotations

import csv
import os
import struct
from pathlib import Path

import pytest

from netsec_layers.keys.sa import SecurityAssociation
from netsec_layers.keys.sa_files import format_esp_sa
from netsec_layers.session.ipsec import SADatabase
from tests.tshark_util import run_tshark

pytestmark = pytest.mark.integration

# (encryption, key bytes incl. salt, integrity, auth key bytes)
SUITES = [
    ("AES-CBC", 16, "HMAC-SHA1-96", 20),
    ("AES-CBC", 24, "HMAC-SHA2-256-128", 32),
    ("AES-CBC", 32, "HMAC-SHA2-384-192", 48),
    ("AES-CBC", 16, "HMAC-SHA2-512-256", 64),
    ("AES-CBC", 16, "HMAC-MD5-96", 16),
    ("AES-CBC", 16, "HMAC-SHA-256-96", 32),
    ("AES-CTR", 20, "HMAC-SHA2-256-128", 32),
    ("AES-CTR", 36, "HMAC-SHA1-96", 20),
    ("3DES-CBC", 24, "HMAC-SHA1-96", 20),
    ("DES-CBC", 8, "HMAC-MD5-96", 16),
    ("NULL", 0, "HMAC-SHA2-256-128", 32),
    ("AES-GCM-16", 20, "NONE", 0),
    ("AES-GCM-12", 28, "NONE", 0),
    ("AES-GCM-8", 36, "NONE", 0),
]
LAYOUTS = ["tunnel4", "tunnel6", "transport4", "natt4"]


def _ip4(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    a = bytes(int(x) for x in src.split("."))
    b = bytes(int(x) for x in dst.split("."))
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 7, 0, 64, proto, 0, a, b)
    return hdr + payload


def _ip6(src_last: int, dst_last: int, nh: int, payload: bytes) -> bytes:
    pre = bytes.fromhex("20010db8000000000000000000000000")
    return (
        struct.pack("!IHBB", 6 << 28, len(payload), nh, 64)
        + pre[:15]
        + bytes([src_last])
        + pre[:15]
        + bytes([dst_last])
        + payload
    )


def _udp(payload: bytes, sport: int = 40000, dport: int = 40001) -> bytes:
    # Ports with no Wireshark dissector, so tshark's udp.payload is the raw data; checksum 0.
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def _pcap(frames: list[bytes]) -> bytes:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)  # LINKTYPE_RAW
    for i, f in enumerate(frames):
        out += struct.pack("<IIII", 1700000000 + i, 0, len(f), len(f)) + f
    return out


def _build(tmp_path: Path) -> tuple[Path, list[str], list[dict[str, object]]]:
    sas: list[SecurityAssociation] = []
    frames: list[bytes] = []
    expect: list[dict[str, object]] = []
    db = SADatabase()
    spi = 0x5000
    for enc, klen, integ, alen in SUITES:
        for layout in LAYOUTS:
            spi += 1
            sa = SecurityAssociation(
                spi=spi,
                encryption=enc,
                enc_key=os.urandom(klen),
                integrity=integ,
                auth_key=os.urandom(alen),
                mode="transport" if layout.startswith("transport") else "tunnel",
            )
            sas.append(sa)
            for fault in (None, None, "bad-icv"):
                data = os.urandom(5 + len(frames) % 40)
                if layout == "tunnel6":
                    inner = _ip6(1, 2, 17, _udp(data))
                    esp = db.encrypt(inner, sa=sa, next_header=41, fault=fault, tfc_pad=9)
                    frame = _ip6(0xA1, 0xA2, 50, esp)
                elif layout == "transport4":
                    esp = db.encrypt(_udp(data), sa=sa, next_header=17, fault=fault)
                    frame = _ip4("10.1.0.1", "10.1.0.2", 50, esp)
                else:
                    inner = _ip4("10.0.0.1", "10.0.0.2", 17, _udp(data))
                    esp = db.encrypt(inner, sa=sa, next_header=4, fault=fault)
                    body = _udp(esp, 4500, 4500) if layout == "natt4" else esp
                    frame = _ip4("192.0.2.1", "192.0.2.2", 17 if layout == "natt4" else 50, body)
                frames.append(frame)
                expect.append({"spi": spi, "bad": fault is not None, "data": data.hex()})
    path = tmp_path / "esp.pcap"
    path.write_bytes(_pcap(frames))
    uat = []
    for row in csv.reader(format_esp_sa(sas).splitlines()):
        uat += ["-o", "uat:esp_sa:" + ",".join(f'"{c}"' for c in row[:8])]
    return path, uat, expect


def test_tshark_decrypts_and_checks_our_esp(tmp_path: Path) -> None:
    path, uat, expect = _build(tmp_path)
    out = run_tshark(
        [
            "-n",
            "-r",
            str(path),
            # Random payloads must not wake a heuristic dissector that throws and cuts the ESP
            # tree short before the ICV verdict is added.
            "-d",
            "udp.port==40001,data",
            "-o",
            "esp.enable_encryption_decode:TRUE",
            "-o",
            "esp.enable_authentication_check:TRUE",
            *uat,
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "esp.spi",
            "-e",
            "esp.icv_good",
            "-e",
            "esp.icv_bad",
            "-e",
            "udp.payload",
        ]
    )
    rows = [line.split("|") for line in out.splitlines()]
    assert len(rows) == len(expect)
    for row, want in zip(rows, expect, strict=True):
        spi, good, bad, payload = row
        assert int(spi, 16) == want["spi"]
        assert (good, bad) == (("0", "1") if want["bad"] else ("1", "0")), (row, want)
        # The last UDP payload in the frame is the one tshark found inside the decrypted ESP.
        assert payload.split(",")[-1] == want["data"], (row, want)
