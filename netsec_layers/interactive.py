"""Helpers for interactive Scapy sessions (``from netsec_layers import *``).

* :func:`recompute` - after editing a field of a dissected packet, one call makes every length
  and checksum of the whole layer chain (sub-packets included) right again: what Scapy users
  otherwise do by hand with ``del pkt[IP].len; del pkt[IP].chksum; del pkt[TCP].chksum; ...``
  and ``pkt = Ether(raw(pkt))``.
* :func:`decrypt_tls` - TLS (and ESP, given an SA database) decryption of packets held in
  memory (a ``PacketList`` from ``rdpcap``/``sniff``) with a key log: the plaintext capture
  ``netsec decrypt -w`` writes, as Scapy packets.  It wraps the Sans-I/O
  :class:`~netsec_layers.session.engine.CaptureEngine` and
  :class:`~netsec_layers.session.plaintext.PlaintextRewriter`; nothing new is decided here.

This module sits above the floors (like the package's ``__init__``): it may read the key-log
file it is given, and nothing in the package imports it.
"""

from __future__ import annotations

import decimal
import os
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from netsec_layers.errors import UsageError
from netsec_layers.frame import Frame

if TYPE_CHECKING:
    from scapy.packet import Packet
    from scapy.plist import PacketList

    from netsec_layers.keys.keylog import KeyLog
    from netsec_layers.session.ipsec import SADatabase
    from netsec_layers.session.tls_keys import TLSKeyMaterial

__all__ = ["EXPLORE_NAME", "decrypt_tls", "recompute", "register_for_explore"]

# Field names of lengths and checksums that Scapy layers compute when left as None: IP
# ihl/len/chksum, IPv6 plen, TCP dataofs/chksum, UDP len/chksum, ICMP chksum, TLS record and
# handshake length, every ``*_length``, IKE payload ``length``, AH ``payload_len``, ESP
# ``pad_length``...  Other None defaults (addresses, content types, next-payload pointers, a TLS
# ``signature`` sub-packet) are values, and counts (DNS ``qdcount``, IKE ``num_transforms``)
# describe lists a mis-dissected payload may not rebuild: left alone.
_SIZE_NAME = re.compile(r"(?:^|_)(?:len|length|len32|plen|ihl|dataofs|chksum|cksum|checksum)$")


def _size_fields(layer: Packet) -> list[str]:
    """Names of ``layer``'s fields that are sizes/checksums computed at build when None."""
    from scapy.fields import FieldLenField, LenField

    out = []
    for fld in layer.fields_desc:
        inner = fld
        while hasattr(inner, "fld"):  # ConditionalField, Emph and the like wrap a field
            inner = inner.fld
        if getattr(inner, "default", 0) is not None:
            continue
        if isinstance(inner, FieldLenField) and inner.count_of is not None:
            continue  # a count, not a size
        if isinstance(inner, (FieldLenField, LenField)) or _SIZE_NAME.search(inner.name):
            out.append(inner.name)
    return out


def _sub_packets(layer: Packet) -> Iterator[Packet]:
    """The packets held in ``layer``'s fields (TLS messages, extensions, IKE payloads ...)."""
    from scapy.packet import Packet

    for fld in layer.packetfields:
        value = layer.fields.get(fld.name)
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, Packet):
                yield v


def _keep_checksum(layer: Packet, name: str) -> bool:
    """Checksums recompute would get wrong, kept as they are: a zero UDP checksum over IPv4
    means "none sent" (RFC 768; ESP-in-UDP SHOULD send none, RFC 3948 §2.1), and Scapy computes
    a TCP/UDP checksum only right under IP/IPv6 (under AH it writes zero)."""
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import (
        IPv6,
        IPv6ExtHdrDestOpt,
        IPv6ExtHdrFragment,
        IPv6ExtHdrHopByHop,
        IPv6ExtHdrRouting,
        IPv6ExtHdrSegmentRouting,
    )

    ip_like: tuple[type[Packet], ...] = (IP, IPv6, IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt)
    ip_like += (IPv6ExtHdrRouting, IPv6ExtHdrFragment, IPv6ExtHdrSegmentRouting)
    if name != "chksum" or not isinstance(layer, (TCP, UDP)):
        return False
    if not isinstance(layer.underlayer, ip_like):
        return True
    return (
        isinstance(layer, UDP) and layer.fields.get(name) == 0 and isinstance(layer.underlayer, IP)
    )


def _clear_sizes(pkt: Packet) -> bool:
    """Clear the size fields of ``pkt``'s layer chain and sub-packets; True if a layer of it
    will be built from its fields (a size cleared, or already edited).

    A layer is built from its fields only then, or when a sub-packet is: the others keep the
    bytes they were dissected from (Scapy's raw_packet_cache), so a payload that does not
    rebuild byte for byte (a non-DNS payload on port 53) is carried as it was."""
    from scapy.packet import NoPayload

    rebuilt = False
    layer = pkt
    while not isinstance(layer, NoPayload):
        changed = layer.raw_packet_cache is None  # edited (Scapy drops the cache) or crafted
        for name in _size_fields(layer):
            if name in layer.fields and not _keep_checksum(layer, name):
                del layer.fields[name]
                changed = True
        for sub in _sub_packets(layer):
            changed = _clear_sizes(sub) or changed
        if changed:
            layer.raw_packet_cache = None
            layer.raw_packet_cache_fields = None
            rebuilt = True
        layer = layer.payload
    return rebuilt


