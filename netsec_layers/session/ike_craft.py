"""Crafting IKEv2 messages: payload chains and SK-protected messages with chosen keys, and
deliberately broken ones (bad ICV, bad padding, wrong message ID) for testing peers.

Bytes only (no Scapy): :func:`payload_chain` links generic payload headers (RFC 7296 §3.2),
:func:`seal_sk_message` builds header + SK payload (§3.14) with an :class:`SKCipher`.
"""

from __future__ import annotations

import struct

from netsec_layers.crypto.ike import SKCipher
from netsec_layers.errors import UsageError

__all__ = ["FAULTS", "payload_chain", "seal_sk_message"]

#: Faults :func:`seal_sk_message` can build in.
FAULTS = ("bad-icv", "bad-padding", "wrong-message-id")


def payload_chain(items: list[tuple[int, bytes]]) -> tuple[int, bytes]:
    """(type of the first payload, the payloads ``(type, body)`` with Next Payload linked)."""
    out = b""
    for i, (_t, body) in enumerate(items):
        nxt = items[i + 1][0] if i + 1 < len(items) else 0
        out += struct.pack("!BBH", nxt, 0, 4 + len(body)) + body
    return (items[0][0] if items else 0), out


def seal_sk_message(
    *,
    spi_i: bytes,
    spi_r: bytes,
    exchange: int,
    flags: int,
    message_id: int,
    items: list[tuple[int, bytes]],
    cipher: SKCipher,
    iv: bytes,
    fault: str | None = None,
) -> bytes:
    """IKE header | SK{items} protected by ``cipher`` (the sender's SK_e/SK_a).

    ``fault``: ``bad-icv`` (last ICV byte flipped), ``bad-padding`` (Pad Length beyond the
    plaintext, under a valid ICV), ``wrong-message-id`` (``message_id + 1`` in the header,
    consistently protected)."""
    if fault is not None and fault not in FAULTS:
        raise UsageError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
    first, inner = payload_chain(items)
    mid = (message_id + 1) & 0xFFFFFFFF if fault == "wrong-message-id" else message_id
    n = cipher.sealed_len(len(inner))
    head = struct.pack(
        "!8s8sBBBBII", spi_i, spi_r, 46, 0x20, exchange, flags, mid, 28 + 4 + n
    ) + struct.pack("!BBH", first, 0, 4 + n)
    bad_pad = len(inner) + 200 if fault == "bad-padding" else None
    body = cipher.seal(head, inner, iv=iv, pad_length_byte=bad_pad)
    msg = head + body
    if fault == "bad-icv":
        msg = msg[:-1] + bytes([msg[-1] ^ 0x01])
    return msg
