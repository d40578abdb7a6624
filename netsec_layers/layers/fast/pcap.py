"""Scapy packets of a capture file, built by :mod:`netsec_layers.layers.fast.builder`.

``fast_rdpcap(path)`` returns what ``rdpcap(path)`` returns -- a ``PacketList`` of the same
packets, with the same ``time``, ``wirelen`` and (pcapng) ``comments``, ``direction``,
``sniffed_on`` and ``process_information`` -- built 2-4x faster.  ``iter_packets(path)``
streams them, like ``PcapReader``.  Scapy's readers do the file reading; only the packet
construction is replaced (:func:`accelerate`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from scapy.config import conf
from scapy.data import MTU
from scapy.packet import Packet
from scapy.plist import PacketList
from scapy.utils import EDecimal, PcapNgReader, PcapReader

from netsec_layers.gcpolicy import fewer_gc_passes
from netsec_layers.layers.fast.builder import make

__all__ = ["accelerate", "fast_rdpcap", "iter_packets"]


class _FastClass:
    """Stands for a link-layer class where Scapy's pcap reader calls ``LLcls(data)``."""

    def __init__(self, cls: type[Packet]) -> None:
        self.cls = cls

    def __call__(self, data: bytes, **kwargs: Any) -> Packet:
        if kwargs:
            return self.cls(data, **kwargs)
        return make(self.cls, data, internal=False)


def _read_pcapng_packet(reader: Any, size: int = 0, **kwargs: Any) -> Packet:
    """``PcapNgReader.read_packet`` (Scapy 2.6-2.8), the packet built fast."""
    rp = super(PcapNgReader, reader)._read_packet(size=size or MTU)
    if rp is None:
        raise EOFError
    s, (linktype, tsresol, tshigh, tslow, wirelen, comments, ifname, direction, proc) = rp
    try:
        cls = conf.l2types.num2layer[linktype]
        p = cls(s, **kwargs) if kwargs else make(cls, s, internal=False)
    except KeyboardInterrupt:
        raise
    except Exception:
        if conf.debug_dissector:
            raise
        p = conf.raw_layer(s)
    if tshigh is not None:
        p.time = EDecimal((tshigh << 32) + tslow) / tsresol
    p.wirelen = wirelen
    p.comments = comments
    p.direction = direction
    p.process_information = proc.copy()
    if ifname is not None:
        p.sniffed_on = ifname.decode("utf-8", "backslashreplace")
    return p


def accelerate(reader: Any) -> Any:
    """Make an open Scapy ``PcapReader``/``PcapNgReader`` build its packets fast."""
    if isinstance(reader, PcapNgReader):
        ng: Any = reader  # its read_packet method is replaced on this one object
        ng.read_packet = lambda size=0, **kw: _read_pcapng_packet(ng, size, **kw)
    else:
        reader.LLcls = _FastClass(reader.LLcls)
    return reader


def _open(source: str | IO[bytes]) -> Any:
    # Scapy picks PcapNgReader for pcapng; it opens file objects too (its annotation says str)
    return accelerate(PcapReader(source))  # type: ignore[arg-type]


def fast_rdpcap(source: str | IO[bytes], count: int = -1) -> PacketList:
    """``rdpcap(source, count)``, the packets built by the fast builder (and fewer cyclic-GC
    passes over the growing list while it is read)."""
    with _open(source) as reader, fewer_gc_passes():
        packets: PacketList = reader.read_all(count=count)
        return packets


def iter_packets(source: str | IO[bytes], count: int = -1) -> Iterator[Packet]:
    """The packets of ``source`` one by one (streaming), as ``PcapReader`` yields them."""
    with _open(source) as reader:
        while count != 0:
            count -= 1
            try:
                yield reader.read_packet()
            except EOFError:
                return
