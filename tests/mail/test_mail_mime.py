"""MIME / RFC 5322 parsing: exact rebuild of any bytes, structure against Python's ``email``
package (an independent parser) on its own test corpus, header decoding against the stdlib and
the RFC examples, and bounds on hostile input."""

from __future__ import annotations

import email
import email.policy
import hashlib
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsec_layers.layers.mail.entity import MAX_DEPTH, MIMEEntity, parse_entity
from netsec_layers.layers.mail.headers import (
    decode_encoded_words,
    parse_addresses,
    parse_content_type,
    parse_date,
)
from netsec_layers.layers.mail.transfer import decode_base64, decode_quoted_printable

CORPUS = sorted((Path(__file__).parents[1] / "vectors" / "mail" / "corpus").glob("msg_*.txt"))

# Inputs where the two parsers legitimately differ (both kept every byte):
KNOWN_DIFFERENT = {
    # a nested multipart reuses its parent's boundary: we split at every delimiter line of the
    # outer boundary, Python keeps the inner part as text
    "msg_15.txt",
    # delimiter lines directly after each other: we see empty parts between them (RFC 2046
    # section 5.1.1 reading), Python skips them
    "msg_37.txt",
    # a multipart with only a close delimiter: we report zero parts, Python a text payload
    "msg_42.txt",
}


def _crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _py_shape(m: Any) -> Any:
    ct = m.get_content_type()
    # Python parses these two bodies as header blocks; to us (and the JSON contract) they are
    # leaves, so compare them by their bytes
    if m.is_multipart() and ct not in ("message/delivery-status", "message/external-body"):
        return (ct, [_py_shape(p) for p in m.get_payload()])
    if ct in ("message/delivery-status", "message/external-body"):
        return (ct, "leaf")
    return (ct, hashlib.sha256(m.get_payload(decode=True) or b"").hexdigest())


def _our_shape(e: MIMEEntity) -> Any:
    if e.children:
        return (e.mime_type, [_our_shape(c) for c in e.children])
    if e.mime_type in ("message/delivery-status", "message/external-body"):
        return (e.mime_type, "leaf")
    return (e.mime_type, hashlib.sha256(e.decoded_body()).hexdigest())


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_corpus_rebuilds_exactly(path: Path) -> None:
    data = path.read_bytes()
    assert parse_entity(data).build() == data
    assert parse_entity(_crlf(data)).build() == _crlf(data)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_corpus_structure_matches_python_email(path: Path) -> None:
    data = _crlf(path.read_bytes())
    ours = _our_shape(parse_entity(data))
    theirs = _py_shape(email.message_from_bytes(data, policy=email.policy.compat32))
    if path.name in KNOWN_DIFFERENT:
        assert ours != theirs  # if this starts to match, remove it from the list
    else:
        assert ours == theirs


def test_corpus_agreement_count() -> None:
    assert len(CORPUS) == 48 and len(KNOWN_DIFFERENT) == 3


# --- multipart details (RFC 2046 section 5.1.1) --------------------------------------------

SIGNED = (
    b'Content-Type: multipart/signed; protocol="application/pkcs7-signature";\r\n'
    b'\tmicalg=sha-256; boundary="----B"\r\n'
    b"\r\n"
    b"preamble line\r\n"
    b"------B  \r\n"
    b"Content-Type: text/plain\r\n\r\nsigned text\r\n\r\n"
    b"------B\r\n"
    b"Content-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"AAEC\r\nAwQ=\r\n"
    b"------B--  \r\nepilogue\r\n"
)


def test_multipart_pieces_are_exact() -> None:
    e = parse_entity(SIGNED)
    mp = e.multipart
    assert mp is not None and e.build() == SIGNED
    assert mp.preamble == b"preamble line"
    assert mp.delimiters[0] == b"\r\n------B  \r\n"
    # the line break before a delimiter belongs to the delimiter, not to the part
    assert mp.parts[0].build() == b"Content-Type: text/plain\r\n\r\nsigned text\r\n"
    assert mp.parts[1].decoded_body() == bytes(range(5))
    assert mp.close == b"\r\n------B--  " and mp.epilogue == b"\r\nepilogue\r\n"
    assert e.content_type.params["micalg"] == "sha-256"


def test_digest_default_type_and_rfc822() -> None:
    inner = b"Subject: x\r\n\r\nbody\r\n"
    msg = (
        b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\n"
        + inner
        + b"\r\n--d\r\nContent-Type: text/plain\r\n\r\nt\r\n--d--\r\n"
    )
    e = parse_entity(msg)
    kids = e.children
    assert [k.mime_type for k in kids] == ["message/rfc822", "text/plain"]
    assert kids[0].enclosed is not None and kids[0].enclosed.get("subject") == "x"
    assert kids[0].enclosed.build() == inner
    node = e.to_node()
    assert node["children"][0]["children"][0]["headers"] == [["Subject", "x"]]
    assert e.build() == msg


