"""CHILD_SA (RFC 7296 §2.17) and rekeyed IKE SA (§2.18) derivation from decrypted exchanges.

IKE_AUTH and CREATE_CHILD_SA requests and responses are recorded per message ID; when the
response carrying the chosen proposal arrives, KEYMAT = prf+(SK_d, [g^ir |] Ni | Nr) is cut in
RFC order (initiator->responder encryption key incl. salt, its integrity key, then the
responder->initiator pair) and mapped to the SPIs: each side's SA payload carries the SPI it
*receives* on.  "Initiator" here is the initiator of the exchange, not of the IKE SA.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netsec_layers.crypto.ike import (
    SK_CIPHERS,
    SK_INTEG,
    enc_key_len,
    integ_key_len,
    keymat,
    psk_auth,
)
from netsec_layers.errors import NetsecError, ParseError
from netsec_layers.keys.sa import SecurityAssociation
from netsec_layers.session.ike_wire import IKEHeader, notify_fields, parse_payloads, parse_sa
from netsec_layers.session.trackers import SADerived

if TYPE_CHECKING:
    from netsec_layers.session.ike_types import IKEMessage, IKESAState, TrackerView

__all__ = ["check_auth", "record_exchange"]

USE_TRANSPORT_MODE = 16391  # RFC 7296 §3.10.1
_ESP_ENCR = {**SK_CIPHERS, 11: "NULL", 21: "AES-GMAC"}
MAX_EXCHANGES = 256


def check_auth(sa: IKESAState, hdr: IKEHeader, ev: IKEMessage) -> None:
    """Verify a shared-key AUTH payload of a decrypted IKE_AUTH message (RFC 7296 §2.15)."""
    import hmac

    from netsec_layers.session.ike_types import AuthVerdict

    pt = ev.plaintext or b""
    try:
        chain = parse_payloads(pt, ev.inner_first, 0, len(pt)) if ev.inner_first else []
    except ParseError:
        return
    want_id = 35 if hdr.from_initiator else 36  # IDi from the initiator, IDr from the responder
    id_body = next((p.body(pt) for p in chain if p.ptype == want_id), None)
    auth = next((p.body(pt) for p in chain if p.ptype == 39), None)
    if auth is None or len(auth) < 4 or id_body is None:
        return
    ev.auth_method = auth[0]
    if auth[0] != 2:
        ev.auth_verdict = AuthVerdict.NOT_PSK
        return
    psk = sa.entry.psk if sa.entry is not None else None
    prf = sa.proposal.get(2) if sa.proposal else None
    # the sender's own IKE_SA_INIT message, and the peer's nonce
    real = sa.init_msgs.get(not hdr.from_initiator)
    nonce = sa.nonce_r if hdr.from_initiator else sa.nonce_i
    if psk is None:
        ev.auth_verdict = AuthVerdict.NO_PSK
        return
    if sa.keys is None or prf is None or real is None or sa.parent_sk_d is not None:
        ev.auth_verdict = AuthVerdict.NO_KEYS
        return
    sk_p = sa.keys.sk_pi if hdr.from_initiator else sa.keys.sk_pr
    want = psk_auth(prf.tid, psk=psk, real_message=real, nonce=nonce, sk_p=sk_p, id_body=id_body)
    ok = hmac.compare_digest(want, auth[4:])
    ev.auth_verdict = AuthVerdict.VERIFIED if ok else AuthVerdict.FAILED


def record_exchange(
    tracker: TrackerView, sa: IKESAState, hdr: IKEHeader, ev: IKEMessage
) -> list[Any]:
    """Note what a decrypted IKE_AUTH/CREATE_CHILD_SA message carries; derive on a response."""
    from netsec_layers.session.ike_types import Exchange

    if hdr.exchange_type not in (35, 36) or ev.plaintext is None:
        return []
    pt = ev.plaintext
    try:
        chain = parse_payloads(pt, ev.inner_first, 0, len(pt)) if ev.inner_first else []
    except ParseError:
        return []
    if hdr.message_id not in sa.exchanges and len(sa.exchanges) >= MAX_EXCHANGES:
        sa.exchanges.pop(next(iter(sa.exchanges)))
    ex = sa.exchanges.setdefault(hdr.message_id, Exchange())
    resp = hdr.is_response
    for p in chain:
        body = p.body(pt)
        try:
            if p.ptype == 33:
                if resp:
                    ex.sa_r = parse_sa(body)
                else:
                    ex.sa_i = parse_sa(body)
            elif p.ptype == 40:
                if resp:
                    ex.nonce_r = body
                else:
                    ex.nonce_i = body
            elif p.ptype == 34 and not resp:
                ex.ke_i = True
            elif p.ptype == 41:
                _, ntype, _, _ = notify_fields(body)
                if ntype == USE_TRANSPORT_MODE:
                    if resp:
                        ex.transport_r = True
                    else:
                        ex.transport_i = True
        except NetsecError:
            return []
    if not resp or not ex.sa_r or not ex.sa_i:
        return []
    out = _derive(tracker, sa, hdr, ev, ex)
    sa.exchanges.pop(hdr.message_id, None)
    return out


def _derive(
    tracker: TrackerView, sa: IKESAState, hdr: IKEHeader, ev: IKEMessage, ex: Any
) -> list[Any]:
    from netsec_layers.session.ike_types import IKESAState as IKESA

    sk = tracker._sk_d(sa)
    if sk is None:
        return []
    sk_d, prf_id = sk
    chosen = ex.sa_r[0]
    req = next(
        (p for p in ex.sa_i if p.number == chosen.number and p.protocol == chosen.protocol), None
    )
    if req is None:
        return []
    if hdr.exchange_type == 35:
        ni, nr = sa.nonce_i, sa.nonce_r
    else:
        ni, nr = ex.nonce_i, ex.nonce_r
    # the exchange's initiator sent the request; this response came from its responder
    if hdr.from_initiator:
        ex_init, ex_resp = sa.responder, sa.initiator
    else:
        ex_init, ex_resp = sa.initiator, sa.responder
    if chosen.protocol == 1:  # IKE SA rekey (§2.18)
        if len(req.spi) != 8 or len(chosen.spi) != 8 or len(tracker.sas) >= 4096:
            return []
        new = IKESA(
            req.spi,
            chosen.spi,
            initiator=ex_init,
            responder=ex_resp,
            nonce_i=ni,
            nonce_r=nr,
            proposal=chosen,
            udp_ports=sa.udp_ports,
            parent_sk_d=sk_d,
            parent_prf=prf_id,
        )
        tracker.sas[req.spi] = new
        return []
    if chosen.protocol not in (2, 3) or len(req.spi) != 4 or len(chosen.spi) != 4:
        return []
    g_ir = b""
    if ex.ke_i:
        e = sa.entry
        pfs = e.pfs.get(hdr.message_id) if e is not None else None
        if pfs is None:
            return []
        g_ir = pfs
    encr = chosen.get(1)
    integ = chosen.get(3)
    esn = chosen.get(5)
    try:
        if chosen.protocol == 3:
            if encr is None:
                return []
            e_name = _ESP_ENCR[encr.tid] if encr.tid in _ESP_ENCR else None
            if e_name is None:
                return []
            e_len = 0 if encr.tid == 11 else enc_key_len(encr.tid, encr.key_bits)
            if encr.tid == 21:
                e_len = (encr.key_bits or 128) // 8 + 4
        else:
            e_name, e_len = "NULL", 0
        i_id = integ.tid if integ else 0
        i_name = SK_INTEG[i_id]
        i_len = integ_key_len(i_id) if i_id else 0
        km = keymat(
            prf_id, sk_d=sk_d, nonce_i=ni, nonce_r=nr, g_ir=g_ir, length=2 * (e_len + i_len)
        )
        parts = [km[:e_len], km[e_len : e_len + i_len]]
        rest = km[e_len + i_len :]
        parts += [rest[:e_len], rest[e_len:]]
        mode = "transport" if ex.transport_i and ex.transport_r else "tunnel"
        proto = "esp" if chosen.protocol == 3 else "ah"
        is_esn = bool(esn and esn.tid == 1)
        encap = sa.udp_ports
        common: dict[str, Any] = {
            "encryption": e_name,
            "integrity": i_name,
            "protocol": proto,
            "mode": mode,
            "esn": is_esn,
        }
        out_sa = SecurityAssociation(
            spi=int.from_bytes(chosen.spi, "big"),
            enc_key=parts[0],
            auth_key=parts[1],
            src=ex_init,
            dst=ex_resp,
            udp_encap=encap if ex_init == sa.initiator else (encap[::-1] if encap else None),
            **common,
        )
        in_sa = SecurityAssociation(
            spi=int.from_bytes(req.spi, "big"),
            enc_key=parts[2],
            auth_key=parts[3],
            src=ex_resp,
            dst=ex_init,
            udp_encap=encap[::-1] if encap and ex_init == sa.initiator else encap,
            **common,
        )
    except (NetsecError, KeyError):
        return []
    where = f"IKEv2 CHILD_SA of {sa.spi_i.hex()}/{sa.spi_r.hex()} msg {hdr.message_id}"
    evs = [SADerived(ev.frame, out_sa, where), SADerived(ev.frame, in_sa, where)]
    tracker.derived += evs
    return evs
