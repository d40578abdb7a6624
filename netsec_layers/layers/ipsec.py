"""Scapy layers for IPsec: wire ESP, decrypted ESP, AH and RFC 3948 UDP encapsulation.

* :class:`ESP` is the packet as seen on the wire (RFC 4303 §2): ``spi``, ``seq`` and the opaque
  ``data`` (IV, ciphertext, padding and ICV cannot be told apart without the SA).
* :class:`ESPPlaintext` is the decrypted view: ``spi``, ``seq``, ``iv``, the inner payload
  dissected by ``next_header``, then the trailer ``tfc_padding``, ``padding``, ``pad_length``,
  ``next_header`` and ``icv``.  ``raw()`` of it is exactly ``spi|seq|iv|payload|tfc|padding|
  pad_length|next_header|icv`` - the plaintext layout of RFC 4303 §2 with the ICV appended.
* :class:`AH` (RFC 4302 §2) with the ICV sized from ``payload_len``.
* :class:`NonESPMarker` and :class:`NATKeepalive`: the non-ESP payloads of UDP port 4500
  (RFC 3948 §2.2, §2.3).

No cryptography here (decryption lives in :mod:`netsec_layers.session.ipsec_scapy`), and
importing this module changes nothing in Scapy: :func:`bind_ipsec` makes IPv4/IPv6/UDP-4500
dissect with these classes ahead of ``scapy.layers.ipsec``; :func:`unbind_ipsec` undoes it.
Layers never raise on bad bytes: too-short input falls back to ``Raw``.
"""

from __future__ import annotations

import struct
import sys
from typing import Any

from scapy.fields import (
    ByteEnumField,
    ByteField,
    Field,
    IntField,
    ShortField,
    XIntField,
    XStrField,
    XStrLenField,
)
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import (
    ICMPv6Unknown,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    icmp6typescls,
)
from scapy.layers.ipsec import ESP as _ScapyESP
from scapy.packet import Packet, Raw

from netsec_layers.constants.ipsec import (
    ESP_DEFAULT_PADDING,
    IPProto,
    esp_declared_length,
    esp_pad_count,
    esp_padding_conforms,
)
from netsec_layers.layers.fast import make, register_init

__all__ = [
    "AH",
    "ESP",
    "ESPDummy",
    "ESPPlaintext",
    "ESPUndecoded",
    "NATKeepalive",
    "NonESPMarker",
    "NATT_PORT",
    "bind_ipsec",
    "esp_padding",
    "unbind_ipsec",
]

NATT_PORT = 4500  # RFC 3948 §2: IKE and ESP share UDP 4500 once NAT-T is in use

_IP_PROTOS = {int(p): p.name for p in IPProto} | {59: "NO_NEXT_HEADER"}

# Layers whose payload may be ESP/AH.  IPv6 extension headers carry the same ``nh`` field.
_IPV6_LIKE: tuple[type[Packet], ...] = (
    IPv6,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrRouting,
    IPv6ExtHdrFragment,
)


def esp_padding(content_len: int, block_size: int = 4) -> bytes:
    """Default ESP padding for ``content_len`` bytes of payload(+TFC) (RFC 4303 §2.4).

    The padded plaintext plus the two trailer bytes must fill whole cipher blocks and end on
    a 4-byte boundary; the pad bytes are 1, 2, 3, ... .
    """
    align = block_size if block_size % 4 == 0 else block_size * 4  # lcm(block, 4) for 1,2,4
    if align <= 0:
        align = 4
    return ESP_DEFAULT_PADDING[: esp_pad_count(content_len, align)]


def _payload_class(next_header: int, data: bytes) -> type[Packet]:
    """The Scapy class for the bytes following an ESP/AH header with this next header."""
    if next_header == IPProto.IPV4:
        return IP
    if next_header == IPProto.IPV6:
        return IPv6
    if next_header == IPProto.TCP:
        return TCP
    if next_header == IPProto.UDP:
        return UDP
    if next_header == IPProto.ICMP:
        return ICMP
    if next_header == IPProto.ICMPV6:
        cls = icmp6typescls.get(data[0], ICMPv6Unknown) if data else ICMPv6Unknown
        return cls if isinstance(cls, type) else ICMPv6Unknown
    if next_header == IPProto.ESP:
        return ESP
    if next_header == IPProto.AH:
        return AH
    if next_header == 59:  # RFC 4303 §2.6: dummy packet, "no next header"
        return ESPDummy
    return Raw


