"""Hypothesis at the unit level for every parser that takes outside bytes.

Invariant (as in tools/fuzz.py): parse the input or raise the project's own error
(``NetsecError``), never anything else; the Scapy TLS dissector never raises and rebuilds its
input byte-exact.  Strategies are structure-aware (valid headers with random fields) so that the
examples get past the first length check.
"""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.robustness._util import check_target
from tools.fuzz import join_parts

FAST = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

# -- TLS ---------------------------------------------------------------------------------------
content_type = st.sampled_from([20, 21, 22, 23, 24, 25, 0, 255])
version = st.sampled_from([0x0300, 0x0301, 0x0302, 0x0303, 0x0304, 0x0200, 0xFEFD, 0x0305])
hs_type = st.sampled_from([0, 1, 2, 4, 8, 11, 12, 13, 14, 15, 16, 20, 24, 254, 255])


@st.composite
def handshake(draw: st.DrawFn) -> bytes:
    body = draw(st.binary(max_size=300))
    claimed = draw(st.one_of(st.just(len(body)), st.integers(0, 0xFFFFFF)))
    return bytes([draw(hs_type)]) + claimed.to_bytes(3, "big") + body


@st.composite
def hello(draw: st.DrawFn) -> bytes:
    """ClientHello/ServerHello skeletons with random extension blocks."""
    exts = b"".join(
        struct.pack("!HH", t, len(b)) + b
        for t, b in draw(
            st.lists(
                st.tuples(
                    st.sampled_from(
                        [
                            0,
                            5,
                            10,
                            11,
                            13,
                            16,
                            21,
                            22,
                            23,
                            35,
                            41,
                            42,
                            43,
                            45,
                            51,
                            0xFF01,
                            0xFE0D,
                            0x1234,
                        ]
                    ),
                    st.binary(max_size=40),
                ),
                max_size=6,
            )
        )
    )
    sid = draw(st.binary(max_size=33))
    suites = draw(st.binary(max_size=20))
    body = (
        struct.pack("!H", draw(version))
        + draw(st.binary(min_size=32, max_size=32))
        + bytes([len(sid) % 256])
        + sid
        + struct.pack("!H", len(suites))
        + suites
        + b"\x01\x00"
        + struct.pack("!H", draw(st.sampled_from([len(exts), len(exts) + 1, 0xFFFF])))
        + exts
    )
    mtype = draw(st.sampled_from([1, 2]))
    return bytes([mtype]) + len(body).to_bytes(3, "big") + body


@st.composite
def records(draw: st.DrawFn) -> bytes:
    out = b""
    for _ in range(draw(st.integers(1, 4))):
        frag = draw(st.one_of(handshake(), hello(), st.binary(max_size=200)))
        length = draw(st.one_of(st.just(len(frag)), st.integers(0, 0xFFFF)))
        out += bytes([draw(content_type)]) + struct.pack("!HH", draw(version), length) + frag
    return out


@FAST
@given(records())
def test_dissect_tls(data: bytes) -> None:
    check_target("tls", data)


@FAST
@given(st.integers(0, 255), st.one_of(records(), handshake(), hello()))
def test_dissect_tls_with_context(ctx: int, data: bytes) -> None:
    check_target("tls_ctx", bytes([ctx]) + data)


@FAST
@given(
    st.lists(
        st.tuples(st.integers(0, 255), st.one_of(records(), st.binary(max_size=64))), max_size=8
    )
)
def test_tracker_streams(parts: list[tuple[int, bytes]]) -> None:
    check_target("tracker", join_parts(parts))


# -- TCP ---------------------------------------------------------------------------------------
@st.composite
def tcp_segment(draw: st.DrawFn) -> bytes:
    off = draw(st.sampled_from([5, 5, 6, 15, 0, 4]))
    flags = draw(st.sampled_from([0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x14, 0xFF, 0x03]))
    hdr = struct.pack(
        "!HHIIBBHHH",
        draw(st.sampled_from([40000, 443, 40001])),
        draw(st.sampled_from([443, 40000])),
        draw(st.sampled_from([0, 1, 1000, 1001, 0xFFFFFFFF, 0xFFFFFFF0])) + draw(st.integers(0, 40))
        & 0xFFFFFFFF,
        draw(st.integers(0, 0xFFFFFFFF)),
        off << 4,
        flags,
        65535,
        0,
        0,
    )
    opts = bytes(max(0, off * 4 - 20))
    prefix = draw(st.sampled_from([b"", b"\x16\x03\x01\x00\x30", b"\x17\x03\x03\x00\x10"]))
    return hdr + opts + prefix + draw(st.binary(max_size=60))


