"""Mail in captures: a :class:`StreamTracker` for SMTP (RFC 5321, PIPELINING RFC 2920,
CHUNKING/BDAT RFC 3030), POP3 (RFC 1939) and IMAP (RFC 9051 / 3501) connections, claimed by
content (the server greeting, or the first client command when the start was not captured).

It emits one :class:`MailMessage` per message transferred, byte for byte as sent (SMTP
dot-stuffing undone, BDAT chunks joined, POP3 byte-stuffing undone, IMAP literals taken whole):
SMTP DATA/BDAT, POP3 RETR, IMAP FETCH ``BODY[]`` / ``BODY.PEEK[]`` / ``RFC822`` / ``BINARY[]``
and APPEND.  Partial transfers (POP3 TOP, ``BODY[HEADER]``, ``BODY[]<0.100>`` ...) are not
messages.  After STARTTLS / STLS (a :class:`MailNote` says so), and on the implicit-TLS ports
465/993/995, the connection's TLS is framed and decrypted by a ``TLSTracker`` of the tracker's
own with the capture's key material; its records are returned as events and the decrypted
application data is read as mail again (the session restarts, RFC 3207 section 4.2).

Sans-I/O: bytes in, events out; no files, no printing.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from netsec_layers.session.trackers import StreamTracker

if TYPE_CHECKING:
    from netsec_layers.session.tcp import StreamChunk, TCPConn
    from netsec_layers.session.tls_keys import TLSKeyMaterial

__all__ = ["MAX_MESSAGE", "MailMessage", "MailNote", "MailTracker"]

IMPLICIT_TLS_PORTS = frozenset((465, 993, 995))  # RFC 8314 section 7
_HANDLERS = {"smtp": "_smtp", "pop3": "_pop3", "imap": "_imap"}
MAX_MESSAGE = 64 << 20  # bytes of one message (or of buffered protocol data) per direction
MAX_LINE = 1 << 16  # a command/response line longer than this is not mail

_SMTP_CMD = re.compile(
    rb"(?i)^(EHLO|HELO|LHLO|MAIL FROM:|RCPT TO:|DATA|BDAT|STARTTLS|AUTH|QUIT|RSET|NOOP)\b"
)
_POP_CMD = re.compile(
    rb"(?i)^(USER|PASS|APOP|STAT|LIST|RETR|DELE|NOOP|RSET|QUIT|TOP|UIDL|CAPA|STLS|AUTH)\b"
)
_IMAP_CMD = re.compile(
    rb"(?i)^[A-Za-z0-9.]+ (CAPABILITY|LOGIN|AUTHENTICATE|SELECT|EXAMINE|FETCH|UID|APPEND|STARTTLS|LOGOUT|NOOP|LIST|ID|ENABLE)\b"
)
_LITERAL = re.compile(rb"\{(\d{1,12})(\+?)\}\r?\n$")
# a whole message: BODY[] / BODY.PEEK[] / BINARY[] / BINARY.PEEK[] without a partial <o.n>, RFC822
_IMAP_WHOLE = re.compile(rb"(?i)(?:^|[ (])(BODY\[\]|BINARY\[\]|RFC822) ?\{\d+\}\r?\n$")


@dataclass(slots=True)
class MailMessage:
    """One message as transferred (the bytes a receiver stores)."""

    frame: int  # the frame holding the transfer's last byte
    stream: int  # TCP connection index (tshark's tcp.stream)
    proto: str  # "smtp" | "pop3" | "imap"
    how: str  # "DATA", "BDAT", "RETR", "FETCH", "APPEND"
    data: bytes
    mail_from: str | None = None
    rcpt_to: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "proto": self.proto,
            "frame": self.frame,
            "stream": self.stream,
            "event": "message",
            "command": self.how,
            "length": len(self.data),
            "sha256": hashlib.sha256(self.data).hexdigest(),
            "mail_from": self.mail_from,
            "rcpt_to": self.rcpt_to,
            "error": None,
        }

    def summary(self) -> str:
        return f"{self.proto.upper()} message via {self.how} ({len(self.data)} bytes)"


@dataclass(slots=True)
class MailNote:
    """Something about the session worth a line: STARTTLS, a gap, a limit."""

    frame: int
    stream: int
    proto: str
    note: str

    def to_json(self) -> dict[str, Any]:
        return {
            "proto": self.proto,
            "frame": self.frame,
            "stream": self.stream,
            "event": "note",
            "note": self.note,
            "error": None,
        }

    def summary(self) -> str:
        return f"{self.proto.upper()} {self.note}"


class _Dir:
    """One direction's unread bytes.  Searches remember how far they looked, so a message
    arriving in many small segments is scanned once, not once per segment."""

    __slots__ = ("buf", "_line_seen", "_end_seen")

    def __init__(self) -> None:
        self.buf = bytearray()
        self._line_seen = 0  # no b"\n" in buf[:_line_seen]
        self._end_seen = 0  # no b"\r\n.\r\n" starting before _end_seen

    def _consumed(self, n: int) -> None:
        del self.buf[:n]
        self._line_seen = self._end_seen = 0

    def clear(self) -> None:
        self._consumed(len(self.buf))

    def line(self) -> bytes | None:
        i = self.buf.find(b"\n", self._line_seen)
        if i < 0:
            self._line_seen = len(self.buf)
            return None
        out = bytes(self.buf[: i + 1])
        self._consumed(i + 1)
        return out

    def take(self, n: int) -> bytes | None:
        if len(self.buf) < n:
            return None
        out = bytes(self.buf[:n])
        self._consumed(n)
        return out

    def dot_terminated(self) -> bytes | None:
        """The body before a lone "." line (SMTP DATA, POP3 multi-line; RFC 5321 section
        4.5.2, RFC 1939 section 3), consumed with the terminator; None if not complete."""
        if self.buf.startswith(b".\r\n"):
            self._consumed(3)
            return b""
        i = self.buf.find(b"\r\n.\r\n", self._end_seen)
        if i < 0:
            self._end_seen = max(0, len(self.buf) - 4)
            return None
        body = bytes(self.buf[: i + 2])
        self._consumed(i + 5)
        return body


def _undot(body: bytes) -> bytes:
    """RFC 5321 section 4.5.2 / RFC 1939 section 3: drop the first "." of every line."""
    lines = body.split(b"\r\n")
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


class _Session:
    def __init__(self, proto: str, conn: TCPConn) -> None:
        self.proto = proto
        self.conn = conn
        self.c = _Dir()
        self.s = _Dir()
        self.tls = False  # the connection carries TLS from here on (STARTTLS or implicit)
        self.switching = False  # STARTTLS accepted: stop parsing, the rest is TLS
        self.pending: dict[bool, bytes] = {}  # TLS bytes read before the switch, by direction
        self.dead = False
        self.frame = 0
        # SMTP
        self.c_mode = "cmd"  # cmd | wait354 | data | bdat
        self.data_buf = bytearray()
        self.bdat_left = 0
        self.bdat_last = False
        self.mail_from: str | None = None
        self.rcpt: list[str] = []
        self.awaiting: deque[bytes] = deque()  # client commands waiting for a server reply
        # POP3 / IMAP server side
        self.s_mode = "resp"  # resp | multi | literal
        self.multi_cmd = b""
        self.literal_left = 0
        self.literal_whole = False
        self.c_literal_left = 0
        self.c_literal_msg = False


MAX_STATS_ROWS = 65_536  # mail sessions summarised for ``netsec stats`` (the rest counted)


@dataclass
class MailSessionStats:
    """One SMTP/IMAP/POP3 session for ``netsec stats``: what it carried and its TLS."""

    stream: int
    client: str
    server: str
    proto: str = "mail"  # smtp | imap | pop3; "mail" while implicit TLS hides which
    starttls: bool = False  # STARTTLS / STLS accepted
    implicit_tls: bool = False  # TLS from the first byte (465, 993, 995)
    messages: int = 0  # messages extracted (SMTP DATA/BDAT, POP3 RETR, IMAP FETCH/APPEND)
    tls_version: int | None = None
    tls_cipher_suite: int | None = None
    tls_sni: str | None = None
    tls_records: int = 0
    tls_decrypted: int = 0
    tls_failed: int = 0

    def row(self) -> dict[str, Any]:
        from netsec_layers.constants.tls import VERSION_NAMES
        from netsec_layers.crypto.tls_suites import suite_name

        return {
            "proto": self.proto if self.proto in ("smtp", "imap", "pop3") else "mail",
            "stream": self.stream,
            "client": self.client,
            "server": self.server,
            "starttls": self.starttls,
            "implicit_tls": self.implicit_tls,
            "messages": self.messages,
            "tls_version": VERSION_NAMES.get(self.tls_version) if self.tls_version else None,
            "tls_cipher_suite": (
                suite_name(self.tls_cipher_suite) if self.tls_cipher_suite is not None else None
            ),
            "tls_sni": self.tls_sni,
            "tls_records": self.tls_records,
            "tls_decrypted": self.tls_decrypted,
            "tls_failed": self.tls_failed,
        }


class MailTracker(StreamTracker):
    """SMTP, POP3 and IMAP message extraction (see the module docstring)."""

    name: ClassVar[str] = "mail"

    def __init__(
        self,
        tls_keys: TLSKeyMaterial | None = None,
        *,
        implicit_tls_ports: frozenset[int] = IMPLICIT_TLS_PORTS,
    ) -> None:
        from netsec_layers.session.tls import TLSTracker

        self._sessions: dict[int, _Session] = {}
        # TLS after STARTTLS / STLS and on the implicit-TLS ports, decrypted with the same key
        # material as every other TLS connection (key logs, RSA keys, pcapng DSBs)
        self._tls = TLSTracker(tls_keys, managed=True, on_release=self._tls_released)
        self.implicit_tls_ports = implicit_tls_ports
        self._stats: dict[int, MailSessionStats] = {}  # live sessions, by stream
        self._rows: list[MailSessionStats] = []  # released sessions (MAX_STATS_ROWS)
        self.stats_dropped = 0

    def stats_rows(self) -> list[dict[str, Any]]:
        """One ``netsec stats`` row per mail session, by stream number."""
        self._tls.release_all()  # the TLS of sessions still open, into their rows
        for st in self._stats.values():
            sess = self._sessions.get(st.stream)
            if sess is not None:
                st.proto = sess.proto  # implicit TLS: read from the first decrypted bytes
        rows = [*self._rows, *self._stats.values()]
        return [st.row() for st in sorted(rows, key=lambda st: st.stream)]

    def _tls_released(self, c: Any) -> None:
        st = self._stats.get(c.index)
        if st is not None:
            st.tls_version, st.tls_cipher_suite, st.tls_sni = c.version, c.suite, c.sni
            st.tls_records, st.tls_decrypted, st.tls_failed = c.records, c.decrypted, c.failed

    def _new_stats(self, sess: _Session, conn: TCPConn) -> None:
        c, s = conn.client, conn.server
        st = MailSessionStats(conn.index, f"{c[0]}:{c[1]}", f"{s[0]}:{s[1]}", sess.proto)
        st.implicit_tls = sess.tls
        self._stats[conn.index] = st

    def on_secrets(self, secrets_type: int, data: bytes) -> bool:
        if secrets_type == 0x544C534B:  # a TLS key log in a pcapng DSB: ours to use too
            self._tls.keys.add_keylog_text(data)
        return False  # the engine's TLS tracker reads it as well

    # -- claiming -------------------------------------------------------------------------
    @staticmethod
    def detect(data: bytes, from_client: bool) -> str | None:
        head = data[:512]
        if not from_client:
            if re.match(rb"220[ -][^\r\n]*(SMTP|[Mm]ail|[Pp]ostfix|Exim|Sendmail)", head):
                return "smtp"
            if re.match(rb"220[ -]", head) and b"FTP" not in head.upper():
                return "smtp"
            if head.startswith(b"+OK"):
                return "pop3"
            if re.match(rb"\* (OK|PREAUTH)[ \[]", head):
                return "imap"
            return None
        if _SMTP_CMD.match(head):
            return "smtp"
        if _IMAP_CMD.match(head):
            return "imap"
        if _POP_CMD.match(head):
            return "pop3"
        return None

    def claims(self, chunk: StreamChunk) -> bool:
        proto = self.detect(chunk.data, chunk.from_client)
        if proto is None:
            # implicit TLS (SMTPS 465, IMAPS 993, POP3S 995): a TLS ClientHello on those ports;
            # the protocol is read from the first decrypted bytes
            hello = chunk.from_client and chunk.data[:1] == b"\x16" and chunk.data[1:2] == b"\x03"
            if not (hello and chunk.conn.server[1] in self.implicit_tls_ports):
                return False
            sess = _Session("tls", chunk.conn)
            sess.tls = True
            self._sessions[chunk.conn.index] = sess
            self._new_stats(sess, chunk.conn)
            return True
        sess = self._sessions[chunk.conn.index] = _Session(proto, chunk.conn)
        self._new_stats(sess, chunk.conn)
        return True

    def release(self, conn: TCPConn) -> None:
        sess = self._sessions.pop(conn.index, None)
        self._tls.release(conn.index)  # its TLS summary, into the row (_tls_released)
        st = self._stats.pop(conn.index, None)
        if st is not None:
            if sess is not None:
                st.proto = sess.proto
            if len(self._rows) < MAX_STATS_ROWS:
                self._rows.append(st)
            else:
                self.stats_dropped += 1

    def after_tls(self, conn: TCPConn) -> None:
        """Hand-over hook for an engine that decrypts TLS itself: from now on ``feed`` gets
        this connection's decrypted application data as plaintext.  The session restarts --
        RFC 3207 section 4.2: what was learnt before TLS is discarded."""
        sess = self._sessions.get(conn.index)
        if sess is not None:
            self._reset(sess)
            sess.tls = sess.dead = sess.switching = False
            sess.pending = {}
            sess.mail_from, sess.rcpt = None, []

    # -- feeding --------------------------------------------------------------------------
    def feed(self, chunk: StreamChunk) -> list[Any]:
        sess = self._sessions.get(chunk.conn.index)
        if sess is None:
            proto = self.detect(chunk.data, chunk.from_client) or "smtp"
            sess = self._sessions[chunk.conn.index] = _Session(proto, chunk.conn)
        if sess.tls:
            out = self._tls_feed(sess, chunk)
        elif sess.dead:
            out = []
        else:
            if chunk.gap:
                sess.frame = chunk.frame
                self._reset(sess)
                out = [self._note(sess, f"{chunk.gap} bytes missing: transfer state reset")]
            else:
                out = []
            out += self._plain(sess, chunk.from_client, chunk.data, chunk.frame)
        if chunk.conn.closed or chunk.rst:
            self.release(chunk.conn)
        return out

    def _plain(self, sess: _Session, from_client: bool, data: bytes, frame: int) -> list[Any]:
        """Mail protocol bytes of one direction (from the wire, or decrypted from TLS)."""
        if sess.dead or sess.proto not in _HANDLERS:
            return []
        sess.frame = frame
        side = sess.c if from_client else sess.s
        side.buf += data
        if len(side.buf) > MAX_MESSAGE + MAX_LINE:
            sess.dead = True
            return [self._note(sess, f"more than {MAX_MESSAGE} bytes buffered: stopped")]
        out: list[Any] = getattr(self, _HANDLERS[sess.proto])(sess)
        if sess.switching:
            if sess.tls:  # STARTTLS inside TLS: nothing to switch to
                sess.switching = False
            else:
                self._switch_to_tls(sess)
        return out

    def _reset(self, sess: _Session) -> None:
        sess.c.clear()
        sess.s.clear()
        sess.c_mode, sess.s_mode = "cmd", "resp"
        sess.data_buf.clear()
        sess.awaiting.clear()
        sess.c_literal_left = 0

    def _note(self, sess: _Session, text: str) -> MailNote:
        return MailNote(sess.frame, sess.conn.index, sess.proto, text)

    def _message(self, sess: _Session, how: str, data: bytes) -> MailMessage:
        st = self._stats.get(sess.conn.index)
        if st is not None:
            st.messages += 1
            st.proto = sess.proto
        return MailMessage(
            sess.frame, sess.conn.index, sess.proto, how, data, sess.mail_from, list(sess.rcpt)
        )

    def _starttls(self, sess: _Session) -> MailNote:
        sess.switching = True
        st = self._stats.get(sess.conn.index)
        if st is not None:
            st.starttls = True
        return self._note(sess, "STARTTLS accepted: the rest of the connection is TLS")

    def _switch_to_tls(self, sess: _Session) -> None:
        """After STARTTLS: unread bytes are the start of TLS; the mail session restarts inside
        it (RFC 3207 section 4.2 -- nothing learnt before TLS is kept)."""
        sess.pending = {True: bytes(sess.c.buf), False: bytes(sess.s.buf)}
        self._reset(sess)
        sess.mail_from, sess.rcpt = None, []
        sess.switching, sess.tls = False, True

    def _tls_feed(self, sess: _Session, chunk: StreamChunk) -> list[Any]:
        """TLS records of the connection (shown like any TLS record) and, when decrypted, the
        application data read as the mail protocol again."""
        from netsec_layers.session.tcp import StreamChunk as Chunk
        from netsec_layers.session.tls import CT_APPDATA

        data = sess.pending.pop(chunk.from_client, b"") + chunk.data
        recs = self._tls.feed(
            Chunk(
                chunk.conn,
                chunk.from_client,
                data,
                chunk.frame,
                chunk.ts_ns,
                chunk.gap,
                chunk.fin,
                chunk.rst,
            )
        )
        out: list[Any] = list(recs)
        for rec in recs:
            if not (rec.decrypted and rec.inner_content_type == CT_APPDATA and rec.plaintext):
                continue
            if sess.proto == "tls":  # implicit TLS: the protocol shows in the first plaintext
                sess.proto = self.detect(rec.plaintext, rec.from_client) or "tls"
                if sess.proto == "tls":
                    continue
            out += self._plain(sess, rec.from_client, rec.plaintext, rec.frame)
        return out

    # -- SMTP -----------------------------------------------------------------------------
    def _smtp(self, sess: _Session) -> list[Any]:
        out: list[Any] = []
        progress = True
        while progress and not sess.switching and not sess.dead:
            progress = False
            # server replies (complete multi-line replies: last line "NNN ")
            line = sess.s.line()
            while line is not None and not sess.switching:
                progress = True
                if line[3:4] != b"-":
                    out += self._smtp_reply(sess, line[:3])
                line = sess.s.line()
            if sess.switching:
                break
            out_c, moved = self._smtp_client(sess)
            out += out_c
            progress = progress or moved
        return out

    def _smtp_reply(self, sess: _Session, code: bytes) -> list[Any]:
        cmd = sess.awaiting.popleft() if sess.awaiting else b""
        if cmd == b"DATA" and sess.c_mode == "wait354":
            sess.c_mode = "data" if code == b"354" else "cmd"
        elif cmd == b"STARTTLS" and code == b"220":
            return [self._starttls(sess)]
        return []

    def _smtp_client(self, sess: _Session) -> tuple[list[Any], bool]:
        out: list[Any] = []
        moved = False
        while sess.c_mode != "wait354" and not sess.dead:
            if sess.c_mode in ("data", "bdat"):
                msg = self._smtp_data(sess) if sess.c_mode == "data" else self._smtp_bdat(sess)
                if msg is False:
                    break
                moved = True
                if msg is not True:
                    out.append(msg)
                continue
            line = sess.c.line()
            if line is None:
                break
            moved = True
            note = self._smtp_command(sess, line)
            if note is not None:
                out.append(note)
        return out, moved

    def _smtp_data(self, sess: _Session) -> MailMessage | bool:
        """The DATA body up to the lone "." line (RFC 5321 section 4.1.1.4); False if not yet."""
        body = sess.c.dot_terminated()
        if body is None:
            return False
        sess.c_mode = "cmd"
        sess.awaiting.append(b"END-DATA")
        return self._message(sess, "DATA", _undot(body))

    def _smtp_bdat(self, sess: _Session) -> MailMessage | bool:
        """RFC 3030: exactly the announced size follows BDAT; the LAST chunk ends a message."""
        piece = sess.c.take(sess.bdat_left)
        if piece is None:
            return False
        sess.data_buf += piece
        sess.c_mode = "cmd"
        if not sess.bdat_last:
            return True
        msg = self._message(sess, "BDAT", bytes(sess.data_buf))
        sess.data_buf.clear()
        return msg

    def _smtp_command(self, sess: _Session, line: bytes) -> MailNote | None:
        words = line.strip().split()
        verb = words[0].upper() if words else b""
        sess.awaiting.append(verb if verb in (b"DATA", b"STARTTLS") else b"CMD")
        if verb == b"MAIL" and len(words) > 1:
            sess.mail_from = _addr(line)
            sess.rcpt = []
        elif verb == b"RCPT":
            a = _addr(line)
            if a is not None:
                sess.rcpt.append(a)
        elif verb == b"DATA":
            sess.c_mode = "wait354"
        elif verb == b"BDAT" and len(words) >= 2 and words[1].isdigit():
            sess.bdat_left = int(words[1])
            sess.bdat_last = len(words) > 2 and words[2].upper() == b"LAST"
            if len(sess.data_buf) + sess.bdat_left > MAX_MESSAGE:
                sess.dead = True
                return self._note(sess, "BDAT message too large: stopped")
            sess.c_mode = "bdat"
        return None

    # -- POP3 -----------------------------------------------------------------------------
    def _pop3(self, sess: _Session) -> list[Any]:
        while True:
            line = sess.c.line()
            if line is None:
                break
            sess.awaiting.append(line.strip())
        out: list[Any] = []
        while not sess.switching:
            if sess.s_mode == "multi":
                raw = sess.s.dot_terminated()
                if raw is None:
                    break
                body = _undot(raw)
                sess.s_mode = "resp"
                if sess.multi_cmd == b"RETR":
                    out.append(self._message(sess, "RETR", body))
                continue
            line = sess.s.line()
            if line is None:
                break
            if not sess.awaiting:
                continue  # the greeting, or a reply we cannot pair
            cmd = sess.awaiting.popleft()
            words = cmd.split()
            verb = words[0].upper() if words else b""
            if not line.startswith(b"+OK"):
                continue
            multi = verb in (b"RETR", b"TOP", b"CAPA") or (
                verb in (b"LIST", b"UIDL") and len(words) == 1
            )
            if verb == b"STLS":
                out.append(self._starttls(sess))
            elif multi:
                sess.s_mode, sess.multi_cmd = "multi", verb
        return out

    # -- IMAP -----------------------------------------------------------------------------
    def _imap(self, sess: _Session) -> list[Any]:
        return self._imap_client(sess) + self._imap_server(sess)

    def _imap_client(self, sess: _Session) -> list[Any]:
        """Client commands; literals after APPEND carry a message (RFC 9051 section 6.3.12)."""
        out: list[Any] = []
        while True:
            if sess.c_literal_left:
                piece = sess.c.take(sess.c_literal_left)
                if piece is None:
                    break
                sess.c_literal_left = 0
                if sess.c_literal_msg:
                    out.append(self._message(sess, "APPEND", piece))
                continue
            line = sess.c.line()
            if line is None:
                break
            words = line.split()
            if len(words) >= 2 and words[1].upper() == b"STARTTLS":
                sess.awaiting.append(words[0])
            m = _LITERAL.search(line)
            if m:
                sess.c_literal_left = int(m.group(1))
                sess.c_literal_msg = len(words) >= 2 and words[1].upper() == b"APPEND"
        return out

    def _imap_server(self, sess: _Session) -> list[Any]:
        """Server responses; a FETCH literal of a whole message is a message."""
        out: list[Any] = []
        while not sess.switching and not sess.dead:
            if sess.s_mode == "literal":
                piece = sess.s.take(sess.literal_left)
                if piece is None:
                    break
                sess.s_mode = "resp"
                if sess.literal_whole:
                    out.append(self._message(sess, "FETCH", piece))
                continue
            line = sess.s.line()
            if line is None:
                break
            m = _LITERAL.search(line)
            if m:
                sess.literal_left = int(m.group(1))
                sess.literal_whole = bool(_IMAP_WHOLE.search(line)) and b" FETCH " in line.upper()
                if sess.literal_left > MAX_MESSAGE:
                    sess.dead = True
                    out.append(self._note(sess, "IMAP literal too large: stopped"))
                    break
                sess.s_mode = "literal"
                continue
            words = line.split()
            tagged_ok = len(words) >= 2 and words[1].upper() == b"OK"
            if tagged_ok and sess.awaiting and words[0] == sess.awaiting[0]:
                sess.awaiting.popleft()
                out.append(self._starttls(sess))
        return out


def _addr(line: bytes) -> str | None:
    m = re.search(rb"<([^>]*)>", line)
    if m is None:
        return None
    return m.group(1).decode("utf-8", "replace")
