"""The ESP shapes of issue 22 for tools/bench.py: a gateway-to-gateway AES-GCM-16 tunnel.

Not one of :mod:`synth`'s shapes (one SA, one direction, inner UDP of 64/512/1400 bytes in
turn): two security gateways 198.51.100.1 ⇄ 203.0.113.1 with one SA per direction (RFC 4301
§4.1: SAs are simplex), carrying the traffic of a few inner hosts — TCP bulk transfers (1,400-byte
segments one way, 52-byte ACKs the other), interactive TCP (40-200 bytes), and UDP datagrams of
random sizes (DNS-like to full MTU), in a deterministic pseudo-random mix.  AES-GCM-16 with a
256-bit key (RFC 4106), no ESN (tshark 4.0's ``esp_sa`` UAT cannot say ESN).

tshark gets both SAs from an ``esp_sa`` UAT file in a private configuration directory
(``WIRESHARK_CONFIG_DIR``): ``-o uat:esp_sa:…`` on the command line holds only one row.

    python tools/bench_esp.py OUT.pcap OUT.esp_sa -n 300000     # the capture alone
"""

from __future__ import annotations

import argparse
import random
import shutil
import socket
import struct
import sys
from pathlib import Path
from typing import Any

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))

import synth  # noqa: E402

from netsec_layers.io.pcap import CaptureWriter  # noqa: E402
from netsec_layers.keys.sa import SecurityAssociation  # noqa: E402
from netsec_layers.keys.sa_files import format_esp_sa  # noqa: E402
from netsec_layers.session.ipsec import SADatabase  # noqa: E402

TSHARK = shutil.which("tshark") or "tshark"
GW_A, GW_B = "198.51.100.1", "203.0.113.1"
SA_AB = SecurityAssociation(
    spi=0xC0DE0001,
    encryption="AES-GCM-16",
    enc_key=bytes(range(0x20, 0x40)) + bytes.fromhex("b0b1b2b3"),  # 256-bit key + 4-byte salt
    src=GW_A,
    dst=GW_B,
    mode="tunnel",
)
SA_BA = SecurityAssociation(
    spi=0xC0DE0002,
    encryption="AES-GCM-16",
    enc_key=bytes(range(0x40, 0x60)) + bytes.fromhex("c0c1c2c3"),
    src=GW_B,
    dst=GW_A,
    mode="tunnel",
)
_SITE_A = [socket.inet_aton(f"10.1.0.{i}") for i in range(1, 9)]
_SITE_B = [socket.inet_aton(f"10.2.0.{i}") for i in range(1, 5)]
_FILL = random.Random(22).randbytes(8192)


