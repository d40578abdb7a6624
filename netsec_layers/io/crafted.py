"""Write crafted TLS connections (:mod:`netsec_layers.session.tls_craft`) to a pcap."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from netsec_layers.io.pcap import CaptureWriter
from netsec_layers.session.tcpflow import TCPFlow
from netsec_layers.session.tls_craft import CraftedTLSConnection

__all__ = ["write_connections"]


def write_connections(
    path: str | Path,
    connections: Iterable[tuple[CraftedTLSConnection, list[tuple[bool, bytes]]]],
    *,
    server: tuple[str, int] = ("10.0.0.2", 443),
    client_addr: str = "10.0.0.1",
    mss: int = 1460,
    start_ns: int = 1_700_000_000 * 10**9,
) -> str:
    """Write crafted connections (each with its list of flights) as TCP packets to a pcap.

    Returns the key log text for all of them.
    """
    keylog = []
    ts = start_ns
    with CaptureWriter(path, linktype=1, nanosecond=True) as writer:
        for i, (conn, flights) in enumerate(connections):
            flow = TCPFlow((client_addr, 40000 + i), server)
            packets = flow.open()
            for from_client, data in flights:
                packets += flow.data(from_client, data, mss=mss)
            packets += flow.close()
            for pkt in packets:
                writer.write(pkt, ts_ns=ts)
                ts += 10_000
            keylog.append(conn.keylog())
    return "".join(keylog)
