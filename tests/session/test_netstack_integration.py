"""IP reassembly of fragments made by the Linux kernel, vs the sent bytes and vs tshark.

A private network namespace gets a loopback with MTU 1280, so UDP datagrams of a few KB over
127.0.0.1 and ::1 are fragmented by the kernel's own IPv4/IPv6 code; tcpdump records them there.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from netsec_layers.io.pcap import CaptureReader
from netsec_layers.session.netstack import IPDecoder
from tests.tshark_util import tshark_fields
from tools.loopback_capture import pattern, tcpdump_capture

pytestmark = [pytest.mark.integration, pytest.mark.root]

SIZES = [100, 1300, 3000, 5000, 9000]
PORT = 40404

SENDER = f"""
import socket
from tools.loopback_capture import pattern
for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    rx = socket.socket(fam, socket.SOCK_DGRAM); rx.bind((host, {PORT})); rx.settimeout(3)
    tx = socket.socket(fam, socket.SOCK_DGRAM)
    for n in {SIZES!r}:
        tx.sendto(pattern(f"{{int(fam)}}-{{n}}", n), (host, {PORT}))
        rx.recv(70000)
"""


@pytest.fixture(scope="module")
def fragmented(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ns = f"nsl-io-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(
            ["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "mtu", "1280", "up"], check=True
        )
        path = tmp_path_factory.mktemp("frag") / "frag.pcap"
        tcpdump_capture(
            path,
            lambda: subprocess.run(
                ["ip", "netns", "exec", ns, sys.executable, "-c", SENDER], check=True
            ),
            bpf="udp or ip[6:2] & 0x1fff != 0 or ip6",
            netns=ns,
        )
        return path
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def ours(path: Path) -> list[tuple[int, int, bytes]]:
    dec = IPDecoder()
    out = []
    for f in CaptureReader(path):
        ip = dec.feed(f)
        if ip is not None and ip.proto == 17:
            out.append((ip.frame, ip.version, ip.payload))
            if ip.reassembled:
                # the fixed-up header is a valid unfragmented header
                if ip.version == 4:
                    assert struct.unpack("!H", ip.header[2:4])[0] == len(ip.header) + len(
                        ip.payload
                    )
                    assert struct.unpack("!H", ip.header[6:8])[0] & 0x3FFF == 0
                else:
                    assert struct.unpack("!H", ip.header[4:6])[0] == len(ip.header) - 40 + len(
                        ip.payload
                    )
    assert dec.pending_fragments == 0
    return out


def test_kernel_fragments_reassembled(fragmented: Path) -> None:
    got = ours(fragmented)
    assert len(got) == 2 * len(SIZES)
    for (_, ver, udp), (fam, n) in zip(got, [(f, n) for f in (2, 10) for n in SIZES], strict=True):
        assert ver == (4 if fam == 2 else 6)
        assert udp[8:] == pattern(f"{fam}-{n}", n)
        assert struct.unpack("!H", udp[4:6])[0] == n + 8


def test_fragments_agree_with_tshark(fragmented: Path) -> None:
    rows = tshark_fields(fragmented, ["frame.number", "udp.payload"], options=["-Y", "udp"])
    theirs = [(int(r["frame.number"]), bytes.fromhex(r["udp.payload"])) for r in rows]
    assert [(fr, udp[8:]) for fr, _, udp in ours(fragmented)] == theirs
    frames = list(CaptureReader(fragmented))
    assert len(frames) > 2 * len(SIZES) + 10  # really fragmented
