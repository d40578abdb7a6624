"""Feed the UDP datagrams of a pcap (read by Scapy, not by our engine) to a DTLSTracker."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from scapy.layers.inet import IP, UDP
from scapy.utils import rdpcap

from netsec_layers.crypto.tls_rsa import load_rsa_private_key
from netsec_layers.keys.keylog import load_keylog
from netsec_layers.session.dtls import DTLSRecordEvent, DTLSTracker
from netsec_layers.session.netstack import IPPacket
from netsec_layers.session.tls_keys import TLSKeyMaterial
from netsec_layers.session.trackers import Datagram

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "pcaps" / "dtls"


def datagrams(pcap: Path) -> list[Datagram]:
    out = []
    for i, p in enumerate(rdpcap(str(pcap))):
        if UDP not in p:
            continue
        head = bytes(p[IP])[: p[IP].ihl * 4]
        ip = IPPacket(4, p[IP].src, p[IP].dst, 17, bytes(p[IP].payload), head, b"", i + 1,
                      int(float(p.time) * 1e9))  # fmt: skip
        out.append(Datagram(ip, p[UDP].sport, p[UDP].dport, bytes(p[UDP].payload)))
    return out


def sample_keys(name: str, *, rsa: bool = False) -> TLSKeyMaterial:
    keys = TLSKeyMaterial()
    if rsa:
        pem = (SAMPLES / f"{name}.rsa.pem").read_bytes()
        keys.add_rsa_key(load_rsa_private_key(pem, None))
    else:
        keys.add_keylog(load_keylog(str(SAMPLES / f"{name}.keys")))
    return keys


def run(tracker: DTLSTracker, grams: Iterable[Datagram]) -> list[DTLSRecordEvent]:
    events: list[Any] = []
    for d in grams:
        if tracker.claims(d):
            events.extend(tracker.feed(d))
    return events
