"""IKE over TCP (RFC 9329): a :class:`StreamTracker` that claims a connection whose client
starts with ``IKETCP`` (any port; 4500 is only the usual one), splits both directions into
length-framed messages (§3.1) and hands the IKE ones to an :class:`IKETracker`, which then
decrypts and derives exactly as for UDP.  ESP frames in the stream are counted, not
decrypted (the ESP path of the engine reads IP and UDP only); keepalives are skipped.
"""

from __future__ import annotations

from typing import Any, ClassVar

from netsec_layers.session.ike import IKETracker
from netsec_layers.session.netstack import IPPacket
from netsec_layers.session.tcp import StreamChunk, TCPConn
from netsec_layers.session.trackers import Datagram, StreamTracker

__all__ = ["IKETCPTracker"]

PREFIX = b"IKETCP"
MAX_BUFFER = 1 << 20  # per direction: a frame is at most 65535 bytes


class _Conn:
    def __init__(self) -> None:
        self.buf = {True: bytearray(), False: bytearray()}
        self.prefix_seen = False
        self.broken: str | None = None
        self.esp_frames = 0


class IKETCPTracker(StreamTracker):
    """RFC 9329 framing in front of ``ike`` (share the UDP tracker to share keys and SAs)."""

    name: ClassVar[str] = "ike"

    def __init__(self, ike: IKETracker) -> None:
        self.ike = ike
        self._conns: dict[int, _Conn] = {}

    def claims(self, chunk: StreamChunk) -> bool:
        d = chunk.data
        return chunk.from_client and (
            d.startswith(PREFIX) or (0 < len(d) < 6 and PREFIX.startswith(d))
        )

    def release(self, conn: TCPConn) -> None:
        self._conns.pop(conn.index, None)

    def feed(self, chunk: StreamChunk) -> list[Any]:
        st = self._conns.setdefault(chunk.conn.index, _Conn())
        if st.broken is not None or not chunk.data:
            return []
        if chunk.gap:
            st.broken = "bytes missing in the TCP stream"  # framing lost: stop (no resync)
            return []
        buf = st.buf[chunk.from_client]
        buf += chunk.data
        if len(buf) > MAX_BUFFER:
            st.broken = "IKETCP buffer limit"
            buf.clear()
            return []
        if chunk.from_client and not st.prefix_seen:
            if len(buf) < 6:
                return []
            if bytes(buf[:6]) != PREFIX:
                st.broken = "no IKETCP prefix"
                return []
            del buf[:6]
            st.prefix_seen = True
        out: list[Any] = []
        while len(buf) >= 2:
            n = int.from_bytes(buf[:2], "big")
            if n < 2:
                st.broken = f"IKETCP length {n}"
                break
            if len(buf) < n:
                break
            frame = bytes(buf[2:n])
            del buf[:n]
            if frame[:4] == b"\0\0\0\0" and len(frame) > 4:
                out += self.ike.feed(self._datagram(chunk, frame))
            elif frame != b"\xff":
                st.esp_frames += 1
        return out

    @staticmethod
    def _datagram(chunk: StreamChunk, frame: bytes) -> Datagram:
        c, s = chunk.conn.client, chunk.conn.server
        src, dst = (c, s) if chunk.from_client else (s, c)
        ip = IPPacket(
            chunk.conn.ip_version, src[0], dst[0], 6, b"", b"", b"", chunk.frame, chunk.ts_ns
        )
        return Datagram(ip, src[1], dst[1], frame)  # frame starts with the non-ESP marker
