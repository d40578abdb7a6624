"""The capture pipeline: frames → IP → (TCP → TLS records | ESP/AH/NAT-T) → per-frame results.

:class:`CaptureEngine` is Sans-I/O: ``process(frame)`` takes one :class:`~netsec_layers.io.pcap.Frame`
and returns a :class:`FrameResult` listing the TLS records completed by that frame and the ESP/AH
packets it carried, decrypted when key material allows. It never prints and never reads files;
the CLI and :func:`iter_capture` do the I/O. Everything here works on raw bytes (no Scapy), so it
is the fast path of ``netsec dissect`` and ``netsec decrypt``.

ESP decrypted in tunnel mode yields an inner IP packet that goes through the same pipeline, so
TLS inside an IPsec tunnel is followed and decrypted too.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from netsec_layers.constants.ipsec import (
    NATT_PORT,
    PROTO_AH,
    PROTO_ESP,
    PROTO_GRE,
    PROTO_IPIP,
    PROTO_IPV6,
    PROTO_TCP,
    PROTO_UDP,
)
from netsec_layers.frame import Frame
from netsec_layers.keys.ike_keys import IKEKeys
from netsec_layers.session.ipsec_tracker import EngineStats, IPsecInfo, IPsecTracker
from netsec_layers.session.netstack import (
    LT_RAW,
    UDP_TUNNEL_PORTS,
    IPDecoder,
    IPPacket,
    decap_gre,
    decap_udp_tunnel,
    relink,
)
from netsec_layers.session.tcp import (
    DEFAULT_MAX_BUFFER,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_TOTAL_BUFFER,
    TCPConn,
    TCPReassembler,
)
from netsec_layers.session.tls import TLSRecordInfo, TLSTracker
from netsec_layers.session.tls_keys import TLSKeyMaterial
from netsec_layers.session.trackers import (
    ConnectionClaimed,
    ConnectionReleased,
    Datagram,
    DatagramTracker,
    InternalEvent,
    SADerived,
    StreamTracker,
)
from netsec_layers.session.verdicts import UNREADABLE_TLS

__all__ = [
    "CaptureEngine",
    "Decapsulated",
    "EngineStats",  # (defined in ipsec_tracker, the engine's public names)
    "FrameResult",
    "IPsecInfo",
]

if TYPE_CHECKING:
    from netsec_layers.session.ipsec import ESPPlaintext, SADatabase

MAX_NESTING = 4  # decapsulations per frame (ESP in GRE in VXLAN …): bounded recursion
SECRETS_TLS = 0x544C534B  # pcapng DSB "TLSK"
SECRETS_ESP = 0x45535053  # pcapng DSB "ESPS"


@dataclass(slots=True)
class Decapsulated:
    """A packet that came out of a decapsulation (ESP, IP-in-IP, GRE, VXLAN, Geneve), and the
    units and TCP connection the engine found in it."""

    encap: str  # "esp" | "ipip" | "gre" | "vxlan" | "geneve"
    ip: IPPacket
    units: list[Any] = field(default_factory=list)
    tcp_conn: TCPConn | None = None
    events: list[Any] = field(default_factory=list)  # internal events (see InternalEvent)


@dataclass(slots=True)
class FrameResult:
    """What one frame carried, in order."""

    frame: Frame
    ip: IPPacket | None = None
    note: str | None = None  # e.g. "NAT keepalive", "IKE", "fragment held", "not IP"
    # TLS records, ESP/AH packets and the events of other protocol trackers, in order
    units: list[Any] = field(default_factory=list)
    inner_ips: list[IPPacket] = field(default_factory=list)  # decapsulated / decrypted packets
    tcp_conn: TCPConn | None = None  # the TCP connection this frame's segment belongs to
    inner: list[Decapsulated] = field(default_factory=list)  # same packets, with what they held
    # Internal events (trackers.InternalEvent: connection states, derived SAs …), in order;
    # ``units`` holds only what is on the wire (records, packets, messages)
    events: list[Any] = field(default_factory=list)

    @property
    def tcp_stream(self) -> int | None:
        """Index of :attr:`tcp_conn` (its stream number)."""
        return None if self.tcp_conn is None else self.tcp_conn.index


class CaptureEngine:
    """Dissect (and, given keys, decrypt) a capture frame by frame."""

    def __init__(
        self,
        *,
        tls_keys: TLSKeyMaterial | None = None,
        sadb: SADatabase | None = None,
        check_replay: bool = True,
        inner_packets: bool = True,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        tcp_max_buffer: int = DEFAULT_MAX_BUFFER,
        tcp_max_total_buffer: int = DEFAULT_MAX_TOTAL_BUFFER,
        trackers: list[StreamTracker | DatagramTracker] | None = None,
    ) -> None:
        self.stream_trackers = [t for t in trackers or [] if isinstance(t, StreamTracker)]
        self.datagram_trackers = [t for t in trackers or [] if isinstance(t, DatagramTracker)]
        # TCP connection index -> the tracker that claimed it (None: TLS, the default)
        self._owner: dict[int, StreamTracker | None] = {}
        self._internal: list[Any] = []  # internal events of the packet being processed
        self.tls_keys = tls_keys if tls_keys is not None else TLSKeyMaterial()
        self.stats = EngineStats()
        # ESP/AH: the SA database applied packet by packet (IP protocols 50/51, UDP 4500)
        self.ipsec = IPsecTracker(sadb, check_replay=check_replay, stats=self.stats)
        # Decode decrypted inner packets that are not TCP too (for summaries); TCP inner packets
        # are always followed so TLS inside an IPsec tunnel is tracked.
        self.inner_packets = inner_packets
        self.ip = IPDecoder()
        self.inner_ip = IPDecoder()
        self.tcp = TCPReassembler(
            max_buffer=tcp_max_buffer,
            max_total_buffer=tcp_max_total_buffer,
            max_connections=max_connections,
        )
        # One connection table: the TCP reassembler's.  When it drops a connection, the TLS
        # tracker, the tracker owning it and the consumers (ConnectionReleased) are told.
        self.tls = TLSTracker(self.tls_keys, max_connections=max_connections, managed=True)
        self.keylog_errors: list[str] = []
        self.truncated: str | None = None

    @property
    def sadb(self) -> SADatabase | None:
        """The SA database ESP/AH is decrypted with (``None`` until one is given or learned)."""
        return self.ipsec.sadb

    @sadb.setter
    def sadb(self, db: SADatabase | None) -> None:
        self.ipsec.sadb = db

    @property
    def check_replay(self) -> bool:
        return self.ipsec.check_replay

    def limit_counters(self) -> dict[str, int]:
        """How often each resource limit was reached (summed over workers by the parallel run)."""
        return {
            "connections_evicted": self.tcp.evicted,
            "tcp_buffer_overflows": self.tcp.buffer_overflows,
            "fragments_dropped": self.ip.fragments_dropped,
        }

    def limit_notes(self, counters: dict[str, int] | None = None) -> list[str]:
        """One line per resource limit that was reached (state dropped or holes skipped)."""
        c = self.limit_counters() if counters is None else counters
        tcp, ip = self.tcp, self.ip
        notes = []
        if c["connections_evicted"]:
            notes.append(
                f"{c['connections_evicted']} connections evicted: more than "
                f"{tcp.max_connections} open at once (least recently used dropped)"
            )
        if c["tcp_buffer_overflows"]:
            notes.append(
                f"{c['tcp_buffer_overflows']} TCP holes skipped: out-of-order data passed "
                f"{tcp.max_buffer >> 20} MiB per direction or {tcp.max_total_buffer >> 20} MiB "
                "in all (reported as gaps)"
            )
        if c["fragments_dropped"]:
            notes.append(
                f"{c['fragments_dropped']} IP datagrams dropped unfinished (fragment timeout, "
                f"limits {ip.max_fragment_bytes >> 20} MiB / {ip.max_datagrams} datagrams)"
            )
        return notes

    # -- secrets found inside a pcapng --------------------------------------------------------------
    def on_secrets(self, secrets_type: int, data: bytes) -> None:
        """pcapng Decryption Secrets Block: TLS key log or ESP SA lines (see FORMATS.md)."""
        if secrets_type == SECRETS_TLS:
            kl = self.tls_keys.add_keylog_text(data)
            self.keylog_errors.extend(f"DSB line {e.line}: {e.reason}" for e in kl.errors)
        elif secrets_type == SECRETS_ESP:
            from netsec_layers.keys.sa_files import parse_esp_sa

            for sa in parse_esp_sa(data.decode("utf-8", "replace")):
                self.ipsec.add_sa(sa)
        else:
            for t in self._all_trackers():
                if t.on_secrets(secrets_type, data):
                    break

    # -- per frame ----------------------------------------------------------------------------------
    def process(self, frame: Frame) -> FrameResult:
        return self.process_decoded(frame, self.ip.feed(frame))

    def process_decoded(self, frame: Frame, ip: IPPacket | None) -> FrameResult:
        """:meth:`process` for a frame ``self.ip`` has just decoded (the parallel runner decodes
        every frame to choose its worker, then processes only its own)."""
        self.stats.frames += 1
        result = FrameResult(frame)
        if ip is None:
            result.note = self.ip.last_error
            return result
        result.ip = ip
        self._ip(ip, result, frame, depth=0)
        return result

    def flush(self) -> list[Any]:
        """At the end of the capture: units completed by data buffered past TCP holes and by
        the trackers' own buffers (internal events are dropped)."""
        out: list[Any] = []
        for chunk in self.tcp.flush():
            out.extend(self._stream(chunk))
        out.extend(self.tls.flush())  # records the capture ends in (truncated_record)
        for t in self._all_trackers():
            out.extend(self._events(t.flush(), t.name))
        self._internal.clear()
        return out

    def tls_owned(self, index: int) -> bool:
        """Whether the TLS tracker (not another stream tracker) has TCP connection ``index``."""
        if not self.stream_trackers:
            return True
        return index in self._owner and self._owner[index] is None

    def _all_trackers(self) -> list[StreamTracker | DatagramTracker]:
        return [*self.stream_trackers, *self.datagram_trackers]

    def _ip(
        self,
        ip: IPPacket,
        result: FrameResult,
        frame: Frame,
        depth: int,
        level: Decapsulated | None = None,
    ) -> None:
        """Everything above IP.  ``level`` is the decapsulated packet being processed (``None``
        for the frame's own IP packet); units found are added to ``result.units`` in capture
        order and to ``level.units``."""
        proto = ip.proto
        if proto == PROTO_TCP:
            tcp = self.tcp
            for chunk in tcp.feed(ip):
                self._add(result, level, self._stream(chunk))
            if level is None:
                result.tcp_conn = tcp.last_conn
            else:
                level.tcp_conn = tcp.last_conn
            if tcp.released:
                self._released(result, ip.frame)
        elif proto == PROTO_ESP:
            self._esp(ip.payload, ip, result, frame, depth, level, udp=False)
        elif proto == PROTO_UDP:
            p = ip.payload
            if len(p) >= 8:
                sport, dport = struct.unpack_from("!HH", p)
                body = p[8:]
                if NATT_PORT in (sport, dport) and body[:4] != b"\0\0\0\0":
                    if body == b"\xff":
                        result.note = "NAT-keepalive"
                    elif len(body) >= 8:
                        self._esp(body, ip, result, frame, depth, level, udp=True)
                    return
                if self.datagram_trackers:
                    dgram = Datagram(ip, sport, dport, body)
                    for t in self.datagram_trackers:
                        if t.claims(dgram):
                            self._add(result, level, self._events(t.feed(dgram), t.name))
                            return
                if NATT_PORT in (sport, dport):
                    result.note = "IKE (non-ESP marker)"
                elif dport in UDP_TUNNEL_PORTS:
                    inner = decap_udp_tunnel(dport, body)
                    if inner is not None:
                        self._decap(inner[0], inner[1], inner[2], ip, result, frame, depth)
        elif proto == PROTO_AH:
            self._ah(ip, result, level)
        elif proto in (PROTO_IPIP, PROTO_IPV6) or proto == PROTO_GRE:
            inner = decap_gre(ip.payload) if proto == PROTO_GRE else ("ipip", LT_RAW, ip.payload)
            if inner is not None:
                self._decap(inner[0], inner[1], inner[2], ip, result, frame, depth)

    def _released(self, result: FrameResult, frame: int) -> None:
        released, self.tcp.released = self.tcp.released, []
        for conn in released:
            self.tls.release(conn.index)
            owner = self._owner.pop(conn.index, None)
            if owner:
                owner.release(conn)
            result.events.append(ConnectionReleased(frame, conn))

    def _add(self, result: FrameResult, level: Decapsulated | None, units: list[Any]) -> None:
        """Units to ``units``; the internal events gathered meanwhile (``self._internal``) to
        ``events`` — of the frame and of the decapsulated level."""
        if units:
            result.units.extend(units)
            if level is not None:
                level.units.extend(units)
        internal = self._internal
        if internal:
            result.events.extend(internal)
            if level is not None:
                level.events.extend(internal)
            internal.clear()

    def _decap(
        self,
        encap: str,
        linktype: int,
        data: bytes,
        outer: IPPacket,
        result: FrameResult,
        frame: Frame,
        depth: int,
    ) -> None:
        """A tunnel's payload re-enters the pipeline as a frame of its own (bounded nesting)."""
        if depth >= MAX_NESTING:
            result.note = f"{encap}: nested deeper than {MAX_NESTING} levels, not opened"
            return
        inner = self.inner_ip.feed(Frame(frame.number, frame.ts_ns, linktype, data, len(data)))
        if inner is None:
            return
        if not inner.link or linktype != frame.linktype:
            inner.link = relink(outer.link, frame.linktype, inner.version)
        level = Decapsulated(encap, inner)
        result.inner.append(level)
        result.inner_ips.append(inner)
        self._ip(inner, result, frame, depth + 1, level)

    def _stream(self, chunk: Any) -> list[Any]:
        """Hand a TCP chunk to the tracker owning its connection (claimed on the first bytes)."""
        if not self.stream_trackers:
            return self._tls(chunk)
        index = chunk.conn.index
        owner = self._owner.get(index, False)
        if owner is False:
            if not chunk.data:
                return self._tls(chunk)
            owner = next((t for t in self.stream_trackers if t.claims(chunk)), None)
            self._owner[index] = owner
            if owner is not None:
                self._internal.append(ConnectionClaimed(chunk.frame, chunk.conn, owner.name))
        if owner is None:
            return self._tls(chunk)
        assert not isinstance(owner, bool)
        return self._events(owner.feed(chunk), owner.name)

    def _events(self, events: list[Any], tracker: str) -> list[Any]:
        """A tracker's output: apply what the engine acts on (derived SAs), set the internal
        events aside (``self._internal``), count and return the units."""
        units = []
        for ev in events:
            if isinstance(ev, InternalEvent):
                self._internal.append(ev)
                if isinstance(ev, SADerived):
                    self.ipsec.add_sa(ev.sa)
            else:
                units.append(ev)
        if units:
            self._count(units, tracker)
        return units

    def _count(self, units: list[Any], tracker: str) -> None:
        """A tracker's units in the stats: TLS records (e.g. after a mail STARTTLS) as TLS
        records, the rest under the tracker's name."""
        st = self.stats
        n = decrypted = 0
        for u in units:
            if type(u) is TLSRecordInfo:
                self._count_tls(u)
                continue
            n += 1
            decrypted += getattr(u, "decrypted", False) is True
        if n:
            st.units[tracker] = st.units.get(tracker, 0) + n
        if decrypted:
            st.units_decrypted[tracker] = st.units_decrypted.get(tracker, 0) + decrypted

    def _count_tls(self, r: TLSRecordInfo) -> None:
        st = self.stats
        st.tls_records += 1
        if r.decrypted:
            st.tls_decrypted += 1
        elif r.failure in UNREADABLE_TLS:  # not authenticated, or not decompressed
            st.tls_failed += 1

    def _tls(self, chunk: Any) -> list[Any]:
        recs = self.tls.feed(chunk)
        count = self._count_tls
        for r in recs:
            count(r)
        if self.tls.events:
            self._internal.extend(self.tls.take_events())
        return recs

    def _esp(
        self,
        esp: bytes,
        ip: IPPacket,
        result: FrameResult,
        frame: Frame,
        depth: int,
        level: Decapsulated | None,
        udp: bool,
    ) -> None:
        info = self.ipsec.esp(esp, ip, frame.number, udp=udp)
        self._add(result, level, [info])
        if info.opened is not None and depth < MAX_NESTING:
            self._inner(info.opened, ip, result, frame, depth)

    def _inner(
        self, opened: ESPPlaintext, outer: IPPacket, result: FrameResult, frame: Frame, depth: int
    ) -> None:
        nh = opened.next_header
        if not self.inner_packets:
            p = opened.payload
            inner_proto = nh
            if nh == PROTO_IPIP and len(p) >= 20:
                inner_proto = p[9]
            elif nh == 41 and len(p) >= 40:
                inner_proto = p[6]
            if inner_proto != PROTO_TCP or not self._inner_tcp_matters():
                return
        if nh in (PROTO_IPIP, PROTO_IPV6):  # tunnel mode: an inner IP packet
            inner = self.inner_ip.feed(
                Frame(frame.number, frame.ts_ns, LT_RAW, opened.payload, len(opened.payload))
            )
            if inner is None:
                return
            inner.link = relink(outer.link, frame.linktype, inner.version)
        elif nh in (PROTO_TCP, PROTO_UDP):  # transport mode: the upper layer under the outer header
            inner = IPPacket(
                outer.version,
                outer.src,
                outer.dst,
                nh,
                opened.payload,
                outer.header,
                outer.link,
                frame.number,
                frame.ts_ns,
                outer.reassembled,
            )
        else:
            return
        level = Decapsulated("esp", inner)
        result.inner.append(level)
        result.inner_ips.append(inner)
        self._ip(inner, result, frame, depth + 1, level)

    def _inner_tcp_matters(self) -> bool:
        """Decrypt mode (``inner_packets=False``): whether a TCP segment that ESP carried can
        change what is written — only with key material for a TCP stream (TLS, SSH, mail: the
        plaintext rewriter's test) or IKE keys (IKE over TCP derives SAs).  Without, the
        rewriter writes the decrypted packet as it is, and reassembling it is wasted work
        (about a quarter of ``decrypt -w``'s time on a TCP-heavy tunnel).  Asked per packet:
        keys may arrive during the capture (Decryption Secrets Blocks); a connection inside ESP
        that began before the first TCP keys arrived is followed from then on."""
        if not self.tls_keys.empty:
            return True
        for t in self.stream_trackers:
            if t.has_keys():
                return True
        for d in self.datagram_trackers:
            keys = getattr(d, "keys", None)
            if isinstance(keys, IKEKeys) and (keys.v1 or keys.v2):
                return True
        return False

    def _ah(self, ip: IPPacket, result: FrameResult, level: Decapsulated | None) -> None:
        self._add(result, level, [self.ipsec.ah(ip)])


def __getattr__(name: str) -> Any:
    # ``iter_capture`` reads files, so it lives in the I/O floor (netsec_layers.io.capture); this
    # name is kept for code written against earlier releases, without a static import upward.
    if name == "iter_capture":
        import importlib

        return importlib.import_module("netsec_layers.io.capture").iter_capture
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
