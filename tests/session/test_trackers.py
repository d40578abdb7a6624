"""The tracker interface: a stream tracker claims a connection by content, a datagram tracker a
UDP payload; their events reach the engine's results; derived SAs enter the SA database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from netsec_layers.io.pcap import Frame
from netsec_layers.keys.sa import SecurityAssociation
from netsec_layers.session.engine import CaptureEngine
from netsec_layers.session.tcp import StreamChunk
from netsec_layers.session.trackers import Datagram, DatagramTracker, SADerived, StreamTracker


@dataclass
class _Ev:
    frame: int
    data: bytes

    def to_json(self) -> dict[str, Any] | None:
        return {"proto": "demo", "frame": self.frame, "data": self.data.hex()}

    def summary(self) -> str:
        return "demo"


class _Banner(StreamTracker):
    name = "demo"

    def claims(self, chunk: StreamChunk) -> bool:
        return chunk.data.startswith(b"DEMO-")

    def feed(self, chunk: StreamChunk) -> list[Any]:
        return [_Ev(chunk.frame, chunk.data)] if chunk.data else []


class _Udp(DatagramTracker):
    name = "demo-udp"

    def claims(self, dgram: Datagram) -> bool:
        return dgram.payload.startswith(b"D")

    def feed(self, dgram: Datagram) -> list[Any]:
        sa = SecurityAssociation(spi=0x42, encryption="NULL", integrity="NONE")
        return [_Ev(dgram.frame, dgram.payload), SADerived(dgram.frame, sa, "test")]


def _frame(n: int, pkt: Any) -> Frame:
    data = bytes(pkt)
    return Frame(n, n * 1000, 1, data, len(data))


def test_stream_and_datagram_trackers_get_their_traffic() -> None:
    eng = CaptureEngine(trackers=[_Banner(), _Udp()])
    base = Ether() / IP(src="10.0.0.1", dst="10.0.0.2")
    frames = [
        base / TCP(sport=1000, dport=2222, flags="S", seq=0),
        base / TCP(sport=1000, dport=2222, flags="A", seq=1) / b"DEMO-1.0\r\n",
        base / TCP(sport=1000, dport=2222, flags="A", seq=11) / b"more",
        base / UDP(sport=5, dport=6) / b"Dxyz",
        base / UDP(sport=5, dport=6) / b"not claimed",
    ]
    results = [eng.process(_frame(i + 1, f)) for i, f in enumerate(frames)]
    assert [u.data for u in results[1].units] == [b"DEMO-1.0\r\n"]
    assert [u.data for u in results[2].units] == [b"more"]
    assert results[3].units[0].data == b"Dxyz"
    assert results[4].units == []
    assert eng.sadb is not None and eng.sadb.lookup(0x42) is not None
    assert eng.stats.tls_records == 0
