"""pcapng blocks built straight from draft-ietf-opsawg-pcapng (test helper)."""

from __future__ import annotations

import struct

from netsec_layers.io.pcap import SECRETS_ESP, SECRETS_TLS


# -- spec-built pcapng blocks (draft-ietf-opsawg-pcapng) --------------------------------------
def block(e: str, btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) & 3)
    n = 12 + len(body)
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def shb(e: str) -> bytes:
    return block(e, 0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def opt(e: str, code: int, value: bytes) -> bytes:
    return struct.pack(e + "HH", code, len(value)) + value + b"\0" * (-len(value) & 3)


def idb(e: str, linktype: int, snaplen: int = 0, opts: bytes = b"") -> bytes:
    if opts:
        opts += opt(e, 0, b"")
    return block(e, 1, struct.pack(e + "HHI", linktype, 0, snaplen) + opts)


def epb(e: str, iid: int, ts: int, data: bytes, orig: int | None = None) -> bytes:
    o = len(data) if orig is None else orig
    return block(
        e, 6, struct.pack(e + "IIIII", iid, ts >> 32, ts & 0xFFFFFFFF, len(data), o) + data
    )


def spb(e: str, data: bytes, orig: int | None = None) -> bytes:
    return block(e, 3, struct.pack(e + "I", len(data) if orig is None else orig) + data)


def pb(e: str, iid: int, ts: int, data: bytes) -> bytes:
    return block(
        e,
        2,
        struct.pack(e + "HHIIII", iid, 0, ts >> 32, ts & 0xFFFFFFFF, len(data), len(data)) + data,
    )


def dsb(e: str, stype: int, data: bytes) -> bytes:
    return block(e, 0x0A, struct.pack(e + "II", stype, len(data)) + data)


def multi_section_file() -> bytes:
    """Two sections, opposite byte orders, several interfaces and timestamp resolutions."""
    le = (
        shb("<")
        + idb("<", 1)  # default 10^-6
        + idb("<", 101, 0, opt("<", 9, b"\x09"))  # 10^-9
        + block("<", 0x0BAD, b"custom block to skip")
        + epb("<", 0, 1_600_000_000_123_456, b"\x01" * 60)
        + epb("<", 1, 1_600_000_000_123_456_789, b"\x45" + b"\0" * 19, orig=1500)
        + dsb("<", SECRETS_TLS, b"CLIENT_RANDOM x y\n")
        + block("<", 5, b"\0" * 16)  # ISB: skipped
    )
    be = (
        shb(">")
        + idb(">", 113, 0, opt(">", 9, b"\x8a") + opt(">", 14, struct.pack(">q", 100)))  # 2^-10 s
        + idb(">", 276, 64)
        + epb(">", 0, 5 * 1024 + 512, b"\x02" * 16)
        + pb(">", 1, 7, b"\x04" * 24)
        + dsb(">", SECRETS_ESP, b"esp")
    )
    third = shb("<") + idb("<", 228, 10) + spb("<", b"\x05" * 10, orig=30)  # §4.4: cut to snaplen
    return le + be + third


def modified_pcap() -> bytes:
    """Kuznetzov "modified pcap": magic 0xA1B2CD34, 24-byte record headers (ifindex, protocol,
    pkt_type, pad after the usual four fields)."""
    out = struct.pack("<IHHiIII", 0xA1B2CD34, 2, 4, 0, 0, 65535, 1)
    for i in range(3):
        data = bytes([i]) * (30 + i)
        out += struct.pack("<IIIIIHBx", 1_600_000_000 + i, 250 * i, len(data), len(data), 1, 8, 0)
        out += data
    return out
