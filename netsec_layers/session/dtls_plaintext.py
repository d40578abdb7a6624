"""DTLS in a plaintext capture (``netsec decrypt -w``), Sans-I/O.

The rule of issue 16: a datagram that carries application data decrypted with keys becomes one
UDP datagram per application-data record, carrying that record's plaintext, with the same
addresses and ports (capture order kept; the datagram's other records -- handshake, alerts,
records that failed -- are not written); every other datagram stays as captured.

:func:`plaintext_packets` applies it to one datagram's :class:`DTLSRecordEvent` list and
returns the IP packets (IPv4 header from the original with lengths and checksum fixed, or a new
IPv6 header; UDP checksum computed), or ``None`` to keep the datagram as captured.  The
plaintext rewriter puts them under the frame's link layer (``netstack.relink``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from netsec_layers.session import ipbuild
from netsec_layers.session.dtls_events import CT_APPDATA, DTLSRecordEvent

if TYPE_CHECKING:
    from netsec_layers.session.netstack import IPPacket

__all__ = ["plaintext_packets"]


def plaintext_packets(ip: IPPacket, events: Iterable[object]) -> list[bytes] | None:
    """The IP packets replacing this datagram, or ``None`` to keep it as captured."""
    records = [e for e in events if isinstance(e, DTLSRecordEvent)]
    plain = [
        e.plaintext
        for e in records
        if e.decrypted and e.inner_content_type == CT_APPDATA and e.plaintext is not None
    ]
    if not plain:
        return None
    (src, sport), (dst, dport) = records[0].src, records[0].dst
    out = []
    for payload in plain:
        udp = ipbuild.udp_datagram(version=ip.version, src=src, dst=dst, sport=sport, dport=dport,
                                   payload=payload, zero_checksum=False)  # fmt: skip
        if ip.version == 4 and ip.header:
            hdr = bytearray(ip.header)
            hdr[6] &= 0x40  # keep DF; a reassembled datagram is no fragment any more
            hdr[7] = 0
            head = ipbuild.ipv4_with_proto(bytes(hdr), proto=17, payload_len=len(udp))
        else:
            head = ipbuild.ip_header(version=ip.version, src=src, dst=dst, proto=17,
                                     payload_len=len(udp))  # fmt: skip
        out.append(head + udp)
    return out
