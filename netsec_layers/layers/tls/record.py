"""TLS record layer (RFC 8446 §5.1, RFC 5246 §6.2) and the sub-protocols it carries.

``TLSRecord`` = content_type, version, length, then ``messages`` (the fragment, a list: handshake
messages, alerts, CCS, heartbeat, application data, or one opaque protected record); the
bytes after ``length`` are the next record, as the payload.  :func:`dissect_tls` is the
entry point for untrusted bytes: it never raises and marks what it cannot decode with a
:class:`TLSUndecoded` carrying the reason.
"""

from __future__ import annotations

import struct
from typing import Any, cast  # cast(Any, [...]): Scapy annotates FieldListField defaults as fields

from scapy.fields import (
    ByteEnumField,
    ByteField,
    FieldLenField,
    FieldListField,
    ShortEnumField,
    ShortField,
    ThreeBytesField,
    XShortField,
)
from scapy.packet import NoPayload, Packet

from netsec_layers.constants.tls import (
    AlertDescription,
    AlertLevel,
    CipherSuite,
    ContentType,
    HandshakeType,
    HeartbeatMessageType,
    ProtocolVersion,
    name_of,
    version_label,
)
from netsec_layers.layers.fast import make

from ._base import (
    MetaStrField,
    OpaqueField,
    RestField,
    TLSContext,
    TLSListField,
    TLSPacket,
    TLSUndecoded,
    names,
    try_classes,
    u24,
    undecoded,
)
from .handshake import TLSHandshake

_CT_LABEL = {
    20: "ChangeCipherSpec",
    21: "Alert",
    22: "Handshake",
    23: "ApplicationData",
    24: "Heartbeat",
}
_KNOWN_HS = {m.value for m in HandshakeType}


class TLSChangeCipherSpec(TLSPacket):
    """ChangeCipherSpec (RFC 5246 §7.1; a compatibility no-op in TLS 1.3 §5)."""

    name = "TLS ChangeCipherSpec"
    content_type_value = 20
    fields_desc = [ByteField("type", 1)]

    def mysummary(self) -> str:
        return "" if self.type == 1 else f"type={self.type}"


class TLSAlert(TLSPacket):
    """Alert (RFC 8446 §6, RFC 5246 §7.2)."""

    name = "TLS Alert"
    content_type_value = 21
    fields_desc = [
        ByteEnumField("level", 2, names(AlertLevel)),
        ByteEnumField("description", 40, names(AlertDescription)),
    ]

    def mysummary(self) -> str:
        return f"{name_of(AlertLevel, self.level)} {name_of(AlertDescription, self.description)}"


class TLSHeartbeat(TLSPacket):
    """HeartbeatMessage (RFC 6520 §4); the payload is ``data`` (``payload`` is Scapy's).
    ``payload_length`` None is computed; set it larger than ``data`` to craft a Heartbleed-style (CVE-2014-0160) over-read request."""

    name = "TLS Heartbeat"
    content_type_value = 24
    fields_desc = [
        ByteEnumField("type", 1, names(HeartbeatMessageType)),
        FieldLenField("payload_length", None, length_of="data"),
        OpaqueField("data", b"", length_from=lambda p: p.payload_length),
        RestField("padding", b"\x00" * 16),
    ]  # >= 16 bytes (RFC 6520 §4)

    def mysummary(self) -> str:
        return f"{name_of(HeartbeatMessageType, self.type)} payload_length={self.payload_length}"


class TLSApplicationData(TLSPacket):
    """application_data content: opaque (encrypted in practice; in TLS 1.3 every protected
    record has this outer type, RFC 8446 §5.2)."""

    name = "TLS ApplicationData"
    content_type_value = 23
    fields_desc = [RestField("data", b"")]

    def mysummary(self) -> str:
        return f"{len(self.data)} bytes"


class TLSEncryptedRecord(TLSPacket):
    """A protected record whose content is not readable without keys (after
    ChangeCipherSpec, or a handshake/alert record that does not parse as plaintext)."""

    name = "TLS Encrypted Record"
    fields_desc = [RestField("ciphertext", b"")]

    def mysummary(self) -> str:
        return f"encrypted {len(self.ciphertext)} bytes"


class TLSHandshakeFragment(TLSPacket):
    """Bytes of a handshake message that began in an earlier record (RFC 5246 §6.2.1 allows
    messages to span records); reassemble with :func:`handshake_messages`."""

    name = "TLS Handshake Fragment"
    fields_desc = [
        MetaStrField("reason", "continuation of a handshake message"),
        RestField("load", b""),
    ]

    def mysummary(self) -> str:
        return f"handshake fragment {len(self.load)} bytes"


