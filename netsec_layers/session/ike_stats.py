"""``netsec stats`` rows for IKE: one per IKE SA (SPIs, peers, chosen proposal, exchanges,
messages decrypted/failed, AUTH method and verdict, CHILD_SAs derived)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netsec_layers.constants.ike import (
    AuthMethod,
    DHGroup,
    EncrTransform,
    ExchangeType,
    IntegTransform,
    PrfTransform,
)
from netsec_layers.session.trackers import SADerived

if TYPE_CHECKING:
    from collections.abc import Iterable

    from netsec_layers.session.ike_types import IKESAState, SAStats
    from netsec_layers.session.ike_wire import Proposal

__all__ = ["count", "proposal_name", "rows"]


def _name(enum: Any, value: int) -> str:
    try:
        return str(enum(value).name)
    except ValueError:
        return str(value)


def proposal_name(p: Proposal | None) -> str | None:
    """``ENCR_AES_CBC-128/PRF_HMAC_SHA2_256/AUTH_HMAC_SHA2_256_128/CURVE25519``."""
    if p is None:
        return None
    parts = []
    for t in p.transforms:
        enum = {1: EncrTransform, 2: PrfTransform, 3: IntegTransform, 4: DHGroup}.get(t.ttype)
        if enum is None:
            continue
        name = _name(enum, t.tid)
        parts.append(f"{name}-{t.key_bits}" if t.key_bits else name)
    return "/".join(parts)


def count(st: SAStats, events: list[Any]) -> None:
    """Account the events one message produced."""
    for ev in events:
        if isinstance(ev, SADerived):
            st.child_spis.append(f"{ev.sa.spi:08x}")
            continue
        st.messages += 1
        st.exchanges[_name(ExchangeType, ev.exchange_type)] += 1
        if ev.decrypted:
            st.decrypted += 1
        elif ev.error:
            st.failed += 1
        if ev.auth_method is not None:
            verdict = ev.auth_verdict.value if ev.auth_verdict else "-"
            st.auth.append((ev.auth_method, verdict))


def rows(sas: Iterable[IKESAState]) -> list[dict[str, Any]]:
    """One row per IKE SA."""
    out = []
    for sa in sas:
        st = sa.stats
        out.append(
            {
                "proto": "ike",
                "version": 2,
                "spi_i": sa.spi_i.hex(),
                "spi_r": sa.spi_r.hex(),
                "initiator": sa.initiator,
                "responder": sa.responder,
                "proposal": proposal_name(sa.proposal),
                "rekey_of_sk_d": sa.parent_sk_d is not None,
                "exchanges": dict(st.exchanges),
                "messages": st.messages,
                "decrypted": st.decrypted,
                "failed": st.failed,
                "auth": [{"method": _name(AuthMethod, m), "verdict": v} for m, v in st.auth],
                "child_sas": st.child_spis,
            }
        )
    return out
