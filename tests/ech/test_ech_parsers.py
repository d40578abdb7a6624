"""ECH parsers and the ClientHelloInner rules of RFC 9849 §5.1, Hypothesis garbage, key log.

Inputs are built by the test-side builder (``ech_builder``, pyhpke) from the RFC's structures;
each §5.1 rule is broken once and must give a ParseError, never a wrong inner hello.
"""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netsec_layers.crypto import ech
from netsec_layers.errors import NetsecError, ParseError
from netsec_layers.keys.keylog import parse_keylog
from netsec_layers.layers.tls import (
    TLSECHConfig,
    TLSECHConfigList,
    TLSExtECHConfirmation,
    TLSExtECHOuterExtensions,
    TLSExtECHRetryConfigs,
    TLSUndecoded,
    dissect_ech_config,
    dissect_ech_config_list,
    dissect_handshake,
)

pyhpke = pytest.importorskip("pyhpke")
from tests.ech import ech_builder as B  # noqa: E402

KEYS = B.new_ech_keys(extra_suites=[(1, 3)])


def _inner_hello(exts: list[tuple[int, bytes]]) -> B.Hello:
    return B.Hello(0x0303, os.urandom(32), os.urandom(32), b"\x13\x01\x13\x02", b"\x00", exts)


INNER_EXTS = [
    (B.ECH, b"\x01"),
    (0, B.vec(b"\x00" + B.vec(b"secret.example", 2), 2)),
    (10, B.vec(b"\x00\x1d\x00\x17", 2)),
    (13, B.vec(b"\x04\x03\x08\x04", 2)),
    (43, B.vec(b"\x03\x04", 1)),
]


def _outer_for(encoded: bytes) -> bytes:
    """A ClientHelloOuter whose extensions the encoded inner hellos below refer to."""
    h = _inner_hello(
        [(0, b"\x00"), (10, B.vec(b"\x00\x1d\x00\x17", 2)), (13, b"\x00\x00"), (43, b"\x02")]
    )
    return B.handshake(B.client_hello_body(h, h.extensions + [(B.ECH, b"\x00" * 12 + encoded)]))


def test_config_parser_and_layers_agree_with_the_builder() -> None:
    cfg = ech.parse_ech_config(KEYS.config)
    assert (cfg.config_id, cfg.kem_id, cfg.public_name) == (0x42, 0x20, b"public.example")
    assert cfg.cipher_suites == ((1, 1), (1, 3)) and cfg.raw == KEYS.config
    lst = B.vec(KEYS.config + KEYS.config, 2)
    assert [c.config_id for c in ech.parse_ech_config_list(lst)] == [0x42, 0x42]
    # a config of an unknown version is skipped (§4), not an error
    other = struct.pack("!HH", 0xFE0C, 3) + b"abc"
    assert len(ech.parse_ech_config_list(B.vec(other + KEYS.config, 2))) == 1
    p = dissect_ech_config_list(B.vec(other + KEYS.config, 2))
    assert isinstance(p, TLSECHConfigList) and len(p.configs) == 2
    assert p.configs[0].contents == b"abc" and p.configs[1].public_name == b"public.example"
    c = dissect_ech_config(KEYS.config)
    assert isinstance(c, TLSECHConfig)
    assert [(s.kdf_id, s.aead_id) for s in c.cipher_suites] == [(1, 1), (1, 3)]
    # built from fields, a config is byte-exact with the builder's
    built = TLSECHConfig(
        config_id=0x42,
        kem_id=0x20,
        public_key=cfg.public_key,
        cipher_suites=[c.cipher_suites[0].copy(), c.cipher_suites[1].copy()],
        public_name=b"public.example",
    )
    assert bytes(built) == KEYS.config


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        KEYS.config[:-1],
        KEYS.config + b"\x00",
        struct.pack("!HH", 0xFE0D, 0),
        struct.pack("!HH", 0xFE0C, 0),
    ],
)
def test_bad_configs_are_parse_errors_and_undecoded_layers(bad: bytes) -> None:
    with pytest.raises(ParseError):
        ech.parse_ech_config(bad)
    p = dissect_ech_config(bad)
    assert bytes(p) == bad
    if bad[:2] == b"\xfe\x0d" or len(bad) < 4:
        assert isinstance(p, TLSUndecoded) and p.reason