def _frame(data: bytes, off: int) -> tuple[list[tuple[int, int]], int]:
    """Split whole handshake messages from ``off``: ([(start, size)], end offset)."""
    msgs = []
    while off + 4 <= len(data):
        n = 4 + u24(data, off + 1)
        if off + n > len(data):
            break
        msgs.append((off, n))
        off += n
    return msgs, off


# A handshake message longer than this is taken as a sign of ciphertext when a record's
# contents do not frame as whole messages (certificate chains stay far below it).
_MAX_PLAUSIBLE_MESSAGE = 1 << 18


def _implausible_tail(tail: bytes) -> bool:
    """The unframed end of a handshake record looks like ciphertext, not the start of a
    message continued in the next record: unknown type or an absurd length.  This catches
    e.g. a TLS 1.2 AES-GCM Finished dissected alone, whose explicit nonce (often the
    sequence number 0) frames as empty HelloRequests before random bytes."""
    if len(tail) < 4:
        return True
    return tail[0] not in _KNOWN_HS or u24(tail, 1) > _MAX_PLAUSIBLE_MESSAGE


def _parse_handshake(rec: Packet, data: bytes, ctx: TLSContext) -> list[Packet]:
    out: list[Packet] = []
    off = 0
    if ctx.pending_handshake > 0:
        n = min(ctx.pending_handshake, len(data))
        out.append(make(TLSHandshakeFragment, data[:n], parent=rec, internal=False))
        ctx.pending_handshake -= n
        off = n
    msgs, end = _frame(data, off)
    complete = end == len(data)
    if not complete and (
        ctx.encrypted or (not msgs and data[off] not in _KNOWN_HS) or _implausible_tail(data[end:])
    ):
        out.append(make(TLSEncryptedRecord, data[off:], parent=rec, internal=False))
        return out
    for start, n in msgs:
        out.append(make(TLSHandshake, data[start : start + n], parent=rec, internal=False))
    if not complete:
        tail = data[end:]
        if len(tail) < 4:
            out.append(undecoded("partial handshake header", tail, rec))
        else:
            out.append(make(TLSHandshake, tail, parent=rec, internal=False))
            if rec.length is not None and rec.length == len(data):
                # the record is whole: the message continues in the next record(s)
                ctx.pending_handshake = 4 + u24(tail, 1) - len(tail)
    return out


def parse_fragment(rec: Packet, data: bytes) -> list[Packet]:
    """Decode a record's fragment by content type (never raises)."""
    ctx = rec.context() if isinstance(rec, TLSPacket) else TLSContext()
    ct = rec.content_type
    out: list[Packet] = []
    if rec.length is not None and len(data) < rec.length:
        reason = f"record truncated: {len(data)} of {rec.length} bytes"
        return [undecoded(reason, data, rec)]
    if ct == 22:
        return _parse_handshake(rec, data, ctx)
    if ct == 23:
        return [make(TLSApplicationData, data, parent=rec, internal=False)]
    if ct == 20 and len(data) == 1:
        if ctx.version != 0x0304:
            # RFC 5246 §7.1: records after CCS use the new keys (TLS 1.3 CCS is a no-op)
            ctx.encrypted = True
        return [make(TLSChangeCipherSpec, data, parent=rec, internal=False)]
    if ct == 21 and len(data) % 2 == 0 and (len(data) == 2 or not ctx.encrypted):
        out = [
            make(TLSAlert, data[i : i + 2], parent=rec, internal=False)
            for i in range(0, len(data), 2)
        ]
        if len(data) == 2 or all(a.level in (1, 2) for a in out):
            return out
    if ct == 24 and not ctx.encrypted and len(data) >= 3:
        # kept even when payload_length overruns the record (Heartbleed, CVE-2014-0160)
        return [make(TLSHeartbeat, data, parent=rec, internal=False)]
    if ct in (20, 21, 22, 24):
        return [make(TLSEncryptedRecord, data, parent=rec, internal=False)]
    return [undecoded(f"content type {name_of(ContentType, ct)} not decoded", data, rec)]


