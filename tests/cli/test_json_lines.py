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