@FAST
@given(st.lists(st.tuples(st.integers(0, 7), tcp_segment()), max_size=12))
def test_tcp_reassembly(parts: list[tuple[int, bytes]]) -> None:
    check_target("tcp", join_parts(parts))


# -- ESP / AH / NAT-T ---------------------------------------------------------------------------
@st.composite
def ip_packet(draw: st.DrawFn) -> bytes:
    proto = draw(st.sampled_from([50, 51, 17, 6, 4, 41]))
    spi = draw(st.sampled_from([0x1001, 0x1002, 0x1003, 0x2001, 0, 0xFFFFFFFF]))
    body = struct.pack("!II", spi, draw(st.integers(0, 0xFFFFFFFF))) + draw(st.binary(max_size=120))
    if proto == 17:
        body = (
            struct.pack("!HHHH", 4500, 4500, len(body) + 8, 0)
            + draw(st.sampled_from([b"", b"\xff", b"\0\0\0\0"]))
            + body
        )
    if proto == 51:
        body = bytes([draw(st.integers(0, 255)), draw(st.integers(0, 255))]) + b"\0\0" + body
    if draw(st.booleans()):
        hdr = struct.pack(
            "!BBHHHBBH4s4s",
            draw(st.sampled_from([0x45, 0x46, 0x4F, 0x44])),
            0,
            draw(st.one_of(st.just(20 + len(body)), st.integers(0, 0xFFFF))),
            0,
            draw(st.sampled_from([0, 0x4000, 0x2000, 0x2001, 0x0001])),
            64,
            proto,
            0,
            bytes([10, 0, 0, 1]),
            bytes([10, 0, 0, 2]),
        )
    else:
        hdr = (
            struct.pack("!IHBB", 6 << 28, len(body), proto, 64)
            + bytes(15)
            + b"\1"
            + bytes(15)
            + b"\2"
        )
    return hdr + body


@FAST
@given(st.lists(st.tuples(st.integers(0, 1), ip_packet()), max_size=6))
def test_esp_ah_natt(parts: list[tuple[int, bytes]]) -> None:
    check_target("esp", join_parts(parts))


# -- pcap / pcapng ------------------------------------------------------------------------------
@st.composite
def pcap_file(draw: st.DrawFn) -> bytes:
    magic = draw(st.sampled_from([0xA1B2C3D4, 0xA1B23C4D]))
    e = draw(st.sampled_from(["<", ">"]))
    out = struct.pack(
        e + "IHHiIII",
        magic,
        2,
        4,
        0,
        0,
        draw(st.integers(0, 0xFFFFFFFF)),
        draw(st.sampled_from([1, 101, 113, 276, 0, 108, 228, 0xFFFF])),
    )
    for _ in range(draw(st.integers(0, 4))):
        data = draw(st.binary(max_size=100))
        cap = draw(st.one_of(st.just(len(data)), st.integers(0, 0xFFFFFFFF)))
        out += (
            struct.pack(
                e + "IIII",
                1,
                draw(st.integers(0, 0xFFFFFFFF)),
                cap,
                draw(st.integers(0, 0xFFFFFFFF)),
            )
            + data
        )
    return out


def _block(btype: int, body: bytes, total: int | None = None) -> bytes:
    pad = (-len(body)) % 4
    n = 12 + len(body) + pad if total is None else total
    return struct.pack("<II", btype, n) + body + bytes(pad) + struct.pack("<I", n)


@st.composite
def pcapng_file(draw: st.DrawFn) -> bytes:
    out = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["idb", "epb", "spb", "dsb", "raw"]))
        if kind == "idb":
            opts = draw(
                st.sampled_from(
                    [
                        b"",
                        struct.pack("<HHB3x", 9, 1, 0x89),
                        struct.pack("<HH8s", 14, 8, b"\xff" * 8),
                    ]
                )
            )
            body = struct.pack("<HHI", draw(st.sampled_from([1, 101, 0xFFFF])), 0, 0) + opts
        elif kind == "epb":
            data = draw(st.binary(max_size=80))
            body = (
                struct.pack(
                    "<IIIII",
                    draw(st.integers(0, 3)),
                    0,
                    0,
                    draw(st.one_of(st.just(len(data)), st.integers(0, 0xFFFFFFFF))),
                    len(data),
                )
                + data
            )
        elif kind == "spb":
            body = struct.pack("<I", draw(st.integers(0, 0xFFFFFFFF))) + draw(
                st.binary(max_size=40)
            )
        elif kind == "dsb":
            data = draw(
                st.one_of(
                    st.binary(max_size=80),
                    st.just(b"CLIENT_RANDOM " + b"00" * 32 + b" " + b"11" * 48 + b"\n"),
                )
            )
            body = struct.pack(
                "<II",
                draw(st.sampled_from([0x544C534B, 0x45535053, 7])),
                draw(st.one_of(st.just(len(data)), st.integers(0, 0xFFFFFFFF))),
            )
            body += data
        else:
            out += draw(st.binary(max_size=40))
            continue
        total = draw(st.one_of(st.none(), st.integers(0, 0xFFFFFFFF)))
        out += _block({"idb": 1, "epb": 6, "spb": 3, "dsb": 10}[kind], body, total)
    return out


