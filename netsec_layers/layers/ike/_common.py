"""Pieces both IKE versions share: the generic payload header chain and the undecoded layer.

Both IKEv1 (RFC 2408 §3.2) and IKEv2 (RFC 7296 §3.2) chain payloads through a one-byte Next
Payload field, each payload starting with a 4-byte generic header whose last two bytes are the
payload length *including* the header.  Each payload class here consumes exactly ``length``
bytes; whatever follows becomes the next payload, chosen by the previous one's
``next_payload``.  A length that cannot be right (below the class's fixed part, beyond the
bytes present) turns the rest of the chain into :class:`IKEUndecoded` with a reason, so a
dissection never raises and never reads another payload's bytes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from scapy.fields import StrField
from scapy.packet import Packet

__all__ = ["IKETruncated", "IKEUndecoded", "PayloadChain", "header_dispatch", "next_layer"]


class IKEUndecoded(Packet):
    """Bytes that could not be dissected as the IKE payload they were announced as.

    ``reason`` (not a wire field) says why; ``raw()`` gives the bytes back unchanged."""

    name = "IKE undecoded"
    fields_desc = [StrField("data", b"")]
    __slots__ = ["reason"]

    def __init__(self, _pkt: bytes = b"", *args: Any, reason: str = "", **kw: Any) -> None:
        self.reason = reason
        super().__init__(_pkt, *args, **kw)

    def mysummary(self) -> str:
        return f"IKE undecoded ({self.reason or 'no reason'}, {len(self.data)} bytes)"


class IKETruncated(IKEUndecoded):
    """Fewer bytes than the 28-byte IKE/ISAKMP header (what ``IKEv2(b)`` gives for them)."""

    name = "IKE truncated"

    def __init__(self, _pkt: bytes = b"", *args: Any, **kw: Any) -> None:
        kw.setdefault("reason", "shorter than the 28-byte IKE header")
        super().__init__(_pkt, *args, **kw)


def header_dispatch(cls: type[Packet], _pkt: bytes | None) -> type[Packet]:
    """``dispatch_hook`` of the IKE headers: too-short input becomes :class:`IKETruncated`."""
    if _pkt is not None and len(_pkt) < 28:
        return IKETruncated
    return cls


class _Undecoded:
    """A factory Scapy calls like a class: builds :class:`IKEUndecoded` with a reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __call__(self, _pkt: bytes = b"", *args: Any, **kw: Any) -> IKEUndecoded:
        kw.pop("_internal", None)
        kw.pop("_underlayer", None)
        return IKEUndecoded(_pkt, reason=self.reason)


class PayloadChain(Packet):
    """Base of every chained payload: knows its table of next classes and checks lengths."""

    #: payload type -> class, filled by the version module
    registry: ClassVar[dict[int, type[PayloadChain]]] = {}
    #: class for an unknown payload type (generic header + data)
    generic: ClassVar[type[PayloadChain] | None] = None
    #: bytes of the fixed part (generic header included)
    min_len: ClassVar[int] = 4
    #: True for SK/SKF/IKEv1-encrypted: nothing may follow
    terminal: ClassVar[bool] = False

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        if getattr(self, "length", 0) is None:
            p = p[:2] + len(p).to_bytes(2, "big") + p[4:]
        if getattr(self, "next_payload", 0) is None:
            nxt = _type_of(type(self.payload), type(self).registry) if pay else 0
            p = bytes([nxt]) + p[1:]
        return p + pay

    def guess_payload_class(self, payload: bytes) -> Any:
        if self.terminal:
            return _Undecoded("bytes after the last payload")
        return next_layer(
            getattr(self, "next_payload", 0) or 0, payload, type(self).registry, type(self).generic
        )


def _type_of(cls: type, registry: dict[int, type[PayloadChain]]) -> int:
    for k, v in registry.items():
        if v is cls:
            return k
    return 0


def next_layer(
    ptype: int,
    payload: bytes,
    registry: dict[int, type[PayloadChain]],
    generic: type[PayloadChain] | None,
) -> Any:
    """Class for the payload of type ``ptype`` starting at ``payload`` (bounds checked)."""
    if not payload:
        return _Undecoded("empty")
    if ptype == 0:
        return _Undecoded("bytes after Next Payload 0")
    if len(payload) < 4:
        return _Undecoded(f"{len(payload)} bytes, shorter than a payload header")
    length = int.from_bytes(payload[2:4], "big")
    cls = registry.get(ptype, generic)
    if cls is None:
        return _Undecoded(f"unknown payload type {ptype}")
    if length < cls.min_len:
        return _Undecoded(f"payload type {ptype} length {length} < {cls.min_len}")
    if length > len(payload):
        return _Undecoded(f"payload type {ptype} length {length} > {len(payload)} bytes left")
    return cls
