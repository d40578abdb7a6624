"""Rewrite a capture so that tools without keys see plaintext (``netsec decrypt``).

- ESP (also UDP-encapsulated): a decrypted packet is replaced by its inner packet — tunnel mode:
  the inner IP packet under the original link layer; transport mode: the original IP header with
  protocol = next header and the decrypted payload (lengths and checksum fixed). Dummy packets
  (next header 59, RFC 4303 §2.6) are dropped.
- TLS: a connection whose keys are known is replaced by a plaintext TCP connection with the same
  addresses and ports: a synthetic three-way handshake, one segment per decrypted application-data
  record, FIN when the original closes; sequence/ack numbers and checksums are computed.
  Frames of a connection are held (bounded) until it is known whether its keys are available.
- Anything that cannot be decrypted is kept unchanged.

Sans-I/O: :meth:`PlaintextRewriter.process` takes a :class:`FrameResult` and returns output frames.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from netsec_layers.constants.ipsec import (
    PROTO_IPIP,
    PROTO_IPV6,
    PROTO_NONXT,
    PROTO_TCP,
    PROTO_UDP,
)
from netsec_layers.session import ipbuild
from netsec_layers.session.dtls_plaintext import plaintext_packets
from netsec_layers.session.engine import FrameResult, IPsecInfo
from netsec_layers.session.netstack import relink
from netsec_layers.session.ssh_events import SSHPacketInfo, SSHVerdict
from netsec_layers.session.ssh_plaintext import SSH_UNREADABLE, SSHChannelWriter
from netsec_layers.session.tcpflow import ACK, FIN, PSH, RST, TCPFlow
from netsec_layers.session.tls import (
    CT_APPDATA,
    TLSConnectionEvent,
    TLSConnState,
    TLSRecordInfo,
)
from netsec_layers.session.trackers import ConnectionClaimed, ConnectionReleased
from netsec_layers.session.verdicts import UNREADABLE_TLS

if TYPE_CHECKING:
    from netsec_layers.session.engine import CaptureEngine
    from netsec_layers.session.netstack import IPPacket
    from netsec_layers.session.tcp import TCPConn

MAX_HELD_FRAMES = 256


@dataclass(slots=True)
class OutFrame:
    ts_ns: int
    linktype: int
    data: bytes
    frame: int = 0  # the input frame this is (held originals), for a stable order at the end


class Rewrite(Enum):
    """What the rewriter does with a TCP connection's frames."""

    PENDING = "pending"  # held until the trackers' events and the records decide
    DECRYPT = "decrypt"  # replaced by a plaintext TCP connection
    KEEP = "keep"  # written as captured (not TLS, no key, or a record failed first)
    SSH = "ssh"  # replaced by one plaintext TCP connection per SSH channel


@dataclass(slots=True)
class _Conn:
    key: int  # the engine's TCP connection index
    state: Rewrite = Rewrite.PENDING
    held: list[OutFrame] = field(default_factory=list)
    stream: int | None = None
    flow: TCPFlow | None = None
    links: dict[tuple[str, int], bytes] = field(default_factory=dict)  # endpoint -> link header
    client: tuple[str, int] | None = None
    version: int = 4
    linktype: int = 1
    tls: TLSConnectionEvent | None = None  # the tracker's last word on this connection
    other: bool = False  # claimed by another protocol's tracker (mail …): kept as captured
    ssh: bool = False  # claimed by the SSH tracker
    ssh_ok: bool = False  # an SSH packet after NEWKEYS was decrypted
    ssh_units: list[Any] = field(default_factory=list)  # SSH packets seen while pending
    tcp: TCPConn | None = None  # the engine's TCP connection (its client and server)
    decrypted_dirs: set[bool] = field(default_factory=set)  # from_client of records decrypted
    failed: bool = False  # an encrypted record failed authentication before the decision


