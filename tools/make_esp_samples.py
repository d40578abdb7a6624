#!/usr/bin/env python3
"""Write the crafted IPsec samples of pcaps/esp/ (deterministic: fixed keys, IVs from a seed).

    python tools/make_esp_samples.py [--out pcaps/esp]

Each sample is a pcap plus the SA file that decrypts it. They cover what the strongSwan sample
cannot (strongSwan's user-space ESP is UDP-encapsulated tunnel mode only): transport mode, ESN
crossing 2^32, IPv6, TFC padding and a dummy packet, AH. All keys are throwaway test keys.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable
from pathlib import Path

from netsec_layers.io.pcap import CaptureWriter
from netsec_layers.keys.sa import SecurityAssociation
from netsec_layers.keys.sa_files import format_esp_sa, format_project
from netsec_layers.session import ipbuild
from netsec_layers.session.ipsec import SADatabase
from netsec_layers.session.tcpflow import TCPFlow

ETH = bytes.fromhex("020000000002020000000001")
T0 = 1_763_900_000 * 10**9


def _eth(packet: bytes) -> bytes:
    return ETH + (b"\x08\x00" if packet[0] >> 4 == 4 else b"\x86\xdd") + packet


def _udp_packets(n: int, *, v6: bool = False, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    src, dst = ("fd00:1::1", "fd00:2::2") if v6 else ("192.168.1.10", "192.168.2.20")
    out = []
    for i in range(n):
        payload = f"netsec sample packet {i}\n".encode() + rng.randbytes((64, 512, 1200)[i % 3])
        udp = ipbuild.udp_datagram(
            version=6 if v6 else 4,
            src=src,
            dst=dst,
            sport=5000 + i,
            dport=53,
            payload=payload,
            zero_checksum=False,
        )
        out.append(
            ipbuild.ip_header(
                version=6 if v6 else 4, src=src, dst=dst, proto=17, payload_len=len(udp), ident=i
            )
            + udp
        )
    return out


def _write(path: Path, frames: list[bytes]) -> None:
    with CaptureWriter(path, linktype=1) as w:
        for i, f in enumerate(frames):
            w.write(f, ts_ns=T0 + i * 1_000_000)


def transport_gcm(out: Path) -> None:
    """Transport mode over IPv4, AES-GCM-16: a TCP connection's segments protected end to end."""
    sa = SecurityAssociation(
        spi=0x0000A001,
        encryption="AES-GCM-16",
        enc_key=bytes(range(1, 21)),
        src="192.168.1.10",
        dst="192.168.2.20",
        mode="transport",
    )
    back = SecurityAssociation(
        spi=0x0000A002,
        encryption="AES-GCM-16",
        enc_key=bytes(range(21, 41)),
        src="192.168.2.20",
        dst="192.168.1.10",
        mode="transport",
    )
    db = SADatabase([sa, back])
    flow = TCPFlow(("192.168.1.10", 40000), ("192.168.2.20", 80), client_link=b"", server_link=b"")
    pkts = flow.open() + flow.data(True, b"GET / HTTP/1.1\r\nHost: example\r\n\r\n")
    pkts += flow.data(False, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello") + flow.close()
    frames, seqs = [], {sa.spi: 1, back.spi: 1}
    for p in pkts:
        ihl = (p[0] & 0x0F) * 4
        s = sa if p[12:16] == bytes([192, 168, 1, 10]) else back
        esp = db.encrypt(
            p[ihl:], sa=s, next_header=6, seq=seqs[s.spi], iv=seqs[s.spi].to_bytes(8, "big")
        )
        seqs[s.spi] += 1
        frames.append(_eth(ipbuild.ipv4_with_proto(p[:ihl], proto=50, payload_len=len(esp)) + esp))
    _write(out / "esp-transport-gcm.pcap", frames)
    (out / "esp-transport-gcm.esp_sa").write_text(format_esp_sa([sa, back]))


def esn_cbc(out: Path) -> None:
    """Tunnel mode, AES-CBC + HMAC-SHA2-256-128 with ESN: sequence numbers cross 2^32."""
    sa = SecurityAssociation(
        spi=0x0000B001,
        encryption="AES-CBC",
        enc_key=bytes(range(16)),
        integrity="HMAC-SHA2-256-128",
        auth_key=bytes(range(32, 64)),
        src="10.0.0.1",
        dst="10.0.0.2",
        esn=True,
    )
    db = SADatabase([sa])
    frames = []
    for i, inner in enumerate(_udp_packets(10, seed=2)):
        esp = db.encrypt(inner, sa=sa, next_header=4, seq=(1 << 32) - 5 + i, iv=bytes([i]) * 16)
        frames.append(
            _eth(
                ipbuild.ipv4_header(src=sa.src, dst=sa.dst, proto=50, payload_len=len(esp), ident=i)
                + esp
            )
        )
    _write(out / "esp-esn-cbc-sha256.pcap", frames)
    (out / "esp-esn-cbc-sha256.json").write_text(format_project([sa]))


def ipv6_chacha(out: Path) -> None:
    """Tunnel mode over IPv6, ChaCha20-Poly1305 (RFC 7634)."""
    sa = SecurityAssociation(
        spi=0x0000C001,
        encryption="CHACHA20-POLY1305",
        enc_key=bytes(range(36)),
        src="fd00::1",
        dst="fd00::2",
    )
    db = SADatabase([sa])
    frames = []
    for i, inner in enumerate(_udp_packets(6, v6=True, seed=3)):
        esp = db.encrypt(inner, sa=sa, next_header=41, seq=i + 1, iv=(i + 1).to_bytes(8, "big"))
        frames.append(
            _eth(
                ipbuild.ipv6_header(src=sa.src, dst=sa.dst, next_header=50, payload_len=len(esp))
                + esp
            )
        )
    _write(out / "esp-ipv6-chacha20.pcap", frames)
    (out / "esp-ipv6-chacha20.json").write_text(format_project([sa]))


def natt_tfc(out: Path) -> None:
    """NAT-T (UDP 4500) AES-GCM-16 with TFC padding, a dummy packet and a NAT keepalive."""
    sa = SecurityAssociation(
        spi=0x0000D001,
        encryption="AES-GCM-16",
        enc_key=bytes(range(100, 120)),
        src="10.0.0.1",
        dst="10.0.0.2",
        udp_encap=(4500, 4500),
    )
    db = SADatabase([sa])
    frames = []

    def udp(body: bytes, ident: int) -> bytes:
        d = ipbuild.udp_datagram(
            version=4, src=sa.src, dst=sa.dst, sport=4500, dport=4500, payload=body
        )
        return _eth(
            ipbuild.ipv4_header(src=sa.src, dst=sa.dst, proto=17, payload_len=len(d), ident=ident)
            + d
        )

    inner = _udp_packets(4, seed=4)
    seq = 1
    for i, p in enumerate(inner):
        frames.append(
            udp(
                db.encrypt(
                    p, sa=sa, next_header=4, seq=seq, tfc_pad=37 * i, iv=seq.to_bytes(8, "big")
                ),
                i,
            )
        )
        seq += 1
    frames.append(
        udp(db.encrypt(b"\0" * 40, sa=sa, next_header=59, seq=seq, iv=seq.to_bytes(8, "big")), 10)
    )  # dummy (§2.6)
    frames.append(udp(b"\xff", 11))  # NAT keepalive (RFC 3948 §2.3)
    _write(out / "esp-natt-tfc.pcap", frames)
    (out / "esp-natt-tfc.esp_sa").write_text(format_esp_sa([sa]))


def ah_sha256(out: Path) -> None:
    """AH (RFC 4302) transport mode over IPv4, HMAC-SHA2-256-128."""
    sa = SecurityAssociation(
        spi=0x0000E001,
        encryption="NULL",
        integrity="HMAC-SHA2-256-128",
        auth_key=bytes(range(200, 232)),
        protocol="ah",
        mode="transport",
        src="192.168.1.10",
        dst="192.168.2.20",
    )
    db = SADatabase([sa])
    frames = [_eth(db.build_ah(p, sa=sa, seq=i + 1)) for i, p in enumerate(_udp_packets(5, seed=5))]
    _write(out / "ah-transport-sha256.pcap", frames)
    (out / "ah-transport-sha256.json").write_text(format_project([sa]))


SAMPLES: dict[str, Callable[[Path], None]] = {
    "esp-transport-gcm": transport_gcm,
    "esp-esn-cbc-sha256": esn_cbc,
    "esp-ipv6-chacha20": ipv6_chacha,
    "esp-natt-tfc": natt_tfc,
    "ah-transport-sha256": ah_sha256,
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "pcaps" / "esp"))
    ap.add_argument("--only", nargs="*", choices=sorted(SAMPLES))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.only or SAMPLES:
        SAMPLES[name](out)
        print(f"wrote {out / name}.*")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
