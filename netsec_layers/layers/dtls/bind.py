"""Make Scapy's UDP dissect DTLS with netsec's layers, by content on any port.

``bind_dtls()`` recognises a UDP payload whose records frame it exactly (every record header
plausible, the last one ending at the datagram's end) on any port; ``bind_dtls(port)`` also
takes any payload on that port (and ``UDP()/DTLSRecord()`` then gets that port).  The records
of a datagram follow each other as payloads.  ``unbind_dtls()`` restores Scapy's behaviour.
Layer bindings are process-wide in Scapy by design, so these are too.
"""

from __future__ import annotations

from typing import Any

from scapy.layers.inet import UDP
from scapy.packet import Packet, bind_top_down, split_top_down

from .record import (
    DTLSCIDRecord,
    DTLSCiphertext,
    DTLSRecord,
    _DTLSChained,
    looks_like_dtls,
    record_length,
)

_MISSING = object()
_state: dict[str, Any] = {"saved": _MISSING, "installed": False, "any": False, "ports": set()}


def frames_as_dtls(payload: bytes) -> bool:
    """``payload`` is a sequence of DTLS 1.0/1.2 records (plaintext header form) ending
    exactly at its end -- the test that finds DTLS on any port."""
    if not looks_like_dtls(payload):
        return False
    off = 0
    while off < len(payload):
        size = record_length(payload, off, 0)
        if size is None or off + size > len(payload):
            return False
        off += size
    return True


def _record_class(payload: bytes) -> type[Packet]:
    first = payload[0]
    if 0x20 <= first <= 0x3F:
        return DTLSCiphertext
    return DTLSCIDRecord if first == 25 else DTLSRecord


def _guess(self: Packet, payload: bytes) -> Any:
    ports = _state["ports"]
    if payload and (
        frames_as_dtls(payload) or ((self.sport in ports or self.dport in ports) and payload)
    ):
        return _record_class(payload)
    saved = _state["saved"]
    if saved is _MISSING:
        return Packet.guess_payload_class(self, payload)
    return saved(self, payload)


def _next_record(self: Packet, payload: bytes) -> Any:
    """After a record: the next record of the datagram (Scapy dissects it as the payload)."""
    if payload and record_length(payload, 0, None) is not None:
        return _record_class(payload)
    return Packet.guess_payload_class(self, payload)


def bind_dtls(port: int | None = None) -> None:
    """Dissect DTLS in UDP with netsec layers: by content on any port, and everything on
    ``port`` when given.  Calls accumulate until :func:`unbind_dtls`."""
    if not _state["installed"]:
        _state["saved"] = UDP.__dict__.get("guess_payload_class", _MISSING)
        UDP.guess_payload_class = _guess  # type: ignore[method-assign]
        _DTLSChained.guess_payload_class = _next_record  # type: ignore[method-assign]
        _state["installed"] = True
    _state["any"] = True
    if port is not None and port not in _state["ports"]:
        _state["ports"].add(port)
        bind_top_down(UDP, DTLSRecord, dport=port, sport=port)


def unbind_dtls() -> None:
    """Undo every :func:`bind_dtls`."""
    if _state["installed"]:
        saved = _state["saved"]
        if saved is _MISSING:
            del UDP.guess_payload_class
        else:
            UDP.guess_payload_class = saved  # type: ignore[method-assign]
        del _DTLSChained.guess_payload_class
        _state["installed"] = False
    for port in _state["ports"]:
        split_top_down(UDP, DTLSRecord, dport=port, sport=port)
    _state["ports"] = set()
    _state["any"] = False
    _state["saved"] = _MISSING


__all__ = ["bind_dtls", "frames_as_dtls", "unbind_dtls"]
