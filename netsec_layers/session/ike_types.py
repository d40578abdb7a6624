"""Data types of the IKE tracker: message events, verdicts, and per-IKE-SA state.

Kept apart from :mod:`netsec_layers.session.ike` so that the helper modules (CHILD_SA
derivation, IKEv1, stats) and the tracker import them without importing each other.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from netsec_layers.crypto.ike import IKEv2Keys, SKCipher
from netsec_layers.keys.ike_keys import IKEKeys, IKEv2KeyEntry
from netsec_layers.session.ike_wire import Proposal

__all__ = [
    "AuthVerdict",
    "Exchange",
    "IKEMessage",
    "IKESAState",
    "IKEVerdict",
    "SAStats",
    "TrackerView",
]


@dataclass
class SAStats:
    """Counters of one IKE SA for ``netsec stats``."""

    messages: int = 0
    decrypted: int = 0
    failed: int = 0
    exchanges: Counter[str] = field(default_factory=Counter)
    auth: list[tuple[int, str]] = field(default_factory=list)  # (method, verdict) per AUTH
    child_spis: list[str] = field(default_factory=list)


class IKEVerdict(Enum):
    """What became of a message's encrypted payload."""

    NONE = "no encrypted payload"
    DECRYPTED = "decrypted"
    NO_KEYS = "no keys for this IKE SA"
    BAD_ICV = "integrity check failed"
    MALFORMED = "malformed"
    UNSUPPORTED = "unsupported algorithm"


class AuthVerdict(Enum):
    """RFC 7296 §2.15 AUTH payload check of an IKE_AUTH message."""

    VERIFIED = "verified"
    FAILED = "failed"
    NO_PSK = "no PSK given"
    NO_KEYS = "no SK_p (needs g_ir or the IKE_SA_INIT messages)"
    NOT_PSK = "not a shared-key AUTH method"


@dataclass(slots=True)
class IKEMessage:
    """One complete IKE message (the ``netsec dissect --json`` unit)."""

    frame: int
    version: int
    spi_i: bytes
    spi_r: bytes
    exchange_type: int
    message_id: int
    flags: int
    payloads: list[int]
    verdict: IKEVerdict
    inner_payloads: list[int] | None = None
    error: str | None = None
    src: str = ""
    dst: str = ""
    fragments: int = 0
    plaintext: bytes | None = None  # decrypted inner payloads (for the layers / tests)
    inner_first: int = 0
    authenticated: bool | None = None  # IKEv1: HASH verified (True) or not checkable (None)
    auth_method: int | None = None  # AUTH payload inside (IKE_AUTH)
    auth_verdict: AuthVerdict | None = None
    raw: bytes = b""  # the message as received (the last fragment's, for SKF)

    def layers(self) -> list[Any]:
        """Scapy packets for ``netsec dissect -V``: the message, then the decrypted payloads."""
        from netsec_layers.layers.ike import ISAKMP, IKEv2
        from netsec_layers.layers.ike.v1 import dissect_ikev1_payloads
        from netsec_layers.layers.ike.v2 import dissect_ikev2_payloads

        out: list[Any] = [(IKEv2 if self.version == 2 else ISAKMP)(self.raw)] if self.raw else []
        if self.plaintext is not None and self.inner_first:
            inner = dissect_ikev2_payloads if self.version == 2 else dissect_ikev1_payloads
            out.append(inner(self.inner_first, self.plaintext))
        return out

    @property
    def decrypted(self) -> bool:
        return self.verdict is IKEVerdict.DECRYPTED

    def to_json(self) -> dict[str, Any] | None:
        return {
            "proto": "ike",
            "frame": self.frame,
            "version": self.version,
            "spi_i": self.spi_i.hex(),
            "spi_r": self.spi_r.hex(),
            "exchange_type": self.exchange_type,
            "message_id": self.message_id,
            "flags": self.flags,
            "payloads": self.payloads,
            "decrypted": self.decrypted,
            "inner_payloads": self.inner_payloads,
            "error": self.error,
            "src": self.src,
            "dst": self.dst,
            "fragments": self.fragments,
            "authenticated": self.authenticated,
            "auth_method": self.auth_method,
            "auth_verdict": self.auth_verdict.value if self.auth_verdict else None,
        }

    def summary(self) -> str:
        from netsec_layers.constants.ike import ExchangeType, IKEv1Exchange

        try:
            ex = (ExchangeType if self.version == 2 else IKEv1Exchange)(self.exchange_type).name
        except ValueError:
            ex = str(self.exchange_type)
        kind = "response" if self.flags & 0x20 else "request"
        what = "decrypted" if self.decrypted else self.verdict.value
        return f"IKEv{self.version} {ex} {kind} #{self.message_id} ({what})"


@dataclass
class Exchange:
    """What a CREATE_CHILD_SA / IKE_AUTH request and response carried (decrypted)."""

    nonce_i: bytes = b""
    nonce_r: bytes = b""
    ke_i: bool = False
    sa_i: list[Proposal] = field(default_factory=list)
    sa_r: list[Proposal] = field(default_factory=list)
    transport_i: bool = False
    transport_r: bool = False


@dataclass
class IKESAState:
    spi_i: bytes
    spi_r: bytes
    initiator: str = ""  # address of the original initiator
    responder: str = ""
    nonce_i: bytes = b""
    nonce_r: bytes = b""
    proposal: Proposal | None = None
    keys: IKEv2Keys | None = None
    entry: IKEv2KeyEntry | None = None
    cipher_i: SKCipher | None = None
    cipher_r: SKCipher | None = None
    exchanges: dict[int, Exchange] = field(default_factory=dict)
    fragments: dict[tuple[int, bool], dict[int, tuple[bytes, int]]] = field(default_factory=dict)
    pending_bytes: int = 0
    udp_ports: tuple[int, int] | None = None
    parent_sk_d: bytes | None = None  # §2.18: this SA came from a rekey
    parent_prf: int | None = None
    init_msgs: dict[bool, bytes] = field(default_factory=dict)  # is_response -> IKE_SA_INIT
    stats: SAStats = field(default_factory=SAStats)


class TrackerView(Protocol):
    """What the helper modules use of :class:`~netsec_layers.session.ike.IKETracker`."""

    keys: IKEKeys
    sas: dict[bytes, IKESAState]
    derived: list[Any]
    v1_states: dict[bytes, Any]

    def _sk_d(self, sa: IKESAState) -> tuple[bytes, int] | None: ...
