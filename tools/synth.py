#!/usr/bin/env python3
"""Synthetic captures for the benchmark (tools/bench.py): ESP tunnel mode and TLS 1.2/1.3.

Packets are built with ``struct`` and encrypted with the library's own crypto (no Scapy object
per packet), so a million-packet capture takes tens of seconds, not hours.  Every file comes with
the key material tshark needs (Wireshark ``esp_sa`` lines, NSS key log), and tshark must decrypt
it: the benchmark is only fair if both tools do the same work.

* ESP: Ethernet / IPv4 10.0.0.1 → 10.0.0.2 / ESP tunnel mode (RFC 4303 §3.1.2) carrying inner
  IPv4/UDP packets of 64, 512 and 1400 bytes in turn; AES-GCM-16 with a 128-bit key (RFC 4106)
  or AES-CBC-128 + HMAC-SHA-256-128 (RFC 3602, RFC 4868).
* TLS: ``connections`` TCP connections (3-way handshake, correct seq/ack), a plausible handshake
  (ClientHello/ServerHello with the suite and, for 1.3, supported_versions/key_share), real
  Finished verify_data under made-up secrets, then ``records`` application-data records per
  connection alternating client/server with plaintext sizes 64/512/1400.  TLS 1.2 uses
  ECDHE-RSA-AES128-GCM-SHA256 (0xc02f) and a CLIENT_RANDOM key-log line; TLS 1.3 uses
  TLS_AES_128_GCM_SHA256 (0x1301) and the four traffic secrets (RFC 8446 §7.1).
  Connections are interleaved round-robin so that all of them are open at the same time.

Usage: ``python tools/synth.py esp-gcm OUT.pcap --sa OUT.esp_sa -n 100000`` (see ``--help``).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import socket
import struct
import sys
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from netsec_layers.crypto.tls13 import finished_verify_data13
from netsec_layers.crypto.tls_prf import finished_verify_data, key_block
from netsec_layers.crypto.tls_record import RecordProtection
from netsec_layers.crypto.tls_suites import suite_info
from netsec_layers.io.pcap import CaptureWriter
from netsec_layers.keys.keylog import format_keylog_line
from netsec_layers.keys.sa import SecurityAssociation
from netsec_layers.keys.sa_files import format_esp_sa
from netsec_layers.session.ipsec import SADatabase

SIZES = (64, 512, 1400)
MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")
ETH_IP4 = b"\x08\x00"
T0_NS = 1_700_000_000 * 10**9
STEP_NS = 10_000  # 10 µs between packets

_IP4 = struct.Struct("!BBHHHBBH4s4s")
_UDP = struct.Struct("!HHHH")
_TCP = struct.Struct("!HHIIBBHHH")
_PSEUDO = struct.Struct("!4s4sBBH")

# Fixed (made-up) keys: the benchmark reads the same files every run.
GCM_SA = SecurityAssociation(
    spi=0x00001234,
    encryption="AES-GCM-16",
    enc_key=bytes(range(1, 17)) + bytes.fromhex("a0a1a2a3"),  # 128-bit key + 4-byte salt
    src="10.0.0.1",
    dst="10.0.0.2",
    mode="tunnel",
)
CBC_SA = SecurityAssociation(
    spi=0x00005678,
    encryption="AES-CBC",
    enc_key=bytes(range(16)),
    integrity="HMAC-SHA2-256-128",
    auth_key=b"\x11" * 32,
    src="10.0.0.1",
    dst="10.0.0.2",
    mode="tunnel",
)
ESP_SAS = {"gcm": GCM_SA, "cbc": CBC_SA}


# -- checksums and headers -------------------------------------------------------------------
def checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum (sum of native 16-bit words, byte order fixed at the end)."""
    if len(data) & 1:
        data += b"\0"
    s = sum(array("H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    s = ~s & 0xFFFF
    return socket.htons(s) if sys.byteorder == "little" else s


def ipv4(src: bytes, dst: bytes, proto: int, payload: bytes, ident: int) -> bytes:
    """IPv4 header (no options, DF clear, TTL 64) with a correct header checksum."""
    hdr = _IP4.pack(0x45, 0, 20 + len(payload), ident & 0xFFFF, 0, 64, proto, 0, src, dst)
    return hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:] + payload


def udp4(src: bytes, dst: bytes, sport: int, dport: int, payload: bytes) -> bytes:
    # UDP checksum 0 = not computed (RFC 768), legal over IPv4 and cheaper to build.
    return _UDP.pack(sport, dport, 8 + len(payload), 0) + payload


def tcp4(src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int,
         payload: bytes) -> bytes:  # fmt: skip
    """TCP segment with a correct checksum over the RFC 793 §3.1 pseudo-header."""
    hdr = _TCP.pack(sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0)
    seg = hdr + payload
    csum = checksum(_PSEUDO.pack(src, dst, 0, 6, len(seg)) + seg)
    return seg[:16] + struct.pack("!H", csum) + seg[18:]


def ether(payload: bytes, *, reverse: bool = False) -> bytes:
    return (MAC_A + MAC_B if reverse else MAC_B + MAC_A) + ETH_IP4 + payload


# -- ESP ---------------------------------------------------------------------------------------
INNER_SRC = socket.inet_aton("192.168.1.10")
INNER_DST = socket.inet_aton("192.168.2.20")
OUTER_SRC = socket.inet_aton("10.0.0.1")
OUTER_DST = socket.inet_aton("10.0.0.2")
_FILL = random.Random(1).randbytes(4096)


def inner_packet(i: int) -> bytes:
    """Inner IPv4/UDP packet number ``i``: total length 64, 512 or 1400 bytes in turn."""
    size = SIZES[i % 3]
    body = struct.pack("!I", i) + _FILL[(i * 7) % 2048 :][: size - 28 - 4]
    return ipv4(INNER_SRC, INNER_DST, 17, udp4(INNER_SRC, INNER_DST, 40000, 40001, body), i)


def write_plain(path: str | Path, n: int) -> dict[str, Any]:
    """The plaintext inner packets as an Ethernet pcap (input of ``netsec encrypt``)."""
    with CaptureWriter(str(path), linktype=1) as w:
        for i in range(n):
            w.write(ether(inner_packet(i)), ts_ns=T0_NS + i * STEP_NS)
    return {"packets": n}


def write_esp(path: str | Path, sa_path: str | Path, n: int, cipher: str = "gcm") -> dict[str, Any]:
    """``n`` ESP tunnel-mode packets under the ``cipher`` ("gcm" | "cbc") SA + its esp_sa file."""
    sa = ESP_SAS[cipher]
    Path(sa_path).write_text(format_esp_sa([sa]))
    db = SADatabase([sa])
    encrypt = db.encrypt
    with CaptureWriter(str(path), linktype=1) as w:
        for i in range(n):
            esp = encrypt(inner_packet(i), sa=sa, next_header=4, seq=i + 1)
            w.write(ether(ipv4(OUTER_SRC, OUTER_DST, 50, esp, i)), ts_ns=T0_NS + i * STEP_NS)
    return {"packets": n, "spi": sa.spi, "cipher": cipher}


# -- TLS ---------------------------------------------------------------------------------------
SUITE12 = 0xC02F  # TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
SUITE13 = 0x1301  # TLS_AES_128_GCM_SHA256
CT_CCS, CT_HANDSHAKE, CT_APPDATA = 20, 22, 23
SERVER_IP = socket.inet_aton("10.2.0.1")
SERVER_PORT = 443


def _hs(msg_type: int, body: bytes) -> bytes:
    return bytes((msg_type,)) + len(body).to_bytes(3, "big") + body


def _ext(ext_type: int, data: bytes) -> bytes:
    return struct.pack("!HH", ext_type, len(data)) + data


def _record(ct: int, version: int, fragment: bytes) -> bytes:
    return struct.pack("!BHH", ct, version, len(fragment)) + fragment


def client_hello(random_: bytes, suite: int, tls13: bool, key_share: bytes) -> bytes:
    exts = _ext(0, struct.pack("!HBH", 14, 0, 11) + b"example.com")  # server_name
    exts += _ext(10, struct.pack("!HH", 2, 29))  # supported_groups: x25519
    exts += _ext(13, struct.pack("!HHH", 4, 0x0804, 0x0403))  # signature_algorithms
    if tls13:
        exts += _ext(43, b"\x02\x03\x04")  # supported_versions: TLS 1.3
        exts += _ext(51, struct.pack("!HHH", 36, 29, 32) + key_share)  # key_share
    body = (
        b"\x03\x03" + random_ + b"\x20" + hashlib.sha256(random_).digest()  # legacy session id
        + struct.pack("!HH", 2, suite) + b"\x01\x00" + struct.pack("!H", len(exts)) + exts
    )  # fmt: skip
    return _hs(1, body)


def server_hello(random_: bytes, session_id: bytes, suite: int, tls13: bool,
                 key_share: bytes) -> bytes:  # fmt: skip
    exts = b""
    if tls13:
        exts = _ext(43, b"\x03\x04") + _ext(51, struct.pack("!HH", 29, 32) + key_share)
    else:
        exts = _ext(0xFF01, b"\x00")  # renegotiation_info (empty)
    body = (
        b"\x03\x03" + random_ + bytes((len(session_id),)) + session_id
        + struct.pack("!HB", suite, 0) + struct.pack("!H", len(exts)) + exts
    )  # fmt: skip
    return _hs(2, body)


def app_plaintext(conn: int, rec: int) -> bytes:
    """Deterministic plaintext of record ``rec`` of connection ``conn`` (sizes 64/512/1400)."""
    size = SIZES[rec % 3]
    head = struct.pack("!II", conn, rec)
    return head + _FILL[(conn * 131 + rec * 17) % 2048 :][: size - 8]


class _TCPFlow:
    """Both directions of one connection: builds segments with correct seq/ack numbers."""

    def __init__(self, index: int) -> None:
        self.cip = socket.inet_aton(f"10.1.{index // 250}.{index % 250 + 1}")
        self.cport = 40000 + index
        self.cseq = 1000 + index * 7919
        self.sseq = 5000 + index * 104729

    def seg(self, from_client: bool, flags: int, payload: bytes = b"") -> bytes:
        if from_client:
            tcp = tcp4(self.cip, SERVER_IP, self.cport, SERVER_PORT, self.cseq, self.sseq, flags,
                       payload)  # fmt: skip
            self.cseq += len(payload) + (1 if flags & 0x03 else 0)  # SYN/FIN count
            return ether(ipv4(self.cip, SERVER_IP, 6, tcp, self.cseq))
        tcp = tcp4(SERVER_IP, self.cip, SERVER_PORT, self.cport, self.sseq, self.cseq, flags,
                   payload)  # fmt: skip
        self.sseq += len(payload) + (1 if flags & 0x03 else 0)
        return ether(ipv4(SERVER_IP, self.cip, 6, tcp, self.sseq), reverse=True)


SYN, ACK, PSH_ACK, FIN_ACK = 0x02, 0x10, 0x18, 0x11


def tls_connection(index: int, version: int, records: int, rng: random.Random,
                   keylog: list[str]) -> Iterator[bytes]:  # fmt: skip
    """Frames of one TLS connection (``version`` 12 or 13); appends its key-log lines."""
    tls13 = version == 13
    suite = suite_info(SUITE13 if tls13 else SUITE12)
    assert suite is not None
    flow = _TCPFlow(index)
    crand, srand = rng.randbytes(32), rng.randbytes(32)
    ch = client_hello(crand, suite.code, tls13, rng.randbytes(32))
    sid = hashlib.sha256(crand).digest() if tls13 else rng.randbytes(32)  # 1.3 echoes it
    sh = server_hello(srand, sid, suite.code, tls13, rng.randbytes(32))
    yield flow.seg(True, SYN)
    yield flow.seg(False, SYN | ACK)
    yield flow.seg(True, ACK)
    yield flow.seg(True, PSH_ACK, _record(CT_HANDSHAKE, 0x0301, ch))
    ccs = _record(CT_CCS, 0x0303, b"\x01")
    if tls13:
        secrets = {lab: rng.randbytes(32) for lab in (
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0")}  # fmt: skip
        keylog += [format_keylog_line(lab, crand, s) for lab, s in secrets.items()]
        h = suite.prf_hash
        hname = "sha256"
        shs, chs = (
            secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"],
            secrets["CLIENT_HANDSHAKE_TRAFFIC_SECRET"],
        )
        s_hs = RecordProtection.tls13(suite, traffic_secret=shs)
        c_hs = RecordProtection.tls13(suite, traffic_secret=chs)
        ee = _hs(8, b"\x00\x00")  # EncryptedExtensions, no extensions (PSK-style, no certificate)
        transcript = ch + sh + ee
        sfin = _hs(20, finished_verify_data13(
            h, base_key=shs, transcript_hash=hashlib.new(hname, transcript).digest()))  # fmt: skip
        transcript += sfin
        cfin = _hs(20, finished_verify_data13(
            h, base_key=chs, transcript_hash=hashlib.new(hname, transcript).digest()))  # fmt: skip
        ct, frag = s_hs.encrypt(CT_HANDSHAKE, 0x0303, ee + sfin)
        yield flow.seg(
            False, PSH_ACK, _record(CT_HANDSHAKE, 0x0303, sh) + ccs + _record(ct, 0x0303, frag)
        )
        ct, frag = c_hs.encrypt(CT_HANDSHAKE, 0x0303, cfin)
        yield flow.seg(True, PSH_ACK, ccs + _record(ct, 0x0303, frag))
        client = RecordProtection.tls13(suite, traffic_secret=secrets["CLIENT_TRAFFIC_SECRET_0"])
        server = RecordProtection.tls13(suite, traffic_secret=secrets["SERVER_TRAFFIC_SECRET_0"])
    else:
        master = rng.randbytes(48)
        keylog.append(format_keylog_line("CLIENT_RANDOM", crand, master))
        kb = key_block(
            0x0303, suite, master_secret=master, client_random=crand, server_random=srand
        )
        client = RecordProtection.tls12(suite, 0x0303, key=kb.client_key, mac_key=kb.client_mac,
                                        iv=kb.client_iv)  # fmt: skip
        server = RecordProtection.tls12(suite, 0x0303, key=kb.server_key, mac_key=kb.server_mac,
                                        iv=kb.server_iv)  # fmt: skip
        shd = _hs(14, b"")
        yield flow.seg(False, PSH_ACK, _record(CT_HANDSHAKE, 0x0303, sh + shd))
        cke = _hs(16, bytes((65,)) + b"\x04" + rng.randbytes(64))  # ECDH public point
        transcript = ch + sh + shd + cke
        cfin = _hs(20, finished_verify_data(0x0303, suite, master_secret=master, from_client=True,
                                            transcript=transcript))  # fmt: skip
        transcript += cfin
        sfin = _hs(20, finished_verify_data(0x0303, suite, master_secret=master, from_client=False,
                                            transcript=transcript))  # fmt: skip
        ct, frag = client.encrypt(CT_HANDSHAKE, 0x0303, cfin)
        yield flow.seg(
            True, PSH_ACK, _record(CT_HANDSHAKE, 0x0303, cke) + ccs + _record(ct, 0x0303, frag)
        )
        ct, frag = server.encrypt(CT_HANDSHAKE, 0x0303, sfin)
        yield flow.seg(False, PSH_ACK, ccs + _record(ct, 0x0303, frag))
    for r in range(records):
        from_client = not r & 1
        prot = client if from_client else server
        ct, frag = prot.encrypt(CT_APPDATA, 0x0303, app_plaintext(index, r))
        yield flow.seg(from_client, PSH_ACK, _record(ct, 0x0303, frag))
    yield flow.seg(True, FIN_ACK)
    yield flow.seg(False, FIN_ACK)
    yield flow.seg(True, ACK)


def write_tls(path: str | Path, keylog_path: str | Path, *, version: int, connections: int,
              records: int, seed: int = 1) -> dict[str, Any]:  # fmt: skip
    """``connections`` interleaved TLS connections of ``records`` app-data records each."""
    rng = random.Random(seed * 100 + version)
    keylog: list[str] = []
    flows = [tls_connection(i, version, records, rng, keylog) for i in range(connections)]
    frames = 0
    with CaptureWriter(str(path), linktype=1) as w:
        while flows:
            alive = []
            for f in flows:
                data = next(f, None)
                if data is None:
                    continue
                w.write(data, ts_ns=T0_NS + frames * STEP_NS)
                frames += 1
                alive.append(f)
            flows = alive
    Path(keylog_path).write_text("".join(line if line.endswith("\n") else line + "\n"
                                         for line in keylog))  # fmt: skip
    return {"frames": frames, "connections": connections, "app_records": connections * records}


def write_tls_sequential(path: str | Path, keylog_path: str | Path, *, version: int,
                         connections: int, records: int, seed: int = 5) -> dict[str, Any]:  # fmt: skip
    """``connections`` TLS connections one after the other (each closes before the next opens):
    the many-short-connections pattern of a busy server's capture."""
    rng = random.Random(seed * 100 + version)
    keylog: list[str] = []
    frames = 0
    with CaptureWriter(str(path), linktype=1) as w:
        for i in range(connections):
            for data in tls_connection(i, version, records, rng, keylog):
                w.write(data, ts_ns=T0_NS + frames * STEP_NS)
                frames += 1
    Path(keylog_path).write_text("".join(line if line.endswith("\n") else line + "\n"
                                         for line in keylog))  # fmt: skip
    return {"frames": frames, "connections": connections, "app_records": connections * records}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("kind", choices=("esp-gcm", "esp-cbc", "plain", "tls12", "tls13"))
    p.add_argument("out", help="output pcap")
    p.add_argument("--keys", help="esp_sa file (ESP) or NSS key log (TLS) to write")
    p.add_argument("-n", "--packets", type=int, default=100_000, help="ESP/plain packets")
    p.add_argument("--connections", type=int, default=100)
    p.add_argument("--records", type=int, default=1000, help="app-data records per connection")
    a = p.parse_args(argv)
    if a.kind in ("esp-gcm", "esp-cbc", "tls12", "tls13") and not a.keys:
        p.error(f"{a.kind} needs --keys")
    if a.kind.startswith("esp"):
        info = write_esp(a.out, a.keys, a.packets, a.kind[4:])
    elif a.kind == "plain":
        info = write_plain(a.out, a.packets)
    else:
        info = write_tls(a.out, a.keys, version=int(a.kind[3:]), connections=a.connections,
                         records=a.records)  # fmt: skip
    print(info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
