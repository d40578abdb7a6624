"""OpenPGP Scapy layers: every length form, build -> dissect -> build byte for byte
(Hypothesis), the pure framing parser agreeing with the layers, and garbage that only ever gives
an undecoded layer (layers) or our own errors (parsers, message analysis)."""

from __future__ import annotations

import functools
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netsec_layers.crypto import openpgp_armor as armor
from netsec_layers.crypto.openpgp_wire import frame_packet, read_packets
from netsec_layers.errors import NetsecError, ParseError
from netsec_layers.layers.openpgp import (
    Framing,
    PGPLiteralData,
    PGPPacket,
    PGPSignature,
    PGPSubpacket,
    PGPUndecoded,
    PGPUserID,
    dissect_packets,
    undecoded_reason,
)
from netsec_layers.session.openpgp import MAX_DECOMPRESSED, open_message
from tests.openpgp.openpgp_util import KEYS, RFC

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize(
    ("header", "body_len"),
    [
        (b"\xcb\x05", 5),  # new, 1 octet
        (b"\xcb\xc0\x00", 192),  # new, 2 octets (RFC 9580 §4.2.3 examples)
        (b"\xcb\xdf\xff", 8383),  # largest 2-octet
        (b"\xcb\xff\x00\x00\x00\x05", 5),  # non-minimal 5-octet, kept as is
        (b"\xac\x05", 5),  # legacy tag 11, 1-octet length
        (b"\xad\x00\x05", 5),  # legacy 2-octet
        (b"\xae\x00\x00\x00\x05", 5),  # legacy 4-octet
    ],
)
def test_length_forms_round_trip(header: bytes, body_len: int) -> None:
    body = (
        b"b\x00\x00\x00\x00\x00" + b"x" * (body_len - 6) if body_len >= 6 else b"b\x00" + b"\0" * 3
    )
    data = header + body[:body_len]
    (p,) = dissect_packets(data + b"")
    assert bytes(p) == data and p.tag == 11 and p.framing.total == body_len
    assert read_packets(data)[0].body == data[len(header) :]


def test_partial_lengths_rfc_example() -> None:
    """100000 octets as 32768 + 32768 + 32768 + 1024 + 672 (RFC 9580 §4.2.1.4 encodings)."""
    body = b"b\x00\x00\x00\x00\x00" + bytes(100000 - 6)
    data = (
        b"\xcb\xef"
        + body[:32768]
        + b"\xef"
        + body[32768:65536]
        + b"\xef"
        + body[65536:98304]
        + b"\xea"
        + body[98304:99328]
        + b"\xc1\xe0"
        + body[99328:]
    )
    (p,) = dissect_packets(data)
    assert p.framing.sizes == (32768, 32768, 32768, 1024, 672) and p.framing.partial
    assert bytes(p) == data
    assert p.payload.data == body[6:]
    assert read_packets(data)[0].body == body


def test_indeterminate_legacy_length() -> None:
    data = b"\xaf" + b"b\x00\x00\x00\x00\x00hello"
    (p,) = dissect_packets(data)
    assert p.framing.indeterminate and bytes(p) == data and p.payload.data == b"hello"


@pytest.mark.parametrize("kind", ["new", "5-octet", "partial", "legacy", "indeterminate"])
def test_build_with_framing_spec(kind: str) -> None:
    p = PGPPacket(framing=Framing.spec(kind, 512)) / PGPLiteralData(data=b"z" * 1300)
    raw = bytes(p)
    (q,) = dissect_packets(raw)
    assert bytes(q) == raw and q.payload.data == b"z" * 1300
    assert q.framing.partial == (kind == "partial")
    assert q.new_format == (kind not in ("legacy", "indeterminate"))
    assert read_packets(raw)[0].body == bytes(PGPLiteralData(data=b"z" * 1300))


def test_edit_then_rebuild_recomputes_lengths() -> None:
    (p,) = dissect_packets(frame_packet(13, b"Alice <a@example.org>", partial=0))
    p.payload.user_id = b"B" * 300
    (q,) = dissect_packets(bytes(p))
    assert q.payload.user_id == b"B" * 300 and q.framing.total == 300


_body = st.binary(max_size=1500)


@SETTINGS
@given(
    uid=_body,
    data=_body,
    name=st.binary(max_size=255),
    form=st.sampled_from(["new", "5-octet", "partial", "legacy"]),
    chunk=st.sampled_from([512, 1024]),
)
def test_hypothesis_round_trip(uid: bytes, data: bytes, name: bytes, form: str, chunk: int) -> None:
    seq = bytes(PGPPacket(framing=Framing.spec(form, chunk)) / PGPUserID(user_id=uid)) + bytes(
        PGPPacket(framing=Framing.spec(form, chunk))
        / PGPLiteralData(format=0x75, filename=name, date=7, data=data)
    )
    pkts = dissect_packets(seq)
    assert [undecoded_reason(p) for p in pkts] == [None, None]
    assert b"".join(bytes(p) for p in pkts) == seq
    assert pkts[0].payload.user_id == uid and pkts[1].payload.data == data
    raw = read_packets(seq)
    assert [r.body for r in raw] == [bytes(p.payload) for p in pkts]


@SETTINGS
@given(subs=st.lists(st.tuples(st.integers(0, 127), st.binary(max_size=300)), max_size=6))
def test_hypothesis_signature_subpackets(subs: list[tuple[int, bytes]]) -> None:
    sig = PGPSignature(
        version=4,
        hashed=[PGPSubpacket(type=t, data=d) for t, d in subs],
        unhashed=[PGPSubpacket(type=16, data=b"\x01" * 8)],
        pk_algo=27,
    )
    raw = bytes(PGPPacket() / sig)
    (p,) = dissect_packets(raw)
    assert bytes(p) == raw
    assert [(s.type, s.data) for s in p.payload.hashed] == [(t, d) for t, d in subs]


