"""Content-Transfer-Encoding decoding and encoding (RFC 2045 section 6).

Decoders are lenient in what they read (as RFC 2045 section 6.8 asks of base64 readers: characters
outside the alphabet are ignored) and never raise: they return the bytes and a list of defects.
"""

from __future__ import annotations

import binascii
import re

__all__ = ["decode_base64", "decode_quoted_printable", "decode_transfer", "encode_base64"]

_B64_KEEP = re.compile(rb"[^A-Za-z0-9+/]")
_HEX = b"0123456789ABCDEFabcdef"


def decode_base64(data: bytes) -> tuple[bytes, list[str]]:
    """RFC 2045 section 6.8: ignore non-alphabet characters; stop at the first ``=`` pad."""
    defects: list[str] = []
    body = data.split(b"=", 1)[0]
    clean = _B64_KEEP.sub(b"", body)
    if _B64_KEEP.search(re.sub(rb"\s", b"", body)):
        defects.append("base64: characters outside the alphabet ignored")
    rem = len(clean) % 4
    if rem == 1:
        defects.append("base64: one stray character at the end dropped")
        clean = clean[:-1]
    elif rem:
        clean += b"=" * (4 - rem)
    try:
        return binascii.a2b_base64(clean), defects
    except binascii.Error:  # pragma: no cover - the input is clean alphabet by now
        return b"", [*defects, "base64: undecodable"]


def decode_quoted_printable(data: bytes) -> tuple[bytes, list[str]]:
    """RFC 2045 section 6.7: ``=XX`` octets, ``=`` at a line end is a soft line break, trailing
    white space on a line is dropped, and hard line breaks (CRLF or a lone LF) become CRLF."""
    out = bytearray()
    defects: list[str] = []
    lines = data.split(b"\n")
    last = len(lines) - 1
    for n, line in enumerate(lines):
        had_cr = line.endswith(b"\r")
        if had_cr:
            line = line[:-1]
        # rule (3): transport-added trailing white space is removed
        line = line.rstrip(b" \t")
        soft = line.endswith(b"=")
        if soft:
            line = line[:-1]
        i, size = 0, len(line)
        while i < size:
            c = line[i]
            if c == 0x3D:  # '='
                pair = line[i + 1 : i + 3]
                if len(pair) == 2 and pair[0] in _HEX and pair[1] in _HEX:
                    out.append(int(pair, 16))
                    i += 3
                    continue
                defects.append("quoted-printable: '=' not followed by two hex digits")
            out.append(c)
            i += 1
        if n < last and not soft:
            out += b"\r\n"
        elif n == last and had_cr and not soft:
            out += b"\r\n"
    return bytes(out), defects


def decode_transfer(encoding: str | None, data: bytes) -> tuple[bytes, list[str]]:
    """Decode ``data`` per the (lowercase) Content-Transfer-Encoding ``encoding``."""
    if encoding == "base64":
        return decode_base64(data)
    if encoding == "quoted-printable":
        return decode_quoted_printable(data)
    if encoding in (None, "7bit", "8bit", "binary"):
        return data, []
    return data, [f"unknown transfer encoding {encoding!r}: body left encoded"]


def encode_base64(data: bytes, *, line: int = 76) -> bytes:
    """Base64 in CRLF-terminated lines of at most ``line`` characters (RFC 2045 section 6.8)."""
    text = binascii.b2a_base64(data, newline=False)
    return b"".join(text[i : i + line] + b"\r\n" for i in range(0, len(text), line))