@dataclass(slots=True)
class RewriteStats:
    esp_replaced: int = 0
    esp_dummy_dropped: int = 0
    tls_connections_decrypted: int = 0
    tls_records_written: int = 0
    tls_connections_kept: int = 0
    dtls_datagrams_written: int = 0
    ssh_connections_decrypted: int = 0
    ssh_channels_written: int = 0
    # keys were there, but the connection's records did not authenticate: kept as captured
    tls_connections_failed: int = 0


def _tcp_ports(ip: IPPacket) -> tuple[int, int, int] | None:
    p = ip.payload
    if len(p) < 20:
        return None
    sport, dport = struct.unpack_from("!HH", p)
    return sport, dport, p[13]


class PlaintextRewriter:
    """Turn engine results into the frames of a plaintext capture."""

    def __init__(self, engine: CaptureEngine) -> None:
        self.engine = engine
        # Keyed by the engine's TCP connection index.  The engine's connection table decides
        # when a connection goes (ConnectionReleased): frames it still held are written then.
        self.conns: dict[int, _Conn] = {}
        self.stats = RewriteStats()
        self.ssh = SSHChannelWriter()

    def process(self, res: FrameResult) -> list[OutFrame]:
        ip = res.ip
        tcp = res.tcp_conn
        if (
            tcp is not None
            and ip is not None
            and not res.events
            and not res.inner
            and ip.proto == 6
            and len(ip.payload) >= 20
        ):
            conn = self.conns.get(tcp.index)
            if conn is not None and conn.state is Rewrite.DECRYPT:
                return self._decrypted(conn, res, ip)
        f = res.frame
        original = OutFrame(f.ts_ns, f.linktype, f.data, f.number)
        released = self._released(res.events) if res.events else None
        out = self._process(res, original)
        return released + out if released else out

    def _released(self, events: list[Any]) -> list[OutFrame] | None:
        out: list[OutFrame] = []
        for ev in events:
            if isinstance(ev, ConnectionReleased):
                conn = self.conns.pop(ev.conn.index, None)
                if conn is not None and conn.state is Rewrite.PENDING:
                    out.extend(self._keep(conn))
        return out

    def _keep(self, conn: _Conn) -> list[OutFrame]:
        """Decide "keep": the frames held so far are written as captured."""
        conn.state = Rewrite.KEEP
        self.stats.tls_connections_kept += conn.stream is not None
        self.stats.tls_connections_failed += conn.failed
        held, conn.held = conn.held, []
        return held

    def _process(self, res: FrameResult, original: OutFrame) -> list[OutFrame]:
        ip = res.ip
        if ip is None:
            return [original]
        if ip.proto == PROTO_TCP:
            return self._tcp_packet(res, ip, res.units, res.events, res.tcp_conn, original)
        if ip.proto == PROTO_UDP and res.units:
            # DTLS: each decrypted application-data record becomes a plaintext UDP datagram
            packets = plaintext_packets(ip, res.units)
            if packets is not None:
                f = res.frame
                link = relink(ip.link, f.linktype, ip.version)
                self.stats.dtls_datagrams_written += len(packets)
                return [OutFrame(f.ts_ns, f.linktype, link + p, f.number) for p in packets]
        for u in res.units:
            if isinstance(u, IPsecInfo) and u.proto == "esp":
                out = self._esp(res, ip, u, original)
                # TLS inside the tunnel: the inner TCP packet is rewritten like any other
                inner = res.inner[0] if res.inner else None
                if (
                    out
                    and out[0] is not original
                    and inner is not None
                    and inner.ip.proto == PROTO_TCP
                ):
                    return self._tcp_packet(
                        res, inner.ip, inner.units, inner.events, inner.tcp_conn, out[0]
                    )
                return out
        for level in res.inner:  # IP-in-IP, GRE, VXLAN, Geneve carrying TCP
            if level.ip.proto == PROTO_TCP:
                return self._tcp_packet(
                    res, level.ip, level.units, level.events, level.tcp_conn, original
                )
        return [original]

    def _tcp_packet(
        self,
        res: FrameResult,
        ip: IPPacket,
        units: list[Any],
        events: list[Any],
        tcp: TCPConn | None,
        original: OutFrame,
    ) -> list[OutFrame]:
        """One TCP packet (of the frame itself, or decapsulated from it).  ``original`` is
        what is written when its connection is kept: the frame as captured, or for ESP the
        decrypted packet."""
        ports = _tcp_ports(ip)
        if ports is None or tcp is None or (not self.conns and not self._may_decrypt()):
            # nothing can be decrypted: no need to hold frames (and reorder them) to find out
            return [original]
        sport, _dport, flags = ports
        conn = self.conns.get(tcp.index)
        if conn is None:
            conn = self.conns[tcp.index] = _Conn(
                tcp.index, version=ip.version, linktype=original.linktype, tcp=tcp
            )
        return self._tcp(conn, res, ip, sport, flags, units, events, original, tcp.index)

    def _tcp(
        self,
        conn: _Conn,
        res: FrameResult,
        ip: IPPacket,
        sport: int,
        flags: int,
        units: list[Any],
        events: list[Any],
        original: OutFrame,
        tcp_stream: int | None,
    ) -> list[OutFrame]:
        f = res.frame
        recs = [u for u in units if isinstance(u, TLSRecordInfo)]
        if conn.stream is None:
            conn.stream = recs[0].stream if recs else tcp_stream
        if conn.state is Rewrite.KEEP:
            return [original]
        if conn.state is Rewrite.PENDING:
            conn.held.append(original)
            self._observe(conn, recs, units, events)
            self._remember_link(conn, ip, sport)
            decision = self._decide(conn)
            if decision is Rewrite.PENDING and len(conn.held) < MAX_HELD_FRAMES:
                return []
            if decision is Rewrite.SSH:
                conn.state = Rewrite.SSH  # the SSH connection is replaced by its channels
                conn.held = []
                self.stats.ssh_connections_decrypted += 1
                units, conn.ssh_units = conn.ssh_units, []
            elif decision is not Rewrite.DECRYPT:
                return self._keep(conn)
        if conn.state is Rewrite.SSH:
            return self._ssh(conn, units, f.ts_ns)
        if conn.state is Rewrite.PENDING:
            conn.state = Rewrite.DECRYPT
            self.stats.tls_connections_decrypted += 1
            first_ts = conn.held[0].ts_ns
            conn.held = []
            conn.flow = self._flow(conn)
            out = [OutFrame(first_ts, conn.linktype, p) for p in conn.flow.open()]
        else:
            out = []
        flow = conn.flow
        assert flow is not None
        self._write_records(conn, flow, recs, f.ts_ns, out)
        return self._fin(conn, flow, ip, sport, flags, f.ts_ns, out)

    def _decrypted(self, conn: _Conn, res: FrameResult, ip: IPPacket) -> list[OutFrame]:
        """A TCP packet of a connection already written as plaintext (the common case, issue
        #22: what :meth:`_tcp` does for it, without the per-frame work of the other cases)."""
        flow = conn.flow
        assert flow is not None
        ts_ns = res.frame.ts_ns
        out: list[OutFrame] = []
        if res.units:
            self._write_records(
                conn, flow, [u for u in res.units if isinstance(u, TLSRecordInfo)], ts_ns, out
            )
        p = ip.payload
        flags = p[13]
        if flags & (FIN | RST):
            return self._fin(conn, flow, ip, (p[0] << 8) | p[1], flags, ts_ns, out)
        return out

    def _write_records(
        self, conn: _Conn, flow: TCPFlow, recs: list[TLSRecordInfo], ts_ns: int, out: list[OutFrame]
    ) -> None:
        linktype = conn.linktype
        written = 0
        for rec in recs:
            if rec.decrypted and rec.inner_content_type == CT_APPDATA and rec.plaintext:
                pkt = flow.segment(rec.from_client, rec.plaintext, ACK | PSH)
                out.append(OutFrame(ts_ns, linktype, pkt))
                written += 1
            elif rec.failure in UNREADABLE_TLS:
                # Issue #20: a TCP sequence hole where the failed record's plaintext would be
                # (its length on the wire: the plaintext's is unknown), so tools show "previous
                # segment not captured"; the tracker recovers and the next records follow.
                (flow.client if rec.from_client else flow.server).seq += rec.length
        self.stats.tls_records_written += written

    @staticmethod
    def _fin(
        conn: _Conn,
        flow: TCPFlow,
        ip: IPPacket,
        sport: int,
        flags: int,
        ts_ns: int,
        out: list[OutFrame],
    ) -> list[OutFrame]:
        """A FIN or RST of the original connection: the plaintext side sends its FIN once."""
        if flags & (FIN | RST):
            from_client = (ip.src, sport) == conn.client
            side = flow.client if from_client else flow.server
            if not side.fin:
                out.append(
                    OutFrame(ts_ns, conn.linktype, flow.segment(from_client, b"", FIN | ACK))
                )
                side.fin = True
                side.seq += 1
        return out

    # -- the fast lane (session/fastlane.py) ---------------------------------------------------
    def check_out(self, index: int) -> tuple[TCPFlow, tuple[str, int]] | None:
        """The plaintext flow of TCP connection ``index`` and its TLS client endpoint, if the
        connection is being written as plaintext over Ethernet (what the lane writes) with the
        IP version it was captured with, and neither plaintext side has sent its FIN."""
        conn = self.conns.get(index)
        if conn is None or conn.state is not Rewrite.DECRYPT or conn.linktype != 1:
            return None
        flow = conn.flow
        if flow is None or conn.client is None or flow.version != conn.version:
            return None
        if flow.client.fin or flow.server.fin:
            return None
        return flow, conn.client

    def check_in(self, index: int, client: int, server: int, segments: int) -> None:
        """The lane's work back: sequence numbers it used on the plaintext flow's client and
        server sides, and the segments it wrote (one record and one IP ident each)."""
        flow = self.conns[index].flow
        assert flow is not None
        flow.client.seq += client
        flow.server.seq += server
        flow.ident += segments
        self.stats.tls_records_written += segments

    def finish(self) -> list[OutFrame]:
        """Frames still held at the end of the capture are written unchanged."""
        out: list[OutFrame] = []
        for conn in self.conns.values():
            if conn.state is Rewrite.PENDING:
                out.extend(self._keep(conn))
        out.sort(key=lambda o: (o.ts_ns, o.frame))
        return out

    # -- ESP ------------------------------------------------------------------------------------------
    def _esp(
        self, res: FrameResult, ip: IPPacket, u: IPsecInfo, original: OutFrame
    ) -> list[OutFrame]:
        if not u.decrypted or u.opened is None:
            return [original]
        nh = u.next_header
        if nh == PROTO_NONXT:
            self.stats.esp_dummy_dropped += 1
            return []
        payload = u.opened.payload
        if nh == PROTO_IPIP or nh == PROTO_IPV6:
            packet = payload
            version = 4 if nh == PROTO_IPIP else 6
        elif ip.version == 4:
            packet = (
                ipbuild.ipv4_with_proto(ip.header, proto=nh or 0, payload_len=len(payload))
                + payload
            )
            version = 4
        else:
            packet = (
                ipbuild.ipv6_header(
                    src=ip.src, dst=ip.dst, next_header=nh or 0, payload_len=len(payload)
                )
                + payload
            )
            version = 6
        self.stats.esp_replaced += 1
        f = res.frame
        return [
            OutFrame(f.ts_ns, f.linktype, relink(ip.link, f.linktype, version) + packet, f.number)
        ]

    # -- TLS → plaintext TCP -------------------------------------------------------------------------
    @staticmethod
    def _observe(
        conn: _Conn, recs: list[TLSRecordInfo], units: list[Any], events: list[Any]
    ) -> None:
        """What a pending connection's frame tells: records' verdicts, the trackers' events."""
        for rec in recs:
            if rec.decrypted:
                conn.decrypted_dirs.add(rec.from_client)
            elif rec.failure in UNREADABLE_TLS:
                conn.failed = True
        for ev in events:
            if isinstance(ev, TLSConnectionEvent) and ev.stream == conn.stream:
                conn.tls = ev
            elif isinstance(ev, ConnectionClaimed) and ev.conn.index == conn.key:
                if ev.tracker == "ssh":
                    conn.ssh = True
                else:
                    conn.other = True  # another protocol's: written as captured
        if conn.ssh:
            for u in units:
                if isinstance(u, SSHPacketInfo):
                    conn.ssh_units.append(u)
                    if u.verdict is SSHVerdict.DECRYPTED:
                        conn.ssh_ok = True
                    elif u.verdict in SSH_UNREADABLE and not conn.ssh_ok:
                        conn.failed = True

    def _may_decrypt(self) -> bool:
        """Key material that may decrypt a TCP connection (TLS, or a stream tracker's)."""
        eng = self.engine
        return not eng.tls_keys.empty or any(t.has_keys() for t in eng.stream_trackers)

    def _ssh(self, conn: _Conn, units: list[Any], ts_ns: int) -> list[OutFrame]:
        tcp = conn.tcp
        if tcp is None:
            return []
        before = self.ssh.channels_written
        c_link, s_link = conn.links.get(tcp.client), conn.links.get(tcp.server)
        if c_link is None and s_link is not None:
            c_link = _swap_link(s_link, conn.linktype)
        if s_link is None and c_link is not None:
            s_link = _swap_link(c_link, conn.linktype)
        packets = self.ssh.packets(
            units, client=tcp.client, server=tcp.server, client_link=c_link, server_link=s_link
        )
        self.stats.ssh_channels_written += self.ssh.channels_written - before
        return [OutFrame(ts_ns, conn.linktype, p) for p in packets]

    def _decide(self, conn: _Conn) -> Rewrite:
        """From the tracker's connection events and the records' verdicts only."""
        if conn.other:
            return Rewrite.KEEP
        if conn.ssh:
            if conn.failed:
                return Rewrite.KEEP
            return Rewrite.SSH if conn.ssh_ok else Rewrite.PENDING
        ev = conn.tls
        if ev is None or ev.state is TLSConnState.PENDING:
            return Rewrite.PENDING
        if ev.state is not TLSConnState.KEYED:
            return Rewrite.KEEP
        # Keys are known; whether they are the right ones only the records tell.  Nothing is
        # written as plaintext until both directions have authenticated a record: a record that
        # fails first keeps the whole connection as captured (no data lost).
        if conn.failed:
            return Rewrite.KEEP
        if len(conn.decrypted_dirs) == 2:
            return Rewrite.DECRYPT
        return Rewrite.PENDING

    def _remember_link(self, conn: _Conn, ip: IPPacket, sport: int) -> None:
        ep = (ip.src, sport)
        if ep not in conn.links:
            conn.links[ep] = relink(ip.link, conn.linktype, conn.version)

    def _flow(self, conn: _Conn) -> TCPFlow:
        assert conn.tls is not None
        conn.client = conn.tls.client
        c_link = conn.links.get(conn.tls.client)
        s_link = conn.links.get(conn.tls.server)
        if c_link is None and s_link is not None:
            c_link = _swap_link(s_link, conn.linktype)
        if s_link is None and c_link is not None:
            s_link = _swap_link(c_link, conn.linktype)
        return TCPFlow(
            conn.client,
            conn.tls.server,
            client_link=c_link or b"",
            server_link=s_link or b"",
        )


def _swap_link(link: bytes, linktype: int) -> bytes:
    if linktype == 1 and len(link) >= 14:
        return link[6:12] + link[0:6] + link[12:]
    return link
