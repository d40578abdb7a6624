"""Shared machinery of the TLS layers: dissection context, fields, the undecoded layer.

Context without global state (why: Scapy's own TLS keeps connection state in globals and
results change with the API used): a :class:`TLSContext` is attached to the top packet of one
dissection (``tls_ctx=`` keyword of every TLS layer's constructor, or :func:`dissect_tls`);
sub-packets find it by walking ``parent``/``underlayer`` (both are set by Scapy *before* a
sub-packet dissects itself).  Within one dissection the context is updated as records go by
(ServerHello fixes the version and key exchange, ChangeCipherSpec marks later records as
protected), so a whole flight parses right without any state kept between calls.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from scapy.fields import (
    Field,
    FieldLenField,
    PacketListField,
    StrField,
    StrFixedLenField,
    StrLenField,
)
from scapy.packet import NoPayload, Packet

from netsec_layers.constants.tls import enum_names
from netsec_layers.layers.fast import make, register_init


def bytes_repr(x: Any) -> str:
    """Short display of opaque bytes: hex, shortened when long; printable ASCII as is."""
    if isinstance(x, bytes) and len(x) > 24:
        return f"<{len(x)} bytes {x[:16].hex()}...>"
    if isinstance(x, bytes):
        printable = x.isascii() and all(32 <= c < 127 for c in x)
        return repr(x) if printable or not x else x.hex()
    return repr(x)


class OpaqueField(StrLenField):
    """Bytes whose length comes from another field; shows as hex when long."""

    def i2repr(self, pkt: Packet | None, x: Any) -> str:
        return bytes_repr(x)


class RestField(StrField):
    """Opaque bytes to the end of the layer, shown like :class:`OpaqueField`."""

    def i2repr(self, pkt: Packet | None, x: Any) -> str:
        return bytes_repr(x)


@dataclass
class TLSContext:
    """What is known about the connection while dissecting.

    ``version``: negotiated version (0x0300..0x0304) or None (then per-message heuristics
    decide, see :mod:`netsec_layers.layers.tls.handshake_kx`).  ``kex``: key-exchange family as
    returned by :func:`netsec_layers.constants.tls.suite_kex` (``"ECDHE"``, ``"DHE"``,
    ``"RSA"``...), or None.  ``encrypted``: records of the direction being dissected are
    protected (set after a ChangeCipherSpec in TLS <= 1.2).  ``pending_handshake``: bytes of
    a handshake message that continue in the next record.
    """

    version: int | None = None
    kex: str | None = None
    cipher_suite: int | None = None
    encrypted: bool = False
    pending_handshake: int = 0


class TLSPacket(Packet):
    """Base of every netsec TLS layer: accepts ``tls_ctx=`` and finds the context."""

    tls_ctx: TLSContext | None = None
    # set on records dissected by a chain loop, which links the following records itself
    # (no recursion over long record chains)
    chain_child = False

    def __init__(
        self,
        _pkt: bytes = b"",
        *args: Any,
        tls_ctx: TLSContext | None = None,
        chain_child: bool = False,
        **kwargs: Any,
    ) -> None:
        if tls_ctx is not None:
            object.__setattr__(self, "tls_ctx", tls_ctx)
        if chain_child:
            object.__setattr__(self, "chain_child", True)
        super().__init__(_pkt, *args, **kwargs)

    def context(self) -> TLSContext:
        """The dissection context of this packet (created on the top packet if none)."""
        p: Any = self
        top: Any = self
        while isinstance(p, TLSPacket):  # stop at TCP & co: the context is ours alone
            ctx = p.tls_ctx
            if ctx is not None:
                return ctx
            top = p
            p = p.parent if p.parent is not None else p.underlayer
        ctx = TLSContext()
        object.__setattr__(top, "tls_ctx", ctx)
        return ctx


# TLSPacket.__init__ only stores its two keywords, which make() takes as ``attrs``
register_init(TLSPacket)


def find_context(pkt: Packet | None) -> TLSContext:
    """Context of ``pkt`` (any packet; a fresh one if it is not a TLS layer)."""
    if isinstance(pkt, TLSPacket):
        return pkt.context()
    return TLSContext()


class MetaStrField(StrField):
    """A field that never appears on the wire (e.g. the reason of an undecoded part)."""

    def __init__(self, name: str, default: str) -> None:
        text: Any = default  # StrField is annotated for bytes; this one holds text
        super().__init__(name, text)

    def addfield(self, pkt: Packet, s: bytes, val: Any) -> bytes:
        return s

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, Any]:
        return s, self.default

    def any2i(self, pkt: Packet | None, x: Any) -> Any:
        return x.decode(errors="replace") if isinstance(x, bytes) else x

    def i2len(self, pkt: Packet | None, x: Any) -> int:
        return 0

    def i2repr(self, pkt: Packet | None, x: Any) -> str:
        return repr(x.decode(errors="replace") if isinstance(x, bytes) else x)


class OptLenField(FieldLenField):
    """A vector length that may be absent (e.g. ClientHello extensions, RFC 5246 §7.4.1.2).

    Dissecting nothing leaves it None; building with None and an empty target writes
    nothing (the block is absent); set it to 0 to write an explicit empty vector.
    """

    def target(self) -> str:
        """The name of the field whose length this is (an OptLenField always has one)."""
        if self.length_of is None:
            raise TypeError(f"OptLenField {self.name} needs length_of")
        return self.length_of

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, Any]:
        if not s:
            return s, None
        return super().getfield(pkt, s)

    def addfield(self, pkt: Packet, s: bytes, val: Any) -> bytes:
        if val is None and not pkt.getfieldval(self.target()):
            return s
        return super().addfield(pkt, s, val)


class TLSListField(PacketListField):
    """A TLS vector of sub-packets, ``length_from`` bytes long, parsed by ``parse``.

    ``parse(parent, data) -> list[Packet]`` never raises; what it cannot decode becomes a
    :class:`TLSUndecoded` element, so the vector always rebuilds to the same bytes.
    """

    __slots__ = ["parse"]

    def __init__(
        self,
        name: str,
        default: Any,
        parse: Callable[[Packet, bytes], list[Packet]],
        length_from: Callable[[Packet], int | None] | None = None,
    ) -> None:
        # None from length_from means "to the end of the data": only our getfield calls it
        super().__init__(
            name,
            default,
            pkt_cls=TLSUndecoded,
            length_from=length_from,  # type: ignore[arg-type]
        )
        self.parse = parse

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, Any]:
        n = self.length_from(pkt) if self.length_from is not None else None
        if n is None:
            data, rest = s, b""
        else:
            data, rest = s[:n], s[n:]
        if not data:
            return rest, []
        return rest, self.parse(pkt, data)

    def addfield(self, pkt: Packet, s: bytes, val: Any) -> bytes:
        return s + b"".join(bytes(p) for p in (val or []))


class TLSUndecoded(TLSPacket):
    """Bytes that could not be decoded, with the ``reason`` (never on the wire)."""

    name = "TLS undecoded"
    fields_desc = [MetaStrField("reason", ""), RestField("load", b"")]

    def mysummary(self) -> str:
        return f"undecoded {len(self.load)} bytes: {self.reason}"


def undecoded(reason: str, data: bytes, parent: Packet | None = None) -> TLSUndecoded:
    """A :class:`TLSUndecoded` holding ``data`` with ``reason``."""
    p = make(TLSUndecoded, data, parent=parent, internal=False)
    p.reason = reason
    return p


def _reset_lengths(p: Packet) -> None:
    """Set every length/count field of ``p`` (and its sub-packets) back to None."""
    while isinstance(p, Packet) and not isinstance(p, NoPayload):
        for f in p.fields_desc:
            fld = getattr(f, "fld", f)  # ConditionalField wraps the real field
            name = fld.name
            if name not in p.fields:
                continue
            if isinstance(fld, OptLenField):
                if p.getfieldval(fld.target()):
                    p.fields[name] = None
            elif isinstance(fld, FieldLenField) or name in getattr(p, "computed_lengths", ()):
                p.fields[name] = None
            val = p.fields[name]
            if isinstance(val, Packet):
                _reset_lengths(val)
            elif isinstance(val, list):
                for v in val:
                    if isinstance(v, Packet):
                        _reset_lengths(v)
        p = p.payload


_FIELD_ADDFIELD = Field.addfield  # FieldLenField's too: it writes i2m(pkt, value)


def exact(p: Packet, raw: bytes, *, allow_payload: bool = False) -> bool:
    """True if ``p`` (dissected from ``raw``) is a well-formed reading of ``raw``: it
    rebuilds to exactly ``raw`` from its fields *and* every length field agrees with what it
    measures (recomputing them all gives ``raw`` again).  The second test rejects readings
    where a length runs past the data (e.g. a TLS 1.3 NewSessionTicket read as 1.2).

    Sub-packets are not rebuilt again: every TLS vector element was itself accepted by this
    test when it was dissected (``TLSListField`` parsers go through :func:`try_classes`), so
    its cached bytes are what it reads.  Only ``p``'s own fields are rebuilt, twice (as read,
    then with its own length fields recomputed), and its cache is left as dissection set it.
    """
    if not isinstance(p.payload, NoPayload):
        if not allow_payload:
            return False
        return _exact_deep(p, raw)
    cache, cache_fields = p.raw_packet_cache, p.raw_packet_cache_fields
    saved: dict[str, Any] = {}
    try:
        p.raw_packet_cache = None
        if p.do_build() != raw:
            return False
        computed = getattr(p, "computed_lengths", ())
        for f in p.fields_desc:
            fld = getattr(f, "fld", f)  # ConditionalField wraps the real field
            name = fld.name
            if name not in p.fields:
                continue
            value = p.fields[name]
            if name in computed:
                own = getattr(p, "computed_length", None)
                if own is None:
                    saved[name] = value
                elif value is not None and own(name, raw) != value:
                    return False
            elif isinstance(fld, OptLenField) and not p.getfieldval(fld.target()):
                continue  # an absent block stays absent
            elif isinstance(fld, FieldLenField):
                # what building with None writes is i2m(None) (Field.addfield, and the
                # overrides of OptLenField/Len3Field for a present length_of/count_of)
                plain = type(fld).addfield is _FIELD_ADDFIELD or (
                    isinstance(fld, OptLenField | Len3Field)
                    and (fld.length_of is not None or fld.count_of is not None)
                )
                if not plain:
                    saved[name] = value
                elif value is not None and fld.i2m(p, None) != value:
                    return False
        if not saved:
            return True
        for name in saved:
            p.fields[name] = None
        return p.do_build() == raw
    except Exception:  # a field that cannot rebuild what it parsed: not this class
        return False
    finally:
        p.fields.update(saved)
        p.raw_packet_cache, p.raw_packet_cache_fields = cache, cache_fields


def _exact_deep(p: Packet, raw: bytes) -> bool:
    """:func:`exact` over a whole payload chain (SSLv2 hello followed by more layers)."""
    try:
        p.clear_cache()
        if bytes(p) != raw:
            return False
        q = p.copy()
        _reset_lengths(q)
        return bytes(q) == raw
    except Exception:  # a field that cannot rebuild what it parsed: not this class
        return False


def try_classes(
    classes: Iterable[type[Packet]],
    raw: bytes,
    parent: Packet | None,
    *,
    allow_payload: bool = False,
    underlayer: Packet | None = None,
) -> Packet | None:
    """First class in ``classes`` that dissects ``raw`` and rebuilds it byte for byte.

    ``parent`` (vector elements) or ``underlayer`` (payload layers) links the new packet to
    the one being dissected, so it finds the dissection context.
    """
    fallback = None
    for cls in classes:
        try:
            if underlayer is not None:
                p = make(cls, raw, underlayer=underlayer, internal=False)
            else:
                p = make(cls, raw, parent=parent, internal=False)
        except Exception:  # malformed for this class: try the next one
            continue
        if exact(p, raw, allow_payload=allow_payload):
            if not has_undecoded(p):
                return p
            # well framed but with undecoded parts inside: only if no class reads it all
            fallback = fallback or p
    return fallback


def has_undecoded(p: Packet) -> bool:
    """True if ``p`` holds a :class:`TLSUndecoded` anywhere (list fields or payloads)."""
    while isinstance(p, Packet) and not isinstance(p, NoPayload):
        if isinstance(p, TLSUndecoded):
            return True
        for val in p.fields.values():
            if type(val) is list:
                # a list field holds packets or plain values, never both
                if val and isinstance(val[0], Packet) and any(has_undecoded(v) for v in val):
                    return True
            elif isinstance(val, Packet) and has_undecoded(val):
                return True
        p = p.payload
    return False


def names(enum: type[IntEnum]) -> dict[int, str]:
    """Scapy enum dict for ``enum`` (GREASE values named ``GREASE``)."""
    return enum_names(enum)


def u8(data: bytes, off: int) -> int:
    return data[off]


def u16(data: bytes, off: int) -> int:
    return int(struct.unpack_from("!H", data, off)[0])


def u24(data: bytes, off: int) -> int:
    return int.from_bytes(data[off : off + 3], "big")


class Len3Field(FieldLenField):
    """A 3-byte (uint24) vector length (handshake lengths, certificate lists)."""

    def __init__(
        self, name: str, default: Any, length_of: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(name, default, length_of=length_of, fmt="!I", **kwargs)

    def addfield(self, pkt: Packet, s: bytes, val: Any) -> bytes:
        if val is None and self.length_of is None and self.count_of is None:
            v = 0  # filled in by the owner's post_build
        else:
            v = self.i2m(pkt, val)
        return s + struct.pack("!I", v & 0xFFFFFFFF)[1:]

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, Any]:
        if len(s) < 3:
            raise struct.error("truncated uint24")
        return s[3:], self.m2i(pkt, int.from_bytes(s[:3], "big"))


class HexFixedField(StrFixedLenField):
    """Fixed-length bytes shown as hex (randoms, hashes)."""

    def i2repr(self, pkt: Packet | None, x: Any) -> str:
        return x.hex() if isinstance(x, bytes) else repr(x)
