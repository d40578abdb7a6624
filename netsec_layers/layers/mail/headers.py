"""RFC 5322 header fields: unfolding, RFC 2047 encoded words, MIME parameters (RFC 2045 section
5.1 with RFC 2231 continuations and charsets), addresses and dates.

Every function here reads outside bytes and never raises.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import getaddresses, parsedate_to_datetime
from urllib.parse import unquote_to_bytes

__all__ = [
    "ContentType",
    "HeaderField",
    "decode_encoded_words",
    "parse_addresses",
    "parse_content_type",
    "parse_date",
    "parse_params",
    "unfold",
]

# RFC 2047 section 2: encoded-word = "=?" charset "?" encoding "?" encoded-text "?="
# (charset may carry an RFC 2231 section 5 "*language" suffix)
_EW = re.compile(rb"=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=")
_WSP_ONLY = re.compile(rb"^[ \t\r\n]*$")


@dataclass(slots=True)
class HeaderField:
    """One header field as on the wire: ``raw`` is the whole field including its folding and
    its final line break, so joining the ``raw`` of every field gives the header back."""

    name: str
    raw: bytes

    @property
    def raw_value(self) -> bytes:
        """The bytes after the colon, folding and line breaks kept."""
        return self.raw.split(b":", 1)[1] if b":" in self.raw else b""

    @property
    def value(self) -> str:
        """Unfolded (RFC 5322 section 2.2.3), RFC 2047-decoded, raw 8-bit read as UTF-8."""
        return decode_encoded_words(unfold(self.raw_value))


def unfold(raw: bytes) -> bytes:
    """Remove the line breaks of folding and the surrounding white space of the value."""
    return re.sub(rb"\r?\n(?=[ \t])", b"", raw).strip(b" \t\r\n")


def _decode_charset(data: bytes, charset: str) -> str:
    cs = charset.split("*", 1)[0].strip().lower() or "us-ascii"
    try:
        return data.decode(cs, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def _decode_word(m: re.Match[bytes]) -> str | None:
    charset = m.group(1).decode("ascii", "replace")
    text = m.group(3)
    if m.group(2) in b"Bb":
        pad = b"=" * (-len(text) % 4)
        try:
            data = base64.b64decode(text + pad, validate=False)
        except (binascii.Error, ValueError):
            return None
    else:  # RFC 2047 section 4.2: "_" is a space, =XX an octet
        data = re.sub(
            rb"=([0-9A-Fa-f]{2})", lambda h: bytes((int(h.group(1), 16),)), text.replace(b"_", b" ")
        )
    return _decode_charset(data, charset)


def decode_encoded_words(raw: bytes) -> str:
    """Decode RFC 2047 encoded words; white space between two adjacent encoded words is dropped
    (RFC 2047 section 6.2).  Text outside them is read as UTF-8 (RFC 6532)."""
    out: list[str] = []
    pos = 0
    prev_word_end = -1
    for m in _EW.finditer(raw):
        gap = raw[pos : m.start()]
        word = _decode_word(m)
        if word is None:
            continue
        if not (prev_word_end == pos and _WSP_ONLY.match(gap)):
            out.append(gap.decode("utf-8", errors="replace"))
        out.append(word)
        pos = prev_word_end = m.end()
    out.append(raw[pos:].decode("utf-8", errors="replace"))
    return "".join(out)


# --- MIME parameters (RFC 2045 section 5.1, RFC 2231) ---------------------------------------

_TSPECIALS = set('()<>@,;:\\"/[]?=')


def _skip_cfws(s: str, i: int) -> int:
    while i < len(s):
        c = s[i]
        if c in " \t\r\n":
            i += 1
        elif c == "(":  # comment, possibly nested (RFC 5322 section 3.2.2)
            depth = 0
            while i < len(s):
                if s[i] == "\\":
                    i += 2
                    continue
                if s[i] == "(":
                    depth += 1
                elif s[i] == ")":
                    depth -= 1
                    if depth == 0:
                        i += 1
                        break
                i += 1
        else:
            break
    return i


def _token(s: str, i: int) -> tuple[str, int]:
    j = i
    while j < len(s) and s[j] not in _TSPECIALS and s[j] not in " \t\r\n" and ord(s[j]) > 31:
        j += 1
    return s[i:j], j


def _quoted(s: str, i: int) -> tuple[str, int]:
    out: list[str] = []
    i += 1
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            out.append(s[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        out.append(c)
        i += 1
    return "".join(out), i


def parse_params(s: str) -> dict[str, str]:
    """``; name=value`` parameters after a MIME value: names lowercase, quoted strings unquoted,
    RFC 2231 continuations joined and ``name*`` values percent-decoded in their charset."""
    raw: dict[str, tuple[str, bool]] = {}
    i = 0
    while i < len(s):
        i = _skip_cfws(s, i)
        if i >= len(s):
            break
        if s[i] == ";":
            i += 1
            continue
        name, j = _token(s, i)
        if not name:
            nxt = s.find(";", i + 1)
            i = len(s) if nxt < 0 else nxt
            continue
        j = _skip_cfws(s, j)
        if j >= len(s) or s[j] != "=":
            i = j if j > i else j + 1
            continue
        j = _skip_cfws(s, j + 1)
        if j < len(s) and s[j] == '"':
            value, j = _quoted(s, j)
            quoted = True
        else:
            k = j
            while k < len(s) and s[k] != ";":
                k += 1
            value, quoted = s[j:k].strip(), False
            j = k
        raw.setdefault(name.lower(), (value, quoted))
        i = j
    return _join_rfc2231(raw)


def _join_rfc2231(raw: dict[str, tuple[str, bool]]) -> dict[str, str]:
    out: dict[str, str] = {}
    pieces: dict[str, dict[int, tuple[str, bool]]] = {}
    for name, (value, _quoted_value) in raw.items():
        m = re.fullmatch(r"([^*]+)\*(\d+)(\*?)", name)
        if m:
            pieces.setdefault(m.group(1), {})[int(m.group(2))] = (value, m.group(3) == "*")
        elif name.endswith("*"):
            pieces.setdefault(name[:-1], {})[0] = (value, True)
        else:
            out.setdefault(name, value)
    for base, parts in pieces.items():
        charset = "us-ascii"
        data = bytearray()
        n = 0
        while n in parts:  # RFC 2231 section 3: continuations numbered from 0, no gaps
            value, encoded = parts[n]
            if encoded:
                if n == 0 and value.count("'") >= 2:
                    charset, _lang, value = value.split("'", 2)
                data += unquote_to_bytes(value)
            else:
                data += value.encode("utf-8", "replace")
            n += 1
        out[base] = _decode_charset(bytes(data), charset or "us-ascii")
    return out


@dataclass(slots=True)
class ContentType:
    """A parsed Content-Type: ``maintype/subtype`` (lowercase) and its parameters."""

    maintype: str
    subtype: str
    params: dict[str, str] = field(default_factory=dict)
    valid: bool = True

    @property
    def type(self) -> str:
        return f"{self.maintype}/{self.subtype}"


def parse_content_type(value: str | None, default: str = "text/plain") -> ContentType:
    """RFC 2045 section 5.2: an absent or unparsable Content-Type means ``default`` (and for an
    unparsable one, the charset parameter is still read)."""
    dm, ds = default.split("/")
    if value is None:
        return ContentType(dm, ds, {"charset": "us-ascii"} if default == "text/plain" else {})
    i = _skip_cfws(value, 0)
    main, i = _token(value, i)
    i = _skip_cfws(value, i)
    if main and i < len(value) and value[i] == "/":
        sub, j = _token(value, _skip_cfws(value, i + 1))
        if sub:
            return ContentType(main.lower(), sub.lower(), parse_params(value[j:]))
    params = parse_params(value[value.find(";") :] if ";" in value else "")
    return ContentType(dm, ds, params, valid=False)


def parse_addresses(value: str) -> list[tuple[str, str]]:
    """``[(display name, addr-spec)]`` of an address-list field (From, To, Cc …)."""
    try:
        return [(n, a) for n, a in getaddresses([value]) if n or a]
    except Exception:  # noqa: BLE001 - stdlib parser on outside text; bounded by our contract
        return []


def parse_date(value: str) -> datetime | None:
    """An RFC 5322 section 3.3 date-time, or ``None`` when it cannot be read."""
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
