"""JA3/JA3S against tshark 4.0 on every TLS sample; JA4 against the examples of FoxIO's JA4.md.

tshark's ``tls.handshake.ja3``/``ja3_full``/``ja3s``/``ja3s_full`` are Wireshark's own
implementation; the JA4 vectors (tests/vectors/tls/ja4_spec.json) are the text's examples.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netsec_layers.keys.keylog import load_keylog
from netsec_layers.session.engine import CaptureEngine, iter_capture
from netsec_layers.session.tls import TLSRecordInfo
from netsec_layers.session.tls_fingerprint import (
    fingerprint_hello,
    ja4,
    ja4_alpn,
    ja4_cipher_hash,
    ja4_extension_hash,
)
from netsec_layers.session.tls_hello import parse_hello
from netsec_layers.session.tls_keys import TLSKeyMaterial
from tests.tshark_util import tls_prefs, tshark_fields

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "pcaps" / "tls").glob("*.pcap"))
VECTORS = json.loads((ROOT / "tests" / "vectors" / "tls" / "ja4_spec.json").read_text())


def _hexlist(text: str) -> list[int]:
    return [int(x, 16) for x in text.split(",") if x]


@pytest.mark.parametrize("v", VECTORS["cipher_hash"], ids=lambda v: v["hash"])
def test_ja4_cipher_hash(v: dict[str, Any]) -> None:
    assert ja4_cipher_hash(_hexlist(v["ciphers"])) == v["hash"]


@pytest.mark.parametrize("v", VECTORS["extension_hash"], ids=lambda v: v["hash"])
def test_ja4_extension_hash(v: dict[str, Any]) -> None:
    assert ja4_extension_hash(_hexlist(v["extensions"]), _hexlist(v["sigalgs"])) == v["hash"]


@pytest.mark.parametrize("v", VECTORS["alpn"], ids=lambda v: str(v["first"]))
def test_ja4_alpn_characters(v: dict[str, Any]) -> None:
    first = None if v["first"] is None else bytes.fromhex(v["first"])
    assert ja4_alpn(first) == v["chars"]


def _ext_body(etype: int, v: dict[str, Any]) -> bytes:
    if etype == 0x0000:
        name = b"example.com"
        entry = b"\x00" + struct.pack("!H", len(name)) + name
        return struct.pack("!H", len(entry)) + entry
    if etype == 0x0010:
        names = b"".join(bytes([len(p)]) + p.encode() for p in v["alpn"])
        return struct.pack("!H", len(names)) + names
    if etype == 0x000D:
        algs = b"".join(struct.pack("!H", a) for a in _hexlist(v["sigalgs"]))
        return struct.pack("!H", len(algs)) + algs
    if etype == 0x002B:
        vers = b"".join(struct.pack("!H", a) for a in _hexlist(v["supported_versions"]))
        return bytes([len(vers)]) + vers
    return b""


def _client_hello(v: dict[str, Any]) -> bytes:
    """A ClientHello message (RFC 8446 §4.1.2) with the vector's ciphers and extensions."""
    suites = b"".join(struct.pack("!H", c) for c in _hexlist(v["ciphers"]))
    exts = b""
    for e in _hexlist(v["extensions"]):
        body = _ext_body(e, v)
        exts += struct.pack("!HH", e, len(body)) + body
    body = (
        b"\x03\x03"
        + bytes(32)
        + b"\x00"
        + struct.pack("!H", len(suites))
        + suites
        + b"\x01\x00"
        + struct.pack("!H", len(exts))
        + exts
    )
    return b"\x01" + len(body).to_bytes(3, "big") + body


@pytest.mark.parametrize("v", VECTORS["client_hello"], ids=lambda v: v["name"])
def test_ja4_of_the_spec_example_client_hello(v: dict[str, Any]) -> None:
    assert ja4(parse_hello(_client_hello(v))) == v["ja4"]


def test_ja4_of_a_scapy_built_client_hello() -> None:
    """Scapy's own TLS layer builds the hello: SNI, ALPN h2 and two suites, TLS 1.2 only."""
    from scapy.layers.tls.extensions import (
        ProtocolName,
        ServerName,
        TLS_Ext_ALPN,
        TLS_Ext_ServerName,
    )
    from scapy.layers.tls.handshake import TLSClientHello

    ch = TLSClientHello(
        version=0x0303,
        ciphers=[0x1301, 0xC02F],
        ext=[
            TLS_Ext_ServerName(servernames=[ServerName(servername=b"a.example")]),
            TLS_Ext_ALPN(protocols=[ProtocolName(protocol=b"h2")]),
        ],
    )
    # JA4.md: no signature_algorithms; only SNI and ALPN, which part c leaves out.
    expected = "t12d0202h2_" + ja4_cipher_hash([0x1301, 0xC02F]) + "_000000000000"
    assert ja4(parse_hello(bytes(ch))) == expected
    assert ja4_cipher_hash([0x1301, 0xC02F]) == (hashlib.sha256(b"1301,c02f").hexdigest()[:12])


@given(st.binary(max_size=300))
def test_fingerprint_of_any_parsed_hello_is_a_string(data: bytes) -> None:
    from netsec_layers.errors import NetsecError

    msg = b"\x01" + len(data).to_bytes(3, "big") + data
    try:
        hello = parse_hello(msg)
    except NetsecError:
        return
    fp = fingerprint_hello(hello)
    assert fp.ja3 is not None and len(fp.ja3) == 32
    assert fp.ja4 is not None and fp.ja4.count("_") == 2


def _ours(pcap: Path) -> dict[int, list[tuple[str, str]]]:
    keys = TLSKeyMaterial()
    keys.add_keylog(load_keylog(pcap.with_suffix(".keys")))
    engine = CaptureEngine(tls_keys=keys)
    out: dict[int, list[tuple[str, str]]] = {}
    for res in iter_capture(pcap, engine):
        for u in res.units:
            if isinstance(u, TLSRecordInfo) and u.fingerprint is not None:
                j = u.to_json()
                key = ("ja3", "ja3_string") if j["ja3"] else ("ja3s", "ja3s_string")
                out.setdefault(u.frame, []).append((key[0], f"{j[key[0]]}|{j[key[1]]}"))
    return out


@pytest.mark.integration
@pytest.mark.parametrize("pcap", SAMPLES, ids=lambda p: p.stem)
def test_ja3_and_ja3s_equal_tshark(pcap: Path) -> None:
    fields = ["frame.number", "tls.handshake.ja3", "tls.handshake.ja3_full"]
    fields += ["tls.handshake.ja3s", "tls.handshake.ja3s_full"]
    rows = tshark_fields(pcap, fields, options=tls_prefs(ports=[50443]), occurrence="a")
    theirs: dict[int, list[tuple[str, str]]] = {}
    for r in rows:
        for name in ("ja3", "ja3s"):
            hashes = [h for h in r[f"tls.handshake.{name}"].split("|") if h]
            fulls = [h for h in r[f"tls.handshake.{name}_full"].split("|") if h]
            for h, full in zip(hashes, fulls, strict=True):
                theirs.setdefault(int(r["frame.number"]), []).append((name, f"{h}|{full}"))
    ours = _ours(pcap)
    assert ours, "no hello fingerprinted"
    assert ours == theirs
