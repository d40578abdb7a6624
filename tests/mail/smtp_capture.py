"""Record real SMTP sessions between Python's ``smtplib`` and ``aiosmtpd`` (a real SMTP server
from PyPI) on 127.0.0.1 with tcpdump, and return what the server received.

Used by test_mail_tracker.py (live, integration) and run as a script to refresh the committed
sample ``pcaps/mail/smtp-aiosmtpd.pcap`` (+ ``.json`` with the messages the server stored and
``.keys``, the TLS key log of the STARTTLS part)::

    python -m tests.mail.smtp_capture pcaps/mail/smtp-aiosmtpd
"""

from __future__ import annotations

import hashlib
import json
import smtplib
import ssl
import sys
from pathlib import Path
from typing import Any

from tools.loopback_capture import free_port, pattern, tcpdump_capture

CMS = Path(__file__).parents[1] / "vectors" / "mail" / "cms"

MESSAGES: list[bytes] = [
    b"From: a@example.org\r\nTo: b@example.org\r\nSubject: one\r\n\r\nhello\r\n",
    # lines starting with "." are dot-stuffed on the wire (RFC 5321 section 4.5.2)
    b"Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n",
    # 8-bit and a body of ~300 KB (many TCP segments)
    b"Subject: big\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    + b"\xc3\xa9t\xc3\xa9 \r\n"
    + b"".join(pattern("smtp", 60).hex().encode() + b"\r\n" for _ in range(800)),
    # an S/MIME message (openssl-made) travels unchanged
    (CMS / "signed-then-enveloped.eml").read_bytes().replace(b"\n", b"\r\n"),
]
AFTER_TLS = b"Subject: secret\r\n\r\nsent after STARTTLS\r\n"


def run_session(port: int, keylog: Path | None) -> list[dict[str, Any]]:
    """Start aiosmtpd, send MESSAGES (and one more after STARTTLS), return what it stored."""
    from aiosmtpd.controller import Controller

    received: list[dict[str, Any]] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(
                {
                    "mail_from": envelope.mail_from,
                    "rcpt_to": list(envelope.rcpt_tos),
                    "length": len(envelope.original_content),
                    "sha256": hashlib.sha256(envelope.original_content).hexdigest(),
                }
            )
            return "250 OK"

    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(CMS / "rsa.crt", CMS / "rsa.key")
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=tls)
    ctl.start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
            c.ehlo("client.example")
            for i, msg in enumerate(MESSAGES):
                c.sendmail(f"sender{i}@example.org", [f"rcpt{i}@example.org", "x@example.net"], msg)
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            if keylog is not None:
                ctx.keylog_filename = str(keylog)
            c.starttls(context=ctx)
            c.ehlo("client.example")
            c.sendmail("late@example.org", ["r@example.org"], AFTER_TLS)
    finally:
        ctl.stop()
    return received


def capture(out: Path, keylog: Path | None = None) -> list[dict[str, Any]]:
    port = free_port()
    result: list[dict[str, Any]] = tcpdump_capture(
        out, lambda: run_session(port, keylog), bpf=f"tcp port {port}"
    )
    return result


if __name__ == "__main__":
    stem = Path(sys.argv[1])
    stem.parent.mkdir(parents=True, exist_ok=True)
    got = capture(stem.with_suffix(".pcap"), stem.with_suffix(".keys"))
    stem.with_suffix(".json").write_text(json.dumps(got, indent=1) + "\n")
    print(f"{len(got)} messages stored by aiosmtpd")