def test_ee_retry_configs_hrr_confirmation_and_outer_extensions_layers() -> None:
    ee = B.handshake(B.vec(B.ext(B.ECH, B.vec(KEYS.config, 2)), 2), mtype=8)
    p = dissect_handshake(ee)
    assert bytes(p) == ee
    ext = p.extensions[0]
    assert isinstance(ext, TLSExtECHRetryConfigs) and ext.retry_configs[0].config_id == 0x42
    body = B.ext(10, B.vec(b"\x00\x1d", 2)) + B.ext(0xFD00, B.vec(b"\x00\x0a\x00\x0d", 1))
    from netsec_layers.layers.tls.extensions import parse_extensions

    exts = parse_extensions(None, body)
    assert isinstance(exts[1], TLSExtECHOuterExtensions) and exts[1].outer_extensions == [10, 13]
    assert bytes(TLSExtECHOuterExtensions(outer_extensions=[10, 13])) == body[8:]

    class HRR:  # parse_extensions reads ext_context from the parent
        ext_context = "hrr"

    conf = parse_extensions(HRR(), B.ext(B.ECH, b"12345678"))  # type: ignore[arg-type]
    assert isinstance(conf[0], TLSExtECHConfirmation) and conf[0].confirmation == b"12345678"


def _encoded(exts: list[tuple[int, bytes]], *, sid: bytes = b"", pad: bytes = b"") -> bytes:
    h = _inner_hello([])
    h.session_id = sid
    return B.client_hello_body(h, exts) + pad


def test_decoder_expands_outer_extensions_and_copies_the_session_id() -> None:
    enc = _encoded([(B.ECH, b"\x01"), (0xFD00, B.vec(b"\x00\x0a\x00\x2b", 1))], pad=bytes(9))
    outer = _outer_for(enc)
    inner = B.parse_client_hello(ech.decode_client_hello_inner(enc, client_hello_outer=outer))
    o = B.parse_client_hello(outer)
    assert inner.session_id == o.session_id
    assert inner.extensions == [
        (B.ECH, b"\x01"),
        (10, B.vec(b"\x00\x1d\x00\x17", 2)),
        (43, b"\x02"),
    ]


@pytest.mark.parametrize(
    ("exts", "kw", "why"),
    [
        ([(B.ECH, b"\x01"), (0xFD00, B.vec(b"\xfe\x0d", 1))], {}, "references encrypted_client"),
        (
            [(B.ECH, b"\x01"), (0xFD00, B.vec(b"\x00\x2b\x00\x0a", 1))],
            {},
            "not in ClientHelloOuter",
        ),
        ([(B.ECH, b"\x01"), (0xFD00, B.vec(b"\x00\x33", 1))], {}, "not in ClientHelloOuter"),
        ([(B.ECH, b"\x01"), (0xFD00, B.vec(b"", 1))], {}, "bad OuterExtensions"),
        ([(0, b"\x00")], {}, "lacks encrypted_client_hello"),
        ([(B.ECH, b"\x01")], {"sid": b"\x01"}, "non-empty legacy_session_id"),
        ([(B.ECH, b"\x01")], {"pad": b"\x00\x01"}, "padding"),
        ([(B.ECH, b"\x01"), (10, b"\x00\x00"), (0xFD00, B.vec(b"\x00\x0a", 1))], {}, "duplicated"),
        ([(B.ECH, b"\x00")], {}, "encrypted_client_hello"),
    ],
)
def test_decoder_refuses_each_broken_rule(
    exts: list[tuple[int, bytes]], kw: dict[str, bytes], why: str
) -> None:
    enc = _encoded(exts, **kw)
    with pytest.raises(ParseError, match=why):
        ech.decode_client_hello_inner(enc, client_hello_outer=_outer_for(enc))


