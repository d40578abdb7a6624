"""RFC 5322 messages and MIME entities (RFC 2045/2046) as a tree that keeps every byte.

:func:`parse_entity` splits bytes into a :class:`MIMEEntity`: its header fields (each with its
exact raw bytes), the separator line, and a body.  A multipart body is split at its delimiter
lines (RFC 2046 section 5.1.1) into preamble, parts and epilogue; a ``message/rfc822`` body holds
the enclosed message.  :meth:`MIMEEntity.build` joins the pieces again, so an unchanged tree
builds the input bytes exactly -- the property S/MIME signatures over MIME parts need.

Bad input never raises: what cannot be understood is kept as bytes and noted in ``defects``.
Hostile input is bounded by :data:`MAX_DEPTH` and :data:`MAX_PARTS`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from netsec_layers.layers.mail.headers import (
    ContentType,
    HeaderField,
    parse_content_type,
)
from netsec_layers.layers.mail.transfer import decode_transfer

__all__ = ["MAX_DEPTH", "MAX_PARTS", "MIMEEntity", "Multipart", "parse_entity"]

MAX_DEPTH = 32  # nesting of multiparts and enclosed messages
MAX_PARTS = 10000  # body parts in the whole tree

# RFC 5322 section 3.6.8: field-name = 1*ftext (printable US-ASCII except ":"); obsolete syntax
# (RFC 5322 section 4.5) allows white space before the colon.
_FIELD = re.compile(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:")
_LINE = re.compile(rb"[^\n]*(?:\n|$)")


@dataclass(slots=True)
class Multipart:
    """A multipart body: ``preamble`` then for every part its ``delimiters[i]`` (the line break
    before the delimiter line, the line itself with padding and its line break) and the part's
    bytes; then ``close`` (line break and close-delimiter line, or ``b""`` when missing) and the
    ``epilogue``."""

    boundary: bytes
    preamble: bytes
    delimiters: list[bytes]
    parts: list[MIMEEntity]
    close: bytes
    epilogue: bytes

    def build(self) -> bytes:
        out = [self.preamble]
        for d, p in zip(self.delimiters, self.parts, strict=True):
            out += [d, p.build()]
        out += [self.close, self.epilogue]
        return b"".join(out)


@dataclass(slots=True)
class MIMEEntity:
    """One message or body part.  ``header`` fields, ``separator`` (the empty line, or ``b""``
    when the header section ran to the end or straight into the body) and ``body`` bytes as on
    the wire; ``multipart`` / ``enclosed`` when the body has structure."""

    fields: list[HeaderField]
    separator: bytes
    body: bytes
    content_type: ContentType
    multipart: Multipart | None = None
    enclosed: MIMEEntity | None = None  # message/rfc822 (and message/global)
    enclosed_transformed: bool = False  # enclosed parsed from a transfer-decoded body
    defects: list[str] = field(default_factory=list)
    unixfrom: bytes = b""  # an mbox "From " envelope line before the header (top level only)

    # -- header access --------------------------------------------------------------------
    def get(self, name: str) -> str | None:
        """The first field called ``name`` (case-insensitive), unfolded and decoded."""
        low = name.lower()
        for f in self.fields:
            if f.name.lower() == low:
                return f.value
        return None

    def get_all(self, name: str) -> list[str]:
        low = name.lower()
        return [f.value for f in self.fields if f.name.lower() == low]

    @property
    def header_bytes(self) -> bytes:
        return b"".join(f.raw for f in self.fields)

    @property
    def transfer_encoding(self) -> str | None:
        v = self.get("content-transfer-encoding")
        return None if v is None else v.strip().lower()

    @property
    def mime_type(self) -> str:
        return self.content_type.type

    @property
    def children(self) -> list[MIMEEntity]:
        if self.multipart is not None:
            return self.multipart.parts
        return [self.enclosed] if self.enclosed is not None else []

    def decoded_body(self) -> bytes:
        """The body with its Content-Transfer-Encoding undone."""
        return decode_transfer(self.transfer_encoding, self.body)[0]

    # -- bytes ----------------------------------------------------------------------------
    def build(self) -> bytes:
        """The entity's bytes: equal to the parsed input when nothing was changed."""
        if self.multipart is not None:
            body = self.multipart.build()
        elif self.enclosed is not None and not self.enclosed_transformed:
            body = self.enclosed.build()
        else:
            body = self.body
        return self.unixfrom + self.header_bytes + self.separator + body

    def walk(self) -> Iterator[MIMEEntity]:
        """This entity and all below it, depth first."""
        yield self
        for c in self.children:
            yield from c.walk()

    # -- presentation ---------------------------------------------------------------------
    def summary(self) -> str:
        n = len(self.children)
        extra = f", {n} part{'s' if n != 1 else ''}" if self.multipart is not None else ""
        return f"MIME {self.mime_type} ({len(self.body)} bytes{extra})"

    def tree_lines(self, indent: int = 0) -> list[str]:
        pad = "  " * indent
        lines = [pad + self.summary()]
        for f in self.fields:
            lines.append(f"{pad}  {f.name}: {f.value}")
        for d in self.defects:
            lines.append(f"{pad}  ! {d}")
        for c in self.children:
            lines += c.tree_lines(indent + 1)
        return lines

    def show(self) -> None:  # Scapy-style, for interactive sessions
        print("\n".join(self.tree_lines()))

    def to_node(self) -> dict[str, Any]:
        """The JSON node of the ``message`` contract (see docs/mail.md)."""
        node: dict[str, Any] = {
            "content_type": self.mime_type,
            "transfer_encoding": self.transfer_encoding,
            "headers": [[f.name, f.value] for f in self.fields],
            "children": [c.to_node() for c in self.children],
        }
        if not self.children:
            node["body_sha256"] = hashlib.sha256(self.decoded_body()).hexdigest()
        return node


