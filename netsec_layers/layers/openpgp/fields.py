"""Building blocks of the OpenPGP body layers: MPIs, S2K specifiers, algorithm-chosen parts."""

from __future__ import annotations

from typing import Any

from scapy.fields import (
    ByteEnumField,
    ByteField,
    ConditionalField,
    Field,
    FieldLenField,
    PacketField,
    StrField,
    StrFixedLenField,
    StrLenField,
)
from scapy.packet import Packet

from netsec_layers.constants.openpgp import HashAlgo, S2KType


def _names(enum: Any) -> dict[int, str]:
    return {m.value: m.name for m in enum}


def bytes_repr(x: Any) -> str:
    if isinstance(x, bytes) and len(x) > 24:
        return f"<{len(x)} octets {x[:12].hex()}...>"
    if isinstance(x, bytes):
        return x.hex() or "''"
    return repr(x)


class HexStrField(StrField):
    """Opaque bytes to the end of the layer, shown as (shortened) hex."""

    def i2repr(self, pkt: Packet | None, x: Any) -> str:
        return bytes_repr(x)


class HexLenField(StrLenField):
    def i2repr(self, pkt: Packet | None, x: Any) -> str:
        return bytes_repr(x)


class HexFixedField(StrFixedLenField):
    def i2repr(self, pkt: Packet | None, x: Any) -> str:
        return bytes_repr(x)


class PGPSub(Packet):
    """Base of the sub-structures inside a body: what follows them is not their payload."""

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


class PGPMPI(PGPSub):
    """A multiprecision integer (§3.2); ``bits`` is computed from ``value`` when None."""

    name = "MPI"
    fields_desc = [
        FieldLenField("bits", None, length_of="value", fmt="!H", adjust=lambda p, n: _bits(p)),
        HexLenField("value", b"", length_from=lambda p: (p.bits + 7) // 8),
    ]

    def mysummary(self) -> str:
        return f"MPI {self.bits} bits"


def _bits(p: Packet) -> int:
    v = bytes(p.value).lstrip(b"\x00")
    return (len(v) - 1) * 8 + v[0].bit_length() if v else 0


def mpi(name: str) -> PacketField:
    return PacketField(name, None, PGPMPI)


class PGPS2K(PGPSub):
    """A String-to-Key specifier (§3.7.1); 101 is GnuPG's no-secret extension."""

    name = "S2K"
    fields_desc = [
        ByteEnumField("type", 3, _names(S2KType)),
        ConditionalField(
            ByteEnumField("hash_algo", HashAlgo.SHA256, _names(HashAlgo)),
            lambda p: p.type in (0, 1, 3, 101),
        ),
        ConditionalField(HexFixedField("salt", b"\x00" * 8, 8), lambda p: p.type in (1, 3)),
        ConditionalField(ByteField("count", 0xE0), lambda p: p.type == 3),
        ConditionalField(HexFixedField("argon2_salt", b"\x00" * 16, 16), lambda p: p.type == 4),
        ConditionalField(ByteField("t", 1), lambda p: p.type == 4),
        ConditionalField(ByteField("p", 4), lambda p: p.type == 4),
        ConditionalField(ByteField("m", 21), lambda p: p.type == 4),
        ConditionalField(StrFixedLenField("gnu", b"GNU", 3), lambda p: p.type == 101),
        ConditionalField(ByteField("gnu_mode", 1), lambda p: p.type == 101),
        ConditionalField(
            FieldLenField("serial_len", None, length_of="serial", fmt="B"),
            lambda p: p.type == 101 and p.gnu_mode == 2,
        ),
        ConditionalField(
            HexLenField("serial", b"", length_from=lambda p: p.serial_len),
            lambda p: p.type == 101 and p.gnu_mode == 2,
        ),
    ]

    def mysummary(self) -> str:
        return f"S2K {S2KType(self.type).name if self.type in _names(S2KType) else self.type}"


class AlgoPacketField(PacketField):
    """A sub-structure whose class depends on an algorithm field of the packet."""

    __slots__ = ["classes", "algo_field"]

    def __init__(self, name: str, classes: dict[int, type[Packet]], algo_field: str) -> None:
        super().__init__(name, None, PGPSub)
        self.classes = classes
        self.algo_field = algo_field

    def m2i(self, pkt: Packet | None, m: bytes) -> Packet:
        cls = self.classes.get(int(getattr(pkt, self.algo_field, -1) or 0), RawSub)
        return cls(m, _parent=pkt)


class RawSub(PGPSub):
    """Algorithm-specific octets of an algorithm we do not lay out."""

    name = "algorithm-specific octets"
    fields_desc = [HexStrField("data", b"")]

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return s, b""


def fixed(name: str, size: int) -> Field[Any, Any]:
    return HexFixedField(name, b"\x00" * size, size)
