"""Field types of the SSH wire encoding (RFC 4251 §5), lenient on bad input.

Every field here *never raises* on short or inconsistent input: when its bytes are not all
there it takes nothing and yields ``None`` (the following fields do the same), so what could not
be decoded stays in a ``Raw`` payload and the packet rebuilds to exactly the bytes it came from.
``None`` is written as nothing; a field built by hand is given a value (defaults are not None).
"""

from __future__ import annotations

import struct
from typing import Any

from scapy.fields import Field, StrField
from scapy.packet import Packet


class SSHBase(Packet):
    """Base of every SSH layer: once a field finds its bytes missing, the following fields take
    nothing either (``ssh_stop``), so the undecoded tail stays whole in the ``Raw`` payload."""

    ssh_stop = False

    def do_dissect(self, s: bytes) -> bytes:
        object.__setattr__(self, "ssh_stop", False)
        rest: bytes = super().do_dissect(s)
        return rest


def stopped(pkt: Packet) -> bool:
    return bool(getattr(pkt, "ssh_stop", False))


def stop(pkt: Packet, s: bytes) -> tuple[bytes, Any]:
    """A field's bytes are missing: it and the following fields are absent."""
    object.__setattr__(pkt, "ssh_stop", True)
    return s, None


def bytes_repr(x: Any) -> str:
    """Short display of opaque bytes: hex, shortened when long; printable ASCII as is."""
    if isinstance(x, bytes) and len(x) > 24:
        return f"<{len(x)} bytes {x[:16].hex()}...>"
    if isinstance(x, bytes):
        printable = all(32 <= c < 127 for c in x)
        return repr(x) if printable or not x else x.hex()
    return repr(x)


class SSHIntField(Field[Any, Any]):
    """``byte`` / ``boolean`` / ``uint32`` / ``uint64`` (RFC 4251 §5) of ``size`` bytes."""

    __slots__ = ["size"]

    def __init__(self, name: str, default: int | None, size: int = 4) -> None:
        fmt = {1: "!B", 4: "!I", 8: "!Q"}[size]
        super().__init__(name, default, fmt)
        self.size = size

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, Any]:
        if len(s) < self.size or stopped(pkt):
            return stop(pkt, s)
        return s[self.size :], int.from_bytes(s[: self.size], "big")

    def addfield(self, pkt: Packet, s: bytes, val: Any) -> bytes:
        if val is None:
            return s
        return s + struct.pack(self.fmt, int(val) & ((1 << (8 * self.size)) - 1))

    def i2len(self, pkt: Packet, x: Any) -> int:
        return 0 if x is None else self.size


class SSHFixedBytesField(Field[Any, Any]):
    """``byte[n]`` (RFC 4251 §5), e.g. the KEXINIT cookie."""

    __slots__ = ["size"]

    def __init__(self, name: str, default: bytes, size: int) -> None:
        super().__init__(name, default)
        self.size = size

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, Any]:
        if len(s) < self.size or stopped(pkt):
            return stop(pkt, s)
        return s[self.size :], s[: self.size]

    def addfield(self, pkt: Packet, s: bytes, val: Any) -> bytes:
        return s if val is None else s + bytes(val)

    def i2repr(self, pkt: Packet | None, x: Any) -> str:
        return bytes_repr(x)


class SSHStringField(Field[Any, Any]):
    """``string`` / ``mpint`` (RFC 4251 §5): uint32 length then that many bytes.

    The value is the bytes without the length (an mpint keeps its two's-complement bytes as
    sent, so a non-minimal encoding rebuilds exactly; :func:`mpint_to_int` reads it)."""

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, Any]:
        if len(s) < 4 or stopped(pkt):
            return stop(pkt, s)
        n = int.from_bytes(s[:4], "big")
        if n > len(s) - 4:
            return stop(pkt, s)
        return s[4 + n :], s[4 : 4 + n]

    def addfield(self, pkt: Packet, s: bytes, val: Any) -> bytes:
        if val is None:
            return s
        b = bytes(self.any2i(pkt, val))
        return s + len(b).to_bytes(4, "big") + b

    def any2i(self, pkt: Packet | None, x: Any) -> Any:
        if isinstance(x, str):
            return x.encode("utf-8", "surrogateescape")
        if isinstance(x, int) and not isinstance(x, bool):
            return int_to_mpint(x)
        return x

    def i2repr(self, pkt: Packet | None, x: Any) -> str:
        return bytes_repr(x)

    def i2len(self, pkt: Packet, x: Any) -> int:
        return 0 if x is None else 4 + len(x)


class SSHNameListField(SSHStringField):
    """``name-list`` (RFC 4251 §5): a string of comma-separated names, held as ``list[str]``.

    Latin-1 decoding keeps any byte, so ``",".join`` rebuilds the string exactly (an empty
    string is the empty list)."""

    islist = 1  # a list value is one value, not a set of packets to generate

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, Any]:
        rest, val = super().getfield(pkt, s)
        return rest, None if val is None else self.m2i(pkt, val)

    def m2i(self, pkt: Packet | None, x: bytes) -> list[str]:
        return x.decode("latin-1").split(",") if x else []

    def any2i(self, pkt: Packet | None, x: Any) -> Any:
        if isinstance(x, bytes):
            return self.m2i(pkt, x)
        if isinstance(x, str):
            return x.split(",") if x else []
        return x

    def addfield(self, pkt: Packet, s: bytes, val: Any) -> bytes:
        if val is None:
            return s
        b = ",".join(self.any2i(pkt, val)).encode("latin-1")
        return s + len(b).to_bytes(4, "big") + b

    def i2repr(self, pkt: Packet | None, x: Any) -> str:
        return repr(x)

    def i2len(self, pkt: Packet, x: Any) -> int:
        return 0 if x is None else 4 + len(",".join(x))


class SSHRestField(StrField):
    """Opaque bytes to the end of the message (extension data, unknown request data)."""

    def i2repr(self, pkt: Packet | None, x: Any) -> str:
        return bytes_repr(x)


class SSHMetaField(StrField):
    """Never on the wire: the reason an undecoded part could not be decoded."""

    def addfield(self, pkt: Packet, s: bytes, val: Any) -> bytes:
        return s

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, Any]:
        return s, self.default

    def any2i(self, pkt: Packet | None, x: Any) -> Any:
        return x.decode(errors="replace") if isinstance(x, bytes) else x

    def i2len(self, pkt: Packet | None, x: Any) -> int:
        return 0

    def i2repr(self, pkt: Packet | None, x: Any) -> str:
        return repr(x)


def int_to_mpint(value: int) -> bytes:
    """Two's-complement minimal encoding of an mpint's value (RFC 4251 §5), without length."""
    if value == 0:
        return b""
    n = (value.bit_length() + 8) // 8 if value > 0 else ((-value - 1).bit_length() + 8) // 8
    b = value.to_bytes(n, "big", signed=True)
    return b


def mpint_to_int(data: bytes) -> int:
    """The value of an mpint's bytes (two's complement, big-endian)."""
    return int.from_bytes(data, "big", signed=True) if data else 0