class TLSRecord(TLSPacket):
    """TLSPlaintext / TLSCiphertext record (RFC 8446 §5.1, §5.2).

    The fragment is the ``messages`` list (``fragment`` is a Scapy method).
    Build: ``content_type`` None is taken from the first ``messages`` element; ``length`` None
    is computed.  ``TLSRecord()/TLSHandshake()/TLSClientHello()`` also works (the body is
    then counted in ``length``).  Dissect: the next record is the payload.
    """

    name = "TLS Record"
    fields_desc = [
        ByteEnumField("content_type", None, names(ContentType)),
        ShortEnumField("version", 0x0303, names(ProtocolVersion)),
        ShortField("length", None),
        TLSListField("messages", [], parse_fragment, length_from=lambda p: p.length),
    ]

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        chained = isinstance(self.payload, (TLSRecord, SSLv2ClientHello, TLSUndecoded))
        if self.content_type is None:
            first = (self.messages or [None])[0]
            if first is None and not chained:
                first = self.payload
            ct = getattr(first, "content_type_value", None)
            if ct is None:
                ct = 22 if isinstance(first, TLSHandshake) else 23
            p = bytes([ct]) + p[1:]
        if self.length is None:
            n = len(p) - 5 + (0 if chained else len(pay))
            p = p[:3] + struct.pack("!H", n & 0xFFFF) + p[5:]
        return p + pay

    def do_dissect_payload(self, s: bytes) -> None:
        _dissect_chain(self, s)

    def do_build_payload(self) -> bytes:
        return _build_chain(self)

    def build_padding(self) -> bytes:
        return _last(self).payload.build_padding()

    def build_done(self, p: bytes) -> bytes:
        return _last(self).payload.build_done(p)

    def _do_summary(self) -> tuple[int, str, list[Any]]:
        # Scapy's Packet._do_summary, iterated over the record chain instead of recursing
        chain: list[Any] = []
        q: Any = self
        while isinstance(q, (TLSRecord, SSLv2ClientHello)):
            chain.append(q)
            q = q.payload
        found, text, needed = q._do_summary()
        for rec in reversed(chain):  # every record shows its own summary
            ret = rec.mysummary()
            ret = (ret[0] if isinstance(ret, tuple) else ret) or rec.__class__.__name__
            text = f"{ret} / {text}" if text else ret
        return 1, text, needed

    def _show_or_dump(
        self,
        dump: bool = False,
        indent: int = 3,
        lvl: str = "",
        label_lvl: str = "",
        first_call: bool = True,
    ) -> str | None:
        # records of a chain are siblings: shown one after the other at the same level,
        # in a loop (Scapy's version recurses and indents each following record further)
        parts = []
        q: Any = self
        while isinstance(q, (TLSRecord, SSLv2ClientHello)):
            pay = q.payload
            object.__setattr__(q, "payload", NoPayload())
            try:
                parts.append(
                    Packet._show_or_dump(
                        q, dump=dump, indent=indent, lvl=lvl, label_lvl=label_lvl, first_call=False
                    )
                )
            finally:
                object.__setattr__(q, "payload", pay)
            q = pay
        if q:
            parts.append(
                q._show_or_dump(
                    dump=dump, indent=indent, lvl=lvl, label_lvl=label_lvl, first_call=False
                )
            )
        text = "".join(str(x) for x in parts)
        if first_call and not dump:
            print(text)
            return None
        return text

    def dissection_done(self, pkt: Packet) -> None:
        q: Any = self
        while isinstance(q, (TLSRecord, SSLv2ClientHello)):
            q.post_dissection(pkt)
            q = q.payload
        q.dissection_done(pkt)

    def clear_cache(self) -> None:
        q: Any = self
        while isinstance(q, (TLSRecord, SSLv2ClientHello)):
            q.raw_packet_cache = None
            for v in q.messages if isinstance(q, TLSRecord) else []:
                v.clear_cache()
            q = q.payload
        q.clear_cache()

    def mysummary(self) -> str:
        ct = self.content_type
        label = _CT_LABEL.get(ct, name_of(ContentType, ct)) if ct is not None else "?"
        parts = [
            p.mysummary() if isinstance(p, TLSPacket) else p.summary()
            for p in (self.messages or [])
        ]
        parts = [p for p in parts if p]
        text = f"{version_label(self.version)} {label}"
        text = f"{text} {', '.join(parts)}" if parts else text
        # (text, needed): every record of a chain shows its own summary (Scapy's protocol)
        return text, [TLSRecord, SSLv2ClientHello]  # type: ignore[return-value]