# Top-down: ``IP()/ESP()`` sets proto 50, ``UDP()/ESP()`` the NAT-T ports (RFC 3948 §2.1).
_ESP_OVERLOAD: dict[type[Packet], dict[str, int]] = {
    IP: {"proto": IPProto.ESP},
    UDP: {"sport": NATT_PORT, "dport": NATT_PORT},
    **{c: {"nh": IPProto.ESP} for c in _IPV6_LIKE},
}


def _summary_always(pkt: Packet) -> tuple[int, str, list[Any]]:
    """Scapy shows only the innermost layer's summary; IPsec headers always show theirs."""
    found, s, needed = pkt.payload._do_summary()
    ret = pkt.mysummary()
    return 1, f"{ret} / {s}" if s else ret, needed


class ESP(_ScapyESP):
    """ESP as on the wire (RFC 4303 §2): the SPI, sequence number and opaque protected data.

    A subclass of Scapy's ``ESP`` with the same three fields, matched as one (``match_subclass``):
    ``pkt[scapy.layers.ipsec.ESP]`` finds it, so Scapy's own ``SecurityAssociation.decrypt``
    works on packets dissected while these layers are bound.
    """

    name = "ESP"
    match_subclass = True
    fields_desc = [
        XIntField("spi", 1),
        IntField("seq", 0),
        XStrField("data", b""),
    ]
    overload_fields = _ESP_OVERLOAD

    @classmethod
    def dispatch_hook(cls, _pkt: bytes | None = None, *args: Any, **kargs: Any) -> type[Packet]:
        """Demultiplex UDP-4500 payloads (RFC 3948 §2.2/§2.3) and refuse < 8 bytes."""
        if _pkt is None:
            return cls
        if isinstance(kargs.get("_underlayer"), UDP):
            if _pkt == b"\xff":
                return NATKeepalive
            if _pkt[:4] == b"\x00\x00\x00\x00" and len(_pkt) >= 4:
                return NonESPMarker
        if len(_pkt) < 8:
            return Raw
        return cls

    def mysummary(self) -> str:
        return f"ESP spi=0x{self.spi:08x} seq={self.seq}"


class ESPDummy(Packet):
    """Contents of an ESP dummy packet (next header 59, RFC 4303 §2.6): random bytes."""

    name = "ESP dummy"
    fields_desc = [XStrField("data", b"")]

    def mysummary(self) -> str:
        return f"ESP dummy ({len(self.data)} bytes)"


class _PadOkField(Field[None, None]):
    """Zero-length pseudo field: shows whether the padding follows RFC 4303 §2.4."""

    def __init__(self, name: str) -> None:
        super().__init__(name, None, fmt="0s")
        self.sz = 0

    def addfield(self, pkt: Packet, s: bytes, val: Any) -> bytes:
        return s

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, None]:
        return s, None

    def i2h(self, pkt: Packet | None, x: Any) -> bool:
        return bool(pkt is not None and pkt._padding_conforms())

    def i2repr(self, pkt: Packet | None, x: Any) -> str:
        return "yes" if self.i2h(pkt, x) else "NO (non-conforming padding)"

    def i2len(self, pkt: Packet, x: Any) -> int:
        return 0


@register_init  # drops the ESPPlaintext keywords it may be offered, nothing else
class ESPUndecoded(Raw):
    """Bytes too short to be the ESP plaintext layout they were offered as (kept as-is)."""

    name = "ESP (too short to decode)"

    def __init__(self, _pkt: bytes = b"", *args: Any, **kwargs: Any) -> None:
        for k in ("iv_len", "icv_len", "block_size"):
            kwargs.pop(k, None)
        super().__init__(_pkt, *args, **kwargs)


