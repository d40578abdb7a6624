"""The OpenPGP packet header (RFC 9580 §4.2): legacy and OpenPGP formats, every length form.

:class:`PGPPacket` is the header layer; its payload is the packet body (partial-length chunks
joined), dissected by type.  The header's length octets are kept as they were on the wire in a
:class:`Framing` value, so a dissected packet rebuilds byte for byte (non-minimal lengths and
partial chunking included); a packet built from scratch gets the shortest OpenPGP-format length,
or the form a :class:`Framing` spec asks for (``Framing.spec("partial", 512)``, ``"legacy"``,
``"5-octet"``, ``"indeterminate"``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from scapy.fields import Field, XByteField
from scapy.packet import Packet, Raw

from netsec_layers.constants.openpgp import PacketTag, enum_name


@dataclass(frozen=True)
class Framing:
    """How a packet's length was (or is to be) written.

    ``headers``: the length octets before each chunk (one entry unless partial); ``sizes``: the
    chunk sizes.  A *spec* (``kind`` set, ``headers`` empty) says which form to build.
    """

    headers: tuple[bytes, ...] = ()
    sizes: tuple[int, ...] = ()
    truncated: bool = False
    indeterminate: bool = False
    kind: str = ""
    chunk: int = 0

    @classmethod
    def spec(cls, kind: str, chunk: int = 512) -> Framing:
        """``kind``: ``new`` (shortest), ``5-octet``, ``partial`` (``chunk`` a power of two),
        ``legacy`` (shortest legacy), ``indeterminate`` (legacy, to the end of the data)."""
        if kind not in ("new", "5-octet", "partial", "legacy", "indeterminate"):
            raise ValueError(f"unknown framing {kind!r}")
        return cls(kind=kind, chunk=chunk, indeterminate=kind == "indeterminate")

    @property
    def total(self) -> int:
        return sum(self.sizes)

    @property
    def partial(self) -> bool:
        return len(self.headers) > 1

    def __repr__(self) -> str:
        if self.kind:
            return f"<framing {self.kind}>"
        if self.indeterminate:
            text = f"indeterminate {self.total}"
        elif self.partial:
            text = "partial " + "+".join(str(s) for s in self.sizes)
        else:
            text = f"{len(self.headers[0]) if self.headers else 0}-octet length {self.total}"
        return f"<{text}{' TRUNCATED' if self.truncated else ''}>"


#: Body layer class per packet tag, filled by :mod:`.bodies` when it is imported (the package
#: ``__init__`` does), so this module needs no import of it.
BODY_CLASSES: dict[int, type[Packet]] = {}


def new_length(n: int, *, five: bool = False) -> bytes:
    """Shortest OpenPGP-format length of ``n`` (§4.2.1); ``five`` forces the 5-octet form."""
    if five or n >= 8384:
        return b"\xff" + struct.pack(">I", n)
    if n < 192:
        return bytes([n])
    n -= 192
    return bytes([(n >> 8) + 192, n & 0xFF])


def _read_new(s: bytes, pos: int) -> tuple[bytes, int, bool] | None:
    """(length octets, value, partial) at ``pos`` or None when cut short."""
    if pos >= len(s):
        return None
    o = s[pos]
    if o < 192:
        return s[pos : pos + 1], o, False
    if o < 224:
        if pos + 2 > len(s):
            return None
        return s[pos : pos + 2], ((o - 192) << 8) + s[pos + 1] + 192, False
    if o == 255:
        if pos + 5 > len(s):
            return None
        return s[pos : pos + 5], int.from_bytes(s[pos + 1 : pos + 5], "big"), False
    return s[pos : pos + 1], 1 << (o & 0x1F), True


class FramingField(Field[Any, Any]):
    """The length octets (and partial chunk headers) of a packet; reads the body too.

    ``getfield`` returns the body with its chunks joined, followed by the bytes after the
    packet, and the :class:`Framing`; :meth:`PGPPacket.extract_padding` splits the two.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name, None, fmt="B")

    def addfield(self, pkt: Packet, s: bytes, val: Any) -> bytes:
        return s  # written by PGPPacket.post_build, which knows the body

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, Framing]:
        # A header that is not one, or a length past the data: everything after the packet
        # type octet becomes the (Raw) body, kept as is so the rebuild is exact.
        cut = s, Framing((), (len(s),), truncated=True)
        ctb = pkt.ctb or 0
        if not ctb & 0x80:
            return cut
        if not ctb & 0x40:  # legacy format (§4.2.2)
            ltype = ctb & 3
            if ltype == 3:
                return s, Framing((b"",), (len(s),), indeterminate=True)
            width = 1 << ltype
            n = int.from_bytes(s[:width], "big")
            if len(s) < width + n:
                return cut
            return s[width:], Framing((s[:width],), (n,))
        headers: list[bytes] = []
        sizes: list[int] = []
        parts: list[bytes] = []
        pos = 0
        while True:
            got = _read_new(s, pos)
            if got is None:
                return cut
            raw, n, partial = got
            pos += len(raw)
            if pos + n > len(s):
                return cut
            headers.append(raw)
            sizes.append(n)
            parts.append(s[pos : pos + n])
            pos += n
            if not partial:
                break
        return b"".join(parts) + s[pos:], Framing(tuple(headers), tuple(sizes))

    def i2repr(self, pkt: Packet | None, x: Any) -> str:
        return repr(x) if x is not None else "<shortest length>"


