"""``netsec decrypt -w`` for SSH (issue #17's contract): the SSH connection itself is not written;
each *session* channel becomes one plaintext TCP connection carrying that channel's CHANNEL_DATA
bytes in each direction (EXTENDED_DATA left out), between the SSH client's address (a client port
per channel: the SSH connection's port plus the channel's opening index) and the server's address
and port.  A port-forwarding channel (direct-tcpip, forwarded-tcpip) becomes the TCP connection it
carries, between the forwarded endpoints its CHANNEL_OPEN names (RFC 4254 §7), so the forwarded
protocol is dissected by any tool.  Sans-I/O: SSH packet events in, packets out.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from netsec_layers.session.ssh_channels import SSHChannelDemux
from netsec_layers.session.ssh_events import SSHPacketInfo, SSHVerdict
from netsec_layers.session.tcpflow import ACK, FIN, PSH, TCPFlow

__all__ = ["SSH_UNREADABLE", "SSHChannelWriter"]

# an encrypted packet that could not be read: the connection is kept as captured (issue #14)
SSH_UNREADABLE = frozenset((SSHVerdict.NO_KEY, SSHVerdict.INTEGRITY_FAILED, SSHVerdict.UNDELIMITED))


FORWARDED = ("direct-tcpip", "forwarded-tcpip")


def _address(ep: tuple[str, int], fallback: tuple[str, int]) -> tuple[str, int]:
    """``ep`` when its host is an IP address of the same family as ``fallback``, else
    ``fallback``'s address with ``ep``'s port."""
    try:
        ip = ipaddress.ip_address(ep[0])
    except ValueError:
        return (fallback[0], ep[1])
    same = ip.version == (6 if ":" in fallback[0] else 4)
    return (str(ip), ep[1]) if same else (fallback[0], ep[1])


class SSHChannelWriter:
    """Plaintext TCP connections for the session channels of decrypted SSH connections."""

    def __init__(self, max_flows: int = 100_000) -> None:
        self.demux = SSHChannelDemux()
        self.max_flows = max_flows
        self._flows: dict[tuple[int, int], TCPFlow] = {}
        self.channels_written = 0  # session and forwarding channels
        self.forwardings_written = 0

    def packets(
        self,
        events: Iterable[Any],
        *,
        client: tuple[str, int],
        server: tuple[str, int],
        client_link: bytes | None,
        server_link: bytes | None,
    ) -> list[bytes]:
        out: list[bytes] = []
        for ev in events:
            if not isinstance(ev, SSHPacketInfo):
                continue
            for seg in self.demux.feed(ev):
                if seg.channel_type == "session":
                    port = (client[1] + seg.index - 1) % 65535 + 1 if seg.index else client[1]
                    ends = ((client[0], port), server)
                elif seg.channel_type in FORWARDED and seg.origin and seg.target:
                    # the forwarded connection itself: originator -> the address connected to.
                    # direct-tcpip (§7.2): the originator is on the client's side, the target is
                    # reached by the server; forwarded-tcpip: both are on the server's side, and
                    # the originator's bytes come from the server.  Names that are not
                    # addresses stand for the SSH peer on that side.
                    direct = seg.channel_type == "direct-tcpip"
                    ends = (
                        _address(seg.origin, client if direct else server),
                        _address(seg.target, server),
                    )
                else:
                    continue
                from_flow_client = (
                    seg.from_client
                    if seg.channel_type != "forwarded-tcpip"
                    else (not seg.from_client)
                )
                key = (seg.stream, seg.index)
                flow = self._flows.get(key)
                if flow is None:
                    if len(self._flows) >= self.max_flows:
                        continue
                    flow = self._flows[key] = TCPFlow(
                        ends[0], ends[1], client_link=client_link, server_link=server_link
                    )
                    self.channels_written += 1
                    if seg.channel_type != "session":
                        self.forwardings_written += 1
                    out += flow.open()
                side = flow.client if from_flow_client else flow.server
                if side.fin:
                    continue
                if seg.data:
                    out.append(flow.segment(from_flow_client, seg.data, ACK | PSH))
                if seg.end:
                    out.append(flow.segment(from_flow_client, b"", FIN | ACK))
                    side.fin = True
                    side.seq += 1
                    if flow.client.fin and flow.server.fin:
                        del self._flows[key]
        return out
