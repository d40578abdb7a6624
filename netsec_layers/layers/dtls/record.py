"""DTLS record layer: DTLS 1.0/1.2 records (RFC 6347 §4.1), connection-ID records (RFC 9146
§4, content type 25) and the DTLS 1.3 unified header (RFC 9147 §4).

A UDP datagram may carry several records (RFC 6347 §4.1.1): :func:`dissect_dtls` splits it and
chains the records as payloads of each other, like the TLS layers do.  It never raises: what it
cannot read becomes a :class:`~netsec_layers.layers.tls.TLSUndecoded` with the reason, so
``bytes(dissect_dtls(data)) == data`` always.

The connection ID is not self-delimiting (RFC 9146 §3: its length is what the receiver chose),
so its length comes from the context (``cid_length=``); without it :func:`dissect_dtls` picks
the length that makes the record end where the datagram or a following record header ends.
"""

from __future__ import annotations

from typing import Any

from scapy.fields import (
    BitField,
    ByteEnumField,
    ConditionalField,
    Field,
    ShortEnumField,
    ShortField,
)
from scapy.packet import NoPayload, Packet

from netsec_layers.constants.tls import ContentType, ProtocolVersion, name_of, version_label
from netsec_layers.layers.tls._base import (
    OpaqueField,
    TLSContext,
    TLSListField,
    TLSPacket,
    TLSUndecoded,
    names,
    try_classes,
    undecoded,
)
from netsec_layers.layers.tls.record import (
    TLSAlert,
    TLSApplicationData,
    TLSChangeCipherSpec,
    TLSEncryptedRecord,
    TLSHeartbeat,
)

from .handshake import DTLSAck, DTLSContext, parse_handshake_fragments

CT_NAMES = names(ContentType)
VERSION_NAMES = names(ProtocolVersion)
RECORD_HEADER_LEN = 13
MAX_CHAINED_RECORDS = 64  # records per datagram dissected as a chain (more stay undecoded)
MAX_GUESSED_CID = 32  # connection ID lengths tried when the context does not give one
_PLAIN_TYPES = (20, 21, 22, 23, 24, 26)


def parse_content(rec: Packet, content_type: int, data: bytes, *, protected: bool) -> list[Packet]:
    """The messages of a record's (plaintext) content, by content type; never raises.

    ``protected``: the content is still ciphertext (epoch > 0 in DTLS 1.0/1.2)."""
    if protected:
        return [TLSEncryptedRecord(data, _internal=1, _parent=rec)]
    if content_type == 22:
        return parse_handshake_fragments(rec, data)
    classes: dict[int, type[Packet]] = {
        20: TLSChangeCipherSpec,
        21: TLSAlert,
        23: TLSApplicationData,
        24: TLSHeartbeat,
        26: DTLSAck,
    }
    cls = classes.get(content_type)
    if cls is None:
        return [undecoded(f"content type {name_of(ContentType, content_type)} not decoded", data)]
    if content_type == 21 and len(data) > 2 and len(data) % 2 == 0:
        return [TLSAlert(data[i : i + 2], _internal=1, _parent=rec) for i in range(0, len(data), 2)]
    p = try_classes([cls], data, rec)
    return [p if p is not None else undecoded(f"malformed {cls.name}", data, rec)]


def _parse_messages(rec: Packet, data: bytes) -> list[Packet]:
    if rec.length is not None and len(data) < rec.length:
        return [undecoded(f"record truncated: {len(data)} of {rec.length} bytes", data, rec)]
    return parse_content(rec, rec.content_type, data, protected=bool(rec.epoch))


class _DTLSChained(TLSPacket):
    """Common build rules of the record classes: ``length`` None is computed from the
    content (``messages`` or ``encrypted_record``) only, never from the following records."""

    def _content_len(self) -> int:
        raise NotImplementedError

    def _length_offset(self) -> int:
        raise NotImplementedError

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        # ``DTLSRecord()/DTLSHandshake()/...`` puts the content in the payload: counted then
        chained = isinstance(self.payload, (_DTLSChained, TLSUndecoded, NoPayload))
        if getattr(self, "content_type", 0) is None:
            first = (getattr(self, "messages", None) or [None])[0]
            if first is None and not chained:
                first = self.payload
            ct = getattr(first, "content_type_value", None)
            if ct is None:
                ct = 22 if first is not None and first.name == "DTLS Handshake" else 23
            p = bytes([ct]) + p[1:]
        off = self._length_offset()
        if off >= 0 and self.length is None:
            n = len(p) - off - 2 + (0 if chained else len(pay))
            p = p[:off] + (n & 0xFFFF).to_bytes(2, "big") + p[off + 2 :]
        return p + pay

    def mysummary(self) -> Any:
        return self._summary_text(), [DTLSRecord, DTLSCIDRecord, DTLSCiphertext]

    def _summary_text(self) -> str:
        return str(self.name)