class _Budget:
    def __init__(self) -> None:
        self.parts = 0


def _split_header(data: bytes) -> tuple[list[HeaderField], bytes, bytes, list[str]]:
    """Header fields, separator and body.  A line that is neither a field nor a continuation
    ends the header section (as most readers do); it then belongs to the body."""
    fields: list[HeaderField] = []
    defects: list[str] = []
    pos, n = 0, len(data)
    cur: tuple[str, int] | None = None  # the open field: name, start offset

    def close(at: int) -> None:
        if cur is not None:  # a field's raw bytes: one slice, however many folded lines
            fields.append(HeaderField(cur[0], data[cur[1] : at]))

    while pos < n:
        m = _LINE.match(data, pos)
        assert m is not None  # _LINE matches the empty string
        line = m.group(0)
        if line in (b"\r\n", b"\n"):
            close(pos)
            return fields, line, data[m.end() :], defects
        if line[:1] in (b" ", b"\t") and cur is not None:
            pos = m.end()  # RFC 5322 section 2.2.3: a continuation of the open field
            continue
        fm = _FIELD.match(line)
        if fm is None:
            close(pos)
            defects.append("header section ended by a line that is not a field")
            return fields, b"", data[pos:], defects
        close(pos)
        cur = (line[: fm.end() - 1].rstrip(b" \t").decode("ascii"), pos)
        pos = m.end()
    close(pos)
    return fields, b"", b"", defects


def _find_delimiters(body: bytes, boundary: bytes) -> list[tuple[int, int, bool]]:
    """``(start, end, is_close)`` of every delimiter: ``start`` at the line break before it (or
    at 0), ``end`` past the line break after it.  RFC 2046 section 5.1.1: a delimiter is
    "--" boundary at the beginning of a line, optionally followed by white space."""
    dash = b"--" + boundary
    found: list[tuple[int, int, bool]] = []
    prev_end = 0
    i = body.find(dash)
    while i >= 0:
        at_line_start = i == 0 or body[i - 1 : i] == b"\n"
        if at_line_start:
            j = i + len(dash)
            close = body[j : j + 2] == b"--"
            if close:
                j += 2
            k = j
            while k < len(body) and body[k] in b" \t":
                k += 1
            eol = body[k : k + 2] == b"\r\n" or body[k : k + 1] == b"\n" or k == len(body)
            if eol:
                end = k + (2 if body[k : k + 2] == b"\r\n" else 1 if k < len(body) else 0)
                if close:  # the close delimiter's own line break belongs to the epilogue
                    end = k
                start = i
                if i >= 2 and body[i - 2 : i] == b"\r\n":
                    start = i - 2
                elif i >= 1:
                    start = i - 1
                # two delimiter lines in a row: the line break was the previous one's
                start = max(start, prev_end)
                found.append((start, end, close))
                prev_end = end
                if close:
                    break
                i = body.find(dash, end)
                continue
        i = body.find(dash, i + 1)
    return found


