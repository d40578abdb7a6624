"""``dissect --json`` lines come from one encoder made once (cli.common.json_line_encoder); its
text must be the standard library's ``json.dumps(obj, separators=(", ", ": "))`` for every JSON
tree, byte for byte."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from netsec_layers.cli.common import json_line_encoder

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(1 << 70), max_value=1 << 70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
_TREES = st.recursive(
    _SCALARS,
    lambda kids: (
        st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=8), kids, max_size=5)
    ),
    max_leaves=30,
)


@given(_TREES)
@settings(max_examples=300, deadline=None)
def test_equals_the_standard_library(obj: Any) -> None:
    assert json_line_encoder()(obj) == json.dumps(obj, separators=(", ", ": "))


def test_one_encoder_for_many_objects_and_what_json_refuses() -> None:
    encode = json_line_encoder()
    objs = [{"a": 1, "é": ["x", None, True, 2.5]}, [], {}, "\u2028", {"k": {"n": [1, [2, [3]]]}}]
    assert [encode(o) for o in objs] == [json.dumps(o, separators=(", ", ": ")) for o in objs]
    for bad in (b"bytes", {1j: 2}, {"x": object()}):
        try:
            json.dumps(bad)
        except TypeError:
            pass
        else:  # pragma: no cover
            raise AssertionError(bad)
        try:
            encode(bad)
        except TypeError:
            continue
        raise AssertionError(f"{bad!r} was encoded")


# -- the direct lines of cli/json_lines.py (ESP/AH without error, plain TLS records) -----------

import pytest  # noqa: E402

from netsec_layers.cli import json_lines  # noqa: E402
from netsec_layers.cli.main import main  # noqa: E402
from netsec_layers.session.ipsec_tracker import IPsecInfo  # noqa: E402
from netsec_layers.session.tls import TLSRecordInfo  # noqa: E402

_REPO = __import__("pathlib").Path(__file__).resolve().parents[2]
_CAPTURES = sorted(p for p in (_REPO / "pcaps").rglob("*") if p.suffix in (".pcap", ".pcapng"))


def _key_options(cap: Any) -> list[str]:
    opts: list[str] = []
    for suffix, option in ((".keys", "--keylog"), (".esp_sa", "--esp-sa"),
                           (".xfrm_state", "--esp-sa")):  # fmt: skip
        if cap.with_suffix(suffix).exists():
            opts += [option, str(cap.with_suffix(suffix))]
    return opts


def _dissect(cap: Any, capsys: pytest.CaptureFixture[str]) -> list[str]:
    main(["dissect", str(cap), "--json", "-q", *_key_options(cap)])
    return capsys.readouterr().out.splitlines()


def test_direct_lines_equal_the_encoder_on_every_sample(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every unit of every capture in pcaps/ (with its keys), once through the direct lines and
    once through ``to_json()`` + the encoder: the same text.  The direct path must have been
    taken for decrypted and undecrypted ESP and TLS, or this test would prove nothing."""
    taken: dict[str, int] = {}

    def counting(kind: str, f: Any) -> Any:
        def g(u: Any) -> str | None:
            text = f(u)
            if text is not None:
                key = f"{kind}-{'decrypted' if u.decrypted else 'plain'}"
                taken[key] = taken.get(key, 0) + 1
            return text

        return g

    direct = {
        IPsecInfo: counting("ipsec", json_lines._ipsec),
        TLSRecordInfo: counting("tls", json_lines._tls),
    }
    assert len(_CAPTURES) > 40
    for cap in _CAPTURES:
        monkeypatch.setattr(json_lines, "_DIRECT", direct)
        fast = _dissect(cap, capsys)
        monkeypatch.setattr(json_lines, "_DIRECT", {})
        slow = _dissect(cap, capsys)
        assert fast == slow, cap.name
        for a in slow:  # and each line is the standard library's text of its object
            assert a == json.dumps(json.loads(a), separators=(", ", ": "))
    assert min(taken.get(k, 0) for k in
               ("ipsec-plain", "ipsec-decrypted", "tls-plain", "tls-decrypted")) > 10, taken  # fmt: skip


_OPT_BYTES = st.none() | st.binary(max_size=40)
_OPT_INT = st.none() | st.integers(min_value=0, max_value=255)


@given(
    st.sampled_from(["esp", "ah"]),
    st.integers(1, 1 << 32), st.integers(-1, (1 << 32) - 1), st.integers(-1, (1 << 64) - 1),
    st.booleans(), _OPT_BYTES, _OPT_INT, _OPT_INT, _OPT_BYTES, _OPT_BYTES,
    st.none() | st.text(max_size=30),
)  # fmt: skip
@settings(max_examples=300, deadline=None)
def test_ipsec_line(
    proto: str, frame: int, spi: int, seq: int, dec: bool, iv: bytes | None,
    pad: int | None, nh: int | None, icv: bytes | None, inner: bytes | None, error: str | None,
) -> None:  # fmt: skip
    u = IPsecInfo(proto, frame, spi, seq, "10.0.0.1", "10.0.0.2", False, dec, iv, pad, nh, icv,
                  inner, error)  # fmt: skip
    assert json_lines.unit_line_writer()(u) == json_line_encoder()(u.to_json())


@given(
    st.integers(1, 1 << 32), st.integers(0, 1 << 20), st.booleans(), st.integers(0, 255),
    st.integers(0, 0xFFFF), st.integers(0, 1 << 14), st.booleans(), _OPT_INT,
    _OPT_BYTES, st.lists(st.integers(0, 255), max_size=4),
    st.none() | st.tuples(st.integers(0, 255), st.integers(0, 255)),
    st.none() | st.text(max_size=30),
)  # fmt: skip
@settings(max_examples=300, deadline=None)
def test_tls_line(
    frame: int, stream: int, client: bool, ct: int, version: int, length: int, dec: bool,
    ict: int | None, pt: bytes | None, hts: list[int], alert: tuple[int, int] | None,
    error: str | None,
) -> None:  # fmt: skip
    u = TLSRecordInfo(frame, 0, stream, client, ct, version, length, b"", dec, ict, pt, hts,
                      alert, error)  # fmt: skip
    assert json_lines.unit_line_writer()(u) == json_line_encoder()(u.to_json())
