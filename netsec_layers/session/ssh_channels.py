"""SSH channels as byte streams: the Sans-I/O half of ``netsec decrypt -w`` for SSH.

:class:`SSHChannelDemux` takes the tracker's :class:`~.ssh_events.SSHPacketInfo` events in
capture order and returns :class:`ChannelSegment` items: per channel (RFC 4254 §5), the
CHANNEL_DATA bytes of each direction with the frame that carried them, and the end of each
direction (CHANNEL_EOF or CHANNEL_CLOSE).  EXTENDED_DATA (stderr) is left out, as the issue
asks.  A writer turns each channel into one TCP connection between the SSH endpoints (the
server's address and port kept, a client port per channel); channel numbers may be reused after
a close, so channels are told apart by ``index`` (opening order in the SSH connection).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netsec_layers.session.ssh_events import SSHPacketInfo


@dataclass(frozen=True, slots=True)
class ChannelSegment:
    stream: int  # the SSH connection's TCP stream index
    index: int  # the channel's opening order within that connection (0, 1, …)
    channel_type: str  # "session", "direct-tcpip", "forwarded-tcpip", "x11", …
    from_client: bool
    data: bytes  # CHANNEL_DATA bytes (b"" with ``end``)
    frame: int
    end: bool = False  # CHANNEL_EOF / CHANNEL_CLOSE from this side
    subsystem: str | None = None  # e.g. "sftp" (RFC 4254 §6.5), once requested
    # direct-tcpip / forwarded-tcpip (RFC 4254 §7.1, §7.2): the forwarded TCP connection's
    # originator and the address it was connected to, as the CHANNEL_OPEN gives them
    origin: tuple[str, int] | None = None
    target: tuple[str, int] | None = None


@dataclass
class _Chan:
    index: int
    channel_type: str
    server_id: int | None = None
    ended: set[bool] = field(default_factory=set)
    subsystem: str | None = None
    origin: tuple[str, int] | None = None
    target: tuple[str, int] | None = None


class SSHChannelDemux:
    """Channel byte streams from SSH packet events (only decrypted or clear ones count)."""

    def __init__(self, max_channels: int = 100_000) -> None:
        self.max_channels = max_channels
        self._count: dict[int, int] = {}
        self._by_client: dict[tuple[int, int], _Chan] = {}
        self._by_server: dict[tuple[int, int], _Chan] = {}

    def feed(self, event: Any) -> list[ChannelSegment]:
        if not isinstance(event, SSHPacketInfo) or event.payload is None or not event.payload:
            return []
        p, st = event.payload, event.stream
        t = p[0]
        if t == 90 and len(p) >= 5:
            # CHANNEL_OPEN from either side (the server opens forwarded-tcpip and x11 channels):
            # the opener's own number is the one the other side addresses it by
            n = int.from_bytes(p[1:5], "big")
            if len(p) < 9 + n or len(self._by_client) + len(self._by_server) >= self.max_channels:
                return []
            index = self._count.get(st, 0)
            self._count[st] = index + 1
            own = int.from_bytes(p[5 + n : 9 + n], "big")
            opened = _Chan(index, p[5 : 5 + n].decode("latin-1"))
            if opened.channel_type in ("direct-tcpip", "forwarded-tcpip"):
                opened.target, opened.origin = _forwarding(p, 17 + n)
            (self._by_client if event.from_client else self._by_server)[(st, own)] = opened
        elif t == 91 and len(p) >= 9:  # CHANNEL_OPEN_CONFIRMATION: recipient, then own number
            opener = self._by_server if event.from_client else self._by_client
            ch = opener.get((st, int.from_bytes(p[1:5], "big")))
            if ch is not None:
                own = int.from_bytes(p[5:9], "big")
                (self._by_client if event.from_client else self._by_server)[(st, own)] = ch
                if not event.from_client:
                    ch.server_id = own
        elif t == 98 and event.from_client and len(p) >= 9:
            ch = self._by_server.get((st, int.from_bytes(p[1:5], "big")))
            n = int.from_bytes(p[5:9], "big")
            if ch is not None and p[9 : 9 + n] == b"subsystem" and len(p) >= 14 + n:
                m = int.from_bytes(p[10 + n : 14 + n], "big")
                ch.subsystem = p[14 + n : 14 + n + m].decode("latin-1")
        elif t in (94, 96, 97) and len(p) >= 5:
            rcpt = int.from_bytes(p[1:5], "big")
            table = self._by_server if event.from_client else self._by_client
            ch = table.get((st, rcpt))
            if ch is None:
                return []
            if t == 94 and len(p) >= 9:
                data = p[9 : 9 + int.from_bytes(p[5:9], "big")]
                return [
                    ChannelSegment(
                        st,
                        ch.index,
                        ch.channel_type,
                        event.from_client,
                        data,
                        event.frame,
                        subsystem=ch.subsystem,
                        origin=ch.origin,
                        target=ch.target,
                    )
                ]
            if t in (96, 97) and event.from_client not in ch.ended:
                ch.ended.add(event.from_client)
                seg = ChannelSegment(
                    st,
                    ch.index,
                    ch.channel_type,
                    event.from_client,
                    b"",
                    event.frame,
                    end=True,
                    subsystem=ch.subsystem,
                    origin=ch.origin,
                    target=ch.target,
                )
                if t == 97 and len(ch.ended) == 2:  # closed both ways: the numbers may be reused
                    self._forget(st, ch)
                return [seg]
            if t == 97 and len(ch.ended) == 2:
                self._forget(st, ch)
        return []

    def _forget(self, stream: int, ch: _Chan) -> None:
        for table in (self._by_client, self._by_server):
            for key in [k for k, v in table.items() if k[0] == stream and v is ch]:
                del table[key]


def _forwarding(p: bytes, off: int) -> tuple[tuple[str, int] | None, tuple[str, int] | None]:
    """RFC 4254 §7.1/§7.2 CHANNEL_OPEN fields after the window and packet sizes: string host,
    uint32 port, string originator address, uint32 originator port."""
    out: list[tuple[str, int] | None] = []
    for _ in range(2):
        if len(p) < off + 4:
            return None, None
        n = int.from_bytes(p[off : off + 4], "big")
        if len(p) < off + 8 + n:
            return None, None
        host = p[off + 4 : off + 4 + n].decode("latin-1")
        port = int.from_bytes(p[off + 4 + n : off + 8 + n], "big")
        out.append((host, port) if port <= 0xFFFF else None)
        off += 8 + n
    return out[0], out[1]
