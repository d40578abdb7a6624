"""recompute(): after editing a field of a captured TLS, ESP or IKE packet, one call makes every
length and checksum right - judged by tshark 4.0 (checksum validation on, lengths parsed, no
malformed/expert marks) and by Scapy's own layers, not by our output."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet
from scapy.utils import rdpcap, wrpcap

from netsec_layers.interactive import recompute
from netsec_layers.layers.all import bind_netsec_layers, unbind_netsec_layers
from netsec_layers.layers.ike import IKEv2Nonce
from netsec_layers.layers.ipsec import ESP, ESPPlaintext
from netsec_layers.layers.tls import TLSClientHello, TLSHandshake, TLSRecord
from tests.tshark_util import tshark_fields

PCAPS = Path(__file__).resolve().parents[2] / "pcaps"
CHECKSUMS = [
    "-o", "ip.check_checksum:TRUE",
    "-o", "tcp.check_checksum:TRUE",
    "-o", "udp.check_checksum:TRUE",
]  # fmt: skip
GOOD, BAD, ABSENT = "1", "0", "3"  # tshark's *.checksum.status values


@pytest.fixture(autouse=True)
def _bound() -> Any:
    bind_netsec_layers()
    yield
    unbind_netsec_layers()


def _longer_sni(p: Packet) -> None:
    p[TLSClientHello].sni = "a-much-longer-host-name.example"


def _longer_esp(p: Packet) -> None:
    p[ESP].data = bytes(p[ESP].data) + bytes(16)


def _longer_nonce(p: Packet) -> None:
    p[IKEv2Nonce].nonce = b"\x11" * 48


CASES: dict[str, tuple[str, Callable[[Packet], bool], Callable[[Packet], None], list[str]]] = {
    "tls-clienthello-sni": (
        "tls/python-tls13-port50443.pcap",
        lambda p: p.haslayer(TLSClientHello),
        _longer_sni,
        ["-d", "tcp.port==50443,tls"],
    ),
    "esp-natt": ("esp/esp-natt-tfc.pcap", lambda p: p.haslayer(ESP), _longer_esp, []),
    "ikev2-nonce": (
        "ike/strongswan_ikev2.pcap",
        lambda p: p.haslayer(IKEv2Nonce),
        _longer_nonce,
        [],
    ),
}
FIELDS = [
    "ip.len", "ip.checksum.status", "tcp.checksum.status", "udp.length", "udp.checksum.status",
    "tls.record.length", "tls.handshake.length", "tls.handshake.extensions_server_name",
    "isakmp.length", "isakmp.nonce", "esp.spi", "_ws.malformed", "_ws.expert.severity",
    "frame.len",
]  # fmt: skip


def _tshark(pkt: Packet, path: Path, options: list[str]) -> dict[str, str]:
    wrpcap(str(path), [pkt])
    (row,) = tshark_fields(path, FIELDS, options=[*CHECKSUMS, *options])
    return row


@pytest.mark.parametrize("case", sorted(CASES))
def test_edit_then_recompute_is_valid_for_tshark(case: str, tmp_path: Path) -> None:
    sample, pick, edit, options = CASES[case]
    captured = next(p for p in rdpcap(str(PCAPS / sample)) if pick(p))
    edited = captured.copy()
    edit(edited)
    before = _tshark(edited, tmp_path / "edited.pcap", options)
    # the test can fail: without recompute tshark finds the lengths wrong
    assert before["_ws.malformed"] or before["ip.len"] != str(len(edited[IP]))
    fixed = recompute(edited)
    row = _tshark(fixed, tmp_path / "fixed.pcap", options)
    assert row["_ws.malformed"] == "" and row["_ws.expert.severity"] == "", row
    assert row["ip.checksum.status"] == GOOD
    assert int(row["ip.len"]) == len(bytes(fixed[IP])) == int(row["frame.len"]) - 14
    if fixed.haslayer(TCP):
        assert row["tcp.checksum.status"] == GOOD
    if fixed.haslayer(UDP):
        assert int(row["udp.length"]) == len(bytes(fixed[UDP]))
        # a zero UDP checksum over IPv4 (none sent: NAT-T ESP, RFC 3948 §2.1) stays zero
        want = ABSENT if captured[UDP].chksum == 0 else GOOD
        assert row["udp.checksum.status"] == want
    if case.startswith("tls"):
        rec = fixed[TLSRecord]
        assert row["tls.record.length"] == str(len(bytes(rec)) - 5)
        assert row["tls.handshake.length"] == str(len(bytes(fixed[TLSHandshake])) - 4)
        assert row["tls.handshake.extensions_server_name"] == "a-much-longer-host-name.example"
    if case.startswith("ike"):
        assert int(row["isakmp.length"]) == len(bytes(fixed[UDP].payload))
        assert row["isakmp.nonce"] == "11" * 48
    if case.startswith("esp"):
        assert row["esp.spi"] == f"0x{captured[ESP].spi:08x}"


def test_scapy_checksums_agree() -> None:
    """Scapy's own IP/TCP checksum code (fresh Scapy objects, no netsec layers) gives the same
    values for the recomputed bytes."""
    captured = next(
        p for p in rdpcap(str(PCAPS / "tls/python-tls13-port50443.pcap")) if p.haslayer(TLSRecord)
    )
    edited = captured.copy()
    _longer_sni(edited)
    fixed = bytes(recompute(edited))
    unbind_netsec_layers()
    theirs = Ether(fixed)
    del theirs[IP].chksum, theirs[IP].len, theirs[TCP].chksum
    assert bytes(Ether(bytes(theirs))) == fixed


def test_original_values_survive_and_the_input_is_not_changed() -> None:
    captured = next(p for p in rdpcap(str(PCAPS / "esp/esp-natt-tfc.pcap")) if p.haslayer(ESP))
    raw_before = bytes(captured)
    fixed = recompute(captured)
    assert bytes(captured) == raw_before
    # nothing edited: every length was already right (UDP checksum zero kept)
    assert bytes(fixed) == raw_before and fixed.time == captured.time


def test_decrypted_view_keeps_its_layers() -> None:
    """A packet that does not dissect back to the same layers (an ESPPlaintext view) is
    returned with the sizes cleared: its bytes are built with the new lengths."""
    plain = IP(src="10.0.0.1", dst="10.0.0.2") / ESPPlaintext(spi=1, seq=1) / IP() / UDP() / b"x"
    built = IP(bytes(plain))
    assert isinstance(built.payload, ESP)
    again = recompute(plain)
    assert isinstance(again.payload, ESPPlaintext)
    assert again[IP].len is None and bytes(again) == bytes(plain)


WHOLE = [
    ("tls/python-tls13-port50443.pcap", ["-d", "tcp.port==50443,tls"]),
    ("tls/gnutls-tls12.pcap", []),
    ("esp/esp-transport-gcm.pcap", []),
    ("esp/esp-ipv6-chacha20.pcap", []),
    ("esp/ah-transport-sha256.pcap", []),
    ("ike/strongswan_ikev2.pcap", []),
]
STATUS = ["ip.checksum.status", "tcp.checksum.status", "udp.checksum.status", "_ws.malformed"]


@pytest.mark.parametrize(("sample", "options"), WHOLE)
def test_every_packet_of_a_capture(sample: str, options: list[str], tmp_path: Path) -> None:
    """Unedited packets: the same length, every checksum Good for tshark, and the same bytes
    wherever tshark found the captured checksums right (loopback captures carry partial TCP
    checksums: those, and only those, change)."""
    packets = rdpcap(str(PCAPS / sample))
    fixed = [recompute(p) for p in packets]
    wrpcap(str(tmp_path / "fixed.pcap"), fixed)
    opts = [*CHECKSUMS, *options]
    before = tshark_fields(PCAPS / sample, STATUS, options=opts)
    after = tshark_fields(tmp_path / "fixed.pcap", STATUS, options=opts)
    assert len(before) == len(after) == len(packets)
    for p, q, old, new in zip(packets, fixed, before, after, strict=True):
        assert len(bytes(q)) == len(bytes(p))
        assert new["_ws.malformed"] == old["_ws.malformed"]
        for key in STATUS[:3]:
            assert new[key] in ("", GOOD, ABSENT), (key, new)
            assert (new[key] == "") == (old[key] == "")
        if BAD not in (old[k] for k in STATUS[:3]):
            assert bytes(q) == bytes(p)