def test_missing_content_type_defaults_to_text_plain() -> None:
    e = parse_entity(b"Subject: a\r\n\r\nhi")
    assert e.mime_type == "text/plain" and e.transfer_encoding is None
    assert e.to_node()["body_sha256"] == hashlib.sha256(b"hi").hexdigest()


# --- header fields --------------------------------------------------------------------------

ENCODED = [
    b"=?ISO-8859-1?Q?a?= b",
    b"=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=",
    b"=?ISO-8859-1?Q?a?=\r\n =?ISO-8859-1?Q?b?=",
    b"=?UTF-8?B?w6nDqA==?= and =?utf-8?q?caf=C3=A9_au_lait?=",
    b"(=?ISO-8859-1?Q?a?= b)",
    b"plain text only",
]


@pytest.mark.parametrize("raw", ENCODED)
def test_encoded_words_match_stdlib(raw: bytes) -> None:
    from netsec_layers.layers.mail.headers import unfold

    expected = str(make_header(decode_header(unfold(raw).decode("ascii"))))
    ours = decode_encoded_words(unfold(raw))
    # the stdlib drops/keeps white space around encoded words slightly differently next to
    # plain text (it collapses runs); compare modulo runs of spaces
    assert " ".join(ours.split()) == " ".join(expected.split())


# RFC 2231 sections 3-5 examples, and the stdlib's reading of the same parameters
RFC2231 = [
    (
        'message/external-body; access-type=URL;\r\n URL*0="ftp://";\r\n'
        ' URL*1="cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"',
        "url",
        "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar",
    ),
    (
        "application/x-stuff;\r\n title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
        "title",
        "This is ***fun***",
    ),
    (
        "application/x-stuff;\r\n title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n"
        ' title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n title*2="isn\'t it!"',
        "title",
        "This is even more ***fun*** isn't it!",
    ),
    ("text/plain; name*=utf-8''%C3%A9t%C3%A9.txt", "name", "été.txt"),
]


def test_rfc2231_language_in_encoded_word() -> None:
    # RFC 2231 section 5 (the stdlib cannot read this form: LookupError on "us-ascii*en")
    raw = b"=?US-ASCII*EN?Q?Keith_Moore?= <moore@cs.utk.edu>"
    assert decode_encoded_words(raw) == "Keith Moore <moore@cs.utk.edu>"


@pytest.mark.parametrize(("value", "param", "expected"), RFC2231)
def test_rfc2231_parameters(value: str, param: str, expected: str) -> None:
    from netsec_layers.layers.mail.headers import unfold

    v = unfold(value.encode()).decode()
    assert parse_content_type(v).params[param] == expected
    msg = email.message_from_string(f"Content-Type: {value}\r\n\r\n")
    assert email.utils.collapse_rfc2231_value(msg.get_param(param)) == expected


def test_parameter_with_comments() -> None:
    # RFC 2045 section 5.1 allows comments between tokens (the stdlib keeps them in the value)
    ct = parse_content_type('text/plain (c) ; charset = "utf-8" (comment); format=flowed')
    assert ct.type == "text/plain"
    assert ct.params == {"charset": "utf-8", "format": "flowed"}


def test_addresses_and_dates() -> None:
    assert parse_addresses('"Doe, J." <j@x.org>, k@y.org') == [
        ("Doe, J.", "j@x.org"),
        ("", "k@y.org"),
    ]
    d = parse_date("Fri, 21 Nov 1997 09:55:06 -0600")
    assert d is not None and d.isoformat() == "1997-11-21T09:55:06-06:00"
    assert parse_date("not a date") is None


# --- transfer encodings ---------------------------------------------------------------------


def test_quoted_printable_rfc2045_rules() -> None:
    data = b"a=3Db  \r\nsoft=\r\nbreak\nlf-only=20\r\n=ZZ"
    out, defects = decode_quoted_printable(data)
    assert out == b"a=b\r\nsoftbreak\r\nlf-only \r\n=ZZ"
    assert defects  # the bad escape is reported


def test_base64_lenient() -> None:
    assert decode_base64(b"AAEC\r\nAwQ=\r\n")[0] == bytes(range(5))
    out, defects = decode_base64(b"AA*EC AwQ")
    assert out == bytes(range(5)) and defects


# --- properties -----------------------------------------------------------------------------


@given(st.binary(max_size=2000))
@settings(max_examples=300, deadline=None)
def test_any_bytes_rebuild_exactly(data: bytes) -> None:
    e = parse_entity(data)
    assert e.build() == data
    e.to_node()  # never raises either


