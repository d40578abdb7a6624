"""Glue between Scapy packets and :class:`netsec_layers.session.ipsec.SADatabase`.

Thin wrappers: the bytes-level work (ICV check, decryption, replay window, padding) is done by
the SA database; this module only finds the ESP/AH bytes in a Scapy packet and builds new
packets with the :mod:`netsec_layers.layers.ipsec` classes.  Inputs are never mutated; every
error is one of :mod:`netsec_layers.errors` (``UnknownSPIError``, ``IntegrityError``,
``ReplayError``, ``TruncatedError``/``ParseError``, ``UsageError``).

Scapy is imported lazily (``netsec --help`` must not pay for it).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from netsec_layers.errors import ParseError, UsageError

if TYPE_CHECKING:
    from scapy.packet import Packet

    from netsec_layers.keys.sa import SecurityAssociation
    from netsec_layers.session.ipsec import ESPPlaintext, SADatabase
    from netsec_layers.session.ipsec_ah import AHVerified

__all__ = ["build_ah_packet", "decrypt_packet", "encrypt_packet", "verify_ah_packet"]

_NATT_PORT = 4500


def _layers(pkt: Packet) -> list[Packet]:
    out = []
    layer = pkt
    while layer is not None and layer.__class__.__name__ != "NoPayload":
        out.append(layer)
        layer = layer.payload
    return out


def _wire_bytes(layer: Packet) -> bytes:
    """The bytes of ``layer`` and what follows it, without a trailing link-layer Padding."""
    from scapy.config import conf

    data = bytes(layer)
    pad = layer.getlayer(conf.padding_layer)
    if pad is not None and pad.load and data.endswith(bytes(pad.load)):
        data = data[: -len(pad.load)]
    return data


def _ip_addresses(layers: list[Packet], index: int) -> tuple[str | None, str | None]:
    """Source/destination of the nearest IPv4/IPv6 header before ``layers[index]``."""
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6

    for layer in reversed(layers[:index]):
        if isinstance(layer, (IP, IPv6)):
            return str(layer.src), str(layer.dst)
    return None, None


def _find_esp(layers: list[Packet]) -> int:
    """Index of the ESP layer: ours, Scapy's, or an undecoded payload of IP proto 50 /
    UDP 4500 (anything but a NAT-T marker or keepalive, RFC 3948 §2.2)."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.packet import Raw

    from netsec_layers.layers.ipsec import ESP

    for i, layer in enumerate(layers):
        if isinstance(layer, ESP) or _is_scapy_ipsec(layer, "ESP"):
            return i
        if isinstance(layer, Raw) and i:
            under = layers[i - 1]
            if (isinstance(under, IP) and under.proto == 50) or (
                isinstance(under, IPv6) and under.nh == 50
            ):
                return i
            if isinstance(under, UDP) and _NATT_PORT in (under.sport, under.dport):
                load = bytes(layer.load)
                if len(load) >= 8 and load[:4] != b"\x00\x00\x00\x00":
                    return i
    raise ParseError("no ESP layer in the packet")


def _is_scapy_ipsec(layer: Packet, name: str) -> bool:
    return layer.__class__.__module__ == "scapy.layers.ipsec" and layer.__class__.__name__ == name


def plaintext_layer(opened: ESPPlaintext) -> Packet:
    """The Scapy view (:class:`netsec_layers.layers.ipsec.ESPPlaintext`, inner packet dissected)
    of the :class:`~netsec_layers.session.ipsec.ESPPlaintext` SADatabase.decrypt opened."""
    from netsec_layers.layers import ipsec as layers_ipsec

    return layers_ipsec.ESPPlaintext.from_parts(
        spi=opened.spi,
        seq=opened.wire_seq,
        iv=opened.iv,
        payload=opened.payload,
        tfc_padding=opened.tfc_padding,
        padding=opened.padding,
        pad_length=opened.pad_length,
        next_header=opened.next_header,
        icv=opened.icv,
    )


