"""A bounds-checked cursor over TLS presentation-language data (RFC 8446 §3.4: ``opaque
x<0..2^8-1>`` / ``<0..2^16-1>`` vectors, big-endian integers).

The one reader of hand-parsed TLS structures: the session floor's hello/extension parsers and
the ECH structures (RFC 9849) use it.  Every overrun is a :class:`ParseError`.
"""

from __future__ import annotations

from netsec_layers.errors import ParseError


class VectorReader:
    """Read ``data[pos:end]`` front to back; ``what`` names the structure in errors."""

    __slots__ = ("data", "pos", "end", "what")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None, what: str = "") -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end
        self.what = what

    def take(self, n: int) -> bytes:
        if self.pos + n > self.end:
            where = f"{self.what}: " if self.what else ""
            raise ParseError(f"{where}truncated: need {n} bytes at offset {self.pos}")
        v = self.data[self.pos : self.pos + n]
        self.pos += n
        return v

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def vec8(self) -> bytes:
        return self.take(self.u8())

    def vec16(self) -> bytes:
        return self.take(self.u16())

    def left(self) -> int:
        return self.end - self.pos
