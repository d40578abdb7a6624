"""Protocol trackers: the one interface through which every protocol plugs into the engine.

The :class:`~netsec_layers.session.engine.CaptureEngine` decodes the link layer, IP, fragments,
UDP and TCP reassembly.  It then hands each TCP connection's in-order bytes
(:class:`~netsec_layers.session.tcp.StreamChunk`) to the :class:`StreamTracker` that claims the
connection, and each UDP payload (:class:`Datagram`) to the :class:`DatagramTracker` that claims
it.  Claims are made **by content**, ports are only hints: the first tracker (in registration
order) whose ``claims`` returns true owns the connection (stream) or handles the datagram.

A tracker answers with a list of **typed events** (:class:`Event`).  Consumers -- the JSON/line
printer, ``stats``, the plaintext rewriter -- read events only, never a tracker's internals.  An
event that describes one protocol unit on the wire (a record, a packet, a message) returns its
``netsec dissect --json`` object from :meth:`Event.to_json`; an internal event (keys learned,
an SA derived, a connection's state) derives from :class:`InternalEvent`: the engine puts it in
``FrameResult.events`` instead of ``units``, and it is not printed.

Trackers are Sans-I/O: bytes and events in and out, no files, no printing, no clock.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from netsec_layers.keys.sa import SecurityAssociation
    from netsec_layers.session.netstack import IPPacket
    from netsec_layers.session.tcp import StreamChunk, TCPConn

__all__ = [
    "ConnectionClaimed",
    "ConnectionReleased",
    "Datagram",
    "DatagramTracker",
    "Event",
    "InternalEvent",
    "SADerived",
    "StreamTracker",
]


@runtime_checkable
class Event(Protocol):
    """What a tracker reports.  ``frame`` is the 1-based number of the frame that completed it."""

    frame: int

    def to_json(self) -> dict[str, Any] | None:
        """The ``netsec dissect --json`` object, or ``None`` for an event that is not a unit."""
        ...

    def summary(self) -> str:
        """A short text for the one-line-per-frame output (e.g. ``IKE_SA_INIT request``)."""
        ...


class InternalEvent:
    """Base of events that are not units on the wire (keys learned, an SA derived, a connection's
    state): the engine puts them in ``FrameResult.events``, never in ``units``, so code reading
    units sees records and packets only."""

    __slots__ = ()

    def to_json(self) -> dict[str, Any] | None:
        return None

    def summary(self) -> str:
        return ""


@dataclass(slots=True)
class SADerived(InternalEvent):
    """A tracker derived an ESP/AH security association (e.g. a CHILD_SA from IKE keys).

    The engine adds it to its SA database, so later ESP/AH of the same capture decrypts with no
    SA file."""

    frame: int
    sa: SecurityAssociation
    source: str  # e.g. "IKEv2 CHILD_SA 0x1234.../0x5678..."

    def to_json(self) -> dict[str, Any] | None:
        return None

    def summary(self) -> str:
        return f"SA derived: SPI 0x{self.sa.spi:08x} ({self.source})"


@dataclass(slots=True)
class ConnectionReleased(InternalEvent):
    """The engine's connection table dropped a TCP connection (closed long enough ago, or
    evicted as least recently used): every tracker and consumer forgets it now."""

    frame: int
    conn: TCPConn


@dataclass(slots=True)
class ConnectionClaimed(InternalEvent):
    """A stream tracker other than TLS claimed a TCP connection (by its first bytes)."""

    frame: int
    conn: TCPConn
    tracker: str  # the tracker's name ("ssh", "mail", …)


@dataclass(slots=True)
class Datagram:
    """One UDP payload as the engine saw it."""

    ip: IPPacket  # the IP packet that carried it (addresses, header, frame, time)
    sport: int
    dport: int
    payload: bytes  # the UDP payload (for UDP 4500 still with the non-ESP marker)

    @property
    def frame(self) -> int:
        return self.ip.frame

    @property
    def ts_ns(self) -> int:
        return self.ip.ts_ns


class StreamTracker(ABC):
    """A protocol carried over TCP (TLS, SSH, SMTP/IMAP/POP3, IKE over TCP …)."""

    name: ClassVar[str]  # "tls", "ssh", …: the JSON "proto" and the stats section

    @abstractmethod
    def claims(self, chunk: StreamChunk) -> bool:
        """Whether this protocol owns ``chunk.conn``, judged from the first bytes seen in either
        direction (``chunk.data``; ``chunk.conn.server[1]`` may serve as a hint only).  Called
        until some tracker claims the connection; a tracker may ask to see more bytes by
        returning false while the data is too short to tell."""

    @abstractmethod
    def feed(self, chunk: StreamChunk) -> list[Any]:
        """New in-order bytes (or a gap, FIN or RST) of a connection this tracker owns."""

    def flush(self) -> list[Any]:
        """End of the capture: events for whatever is still buffered."""
        return []

    def release(self, conn: TCPConn) -> None:  # noqa: B027 - optional hook
        """The engine's connection table closed or evicted ``conn``: drop its state."""

    def has_keys(self) -> bool:
        """Whether key material was given that may decrypt some connection (the plaintext
        rewriter holds a connection's frames only while something could be decrypted)."""
        return False

    def on_secrets(self, secrets_type: int, data: bytes) -> bool:
        """A pcapng Decryption Secrets Block; return true if this tracker used it."""
        return False


class DatagramTracker(ABC):
    """A protocol carried over UDP (IKE, DTLS, …)."""

    name: ClassVar[str]

    @abstractmethod
    def claims(self, dgram: Datagram) -> bool:
        """Whether this datagram belongs to this protocol (by content; ports as hints)."""

    @abstractmethod
    def feed(self, dgram: Datagram) -> list[Any]:
        """Process one claimed datagram."""

    def flush(self) -> list[Any]:
        return []

    def on_secrets(self, secrets_type: int, data: bytes) -> bool:
        return False