def _classes(pkt: Packet) -> list[type]:
    from scapy.packet import NoPayload

    out: list[type] = []
    layer = pkt
    while not isinstance(layer, NoPayload):
        out.append(type(layer))
        layer = layer.payload
    return out


def recompute(pkt: Packet) -> Packet:
    """A copy of ``pkt`` with every length and checksum recomputed (``pkt`` is not changed).

    Every field of the layer chain - sub-packets included - that the layer computes when it is
    ``None`` and that is a length or checksum (IP ``len``/``chksum``/``ihl``, IPv6
    ``plen``, TCP/UDP/ICMP ``chksum``, UDP ``len``, TLS record and handshake ``length``, every
    ``*_length``, IKE payload lengths, AH ``payload_len`` ...) is cleared, and the packet is
    built again.  When dissecting the new bytes gives the same layers (the usual case), that
    dissection is returned, so ``show()`` displays the new values; otherwise (a decrypted
    ``ESPPlaintext`` view, a layer that is not bound) the copy with the cleared fields is
    returned, which builds to the same bytes.  Deliberately wrong sizes (a Heartbleed
    ``payload_length``) are made right as well: don't call it on those.
    """
    work = pkt.copy()
    _clear_sizes(work)
    data = bytes(work)
    try:
        again = type(work)(data)
    except Exception:  # a layer whose dissection needs context we don't have: keep the copy
        return work
    if _classes(again) != _classes(work) or bytes(again) != data:
        return work
    for attr in ("time", "sniffed_on", "direction", "comment"):
        if hasattr(pkt, attr):
            setattr(again, attr, getattr(pkt, attr))
    return again


# -- explore() --------------------------------------------------------------------------------
EXPLORE_NAME = "scapy.layers.netsec"  # the module name Scapy's extension loader gives us


def register_for_explore() -> None:
    """List every netsec Packet class under ``scapy.layers.netsec`` in Scapy's layer index, so
    ``explore("scapy.layers.netsec")`` (and, once the extension is loaded, ``explore("netsec")``)
    shows them: Scapy's ``explore`` only looks up ``scapy.layers.*``/``scapy.contrib.*`` names."""
    from scapy.config import conf

    conf.layers.ldict[EXPLORE_NAME] = [
        cls
        for module, classes in list(conf.layers.ldict.items())
        if module.startswith("netsec_layers.")
        for cls in classes
    ]


# -- decryption of packets in memory --------------------------------------------------------
def _tls_keys(keylog: Any) -> TLSKeyMaterial:
    from netsec_layers.keys.keylog import KeyLog, load_keylog
    from netsec_layers.session.tls_keys import TLSKeyMaterial

    if isinstance(keylog, TLSKeyMaterial):
        return keylog
    keys = TLSKeyMaterial()
    if keylog is None:
        return keys
    if isinstance(keylog, KeyLog):
        keys.add_keylog(keylog)
    elif isinstance(keylog, (bytes, bytearray)):
        keys.add_keylog_text(bytes(keylog))
    elif isinstance(keylog, (str, os.PathLike)):
        keys.add_keylog(load_keylog(keylog))
    else:
        raise UsageError(
            "keylog must be a path, the key log's bytes, a KeyLog or a TLSKeyMaterial, "
            f"not {type(keylog).__name__}"
        )
    return keys


def _frames(packets: Iterable[Packet]) -> Iterator[Frame]:
    from scapy.config import conf

    for number, pkt in enumerate(packets, 1):
        linktype = conf.l2types.layer2num.get(type(pkt))
        if linktype is None:
            raise UsageError(
                f"packet {number}: no link type for {type(pkt).__name__} "
                "(Ether, IP, IPv6, CookedLinux ... are known to Scapy's conf.l2types)"
            )
        data = bytes(pkt)
        ts_ns = int(decimal.Decimal(pkt.time) * 1_000_000_000)
        yield Frame(number, ts_ns, int(linktype), data, int(pkt.wirelen or len(data)))


def decrypt_tls(
    packets: Iterable[Packet],
    keylog: str | os.PathLike[str] | bytes | KeyLog | TLSKeyMaterial | None = None,
    *,
    sadb: SADatabase | None = None,
) -> PacketList:
    """The packets with every TLS connection whose keys are known replaced by plaintext TCP
    (and, given ``sadb``, ESP by the decrypted inner packets): what ``netsec decrypt -w``
    writes, for packets in memory (``rdpcap(...)``, ``sniff(...)``).

    ``keylog`` is a key-log file's path, its bytes, a parsed
    :class:`~netsec_layers.keys.keylog.KeyLog` or a
    :class:`~netsec_layers.session.tls_keys.TLSKeyMaterial` (RSA keys, secrets set from
    Python).  Packets that cannot be decrypted are returned as they were.
    """
    from scapy.config import conf
    from scapy.packet import Raw
    from scapy.plist import PacketList
    from scapy.utils import EDecimal

    from netsec_layers.session.engine import CaptureEngine
    from netsec_layers.session.plaintext import PlaintextRewriter

    engine = CaptureEngine(tls_keys=_tls_keys(keylog), sadb=sadb)
    rewriter = PlaintextRewriter(engine)
    out = []
    for frame in _frames(packets):
        out.extend(rewriter.process(engine.process(frame)))
    out.extend(rewriter.finish())
    result = []
    for o in out:
        cls = conf.l2types.num2layer.get(o.linktype, Raw)
        p = cls(o.data)
        p.time = EDecimal(o.ts_ns) / 1_000_000_000
        result.append(p)
    return PacketList(result, name="decrypted")