_V2_SPECS = {
    0x010080: "SSL_CK_RC4_128_WITH_MD5",
    0x020080: "SSL_CK_RC4_128_EXPORT40_WITH_MD5",
    0x030080: "SSL_CK_RC2_128_CBC_WITH_MD5",
    0x040080: "SSL_CK_RC2_128_CBC_EXPORT40_WITH_MD5",
    0x050080: "SSL_CK_IDEA_128_CBC_WITH_MD5",
    0x060040: "SSL_CK_DES_64_CBC_WITH_MD5",
    0x0700C0: "SSL_CK_DES_192_EDE3_CBC_WITH_MD5",
    **{m.value: m.name for m in CipherSuite},
}


class _V2SpecField(ThreeBytesField):
    """A 3-byte SSLv2 CIPHER-SPEC (TLS suites appear as 0x00XXXX)."""

    def i2repr(self, pkt: Packet | None, x: Any) -> str:
        return _V2_SPECS.get(x, f"0x{x:06x}") if isinstance(x, int) else repr(x)


class SSLv2ClientHello(TLSPacket):
    """SSL 2.0-format ClientHello (RFC 5246 Appendix E.2, RFC 6101 Appendix E): 2-byte
    length with the high bit set, msg_type 1, then 3-byte cipher specs."""

    name = "SSLv2 ClientHello"
    computed_lengths = ("msg_length",)
    fields_desc = [
        XShortField("msg_length", None),
        ByteField("msg_type", 1),
        ShortEnumField("version", 0x0301, names(ProtocolVersion)),
        FieldLenField("cipher_spec_length", None, length_of="cipher_specs"),
        FieldLenField("session_id_length", None, length_of="session_id"),
        FieldLenField("challenge_length", None, length_of="challenge"),
        FieldListField(
            "cipher_specs",
            cast(Any, [0x00002F, 0x000035, 0x010080]),
            _V2SpecField("cs", 0),
            length_from=lambda p: p.cipher_spec_length,
        ),
        OpaqueField("session_id", b"", length_from=lambda p: p.session_id_length),
        OpaqueField("challenge", b"\x00" * 16, length_from=lambda p: p.challenge_length),
    ]

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        if self.msg_length is None:
            p = struct.pack("!H", 0x8000 | ((len(p) - 2) & 0x7FFF)) + p[2:]
        return p + pay

    def do_dissect_payload(self, s: bytes) -> None:
        _dissect_chain(self, s)

    def do_build_payload(self) -> bytes:
        return _build_chain(self)

    def dissection_done(self, pkt: Packet) -> None:
        TLSRecord.dissection_done(self, pkt)  # type: ignore[arg-type]

    def _do_summary(self) -> tuple[int, str, list[Any]]:
        return TLSRecord._do_summary(self)  # type: ignore[arg-type]

    def _show_or_dump(
        self,
        dump: bool = False,
        indent: int = 3,
        lvl: str = "",
        label_lvl: str = "",
        first_call: bool = True,
    ) -> str | None:
        # TLSRecord's walk over the record chain; it reads only Packet attributes
        return TLSRecord._show_or_dump(
            self,  # type: ignore[arg-type]
            dump,
            indent,
            lvl,
            label_lvl,
            first_call,
        )

    def mysummary(self) -> str:
        names_ = [_V2_SPECS.get(c, f"0x{c:06x}") for c in self.cipher_specs or []]
        text = f"SSLv2 ClientHello {version_label(self.version)} ({len(names_)} cipher specs)"
        return text, [TLSRecord, SSLv2ClientHello]  # type: ignore[return-value]


def _looks_like_record(s: bytes) -> bool:
    return len(s) >= 5 and 20 <= s[0] <= 27 and s[1] == 3


def _is_sslv2_hello(s: bytes) -> bool:
    return len(s) >= 11 and s[0] & 0x80 != 0 and s[2] == 1 and s[3] in (0, 3)


def _dissect_chain(first: TLSPacket, s: bytes) -> None:
    """Dissect the records after ``first`` in a loop (not recursively: a capture of one
    direction may hold thousands of records), linking each as the payload of the previous."""
    if not s or first.chain_child:  # a chain child is given exactly its own bytes
        return
    ctx = first.context()
    cur: Packet = first
    off = 0
    while off < len(s):
        # hand each record only its own bytes: slicing "the rest" every time would copy
        # the whole remainder per record (quadratic on long captures)
        n = len(s) - off
        if _looks_like_record(s[off : off + 5]):
            n = min(n, 5 + int.from_bytes(s[off + 3 : off + 5], "big"))
        nxt = _next_record(s[off : off + n], underlayer=cur, ctx=ctx)
        cur.add_payload(nxt)
        off += n
        cur = nxt