def _parse(data: bytes, default_type: str, depth: int, budget: _Budget) -> MIMEEntity:
    fields, sep, body, defects = _split_header(data)
    ct_value = None
    for f in fields:
        if f.name.lower() == "content-type":
            ct_value = f.value
            break
    ctype = parse_content_type(ct_value, default_type)
    ent = MIMEEntity(fields, sep, body, ctype, defects=defects)
    if ct_value is not None and not ctype.valid:
        ent.defects.append(f"Content-Type {ct_value!r} invalid: {default_type} assumed")
    if ctype.maintype == "multipart":
        _parse_multipart(ent, depth, budget)
    elif ctype.type in ("message/rfc822", "message/global"):
        if depth >= MAX_DEPTH:
            ent.defects.append(f"nesting deeper than {MAX_DEPTH}: enclosed message not parsed")
        else:
            cte = ent.transfer_encoding
            inner = body
            if cte in ("base64", "quoted-printable"):
                inner = decode_transfer(cte, body)[0]
                ent.enclosed_transformed = True
            ent.enclosed = _parse(inner, "text/plain", depth + 1, budget)
    return ent


def _parse_multipart(ent: MIMEEntity, depth: int, budget: _Budget) -> None:
    boundary_s = ent.content_type.params.get("boundary")
    if not boundary_s:
        ent.defects.append("multipart without a boundary parameter: body kept as bytes")
        return
    if depth >= MAX_DEPTH:
        ent.defects.append(f"nesting deeper than {MAX_DEPTH}: parts not parsed")
        return
    boundary = boundary_s.encode("utf-8", "replace")
    body = ent.body
    delims = _find_delimiters(body, boundary)
    if not delims:
        ent.defects.append("no delimiter line for the boundary: body kept as bytes")
        return
    child_type = "message/rfc822" if ent.content_type.subtype == "digest" else "text/plain"
    starts = [d for d in delims if not d[2]]
    closing = delims[-1] if delims[-1][2] else None
    if not starts:
        ent.defects.append("multipart with a close delimiter but no part")
    preamble = body[: delims[0][0]]
    parts: list[MIMEEntity] = []
    lines: list[bytes] = []
    for idx, (s, e, _c) in enumerate(starts):
        budget.parts += 1
        if budget.parts > MAX_PARTS:
            ent.defects.append(f"more than {MAX_PARTS} body parts: the rest kept as bytes")
            break
        nxt = (
            starts[idx + 1][0] if idx + 1 < len(starts) else (closing[0] if closing else len(body))
        )
        lines.append(body[s:e])
        parts.append(_parse(body[e:nxt], child_type, depth + 1, budget))
    if len(parts) < len(starts):  # budget hit: glue the rest into the epilogue
        cut = starts[len(parts)][0]
        ent.multipart = Multipart(boundary, preamble, lines, parts, b"", body[cut:])
        return
    if closing is None:
        ent.defects.append("multipart without a close delimiter")
        ent.multipart = Multipart(boundary, preamble, lines, parts, b"", b"")
    else:
        close = body[closing[0] : closing[1]]
        ent.multipart = Multipart(boundary, preamble, lines, parts, close, body[closing[1] :])


def parse_entity(data: bytes, *, default_type: str = "text/plain") -> MIMEEntity:
    """Parse a message or MIME entity (CRLF or bare-LF line breaks).  Never raises.  An mbox
    ``From `` envelope line at the start is kept aside in ``unixfrom``."""
    data = bytes(data)
    unixfrom = b""
    if data.startswith(b"From "):
        m = _LINE.match(data)
        assert m is not None
        unixfrom, data = data[: m.end()], data[m.end() :]
    ent = _parse(data, default_type, 0, _Budget())
    ent.unixfrom = unixfrom
    return ent
