"""Handshake message reassembly across records (RFC 5246 §6.2.1, RFC 8446 §5.1: a message
may span several records and a record may hold several messages)."""

from __future__ import annotations

from scapy.packet import Packet

from ._base import TLSContext, u24
from .handshake import TLSHandshake


def split_handshake_messages(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Split ``buffer`` (concatenated handshake-record fragments) into whole messages
    (header included) and the incomplete remainder."""
    msgs: list[bytes] = []
    off = 0
    while off + 4 <= len(buffer):
        n = 4 + u24(buffer, off + 1)
        if off + n > len(buffer):
            break
        msgs.append(buffer[off : off + n])
        off += n
    return msgs, buffer[off:]


class TLSHandshakeDefragmenter:
    """Feed handshake-record fragments of one direction; get whole dissected messages.

    The context (version/kex) is this object's own and is updated by a ServerHello, so
    later messages (Certificate, ServerKeyExchange...) parse in the right form.
    """

    def __init__(self, *, version: int | None = None, kex: str | None = None) -> None:
        self.context = TLSContext(version=version, kex=kex)
        self.buffer = b""

    def feed(self, fragment: bytes) -> list[Packet]:
        """Add one record's fragment; return the messages it completed."""
        msgs, self.buffer = split_handshake_messages(self.buffer + bytes(fragment))
        return [TLSHandshake(m, tls_ctx=self.context) for m in msgs]

    @property
    def pending(self) -> int:
        """Bytes held for an incomplete message."""
        return len(self.buffer)


def handshake_messages(
    pkt: Packet, *, version: int | None = None, kex: str | None = None
) -> list[Packet]:
    """Reassembled handshake messages of a dissected record chain (from
    :func:`dissect_tls`), skipping protected records; each is re-dissected whole."""
    from .record import TLSEncryptedRecord, TLSRecord, iter_records

    d = TLSHandshakeDefragmenter(version=version, kex=kex)
    out: list[Packet] = []
    for rec in iter_records(pkt):
        if not isinstance(rec, TLSRecord) or rec.content_type != 22:
            continue
        data = b"".join(
            bytes(f) for f in rec.messages or [] if not isinstance(f, TLSEncryptedRecord)
        )
        out += d.feed(data)
    return out