class DTLSRecord(_DTLSChained):
    """DTLSPlaintext/DTLSCiphertext of DTLS 1.0/1.2 (RFC 6347 §4.1): content_type, version,
    epoch, 48-bit sequence_number, length, then the content as ``messages`` (handshake
    fragments, alerts, CCS, application data, ACK, or one opaque protected fragment when the
    epoch is not 0).  The next record of the datagram is the payload."""

    name = "DTLS Record"
    fields_desc = [
        ByteEnumField("content_type", None, CT_NAMES),
        ShortEnumField("version", 0xFEFD, VERSION_NAMES),
        ShortField("epoch", 0),
        BitField("seq", 0, 48),
        ShortField("length", None),
        TLSListField("messages", [], _parse_messages, length_from=lambda p: p.length),
    ]

    def _length_offset(self) -> int:
        return 11

    def _summary_text(self) -> str:
        ct = self.content_type
        label = name_of(ContentType, ct) if ct is not None else "?"
        parts = [m.mysummary() for m in self.messages or [] if isinstance(m, TLSPacket)]
        text = f"{version_label(self.version)} {label} epoch={self.epoch} seq={self.seq}"
        parts = [p if isinstance(p, str) else p[0] for p in parts if p]
        return f"{text} {', '.join(parts)}" if parts else text


def _cid_len(p: Packet) -> int:
    ctx = p.context()
    n = getattr(ctx, "cid_length", None)
    return int(n) if n else 0


class DTLSCIDRecord(_DTLSChained):
    """A record with a connection ID (RFC 9146 §4, content type tls12_cid = 25): the real
    content type is inside the encrypted DTLSInnerPlaintext."""

    name = "DTLS CID Record"
    fields_desc = [
        ByteEnumField("content_type", 25, CT_NAMES),
        ShortEnumField("version", 0xFEFD, VERSION_NAMES),
        ShortField("epoch", 1),
        BitField("seq", 0, 48),
        OpaqueField("cid", b"", length_from=_cid_len),
        ShortField("length", None),
        OpaqueField("encrypted_record", b"", length_from=lambda p: p.length),
    ]

    def _length_offset(self) -> int:
        return 11 + len(self.cid or b"")

    def _summary_text(self) -> str:
        return (
            f"{version_label(self.version)} CID record cid={self.cid.hex()} epoch={self.epoch} "
            f"seq={self.seq} {len(self.encrypted_record)} bytes"
        )


class _UnifiedSeqField(Field[int, int]):
    """The 8- or 16-bit (encrypted) sequence number of a unified header (S bit)."""

    def __init__(self, name: str, default: int) -> None:
        super().__init__(name, default, "!H")

    def addfield(self, pkt: Packet, s: bytes, val: Any) -> bytes:
        v = int(val or 0)
        return s + (v.to_bytes(2, "big") if pkt.s else bytes([v & 0xFF]))

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, int]:
        n = 2 if pkt.s else 1
        if len(s) < n:
            raise ValueError("truncated sequence number")
        return s[n:], int.from_bytes(s[:n], "big")


def _unified_length(p: Packet) -> Any:
    return p.length if p.l else None  # None: to the end of the datagram


class DTLSCiphertext(_DTLSChained):
    """DTLS 1.3 unified header (RFC 9147 §4, Figure 3): 001CSLEE, optional connection ID,
    8/16-bit sequence number (encrypted on the wire, §4.2.3), optional length, then the
    encrypted record.  ``seq`` is the wire value (the encrypted low bits); without the L
    bit the record runs to the end of the datagram."""

    name = "DTLS 1.3 Ciphertext"
    fields_desc = [
        BitField("fixed", 1, 3),
        BitField("c", 0, 1),
        BitField("s", 1, 1),
        BitField("l", 1, 1),
        BitField("epoch_bits", 3, 2),
        ConditionalField(OpaqueField("cid", b"", length_from=_cid_len), lambda p: p.c),
        _UnifiedSeqField("seq", 0),
        ConditionalField(ShortField("length", None), lambda p: p.l),
        OpaqueField("encrypted_record", b"", length_from=_unified_length),
    ]

    def _length_offset(self) -> int:
        if not self.l:
            return -1
        return 1 + (len(self.cid or b"") if self.c else 0) + (2 if self.s else 1)

    def header_bytes(self) -> bytes:
        """The header as on the wire (the AEAD additional data once the sequence number is
        decrypted, RFC 9147 §4)."""
        raw = bytes(self)
        return raw[: len(raw) - len(self.encrypted_record) - len(bytes(self.payload))]

    def _summary_text(self) -> str:
        cid = f" cid={self.cid.hex()}" if self.c else ""
        return (
            f"DTLS 1.3 ciphertext epoch&3={self.epoch_bits}{cid} seq(enc)={self.seq} "
            f"{len(self.encrypted_record)} bytes"
        )


# -- splitting a datagram ----------------------------------------------------------------------


