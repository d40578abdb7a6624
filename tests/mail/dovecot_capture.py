"""IMAP and POP3 sessions between Python's ``imaplib`` / ``poplib`` and Dovecot (Debian's
dovecot-imapd / dovecot-pop3d), started on 127.0.0.1 with a throw-away configuration, recorded
with tcpdump.  What the clients received is the reference the tracker's output is compared to.

Run as a script to refresh the committed sample ``pcaps/mail/imap-pop3-dovecot.pcap`` (+ .json)::

    python -m tests.mail.dovecot_capture pcaps/mail/imap-pop3-dovecot
"""

from __future__ import annotations

import hashlib
import imaplib
import json
import os
import poplib
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tools.loopback_capture import free_port, tcpdump_capture

MESSAGES = [
    b"From: a@example.org\r\nSubject: first\r\n\r\nhello imap\r\n",
    b"Subject: second\r\n\r\n.a line with a leading dot\r\n{5}\r\nnot a literal\r\n",
    b"Subject: third\r\nContent-Type: text/plain\r\n\r\n" + b"0123456789abcdef\r\n" * 3000,
]
USER, PASSWORD = "tester", "secret pw"


CMS = Path(__file__).parents[1] / "vectors" / "mail" / "cms"


def _config(root: Path, imap: int, pop3: int, imaps: int, pop3s: int) -> Path:
    (root / "run").mkdir()
    (root / "mail").mkdir()
    os.chmod(root, 0o755)
    os.chmod(root / "mail", 0o777)
    (root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    conf = root / "dovecot.conf"
    conf.write_text(
        f"""base_dir = {root}/run
state_dir = {root}/run
log_path = {root}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <{CMS}/rsa.crt
ssl_key = <{CMS}/rsa.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = 1
default_internal_user = dovecot
default_login_user = dovenull
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps}
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = {pop3s}
  }}
}}
"""
    )
    return conf


def _wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"dovecot did not listen on {port}")


def _tls_context(keylog: Path | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if keylog is not None:
        ctx.keylog_filename = str(keylog)
    return ctx


def _tls_sessions(ports: dict[str, int], keylog: Path | None) -> dict[str, Any]:
    """Mail inside TLS: IMAP STARTTLS, POP3 STLS, implicit IMAPS and POP3S."""
    got: dict[str, Any] = {"imap_starttls": [], "pop3_stls": [], "imaps": [], "pop3s": []}
    ctx = _tls_context(keylog)
    c = imaplib.IMAP4("127.0.0.1", ports["imap"], timeout=30)
    c.starttls(ssl_context=ctx)
    c.login(USER, PASSWORD)
    c.select("INBOX")
    typ, data = c.fetch("1", "(BODY.PEEK[])")
    got["imap_starttls"] += [bytes(d[1]) for d in data if isinstance(d, tuple)]
    c.logout()
    p = poplib.POP3("127.0.0.1", ports["pop3"], timeout=30)
    p.stls(context=ctx)
    p.user(USER)
    p.pass_(PASSWORD)
    got["pop3_stls"].append(b"".join(line + b"\r\n" for line in p.retr(2)[1]))
    p.quit()
    s = imaplib.IMAP4_SSL("127.0.0.1", ports["imaps"], ssl_context=ctx, timeout=30)
    s.login(USER, PASSWORD)
    s.select("INBOX")
    typ, data = s.fetch("3", "(RFC822)")
    got["imaps"] += [bytes(d[1]) for d in data if isinstance(d, tuple)]
    s.logout()
    q = poplib.POP3_SSL("127.0.0.1", ports["pop3s"], context=ctx, timeout=30)
    q.user(USER)
    q.pass_(PASSWORD)
    got["pop3s"].append(b"".join(line + b"\r\n" for line in q.retr(1)[1]))
    q.quit()
    return got


def _sessions(imap_port: int, pop3_port: int) -> dict[str, Any]:
    got: dict[str, Any] = {"imap_fetch": [], "imap_append": [], "pop3_retr": []}
    c = imaplib.IMAP4("127.0.0.1", imap_port, timeout=30)
    c.login(USER, PASSWORD)
    for m in MESSAGES:
        c.append("INBOX", None, None, m)
        got["imap_append"].append(m)
    c.select("INBOX")
    # whole messages: BODY.PEEK[] and RFC822; partial ones: header only, a byte range
    typ, data = c.fetch("1:3", "(BODY.PEEK[])")
    got["imap_fetch"] += [bytes(d[1]) for d in data if isinstance(d, tuple)]
    c.fetch("1:3", "(BODY.PEEK[HEADER])")
    c.fetch("1", "(BODY.PEEK[]<0.20>)")
    typ, data = c.fetch("2", "(RFC822)")
    got["imap_fetch"] += [bytes(d[1]) for d in data if isinstance(d, tuple)]
    c.logout()
    p = poplib.POP3("127.0.0.1", pop3_port, timeout=30)
    p.user(USER)
    p.pass_(PASSWORD)
    p.list()
    p.top(1, 0)
    for i in (1, 2, 3):
        _resp, lines, _octets = p.retr(i)
        got["pop3_retr"].append(b"".join(line + b"\r\n" for line in lines))
    p.quit()
    return got


def run_dovecot(out: Path, keylog: Path | None = None) -> dict[str, Any]:
    """Run the sessions against a fresh Dovecot while tcpdump records them; what the clients
    received (length, SHA-256) by kind, and ``ports`` (the implicit-TLS ones are not 993/995)."""
    exe = shutil.which("dovecot") or "/usr/sbin/dovecot"
    assert Path(exe).exists(), "dovecot is required (Debian dovecot-imapd, dovecot-pop3d)"
    ports = {k: free_port() for k in ("imap", "pop3", "imaps", "pop3s")}
    root = Path(tempfile.mkdtemp(prefix="netsec-dovecot-"))
    conf = _config(root, ports["imap"], ports["pop3"], ports["imaps"], ports["pop3s"])
    proc = subprocess.Popen(
        [exe, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )

    def sessions() -> dict[str, Any]:
        got = _sessions(ports["imap"], ports["pop3"])
        got.update(_tls_sessions(ports, keylog))
        return got

    try:
        for port in ports.values():
            _wait_port(port)
        got = tcpdump_capture(
            out, sessions, bpf=" or ".join(f"tcp port {p}" for p in ports.values())
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)
    result: dict[str, Any] = {
        k: [{"length": len(m), "sha256": hashlib.sha256(m).hexdigest()} for m in v]
        for k, v in got.items()
    }
    result["ports"] = ports
    return result


if __name__ == "__main__":
    stem = Path(sys.argv[1])
    result = run_dovecot(stem.with_suffix(".pcap"), stem.with_suffix(".keys"))
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    print({k: len(v) for k, v in result.items()})
