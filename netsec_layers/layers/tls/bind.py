"""Make Scapy's TCP dissect TLS with netsec's layers.

``bind_tls()`` recognises TLS by content on any TCP port (a segment whose payload starts
like a TLS record: content type 20-24, version 0x0300-0x0304, length <= 2^14 + 2048, RFC 5246
§6.2.3; or an SSLv2-format ClientHello); ``bind_tls(port)`` does it on that port only (and
``TCP()/TLSRecord()`` then gets that port).  While bound, Scapy's built-in
``scapy.layers.tls`` (bound to 443) does not win; ``unbind_tls()`` restores Scapy's
behaviour.  Layer bindings are process-wide in Scapy by design, so these are too.
"""

from __future__ import annotations

from typing import Any

from scapy.config import conf
from scapy.layers.inet import TCP
from scapy.packet import Packet, bind_top_down, split_top_down

from netsec_layers.constants.tls import looks_like_record_header

from .record import SSLv2ClientHello, TLSRecord, _is_sslv2_hello

_MISSING = object()
_state: dict[str, Any] = {"saved": _MISSING, "installed": False, "any": False, "ports": set()}


def looks_like_tls(payload: bytes) -> bool:
    """True if ``payload`` starts like a TLS record (or an SSLv2-format ClientHello)."""
    return looks_like_record_header(payload) or _is_sslv2_hello(payload)


def _guess(self: Packet, payload: bytes) -> Any:
    ports = _state["ports"]
    on_port = self.sport in ports or self.dport in ports
    if _state["any"] or on_port:
        if _is_sslv2_hello(payload):
            return SSLv2ClientHello
        if looks_like_tls(payload):
            return TLSRecord
        if on_port:
            return conf.raw_layer  # a continuation segment of a large record
    saved = _state["saved"]
    if saved is _MISSING:
        return Packet.guess_payload_class(self, payload)
    return saved(self, payload)


def bind_tls(port: int | None = None) -> None:
    """Dissect TLS in TCP with netsec layers: by content on any port (``port`` None) or on
    ``port`` only.  Calls accumulate until :func:`unbind_tls`."""
    if not _state["installed"]:
        _state["saved"] = TCP.__dict__.get("guess_payload_class", _MISSING)
        TCP.guess_payload_class = _guess  # type: ignore[method-assign]
        _state["installed"] = True
    if port is None:
        _state["any"] = True
    elif port not in _state["ports"]:
        _state["ports"].add(port)
        bind_top_down(TCP, TLSRecord, dport=port)


def unbind_tls() -> None:
    """Undo every :func:`bind_tls`: Scapy's own payload guessing (and its TLS) again."""
    if _state["installed"]:
        saved = _state["saved"]
        if saved is _MISSING:
            del TCP.guess_payload_class
        else:
            TCP.guess_payload_class = saved  # type: ignore[method-assign]
        _state["installed"] = False
    for port in _state["ports"]:
        split_top_down(TCP, TLSRecord, dport=port)
    _state["ports"] = set()
    _state["any"] = False
    _state["saved"] = _MISSING


__all__ = ["bind_tls", "looks_like_tls", "unbind_tls"]
