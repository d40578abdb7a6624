"""Which worker of ``netsec decrypt --jobs N`` processes which frame: a first pass over the capture.

The unit of work is a *group*, which one worker processes whole:

- each **TLS connection** (a TCP connection whose first bytes are a TLS handshake record) is a
  group of its own: with a key log, every connection's keys come from the key log by its
  client random, so connections between the same two hosts are independent of each other;
- **except resumption** (TLS ≤ 1.2): a connection that resumes a session needs the master secret
  its origin connection computed (:class:`netsec_layers.session.tls_keys.TLSKeys` session and
  ticket caches), so it joins its origin's group.  The origin is the earlier connection whose
  ServerHello gave the session ID the ClientHello offers and the ServerHello accepts, or whose
  (plaintext, ≤ 1.2) NewSessionTicket carried the offered ticket; a ticket resumption whose
  ticket was not seen joins every earlier connection of its host pair whose server announced
  tickets.  TLS 1.3 keeps nothing across connections (its secrets are per connection in the key
  log), so a PSK resumption stays a group of its own;
- everything else — other TCP (SSH, mail, IKE over TCP, whose SAs the ESP of the same hosts
  needs), UDP, ESP/AH and what they tunnel — is grouped by its unordered *host pair*, as before.

Groups go to workers largest first, each to the least loaded worker (frames counted in the first
pass), so four connections between one host pair spread over two workers.  Frames without an IP
datagram (not IP, or a fragment still held) go to ``frame number mod jobs``.

The first pass decodes IP (fragments included) exactly as the workers do, and parses only the
plaintext handshake records at the start of each TCP connection (a few per connection), with
:mod:`netsec_layers.session.tls_hello`.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from netsec_layers.errors import ParseError
from netsec_layers.frame import Frame
from netsec_layers.session import tls_hello as hs
from netsec_layers.session.netstack import IPDecoder, IPPacket

__all__ = [
    "SplitPlan",
    "StreamingSplit",
    "esp_spi",
    "hash_pair",
    "host_pairs_suffice",
    "make_plan",
    "pair_key",
    "tcp_key",
]

PROTO_TCP, PROTO_UDP, PROTO_ESP = 6, 17, 50
NATT_PORT = 4500  # RFC 3948: ESP in UDP, told from IKE by a non-zero first word
_TCP = struct.Struct("!HHIIBB")
_HANDSHAKE_BYTES = 1 << 16  # per direction: enough for hellos, certificates and tickets
_CT_HANDSHAKE = 22
_PAIR_CACHE = 1 << 16

Endpoint = tuple[str, int]
TCPKey = tuple[Endpoint, Endpoint]
PairKey = tuple[str, str]


def hash_pair(pair: PairKey, jobs: int) -> int:
    """A host pair's worker when splitting by host pair alone: stable across processes."""
    return zlib.crc32(f"{pair[0]}|{pair[1]}".encode()) % jobs


def host_pairs_suffice(frames: Iterable[Frame], jobs: int, *, share: float = 0.75) -> bool:
    """Whether hashing host pairs spreads ``frames`` (a sample) well enough: no worker gets more
    than ``share`` of the IP datagrams.  Then no first pass is needed."""
    decoder = IPDecoder()
    counts = [0] * jobs
    for frame in frames:
        ip = decoder.feed(frame)
        if ip is not None:
            counts[hash_pair(pair_key(ip), jobs)] += 1
    total = sum(counts)
    return total > 0 and max(counts) <= share * total


def pair_key(ip: IPPacket) -> PairKey:
    """The unordered host pair of a datagram."""
    return (ip.src, ip.dst) if ip.src <= ip.dst else (ip.dst, ip.src)


def esp_spi(ip: IPPacket) -> int | None:
    """The SPI of an ESP packet (IP protocol 50, or UDP-encapsulated as the engine frames it)."""
    p = ip.payload
    if ip.proto == PROTO_ESP:
        return int.from_bytes(p[:4], "big") if len(p) >= 8 else None
    if ip.proto == PROTO_UDP and len(p) >= 16:
        sport, dport = (p[0] << 8) | p[1], (p[2] << 8) | p[3]
        if NATT_PORT in (sport, dport) and p[8:12] != b"\0\0\0\0":
            return int.from_bytes(p[8:12], "big")
    return None


