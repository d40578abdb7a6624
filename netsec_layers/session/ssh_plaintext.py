"""``netsec decrypt -w`` for SSH (issue #17's contract): the SSH connection itself is not written;
each *session* channel becomes one plaintext TCP connection carrying that channel's CHANNEL_DATA
bytes in each direction (EXTENDED_DATA left out), between the SSH client's address (a client port
per channel: the SSH connection's port plus the channel's opening index) and the server's address
and port.  Sans-I/O: SSH packet events in, packets (link header + IP + TCP) out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from netsec_layers.session.ssh_channels import SSHChannelDemux
from netsec_layers.session.ssh_events import SSHPacketInfo, SSHVerdict
from netsec_layers.session.tcpflow import ACK, FIN, PSH, TCPFlow

__all__ = ["SSH_UNREADABLE", "SSHChannelWriter"]

# an encrypted packet that could not be read: the connection is kept as captured (issue #14)
SSH_UNREADABLE = frozenset((SSHVerdict.NO_KEY, SSHVerdict.INTEGRITY_FAILED, SSHVerdict.UNDELIMITED))


class SSHChannelWriter:
    """Plaintext TCP connections for the session channels of decrypted SSH connections."""

    def __init__(self, max_flows: int = 100_000) -> None:
        self.demux = SSHChannelDemux()
        self.max_flows = max_flows
        self._flows: dict[tuple[int, int], TCPFlow] = {}
        self.channels_written = 0

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
                if seg.channel_type != "session":
                    continue
                key = (seg.stream, seg.index)
                flow = self._flows.get(key)
                if flow is None:
                    if len(self._flows) >= self.max_flows:
                        continue
                    port = (client[1] + seg.index - 1) % 65535 + 1 if seg.index else client[1]
                    flow = self._flows[key] = TCPFlow(
                        (client[0], port), server, client_link=client_link, server_link=server_link
                    )
                    self.channels_written += 1
                    out += flow.open()
                side = flow.client if seg.from_client else flow.server
                if side.fin:
                    continue
                if seg.data:
                    out.append(flow.segment(seg.from_client, seg.data, ACK | PSH))
                if seg.end:
                    out.append(flow.segment(seg.from_client, b"", FIN | ACK))
                    side.fin = True
                    side.seq += 1
                    if flow.client.fin and flow.server.fin:
                        del self._flows[key]
        return out