def _inner(rng: random.Random, i: int, a_to_b: bool, seqs: dict[tuple[bytes, ...], int]) -> bytes:
    """One inner IPv4 packet of the mix (TCP bulk/ACK, interactive TCP, or UDP).  TCP sequence
    numbers run on per connection and direction, as a receiver's reassembly expects."""
    a, b = _SITE_A[i % len(_SITE_A)], _SITE_B[(i // 3) % len(_SITE_B)]
    src, dst = (a, b) if a_to_b else (b, a)
    kind = rng.random()
    if kind < 0.75:
        if kind < 0.55:  # bulk transfer: full segments A→B, pure ACKs B→A
            body = _FILL[i % 4096 :][: 1360 if a_to_b else 0]
            ports = (50000 + i % 8, 443) if a_to_b else (443, 50000 + i % 8)
        else:  # interactive TCP
            body = _FILL[(i * 13) % 4096 :][: rng.randrange(40, 201)]
            ports = (40000 + i % 16, 22) if a_to_b else (22, 40000 + i % 16)
        key = (src, dst, ports[0].to_bytes(2, "big"), ports[1].to_bytes(2, "big"))
        back = (dst, src, key[3], key[2])
        seq = seqs.get(key, 1000)
        seqs[key] = seq + len(body)
        seg = synth.tcp4(src, dst, *ports, seq, seqs.get(back, 1000), 0x18 if body else 0x10, body)
        return synth.ipv4(src, dst, 6, seg, i)
    size = rng.choice((rng.randrange(20, 120), rng.randrange(120, 1472)))  # DNS-like or bulk
    body = struct.pack("!I", i) + _FILL[(i * 7) % 4096 :][: size - 4]
    return synth.ipv4(src, dst, 17, synth.udp4(src, dst, 53000 + i % 32, 53, body), i)


def write_esp_gateways(path: str | Path, sa_path: str | Path, n: int) -> dict[str, Any]:
    """``n`` ESP tunnel packets between the two gateways (about 60 % A→B) and their esp_sa."""
    Path(sa_path).write_text(format_esp_sa([SA_AB, SA_BA]))
    rng = random.Random(300_000)
    db = SADatabase([SA_AB, SA_BA])
    encrypt = db.encrypt
    a, b = socket.inet_aton(GW_A), socket.inet_aton(GW_B)
    seqs = {True: 0, False: 0}
    tcp: dict[tuple[bytes, ...], int] = {}
    with CaptureWriter(str(path), linktype=1) as w:
        for i in range(n):
            a_to_b = rng.random() < 0.6
            seqs[a_to_b] += 1
            sa = SA_AB if a_to_b else SA_BA
            esp = encrypt(_inner(rng, i, a_to_b, tcp), sa=sa, next_header=4, seq=seqs[a_to_b])
            outer = synth.ipv4(a, b, 50, esp, i) if a_to_b else synth.ipv4(b, a, 50, esp, i)
            w.write(synth.ether(outer, reverse=not a_to_b), ts_ns=synth.T0_NS + i * 5_000)
    return {"packets": n, "a_to_b": seqs[True], "b_to_a": seqs[False], "cipher": "AES-GCM-16"}


def tshark_config(sa_path: Path) -> Path:
    """A Wireshark configuration directory whose ``esp_sa`` UAT holds every SA of ``sa_path``
    (tshark 4.0's 8 columns) and whose preferences turn ESP decryption on."""
    conf = sa_path.with_suffix(".wsconf")
    conf.mkdir(exist_ok=True)
    rows = [",".join(line.split(",")[:8]) for line in sa_path.read_text().splitlines() if line]
    (conf / "esp_sa").write_text("\n".join(rows) + "\n")
    (conf / "preferences").write_text(
        "esp.enable_encryption_decode: TRUE\nesp.enable_authentication_check: TRUE\n"
    )
    return conf


def tshark_cmd(tshark: str, sa_path: Path, *args: str) -> list[str]:
    """tshark with the SAs of ``sa_path`` (through ``env``, so bench.run needs no env)."""
    return ["env", f"WIRESHARK_CONFIG_DIR={tshark_config(sa_path)}", tshark, *args]


# -- tools/bench.py's tasks ----------------------------------------------------------------------
def count_decrypted(path: Path | None) -> int:
    """Frames whose ``ip.len`` column has two values (outer and inner IP): tshark decrypted them
    (``esp.pad_len`` is left out for some of them by tshark 4.0, so it is not counted)."""
    assert path is not None
    with open(path, encoding="utf-8", errors="replace") as f:
        return sum(1 for line in f if "," in line.rstrip("\n").split("\t")[-1])


def tasks(files: Any, out: Path, netsec: list[str], task: Any, variant: Any) -> list[Any]:
    """Issue 22's ESP tasks on the gateway capture (``files.paths["esp-gw"]``): ``decrypt -w``
    (default: one process, one host pair; and ``--jobs 2``, one SA per worker) vs tshark
    decrypting with both SAs, and ``dissect --json`` without keys vs ``tshark -T fields``.  ``task``/``variant``: bench.py's Task and Variant."""
    from bench import count_field_values, count_json, stderr_int

    cap, sa = files.paths["esp-gw"], files.paths["esp-gw-sa"]
    n = files.info["esp-gw"]["frames"]
    return [
        task(f"decrypt tunnel ESP GCM {n // 1000}k", n, [
            variant("netsec", [*netsec, "decrypt", str(cap), "-w", str(out / "esp-gw.pcap"),
                               "--esp-sa", str(sa)],
                    count=lambda p: stderr_int(r"ESP: (\d+) decrypted", p.stderr)),
            # each SA on its own worker (io/parallel.py); in the JSON report, not in the table
            variant("netsec-2p", [*netsec, "decrypt", str(cap), "-w", str(out / "esp-gw-2p.pcap"),
                                  "--esp-sa", str(sa), "--jobs", "2"],
                    count=lambda p: stderr_int(r"ESP: (\d+) decrypted", p.stderr)),
            variant("tshark", tshark_cmd(TSHARK, sa, "-r", str(cap), "-T", "fields", "-e",
                                         "frame.number", "-e", "esp.pad_len", "-e", "ip.len"),
                    stdout=out / "esp-gw.tshark", count=lambda p: count_decrypted(p.stdout_path)),
        ], "netsec/tshark >= 2.0"),
        task(f"dissect tunnel ESP {n // 1000}k (JSON)", n, [
            variant("netsec", [*netsec, "dissect", str(cap), "--json", "-q"],
                    stdout=out / "esp-gw.jsonl", count=lambda p: count_json(p.stdout_path, "esp")),
            variant("tshark", [TSHARK, "-r", str(cap), "-T", "fields", "-e", "esp.spi", "-e",
                               "esp.sequence"], stdout=out / "esp-gw-dissect.tshark",
                    count=lambda p: count_field_values(p.stdout_path, 0)),
        ], "netsec/tshark >= 1.5"),
    ]  # fmt: skip


def expected(files: Any) -> dict[str, int]:
    """The counts the generator made, by task name (bench.check_agreement)."""
    n = files.info["esp-gw"]["frames"]
    return {
        f"decrypt tunnel ESP GCM {n // 1000}k": n,
        f"dissect tunnel ESP {n // 1000}k (JSON)": n,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("sa", type=Path)
    p.add_argument("-n", type=int, default=300_000)
    a = p.parse_args(argv)
    print(write_esp_gateways(a.out, a.sa, a.n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