_line = st.text(alphabet="abc xyz-=:;\t", max_size=20).map(lambda s: s.encode())


@st.composite
def _entity(draw: Any, depth: int = 0) -> bytes:
    eol = draw(st.sampled_from([b"\r\n", b"\n"]))
    headers = draw(st.lists(_line.map(lambda v: b"X-H: " + v + eol), max_size=3))
    if depth < 3 and draw(st.booleans()):
        b = draw(st.sampled_from([b"b1", b"=_x", b"'()+_,-./:=?"]))
        n = draw(st.integers(0, 3))
        parts = [draw(_entity(depth + 1)) for _ in range(n)]
        pad = draw(st.sampled_from([b"", b" ", b"\t "]))
        body = draw(_line) + b"".join(eol + b"--" + b + pad + eol + p for p in parts)
        body += eol + b"--" + b + b"--" + pad + draw(st.sampled_from([b"", eol + b"epi"]))
        ct = b'Content-Type: multipart/mixed; boundary="' + b + b'"' + eol
        return b"".join(headers) + ct + eol + body
    cte = draw(st.sampled_from([b"", b"Content-Transfer-Encoding: base64" + eol]))
    return b"".join(headers) + cte + eol + draw(_line)


@given(_entity())
@settings(max_examples=200, deadline=None)
def test_structured_mime_rebuilds_and_matches_python(data: bytes) -> None:
    e = parse_entity(data)
    assert e.build() == data
    py = email.message_from_bytes(data, policy=email.policy.compat32)
    assert e.mime_type == py.get_content_type()
    if e.multipart is not None and e.multipart.parts and py.is_multipart():
        assert len(e.multipart.parts) == len(py.get_payload())


# --- hostile input --------------------------------------------------------------------------


def test_nesting_depth_is_bounded() -> None:
    depth = MAX_DEPTH * 4
    head = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
        for i in range(depth)
    )
    data = head + b"x" + b"".join(b"\r\n--b%d--" % i for i in reversed(range(depth)))
    e = parse_entity(data)
    assert e.build() == data
    assert any("nesting deeper" in d for x in e.walk() for d in x.defects)
    assert max(_depth(e) for _ in [0]) <= MAX_DEPTH + 1


def _depth(e: MIMEEntity) -> int:
    return 1 + max((_depth(c) for c in e.children), default=0)


def test_boundary_flood_is_bounded() -> None:
    data = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + b"--b\r\n" * 50000
    e = parse_entity(data)
    assert e.build() == data
    assert sum(1 for _ in e.walk()) <= 10001
    assert any("more than" in d for d in e.defects)


def test_huge_base64_body() -> None:
    data = b"Content-Transfer-Encoding: base64\r\n\r\n" + b"QUFB\r\n" * 200000
    e = parse_entity(data)
    assert e.decoded_body() == b"AAA" * 200000


# --- message/partial (RFC 2046 section 5.2.2) -----------------------------------------------

PARTIAL = Path(__file__).parents[1] / "vectors" / "mail" / "partial"


def test_partial_reassembly_rfc2046_example() -> None:
    """The fragmentation example of RFC 2046 section 5.2.2.2, in either arrival order.  The
    RFC shows the result "something like" with Subject before Message-ID; its rule (3) says the
    enclosed fields are appended in their order (Message-ID, then Subject), which we follow."""
    from netsec_layers.layers.mail.partial import reassemble_partials

    p1 = parse_entity((PARTIAL / "rfc2046-part1.eml").read_bytes())
    p2 = parse_entity((PARTIAL / "rfc2046-part2.eml").read_bytes())
    expected = (PARTIAL / "rfc2046-reassembled.eml").read_bytes()
    for order in ([p1, p2], [p2, p1]):
        (res,) = reassemble_partials(order)
        assert res.id == "ABC@host.com" and res.message == expected
    (res,) = reassemble_partials([p2])
    assert res.message is None and "missing" in res.reason
    (res,) = reassemble_partials([p1])
    assert res.message is None and "missing: [2]" in res.reason
    no_total = (PARTIAL / "rfc2046-part1.eml").read_bytes().replace(b"; total=2", b"")
    (res,) = reassemble_partials([parse_entity(no_total)])
    assert res.message is None and "total" in res.reason
    (res,) = reassemble_partials([p1, p2, p2])
    assert res.message is None and "twice" in res.reason


def test_header_folding_flood() -> None:
    """500 000 continuation lines: one field, rebuilt exactly (its raw bytes are one slice)."""
    data = b"X-A: a\r\n" + b" b\r\n" * 500000 + b"\r\nbody"
    e = parse_entity(data)
    assert len(e.fields) == 1 and e.build() == data and e.body == b"body"
