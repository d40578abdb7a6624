"""NSS key log parsing (RFC 9850) and writing.

Independent inputs: key logs written by OpenSSL through Python's ssl.keylog_filename (TLS 1.3,
TLS 1.2 and static RSA, which adds an ``RSA`` line), the RFC 9850 syntax rules, and Hypothesis
garbage (parsing never raises and never loses good lines).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsec_layers.errors import KeyFileError, UsageError
from netsec_layers.keys.keylog import (
    KNOWN_LABELS,
    KeyLog,
    format_keylog_line,
    load_keylog,
    parse_keylog,
    write_keylog,
)
from tests.crypto.test_tls_peer import make_cert, run_session

CR = bytes(range(32))
CR2 = bytes(range(1, 33))
MS = bytes(range(48))
S32 = bytes(range(100, 132))


def test_all_labels_and_legacy_forms() -> None:
    text = "\n".join(
        [
            "# a comment",
            "",
            f"CLIENT_RANDOM {CR.hex()} {MS.hex()}",
            f"CLIENT_EARLY_TRAFFIC_SECRET {CR.hex()} {S32.hex()}",
            f"EARLY_EXPORTER_SECRET {CR.hex()} {S32.hex()}",
            f"CLIENT_HANDSHAKE_TRAFFIC_SECRET {CR.hex()} {S32.hex()}",
            f"SERVER_HANDSHAKE_TRAFFIC_SECRET {CR.hex()} {S32.hex()}",
            f"CLIENT_TRAFFIC_SECRET_0 {CR.hex()} {S32.hex()}",
            f"SERVER_TRAFFIC_SECRET_0 {CR.hex()} {S32.hex()}",
            f"EXPORTER_SECRET {CR.hex()} {S32.hex()}",
            f"ECH_SECRET {CR2.hex()} {S32.hex()}",
            f"ECH_CONFIG {CR2.hex()} {os.urandom(70).hex()}",
            f"PMS_CLIENT_RANDOM {CR2.hex()} {MS.hex()}",
            f"RSA 0102030405060708 {MS.hex()}",
            f"RSA Session-ID:{bytes(32).hex()} Master-Key:{MS.hex()}",
        ]
    )
    kl = parse_keylog(text)
    assert kl.errors == []
    assert len(kl) == 13
    secrets = kl.secrets_for(CR)
    assert secrets["CLIENT_RANDOM"] == MS
    assert len(secrets) == 8
    assert set(kl.secrets_for(CR2)) == {"ECH_SECRET", "ECH_CONFIG", "PMS_CLIENT_RANDOM"}
    assert kl.rsa_pre_master(bytes.fromhex("0102030405060708aaaa")) == MS
    assert kl.master_by_session_id(bytes(32)) == MS
    assert kl.secrets_for(bytes(32)) == {}


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_line_ends_bom_and_hex_case(eol: str) -> None:
    text = (
        "\ufeff"
        + eol.join(
            [
                f"CLIENT_RANDOM {CR.hex().upper()} {MS.hex()}",
                "   ",
                f"SERVER_TRAFFIC_SECRET_0 {CR2.hex()} {S32.hex().upper()}",
            ]
        )
        + eol
    )
    for data in (text, text.encode("utf-8")):
        kl = parse_keylog(data)
        assert kl.errors == []
        assert kl.secrets_for(CR) == {"CLIENT_RANDOM": MS}
        assert kl.secrets_for(CR2) == {"SERVER_TRAFFIC_SECRET_0": S32}


def test_bad_lines_are_reported_with_line_numbers_and_skipped() -> None:
    lines = [
        f"CLIENT_RANDOM {CR.hex()} {MS.hex()}",  # 1 ok
        "CLIENT_RANDOM zz",  # 2 field count
        f"CLIENT_RANDOM {CR.hex()[:-2]} {MS.hex()}",  # 3 short random
        f"CLIENT_RANDOM {CR.hex()} {MS.hex()[:-2]}",  # 4 wrong master length
        f"client_random {CR.hex()} {MS.hex()}",  # 5 bad label
        f"CLIENT_RANDOM  {CR.hex()} {MS.hex()}",  # 6 two spaces
        f"CLIENT_RANDOM {CR.hex()} {MS.hex()}x",  # 7 not hex
        "RSA 0102 " + MS.hex(),  # 8 short RSA prefix
        "RSA Session-ID:abc Master-Key:00",  # 9 bad session line
        f"SERVER_TRAFFIC_SECRET_0 {CR2.hex()} {S32.hex()}",  # 10 ok
        "\xff\xfe garbage",  # 11 non-ASCII
        f"FUTURE_LABEL {CR2.hex()} 0011",  # 12 well-formed, not in the registry: named, unused
    ]
    kl = parse_keylog("\r\n".join(lines))
    assert [e.line for e in kl.errors] == [2, 3, 4, 5, 6, 7, 8, 9, 11, 12]
    assert all(e.reason for e in kl.errors)
    assert [e.unknown_label for e in kl.errors if e.unknown_label] == ["FUTURE_LABEL"]
    assert "FUTURE_LABEL" in kl.errors[-1].reason
    assert kl.secrets_for(CR) == {"CLIENT_RANDOM": MS}
    assert kl.secrets_for(CR2) == {"SERVER_TRAFFIC_SECRET_0": S32}
    assert kl.label_counts() == {"CLIENT_RANDOM": 1, "SERVER_TRAFFIC_SECRET_0": 1}
    assert len(kl) == 2


def test_merge_and_duplicates() -> None:
    a = parse_keylog(f"CLIENT_RANDOM {CR.hex()} {MS.hex()}\nbad\n")
    b = parse_keylog(f"CLIENT_RANDOM {CR.hex()} {bytes(48).hex()}\nRSA 0000000000000000 {MS.hex()}")
    a.merge(b)
    assert a.secrets_for(CR)["CLIENT_RANDOM"] == bytes(48)
    assert len(a) == 2 and len(a.errors) == 1


def test_format_and_write_round_trip(tmp_path: Path) -> None:
    line = format_keylog_line("CLIENT_RANDOM", CR, MS)
    assert line == f"CLIENT_RANDOM {CR.hex()} {MS.hex()}"
    with pytest.raises(UsageError):
        format_keylog_line("CLIENT_RANDOM", CR[:31], MS)
    with pytest.raises(UsageError):
        format_keylog_line("bad label", CR, MS)
    path = tmp_path / "keys.log"
    path.write_text("old")
    os.chmod(path, 0o644)
    n = write_keylog(path, [("CLIENT_RANDOM", CR, MS), ("SERVER_TRAFFIC_SECRET_0", CR2, S32)])
    assert n == 2
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    kl = load_keylog(path)
    assert kl.errors == [] and len(kl) == 2
    new = tmp_path / "new.log"
    src = parse_keylog(
        f"RSA 0102030405060708 {MS.hex()}\nRSA Session-ID:abcd Master-Key:{MS.hex()}\n" + line
    )
    write_keylog(new, src)
    assert stat.S_IMODE(os.stat(new).st_mode) == 0o600
    again = load_keylog(new)
    assert sorted(again.lines()) == sorted(src.lines())
    write_keylog(new, [("CLIENT_RANDOM", CR2, MS)], append=True)
    assert len(load_keylog(new)) == 4


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError):
        load_keylog(tmp_path / "missing.log")
    with pytest.raises(KeyFileError):
        load_keylog(tmp_path)  # a directory
    with pytest.raises(KeyFileError):
        write_keylog(tmp_path / "no" / "such" / "dir", [])


@pytest.mark.parametrize(
    "version,ciphers,labels",
    [
        (
            0x0304,
            None,
            {
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                "CLIENT_TRAFFIC_SECRET_0",
                "SERVER_TRAFFIC_SECRET_0",
                "EXPORTER_SECRET",
            },
        ),
        (0x0303, "ECDHE-RSA-AES128-GCM-SHA256", {"CLIENT_RANDOM"}),
        (0x0303, "AES128-GCM-SHA256", {"CLIENT_RANDOM"}),
    ],
    ids=["tls13", "tls12", "tls12-static-rsa"],
)
def test_openssl_written_key_logs(
    tmp_path: Path, version: int, ciphers: str | None, labels: set[str]
) -> None:
    cert = make_cert(str(tmp_path))
    sess = run_session(str(tmp_path), cert, version=version, ciphers=ciphers)
    kl = parse_keylog(sess.keylog)
    assert kl.errors == []
    randoms = kl.client_randoms()
    assert len(randoms) == 1 and set(kl.secrets_for(randoms[0])) == labels
    if ciphers == "AES128-GCM-SHA256":  # OpenSSL also logs the legacy RSA form
        assert "RSA " in sess.keylog and len(kl) == 2


_line = st.one_of(
    st.text(max_size=200),
    st.builds(
        lambda lab, r, s: f"{lab} {r.hex()} {s.hex()}",
        st.sampled_from(["CLIENT_RANDOM", "EXPORTER_SECRET", "RSA", "X", "ECH_CONFIG"]),
        st.binary(min_size=0, max_size=40),
        st.binary(min_size=0, max_size=60),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(_line, max_size=12),
    eol=st.sampled_from(["\n", "\r\n", "\r"]),
    raw=st.binary(max_size=300),
)
def test_property_garbage_never_raises_and_good_lines_survive(
    lines: list[str], eol: str, raw: bytes
) -> None:
    good = f"CLIENT_RANDOM {CR.hex()} {MS.hex()}"
    text = eol.join([*lines, good])
    kl = parse_keylog(text)
    assert isinstance(kl, KeyLog)
    assert kl.secrets_for(CR).get("CLIENT_RANDOM") == MS
    kl2 = parse_keylog(raw + b"\n" + good.encode())
    assert kl2.secrets_for(CR).get("CLIENT_RANDOM") == MS
    for e in kl.errors + kl2.errors:
        assert e.line >= 1 and e.reason


@settings(max_examples=200, deadline=None)
@given(
    label=st.from_regex(r"[A-Z][A-Z0-9_]{0,30}", fullmatch=True).filter(
        lambda s: s not in KNOWN_LABELS and s != "RSA"
    ),
    secret=st.binary(min_size=1, max_size=64),
)
def test_property_unknown_labels_are_named_and_never_usable(label: str, secret: bytes) -> None:
    kl = parse_keylog(f"{label} {CR.hex()} {secret.hex()}\nCLIENT_RANDOM {CR.hex()} {MS.hex()}\n")
    assert [(e.line, e.unknown_label) for e in kl.errors] == [(1, label)]
    assert label in kl.errors[0].reason
    assert kl.secrets_for(CR) == {"CLIENT_RANDOM": MS} and len(kl) == 1
    assert kl.label_counts() == {"CLIENT_RANDOM": 1}
