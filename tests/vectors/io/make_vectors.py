"""Regenerate the small capture fixtures in this directory (run as root: tcpdump on lo/any).

Captures are recorded by tcpdump from traffic sent to 127.0.0.1, converted by editcap/mergecap,
and the expected per-frame values in ``expected.json`` come from tshark, never from
netsec_layers.  ``python -m tests.vectors.io.make_vectors``
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from tests.tshark_util import run_tshark
from tools.loopback_capture import (
    free_port,
    pattern,
    tcp_exchange,
    tcpdump_capture,
    udp_send,
)

HERE = Path(__file__).resolve().parent


def tshark_frames(path: Path) -> list[dict[str, object]]:
    """Per-frame facts according to tshark (number, epoch time, lengths, iface, sha256)."""
    out = run_tshark(["-r", str(path), "-T", "json", "-x", "-j", "frame"])
    frames = []
    for pkt in json.loads(out):
        layers = pkt["_source"]["layers"]
        fr = layers["frame"]
        raw = layers["frame_raw"]
        hexdata = raw[0] if isinstance(raw, list) else raw
        frames.append(
            {
                "number": int(fr["frame.number"]),
                "time_epoch": fr["frame.time_epoch"],
                "len": int(fr["frame.len"]),
                "cap_len": int(fr["frame.cap_len"]),
                "interface": int(fr.get("frame.interface_id", "0")),
                "sha256": hashlib.sha256(bytes.fromhex(hexdata)).hexdigest(),
            }
        )
    return frames


def digests(sent: tuple[bytes, bytes]) -> dict[str, object]:
    """What the generator sent each way (sha256 + length), the reference for reassembly."""
    return {
        "client_len": len(sent[0]),
        "client_sha256": hashlib.sha256(sent[0]).hexdigest(),
        "server_len": len(sent[1]),
        "server_sha256": hashlib.sha256(sent[1]).hexdigest(),
    }


def tcp_traffic(port: int) -> tuple[bytes, bytes]:
    chunks = [pattern(f"c{i}", 300 + 97 * i) for i in range(6)]
    return tcp_exchange(port, chunks, lambda got: [hashlib.sha256(got).digest() * 40, b"bye"])


def main() -> None:
    tmp = HERE
    expected: dict[str, object] = {}
    streams: dict[str, object] = {}
    port = free_port()
    sent = tcpdump_capture(tmp / "lo_us.pcap", lambda: tcp_traffic(port), bpf=f"tcp port {port}")
    streams["lo_us.pcap"] = digests(sent)
    port = free_port(kind=2)
    tcpdump_capture(
        tmp / "lo_ns.pcap",
        lambda: udp_send(port, [pattern("u", n) for n in (1, 100, 1400, 5000)]),
        bpf=f"udp port {port}",
        extra=["--time-stamp-precision=nano"],
    )
    port = free_port()
    sent = tcpdump_capture(
        tmp / "any_sll2.pcap",
        lambda: tcp_traffic(port),
        bpf=f"tcp port {port}",
        iface="any",
        extra=["-y", "LINUX_SLL2"],
    )
    streams["any_sll2.pcap"] = digests(sent)
    port = free_port(kind=2)
    tcpdump_capture(
        tmp / "any_sll.pcap",
        lambda: udp_send(port, [pattern("s", n) for n in (10, 20)], host="::1"),
        bpf=f"udp port {port}",
        iface="any",
        extra=["-y", "LINUX_SLL"],
    )
    subprocess.run(
        ["editcap", "-F", "pcapng", str(tmp / "lo_ns.pcap"), str(tmp / "lo_ns.pcapng")], check=True
    )
    # two interfaces with different link types in one section
    subprocess.run(
        [
            "mergecap",
            "-F",
            "pcapng",
            "-w",
            str(tmp / "merged.pcapng"),
            str(tmp / "lo_us.pcap"),
            str(tmp / "any_sll.pcap"),
        ],
        check=True,
    )
    keylog = tmp / "keylog.txt"
    keylog.write_text("CLIENT_RANDOM " + "ab" * 32 + " " + "cd" * 48 + "\n")
    subprocess.run(
        [
            "editcap",
            "--inject-secrets",
            f"tls,{keylog}",
            str(tmp / "lo_us.pcap"),
            str(tmp / "dsb.pcapng"),
        ],
        check=True,
    )
    keylog.unlink()
    for name in (
        "lo_us.pcap",
        "lo_ns.pcap",
        "any_sll2.pcap",
        "any_sll.pcap",
        "lo_ns.pcapng",
        "merged.pcapng",
        "dsb.pcapng",
    ):
        expected[name] = tshark_frames(tmp / name)
    (tmp / "expected.json").write_text(
        json.dumps({"frames": expected, "tcp_sent": streams}, separators=(",", ":")) + "\n"
    )
    print("ok", file=sys.stderr)


if __name__ == "__main__":
    main()