class PGPPacket(Packet):
    """One OpenPGP packet header; the payload is the body, dissected by packet type."""

    name = "OpenPGP packet"
    fields_desc = [XByteField("ctb", None), FramingField("framing")]

    @property
    def tag(self) -> int:
        ctb: int | None = self.ctb
        if ctb is None:
            return int(getattr(self.payload, "pgp_tag", 0))
        return ctb & 0x3F if ctb & 0x40 else (ctb >> 2) & 0x0F

    @property
    def new_format(self) -> bool:
        return self.ctb is None or bool(self.ctb & 0x40)

    def do_dissect(self, s: bytes) -> bytes:
        rest: bytes = super().do_dissect(s)
        # Scapy caches the header as "the input minus what the fields left"; with partial
        # chunk headers taken out of the body that prefix is wrong: always rebuild the header.
        self.raw_packet_cache = None
        return rest

    def post_dissection(self, pkt: Packet) -> None:
        # An empty body (an empty User ID, say) is still a body: Scapy dissects no payload from
        # no bytes, so attach the body layer when its default builds to nothing.
        from scapy.packet import NoPayload, Padding

        fr = self.framing
        pad = self.payload
        if isinstance(pad, (NoPayload, Padding)) and fr is not None and fr.total == 0:
            cls = BODY_CLASSES.get(self.tag)
            if cls is not None and not fr.truncated and bytes(cls()) == b"":
                self.remove_payload()
                self.add_payload(cls())
                if isinstance(pad, Padding):
                    self.add_payload(pad)

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        fr = self.framing
        if fr is None or fr.indeterminate or fr.truncated:
            return s, b""
        return s[: fr.total], s[fr.total :]

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        fr = self.framing
        if fr is not None and fr.truncated:
            return Raw
        return BODY_CLASSES.get(self.tag, Raw)

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        fr: Framing | None = self.framing
        kind = fr.kind if fr is not None else "new"
        ctb = pkt[0] if self.ctb is not None else None
        tag = self.tag
        if ctb is None:
            n = len(pay)
            if kind == "indeterminate":
                ctb = 0x80 | (tag << 2) | 3
            elif kind == "legacy":
                ctb = 0x80 | (tag << 2) | (0 if n < 256 else 1 if n < 65536 else 2)
            else:
                ctb = 0xC0 | tag
        if fr is not None and not fr.kind and fr.total == len(pay):
            if fr.indeterminate or fr.truncated:
                return bytes([ctb]) + pay
            out, pos = [bytes([ctb])], 0
            for head, size in zip(fr.headers, fr.sizes, strict=True):
                out.append(head + pay[pos : pos + size])
                pos += size
            return b"".join(out)
        return bytes([ctb]) + _encode_length(ctb, pay, fr)

    def mysummary(self) -> str:
        fmt = "" if self.new_format else " legacy"
        return f"OpenPGP {enum_name(PacketTag, self.tag)}{fmt}"


def _encode_length(ctb: int, pay: bytes, fr: Framing | None) -> bytes:
    """Length octets + body for a packet whose framing must be computed."""
    n = len(pay)
    if not ctb & 0x40:
        if ctb & 3 == 3:
            return pay
        width = 1 << (ctb & 3)  # the length type the packet type octet announces
        return (n & ((1 << (8 * width)) - 1)).to_bytes(width, "big") + pay
    kind = fr.kind if fr is not None else "new"
    if fr is not None and not fr.kind:  # keep the dissected form: partial stays partial
        kind = "partial" if fr.partial else "5-octet" if len(fr.headers[0]) == 5 else "new"
        chunk = fr.sizes[0] if fr.partial else 512
    else:
        chunk = fr.chunk if fr is not None else 512
    if kind == "partial":
        power = max(0, min(30, chunk.bit_length() - 1))
        chunk = 1 << power
        out, pos = [], 0
        while n - pos > chunk:
            out.append(bytes([0xE0 | power]) + pay[pos : pos + chunk])
            pos += chunk
        out.append(new_length(n - pos) + pay[pos:])
        return b"".join(out)
    return new_length(n, five=kind == "5-octet") + pay


class PGPUndecoded(Packet):
    """Bytes that are not an OpenPGP packet sequence, with the reason (never an exception)."""

    name = "OpenPGP undecoded"
    fields_desc = [Field("data", b"", fmt="0s")]
    reason = ""

    def do_dissect(self, s: bytes) -> bytes:
        self.fields["data"] = s
        return b""

    def self_build(self) -> bytes:
        return bytes(self.data)

    def mysummary(self) -> str:
        return f"OpenPGP undecoded ({self.reason})"