def decrypt_packet(
    pkt: Packet,
    db: SADatabase,
    *,
    check_replay: bool = True,
    esn_high: int | None = None,
) -> Packet:
    """A new packet where the ESP layer is replaced by its :class:`ESPPlaintext`.

    Headers before ESP (Ethernet, outer IP, UDP 4500) are kept as they were on the wire; the
    inner packet is dissected by the next header.  The SA is looked up by SPI and the outer
    addresses.  Raises ``ParseError`` if there is no ESP layer, and whatever
    :meth:`SADatabase.decrypt` raises (``UnknownSPIError``, ``IntegrityError``,
    ``ReplayError``, ``TruncatedError``).
    """
    from scapy.config import conf

    from netsec_layers.layers.fast import copy_layers

    layers = _layers(pkt)
    index = _find_esp(layers)
    esp = layers[index]
    src, dst = _ip_addresses(layers, index)
    opened = db.decrypt(
        _wire_bytes(esp), src=src, dst=dst, check_replay=check_replay, esn_high=esn_high
    )
    plain = plaintext_layer(opened)
    trailer = esp.getlayer(conf.padding_layer)
    if trailer is not None:  # e.g. Ethernet padding after the IP packet: keep it
        plain.lastlayer().add_payload(conf.padding_layer(bytes(trailer.load)))
    if index == 0:
        return plain
    new = copy_layers(layers[0], stop=layers[index])  # the headers before ESP
    _layers(new)[index - 1].add_payload(plain)
    return new


def _concrete(addr: str | None, what: str) -> str:
    try:
        return str(ipaddress.ip_address(addr or ""))
    except ValueError:
        raise UsageError(
            f"{what} address {addr!r} is not a single address: pass src=/dst= explicitly"
        ) from None


def encrypt_packet(
    inner: Packet,
    sa: SecurityAssociation,
    db: SADatabase,
    *,
    seq: int | None = None,
    tfc_pad: int = 0,
    iv: bytes | None = None,
    fault: str | None = None,
    pad_length: int | None = None,
    src: str | None = None,
    dst: str | None = None,
) -> Packet:
    """Protect an IPv4/IPv6 packet with the SA and return the packet to send.

    Tunnel mode: a new outer header from ``src``/``dst`` (else the SA's addresses) around
    ESP carrying the whole ``inner`` packet (next header 4/41).  Transport mode: ``inner``'s
    own IP header with protocol 50 (or 17 when UDP-encapsulated) and ESP carrying its payload.
    With ``sa.udp_encap`` a UDP header (RFC 3948 §2.1; checksum zero over IPv4) goes before
    ESP.  ``seq``/``tfc_pad``/``iv``/``fault``/``pad_length`` are passed to
    :meth:`SADatabase.encrypt`.  An AH SA is handed to :func:`build_ah_packet`.
    """
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6

    from netsec_layers.layers.ipsec import ESP

    if sa.protocol == "ah":
        if any(v is not None for v in (iv, pad_length)) or tfc_pad:
            raise UsageError("iv/tfc_pad/pad_length do not apply to AH")
        return build_ah_packet(inner, sa, db, seq=seq, fault=fault, outer_src=src, outer_dst=dst)
    if not isinstance(inner, (IP, IPv6)):
        raise UsageError("encrypt_packet() needs an IPv4 or IPv6 packet")
    full = bytes(inner)
    outer: Packet
    if sa.mode == "tunnel":
        next_header = 4 if isinstance(inner, IP) else 41
        payload = full
        o_src = _concrete(src or sa.src, "outer source")
        o_dst = _concrete(dst or sa.dst, "outer destination")
        if ipaddress.ip_address(o_src).version != ipaddress.ip_address(o_dst).version:
            raise UsageError("outer source and destination are of different IP versions")
        if ipaddress.ip_address(o_src).version == 4:
            outer = IP(src=o_src, dst=o_dst)
        else:
            outer = IPv6(src=o_src, dst=o_dst)
    elif isinstance(inner, IP):
        hl = (full[0] & 0x0F) * 4
        next_header, payload = full[9], full[hl:]
        outer = IP(full[:hl])
        outer.len = None
        outer.chksum = None
    else:
        # RFC 4303 §3.1.1: ESP follows the IPv6 base header (extension headers not handled).
        if full[6] in (0, 43, 44, 60):
            raise UsageError("transport-mode ESP after IPv6 extension headers is not supported")
        next_header, payload = full[6], full[40:]
        outer = IPv6(full[:40])
        outer.plen = None
    esp_bytes = db.encrypt(
        payload,
        sa=sa,
        next_header=next_header,
        seq=seq,
        tfc_pad=tfc_pad,
        iv=iv,
        fault=fault,
        pad_length=pad_length,
    )
    esp = ESP(esp_bytes)
    if sa.udp_encap is not None:
        sport, dport = sa.udp_encap
        udp = UDP(sport=sport, dport=dport)
        if isinstance(outer, IP):
            udp.chksum = 0  # RFC 3948 §2.1: SHOULD be zero over IPv4
            outer.proto = 17
        else:
            outer.nh = 17
        return outer / udp / esp
    if isinstance(outer, IP):
        outer.proto = 50
    else:
        outer.nh = 50
    return outer / esp


