"""SSH key log parsing: every accepted form, bad lines reported by number without losing the
good ones, and random text never raising (data in tests/vectors/ssh/kdf_and_groups.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsec_layers.errors import KeyFileError
from netsec_layers.keys.ssh_keylog import (
    PRIVATE_KEY,
    SHARED_SECRET,
    format_ssh_keylog_line,
    load_ssh_keylog,
    parse_ssh_keylog,
)

VECTORS = json.loads((Path(__file__).parents[1] / "vectors/ssh/kdf_and_groups.json").read_text())


@pytest.mark.parametrize(("line", "cookie", "kind", "secret"), VECTORS["keylog_good"])
def test_good_lines(line: str, cookie: str, kind: str, secret: str) -> None:
    log = parse_ssh_keylog(line + "\r\n")
    assert not log.errors
    assert log.lookup(bytes.fromhex(cookie)) == [(kind, bytes.fromhex(secret))]


@pytest.mark.parametrize("line", VECTORS["keylog_bad"])
def test_bad_lines_are_reported_and_skipped(line: str) -> None:
    good = "00" * 16 + " SHARED_SECRET 01"
    log = parse_ssh_keylog(f"# comment\n\n{line}\n{good}\n")
    assert [e.line for e in log.errors] == [3]
    assert log.lookup(bytes(16)) == [(SHARED_SECRET, b"\x01")]


def test_either_cookie_and_shared_secrets_first() -> None:
    a, b = bytes(range(16)), bytes(range(16, 32))
    log = parse_ssh_keylog(f"{a.hex()} {'11' * 32}\n{b.hex()} SHARED_SECRET 22\n")
    assert log.lookup(a, b) == [(SHARED_SECRET, b"\x22"), (PRIVATE_KEY, b"\x11" * 32)]
    assert len(log) == 2 and len(log.lines()) == 2


def test_format_round_trip_and_two_field_form() -> None:
    c = bytes(range(16))
    assert parse_ssh_keylog(format_ssh_keylog_line(c, SHARED_SECRET, b"\x05")).lookup(c) == [
        (SHARED_SECRET, b"\x05")
    ]
    assert format_ssh_keylog_line(c, PRIVATE_KEY, b"\x07", two_field=True) == f"{c.hex()} 07"
    with pytest.raises(KeyFileError):
        format_ssh_keylog_line(c, SHARED_SECRET, b"\x07", two_field=True)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError):
        load_ssh_keylog(tmp_path / "absent.keys")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_random_text_never_raises(text: str | bytes) -> None:
    log = parse_ssh_keylog(text)
    assert len(log) >= 0