def tcp_key(ip: IPPacket) -> TCPKey | None:
    """The unordered endpoints of a TCP segment (``None`` when it is too short)."""
    p = ip.payload
    if len(p) < 20:
        return None
    sport, dport = (p[0] << 8) | p[1], (p[2] << 8) | p[3]
    a, b = (ip.src, sport), (ip.dst, dport)
    return (a, b) if a <= b else (b, a)


@dataclass(slots=True)
class _Side:
    """One direction's plaintext handshake bytes, in sequence order, until it ends."""

    next_seq: int | None = None
    records: bytearray = field(default_factory=bytearray)  # raw TLS records
    handshake: bytearray = field(default_factory=bytearray)  # their handshake fragments
    done: bool = False  # a CCS / application data / gap / cap ends what can be read

    def add(self, seq: int, data: bytes) -> bool:
        """Append a segment's bytes; ``False`` when a gap (a lost or later segment) ends it."""
        if self.done or not data:
            return True
        if self.next_seq is None:
            self.next_seq = seq
        skip = (self.next_seq - seq) & 0xFFFFFFFF
        if skip >= 1 << 31:  # data past a hole: what follows cannot be framed
            self.done = True
            return False
        data = data[skip:]  # a retransmission repeats what was taken already
        if not data:
            return True
        self.next_seq = (self.next_seq + len(data)) & 0xFFFFFFFF
        self.records += data
        while len(self.records) >= 5:
            ct = self.records[0]
            length = (self.records[3] << 8) | self.records[4]
            if ct != _CT_HANDSHAKE:
                self.done = True
                return True
            if len(self.records) < 5 + length:
                break
            self.handshake += self.records[5 : 5 + length]
            del self.records[: 5 + length]
        if len(self.handshake) + len(self.records) > _HANDSHAKE_BYTES:
            self.done = True
        return True


@dataclass(slots=True)
class _Conn:
    index: int
    pair: PairKey
    frames: int = 0
    tls: bool | None = None  # None: no payload yet
    client: Endpoint | None = None
    sides: dict[Endpoint, _Side] = field(default_factory=dict)
    client_hello: hs.Hello | None = None
    server_hello: hs.Hello | None = None
    tickets: list[bytes] = field(default_factory=list)  # NewSessionTicket (≤ 1.2)
    closed: bool = False  # both directions read as far as they can be
    uncertain: bool = False  # a gap or a damaged message: its resumption links are unknown

    def feed(self, ip: IPPacket) -> None:
        p = ip.payload
        sport, _dport, seq, _ack, off, _flags = _TCP.unpack_from(p)
        data = p[(off >> 4) * 4 :]
        if not data:
            return
        if self.tls is None:
            self.tls = data[0] == _CT_HANDSHAKE and len(data) >= 6 and data[5] == hs.HT_CLIENT_HELLO
            if not self.tls:
                return
            self.client = (ip.src, sport)
        side = self.sides.get((ip.src, sport))
        if side is None:
            side = self.sides[(ip.src, sport)] = _Side()
        if not side.add(seq, data):
            self.uncertain |= self.client_hello is None or self.server_hello is None
        self._messages((ip.src, sport) == self.client, side)
        self.closed = len(self.sides) == 2 and all(s.done for s in self.sides.values())

    def _messages(self, from_client: bool, side: _Side) -> None:
        msgs, used = hs.split_messages(side.handshake)
        if not used:
            return
        del side.handshake[:used]
        for mtype, msg in msgs:
            try:
                if from_client and mtype == hs.HT_CLIENT_HELLO and self.client_hello is None:
                    self.client_hello = hs.parse_hello(msg)
                elif not from_client and mtype == hs.HT_SERVER_HELLO:
                    self.server_hello = hs.parse_hello(msg)
                    if self.server_hello.selected_version() >= 0x0304:
                        side.done = True  # TLS 1.3: the rest is encrypted
                elif not from_client and mtype == hs.HT_NEW_SESSION_TICKET:
                    self.tickets.append(hs.parse_new_session_ticket(msg, 0x0303))
            except (ParseError, IndexError, ValueError, struct.error):
                side.done = self.uncertain = True
        if from_client and self.client_hello is not None:
            side.done = True  # nothing else the client sends matters here