@FAST
@given(st.one_of(pcap_file(), pcapng_file(), st.binary(max_size=64)))
def test_capture_reader(data: bytes) -> None:
    check_target("pcap", data)


# -- key files ----------------------------------------------------------------------------------
hexs = st.binary(max_size=50).map(bytes.hex)
label = st.sampled_from(
    [
        "CLIENT_RANDOM",
        "RSA",
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_TRAFFIC_SECRET_0",
        "EXPORTER_SECRET",
        "EARLY_EXPORTER_SECRET",
        "client_random",
        "#",
        "",
        "RSA Session-ID:",
    ]
)


@FAST
@given(
    st.lists(
        st.one_of(
            st.builds(
                lambda a, b, c, sep: f"{a}{sep}{b}{sep}{c}",
                label,
                hexs,
                hexs,
                st.sampled_from([" ", "  ", "\t", ""]),
            ),
            st.text(max_size=60),
        ),
        max_size=10,
    ),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_keylog(lines: list[str], nl: str) -> None:
    check_target("keylog", nl.join(lines).encode("utf-8", "surrogatepass"))


field_text = st.one_of(
    st.sampled_from(
        [
            '"IPv4"',
            '"IPv6"',
            '"*"',
            '"10.0.0.1"',
            '"0x00001001"',
            '"*"',
            '"AES-GCM with 16 octet ICV [RFC4106]"',
            '"AES-CBC [RFC3602]"',
            '"NULL"',
            '"HMAC-SHA-256-128 [RFC4868]"',
            '"0x0011"',
            '""',
            '"0x"',
            '"0xzz"',
            '"ANY 64 bit authentication [no checking]"',
        ]
    ),
    st.text(max_size=12),
)


@FAST
@given(st.lists(st.lists(field_text, min_size=0, max_size=11).map(",".join), max_size=5))
def test_esp_sa_file(lines: list[str]) -> None:
    check_target("safile", "\n".join(lines).encode("utf-8", "surrogatepass"))


xfrm_tok = st.sampled_from(
    [
        "src",
        "dst",
        "10.0.0.1",
        "::1",
        "proto",
        "esp",
        "ah",
        "spi",
        "0x1001",
        "reqid",
        "1",
        "mode",
        "tunnel",
        "transport",
        "aead",
        "rfc4106(gcm(aes))",
        "0x" + "11" * 20,
        "128",
        "enc",
        "cbc(aes)",
        "auth-trunc",
        "hmac(sha256)",
        "auth",
        "encap",
        "espinudp",
        "4500",
        "replay-window",
        "flag",
        "esn",
        "anti-replay",
        "context",
        "(32 bits)",
        "sel",
        "ip",
        "xfrm",
        "state",
        "add",
        "\n",
        "\n\t",
        "-1",
        "0xffffffffff",
    ]
)


@FAST
@given(st.lists(xfrm_tok, max_size=40))
def test_xfrm_state_file(toks: list[str]) -> None:
    check_target("safile", " ".join(toks).encode())


json_val = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**40), 2**40),
        st.text(max_size=10),
        st.sampled_from(["AES-GCM-16", "esp", "ah", "tunnel", "*", "00" * 20]),
    ),
    lambda ch: st.one_of(
        st.lists(ch, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "spi",
                    "encryption",
                    "enc_key",
                    "integrity",
                    "auth_key",
                    "src",
                    "dst",
                    "protocol",
                    "mode",
                    "esn",
                    "replay_window",
                    "udp_encap",
                    "sas",
                    "x",
                ]
            ),
            ch,
            max_size=6,
        ),
    ),
    max_leaves=12,
)


@FAST
@given(json_val)
def test_project_sa_file(value: object) -> None:
    import json

    check_target("safile", json.dumps(value).encode())


# -- CLI ----------------------------------------------------------------------------------------
@settings(
    max_examples=12, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.integers(0, 0x7F), st.just(b"")),
            st.tuples(st.just(0x80), st.binary(max_size=12)),
        ),
        max_size=7,
    )
)
def test_cli_argv(parts: list[tuple[int, bytes]]) -> None:
    check_target("cli", join_parts(parts))
