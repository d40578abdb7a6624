"""Events and per-association state of the DTLS tracker (:mod:`netsec_layers.session.dtls`).

:class:`DTLSRecordEvent` is what consumers read (``netsec dissect`` JSON/lines, ``stats``, the
plaintext writer); :class:`DTLSAssociation` is the tracker's state of one association, kept
readable for ``stats`` (endpoints, version, suite, cookie exchange, retransmissions, counts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar

from netsec_layers.session.dtls_reassembly import HandshakeMessage, HandshakeReassembler
from netsec_layers.session.ipsec_replay import ReplayWindow

if TYPE_CHECKING:
    from netsec_layers.crypto.tls_suites import CipherSuiteInfo
    from netsec_layers.session import tls_hello as hs

__all__ = [
    "DTLS10",
    "DTLS12",
    "DTLS13",
    "DTLSAssociation",
    "DTLSFailure",
    "DTLSRecordEvent",
    "split_records",
]

DTLS10, DTLS12, DTLS13 = 0xFEFF, 0xFEFD, 0xFEFC
CT_APPDATA, CT_CID = 23, 25
MAX_RECORDS_PER_DATAGRAM = 256


class DTLSFailure(Enum):
    """Why a DTLS record was not (or not fully) decrypted/accepted."""

    NO_KEY = "no key for this association"
    DECRYPTION_FAILED = "decryption failed"
    REPLAYED = "replay: replayed"
    OUTSIDE_WINDOW = "replay: outside-window"
    MALFORMED = "malformed"
    UNSUPPORTED = "unsupported"
    FINISHED_MISMATCH = "finished mismatch"
    HANDSHAKE_REJECTED = "handshake fragment rejected"


@dataclass(slots=True)
class DTLSRecordEvent:
    """One DTLS record of one datagram."""

    proto: ClassVar[str] = "dtls"
    frame: int
    ts_ns: int
    stream: int
    from_client: bool
    src: tuple[str, int]
    dst: tuple[str, int]
    content_type: int  # the wire type (for a DTLS 1.3 unified header: its first byte)
    version: int  # 0xfeff / 0xfefd (0xfefc for a unified header, which has no version field)
    epoch: int
    seq: int  # 48-bit record sequence number (DTLS 1.3: reconstructed once decrypted)
    length: int
    raw: bytes
    decrypted: bool = False
    inner_content_type: int | None = None
    plaintext: bytes | None = None
    handshake_types: list[int] = field(default_factory=list)
    fragments: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    alert: tuple[int, int] | None = None
    error: str | None = None
    failure: DTLSFailure | None = None
    cid: bytes | None = None
    retransmission: bool = False

    def to_json(self) -> dict[str, Any]:
        """The ``netsec dissect --json`` object of issue #16 (keys only ever added)."""
        return {
            "proto": "dtls",
            "frame": self.frame,
            "stream": self.stream,
            "dir": "c2s" if self.from_client else "s2c",
            "content_type": self.content_type,
            "version": self.version,
            "epoch": self.epoch,
            "seq": self.seq,
            "length": self.length,
            "decrypted": self.decrypted,
            "inner_content_type": self.inner_content_type,
            "handshake_types": list(self.handshake_types),
            "alert": list(self.alert) if self.alert else None,
            "app_data": self.plaintext.hex()
            if self.inner_content_type == CT_APPDATA and self.plaintext is not None
            else None,
            "error": self.error,
            "cid": self.cid.hex() if self.cid is not None else None,
            # [msg_type, length, message_seq, fragment_offset, fragment_length] per fragment
            "fragments": [list(f) for f in self.fragments],
            "retransmission": self.retransmission,
        }

    def layers(self) -> list[Any]:
        """Scapy view for ``netsec dissect -V``: the record as on the wire, then (when
        decrypted) the messages of its plaintext.  Scapy is imported here, on demand."""
        from netsec_layers.layers.dtls import dissect_dtls
        from netsec_layers.layers.dtls.record import parse_content

        rec = dissect_dtls(self.raw, cid_length=len(self.cid) if self.cid is not None else None)
        out: list[Any] = [rec]
        if self.decrypted and self.plaintext is not None and self.inner_content_type is not None:
            out += parse_content(rec, self.inner_content_type, self.plaintext, protected=False)
        return out

    def summary(self) -> str:
        from netsec_layers.constants.tls import ContentType, HandshakeType, name_of

        label = {DTLS10: "DTLSv1.0", DTLS12: "DTLSv1.2", DTLS13: "DTLSv1.3"}.get(
            self.version, f"0x{self.version:04x}"
        )
        ct = self.inner_content_type if self.inner_content_type is not None else self.content_type
        text = f"{label} {name_of(ContentType, ct)} epoch={self.epoch} seq={self.seq}"
        if self.fragments:
            parts = []
            for mt, length, _mseq, off, flen in self.fragments:
                name = name_of(HandshakeType, mt)
                parts.append(name if off == 0 and flen == length else f"{name} [{off}+{flen}]")
            text += " " + ", ".join(parts)
        if self.alert:
            text += f" alert {self.alert[0]}/{self.alert[1]}"
        if self.decrypted:
            text += f" (decrypted, {len(self.plaintext or b'')} bytes)"
        if self.retransmission:
            text += " [retransmission]"
        if self.error:
            text += f" [{self.error}]"
        return text


