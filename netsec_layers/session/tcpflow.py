"""Build the packets of a TCP connection from application bytes (raw bytes, no Scapy).

Used by ``netsec decrypt`` (plaintext TCP streams in place of TLS connections) and by the TLS
crafting session (synthetic but valid captures). Sequence/ack numbers and checksums are computed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from netsec_layers.session import ipbuild

SYN, ACK, FIN, PSH, RST = 0x02, 0x10, 0x01, 0x08, 0x04
ETHERNET_V4 = bytes.fromhex("0200000000020200000000010800")
ETHERNET_V6 = bytes.fromhex("02000000000202000000000186dd")


@dataclass(slots=True)
class Endpoint:
    addr: str
    port: int
    seq: int
    link: bytes = b""  # link-layer header put in front of this side's packets
    fin: bool = False


class TCPFlow:
    """One TCP connection; :meth:`segment` returns whole packets (link header + IP + TCP)."""

    def __init__(
        self,
        client: tuple[str, int],
        server: tuple[str, int],
        *,
        client_isn: int = 1000,
        server_isn: int = 5000,
        client_link: bytes | None = None,
        server_link: bytes | None = None,
    ) -> None:
        self.version = 6 if ":" in client[0] else 4
        eth = ETHERNET_V4 if self.version == 4 else ETHERNET_V6
        if client_link is None and server_link is None:
            client_link = eth
            server_link = eth[6:12] + eth[0:6] + eth[12:]
        self.client = Endpoint(client[0], client[1], client_isn, client_link or b"")
        self.server = Endpoint(server[0], server[1], server_isn, server_link or b"")
        self.ident = 0
        self._tmpl_c: _Template | None = None
        self._tmpl_s: _Template | None = None

    def open(self) -> list[bytes]:
        """SYN, SYN/ACK, ACK."""
        out = [self.segment(True, b"", SYN, ack=False)]
        self.client.seq += 1
        out.append(self.segment(False, b"", SYN | ACK))
        self.server.seq += 1
        out.append(self.segment(True, b"", ACK))
        return out

    def close(self, from_client: bool = True) -> list[bytes]:
        """FIN from one side, FIN/ACK from the other, last ACK."""
        first, second = (self.client, self.server) if from_client else (self.server, self.client)
        out = []
        for side, is_client in ((first, from_client), (second, not from_client)):
            if not side.fin:
                out.append(self.segment(is_client, b"", FIN | ACK))
                side.fin = True
                side.seq += 1
        out.append(self.segment(from_client, b"", ACK))
        return out

    def data(self, from_client: bool, payload: bytes, *, mss: int = 0) -> list[bytes]:
        """``payload`` as one segment, or cut at ``mss`` bytes."""
        if not mss or len(payload) <= mss:
            return [self.segment(from_client, payload, ACK | PSH)]
        return [
            self.segment(
                from_client, payload[i : i + mss], ACK | (PSH if i + mss >= len(payload) else 0)
            )
            for i in range(0, len(payload), mss)
        ]

    def _template(self, me: Endpoint, peer: Endpoint) -> _Template:
        """What stays the same for every segment of one direction, and its checksum sum."""
        if self.version == 4:
            ip_fixed: ipbuild.IPv4Fixed | None = ipbuild.ipv4_fixed(me.addr, peer.addr, 6)
            addrs = ipbuild._v4(me.addr) + ipbuild._v4(peer.addr)
        else:
            ip_fixed = None
            addrs = ipbuild._v6(me.addr) + ipbuild._v6(peer.addr)
        ports = _PORTS(me.port, peer.port)
        # pseudo-header addresses and protocol (RFC 9293 §3.1), ports, window 65535
        tcp_sum = int.from_bytes(addrs, "big") + 6 + int.from_bytes(ports, "big") + 65535
        return tcp_sum, ports, ip_fixed

    def segment(self, from_client: bool, data: bytes, flags: int, *, ack: bool = True) -> bytes:
        if from_client:
            me, peer = self.client, self.server
            tmpl = self._tmpl_c
            if tmpl is None:
                tmpl = self._tmpl_c = self._template(me, peer)
        else:
            me, peer = self.server, self.client
            tmpl = self._tmpl_s
            if tmpl is None:
                tmpl = self._tmpl_s = self._template(me, peer)
        tcp_sum, ports, ip_fixed = tmpl
        seg_len = 20 + len(data)
        mid = _SEQ_ACK_FLAGS(
            me.seq & 0xFFFFFFFF, peer.seq & 0xFFFFFFFF if ack else 0, 0x5000 | flags
        )
        # RFC 1071 ones'-complement sum by parts: a big-endian byte string of whole 16-bit words
        # read as one integer is congruent to the sum of its words modulo 0xFFFF (2^16 ≡ 1), and
        # every part here starts on an even offset.  The sum is never +0 (the pseudo-header has
        # protocol 6), so a remainder of 0 is the ones'-complement -0 and the checksum is 0.
        total = tcp_sum + seg_len + int.from_bytes(mid, "big")
        if data:
            total += int.from_bytes(data + b"\0" if len(data) & 1 else data, "big")
        r = total % 0xFFFF
        tail = _WIN_CSUM_URG(65535, 0xFFFF - r if r else 0, 0)
        me.seq += len(data)
        self.ident += 1
        if ip_fixed is not None:
            ip_hdr = ipbuild.ipv4_header_from(ip_fixed, seg_len, self.ident)
        else:
            ip_hdr = ipbuild.ipv6_header(
                src=me.addr, dst=peer.addr, next_header=6, payload_len=seg_len
            )
        return b"".join((me.link, ip_hdr, ports, mid, tail, data))


_Template = tuple[int, bytes, ipbuild.IPv4Fixed | None]
_PORTS = struct.Struct("!HH").pack
_SEQ_ACK_FLAGS = struct.Struct("!IIH").pack
_WIN_CSUM_URG = struct.Struct("!HHH").pack
