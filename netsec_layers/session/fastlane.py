"""The native fast lane of ``netsec decrypt -w`` (issue #22).

The steady state of a TLS connection that is being rewritten as plaintext — AEAD records in
order, one after the other — costs the Python engine a chain of calls per record (TCP chunk,
record object, AEAD call, checksummed output segment).  :class:`FastLane` moves exactly that
state into C (``_fastlane.c``, built by ``setup.py`` when a compiler and OpenSSL's headers are
there) and leaves everything else to the engine:

- After the engine and the rewriter processed a frame of a connection written as plaintext,
  :meth:`FastLane.after` checks the connection's state out of the TCP table
  (:meth:`~netsec_layers.session.tcp.TCPReassembler.check_out`), the TLS tracker
  (:meth:`~netsec_layers.session.tls.TLSTracker.check_out`) and the rewriter
  (:meth:`~netsec_layers.session.plaintext.PlaintextRewriter.check_out`) — only when all three
  are in the steady state the lane reproduces.
- :meth:`FastLane.process` gives each frame to the lane first: it either handles the frame
  exactly as the engine and the rewriter would (the plaintext packets, byte for byte) or
  returns ``None`` having changed nothing, and the frame takes the Python path.
- The first time the Python path touches a checked-out connection (any segment of it the lane
  refused, a FIN, an eviction, the end), the TCP table calls back and :meth:`_reclaim` checks
  the lane's state in everywhere, counters included; :meth:`finish` checks everything in.

So the output and every counter (``stats``, the summaries, ``--max-connections``) are the same
with and without the lane; ``tests/session/test_fastlane.py`` checks the bytes.  Set
``NETSEC_FASTLANE=0`` to use the Python path only.
"""

from __future__ import annotations

import os
import socket
import struct
from typing import TYPE_CHECKING

from netsec_layers.session import ipbuild
from netsec_layers.session.plaintext import OutFrame

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from types import ModuleType

    from netsec_layers.frame import Frame
    from netsec_layers.session.engine import CaptureEngine, FrameResult
    from netsec_layers.session.plaintext import PlaintextRewriter
    from netsec_layers.session.tcp import TCPConn
    from netsec_layers.session.tcpflow import Endpoint, TCPFlow

_native: ModuleType | None
try:
    from netsec_layers.session import _fastlane as _native
except ImportError:  # not built (no compiler or no OpenSSL headers at install): Python only
    _native = None

_MODES = {"gcm12": 1, "xor12": 2, "xor13": 3}
_CIPHERS = {"AES_128_GCM": 1, "AES_256_GCM": 2, "CHACHA20_POLY1305": 3}
_PORTS = struct.Struct("!HH").pack


def available() -> bool:
    """Whether the native lane was built and imports."""
    return _native is not None


def enabled() -> bool:
    """Whether :meth:`FastLane.create` makes a lane (built, and ``NETSEC_FASTLANE`` is not 0)."""
    return _native is not None and os.environ.get("NETSEC_FASTLANE", "1") != "0"