def test_second_client_hello_after_hrr_opens_with_the_same_context() -> None:
    """§6.1.5: the second ClientHelloOuter has an empty enc and continues the HPKE context."""
    inner1 = B.handshake(B.client_hello_body(_inner_hello([]), INNER_EXTS))
    inner2 = B.handshake(B.client_hello_body(_inner_hello([]), INNER_EXTS))
    outer1 = B.build_outer(inner1, KEYS)
    outer2 = B.build_outer(inner2, KEYS, sender=outer1.sender)
    encoded1, ctx = ech.open_client_hello(
        outer1.message, shared_secret=outer1.shared_secret, ech_config=KEYS.config
    )
    assert encoded1 == outer1.encoded_inner and ctx.seq == 1
    encoded2 = ech.open_second_client_hello(outer2.message, context=ctx)
    assert ech.decode_client_hello_inner(encoded2, client_hello_outer=outer2.message) == inner2
    with pytest.raises(NetsecError):  # the first hello (non-empty enc) is refused here
        ech.open_second_client_hello(outer1.message, context=ctx)
    with pytest.raises(NetsecError):  # and the second does not open as a first one
        ech.open_client_hello(
            outer2.message, shared_secret=outer1.shared_secret, ech_config=KEYS.config
        )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_garbage_never_raises_anything_but_our_errors(data: bytes) -> None:
    for fn in (ech.parse_ech_config, ech.parse_ech_config_list, ech.parse_ech_client_hello):
        try:
            fn(data)
        except NetsecError:
            pass
    for dissect in (dissect_ech_config, dissect_ech_config_list):
        assert bytes(dissect(data)) == data
    msg = b"\x01" + len(data).to_bytes(3, "big") + data
    for call in (
        lambda: ech.client_hello_outer_aad(msg),
        lambda: ech.decode_client_hello_inner(data, client_hello_outer=msg),
        lambda: ech.open_client_hello(msg, shared_secret=bytes(32), ech_config=KEYS.config),
    ):
        try:
            call()
        except NetsecError:
            pass


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_outer_hello_never_gives_an_inner_hello(data: st.DataObject) -> None:
    """Any byte flipped in a ClientHelloOuter (AAD or payload) fails authentication or parsing:
    the decoder never returns an inner hello for bytes the client did not send."""
    inner = B.handshake(B.client_hello_body(_inner_hello([]), INNER_EXTS))
    outer = B.build_outer(inner, KEYS)
    i = data.draw(st.integers(4, len(outer.message) - 1))
    bit = data.draw(st.integers(0, 7))
    msg = bytearray(outer.message)
    msg[i] ^= 1 << bit
    with pytest.raises(NetsecError):
        encoded, _ = ech.open_client_hello(
            bytes(msg), shared_secret=outer.shared_secret, ech_config=KEYS.config
        )
        ech.decode_client_hello_inner(encoded, client_hello_outer=bytes(msg))


def test_keylog_ech_labels_are_usable_and_checked() -> None:
    r = os.urandom(32)
    text = (
        f"ECH_SECRET {r.hex()} {bytes(32).hex()}\n"
        f"ECH_CONFIG {r.hex()} {KEYS.config.hex()}\n"
        f"ECH_SECRET {os.urandom(32).hex()} {bytes(16).hex()}\n"  # no KEM makes 16 bytes
    )
    kl = parse_keylog(text)
    assert kl.secrets_for(r) == {"ECH_SECRET": bytes(32), "ECH_CONFIG": KEYS.config}
    assert kl.label_counts() == {"ECH_SECRET": 1, "ECH_CONFIG": 1}
    assert [e.line for e in kl.errors] == [3]
