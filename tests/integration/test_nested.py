"""Issue #13, nesting: TLS inside ESP (tunnel, transport, NAT-T) and inside the tunnels users
capture every day (IP-in-IP, IPv6-in-IPv4, GRE with key and sequence number, VXLAN, Geneve, MPLS,
PPPoE, 802.1ad QinQ) is dissected, decrypted and written as plaintext TCP by ``decrypt -w``.

The TLS connection is a real one (OpenSSL peers, ``pcaps/tls/tls13-aes128gcm.pcap``); the wrapping
is made by ``netsec encrypt`` (ESP) or by Scapy's own layers (the tunnels).  Evidence: tshark's TCP
reassembly of the plaintext capture equals the bytes the peers sent (the sidecar), and the records
``dissect --json`` reports are those of the unwrapped capture.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.tshark_util import load_sidecar, sidecar_bytes, tshark_follow_tcp

TLS = Path(__file__).resolve().parents[2] / "pcaps" / "tls"
NAME = "tls13-aes128gcm"
SA = (
    '"IPv4","*","*","0x00001234","AES-GCM with 16 octet ICV [RFC4106]",'
    '"0x000102030405060708090a0b0c0d0e0f10111213","NULL",""\n'
)


def _netsec(*args: str) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(
        [sys.executable, "-m", "netsec_layers", *args], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    return res


def _peers_bytes() -> tuple[bytes, bytes]:
    conn = load_sidecar(TLS / f"{NAME}.json")["connections"][0]
    return sidecar_bytes(conn, "c2s"), sidecar_bytes(conn, "s2c")


def _records(pcap: Path, *opts: str) -> list[dict[str, Any]]:
    out = _netsec(
        "dissect", str(pcap), "--json", "-q", "--keylog", str(TLS / f"{NAME}.keys"), *opts
    )
    recs = [json.loads(line) for line in out.stdout.splitlines()]
    return [{k: r[k] for k in ("content_type", "length", "decrypted", "app_data", "error")}
            for r in recs if r["proto"] == "tls"]  # fmt: skip


def _check_plaintext(wrapped: Path, tmp_path: Path, *opts: str) -> None:
    expected = _records(TLS / f"{NAME}.pcap")
    assert sum(r["decrypted"] for r in expected) >= 8
    assert _records(wrapped, *opts) == expected
    out = tmp_path / "out.pcap"
    res = _netsec(
        "decrypt", str(wrapped), "-w", str(out), "--keylog", str(TLS / f"{NAME}.keys"),
        "--jobs", "1", *opts,
    )  # fmt: skip
    assert "1 connection decrypted" in res.stderr
    assert tshark_follow_tcp(out, 0, server_ports=[443]) == _peers_bytes()


@pytest.mark.integration
@pytest.mark.parametrize(
    "mode", [["--mode", "tunnel"], ["--mode", "transport"], ["--mode", "tunnel", "--udp-encap", "4500"]],
    ids=["tunnel", "transport", "natt"],
)  # fmt: skip
def test_tls_inside_esp_is_written_as_plaintext(mode: list[str], tmp_path: Path) -> None:
    sa = tmp_path / "esp_sa"
    sa.write_text(SA)
    wrapped = tmp_path / "esp.pcap"
    _netsec("encrypt", str(TLS / f"{NAME}.pcap"), "-w", str(wrapped), "--esp-sa", str(sa), *mode)
    _check_plaintext(wrapped, tmp_path, "--esp-sa", str(sa))


def _wrap(tmp_path: Path, make: Callable[[Any, int], Any]) -> Path:
    """Each frame's IP packet (raw bytes, so whatever Scapy binds cannot change them) under the
    tunnel's headers built by Scapy."""
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
    from scapy.utils import wrpcap

    out = []
    for i, (data, ts) in enumerate(_raw_frames()):
        new = make(Raw(data[14:]), i)  # the sample is Ethernet: the IP packet follows 14 bytes
        new = new if new.haslayer(Ether) else Ether() / new
        new.time = ts
        out.append(new)
    path = tmp_path / "wrapped.pcap"
    wrpcap(str(path), out)
    return path


def _raw_frames() -> list[tuple[bytes, float]]:
    from netsec_layers.io.pcap import open_capture

    with open_capture(str(TLS / f"{NAME}.pcap")) as r:
        return [(f.data, f.ts_ns / 1e9) for f in r]


def _ipip(ip: Any, i: int) -> Any:
    from scapy.layers.inet import IP

    return IP(src="10.1.0.1", dst="10.1.0.2", proto=4) / ip


def _ipv4_in_ipv6(ip: Any, i: int) -> Any:
    from scapy.layers.inet6 import IPv6

    return IPv6(src="2001:db8::1", dst="2001:db8::2", nh=4) / ip


def _gre(ip: Any, i: int) -> Any:
    from scapy.layers.inet import IP
    from scapy.layers.l2 import GRE

    gre = GRE(key_present=1, key=77, seqnum_present=1, sequence_number=i, proto=0x0800)
    return IP(src="10.1.0.1", dst="10.1.0.2", proto=47) / gre / ip


def _gre_eth(ip: Any, i: int) -> Any:
    from scapy.layers.inet import IP
    from scapy.layers.l2 import GRE, Ether

    return (
        IP(src="10.1.0.1", dst="10.1.0.2", proto=47) / GRE(proto=0x6558) / Ether(type=0x0800) / ip
    )


def _vxlan(ip: Any, i: int) -> Any:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN

    return (
        IP(src="10.1.0.1", dst="10.1.0.2")
        / UDP(sport=40000, dport=4789)
        / VXLAN(vni=42)
        / Ether(type=0x0800)
        / ip
    )


def _geneve(ip: Any, i: int) -> Any:
    from scapy.contrib.geneve import GENEVE
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    return (
        IP(src="10.1.0.1", dst="10.1.0.2")
        / UDP(sport=40000, dport=6081)
        / GENEVE(vni=42, proto=0x6558)
        / Ether(type=0x0800)
        / ip
    )


def _mpls(ip: Any, i: int) -> Any:
    from scapy.contrib.mpls import MPLS
    from scapy.layers.l2 import Ether

    return Ether(type=0x8847) / MPLS(label=100, s=0) / MPLS(label=200, s=1) / ip


def _pppoe(ip: Any, i: int) -> Any:
    from scapy.layers.l2 import Ether
    from scapy.layers.ppp import PPP, PPPoE

    return Ether(type=0x8864) / PPPoE(sessionid=7) / PPP(proto=0x0021) / ip


def _qinq(ip: Any, i: int) -> Any:
    from scapy.layers.l2 import Dot1AD, Dot1Q, Ether

    return Ether() / Dot1AD(vlan=10) / Dot1Q(vlan=20, type=0x0800) / ip


TUNNELS = {
    "ipip": _ipip,
    "ipv4-in-ipv6": _ipv4_in_ipv6,
    "gre-key-seq": _gre,
    "gre-ethernet": _gre_eth,
    "vxlan": _vxlan,
    "geneve": _geneve,
    "mpls": _mpls,
    "pppoe": _pppoe,
    "qinq": _qinq,
}


@pytest.mark.integration
@pytest.mark.parametrize("name", list(TUNNELS))
def test_tls_inside_tunnels_is_decrypted_and_written_as_plaintext(
    name: str, tmp_path: Path
) -> None:
    wrapped = _wrap(tmp_path, TUNNELS[name])
    _check_plaintext(wrapped, tmp_path)
