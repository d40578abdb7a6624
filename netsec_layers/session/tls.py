"""Sans-I/O SSL/TLS connection tracker.

Feed it the in-order TCP bytes of each direction (:class:`~netsec_layers.session.tcp.StreamChunk`)
and it returns one :class:`TLSRecordInfo` per complete record, in capture order. It follows the
handshake (versions, suite, randoms, session id/ticket, encrypt_then_mac, extended_master_secret,
HelloRetryRequest), derives keys when the key material allows, switches keys at ChangeCipherSpec /
Finished / EndOfEarlyData / KeyUpdate, decrypts and authenticates each record, and checks the
Finished verify_data as proof the keys are right.

Dissection of the bytes is the layers' business; this module only frames records and reads the
few handshake fields it needs with ``struct`` (:mod:`.tls_hello`), so it stays fast.
A record that fails authentication is reported with an ``error`` and no plaintext.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple

from netsec_layers.constants.tls import MAX_RECORD_LENGTH, looks_like_record_header
from netsec_layers.errors import DecompressionError, IntegrityError, NetsecError
from netsec_layers.session import tls_ech
from netsec_layers.session import tls_hello as hs
from netsec_layers.session import tls_warnings as tw
from netsec_layers.session.tcp import DEFAULT_MAX_CLOSED, DEFAULT_MAX_CONNECTIONS, closed_past
from netsec_layers.session.tls_fingerprint import HelloFingerprint, fingerprint_hello
from netsec_layers.session.tls_keys import TLSKeyMaterial
from netsec_layers.session.tls_warnings import TLSWarning, WarningCode
from netsec_layers.session.trackers import InternalEvent, StreamTracker
from netsec_layers.session.verdicts import TLSFailure

if TYPE_CHECKING:
    from netsec_layers.crypto.tls_record import RecordProtection
    from netsec_layers.crypto.tls_suites import CipherSuiteInfo
    from netsec_layers.session.tcp import StreamChunk, TCPConn

CT_CCS, CT_ALERT, CT_HANDSHAKE, CT_APPDATA, CT_HEARTBEAT = 20, 21, 22, 23, 24
KNOWN_CONTENT_TYPES = frozenset((CT_CCS, CT_ALERT, CT_HANDSHAKE, CT_APPDATA, CT_HEARTBEAT))
MAX_RECORD = MAX_RECORD_LENGTH
MAX_HANDSHAKE_MESSAGE = 1 << 20  # bound reassembly of one handshake message
MAX_TRANSCRIPT = 4 << 20
MAX_SKIPPED = 16  # failed records in a row that recovery steps over


@dataclass(slots=True)
class TLSRecordInfo:
    """One SSL/TLS record as seen on one TCP direction."""

    frame: int
    ts_ns: int
    stream: int
    from_client: bool
    content_type: int
    version: int
    length: int
    raw: bytes  # header + fragment exactly as on the wire
    decrypted: bool = False
    inner_content_type: int | None = None
    plaintext: bytes | None = None  # the fragment (plaintext records) or authenticated plaintext
    handshake_types: list[int] = field(default_factory=list)
    alert: tuple[int, int] | None = None
    error: str | None = None
    sslv2: bool = False
    failure: TLSFailure | None = None  # the typed reason behind ``error``
    fingerprint: HelloFingerprint | None = None  # JA3/JA4 (ClientHello) or JA3S (ServerHello)
    warnings: list[TLSWarning] | None = None  # expert warnings (None: none, no list allocated)
    ech: tls_ech.ECHInfo | None = None  # ClientHello/ServerHello of an ECH handshake (RFC 9849)

    def warn(self, code: WarningCode, text: str) -> None:
        if self.warnings is None:
            self.warnings = []
        self.warnings.append(TLSWarning(code, text))

    def to_json(self) -> dict[str, Any]:
        """The ``netsec dissect --json`` object (contract of issue #2; keys only added, never changed)."""
        fp = self.fingerprint
        return {
            "proto": "tls",
            "frame": self.frame,
            "stream": self.stream,
            "dir": "c2s" if self.from_client else "s2c",
            "content_type": self.content_type,
            "version": self.version,
            "length": self.length,
            "decrypted": self.decrypted,
            "inner_content_type": self.inner_content_type,
            "handshake_types": list(self.handshake_types),
            "alert": list(self.alert) if self.alert else None,
            "app_data": self.plaintext.hex()
            if self.decrypted
            and self.inner_content_type == CT_APPDATA
            and self.plaintext is not None
            else None,
            "error": self.error,
            # Issue #20: expert warnings ([] when none) and the hello fingerprints (null on
            # records that complete no ClientHello/ServerHello).
            "warnings": [w.to_json() for w in self.warnings] if self.warnings else [],
            "ja3": fp.ja3 if fp else None,
            "ja3_string": fp.ja3_string if fp else None,
            "ja3s": fp.ja3s if fp else None,
            "ja3s_string": fp.ja3s_string if fp else None,
            "ja4": fp.ja4 if fp else None,
            "ech": self.ech.to_json() if self.ech else None,  # RFC 9849 (docs/cli-contract.md)
        }


class DirState(Enum):
    """What one direction of a TCP connection is, as far as TLS framing goes."""

    NEW = "new"  # no record boundary found yet
    TLS = "tls"  # in sync with the record stream
    NOT_TLS = "not TLS"  # the first bytes are not a TLS record
    DESYNC = "desync"  # a TCP gap: looking for the next record header


class TLSConnState(Enum):
    """What the tracker knows of a connection's keys (reported by :class:`TLSConnectionEvent`)."""

    PENDING = "pending"  # not yet known
    NOT_TLS = "not TLS"  # neither direction carries TLS records
    NO_KEY = "no key"  # encrypted records will come, and no key material matches
    KEYED = "keyed"  # keys are known; whether they are right, the records tell


@dataclass(slots=True)
class TLSConnectionEvent(InternalEvent):
    """The tracker's view of a connection changed (emitted once per change, not a JSON unit)."""

    frame: int
    stream: int
    state: TLSConnState
    client: tuple[str, int]  # the TLS client (ClientHello sender) and server endpoints
    server: tuple[str, int]


@dataclass(slots=True)
class _Direction:
    buf: bytearray = field(default_factory=bytearray)
    state: DirState = DirState.NEW
    scan_pos: int = 0  # resync: first offset not yet rejected
    hs_buf: bytearray = field(default_factory=bytearray)
    encrypted: bool = False
    prot: RecordProtection | None = None
    candidates: list[RecordProtection] = field(default_factory=list)
    pending: RecordProtection | None = None  # TLS ≤ 1.2: becomes active at ChangeCipherSpec
    early_suites: list[int] = field(default_factory=list)  # TLS 1.3 0-RTT: suite not yet known
    key_update_after: bool = False
    # Fragments of the records that failed authentication since the last good one (bounded):
    # the sender's sequence number moved on past them (recovery, issue #20).
    skipped: list[tuple[int, bytes]] = field(default_factory=list)  # (length, last 64 bytes)
    # the largest plaintext this direction's sender may put in a record, as negotiated by
    # max_fragment_length (RFC 6066 §4) or record_size_limit (RFC 8449 §4); 0: none
    max_fragment: int = 0
    limit_rule: str = ""  # which of the two set it, for the warning's text
    iv_suspect: bool = False  # the record just opened past a failed one has an unproven IV


@dataclass(slots=True)
class TLSConnection:
    """Handshake state of one TCP connection."""

    index: int
    tcp: TCPConn
    client_is_tcp_client: bool = True
    client_hello: hs.Hello | None = None
    server_hello: hs.Hello | None = None
    hrr: bool = False
    version: int | None = None
    suite: int | None = None
    suite_info: CipherSuiteInfo | None = None
    master_secret: bytes | None = None
    key_source: str | None = None
    secrets13: dict[str, bytes] = field(default_factory=dict)
    ems: bool = False
    etm: bool = False
    resumed: bool = False
    transcript: list[tuple[int, bytes]] = field(default_factory=list)
    transcript_size: int = 0
    finished_ok: dict[str, bool] = field(default_factory=dict)
    # A protected record of the handshake could not be decrypted (e.g. 0-RTT data and
    # EndOfEarlyData without CLIENT_EARLY_TRAFFIC_SECRET): Finished cannot be checked then.
    incomplete: set[bool] = field(default_factory=set)  # from_client values with such records
    client: _Direction = field(default_factory=_Direction)
    server: _Direction = field(default_factory=_Direction)
    certificate: bytes | None = None  # the first (end-entity) certificate, DER
    certificate_chain: list[dict[str, str | None]] | None = None  # subject, issuer, validity, key
    closed: bool = False  # its TCP connection closed; cipher state and buffers dropped
    records: int = 0
    decrypted: int = 0
    failed: int = 0
    client_fingerprint: HelloFingerprint | None = None  # of the first ClientHello
    ech: tls_ech.ECHInfo | None = None  # the last ClientHello's encrypted_client_hello
    server_fingerprint: HelloFingerprint | None = None  # of the ServerHello
    warning_counts: dict[str, int] = field(default_factory=dict)  # code -> records warned
    close_notify: set[bool] = field(default_factory=set)  # from_client values that sent one
    last_frame: int = 0  # the frame of its last bytes (for truncated_record at the end)
    last_ts_ns: int = 0
    reported: TLSConnState = TLSConnState.PENDING  # the state last sent as an event

    @property
    def is13(self) -> bool:
        return self.version is not None and self.version >= 0x0304

    @property
    def sni(self) -> str | None:
        return self.client_hello.sni() if self.client_hello else None


_CHACHA = "CHACHA20_POLY1305"
_LANE_CIPHERS = frozenset(("AES_128_GCM", "AES_256_GCM", _CHACHA))


class LaneDirection(NamedTuple):
    """One direction's record protection as :meth:`TLSTracker.check_out` hands it to the
    fast lane: ``mode`` "gcm12" (TLS 1.2 AES-GCM, RFC 5288 explicit nonce), "xor12" (TLS 1.2
    ChaCha20-Poly1305, RFC 7905) or "xor13" (TLS 1.3, RFC 8446 §5.3)."""

    mode: str
    cipher: str
    key: bytes
    iv: bytes
    seq: int
    held: bytes  # the start of a record not complete yet


_SETTLED_KEYED = TLSConnState.KEYED
_SETTLED_NOT_TLS = TLSConnState.NOT_TLS
_NO_KEY = TLSConnState.NO_KEY


def _conn_state(conn: TLSConnection) -> TLSConnState:
    if conn.client.state is DirState.NOT_TLS and conn.server.state is DirState.NOT_TLS:
        return TLSConnState.NOT_TLS
    if conn.key_source is not None or conn.master_secret is not None:
        return TLSConnState.KEYED
    if conn.server_hello is not None and (
        conn.is13 or (conn.transcript and conn.transcript[-1][0] == 16)  # ClientKeyExchange
    ):
        return TLSConnState.NO_KEY
    if conn.client.encrypted or conn.server.encrypted:
        return TLSConnState.NO_KEY
    return TLSConnState.PENDING


def _count_warnings(conn: TLSConnection, rec: TLSRecordInfo) -> None:
    counts = conn.warning_counts
    for w in rec.warnings or ():
        counts[w.code.value] = counts.get(w.code.value, 0) + 1


def _over_limit(info: TLSRecordInfo, n: int, d: _Direction) -> None:
    info.warn(
        WarningCode.OVERSIZED_RECORD,
        f"record of {n} plaintext bytes exceeds the negotiated {d.limit_rule}",
    )


def _negotiate_max_fragment(conn: TLSConnection, answer: hs.Hello) -> None:
    """The record size limits a server's answer (ServerHello; TLS 1.3: EncryptedExtensions)
    puts in force.

    RFC 6066 §4: the server's echo of the client's max_fragment_length code 1-4 sets 2^(8+code)
    both ways.  RFC 8449 §4: record_size_limit is in force once both sides sent one; each value
    is the largest record its *sender* will receive, so the client's value limits what the
    server sends and the other way round; in TLS 1.3 it counts TLSInnerPlaintext (the content
    type byte too, so the content is one less); values under 64 are illegal and ignored here.
    §5: when both extensions are negotiated, record_size_limit wins.
    """
    ch = conn.client_hello
    offered = ch.extensions.get(hs.EXT_MAX_FRAGMENT_LENGTH) if ch else None
    echoed = answer.extensions.get(hs.EXT_MAX_FRAGMENT_LENGTH)
    if offered and offered == echoed and len(echoed) == 1 and 1 <= echoed[0] <= 4:
        limit = 1 << (8 + echoed[0])
        for d in (conn.client, conn.server):
            if d.limit_rule.startswith("max_fragment") or not d.limit_rule:
                d.max_fragment = limit
                d.limit_rule = f"max_fragment_length {limit} (RFC 6066 §4)"
    client_rsl = ch.extensions.get(hs.EXT_RECORD_SIZE_LIMIT) if ch else None
    server_rsl = answer.extensions.get(hs.EXT_RECORD_SIZE_LIMIT)
    if client_rsl is None or server_rsl is None or len(client_rsl) != 2 or len(server_rsl) != 2:
        return
    sh = conn.server_hello or answer
    inner = 1 if sh.selected_version() >= 0x0304 else 0
    for d, value in ((conn.server, client_rsl), (conn.client, server_rsl)):
        limit = int.from_bytes(value, "big")
        if 64 <= limit and limit - inner < 1 << 14:  # kept only if narrower than 2^14 itself
            d.max_fragment = limit - inner
            d.limit_rule = f"record_size_limit {limit} (RFC 8449 §4)"


def _suite_name(hello: hs.Hello) -> str:
    from netsec_layers.crypto.tls_suites import suite_name

    return suite_name(hello.cipher_suite or 0)


def _compact(conn: TLSConnection) -> None:
    """A closed connection keeps its summary (hellos, version, suite, certificate, counts,
    secrets) but not its cipher contexts and buffers: a few hundred bytes instead of kilobytes."""
    for d in (conn.client, conn.server):
        d.prot = d.pending = None
        if d.candidates:
            d.candidates = []
        if d.buf:
            d.buf = bytearray()
        if d.hs_buf:
            d.hs_buf = bytearray()
    if conn.transcript:
        conn.transcript = []


class TLSTracker(StreamTracker):
    """Frames, follows and (given keys) decrypts the TLS connections of a capture.

    The engine's default stream tracker: it gets every TCP connection no other tracker claimed
    and decides by content itself (a direction whose first bytes are not a record header is
    "not TLS", :class:`DirState`)."""

    name = "tls"

    def claims(self, chunk: StreamChunk) -> bool:
        return (
            looks_like_record_header(chunk.data)
            or hs.parse_sslv2_client_hello(chunk.data) is not None
        )

    def __init__(
        self,
        keys: TLSKeyMaterial | None = None,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        max_closed: int = DEFAULT_MAX_CLOSED,
        on_release: Callable[[TLSConnection], None] | None = None,
        managed: bool = False,
    ) -> None:
        # ``managed``: the capture engine's one connection table decides when a connection
        # goes (:meth:`release`); the tracker then keeps no LRU or closed list of its own.
        self.managed = managed
        self.keys = keys if keys is not None else TLSKeyMaterial()
        # Insertion-ordered; moved to the end on use, so the first entry is the least recently used.
        # (an OrderedDict: popping the oldest entry of a plain dict under churn costs O(n), as
        # the deleted slots at its front are scanned on every next(iter()))
        self.connections: OrderedDict[int, TLSConnection] = OrderedDict()
        self.max_connections = max_connections
        self.evicted = 0  # connections still open when max_connections pushed them out
        # Closed connections (both FINs or a RST) stay in ``connections`` until more than
        # ``max_closed`` are held; then the oldest closed ones are released.
        self.max_closed = max_closed
        self._closed: deque[int] = deque()
        # Called with every connection that leaves ``connections`` (``netsec stats`` prints it).
        self.on_release = on_release
        self.events: list[TLSConnectionEvent] = []

    def release_all(self) -> None:
        """Hand every connection still held to ``on_release`` (by index) and forget them."""
        conns, self.connections = self.connections, OrderedDict()
        self._closed.clear()
        if self.on_release is not None:
            for index in sorted(conns):
                self.on_release(conns[index])

    # -- stream input ---------------------------------------------------------------------------
    def feed(self, chunk: StreamChunk) -> list[TLSRecordInfo]:
        conns = self.connections
        conn = conns.get(chunk.conn.index)
        if conn is None:
            if chunk.conn.closed and not chunk.data:
                return []  # the end of a closed connection already released (or never TLS)
            if not self.managed and len(conns) >= self.max_connections:
                # Bounded state: the least recently used connection goes; one that was still
                # open is counted in `evicted` (closed ones leave silently).
                _, old = conns.popitem(last=False)
                if not old.closed:
                    self.evicted += 1
                if self.on_release is not None:
                    self.on_release(old)
            conn = TLSConnection(chunk.conn.index, chunk.conn)
            conns[chunk.conn.index] = conn
        elif chunk.conn.closed or len(conns) > 1024:
            conns.move_to_end(chunk.conn.index)
        conn.last_frame, conn.last_ts_ns = chunk.frame, chunk.ts_ns
        out = self._records(conn, chunk)
        reported = conn.reported
        if reported is _SETTLED_KEYED or reported is _SETTLED_NOT_TLS or reported is _NO_KEY:
            pass  # settled: nothing more to report (keys that come later go unannounced)
        elif (state := _conn_state(conn)) is not reported:
            conn.reported = state
            tcp = conn.tcp
            c, sv = (
                (tcp.client, tcp.server) if conn.client_is_tcp_client else (tcp.server, tcp.client)
            )
            self.events.append(TLSConnectionEvent(chunk.frame, conn.index, state, c, sv))
        if chunk.fin:
            self._truncated(conn, chunk.frame, chunk.ts_ns, (chunk.from_client,), out)
        if chunk.conn.closed and not conn.closed:  # also for connections that are not TLS
            self._truncated(conn, chunk.frame, chunk.ts_ns, (True, False), out)
            self._close(conn)
        return out

    def flush(self) -> list[TLSRecordInfo]:
        """At the end of the capture: a ``truncated_record`` object for each direction of an open
        connection that holds part of a record or handshake message (the capture ends in it), in
        the frame that brought its last bytes."""
        out: list[TLSRecordInfo] = []
        for conn in list(self.connections.values()):
            if not conn.closed:
                self._truncated(
                    conn, conn.last_frame, conn.last_ts_ns, (True, False), out, "capture ends"
                )
        return out

    def _truncated(
        self,
        conn: TLSConnection,
        frame: int,
        ts_ns: int,
        directions: tuple[bool, ...],
        out: list[TLSRecordInfo],
        why: str = "connection closed",
    ) -> None:
        """A direction ended (its FIN, the connection's RST/close, the capture's end) with part of
        a record or handshake message held: one record object with a ``truncated_record``
        warning."""
        for from_tcp_client in directions:
            d = conn.client if from_tcp_client else conn.server
            if d.state is not DirState.TLS or not (d.buf or d.hs_buf):
                continue
            buf = bytes(d.buf)
            d.buf.clear()
            ct = buf[0] if buf else CT_HANDSHAKE
            version = (buf[1] << 8) | buf[2] if len(buf) >= 3 else 0
            claimed = (buf[3] << 8) | buf[4] if len(buf) >= 5 else 0
            info = TLSRecordInfo(
                frame,
                ts_ns,
                conn.index,
                from_tcp_client == conn.client_is_tcp_client,
                ct,
                version,
                claimed,
                buf,
            )
            if buf:
                info.warn(
                    WarningCode.TRUNCATED_RECORD,
                    f"{why} inside a record: {max(0, len(buf) - 5)} of {claimed} bytes"
                    if len(buf) >= 5
                    else f"{why} inside a record header ({len(buf)} of 5 bytes)",
                )
                if claimed > MAX_RECORD:
                    info.warn(
                        WarningCode.OVERSIZED_RECORD,
                        f"record length {claimed} exceeds 2^14+2048 (RFC 5246 §6.2.3)",
                    )
            else:
                info.inner_content_type = CT_HANDSHAKE
                need = int.from_bytes(d.hs_buf[1:4], "big") if len(d.hs_buf) >= 4 else 0
                info.warn(
                    WarningCode.TRUNCATED_RECORD,
                    f"{why} inside handshake message {d.hs_buf[0]}: "
                    f"{max(0, len(d.hs_buf) - 4)} of {need} bytes",
                )
            d.hs_buf.clear()
            _count_warnings(conn, info)
            out.append(info)

    def take_events(self) -> list[TLSConnectionEvent]:
        """Connection events since the last call (the engine passes them on with the records)."""
        events, self.events = self.events, []
        return events

    def _records(self, conn: TLSConnection, chunk: StreamChunk) -> list[TLSRecordInfo]:
        """The records ``chunk`` completes in its direction of ``conn``."""
        from_tcp_client = chunk.from_client
        d = conn.client if from_tcp_client else conn.server
        out: list[TLSRecordInfo] = []
        if d.state is DirState.NOT_TLS:
            return out
        data = chunk.data
        if not chunk.gap and d.state is DirState.TLS and not d.buf:
            # Fast path (issue #22): nothing held and the chunk starts on a record boundary,
            # the usual case: records are cut from the chunk's bytes directly (one copy each,
            # none for a chunk that is one whole record), only a partial tail is held.
            pos = 0
            n = len(data)
            while n - pos >= 5:
                length = (data[pos + 3] << 8) | data[pos + 4]
                end = pos + 5 + length
                if end > n:
                    break
                rec = self._record(
                    conn,
                    d,
                    from_tcp_client,
                    chunk,
                    data[pos],
                    (data[pos + 1] << 8) | data[pos + 2],
                    length,
                    data if end == n and not pos else data[pos:end],
                )
                pos = end
                if rec.warnings:
                    _count_warnings(conn, rec)
                out.append(rec)
                if d.state is not DirState.TLS:
                    break
            if pos < n:
                d.buf += data[pos:] if pos else data
            return out
        if chunk.gap:
            d.buf.clear()
            d.hs_buf.clear()
            if d.state is DirState.TLS:
                d.state = DirState.DESYNC
        if data:
            d.buf += data
        if d.state is DirState.NEW or d.state is DirState.DESYNC:
            if not self._sync(conn, d, from_tcp_client, chunk, out):
                return out
        buf = d.buf
        pos = 0
        n = len(buf)
        while n - pos >= 5:
            ct = buf[pos]
            version = (buf[pos + 1] << 8) | buf[pos + 2]
            length = (buf[pos + 3] << 8) | buf[pos + 4]
            end = pos + 5 + length
            if end > n:
                break
            raw = bytes(buf[pos:end])
            pos = end
            rec = self._record(conn, d, from_tcp_client, chunk, ct, version, length, raw)
            if rec.warnings:
                _count_warnings(conn, rec)
            out.append(rec)
            if d.state is not DirState.TLS:
                break
        if pos:
            del buf[:pos]
        return out

    # -- the fast lane (session/fastlane.py) ---------------------------------------------------
    def check_out(self, index: int) -> tuple[bool, LaneDirection, LaneDirection] | None:
        """The state of connection ``index`` for the native fast lane, if both directions are
        in the steady state of :meth:`_record`'s fast path under an AEAD the lane has (AES-GCM,
        ChaCha20-Poly1305; no compression) and the connection's keys are settled: whether the
        TLS client is the TCP client, then the TCP client's direction and the server's.
        ``None`` when not; nothing is changed either way (the lane's copy of the sequence
        numbers and buffers is the one that counts until :meth:`check_in`)."""
        if not self.lane_possible(index):  # the connection, its AEADs and compression
            return None
        conn = self.connections[index]
        if conn.reported is not _SETTLED_KEYED:
            return None
        dirs: list[LaneDirection] = []
        for d in (conn.client, conn.server):
            prot = d.prot
            if (
                prot is None
                or d.state is not DirState.TLS
                or not d.encrypted
                or d.skipped
                or d.max_fragment
                or d.iv_suspect
                or d.key_update_after
                or len(d.buf) > MAX_RECORD + 5
            ):
                return None
            mode = (
                "xor13" if prot.is_tls13 else "xor12" if prot.suite.cipher == _CHACHA else "gcm12"
            )
            dirs.append(
                LaneDirection(mode, prot.suite.cipher, prot.key, prot.iv, prot.seq, bytes(d.buf))
            )
        return conn.client_is_tcp_client, dirs[0], dirs[1]

    def lane_possible(self, index: int) -> bool:
        """Whether connection ``index`` can ever be checked out (its protection is one the
        lane has); ``False`` is final, so the caller need not ask :meth:`check_out` again."""
        conn = self.connections.get(index)
        if conn is None or conn.closed or conn.close_notify:
            return False
        for d in (conn.client, conn.server):
            if d.prot is not None and (
                d.prot.suite.cipher not in _LANE_CIPHERS or d.prot.compression
            ):
                return False
        return True

    def check_in(
        self,
        index: int,
        client: tuple[int, bytes, int],
        server: tuple[int, bytes, int],
        last: tuple[int, int] | None,
    ) -> None:
        """The lane's state back, per TCP direction (client's, server's): the next record
        sequence number, the start of a record held, the records it opened; ``last``: the
        frame and time of the last bytes it took (``None``: it took none)."""
        conn = self.connections[index]
        for d, (seq, held, records) in ((conn.client, client), (conn.server, server)):
            assert d.prot is not None
            d.prot.seq = seq
            d.buf[:] = held
            conn.records += records
            conn.decrypted += records
        if last is not None:
            conn.last_frame, conn.last_ts_ns = last

    def release(self, conn: TCPConn | int) -> None:
        """The connection table dropped a TCP connection (or its index): forget it
        (``on_release``)."""
        index = conn if isinstance(conn, int) else conn.index
        old = self.connections.pop(index, None)
        if old is not None and self.on_release is not None:
            self.on_release(old)

    def _close(self, conn: TLSConnection) -> None:
        conn.closed = True
        _compact(conn)
        if self.managed:
            return
        for index in closed_past(self._closed, conn.index, self.max_closed):
            old = self.connections.pop(index, None)
            if old is not None and self.on_release is not None:
                self.on_release(old)

    def _sync(
        self,
        conn: TLSConnection,
        d: _Direction,
        from_tcp_client: bool,
        chunk: StreamChunk,
        out: list[TLSRecordInfo],
    ) -> bool:
        buf = d.buf
        if (
            d.state is DirState.NEW
            and len(buf) >= 2
            and buf[0] & 0x80
            and len(buf) >= 3
            and buf[2] == 1
        ):
            v2 = hs.parse_sslv2_client_hello(bytes(buf))
            if v2 is not None:
                hello, used = v2
                out.append(
                    self._sslv2_hello(conn, from_tcp_client, chunk, hello, bytes(buf[:used]))
                )
                del buf[:used]
                d.state = DirState.TLS
                return True
        if len(buf) < 5:
            return False
        if looks_like_record_header(buf) or (
            # A stream that opens with a record header claiming more than 2^14+2048 bytes is
            # reported (oversized_record), not silently taken as something else (issue #20).
            d.state is DirState.NEW and 20 <= buf[0] <= 24 and buf[1] == 3 and buf[2] <= 4
        ):
            d.state = DirState.TLS
            return True
        # Resynchronise (mid-stream capture start, or after a TCP gap): the first offset where a
        # record header is followed by another header or by the exact end of the data. Offsets
        # already rejected are not scanned again (d.scan_pos): linear time in the bytes seen.
        limit = min(len(buf) - 5, 1 << 16)
        off = max(1, d.scan_pos)
        while off <= limit:
            if looks_like_record_header(buf, off):
                nxt = off + 5 + ((buf[off + 3] << 8) | buf[off + 4])
                if nxt == len(buf) or looks_like_record_header(buf, nxt):
                    del buf[:off]
                    d.state = DirState.TLS
                    d.scan_pos = 0
                    return True
                if nxt + 5 > len(buf):
                    break  # undecided until more data arrives: resume here
            off += 1
        d.scan_pos = off
        if d.state is DirState.NEW and len(buf) >= 5:
            d.state = DirState.NOT_TLS
            buf.clear()
        elif len(buf) > 1 << 17:
            cut = len(buf) - (1 << 16)
            del buf[:cut]
            d.scan_pos = max(0, d.scan_pos - cut)
        return False

    # -- records ----------------------------------------------------------------------------------
    def _record(
        self,
        conn: TLSConnection,
        d: _Direction,
        from_tcp_client: bool,
        chunk: StreamChunk,
        ct: int,
        version: int,
        length: int,
        raw: bytes,
    ) -> TLSRecordInfo:
        if (
            ct == CT_APPDATA
            and d.encrypted
            and length <= MAX_RECORD
            and not d.skipped
            and not d.max_fragment
            and not d.iv_suspect
            and not conn.close_notify
            and (prot := d.prot) is not None
            and not prot.compression
        ):
            # Fast path (issue #22): a protected application-data record under the current
            # keys, nothing to recover or check first.  On a failure the full path below
            # runs from the start (a failed open changes no state of the protection).
            fast = self._opened(conn, d, prot, from_tcp_client, chunk, version, length, raw)
            if fast is not None:
                return fast
        info = TLSRecordInfo(
            chunk.frame,
            chunk.ts_ns,
            conn.index,
            from_tcp_client == conn.client_is_tcp_client,
            ct,
            version,
            length,
            raw,
        )
        conn.records += 1
        fragment = raw[5:]
        if conn.close_notify and info.from_client in conn.close_notify:
            info.warn(
                WarningCode.DATA_AFTER_CLOSE_NOTIFY,
                "record after this side's close_notify alert (RFC 8446 §6.1: must be ignored)",
            )
        if ct not in KNOWN_CONTENT_TYPES:
            info.error = f"unknown content type {ct}"
            info.failure = TLSFailure.UNKNOWN_CONTENT_TYPE
            info.warn(WarningCode.UNKNOWN_CONTENT_TYPE, f"unknown record content type {ct}")
            return info
        if length > MAX_RECORD:
            info.error = f"record length {length} exceeds 2^14+2048"
            info.failure = TLSFailure.OVERSIZED
            info.warn(
                WarningCode.OVERSIZED_RECORD,
                f"record length {length} exceeds 2^14+2048 (RFC 5246 §6.2.3)",
            )
        protected = d.encrypted and ct != CT_CCS and not (conn.is13 and ct != CT_APPDATA)
        if d.max_fragment and len(fragment) > d.max_fragment and not protected:
            _over_limit(info, len(fragment), d)
        if not protected:
            info.inner_content_type = ct
            info.plaintext = fragment
            self._content(conn, d, from_tcp_client, ct, fragment, info)
            return info
        if d.prot is None and d.early_suites:
            self._setup_early(conn, d, ct, version, fragment)
        try:
            result = self._decrypt(d, ct, version, fragment)
        except DecompressionError as exc:
            # Authenticated, not decompressed (RFC 5246 §6.2.2 decompression_failure): a bad
            # DEFLATE stream, a bomb, or a stream state lost with an earlier record.
            info.error = f"decompression failed: {exc}"
            info.failure = (
                TLSFailure.DECOMPRESSION_OVERSIZED
                if exc.oversized
                else TLSFailure.DECOMPRESSION_FAILED
            )
            conn.failed += 1
            return info
        if result is None:
            if len(conn.finished_ok) < 2:
                conn.incomplete.add(info.from_client)
            if d.prot is None and not d.candidates:
                if not self.keys.empty:
                    info.error = "no key for this connection"
                    info.failure = TLSFailure.NO_KEY
            else:
                info.error = "decryption failed: record authentication (MAC/tag/padding) failed"
                info.failure = TLSFailure.DECRYPTION_FAILED
                conn.failed += 1
                if d.prot is not None and len(d.skipped) < MAX_SKIPPED:
                    d.skipped.append((len(fragment), fragment[-d.prot.SKIP_TAIL :]))
            return info
        if d.iv_suspect:
            # TLS 1.0 encrypt-then-MAC: the MAC held, but the IV (the failed record's last
            # block) is unproven, so the first plaintext block may be altered: not shown.
            d.iv_suspect = False
            info.error = "decryption failed: IV is the last block of a record that failed"
            info.failure = TLSFailure.DECRYPTION_FAILED
            conn.failed += 1
            return info
        inner_ct, plaintext = result
        if d.max_fragment and len(plaintext) > d.max_fragment:
            _over_limit(info, len(plaintext), d)
        info.decrypted = True
        info.inner_content_type = inner_ct
        info.plaintext = plaintext
        conn.decrypted += 1
        self._content(conn, d, from_tcp_client, inner_ct, plaintext, info)
        if d.key_update_after and d.prot is not None:
            d.prot.key_update()
            d.key_update_after = False
            d.skipped.clear()
        return info

    def _opened(
        self,
        conn: TLSConnection,
        d: _Direction,
        prot: RecordProtection,
        from_tcp_client: bool,
        chunk: StreamChunk,
        version: int,
        length: int,
        raw: bytes,
    ) -> TLSRecordInfo | None:
        """:meth:`_record`'s fast path: the application-data record opened with ``prot``, or
        None (it did not authenticate: the full path decides)."""
        try:
            inner_ct, plaintext = prot.decrypt(CT_APPDATA, version, raw[5:])
        except IntegrityError:
            return None
        info = TLSRecordInfo(
            chunk.frame,
            chunk.ts_ns,
            conn.index,
            from_tcp_client == conn.client_is_tcp_client,
            CT_APPDATA,
            version,
            length,
            raw,
            True,
            inner_ct,
            plaintext,
        )
        conn.records += 1
        conn.decrypted += 1
        if inner_ct != CT_APPDATA:  # TLS 1.3: a handshake message, an alert … inside
            self._content(conn, d, from_tcp_client, inner_ct, plaintext, info)
        if d.key_update_after and d.prot is not None:
            d.prot.key_update()
            d.key_update_after = False
            d.skipped.clear()
        return info

    def _decrypt(
        self, d: _Direction, ct: int, version: int, fragment: bytes
    ) -> tuple[int, bytes] | None:
        prot = d.prot
        if prot is not None:
            if d.skipped:
                # Recovery (issue #20): the records that failed were the sender's, damaged on
                # the way (try the state past them), or injected by someone else (the old
                # state, below). Authentication decides; both are tried at most once.
                saved = prot.snapshot()
                for length, tail in d.skipped:
                    prot.skip(length, tail)
                try:
                    result = prot.decrypt(ct, version, fragment)
                except IntegrityError:
                    prot.restore(saved)
                except DecompressionError:
                    d.skipped.clear()  # authenticated past the failed records
                    raise
                else:
                    d.skipped.clear()
                    d.iv_suspect = prot.iv_unauthenticated
                    return result
            try:
                result = prot.decrypt(ct, version, fragment)
            except IntegrityError:
                pass
            else:
                if d.skipped:  # the failed records were injected: the sender's state is right
                    d.skipped.clear()
                return result
        # Trial of the keys that may have taken over (0-RTT rejected or ended, handshake →
        # application keys without a decryptable Finished). AEAD/MAC make a wrong guess fail.
        for i, cand in enumerate(d.candidates):
            try:
                result = cand.decrypt(ct, version, fragment)
            except IntegrityError:
                continue
            d.prot = cand
            del d.candidates[: i + 1]
            d.skipped.clear()
            return result
        return None

    def _content(
        self,
        conn: TLSConnection,
        d: _Direction,
        from_tcp_client: bool,
        ct: int,
        data: bytes,
        info: TLSRecordInfo,
    ) -> None:
        if ct == CT_CCS:
            if not conn.is13:
                d.encrypted = True
                d.prot, d.pending = d.pending, None
                d.skipped.clear()
        elif ct == CT_ALERT:
            if len(data) >= 2:
                info.alert = (data[0], data[1])
                if data[1] == 0:  # close_notify (RFC 8446 §6.1)
                    conn.close_notify.add(info.from_client)
            else:
                info.error = info.error or "truncated alert"
                info.failure = info.failure or TLSFailure.MALFORMED
        elif ct == CT_HANDSHAKE:
            d.hs_buf += data
            msgs, used = hs.split_messages(d.hs_buf)
            if used:
                del d.hs_buf[:used]
            if len(d.hs_buf) >= 4:
                claimed = int.from_bytes(d.hs_buf[1:4], "big")
                if claimed > MAX_HANDSHAKE_MESSAGE:
                    info.error = (
                        f"handshake message of {claimed} bytes exceeds the reassembly limit"
                    )
                    info.failure = info.failure or TLSFailure.MALFORMED
                    d.hs_buf.clear()
            for mtype, msg in msgs:
                info.handshake_types.append(mtype)
                if mtype <= hs.HT_SERVER_HELLO:
                    self._hello_checks(conn, mtype, msg, info)
                try:
                    self._handshake(conn, d, from_tcp_client, mtype, msg, info)
                except NetsecError as exc:
                    info.error = info.error or f"malformed handshake message {mtype}: {exc}"
                    info.failure = info.failure or TLSFailure.MALFORMED
        elif ct == CT_HEARTBEAT:
            w = tw.heartbeat_overflow(data)
            if w is not None:
                info.warn(w.code, w.text)

    def _hello_checks(
        self, conn: TLSConnection, mtype: int, msg: bytes, info: TLSRecordInfo
    ) -> None:
        """Warnings a HelloRequest/ClientHello/ServerHello reveals, seen before it is used."""
        if (
            mtype == hs.HT_HELLO_REQUEST
            or (
                mtype == hs.HT_CLIENT_HELLO
                and conn.client_hello is not None
                and not (conn.hrr and conn.server_hello is None)
            )
        ) and not any(w.code is WarningCode.RENEGOTIATION for w in info.warnings or ()):
            info.warn(
                WarningCode.RENEGOTIATION,
                "HelloRequest: the server asks for renegotiation"
                if mtype == hs.HT_HELLO_REQUEST
                else "second ClientHello on this connection: renegotiation",
            )
        if mtype != hs.HT_HELLO_REQUEST and (why := tw.hello_length_mismatch(msg)):
            info.warn(WarningCode.HANDSHAKE_LENGTH_MISMATCH, f"handshake message {mtype}: {why}")

    # -- handshake ----------------------------------------------------------------------------------
    def _add_transcript(self, conn: TLSConnection, mtype: int, msg: bytes) -> None:
        if conn.transcript_size + len(msg) <= MAX_TRANSCRIPT:
            conn.transcript.append((mtype, msg))
            conn.transcript_size += len(msg)
        else:
            conn.transcript_size = MAX_TRANSCRIPT + 1  # too large: Finished cannot be checked

    def _transcript_bytes(self, conn: TLSConnection) -> bytes:
        return b"".join(m for _, m in conn.transcript)

    def _handshake(
        self,
        conn: TLSConnection,
        d: _Direction,
        from_tcp_client: bool,
        mtype: int,
        msg: bytes,
        info: TLSRecordInfo,
    ) -> None:
        from_client = from_tcp_client == conn.client_is_tcp_client
        post_handshake = (
            conn.is13
            and mtype in (hs.HT_NEW_SESSION_TICKET, hs.HT_KEY_UPDATE)
            or (mtype == hs.HT_HELLO_REQUEST)
        )
        if mtype == hs.HT_FINISHED:
            self._finished(conn, d, from_client, msg, info)
            self._add_transcript(conn, mtype, msg)
            self._after_finished(conn, d, from_client)
            return
        if not post_handshake:
            self._add_transcript(conn, mtype, msg)
        if mtype == hs.HT_CLIENT_HELLO:
            hello = hs.parse_hello(msg)
            info.ech = conn.ech = tls_ech.examine_client_hello(
                self.keys, msg, hello, previous=conn.ech
            )
            info.fingerprint = fingerprint_hello(hello)
            for w in tw.client_hello_warnings(hello):
                info.warn(w.code, w.text)
            if conn.client_fingerprint is None:
                conn.client_fingerprint = info.fingerprint
            if conn.client_hello is None:
                if not from_tcp_client and not conn.tcp.saw_syn:
                    # The ClientHello tells who the client is when no SYN was captured.
                    conn.client_is_tcp_client = False
                    info.from_client = True
                conn.client_hello = hello
                if hs.EXT_EARLY_DATA in hello.extensions:
                    # RFC 8446 §4.2.10: application data records that follow are 0-RTT data.
                    d_client = conn.client if conn.client_is_tcp_client else conn.server
                    d_client.early_suites = [
                        s for s in hello.cipher_suites if 0x1301 <= s <= 0x1305
                    ]
                    d_client.encrypted = True
            else:
                conn.client_hello = hello  # second ClientHello after HelloRetryRequest
        elif mtype == hs.HT_SERVER_HELLO:
            hello = hs.parse_hello(msg)
            info.fingerprint = fingerprint_hello(hello)
            if hello.is_hrr:
                # RFC 8446 §4.1.4: only TLS 1.3 sends HelloRetryRequest; its CCS (middlebox
                # compatibility, §D.4) must not switch a direction to "encrypted".
                conn.hrr = True
                conn.version = hello.selected_version()
                return
            self._ech_server_hello(conn, msg, hello, info)
            conn.server_hello = hello
            conn.server_fingerprint = info.fingerprint
            _negotiate_max_fragment(conn, hello)
            self._server_hello(conn, hello)
            for w in tw.server_hello_warnings(
                hello, suite_name=conn.suite_info.name if conn.suite_info else _suite_name(hello)
            ):
                info.warn(w.code, w.text)
        elif mtype == hs.HT_CERTIFICATE and not from_client and conn.certificate is None:
            self._certificate(conn, msg, info)
        elif mtype == hs.HT_CLIENT_KEY_EXCHANGE:
            self._client_key_exchange(conn, msg)
        elif mtype == hs.HT_NEW_SESSION_TICKET and not conn.is13:
            if conn.master_secret is not None:
                self.keys.remember_ticket(
                    hs.parse_new_session_ticket(msg, 0x0303), conn.master_secret
                )
        elif mtype == hs.HT_ENCRYPTED_EXTENSIONS and not from_client:
            # TLS 1.3 answers max_fragment_length and record_size_limit here (RFC 8446
            # §4.3.1, RFC 8449 §4)
            _negotiate_max_fragment(conn, hs.parse_encrypted_extensions(msg))
        elif mtype == hs.HT_END_OF_EARLY_DATA:
            # RFC 8446 §4.5: the client switches to its handshake traffic keys after this message.
            if d.candidates:
                d.prot = d.candidates.pop(0)
                d.skipped.clear()
        elif mtype == hs.HT_KEY_UPDATE:
            hs.parse_key_update(msg)
            d.key_update_after = True

    def _ech_server_hello(
        self, conn: TLSConnection, msg: bytes, sh: hs.Hello, info: TLSRecordInfo
    ) -> None:
        """RFC 9849: the handshake goes on with ClientHelloInner if the server used it."""
        if conn.ech is None:
            return
        info.ech, chosen = tls_ech.choose_client_hello(
            self.keys, conn.ech, conn.transcript, msg, sh.cipher_suite
        )
        conn.ech = info.ech
        if chosen is not None:
            conn.client_hello, conn.transcript = chosen

    def _certificate(self, conn: TLSConnection, msg: bytes, info: TLSRecordInfo) -> None:
        """The server's chain: the leaf kept, a summary for stats, certificate_* warnings."""
        chain = hs.parse_certificate_chain(msg, tls13=conn.is13)
        conn.certificate = chain[0] if chain else None
        from netsec_layers.crypto.x509_checks import chain_summary

        conn.certificate_chain = chain_summary(chain)
        for w in tw.certificate_warnings(chain, sni=conn.sni, ts_ns=info.ts_ns):
            info.warn(w.code, w.text)

    def _server_hello(self, conn: TLSConnection, sh: hs.Hello) -> None:
        from netsec_layers.crypto.tls_suites import suite_info

        ch = conn.client_hello
        conn.version = sh.selected_version()
        conn.suite = sh.cipher_suite
        conn.suite_info = suite_info(sh.cipher_suite or 0)
        cd = conn.client if conn.client_is_tcp_client else conn.server
        sd = conn.server if conn.client_is_tcp_client else conn.client
        if ch is None:
            return
        if conn.is13:
            self._setup13(conn, cd, sd)
            return
        conn.ems = hs.EXT_EXTENDED_MASTER_SECRET in sh.extensions and (
            hs.EXT_EXTENDED_MASTER_SECRET in ch.extensions
        )
        conn.etm = (
            hs.EXT_ENCRYPT_THEN_MAC in sh.extensions and hs.EXT_ENCRYPT_THEN_MAC in ch.extensions
        )
        conn.resumed = bool(sh.session_id) and sh.session_id == ch.session_id
        ticket = ch.extensions.get(hs.EXT_SESSION_TICKET)
        found = self.keys.master_for_resumption(
            client_random=ch.random,
            session_id=sh.session_id if conn.resumed else b"",
            ticket=ticket,
        )
        if found is None and not conn.resumed:
            return
        if found is not None:
            conn.master_secret, conn.key_source = found.master_secret, found.source
            self._keys12(conn)

    def _client_key_exchange(self, conn: TLSConnection, msg: bytes) -> None:
        ch, si = conn.client_hello, conn.suite_info
        if conn.master_secret is not None or ch is None or si is None or conn.version is None:
            return
        from netsec_layers.crypto.tls_prf import compute_master_secret, handshake_hash

        encrypted = (
            hs.parse_rsa_encrypted_pre_master(msg, conn.version) if si.kex == "RSA" else None
        )
        found = self.keys.pre_master_for(
            client_random=ch.random,
            encrypted_pre_master=encrypted,
            client_version=ch.legacy_version,
        )
        if found is None or conn.server_hello is None:
            return
        pms, source = found
        shash = None
        if conn.ems:
            # RFC 7627 §3: session_hash covers the messages up to and including ClientKeyExchange.
            shash = handshake_hash(conn.version, si.prf_hash, self._transcript_bytes(conn))
        conn.master_secret = compute_master_secret(
            conn.version,
            si,
            pre_master=pms,
            client_random=ch.random,
            server_random=conn.server_hello.random,
            session_hash=shash,
        )
        conn.key_source = source
        self._keys12(conn)

    def _keys12(self, conn: TLSConnection) -> None:
        from netsec_layers.crypto.tls_prf import key_block
        from netsec_layers.crypto.tls_record import RecordProtection

        si, ch, sh = conn.suite_info, conn.client_hello, conn.server_hello
        if (
            si is None
            or ch is None
            or sh is None
            or conn.master_secret is None
            or conn.version is None
        ):
            return
        kb = key_block(
            conn.version,
            si,
            master_secret=conn.master_secret,
            client_random=ch.random,
            server_random=sh.random,
        )
        cd = conn.client if conn.client_is_tcp_client else conn.server
        sd = conn.server if conn.client_is_tcp_client else conn.client
        cd.pending = RecordProtection.tls12(
            si,
            conn.version,
            key=kb.client_key,
            mac_key=kb.client_mac,
            iv=kb.client_iv,
            encrypt_then_mac=conn.etm,
            compression=sh.compression_method,  # RFC 3749: a fresh DEFLATE stream per state
        )
        sd.pending = RecordProtection.tls12(
            si,
            conn.version,
            key=kb.server_key,
            mac_key=kb.server_mac,
            iv=kb.server_iv,
            encrypt_then_mac=conn.etm,
            compression=sh.compression_method,
        )

    def _setup13(self, conn: TLSConnection, cd: _Direction, sd: _Direction) -> None:
        from netsec_layers.crypto.tls_record import RecordProtection

        ch, si = conn.client_hello, conn.suite_info
        cd.encrypted = sd.encrypted = True
        if ch is None or si is None:
            return
        secrets = self.keys.secrets_for(ch.random)
        conn.secrets13 = secrets
        if secrets:
            conn.key_source = "keylog"

        def prot(label: str) -> RecordProtection | None:
            s = secrets.get(label)
            return RecordProtection.tls13(si, traffic_secret=s) if s and si else None

        shs, chs = prot("SERVER_HANDSHAKE_TRAFFIC_SECRET"), prot("CLIENT_HANDSHAKE_TRAFFIC_SECRET")
        sapp, capp = prot("SERVER_TRAFFIC_SECRET_0"), prot("CLIENT_TRAFFIC_SECRET_0")
        sd.prot = shs
        sd.candidates = [p for p in (sapp,) if p is not None]
        cands = [p for p in (chs, capp) if p is not None]
        if cd.prot is not None:  # still on 0-RTT keys until EndOfEarlyData (RFC 8446 §4.5)
            cd.candidates = cands
        else:
            cd.prot = cands.pop(0) if chs is not None and cands else None
            cd.candidates = cands
        cd.early_suites = []

    def _setup_early(
        self, conn: TLSConnection, d: _Direction, ct: int, version: int, fragment: bytes
    ) -> None:
        """0-RTT: find the PSK's suite by trial (the ClientHello does not name it)."""
        from netsec_layers.crypto.tls_record import RecordProtection
        from netsec_layers.crypto.tls_suites import suite_info

        ch = conn.client_hello
        suites, d.early_suites = d.early_suites, []
        secret = self.keys.secrets_for(ch.random).get("CLIENT_EARLY_TRAFFIC_SECRET") if ch else None
        if not secret:
            return
        for code in suites:
            si = suite_info(code)
            if si is None:
                continue
            trial = RecordProtection.tls13(si, traffic_secret=secret)
            try:
                trial.decrypt(ct, version, fragment)
            except (IntegrityError, NetsecError):
                continue
            d.prot = RecordProtection.tls13(si, traffic_secret=secret)
            return

    # -- Finished ---------------------------------------------------------------------------------
    def _finished(
        self, conn: TLSConnection, d: _Direction, from_client: bool, msg: bytes, info: TLSRecordInfo
    ) -> None:
        si = conn.suite_info
        side = "client" if from_client else "server"
        if (
            si is None
            or conn.version is None
            or conn.transcript_size > MAX_TRANSCRIPT
            or (from_client and conn.incomplete)  # the client's transcript covers both sides
            or (not from_client and False in conn.incomplete)
        ):
            return
        got = msg[4:]
        if conn.is13:
            label = f"{side.upper()}_HANDSHAKE_TRAFFIC_SECRET"
            base = conn.secrets13.get(label)
            if base is None:
                return
            from netsec_layers.crypto.tls13 import finished_verify_data13

            hname = si.prf_hash
            expected = finished_verify_data13(
                hname, base_key=base, transcript_hash=self._transcript_hash13(conn, hname)
            )
        else:
            if conn.master_secret is None:
                return
            from netsec_layers.crypto.tls_prf import finished_verify_data

            expected = finished_verify_data(
                conn.version,
                si,
                master_secret=conn.master_secret,
                from_client=from_client,
                transcript=self._transcript_bytes(conn),
            )
        ok = expected == got
        conn.finished_ok[side] = ok
        if not ok:
            info.error = (
                f"{side} Finished verify_data mismatch (wrong keys or incomplete transcript)"
            )
            info.failure = TLSFailure.FINISHED_MISMATCH

    def _transcript_hash13(self, conn: TLSConnection, hname: str) -> bytes:
        """RFC 8446 §4.4.1 over the messages kept (the hash is known only from ServerHello on,
        so the messages are kept and hashed here), by :class:`~netsec_layers.crypto.tls13.Transcript13`."""
        from netsec_layers.crypto.tls13 import Transcript13

        t = Transcript13(hname)
        msgs = conn.transcript
        if conn.hrr and len(msgs) >= 2 and msgs[0][0] == hs.HT_CLIENT_HELLO:
            t.update(msgs[0][1])
            t.hello_retry_request(msgs[1][1])  # ClientHello1 becomes message_hash
            msgs = msgs[2:]
        for _, m in msgs:
            t.update(m)
        return t.digest()

    def _after_finished(self, conn: TLSConnection, d: _Direction, from_client: bool) -> None:
        if conn.is13:
            # The sender switches to its application traffic keys after its Finished (§7.1).
            if d.candidates:
                d.prot = d.candidates.pop(0)
                d.skipped.clear()
        elif conn.master_secret is not None and conn.server_hello is not None:
            self.keys.remember_session(conn.server_hello.session_id, conn.master_secret)
        if len(conn.finished_ok) == 2 or (conn.is13 and from_client):
            # The handshake is over: the transcript is no longer needed (bounded memory).
            conn.transcript.clear()

    def _sslv2_hello(
        self,
        conn: TLSConnection,
        from_tcp_client: bool,
        chunk: StreamChunk,
        hello: hs.Hello,
        raw: bytes,
    ) -> TLSRecordInfo:
        conn.client_hello = hello
        if not from_tcp_client and not conn.tcp.saw_syn:
            conn.client_is_tcp_client = False
        # RFC 5246 Appendix E.2: the SSLv2 ClientHello enters the Finished hash from its msg_type.
        self._add_transcript(conn, hs.HT_CLIENT_HELLO, raw[2:])
        info = TLSRecordInfo(
            chunk.frame,
            chunk.ts_ns,
            conn.index,
            True,
            CT_HANDSHAKE,
            hello.legacy_version,
            len(raw) - 2,
            raw,
            inner_content_type=CT_HANDSHAKE,
            plaintext=raw[2:],
            handshake_types=[hs.HT_CLIENT_HELLO],
            sslv2=True,
        )
        info.warn(
            WarningCode.SSLV2_CLIENT_HELLO,
            "SSLv2-compatible ClientHello (RFC 6176 prohibits SSL 2.0; RFC 5246 Appendix E.2)",
        )
        _count_warnings(conn, info)
        conn.records += 1
        return info
