"""ESP and AH as seen in a capture: the SA database applied packet by packet.

:class:`IPsecTracker` is the engine's tracker for IP protocols 50/51 and UDP-encapsulated ESP
(RFC 3948): it frames each packet, decrypts or verifies it with the SA database (authenticating
first), and judges the plaintext of separately authenticated ciphers (a right integrity key
with a wrong encryption key).  Outcomes are :class:`IPsecInfo` units with a typed
:class:`~netsec_layers.session.verdicts.IPsecFailure`; a decrypted ESP packet carries its
:class:`~netsec_layers.session.ipsec.ESPPlaintext`, whose inner packet the engine
decapsulates.
Unlike the stream and datagram trackers it is not chosen by content: ESP and AH are IP
protocols, and an SA database belongs to the whole capture, not to one connection.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from netsec_layers.errors import (
    ImplausiblePlaintextError,
    IntegrityError,
    NetsecError,
    ReplayError,
    UnknownSPIError,
)
from netsec_layers.keys.sa import SecurityAssociation
from netsec_layers.session.ipsec import (
    SEPARATELY_AUTHENTICATED,
    ESPPlaintext,
    SADatabase,
    implausible_reason,
)
from netsec_layers.session.netstack import IPPacket
from netsec_layers.session.verdicts import IPsecFailure

__all__ = ["EngineStats", "IPsecInfo", "IPsecTracker", "icv_error_text", "implausible_text"]

_AH_HDR = struct.Struct("!BBHII")
_ESP_HDR = struct.Struct("!II")


@dataclass(slots=True)
class IPsecInfo:
    """One ESP or AH packet as seen (and, with an SA, opened or verified)."""

    proto: str  # "esp" | "ah"
    frame: int
    spi: int
    seq: int
    src: str
    dst: str
    udp_encap: bool = False
    decrypted: bool = False
    iv: bytes | None = None
    pad_length: int | None = None
    next_header: int | None = None
    icv: bytes | None = None
    inner: bytes | None = None
    error: str | None = None
    opened: ESPPlaintext | None = None
    failure: IPsecFailure | None = None  # the typed reason behind ``error``

    def to_json(self) -> dict[str, Any]:
        """The ``netsec dissect --json`` object for ESP/AH (contract of issue #3)."""
        return {
            "proto": self.proto,
            "frame": self.frame,
            "spi": self.spi,
            "seq": self.seq,
            "decrypted": self.decrypted,
            "iv": self.iv.hex() if self.iv is not None else None,
            "pad_length": self.pad_length,
            "next_header": self.next_header,
            "icv": self.icv.hex() if self.icv is not None else None,
            "inner": self.inner.hex() if self.inner is not None else None,
            "error": self.error,
        }


@dataclass(slots=True)
class EngineStats:
    frames: int = 0
    tls_records: int = 0
    tls_decrypted: int = 0
    tls_failed: int = 0
    esp_packets: int = 0
    esp_decrypted: int = 0
    esp_failed: dict[str, int] = field(default_factory=dict)
    esp_no_key: int = 0
    # units of the other protocol trackers, by tracker name ("ssh", "ike", "dtls", "mail"),
    # and how many of them were decrypted (units with a true ``decrypted``)
    units: dict[str, int] = field(default_factory=dict)
    units_decrypted: dict[str, int] = field(default_factory=dict)


class IPsecTracker:
    """ESP/AH packets through an SA database (``None``: dissected only)."""

    name = "ipsec"

    def __init__(self, sadb: SADatabase | None, *, check_replay: bool, stats: EngineStats) -> None:
        self.sadb = sadb
        self.check_replay = check_replay
        self.stats = stats

    def add_sa(self, sa: SecurityAssociation) -> None:
        """An SA learned during the capture (a pcapng DSB, or derived from IKE)."""
        if self.sadb is None:
            self.sadb = SADatabase()
        self.sadb.add(sa)

    def esp(self, esp: bytes, ip: IPPacket, frame: int, *, udp: bool) -> IPsecInfo:
        """One ESP packet (from the SPI to the end of the IP or UDP payload)."""
        self.stats.esp_packets += 1
        if len(esp) < 8:
            return IPsecInfo(
                "esp", frame, -1, -1, ip.src, ip.dst, udp,
                error="malformed: shorter than SPI and sequence number",
                failure=IPsecFailure.MALFORMED,
            )  # fmt: skip
        spi, seq = _ESP_HDR.unpack_from(esp)
        src, dst = ip.src, ip.dst
        if self.sadb is None:
            return IPsecInfo("esp", frame, spi, seq, src, dst, udp)
        try:
            opened = self.sadb.decrypt(esp, src=src, dst=dst, check_replay=self.check_replay)
        except UnknownSPIError as exc:
            self.stats.esp_no_key += 1
            return IPsecInfo(
                "esp", frame, spi, seq, src, dst, udp,
                error=str(exc), failure=IPsecFailure.NO_SA,
            )  # fmt: skip
        except ReplayError as exc:
            return self._fail(
                IPsecInfo("esp", frame, spi, seq, src, dst, udp),
                IPsecFailure.REPLAY,
                f"replay: {exc.verdict.value}",
            )
        except IntegrityError as exc:
            return self._fail(
                IPsecInfo("esp", frame, spi, seq, src, dst, udp),
                IPsecFailure.ICV,
                icv_error_text(exc),
            )
        except NetsecError as exc:  # TruncatedError, ParseError: authenticated but malformed
            info = IPsecInfo("esp", frame, spi, seq, src, dst, udp)
            if isinstance(exc, ImplausiblePlaintextError):
                return self._fail(info, IPsecFailure.IMPLAUSIBLE, implausible_text(str(exc)))
            return self._fail(info, IPsecFailure.MALFORMED, f"malformed: {exc}")
        if opened.sa.encryption in SEPARATELY_AUTHENTICATED:
            why = implausible_reason(opened)
            if why is not None:
                # RFC 4303 §3.4.4: the ICV covers only the ciphertext.  With the right integrity
                # key and a wrong encryption key it verifies, and the "plaintext" is noise.
                return self._fail(
                    IPsecInfo("esp", frame, spi, seq, src, dst, udp),
                    IPsecFailure.IMPLAUSIBLE,
                    implausible_text(why),
                )
        self.stats.esp_decrypted += 1
        # One constructor call with every field (the per-packet path of decrypt -w / dissect).
        return IPsecInfo(
            "esp", frame, spi, opened.wire_seq, src, dst, udp, True, opened.iv,
            opened.pad_length, opened.next_header, opened.icv, opened.payload,
            None if opened.pad_ok else "padding does not follow RFC 4303 §2.4", opened,
        )  # fmt: skip

    def ah(self, ip: IPPacket) -> IPsecInfo:
        """One AH packet (RFC 4302), its ICV verified when an SA is known."""
        p = ip.payload
        frame_no = ip.frame
        if len(p) < 12:
            return IPsecInfo(
                "ah", frame_no, -1, -1, ip.src, ip.dst, error="malformed: truncated AH header"
            )
        nh, plen, _res, spi, seq = _AH_HDR.unpack_from(p)
        hlen = (plen + 2) * 4
        info = IPsecInfo("ah", frame_no, spi, seq, ip.src, ip.dst, next_header=nh)
        if hlen > len(p) or hlen < 12:
            info.error = "malformed: AH payload length past the end"
            return info
        info.icv = p[12:hlen]
        info.inner = p[hlen:]
        if self.sadb is None:
            return info
        try:
            self.sadb.verify_ah(ip, check_replay=self.check_replay)
        except UnknownSPIError as exc:
            info.error = str(exc)
            info.failure = IPsecFailure.NO_SA
        except ReplayError as exc:
            info.error = f"replay: {exc.verdict.value}"
            info.failure = IPsecFailure.REPLAY
        except IntegrityError as exc:
            info.error = icv_error_text(exc)
            info.failure = IPsecFailure.ICV
        except NetsecError as exc:
            info.error = f"malformed: {exc}"
            info.failure = IPsecFailure.MALFORMED
        else:
            info.decrypted = True
        return info

    def _fail(self, info: IPsecInfo, failure: IPsecFailure, text: str) -> IPsecInfo:
        info.failure = failure
        info.error = text
        failed = self.stats.esp_failed
        failed[failure.name.lower()] = failed.get(failure.name.lower(), 0) + 1
        return info


def icv_error_text(exc: IntegrityError) -> str:
    """The JSON ``error`` of an ICV failure: always starts with ``ICV mismatch``."""
    text = str(exc)
    return text if text.startswith("ICV mismatch") else f"ICV mismatch: {text}"


def implausible_text(why: str) -> str:
    return f"ICV ok, plaintext implausible: wrong encryption key? ({why})"
