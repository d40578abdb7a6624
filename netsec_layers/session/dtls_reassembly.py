"""DTLS handshake reassembly for one direction (RFC 6347 §4.2.2-§4.2.3, RFC 9147 §5.5).

Handshake messages arrive as fragments (message_seq, fragment_offset, fragment_length) spread
over records and datagrams, possibly out of order, duplicated or retransmitted with new record
sequence numbers.  :class:`HandshakeReassembler` puts each message together and hands the
messages out in message_seq order, each exactly once; a fragment of a message already handed
out is a retransmission.  Everything is bounded: message size, messages held, how far ahead
of the next expected message_seq a fragment may be (a flood of message_seq values is
refused), and fragments past the message length or disagreeing with earlier ones are
reported, never applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

__all__ = ["FragmentVerdict", "HandshakeMessage", "HandshakeReassembler"]

MAX_MESSAGE = 1 << 18  # 256 KiB: far above any certificate chain seen in practice
MAX_AHEAD = 32  # message_seq values accepted beyond the next expected one
MAX_HELD = 16  # incomplete or waiting messages held per direction


class FragmentVerdict(Enum):
    """What became of one fragment."""

    ACCEPTED = "accepted"
    RETRANSMISSION = "retransmission"  # message already complete (RFC 6347 §4.2.4)
    TOO_FAR_AHEAD = "too far ahead"
    BAD_BOUNDS = "fragment outside the message"
    LENGTH_MISMATCH = "length differs from earlier fragments"
    OVERLAP_CONFLICT = "overlapping fragments disagree"
    TOO_LARGE = "message too large"


@dataclass(slots=True)
class HandshakeMessage:
    """A whole handshake message: ``body`` without any header."""

    msg_type: int
    message_seq: int
    body: bytes
    frame: int  # frame that completed it

    def dtls_bytes(self) -> bytes:
        """The message as DTLS 1.0/1.2 hash it: one fragment (RFC 6347 §4.2.6)."""
        n = len(self.body).to_bytes(3, "big")
        return (
            bytes([self.msg_type]) + n + self.message_seq.to_bytes(2, "big") + b"\0\0\0" + n
        ) + self.body

    def tls_bytes(self) -> bytes:
        """The TLS form (4-byte header): what DTLS 1.3 hashes (RFC 9147 §5.2)."""
        return bytes([self.msg_type]) + len(self.body).to_bytes(3, "big") + self.body


@dataclass(slots=True)
class _Partial:
    msg_type: int
    data: bytearray
    have: list[tuple[int, int]] = field(default_factory=list)  # merged [start, end) ranges
    frame: int = 0

    def complete(self) -> bool:
        return self.have == [(0, len(self.data))] or not self.data

    def add(self, off: int, chunk: bytes) -> bool:
        """Store ``chunk`` at ``off``; false if it contradicts bytes already received."""
        end = off + len(chunk)
        for s, e in self.have:
            lo, hi = max(s, off), min(e, end)
            if lo < hi and self.data[lo:hi] != chunk[lo - off : hi - off]:
                return False
        self.data[off:end] = chunk
        spans = sorted([*self.have, (off, end)])
        merged: list[tuple[int, int]] = []
        for s, e in spans:
            if merged and s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e))
            else:
                merged.append((s, e))
        self.have = merged
        return True


class HandshakeReassembler:
    """Reassembly state of one sender."""

    def __init__(self) -> None:
        self.next_seq: int | None = None  # set by the first fragment seen
        self._held: dict[int, _Partial] = {}
        self.retransmissions = 0

    def reset(self, next_seq: int | None = None) -> None:
        self.next_seq = next_seq
        self._held.clear()

    def add(self, *, msg_type: int, length: int, message_seq: int, fragment_offset: int,
            fragment: bytes, frame: int) -> tuple[FragmentVerdict, list[HandshakeMessage]]:  # fmt: skip
        """Add one fragment; returns its verdict and the messages now deliverable, in order."""
        if self.next_seq is None:
            self.next_seq = message_seq
        if message_seq < self.next_seq:
            self.retransmissions += 1
            return FragmentVerdict.RETRANSMISSION, []
        if message_seq > self.next_seq + MAX_AHEAD:
            return FragmentVerdict.TOO_FAR_AHEAD, []
        if length > MAX_MESSAGE:
            return FragmentVerdict.TOO_LARGE, []
        if fragment_offset + len(fragment) > length:
            return FragmentVerdict.BAD_BOUNDS, []
        part = self._held.get(message_seq)
        if part is None:
            if len(self._held) >= MAX_HELD:
                return FragmentVerdict.TOO_FAR_AHEAD, []
            part = _Partial(msg_type, bytearray(length))
            self._held[message_seq] = part
        elif len(part.data) != length or part.msg_type != msg_type:
            return FragmentVerdict.LENGTH_MISMATCH, []
        if part.complete() and part.data:
            self.retransmissions += 1  # complete but waiting for an earlier message
            return FragmentVerdict.RETRANSMISSION, []
        if not part.add(fragment_offset, fragment):
            return FragmentVerdict.OVERLAP_CONFLICT, []
        part.frame = frame
        return FragmentVerdict.ACCEPTED, self._deliver()

    def _deliver(self) -> list[HandshakeMessage]:
        out = []
        while self.next_seq is not None:
            part = self._held.get(self.next_seq)
            if part is None or not part.complete():
                break
            del self._held[self.next_seq]
            out.append(HandshakeMessage(part.msg_type, self.next_seq, bytes(part.data), part.frame))
            self.next_seq += 1
        return out
