"""``exact()`` (is this dissection a well-formed reading of the bytes?) checks length fields
without rebuilding where it can; it must answer exactly what rebuilding answers.

The reference below is the definition itself: rebuild the message from its fields, then
rebuild it again with every length field set to None (recomputed), and compare both to the
bytes.  Inputs: every handshake message and extension of the sample captures, and the same
bytes with one byte changed (which breaks lengths in every possible way).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.fields import FieldLenField
from scapy.packet import NoPayload, Packet
from scapy.utils import PcapReader

from netsec_layers.layers.all import bind_netsec_layers, unbind_netsec_layers
from netsec_layers.layers.tls import TLSRecord
from netsec_layers.layers.tls._base import OptLenField, TLSPacket, exact

PCAPS = Path(__file__).resolve().parents[3] / "pcaps" / "tls"


def _reference(p: Packet, raw: bytes) -> bool:
    if not isinstance(p.payload, NoPayload):
        return False  # bytes left over (exact() without allow_payload)
    cache, cache_fields = p.raw_packet_cache, p.raw_packet_cache_fields
    saved: dict[str, Any] = {}
    try:
        p.raw_packet_cache = None
        if p.do_build() != raw:
            return False
        for f in p.fields_desc:
            fld = getattr(f, "fld", f)
            name = fld.name
            if name not in p.fields:
                continue
            if isinstance(fld, OptLenField):
                if p.getfieldval(fld.length_of):
                    saved[name] = p.fields[name]
            elif isinstance(fld, FieldLenField) or name in getattr(p, "computed_lengths", ()):
                saved[name] = p.fields[name]
        for name in saved:
            p.fields[name] = None
        return not saved or p.do_build() == raw
    except Exception:  # noqa: BLE001 -- cannot rebuild: not exact
        return False
    finally:
        p.fields.update(saved)
        p.raw_packet_cache, p.raw_packet_cache_fields = cache, cache_fields


def _elements(p: Any) -> list[tuple[type[Packet], bytes]]:
    """(class, own bytes) of every TLS message and vector element below ``p``."""
    out = []
    while isinstance(p, Packet) and not isinstance(p, NoPayload):
        if isinstance(p, TLSPacket) and isinstance(p.payload, NoPayload) and p.original:
            out.append((type(p), bytes(p.original)))
        for val in p.fields.values():
            for v in val if isinstance(val, list) else [val]:
                if isinstance(v, Packet):
                    out.extend(_elements(v))
        p = p.payload
    return out


def _samples() -> list[tuple[type[Packet], bytes]]:
    seen: dict[tuple[type[Packet], bytes], None] = {}
    bind_netsec_layers()
    try:
        for path in sorted(PCAPS.glob("*.pcap")):
            with PcapReader(str(path)) as rd:
                for pkt in rd:
                    if TLSRecord in pkt:
                        for e in _elements(pkt[TLSRecord]):
                            seen.setdefault(e)
    finally:
        unbind_netsec_layers()
    return list(seen)


_SAMPLES = _samples()


def test_the_samples_cover_many_classes() -> None:
    assert len({c for c, _ in _SAMPLES}) >= 30


def _agree(cls: type[Packet], raw: bytes) -> None:
    try:
        p = cls(raw)
    except Exception:  # noqa: BLE001 -- not dissectable as cls: nothing to compare
        return
    assert exact(p, raw) == _reference(p, raw), (cls.__name__, raw.hex())


def test_every_sample_element() -> None:
    for cls, raw in _SAMPLES:
        _agree(cls, raw)


@settings(max_examples=600, deadline=None)
@given(st.data())
def test_sample_elements_with_one_byte_changed(data: st.DataObject) -> None:
    cls, raw = data.draw(st.sampled_from(_SAMPLES))
    if not raw:
        return
    i = data.draw(st.integers(0, len(raw) - 1))
    b = data.draw(st.integers(0, 255))
    cut = data.draw(st.sampled_from([len(raw), len(raw), data.draw(st.integers(0, len(raw)))]))
    _agree(cls, (raw[:i] + bytes([b]) + raw[i + 1 :])[:cut])