class SplitPlan:
    """The worker of every frame (see the module docstring); the same in every process."""

    def __init__(
        self,
        jobs: int,
        tcp: dict[TCPKey, int],
        pairs: dict[PairKey, int] | None,
        esp: dict[int, int] | None = None,
    ) -> None:
        self.jobs = jobs
        self.tcp = tcp
        self.esp = esp or {}  # SPI → worker (ESP split by SA, see make_plan's esp_by_spi)
        self.pairs = pairs  # None: host pairs hashed (no first pass, see by_host_pair)
        self._hashed: dict[PairKey, int] = {}
        self.groups = 0  # groups the frames were split into (for tests and notes)
        self.load = [0] * jobs  # frames of the first pass per worker (IP datagrams only)
        self.tls_connections = 0  # TLS connections the first pass found

    def owner(self, ip: IPPacket | None, frame_number: int) -> int:
        if ip is None:
            return frame_number % self.jobs
        if ip.proto == PROTO_TCP and self.tcp:
            key = tcp_key(ip)
            if key is not None:
                w = self.tcp.get(key)
                if w is not None:
                    return w
        elif self.esp:
            spi = esp_spi(ip)
            if spi is not None:
                w = self.esp.get(spi)
                if w is not None:
                    return w
        pair = pair_key(ip)
        if self.pairs is not None:
            return self.pairs.get(pair, 0)
        w = self._hashed.get(pair)
        if w is None:
            w = hash_pair(pair, self.jobs)
            if len(self._hashed) < _PAIR_CACHE:
                self._hashed[pair] = w
        return w

    @classmethod
    def by_host_pair(cls, jobs: int) -> SplitPlan:
        """Every datagram by its host pair, hashed: no first pass needed (nor any resumption
        analysis: a host pair carries its connections whole)."""
        return cls(jobs, {}, None)


class StreamingSplit(SplitPlan):
    """A split decided while reading, without a first pass: each group (an ESP SA by SPI when
    ``esp_by_spi``, else the host pair) goes, when first seen, to the worker with the fewest
    datagrams so far.  Every worker reads every frame in the same order and makes the same
    choices, so they agree.  For captures without TLS connections to split (resumption links
    need the whole capture first)."""

    def __init__(self, jobs: int, *, esp_by_spi: bool) -> None:
        super().__init__(jobs, {}, None)
        self.esp_by_spi = esp_by_spi
        self._assigned: dict[object, int] = {}

    def owner(self, ip: IPPacket | None, frame_number: int) -> int:
        if ip is None:
            return frame_number % self.jobs
        key: object = esp_spi(ip) if self.esp_by_spi else None
        if key is None:
            key = pair_key(ip)
        w = self._assigned.get(key)
        if w is None:
            load = self.load
            if len(self._assigned) < _PAIR_CACHE:
                w = self._assigned[key] = load.index(min(load))
            else:  # bounded: random SPIs past the cap are hashed
                w = zlib.crc32(repr(key).encode()) % self.jobs
        self.load[w] += 1
        return w


