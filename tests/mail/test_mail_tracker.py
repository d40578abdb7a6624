"""Mail extraction from captures: SMTP between smtplib and aiosmtpd (a real server), IMAP and
POP3 between imaplib/poplib and Dovecot, recorded
with tcpdump -- every message equals what the server stored, and tshark's IMF export where
tshark keeps the bytes; BDAT, POP3 and IMAP from protocol transcripts (RFC 3030 / 1939 / 9051
examples), fed in arbitrary TCP splits."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsec_layers.io.capture import iter_capture
from netsec_layers.session.engine import CaptureEngine
from netsec_layers.session.mail import MailMessage, MailNote, MailTracker
from netsec_layers.session.tcp import StreamChunk, TCPConn
from tests.tshark_util import run_tshark

PCAPS = Path(__file__).parents[2] / "pcaps" / "mail"
SAMPLE = PCAPS / "smtp-aiosmtpd.pcap"


def _events(
    pcap: Path, keylog: Path | None = None, implicit: frozenset[int] | None = None
) -> list[Any]:
    keys = None
    if keylog is not None:
        from netsec_layers.keys.keylog import load_keylog
        from netsec_layers.session.tls_keys import TLSKeyMaterial

        keys = TLSKeyMaterial()
        keys.add_keylog(load_keylog(str(keylog)))
    tracker = (
        MailTracker(keys) if implicit is None else MailTracker(keys, implicit_tls_ports=implicit)
    )
    eng = CaptureEngine(trackers=[tracker])
    out: list[Any] = []
    for res in iter_capture(pcap, eng):
        out += res.units
    return out + list(eng.flush())


def _check_against_server(
    events: list[Any], stored: list[dict[str, Any]], *, keys: bool = False
) -> None:
    msgs = [e for e in events if isinstance(e, MailMessage)]
    # the last message was sent after STARTTLS: read only with the key log
    assert len(msgs) == (5 if keys else 4) and len(stored) == 5
    for m, s in zip(msgs, stored, strict=False):
        assert hashlib.sha256(m.data).hexdigest() == s["sha256"] and len(m.data) == s["length"]
        assert m.mail_from == s["mail_from"] and m.rcpt_to == s["rcpt_to"]
        assert m.proto == "smtp" and m.how == "DATA"
        assert m.to_json()["sha256"] == s["sha256"]
    notes = [e for e in events if isinstance(e, MailNote)]
    assert [n.note.split(":")[0] for n in notes] == ["STARTTLS accepted"]


def test_committed_smtp_capture() -> None:
    stored = json.loads(SAMPLE.with_suffix(".json").read_text())
    _check_against_server(_events(SAMPLE), stored)
    # with the client's key log the message sent after STARTTLS is read too
    events = _events(SAMPLE, SAMPLE.with_suffix(".keys"))
    _check_against_server(events, stored, keys=True)
    from netsec_layers.session.tls import TLSRecordInfo

    recs = [e for e in events if isinstance(e, TLSRecordInfo)]
    assert recs and all(r.error is None for r in recs)
    assert sum(r.decrypted for r in recs) >= 10


@pytest.mark.integration
def test_live_aiosmtpd_capture(tmp_path: Path) -> None:
    assert shutil.which("tcpdump"), "tcpdump is required"
    from tests.mail.smtp_capture import capture

    stored = capture(tmp_path / "smtp.pcap", tmp_path / "smtp.keys")
    _check_against_server(_events(tmp_path / "smtp.pcap"), stored)
    events = _events(tmp_path / "smtp.pcap", tmp_path / "smtp.keys")
    _check_against_server(events, stored, keys=True)


@pytest.mark.integration
def test_tshark_imf_export_agrees(tmp_path: Path) -> None:
    """tshark 4.0's IMF object export; it does not undo dot-stuffing, so only the messages
    without a line starting with "." are comparable."""
    msgs = [e for e in _events(SAMPLE) if isinstance(e, MailMessage)]
    port = run_tshark(["-r", SAMPLE, "-T", "fields", "-e", "tcp.dstport", "-c", "1"]).strip()
    run_tshark(["-r", SAMPLE, "-d", f"tcp.port=={port},smtp", "-q", "--export-objects",
                f"imf,{tmp_path}"])  # fmt: skip
    theirs = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    comparable = [
        m for m in msgs if b"\r\n." not in m.data and m.data.startswith((b"Subject: ", b"From: "))
    ]
    assert len(comparable) >= 2
    for m in comparable:
        subject = m.data.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()
        assert theirs[f"{subject}.eml"] == m.data


# --- transcripts ------------------------------------------------------------------------------


def _conn() -> TCPConn:
    return TCPConn(0, ("10.0.0.1", 40000), ("10.0.0.2", 25), 4, True)


def _run(transcript: list[tuple[bool, bytes]], splits: list[int] | None = None) -> list[Any]:
    tracker = MailTracker()
    conn = _conn()
    out: list[Any] = []
    claimed = False
    frame = 0
    for from_client, data in transcript:
        pieces = [data]
        if splits and claimed:  # the greeting whole: claims() decides on the first bytes
            cuts = sorted({s % (len(data) + 1) for s in splits})
            pieces = [
                data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True) if data[a:b]
            ]
        for piece in pieces:
            frame += 1
            chunk = StreamChunk(conn, from_client, piece, frame, frame)
            if not claimed:
                claimed = tracker.claims(chunk)
                assert claimed
            out += tracker.feed(chunk)
    return out


BDAT = [
    (False, b"220 mx.example ESMTP\r\n"),
    (True, b"EHLO c\r\n"),
    (False, b"250-mx.example\r\n250-PIPELINING\r\n250 CHUNKING\r\n"),
    # RFC 3030 section 4.2 style: pipelined envelope and chunks
    (
        True,
        b"MAIL FROM:<Sam@Random.com>\r\nRCPT TO:<Susan@Random.com>\r\nBDAT 20\r\n"
        b"Subject: x\r\n\r\n.dot\r\nBDAT 7 LAST\r\nend\r\n\r\n",
    ),
    (False, b"250 ok\r\n250 ok\r\n250 23 octets\r\n250 message ok\r\n"),
    (True, b"QUIT\r\n"),
]
POP3 = [
    (False, b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"),
    (True, b"USER mrose\r\n"),
    (False, b"+OK\r\n"),
    (True, b"PASS x\r\nLIST\r\nTOP 1 0\r\nRETR 1\r\nRETR 9\r\nRETR 2\r\n"),
    (
        False,
        b"+OK\r\n+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n+OK\r\nSubject: top\r\n\r\n.\r\n"
        b"+OK 120 octets\r\nSubject: one\r\n\r\n..stuffed\r\nbody\r\n.\r\n-ERR no such message\r\n"
        b"+OK\r\nSubject: two\r\n\r\n.\r\n",
    ),
    (True, b"QUIT\r\n"),
    (False, b"+OK bye\r\n"),
]
IMAP_MSG = b"Subject: imap\r\n\r\nhello {5}\r\n"
IMAP = [
    (False, b"* OK [CAPABILITY IMAP4rev1] ready\r\n"),
    (True, b"a1 LOGIN u p\r\n"),
    (False, b"a1 OK done\r\n"),
    (True, b"a2 FETCH 1:3 (BODY.PEEK[] BODY[HEADER] BODY[]<0.10> FLAGS)\r\n"),
    (
        False,
        b"* 1 FETCH (FLAGS (\\Seen) BODY[] {%d}\r\n" % len(IMAP_MSG) + IMAP_MSG + b")\r\n"
        b"* 2 FETCH (BODY[HEADER] {14}\r\nSubject: h\r\n\r\n)\r\n"
        b"* 3 FETCH (BODY[]<0> {10}\r\nSubject: p)\r\n"
        b"* 4 FETCH (RFC822 {%d}\r\n" % len(IMAP_MSG) + IMAP_MSG + b")\r\n"
        b"a2 OK done\r\n",
    ),
    (True, b"a3 APPEND INBOX {%d+}\r\n" % len(IMAP_MSG) + IMAP_MSG + b"\r\n"),
    (False, b"a3 OK appended\r\n"),
    (True, b"a4 STARTTLS\r\n"),
    (False, b"a4 OK begin TLS\r\n\x16\x03\x01\x00\x05hello"),
]


def _messages(events: list[Any]) -> list[tuple[str, bytes]]:
    return [(e.how, e.data) for e in events if isinstance(e, MailMessage)]


EXPECTED = {
    "bdat": [("BDAT", b"Subject: x\r\n\r\n.dot\r\nend\r\n\r\n")],
    "pop3": [
        ("RETR", b"Subject: one\r\n\r\n.stuffed\r\nbody\r\n"),
        ("RETR", b"Subject: two\r\n\r\n"),
    ],
    "imap": [("FETCH", IMAP_MSG), ("FETCH", IMAP_MSG), ("APPEND", IMAP_MSG)],
}
TRANSCRIPTS = {"bdat": BDAT, "pop3": POP3, "imap": IMAP}


@pytest.mark.parametrize("name", sorted(TRANSCRIPTS))
def test_transcripts(name: str) -> None:
    events = _run(TRANSCRIPTS[name])
    assert _messages(events) == EXPECTED[name]
    if name == "imap":
        assert any(isinstance(e, MailNote) and "STARTTLS" in e.note for e in events)


@given(st.sampled_from(sorted(TRANSCRIPTS)), st.lists(st.integers(0, 400), max_size=8))
@settings(max_examples=150, deadline=None)
def test_any_tcp_split_gives_the_same_messages(name: str, splits: list[int]) -> None:
    assert _messages(_run(TRANSCRIPTS[name], splits)) == EXPECTED[name]


@given(st.lists(st.tuples(st.booleans(), st.binary(max_size=200)), max_size=10))
@settings(max_examples=200, deadline=None)
def test_garbage_never_raises(parts: list[tuple[bool, bytes]]) -> None:
    tracker = MailTracker()
    conn = _conn()
    tracker.claims(StreamChunk(conn, False, b"220 x ESMTP\r\n", 1, 1))
    for i, (c, data) in enumerate(parts):
        for e in tracker.feed(StreamChunk(conn, c, data, i + 2, i + 2, gap=i % 3 == 2)):
            json.dumps(e.to_json())
            e.summary()


def test_not_mail_is_not_claimed() -> None:
    t = MailTracker()
    for data, c in [
        (b"\x16\x03\x01\x02\x00", True),
        (b"SSH-2.0-x\r\n", False),
        (b"GET / HTTP/1.1", True),
    ]:
        assert not t.claims(StreamChunk(_conn(), c, data, 1, 1))


def _netsec(*args: str) -> subprocess.CompletedProcess[str]:
    import sys

    return subprocess.run(
        [sys.executable, "-m", "netsec_layers", *args],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
        timeout=120,
    )


def test_netsec_dissect_shows_messages() -> None:
    r = _netsec("dissect", str(SAMPLE), "--json")
    assert r.returncode == 0, r.stderr
    stored = json.loads(SAMPLE.with_suffix(".json").read_text())
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    msgs = [x for x in lines if x.get("proto") == "smtp" and x.get("event") == "message"]
    assert [m["sha256"] for m in msgs] == [s["sha256"] for s in stored[:4]]


def test_netsec_mail_extract(tmp_path: Path) -> None:
    r = _netsec("mail", "extract", str(SAMPLE), "-o", str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    stored = json.loads(SAMPLE.with_suffix(".json").read_text())
    assert [x["kind"] for x in lines] == ["mail"] * 4
    for line, s in zip(lines, stored, strict=False):
        data = Path(line["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == s["sha256"]
        assert line["stream"] == 1 and line["frame"] > 0
    assert sorted(p.name for p in (tmp_path / "mail").iterdir()) == [
        "0001.eml",
        "0002.eml",
        "0003.eml",
        "0004.eml",
    ]


# --- IMAP and POP3 against Dovecot --------------------------------------------------------------

DOVECOT = PCAPS / "imap-pop3-dovecot.pcap"


def _check_against_dovecot_clients(events: list[Any], got: dict[str, Any], keys: bool) -> None:
    msgs = [e for e in events if isinstance(e, MailMessage)]
    plain = {e.stream for e in msgs[:10]}

    def digests(proto: str, how: str, streams: set[int] | None = None) -> list[tuple[int, str]]:
        return [
            (len(m.data), hashlib.sha256(m.data).hexdigest())
            for m in msgs
            if m.proto == proto and m.how == how and (streams is None or m.stream in streams)
        ]

    def ref(*keys_: str) -> list[tuple[int, str]]:
        return [(x["length"], x["sha256"]) for k in keys_ for x in got[k]]

    # in the clear: APPEND x3, FETCH BODY.PEEK[] x3 + RFC822 x1 (BODY[HEADER] and
    # BODY[]<0.20> are not messages), RETR x3 (TOP is not)
    assert digests("imap", "APPEND") == ref("imap_append")
    assert digests("imap", "FETCH", plain) == ref("imap_fetch")
    assert digests("pop3", "RETR", plain) == ref("pop3_retr")
    notes = [e.note for e in events if isinstance(e, MailNote)]
    assert len(notes) == 2 and all(n.startswith("STARTTLS accepted") for n in notes)
    if not keys:
        assert len(msgs) == 10
        return
    # inside TLS: after IMAP STARTTLS and POP3 STLS, and on the implicit-TLS listeners
    tls = [(len(m.data), hashlib.sha256(m.data).hexdigest()) for m in msgs[10:]]
    assert tls == ref("imap_starttls", "pop3_stls", "imaps", "pop3s")
    assert [m.proto for m in msgs[10:]] == ["imap", "pop3", "imap", "pop3"]


def test_committed_dovecot_capture() -> None:
    got = json.loads(DOVECOT.with_suffix(".json").read_text())
    _check_against_dovecot_clients(_events(DOVECOT), got, keys=False)
    implicit = frozenset((got["ports"]["imaps"], got["ports"]["pop3s"]))
    events = _events(DOVECOT, DOVECOT.with_suffix(".keys"), implicit)
    _check_against_dovecot_clients(events, got, keys=True)


@pytest.mark.integration
def test_live_dovecot_capture(tmp_path: Path) -> None:
    assert shutil.which("tcpdump"), "tcpdump is required"
    from tests.mail.dovecot_capture import run_dovecot

    got = run_dovecot(tmp_path / "d.pcap", tmp_path / "d.keys")
    implicit = frozenset((got["ports"]["imaps"], got["ports"]["pop3s"]))
    events = _events(tmp_path / "d.pcap", tmp_path / "d.keys", implicit)
    _check_against_dovecot_clients(events, got, keys=True)


PIPELINED = [
    (False, b"220 mx ESMTP\r\n"),
    (True, b"EHLO c\r\n"),
    (False, b"250-mx\r\n250 PIPELINING\r\n"),
    # RFC 2920 section 3.1: MAIL, RCPT and DATA in one go; the 354 comes after the 250s
    (True, b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nRCPT TO:<c@z>\r\nDATA\r\n"),
    (False, b"250 ok\r\n250 ok\r\n550 no such user\r\n354 go ahead\r\n"),
    (True, b"Subject: p\r\n\r\n..x\r\n.\r\n"),
    (False, b"250 queued\r\n"),
    # a refused DATA: what follows are commands, not a message
    (True, b"MAIL FROM:<a@x>\r\nRCPT TO:<nobody@y>\r\nDATA\r\n"),
    (False, b"250 ok\r\n550 no\r\n554 no valid recipients\r\n"),
    (True, b"RSET\r\nQUIT\r\n"),
    (False, b"250 ok\r\n221 bye\r\n"),
]


def test_smtp_pipelining_and_refused_data() -> None:
    events = _run(PIPELINED)
    msgs = [e for e in events if isinstance(e, MailMessage)]
    assert [(m.data, m.mail_from, m.rcpt_to) for m in msgs] == [
        (b"Subject: p\r\n\r\n.x\r\n", "a@x", ["b@y", "c@z"])
    ]


def test_after_tls_hand_over() -> None:
    """What the engine will do after STARTTLS (docs/mail.md): call ``after_tls`` and feed the
    decrypted application data; the tracker reads it as a fresh SMTP session."""
    tracker = MailTracker()
    conn = _conn()
    frame = 0

    def feed(c: bool, data: bytes) -> list[Any]:
        nonlocal frame
        frame += 1
        chunk = StreamChunk(conn, c, data, frame, frame)
        if frame == 1:
            assert tracker.claims(chunk)
        return tracker.feed(chunk)

    out = feed(False, b"220 mx ESMTP\r\n") + feed(True, b"EHLO c\r\nSTARTTLS\r\n")
    out += feed(False, b"250 mx\r\n220 go ahead\r\n") + feed(True, b"\x16\x03\x01\x02\x00")
    assert [type(e) for e in out] == [MailNote]
    tracker.after_tls(conn)
    for c, data in [
        (True, b"EHLO c\r\nMAIL FROM:<s@x>\r\nRCPT TO:<r@y>\r\nDATA\r\n"),
        (False, b"250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n"),
        (True, b"Subject: secret\r\n\r\nsent after STARTTLS\r\n.\r\n"),
    ]:
        out += feed(c, data)
    msgs = [e for e in out if isinstance(e, MailMessage)]
    assert [(m.data, m.mail_from) for m in msgs] == [
        (b"Subject: secret\r\n\r\nsent after STARTTLS\r\n", "s@x")
    ]


def test_large_message_in_small_segments() -> None:
    """A 1.6 MB DATA body in 1460-byte segments (the terminator straddling segments at every
    offset across the run): extracted whole; the terminator search resumes where it stopped."""
    body = b"".join(b"%sline %07d\r\n" % (b"." * (i % 3), i) for i in range(100000))
    wire = b"." + body.replace(b"\r\n.", b"\r\n..") + b".\r\n"  # first line starts with "."
    head = [
        (False, b"220 mx ESMTP\r\n"),
        (True, b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"),
        (False, b"250 a\r\n250 b\r\n354 go\r\n"),
    ]
    segs = [(True, wire[i : i + 1460]) for i in range(0, len(wire), 1460)]
    msgs = [e for e in _run(head + segs) if isinstance(e, MailMessage)]
    assert len(msgs) == 1 and msgs[0].data == body


@given(st.lists(st.tuples(st.booleans(), st.binary(max_size=300)), max_size=10))
@settings(max_examples=150, deadline=None)
def test_implicit_tls_garbage_never_raises(parts: list[tuple[bool, bytes]]) -> None:
    """A connection to 465 that starts like a ClientHello: the TLS path takes any bytes."""
    tracker = MailTracker()
    conn = TCPConn(0, ("10.0.0.1", 40000), ("10.0.0.2", 465), 4, True)
    assert tracker.claims(StreamChunk(conn, True, b"\x16\x03\x01", 1, 1))
    for i, (c, data) in enumerate([(True, b"\x16\x03\x01\x00\x05"), *parts]):
        for e in tracker.feed(StreamChunk(conn, c, data, i + 2, i + 2)):
            json.dumps(e.to_json())