class ESPPlaintext(Packet):
    """Decrypted ESP (RFC 4303 §2): header, IV, inner payload, TFC padding, trailer and ICV.

    ``ESPPlaintext(data, iv_len=16, icv_len=16)`` dissects ``spi|seq|iv|payload|tfc|padding|
    pad_length|next_header|icv`` bytes (the IV/ICV lengths depend on the SA, so they are
    given).  Building from fields fills ``None`` defaults: ``next_header`` from the payload
    class, ``padding`` per §2.4 for ``block_size`` (default 4), ``pad_length`` from it.
    ``pad_ok`` tells whether the padding is the monotonic 1, 2, 3... of §2.4.
    """

    __slots__ = ["iv_len", "icv_len", "block_size"]
    name = "ESP plaintext"
    fields_desc = [
        XIntField("spi", 1),
        IntField("seq", 0),
        XStrField("iv", b""),
        XStrField("tfc_padding", b""),
        XStrField("padding", None),
        ByteField("pad_length", None),
        ByteEnumField("next_header", None, _IP_PROTOS),
        XStrField("icv", b""),
        _PadOkField("pad_ok"),
    ]
    overload_fields = _ESP_OVERLOAD

    def __init__(
        self,
        _pkt: bytes = b"",
        *args: Any,
        iv_len: int = 0,
        icv_len: int = 0,
        block_size: int = 4,
        **kwargs: Any,
    ) -> None:
        object.__setattr__(self, "iv_len", iv_len)
        object.__setattr__(self, "icv_len", icv_len)
        object.__setattr__(self, "block_size", block_size)
        super().__init__(_pkt, *args, **kwargs)

    @classmethod
    def dispatch_hook(cls, _pkt: bytes | None = None, *args: Any, **kargs: Any) -> type[Packet]:
        if _pkt is not None and len(_pkt) < 10 + kargs.get("iv_len", 0) + kargs.get("icv_len", 0):
            return ESPUndecoded  # cannot hold spi, seq, iv, pad_length, next_header and icv
        return cls

    @classmethod
    def from_parts(
        cls,
        *,
        spi: int,
        seq: int,
        iv: bytes,
        payload: bytes,
        tfc_padding: bytes,
        padding: bytes,
        pad_length: int,
        next_header: int,
        icv: bytes,
    ) -> ESPPlaintext:
        """Build from already separated parts (as a decryptor returns them); the payload bytes
        are dissected by ``next_header``."""
        pkt = cls(iv_len=len(iv), icv_len=len(icv))
        # the values are already internal ones (ints and bytes): what any2i would give
        pkt.fields.update(
            spi=spi,
            seq=seq,
            iv=iv,
            tfc_padding=tfc_padding,
            padding=padding,
            pad_length=pad_length,
            next_header=next_header,
            icv=icv,
        )
        if payload or next_header == 59:
            pkt.add_payload(pkt._dissect_inner(next_header, payload))
        return pkt

    # -- dissection ------------------------------------------------------------------------
    def do_dissect(self, s: bytes) -> bytes:
        """Split the trailer from the end; return the payload for inner dissection."""
        iv_len, icv_len = self.iv_len, self.icv_len
        self.fields["spi"], self.fields["seq"] = struct.unpack_from("!II", s)
        self.fields["iv"] = s[8 : 8 + iv_len]
        body = s[8 + iv_len : len(s) - icv_len]
        self.fields["icv"] = s[len(s) - icv_len :] if icv_len else b""
        self.fields["next_header"] = body[-1]
        pad_length = body[-2]
        self.fields["pad_length"] = pad_length
        # A pad_length larger than what is there is kept as-is (pad_ok says it is wrong)
        start = max(0, len(body) - 2 - pad_length)
        self.fields["padding"] = body[start:-2]
        content = body[:start]
        declared = esp_declared_length(body[-1], content)
        if declared is None:
            self.fields["tfc_padding"] = b""
            payload = content
        else:
            self.fields["tfc_padding"] = content[declared:]
            payload = content[:declared]
        self.raw_packet_cache = None  # the trailer is rebuilt by post_build
        self.explicit = 1
        return payload

    def do_dissect_payload(self, s: bytes) -> None:
        if s or self.fields.get("next_header") == 59:
            self.add_payload(self._dissect_inner(self.fields.get("next_header", 59), s))

    def _dissect_inner(self, next_header: int, data: bytes) -> Packet:
        cls = _payload_class(next_header, data)
        try:
            return make(cls, data, underlayer=self)
        except Exception:  # a Scapy dissector choking on garbage: keep the bytes
            return Raw(data, _internal=1, _underlayer=self)

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        return _payload_class(self.next_header if self.next_header is not None else 59, payload)

    # -- building --------------------------------------------------------------------------
    def self_build(self) -> bytes:
        """Only spi|seq|iv here: the rest of the fields form the trailer (see post_build)."""
        return struct.pack("!II", self.spi & 0xFFFFFFFF, self.seq & 0xFFFFFFFF) + bytes(self.iv)

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        tfc = bytes(self.tfc_padding or b"")
        padding = self.padding
        if padding is None:
            padding = esp_padding(len(pay) + len(tfc), self.block_size)
        pad_length = self.pad_length if self.pad_length is not None else len(padding)
        nh = self.next_header
        if nh is None:
            nh = self._default_next_header()
        return (
            p
            + pay
            + tfc
            + bytes(padding)
            + bytes([pad_length & 0xFF, nh & 0xFF])
            + bytes(self.icv or b"")
        )

    def _default_next_header(self) -> int:
        pl = self.payload
        for cls, nh in (
            (IP, IPProto.IPV4),
            (IPv6, IPProto.IPV6),
            (TCP, IPProto.TCP),
            (UDP, IPProto.UDP),
            (ICMP, IPProto.ICMP),
            (AH, IPProto.AH),
            (ESP, IPProto.ESP),
        ):
            if isinstance(pl, cls):
                return int(nh)
        if pl.__class__.__module__ == "scapy.layers.inet6" and pl.__class__.__name__.startswith(
            "ICMPv6"
        ):
            return int(IPProto.ICMPV6)
        return 59

    # -- presentation -------------------------------------------------------------------
    def _padding_conforms(self) -> bool:
        """``pad_ok``: True when the padding is 1, 2, 3, ... and ``pad_length`` matches (RFC 4303 §2.4)."""
        padding = self.padding
        if padding is None:
            return True  # will be generated conforming
        padding = bytes(padding)
        if self.pad_length is not None and self.pad_length != len(padding):
            return False
        return esp_padding_conforms(padding)

    def copy(self) -> ESPPlaintext:
        clone = super().copy()
        for attr in self.__slots__:
            object.__setattr__(clone, attr, getattr(self, attr))
        return clone

    def clone_with(self, payload: Any = None, **kargs: Any) -> Any:
        clone = super().clone_with(payload, **kargs)
        for attr in self.__slots__:
            object.__setattr__(clone, attr, getattr(self, attr))
        return clone

    def show2(self, dump: bool = False, indent: int = 3, lvl: str = "", label_lvl: str = "") -> Any:
        again = self.__class__(
            bytes(self),
            iv_len=len(self.iv),
            icv_len=len(self.icv or b""),
            block_size=self.block_size,
        )
        return again.show(dump, indent, lvl, label_lvl)

    def _do_summary(self) -> tuple[int, str, list[Any]]:
        return _summary_always(self)

    def mysummary(self) -> str:
        nh = self.next_header
        name = _IP_PROTOS.get(nh, str(nh)) if nh is not None else "auto"
        pad = "" if self._padding_conforms() else " pad=BAD"
        return f"ESPPlaintext spi=0x{self.spi:08x} seq={self.seq} nh={name}{pad}"


