"""Objects carried in a capture, for ``netsec extract``: every mail message (from
:class:`~netsec_layers.session.mail.MailTracker` events) and every distinct TLS certificate
(from the Certificate handshake messages the TLS tracker saw in clear or decrypted -- TLS 1.3
certificates need the key log).

Sans-I/O: :meth:`ObjectExtractor.feed` takes the units of one frame and returns the new
objects; the CLI writes them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from netsec_layers.session.mail import MailMessage
from netsec_layers.session.ssh_channels import SSHChannelDemux
from netsec_layers.session.ssh_events import SSHPacketInfo
from netsec_layers.session.ssh_sftp import SFTPSession
from netsec_layers.session.tls import TLSRecordInfo

__all__ = ["ExtractedObject", "ObjectExtractor", "certificates_of"]

HT_CERTIFICATE = 11
CT_HANDSHAKE = 22
MAX_HANDSHAKE = 1 << 24  # a handshake message's largest possible length + header


@dataclass(slots=True)
class ExtractedObject:
    kind: str  # "mail" | "cert" | "sftp"
    data: bytes
    frame: int  # the frame holding the object's last byte
    stream: int  # TCP connection index (tshark's tcp.stream)
    name: str | None = None  # sftp: "put:" or "get:" and the remote path


def certificates_of(body: bytes) -> list[bytes]:
    """The DER certificates of a Certificate message body: TLS 1.2 (RFC 5246 section 7.4.2:
    ``certificate_list<0..2^24-1>``) or TLS 1.3 (RFC 8446 section 4.4.2: a request context,
    then entries with extensions), told apart by which layout accounts for every byte."""
    for tls13 in (False, True):
        pos = 0
        if tls13:
            if not body:
                continue
            pos = 1 + body[0]
        if pos + 3 > len(body):
            continue
        total = int.from_bytes(body[pos : pos + 3], "big")
        pos += 3
        if pos + total != len(body):
            continue
        certs: list[bytes] = []
        end = pos + total
        ok = True
        while pos < end:
            if pos + 3 > end:
                ok = False
                break
            n = int.from_bytes(body[pos : pos + 3], "big")
            cert = body[pos + 3 : pos + 3 + n]
            pos += 3 + n
            if tls13:
                if pos + 2 > end:
                    ok = False
                    break
                pos += 2 + int.from_bytes(body[pos : pos + 2], "big")
            if len(cert) != n or pos > end:
                ok = False
                break
            certs.append(cert)
        if ok:
            return certs
    return []


class ObjectExtractor:
    """Turns a frame's units into extracted objects (certificates deduplicated)."""

    def __init__(self) -> None:
        self._hs: dict[tuple[int, bool], bytearray] = {}
        self._seen: set[bytes] = set()
        # SFTP (RFC 4254 §6.5 subsystem "sftp") in decrypted SSH channels: files read and written
        self._demux = SSHChannelDemux()
        self._sftp: dict[tuple[int, int], tuple[SFTPSession, list[int]]] = {}

    def feed(self, units: list[Any]) -> list[ExtractedObject]:
        out: list[ExtractedObject] = []
        for u in units:
            if isinstance(u, MailMessage):
                out.append(ExtractedObject("mail", u.data, u.frame, u.stream))
            elif isinstance(u, TLSRecordInfo):
                out += self._tls(u)
            elif isinstance(u, SSHPacketInfo):
                out += self._ssh(u)
        return out

    def finish(self) -> list[ExtractedObject]:
        """At the end of the capture: the files of SFTP channels that did not close."""
        out: list[ExtractedObject] = []
        for key in list(self._sftp):
            out += self._sftp_files(key)
        return out

    def _ssh(self, pkt: SSHPacketInfo) -> list[ExtractedObject]:
        out: list[ExtractedObject] = []
        for seg in self._demux.feed(pkt):
            if seg.subsystem != "sftp":
                continue
            key = (seg.stream, seg.index)
            sess, ends = self._sftp.setdefault(key, (SFTPSession(), []))
            if seg.data:
                sess.feed(seg.from_client, seg.data, seg.frame)
            if seg.end:
                ends.append(seg.frame)
                if len(ends) == 2:
                    out += self._sftp_files(key)
        return out

    def _sftp_files(self, key: tuple[int, int]) -> list[ExtractedObject]:
        sess, ends = self._sftp.pop(key)
        frame = ends[-1] if ends else 0
        out = [
            ExtractedObject("sftp", bytes(data), frame, key[0], f"{how}:{path}")
            for how, files in (("put", sess.files_written), ("get", sess.files_read))
            for path, data in files.items()
        ]
        return out

    def _tls(self, rec: TLSRecordInfo) -> list[ExtractedObject]:
        ct = rec.inner_content_type
        if ct != CT_HANDSHAKE and not (ct is None and rec.content_type == CT_HANDSHAKE):
            return []
        key = (rec.stream, rec.from_client)
        if rec.plaintext is None or ct is None:  # encrypted and not decrypted: lost the thread
            self._hs.pop(key, None)
            return []
        buf = self._hs.setdefault(key, bytearray())
        buf += rec.plaintext
        out: list[ExtractedObject] = []
        while len(buf) >= 4:
            n = int.from_bytes(buf[1:4], "big")
            if len(buf) < 4 + n:
                break
            mtype, body = buf[0], bytes(buf[4 : 4 + n])
            del buf[: 4 + n]
            if mtype != HT_CERTIFICATE:
                continue
            for der in certificates_of(body):
                digest = hashlib.sha256(der).digest()
                if der and digest not in self._seen:
                    self._seen.add(digest)
                    out.append(ExtractedObject("cert", der, rec.frame, rec.stream))
        return out