def record_length(data: bytes, off: int, cid_length: int | None) -> int | None:
    """Length of the record at ``data[off:]`` from its header (None: no record starts here)."""
    if off >= len(data):
        return None
    first = data[off]
    if 0x20 <= first <= 0x3F:  # unified header
        n = 1 + ((cid_length or 0) if first & 0x10 else 0) + (2 if first & 0x08 else 1)
        if not first & 0x04:
            return len(data) - off
        if off + n + 2 > len(data):
            return None
        return n + 2 + int.from_bytes(data[off + n : off + n + 2], "big")
    if off + RECORD_HEADER_LEN > len(data) or data[off + 1] != 0xFE:
        return None
    if first == 25:
        cid = cid_length or 0
        if off + RECORD_HEADER_LEN + cid > len(data):
            return None
        return (
            RECORD_HEADER_LEN + cid + int.from_bytes(data[off + 11 + cid : off + 13 + cid], "big")
        )
    if first in _PLAIN_TYPES:
        return RECORD_HEADER_LEN + int.from_bytes(data[off + 11 : off + 13], "big")
    return None


def guess_cid_length(data: bytes, off: int = 0) -> int | None:
    """The connection ID length that makes the CID record (or unified header with C bit) at
    ``off`` end exactly at the end of ``data`` or at another record header."""
    for n in range(0, MAX_GUESSED_CID + 1):
        size = record_length(data, off, n)
        if size is None:
            continue
        end = off + size
        if end == len(data) or (end < len(data) and record_length(data, end, n) is not None):
            return n
    return None


def looks_like_dtls(data: bytes) -> bool:
    """A plausible DTLS 1.0/1.2/1.3 plaintext record header (content type, version 0xfeXX)."""
    return (
        len(data) >= RECORD_HEADER_LEN
        and data[0] in (*_PLAIN_TYPES, 25)
        and data[1] == 0xFE
        and data[2] in (0xFF, 0xFD, 0xFC)
    )


def _one(data: bytes, ctx: TLSContext, underlayer: Packet | None) -> Packet:
    first = data[0]
    cls: type[Packet]
    if 0x20 <= first <= 0x3F:
        cls = DTLSCiphertext
    elif first == 25:
        cls = DTLSCIDRecord
    else:
        cls = DTLSRecord
    kw: dict[str, Any] = {"_internal": 1, "tls_ctx": ctx}
    if underlayer is not None:
        kw["_underlayer"] = underlayer
    try:
        return cls(data, **kw)
    except Exception as exc:  # noqa: BLE001 - outside bytes never raise
        return undecoded(f"malformed {cls.name}: {type(exc).__name__}", data)


def dissect_dtls(
    data: bytes,
    *,
    cid_length: int | None = None,
    version: int | None = None,
    kex: str | None = None,
) -> Packet:
    """Dissect the DTLS records of one UDP payload; never raises.

    ``cid_length``: connection ID length of the receiver (RFC 9146), guessed when None.
    ``version``: the negotiated version when known (0xfefd...), so version-dependent
    handshake messages parse right.  Returns the first record with the others chained as its
    payload (at most :data:`MAX_CHAINED_RECORDS`; bytes past them, or bytes that do not frame
    as a record, end the chain as a ``TLSUndecoded``)."""
    data = bytes(data)
    from .handshake import TLS_EQUIVALENT

    tls_version = TLS_EQUIVALENT.get(version, version) if version is not None else None
    ctx = DTLSContext(cid_length=cid_length, version=tls_version, kex=kex)
    first: Packet | None = None
    cur: Packet | None = None
    off = 0
    count = 0
    while off < len(data):
        if ctx.cid_length is None and (data[off] == 25 or 0x30 <= data[off] <= 0x3F):
            ctx.cid_length = guess_cid_length(data, off)
        size = record_length(data, off, ctx.cid_length)
        takes_rest = size is None or off + size > len(data) or count >= MAX_CHAINED_RECORDS
        if takes_rest or size is None:
            rest = data[off:]
            if count >= MAX_CHAINED_RECORDS:
                reason = f"more than {MAX_CHAINED_RECORDS} records in one datagram"
            elif size is not None:
                reason = f"record truncated: {len(rest)} of {size} bytes"
            else:
                reason = f"not a DTLS record (first bytes {rest[:13].hex()})"
            nxt: Packet = undecoded(reason, rest)
        else:
            nxt = _one(data[off : off + size], ctx, cur)
        if cur is None:
            first = nxt
            object.__setattr__(first, "tls_ctx", ctx)
        else:
            cur.add_payload(nxt)
        cur = nxt
        count += 1
        if takes_rest or size is None:
            break
        off += size
    if first is None:
        return undecoded("empty datagram", b"")
    return first


def iter_dtls_records(pkt: Packet) -> list[Packet]:
    """The records of a dissected datagram, in order."""
    out: list[Packet] = []
    p: Any = pkt
    while p is not None and not isinstance(p, NoPayload):
        if isinstance(p, _DTLSChained):
            out.append(p)
        p = p.payload
    return out


__all__ = [
    "DTLSCIDRecord",
    "DTLSCiphertext",
    "DTLSRecord",
    "MAX_CHAINED_RECORDS",
    "RECORD_HEADER_LEN",
    "dissect_dtls",
    "guess_cid_length",
    "iter_dtls_records",
    "looks_like_dtls",
    "parse_content",
    "record_length",
]