class AH(Packet):
    """Authentication Header (RFC 4302 §2).

    ``payload_len`` is the AH length in 32-bit words minus 2 (§2.2); ``None`` computes it from
    the ICV.  The ICV is ``(payload_len + 2) * 4 - 12`` bytes and includes any alignment
    padding (§2.6).
    """

    name = "AH"
    fields_desc = [
        ByteEnumField("next_header", None, _IP_PROTOS),
        ByteField("payload_len", None),
        ShortField("reserved", 0),
        XIntField("spi", 1),
        IntField("seq", 0),
        XStrLenField("icv", b"", length_from=lambda p: max(0, (p.payload_len + 2) * 4 - 12)),
    ]
    overload_fields = {
        IP: {"proto": IPProto.AH},
        **{c: {"nh": IPProto.AH} for c in _IPV6_LIKE},
    }

    @classmethod
    def dispatch_hook(cls, _pkt: bytes | None = None, *args: Any, **kargs: Any) -> type[Packet]:
        if _pkt is not None and len(_pkt) < 12:
            return Raw
        return cls

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        if self.payload_len is None:
            p = p[:1] + bytes([(len(p) // 4 - 2) & 0xFF]) + p[2:]
        if self.next_header is None:
            nh = 59
            for cls, num in ((IP, 4), (IPv6, 41), (TCP, 6), (UDP, 17), (ICMP, 1), (ESP, 50)):
                if isinstance(self.payload, cls):
                    nh = num
                    break
            p = bytes([nh]) + p[1:]
        return p + pay

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        nh = self.next_header
        return _payload_class(nh if nh is not None else 59, payload)

    def _do_summary(self) -> tuple[int, str, list[Any]]:
        return _summary_always(self)

    def mysummary(self) -> str:
        return f"AH spi=0x{self.spi:08x} seq={self.seq}"


class NonESPMarker(Packet):
    """Four zero bytes before IKE on UDP 4500 (RFC 3948 §2.2)."""

    name = "Non-ESP marker"
    fields_desc = [XIntField("non_esp_marker", 0)]
    overload_fields = {UDP: {"sport": NATT_PORT, "dport": NATT_PORT}}

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        # IKE header: version byte at offset 17, major version in the high nibble.
        # netsec's IKE layers while bound (bind_netsec_layers / bind_ike), else Scapy's if the
        # user already imported them (no side effects).
        ours = sys.modules.get("netsec_layers.layers.ike.bind")
        if ours is not None and len(payload) >= 28 and ours.is_bound():
            return ours.IKE  # type: ignore[no-any-return]  # netsec's IKEv2/ISAKMP dispatcher
        major = payload[17] >> 4 if len(payload) > 17 else 0
        if major == 2 and "scapy.contrib.ikev2" in sys.modules:
            return sys.modules["scapy.contrib.ikev2"].IKEv2  # type: ignore[no-any-return]
        if major == 1 and "scapy.layers.isakmp" in sys.modules:
            return sys.modules["scapy.layers.isakmp"].ISAKMP  # type: ignore[no-any-return]
        return Raw

    def mysummary(self) -> str:
        return "NonESPMarker (IKE follows)"


class NATKeepalive(Packet):
    """The single 0xFF byte of a NAT-keepalive (RFC 3948 §2.3)."""

    name = "NAT-keepalive"
    fields_desc = [ByteField("keepalive", 0xFF)]
    overload_fields = {UDP: {"sport": NATT_PORT, "dport": NATT_PORT}}

    def mysummary(self) -> str:
        return "NATKeepalive"


# -- bindings ------------------------------------------------------------------------------
def _our_bindings() -> list[tuple[type[Packet], dict[str, int], type[Packet]]]:
    out: list[tuple[type[Packet], dict[str, int], type[Packet]]] = [
        (IP, {"proto": IPProto.ESP}, ESP),
        (IP, {"proto": IPProto.AH}, AH),
        (UDP, {"dport": NATT_PORT}, ESP),
        (UDP, {"sport": NATT_PORT}, ESP),
    ]
    for cls in _IPV6_LIKE:
        out.append((cls, {"nh": IPProto.ESP}, ESP))
        out.append((cls, {"nh": IPProto.AH}, AH))
    return out


def bind_ipsec() -> None:
    """Make Scapy dissect ESP/AH/UDP-4500 with these layers, ahead of ``scapy.layers.ipsec``.

    Scapy tries ``payload_guess`` entries in order, so ours go first; Scapy's own bindings stay
    in place behind them and take over again after :func:`unbind_ipsec`.  Idempotent.
    """
    unbind_ipsec()
    # Reversed so that the first binding of each lower layer ends up first.
    for lower, fval, upper in reversed(_our_bindings()):
        lower.payload_guess = [(fval, upper), *lower.payload_guess]


def unbind_ipsec() -> None:
    """Remove the bindings :func:`bind_ipsec` installed (Scapy's own ones are untouched)."""
    ours = (ESP, AH)
    for lower in {b[0] for b in _our_bindings()}:
        kept = [(f, u) for f, u in lower.payload_guess if u not in ours]
        if len(kept) != len(lower.payload_guess):
            lower.payload_guess = kept
