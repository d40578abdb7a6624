"""ASCII armor (RFC 9580 §6) and the Cleartext Signature Framework (§7), bytes in and out.

Decoding is lenient where implementations differ (CRLF or LF, whitespace after the header line,
a missing CRC-24) and strict where it matters: bad radix-64, a CRC-24 that does not match, or a
missing tail line raise :class:`ParseError`.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from netsec_layers.errors import ParseError

_BEGIN = re.compile(rb"^-----BEGIN PGP ([A-Z0-9 ,/]+)-----[ \t]*$")
_END = re.compile(rb"^-----END PGP ([A-Z0-9 ,/]+)-----[ \t]*$")
_HEADER = re.compile(rb"^([!-9;-~]+): ?(.*)$")

CRC24_INIT = 0xB704CE
CRC24_POLY = 0x1864CFB


def crc24(data: bytes) -> int:
    """The armor checksum (§6.1)."""
    crc = CRC24_INIT
    for octet in data:
        crc ^= octet << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= CRC24_POLY
    return crc & 0xFFFFFF


@dataclass
class ArmorBlock:
    """One armored block: its label (``MESSAGE``, ``SIGNATURE``, ``PUBLIC KEY BLOCK``...)."""

    label: str
    headers: list[tuple[str, str]]
    data: bytes
    crc: int | None = None  # as written (None: absent); checked when present


@dataclass
class ClearSigned:
    """A cleartext-signed message (§7): the text as signed and its signature block."""

    hash_headers: list[str]
    text: bytes  # dash-unescaped, original line endings, without the last line ending
    signature: ArmorBlock
    headers: list[tuple[str, str]] = field(default_factory=list)


def is_armored(data: bytes) -> bool:
    return b"-----BEGIN PGP " in data[:4096]


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def _strip_eol(line: bytes) -> bytes:
    return line.rstrip(b"\r\n")


def _read_block(lines: list[bytes], i: int, label: str) -> tuple[ArmorBlock, int]:
    """Headers, radix-64 body, checksum and tail of the block whose BEGIN line is ``i - 1``."""
    headers: list[tuple[str, str]] = []
    while i < len(lines):
        line = _strip_eol(lines[i])
        if not line.strip():
            i += 1
            break
        m = _HEADER.match(line)
        if not m:
            break  # GnuPG accepts a missing blank line before the data: so do we
        headers.append((m.group(1).decode("ascii"), m.group(2).decode("utf-8", "replace")))
        i += 1
    body: list[bytes] = []
    crc: int | None = None
    while i < len(lines):
        line = _strip_eol(lines[i]).strip()
        i += 1
        m = _END.match(line)
        if m:
            if m.group(1).decode("ascii") != label:
                raise ParseError(f"armor tail {m.group(1)!r} does not match BEGIN {label!r}")
            data = _b64(b"".join(body))
            if crc is not None and crc24(data) != crc:
                raise ParseError(f"armor CRC-24 mismatch: 0x{crc:06x} != 0x{crc24(data):06x}")
            return ArmorBlock(label, headers, data, crc), i
        if line.startswith(b"=") and len(line) == 5:
            raw = _b64(line[1:])
            crc = int.from_bytes(raw, "big")
            continue
        if line:
            body.append(line)
    raise ParseError(f"armor block {label!r} has no END line")


def _b64(text: bytes) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ParseError(f"bad radix-64: {exc}") from None


def decode(data: bytes) -> list[ArmorBlock | ClearSigned]:
    """Every armored block and cleartext-signed message in ``data``, in order."""
    lines = _lines(data)
    out: list[ArmorBlock | ClearSigned] = []
    i = 0
    while i < len(lines):
        m = _BEGIN.match(_strip_eol(lines[i]))
        i += 1
        if not m:
            continue
        label = m.group(1).decode("ascii")
        if label == "SIGNED MESSAGE":
            cs, i = _read_clearsigned(lines, i)
            out.append(cs)
        else:
            block, i = _read_block(lines, i, label)
            out.append(block)
    if not out:
        raise ParseError("no armor header line found")
    return out


def _read_clearsigned(lines: list[bytes], i: int) -> tuple[ClearSigned, int]:
    hashes: list[str] = []
    headers: list[tuple[str, str]] = []
    while i < len(lines):
        line = _strip_eol(lines[i])
        i += 1
        if not line.strip():
            break
        m = _HEADER.match(line)
        if not m:
            raise ParseError("malformed cleartext armor header")
        key, value = m.group(1).decode("ascii"), m.group(2).decode("utf-8", "replace")
        headers.append((key, value))
        if key == "Hash":
            hashes.extend(v.strip() for v in value.split(","))
    text: list[bytes] = []
    while i < len(lines):
        m = _BEGIN.match(_strip_eol(lines[i]))
        if m and m.group(1) == b"SIGNATURE":
            break
        line = lines[i]
        text.append(line[2:] if line.startswith(b"- ") else line)  # §7.2 dash-escaping
        i += 1
    else:
        raise ParseError("cleartext-signed message without a signature block")
    body = b"".join(text)
    # §7.1: the line ending before the signature armor is not part of the text
    if body.endswith(b"\r\n"):
        body = body[:-2]
    elif body.endswith((b"\n", b"\r")):
        body = body[:-1]
    sig, i = _read_block(lines, i + 1, "SIGNATURE")
    return ClearSigned(hashes, body, sig, headers), i


def canonical_cleartext(text: bytes) -> bytes:
    """What a cleartext signature covers (§7.1): trailing blanks removed, CRLF line ends."""
    return b"\r\n".join(line.rstrip(b" \t") for line in re.split(rb"\r\n|\n|\r", text))


def canonical_text(text: bytes) -> bytes:
    """Canonical text for a text-mode (0x01) signature (§5.2.1.2): every line end is CRLF."""
    return re.sub(rb"\r\n|\n|\r", b"\r\n", text)


def encode(
    data: bytes,
    label: str = "MESSAGE",
    headers: list[tuple[str, str]] | None = None,
    *,
    crc: bool = True,
    width: int = 64,
) -> bytes:
    """Armor ``data`` (§6.2); ``crc=False`` omits the optional checksum as RFC 9580 advises."""
    text = base64.b64encode(data)
    out = [f"-----BEGIN PGP {label}-----\n".encode()]
    out += [f"{k}: {v}\n".encode() for k, v in headers or []]
    out.append(b"\n")
    out += [text[i : i + width] + b"\n" for i in range(0, len(text), width)]
    if crc:
        out.append(b"=" + base64.b64encode(crc24(data).to_bytes(3, "big")) + b"\n")
    out.append(f"-----END PGP {label}-----\n".encode())
    return b"".join(out)


def dash_escape(text: bytes) -> bytes:
    """§7.2: lines starting with '-' (and, as GnuPG does, 'From ') get '- ' in front."""
    return b"".join(
        b"- " + line if line.startswith((b"-", b"From ")) else line for line in _lines(text)
    )


def encode_clearsigned(text: bytes, signature: bytes, hashes: list[str] | None = None) -> bytes:
    """A cleartext-signed message whose signed text is exactly ``text``, with ``signature``."""
    head = b"-----BEGIN PGP SIGNED MESSAGE-----\n"
    if hashes:
        head += f"Hash: {','.join(hashes)}\n".encode()
    body = dash_escape(text) + b"\n"  # §7.1: this line ending is not signed
    return head + b"\n" + body + encode(signature, "SIGNATURE")
