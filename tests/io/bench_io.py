"""Throughput of the capture hot path (not collected by pytest; run by hand).

    python tests/io/bench_io.py [frames]

Builds a capture of ``frames`` Ethernet/IPv4/TCP frames (100 interleaved connections, 200-byte
segments) and reports frames/s for: reading, reading + IP decode, reading + IP decode + TCP
reassembly, and Scapy's RawPcapReader and tshark on the same file for scale.  CPU time
(``process_time``) is used because the machine is shared.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from netsec_layers.io.pcap import CaptureReader, CaptureWriter
from netsec_layers.session.netstack import IPDecoder
from netsec_layers.session.tcp import TCPReassembler


def make(path: Path, n: int) -> None:
    eth = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00"
    with CaptureWriter(path) as w:
        for i in range(n):
            c, k = i % 100, i // 100
            ip = struct.pack(
                "!BBHHHBBH4s4s",
                0x45,
                0,
                240,
                i & 0xFFFF,
                0x4000,
                64,
                6,
                0,
                bytes([10, 0, 0, 1]),
                bytes([10, 0, 1, c]),
            )
            tcp = struct.pack(
                "!HHIIBBHHH",
                1000 + c,
                443,
                (1000 + 200 * k) & 0xFFFFFFFF,
                1,
                0x50,
                0x18,
                65535,
                0,
                0,
            )
            w.write(eth + ip + tcp + b"p" * 200, ts_ns=i * 1000)


def rate(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    best = 0.0
    for _ in range(3):
        t = time.process_time()
        fn()
        best = max(best, n / (time.process_time() - t))
    return best


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bench.pcap"
        make(path, n)

        def read() -> None:
            for _ in CaptureReader(path):
                pass

        def decode() -> None:
            feed = IPDecoder().feed
            for f in CaptureReader(path):
                feed(f)

        def full() -> None:
            feed = IPDecoder().feed
            tfeed = TCPReassembler().feed
            for f in CaptureReader(path):
                ip = feed(f)
                if ip is not None:
                    tfeed(ip)

        print(f"read                 {rate(read, n):>12,.0f} frames/s")
        print(f"read+IP decode       {rate(decode, n):>12,.0f} frames/s")
        print(f"read+IP+TCP reasm    {rate(full, n):>12,.0f} frames/s")
        from scapy.utils import RawPcapReader

        def scapy_read() -> None:
            for _ in RawPcapReader(str(path)):
                pass

        print(f"scapy RawPcapReader  {rate(scapy_read, n):>12,.0f} frames/s")
        if shutil.which("tshark"):
            t = time.monotonic()
            subprocess.run(
                ["tshark", "-r", str(path), "-T", "fields", "-e", "frame.number"],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            print(f"tshark -T fields     {n / (time.monotonic() - t):>12,.0f} frames/s (wall)")


if __name__ == "__main__":
    main()