class FastLane:
    """The lane of one engine and its rewriter (see the module docstring)."""

    @classmethod
    def create(cls, engine: CaptureEngine, rewriter: PlaintextRewriter) -> FastLane | None:
        return cls(engine, rewriter) if enabled() else None

    def __init__(self, engine: CaptureEngine, rewriter: PlaintextRewriter) -> None:
        assert _native is not None
        self.engine = engine
        self.rewriter = rewriter
        tls = engine.tls
        self._lane = _native.Lane(
            engine.tcp.touch,
            engine.ip.fragment_table,
            tls.connections,
            tls.connections.move_to_end,
        )
        # process(data, frame_number, ts_ns) -> tuple of packets | None
        self.process = self._lane.process
        self._keys: dict[int, bytes] = {}  # checked out: TCP index -> the lane's key
        self._never: set[int] = set()  # connections whose protection the lane does not have
        self.checkouts = 0  # how often a connection went into the lane (for tests and -v)
        self._frames_counted = 0  # of the lane's frames, those already in engine.stats
        engine.tcp.reclaim = self._reclaim

    @property
    def frames(self) -> int:
        """Frames the lane handled."""
        return int(self._lane.frames)

    @property
    def held(self) -> int:
        """Connections checked out now."""
        return int(self._lane.held)

    def after(self, res: FrameResult) -> None:
        """A frame the Python path processed: offer its TCP connection to the lane."""
        tcp = res.tcp_conn
        if tcp is None:
            return
        index = tcp.index
        if index in self._keys or index in self._never:
            return
        flow_out = self.rewriter.check_out(index)
        if flow_out is not None:
            self._offer(tcp, flow_out)

    def _offer(self, tcp: TCPConn, flow_out: tuple[TCPFlow, tuple[str, int]]) -> None:
        index = tcp.index
        engine = self.engine
        if not engine.tls_owned(index) or not engine.tls.lane_possible(index):
            self._never.add(index)
            return
        tls_out = engine.tls.check_out(index)
        if tls_out is None:
            return
        flow = flow_out[0]
        client_is_tcp_client, d_client, d_server = tls_out
        seqs = engine.tcp.check_out(tcp)
        if seqs is None:
            return
        key = _key(tcp)
        # the output side that sends the plaintext of each TCP direction (0: the TLS client)
        side_c, side_s = (0, 1) if client_is_tcp_client else (1, 0)
        dirs = tuple(
            (_MODES[d.mode], _CIPHERS[d.cipher], d.key, d.iv, d.seq, seq, d.held, side)
            for d, seq, side in ((d_client, seqs[0], side_c), (d_server, seqs[1], side_s))
        )
        self._lane.add(
            index,
            key,
            dirs[0],
            dirs[1],
            _side(flow.client, flow.server, flow.version),
            _side(flow.server, flow.client, flow.version),
            flow.ident,
        )
        self._keys[index] = key
        self.checkouts += 1

    def _reclaim(self, index: int) -> None:
        """Check connection ``index`` back in everywhere (the TCP table's callback)."""
        key = self._keys.pop(index)
        state = self._lane.remove(key)
        assert state is not None
        (
            c_bytes,
            s_bytes,
            c_seq,
            s_seq,
            c_held,
            s_held,
            c_recs,
            s_recs,
            client_delta,
            server_delta,
            segments,
            last_frame,
            last_ts,
        ) = state
        engine = self.engine
        engine.tcp.check_in(index, c_bytes, s_bytes)
        engine.tls.check_in(
            index,
            (c_seq, c_held, c_recs),
            (s_seq, s_held, s_recs),
            (last_frame, last_ts) if c_bytes or s_bytes else None,
        )
        self.rewriter.check_in(index, client_delta, server_delta, segments)
        st = engine.stats
        st.tls_records += c_recs + s_recs
        st.tls_decrypted += c_recs + s_recs

    def finish(self) -> None:
        """The end of the capture (or of this lane): everything checked back in, and the
        frames the lane handled counted in the engine's stats."""
        for index in list(self._keys):
            self._reclaim(index)
        self.engine.stats.frames += self.frames - self._frames_counted
        self._frames_counted = self.frames


def rewrite(
    frames: Iterable[Frame],
    engine: CaptureEngine,
    rewriter: PlaintextRewriter,
    lane: FastLane | None,
) -> Iterator[OutFrame]:
    """``netsec decrypt``'s loop: each frame through the engine and the rewriter, or first
    through ``lane`` when there is one; then the frames the rewriter still holds."""
    if lane is None:
        for frame in frames:
            yield from rewriter.process(engine.process(frame))
    else:
        lane_process, after = lane.process, lane.after
        for frame in frames:
            if frame.linktype == 1:
                packets = lane_process(frame.data, frame.number, frame.ts_ns)
                if packets is not None:
                    ts = frame.ts_ns
                    for p in packets:
                        yield OutFrame(ts, 1, p)
                    continue
            res = engine.process(frame)
            yield from rewriter.process(res)
            after(res)
        lane.finish()
    yield from rewriter.finish()


def _key(tcp: TCPConn) -> bytes:
    """The lane's key of the client's segments: IP version, both addresses in 16 bytes each
    (IPv4 in the first 4), both ports (``_fastlane.c``, KEYLEN)."""
    if tcp.ip_version == 4:
        c = socket.inet_aton(tcp.client[0]).ljust(16, b"\0")
        s = socket.inet_aton(tcp.server[0]).ljust(16, b"\0")
    else:
        c = socket.inet_pton(socket.AF_INET6, tcp.client[0])
        s = socket.inet_pton(socket.AF_INET6, tcp.server[0])
    return bytes((tcp.ip_version,)) + c + s + _PORTS(tcp.client[1], tcp.server[1])


def _side(me: Endpoint, peer: Endpoint, version: int) -> tuple[bytes, bytes, bytes, int]:
    """What the lane needs of one side of the plaintext flow (TCPFlow.segment's parts)."""
    if version == 4:
        ip_tmpl = ipbuild.ipv4_header_from(ipbuild.ipv4_fixed(me.addr, peer.addr, 6), 0, 0)
    else:
        ip_tmpl = ipbuild.ipv6_header(src=me.addr, dst=peer.addr, next_header=6, payload_len=0)
    return me.link, ip_tmpl, _PORTS(me.port, peer.port), me.seq & 0xFFFFFFFF