@dataclass(slots=True)
class _Side:
    """State of the records sent by one endpoint."""

    reasm: HandshakeReassembler = field(default_factory=HandshakeReassembler)
    keys: dict[int, Any] = field(default_factory=dict)  # epoch -> protection
    replay: dict[int, ReplayWindow] = field(default_factory=dict)
    next13: dict[int, int] = field(default_factory=dict)  # DTLS 1.3: epoch -> next seq
    secrets13: dict[int, bytes] = field(default_factory=dict)
    cid_length: int | None = None  # length of the CID *this side receives* (RFC 9146 §3)
    epoch: int = 0  # epoch of this side's handshake messages


@dataclass(slots=True)
class DTLSAssociation:
    """One DTLS association (one UDP conversation; a new ClientHello starts over)."""

    stream: int
    client: tuple[str, int]
    server: tuple[str, int]
    c: _Side = field(default_factory=_Side)
    s: _Side = field(default_factory=_Side)
    version: int | None = None
    suite: int | None = None
    suite_info: CipherSuiteInfo | None = None
    client_hello: hs.Hello | None = None
    server_hello: hs.Hello | None = None
    cookie_exchange: bool = False
    resumed: bool = False
    ems: bool = False
    etm: bool = False
    master_secret: bytes | None = None
    key_source: str | None = None
    transcript: list[HandshakeMessage] = field(default_factory=list)
    transcript_size: int = 0
    finished_ok: dict[str, bool] = field(default_factory=dict)
    records: int = 0
    decrypted: int = 0
    failed: int = 0

    @property
    def retransmissions(self) -> int:
        return self.c.reasm.retransmissions + self.s.reasm.retransmissions


def split_records(data: bytes, cid_length: int | None) -> list[tuple[int, int]]:
    """(offset, size) of each record of a datagram; a tail that does not frame is left out."""
    out: list[tuple[int, int]] = []
    off = 0
    while off < len(data) and len(out) < MAX_RECORDS_PER_DATAGRAM:
        first = data[off]
        if 0x20 <= first <= 0x3F:  # DTLS 1.3 unified header (RFC 9147 §4)
            n = 1 + ((cid_length or 0) if first & 0x10 else 0) + (2 if first & 0x08 else 1)
            if not first & 0x04:
                size = len(data) - off
            elif off + n + 2 <= len(data):
                size = n + 2 + int.from_bytes(data[off + n : off + n + 2], "big")
            else:
                break
        elif off + 13 <= len(data) and data[off + 1] == 0xFE:
            cid = (cid_length or 0) if first == CT_CID else 0
            if off + 13 + cid > len(data):
                break
            size = 13 + cid + int.from_bytes(data[off + 11 + cid : off + 13 + cid], "big")
        else:
            break
        if off + size > len(data):
            break
        out.append((off, size))
        off += size
    return out