def _find_ah_ip(layers: list[Packet]) -> int:
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6
    from scapy.packet import Raw

    from netsec_layers.layers.ipsec import AH

    ip_index: int | None = None
    for i, layer in enumerate(layers):
        if isinstance(layer, (IP, IPv6)):
            ip_index = i
        if ip_index is None:
            continue
        if isinstance(layer, AH) or _is_scapy_ipsec(layer, "AH"):
            return ip_index
        under = layers[i - 1] if i else None
        if isinstance(layer, Raw) and isinstance(under, IP) and under.proto == 51:
            return ip_index
    raise ParseError("no IP packet carrying AH")


def verify_ah_packet(
    pkt: Packet,
    db: SADatabase,
    *,
    check_replay: bool = True,
    esn_high: int | None = None,
) -> AHVerified:
    """Verify the AH ICV of the IP packet in ``pkt`` (RFC 4302 §3.4); returns the verdict
    (``IntegrityError``/``ReplayError``/``UnknownSPIError`` on failure)."""
    layers = _layers(pkt)
    ip = layers[_find_ah_ip(layers)]
    return db.verify_ah(_wire_bytes(ip), check_replay=check_replay, esn_high=esn_high)


def build_ah_packet(
    ip_pkt: Packet,
    sa: SecurityAssociation,
    db: SADatabase,
    *,
    seq: int | None = None,
    fault: str | None = None,
    outer_src: str | None = None,
    outer_dst: str | None = None,
) -> Packet:
    """``ip_pkt`` protected with AH (transport: inserted after the IP header; tunnel: a new
    outer header), dissected with :class:`netsec_layers.layers.ipsec.AH`."""
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6

    if not isinstance(ip_pkt, (IP, IPv6)):
        raise UsageError("build_ah_packet() needs an IPv4 or IPv6 packet")
    data = db.build_ah(
        bytes(ip_pkt), sa=sa, seq=seq, fault=fault, outer_src=outer_src, outer_dst=outer_dst
    )
    return dissect_ip(data)


def dissect_ip(data: bytes) -> Packet:
    """Dissect an IPv4/IPv6 packet with this project's ESP/AH/NAT-T layers, whatever the
    global Scapy bindings are (Scapy's own ESP/AH layers are swapped for ours).

    Raises ``ParseError`` for bytes that are not an IP packet Scapy can dissect.
    """
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6

    version = data[0] >> 4 if data else 0
    if version not in (4, 6):
        raise ParseError(f"not an IPv4/IPv6 packet (version {version})")
    try:
        pkt: Packet = (IPv6 if version == 6 else IP)(bytes(data))
    except Exception as e:  # Scapy's own dissectors raise struct.error & co on short input
        raise ParseError(f"undecodable IPv{version} packet: {e}") from None
    return _use_our_layers(pkt)


def _undecoded_ipsec(under: Packet) -> Any:
    """Our class for a Raw payload that Scapy left undecoded after ``under`` (its IPsec
    bindings not loaded): IP protocol 50/51, IPv6 next header 50/51, UDP port 4500."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6

    from netsec_layers.layers.ipsec import AH, ESP

    proto = under.proto if isinstance(under, IP) else under.nh if isinstance(under, IPv6) else None
    if proto == 50:
        return ESP
    if proto == 51:
        return AH
    if isinstance(under, UDP) and _NATT_PORT in (under.sport, under.dport):
        return ESP
    return None


def _use_our_layers(pkt: Packet) -> Packet:
    from scapy.config import conf
    from scapy.layers.inet import UDP
    from scapy.packet import Raw

    from netsec_layers.layers.ipsec import AH, ESP

    layers = _layers(pkt)
    for i, layer in enumerate(layers):
        cls: Any = None
        if _is_scapy_ipsec(layer, "ESP") or _is_scapy_ipsec(layer, "NON_ESP"):
            cls = ESP
        elif _is_scapy_ipsec(layer, "NAT_KEEPALIVE"):
            cls = ESP
        elif _is_scapy_ipsec(layer, "AH"):
            cls = AH
        if i == 0:
            continue
        under = layers[i - 1]
        if cls is None and isinstance(layer, Raw):
            cls = _undecoded_ipsec(under)
        if cls is None:
            continue
        data = _wire_bytes(layer)
        trailer = layer.getlayer(conf.padding_layer)
        under.remove_payload()
        kw = {"_underlayer": under} if isinstance(under, UDP) else {}
        new = cls(data, **kw) if data else Raw(data)
        under.add_payload(new)
        if trailer is not None:
            new.lastlayer().add_payload(conf.padding_layer(bytes(trailer.load)))
        break
    return pkt