class _Groups:
    """Union-find over connection indexes."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, a: int) -> int:
        root = a
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while a != root:
            self.parent[a], a = root, self.parent.get(a, a)
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)  # the earliest connection names the group


def _link_resumptions(conns: list[_Conn], groups: _Groups) -> None:
    """Join each TLS ≤ 1.2 resumption to the connection(s) that can have taught its secret."""
    uncertain_pairs = {c.pair for c in conns if c.tls and c.uncertain}
    first_of_pair: dict[PairKey, int] = {}
    for c in conns:  # a pair with a connection not read whole: its TLS connections stay together
        if c.tls and c.pair in uncertain_pairs:
            groups.union(c.index, first_of_pair.setdefault(c.pair, c.index))
    by_session: dict[bytes, int] = {}
    by_ticket: dict[bytes, int] = {}
    ticket_issuers: dict[PairKey, list[int]] = {}
    for c in conns:
        ch, sh = c.client_hello, c.server_hello
        if not c.tls or ch is None:
            continue
        tls13 = sh is not None and sh.selected_version() >= 0x0304
        if not tls13:
            sid = ch.session_id
            resumed = sh is not None and bool(sid) and sh.session_id == sid
            if resumed and sid in by_session:
                groups.union(c.index, by_session[sid])
            ticket = ch.extensions.get(hs.EXT_SESSION_TICKET)
            if ticket:
                if ticket in by_ticket:
                    groups.union(c.index, by_ticket[ticket])
                elif resumed or sh is None:
                    for other in ticket_issuers.get(c.pair, []):
                        groups.union(c.index, other)
        if sh is not None and not tls13:
            if sh.session_id:
                by_session.setdefault(sh.session_id, c.index)
            if hs.EXT_SESSION_TICKET in sh.extensions:
                ticket_issuers.setdefault(c.pair, []).append(c.index)
        for t in c.tickets:
            by_ticket.setdefault(t, c.index)


def make_plan(frames: Iterable[Frame], jobs: int, *, esp_by_spi: bool = False) -> SplitPlan:
    """Read ``frames`` (the whole capture) once and split its groups over ``jobs`` workers.

    ``esp_by_spi``: each ESP SA (by SPI: an SA's replay window and ESN inference are its only
    state, and a wildcard SA keeps it per SPI whatever the addresses) is a group of its own,
    instead of going with its host pair.  Only for runs where what ESP carries needs no state
    across SAs: no key material for anything inside (TLS, DTLS, SSH, mail: the inner TCP
    connections of a tunnel cross both SAs of a pair), and no keys that can arrive during the
    capture (pcapng Decryption Secrets Blocks, IKE) — :class:`ParallelDecrypt` decides."""
    decoder = IPDecoder()
    conns: dict[TCPKey, _Conn] = {}
    spis: dict[int, int] = {}  # frames per SPI (esp_by_spi)
    pair_frames: dict[PairKey, int] = {}
    pair_order: dict[PairKey, int] = {}
    for frame in frames:
        ip = decoder.feed(frame)
        if ip is None:
            continue
        pair = pair_key(ip)
        if pair not in pair_order:
            pair_order[pair] = len(pair_order)
        if esp_by_spi:
            spi = esp_spi(ip)
            if spi is not None:
                spis[spi] = spis.get(spi, 0) + 1
                continue
        key = tcp_key(ip) if ip.proto == PROTO_TCP else None
        if key is None:
            pair_frames[pair] = pair_frames.get(pair, 0) + 1
            continue
        c = conns.get(key)
        if c is None:
            c = conns[key] = _Conn(len(conns), pair)
        c.frames += 1
        if c.tls is not False and not c.closed:
            c.feed(ip)
    ordered = list(conns.values())
    for c in ordered:  # TCP other than TLS goes with its host pair
        if not c.tls:
            pair_frames[c.pair] = pair_frames.get(c.pair, 0) + c.frames
    for c in ordered:
        c.uncertain |= bool(c.tls) and c.client_hello is None  # a ClientHello never completed
    groups = _Groups()
    _link_resumptions(ordered, groups)
    # Groups: ("c", root connection) for TLS, ("p", host pair) for the rest.
    weight: dict[tuple[str, Any], int] = {}
    first: dict[tuple[str, Any], int] = {}
    for c in ordered:
        if c.tls:
            g: tuple[str, Any] = ("c", groups.find(c.index))
            weight[g] = weight.get(g, 0) + c.frames
            first.setdefault(g, c.index)
    n = len(ordered)
    for pair, count in pair_frames.items():
        g = ("p", pair)
        weight[g] = count
        first[g] = n + pair_order[pair]
    for order, (spi, count) in enumerate(spis.items()):
        g = ("e", spi)
        weight[g] = count
        first[g] = n + len(pair_order) + order
    load = [0] * jobs
    worker_of: dict[tuple[str, Any], int] = {}
    for g in sorted(weight, key=lambda g: (-weight[g], first[g])):
        w = min(range(jobs), key=lambda i: (load[i], i))
        worker_of[g] = w
        load[w] += weight[g]
    tcp = {key: worker_of[("c", groups.find(c.index))] for key, c in conns.items() if c.tls}
    pairs = {pair: worker_of.get(("p", pair), 0) for pair in pair_order}
    esp = {spi: worker_of[("e", spi)] for spi in spis}
    plan = SplitPlan(jobs, tcp, pairs, esp)
    plan.groups = len(weight)
    plan.tls_connections = sum(1 for c in ordered if c.tls)
    plan.load = load
    return plan