@functools.lru_cache(maxsize=1)
def _key_blocks() -> list[bytes]:
    out = []
    for f in sorted(KEYS.glob("*.asc")) + sorted(RFC.glob("*.asc")):
        for block in armor.decode(f.read_bytes()):
            out.append(block.data if isinstance(block, armor.ArmorBlock) else block.signature.data)
    return out


@pytest.mark.parametrize("index", range(len(_key_blocks())))
def test_real_blocks_rebuild(index: int) -> None:
    data = _key_blocks()[index]
    pkts = dissect_packets(data)
    assert [undecoded_reason(p) for p in pkts] == [None] * len(pkts)
    assert b"".join(bytes(p) for p in pkts) == data


@SETTINGS
@given(data=st.binary(max_size=400), cut=st.integers(0, 400), flip=st.integers(0, 4000))
def test_garbage_never_raises(data: bytes, cut: int, flip: int) -> None:
    blocks = _key_blocks()
    base = bytearray(blocks[flip % len(blocks)])
    if base:
        base[flip % len(base)] ^= 1 + (flip % 255)
    for sample in (data, bytes(base[: cut + 1]), bytes(base), b"\x80" + data):
        pkts = dissect_packets(sample)
        assert b"".join(bytes(p) for p in pkts) == sample
        try:
            read_packets(sample)
        except NetsecError:
            pass
        out = open_message(sample).to_json()  # never raises (no passphrase: no S2K work)
        assert out["kind"] == "openpgp"


def test_body_octets_not_laid_out_stay_in_the_packet() -> None:
    """Fuzz finding: a body longer than its fields (a signature with octets after its MPI)
    followed by another packet rebuilds exactly; the extra octets are a Raw after the body."""
    sig = bytes(PGPSignature(version=4, pk_algo=1)) + b"\x00\x08\xff" + b"EXTRA"
    seq = frame_packet(2, sig) + frame_packet(13, b"next")
    first, second = dissect_packets(seq)
    assert bytes(first) + bytes(second) == seq
    assert bytes(first.payload.payload) == b"EXTRA" and second.payload.user_id == b"next"


def test_garbage_is_undecoded_with_reason() -> None:
    pkts = dissect_packets(b"\x01\x02\x03")
    assert isinstance(pkts[0], PGPUndecoded) and "not a packet header" in pkts[0].reason
    pkts = dissect_packets(b"\xcb\x50abc")
    assert undecoded_reason(pkts[0]) == "packet length runs past the data"
    with pytest.raises(ParseError):
        read_packets(b"\xcb\x50abc")


def test_zip_bomb_is_bounded() -> None:
    assert MAX_DECOMPRESSED == 256 << 20  # the default
    bomb = zlib.compress(bytes((8 << 20) + 1024), 9)  # 8 MiB of zeros in ~8 KiB
    msg = frame_packet(8, b"\x02" + bomb)
    out = open_message(msg, max_decompressed=8 << 20).to_json()
    assert out["error"] and "larger than" in out["error"] and out["content"] is None
    default = open_message(msg).to_json()["error"]  # under the default bound it inflates,
    assert len(msg) < 16 << 10 and "larger than" not in default  # then zeros are no packets


def test_deep_nesting_is_bounded() -> None:
    inner = frame_packet(11, b"b\x00\x00\x00\x00\x00deep")
    for _ in range(40):
        inner = frame_packet(8, b"\x00" + inner)
    out = open_message(inner).to_json()
    assert out["error"] and "nesting" in out["error"] and out["content"] is None


def test_length_bomb_is_an_error() -> None:
    out = open_message(b"\xcb\xff\x7f\xff\xff\xffb").to_json()
    assert out["error"] and out["content"] is None


@pytest.mark.parametrize(
    "text",
    [
        b"-----BEGIN PGP MESSAGE-----\n\nAAAA\n=AAAA\n-----END PGP MESSAGE-----\n",  # bad CRC
        b"-----BEGIN PGP MESSAGE-----\n\n!!!!\n-----END PGP MESSAGE-----\n",
        b"-----BEGIN PGP MESSAGE-----\n\nAAAA\n",
        b"-----BEGIN PGP MESSAGE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n",
        b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\ntext only\n",
    ],
)
def test_bad_armor(text: bytes) -> None:
    with pytest.raises(ParseError):
        armor.decode(text)
    assert open_message(text).to_json()["error"].startswith("malformed")


def test_armor_crc24_rfc() -> None:
    """The CRC-24 of RFC 9580 §6.1 (init 0xB704CE) over a known block, and a full round trip."""
    assert armor.crc24(b"") == 0xB704CE
    data = bytes(range(256)) * 3
    for crc in (True, False):
        (block,) = armor.decode(armor.encode(data, "MESSAGE", [("Comment", "a: b")], crc=crc))
        assert isinstance(block, armor.ArmorBlock)
        assert block.data == data and block.headers == [("Comment", "a: b")]
        assert (block.crc is not None) == crc


def test_cleartext_dash_escaping() -> None:
    text = b"- starts with dash\nFrom me\nplain  \n"
    signed = armor.encode_clearsigned(text, b"\xc2\x00", ["SHA256"])
    assert b"\n- - starts with dash\n- From me\n" in signed
    (cs,) = armor.decode(signed)
    assert isinstance(cs, armor.ClearSigned) and cs.text == text and cs.hash_headers == ["SHA256"]
    assert armor.canonical_cleartext(cs.text) == b"- starts with dash\r\nFrom me\r\nplain\r\n"