def _last(p: Packet) -> Packet:
    while isinstance(p.payload, (TLSRecord, SSLv2ClientHello)):
        p = p.payload
    return p


def _own_bytes(rec: Packet) -> bytes:
    """A record's bytes without its payload (the following records)."""
    pkt = rec.self_build()
    return pkt if rec.raw_packet_cache is not None else rec.post_build(pkt, b"")


def _build_chain(first: Packet) -> bytes:
    """Build the records after ``first`` in a loop (see :func:`_dissect_chain`)."""
    out = []
    p = first.payload
    while isinstance(p, (TLSRecord, SSLv2ClientHello)):
        out.append(_own_bytes(p))
        p = p.payload
    out.append(p.do_build() if not isinstance(p, NoPayload) else b"")
    return b"".join(out)


def _next_record(s: bytes, *, underlayer: Packet | None, ctx: TLSContext | None = None) -> Packet:
    if _looks_like_record(s):
        attrs: dict[str, Any] = {"chain_child": True}
        if ctx is not None:
            attrs["tls_ctx"] = ctx
        return make(TLSRecord, s, underlayer=underlayer, attrs=attrs)
    reason = (
        "truncated record header"
        if len(s) < 5 and (not s or 20 <= s[0] <= 27)
        else f"not a TLS record (first bytes {s[:5].hex()})"
    )
    p = make(TLSUndecoded, s, underlayer=underlayer)
    p.reason = reason
    return p


def dissect_tls(
    data: bytes, *, version: int | None = None, kex: str | None = None, encrypted: bool = False
) -> Packet:
    """Dissect TLS records (one direction of a connection) from ``data``; never raises.

    ``version``/``kex`` give the connection context when known (e.g. from a tracker) so
    version-dependent messages parse right; otherwise a ServerHello in ``data`` sets them
    and per-message heuristics apply (see :mod:`netsec_layers.layers.tls.handshake_kx`).
    ``encrypted=True`` says records start protected (after ChangeCipherSpec).  The result
    is a :class:`TLSRecord` chain (or :class:`SSLv2ClientHello`, or :class:`TLSUndecoded`);
    ``bytes(result) == data`` always.
    """
    data = bytes(data)
    ctx = TLSContext(version=version, kex=kex, encrypted=encrypted)
    try:
        if _is_sslv2_hello(data):
            v2 = try_classes([SSLv2ClientHello], data, None, allow_payload=True)
            p: Packet = v2 if v2 is not None else undecoded("malformed SSLv2 ClientHello", data)
        elif _looks_like_record(data):
            p = make(TLSRecord, data, attrs={"tls_ctx": ctx}, internal=False)
        else:
            p = _next_record(data, underlayer=None)
            object.__setattr__(p, "tls_ctx", ctx)
        return p
    except Exception as exc:  # defensive: a dissector bug must not reach the caller
        return undecoded(f"dissector error: {type(exc).__name__}: {exc}", data)


def dissect_handshake(data: bytes, *, version: int | None = None, kex: str | None = None) -> Packet:
    """Dissect one handshake message (header + body) from ``data``; never raises.

    Context as in :func:`dissect_tls`.  Returns a :class:`TLSHandshake` (bytes beyond its
    length become a :class:`TLSUndecoded` payload) or :class:`TLSUndecoded`.
    """
    data = bytes(data)
    ctx = TLSContext(version=version, kex=kex)
    if len(data) < 4:
        return undecoded("truncated handshake header", data)
    try:
        p = make(TLSHandshake, data[: 4 + u24(data, 1)], attrs={"tls_ctx": ctx}, internal=False)
        rest = data[4 + u24(data, 1) :]
        if rest:
            tail = make(TLSUndecoded, rest, internal=False)
            tail.reason = "bytes after the handshake message"
            p.lastlayer().add_payload(tail)
        return p
    except Exception as exc:  # defensive, as in dissect_tls
        return undecoded(f"dissector error: {type(exc).__name__}: {exc}", data)


def iter_records(pkt: Packet) -> list[Packet]:
    """The records of a dissected chain, in order (SSLv2 hello and TLSRecord layers)."""
    out: list[Packet] = []
    p: Any = pkt
    while p is not None and not isinstance(p, NoPayload):
        if isinstance(p, (TLSRecord, SSLv2ClientHello)):
            out.append(p)
        p = p.payload
    return out
