"""IKEv1 / ISAKMP in the IKE tracker: payload chains, and decryption with the encryption key of
Wireshark's ``ikev1_decryption_table`` (RFC 2409 §5 and Appendix B).

Keys: the Wireshark table's Ka, or netsec JSON ``{"version": 1, "cookie_i", "psk", "g_xy"}``
from which SKEYID, SKEYID_d and Ka are derived; with SKEYID_d the Quick Mode KEYMAT of each
IPsec SA is derived (:mod:`.ike_v1_qm`) and emitted as :class:`SADerived`.

Phase 1 (Main or Aggressive Mode) is followed from its cleartext messages: the responder's SA
payload gives the cipher (attribute 1), hash (2) and key length (14); the KE payloads give
g^xi and g^xr.  The first phase 1 IV is hash(g^xi | g^xr); every later message of the same
exchange uses the last ciphertext block of the previous one; a new exchange (Quick Mode,
Informational) starts from hash(last phase 1 block | M-ID).

IKEv1 encryption has no integrity check of its own; the HASH payload inside is checked when
SKEYID/SKEYID_a are known (PSK + g^xy given): ``authenticated`` true, or the message is
rejected (``BAD_ICV``).  With only the Wireshark table's Ka a message counts as decrypted when
the plaintext is a well-formed payload chain, and ``authenticated`` is null (unchecked).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from netsec_layers.crypto.ike import ikev1_decrypt, ikev1_keys
from netsec_layers.errors import NetsecError, ParseError
from netsec_layers.session.ike_wire import HEADER_LEN, IKEHeader, parse_payloads

if TYPE_CHECKING:
    from netsec_layers.session.ike_types import IKEMessage, TrackerView

__all__ = ["feed_ikev1"]

_HASHES = {1: "md5", 2: "sha1", 4: "sha256", 5: "sha384", 6: "sha512"}
_CIPHERS = {5: ("3DES-CBC", 8), 7: ("AES-CBC", 16)}  # RFC 2409 App. A / RFC 3602
MAX_V1_SAS = 4096
MAX_IVS = 256


@dataclass
class _V1State:
    initiator: str = ""
    cipher: tuple[str, int] | None = None  # (name, block size)
    hash_name: str | None = None
    hash_id: int = 0
    key_len: int = 0  # encryption key bytes (attribute 14, or 24 for 3DES)
    g_xi: bytes = b""
    g_xr: bytes = b""
    nonce_i: bytes = b""
    nonce_r: bytes = b""
    cky_r: bytes = b""
    skeyid_d: bytes | None = None
    skeyid: bytes | None = None
    skeyid_a: bytes | None = None
    sa_i_body: bytes = b""  # the initiator's phase 1 SA payload body (SAi_b of HASH_I/R)
    id_bodies: dict[bool, bytes] = field(default_factory=dict)  # cleartext IDs (Aggressive)
    ivs: dict[int, bytes] = field(default_factory=dict)  # message ID -> next IV
    qm: dict[int, dict[str, Any]] = field(default_factory=dict)  # Quick Mode by message ID


def _first_transform(body: bytes) -> dict[int, int]:
    """TV attributes of the first transform of the first proposal of an IPsec-DOI SA body."""
    if len(body) < 8 + 8:
        raise ParseError("IKEv1 SA too short")
    pos = 8  # DOI, situation
    plen = int.from_bytes(body[pos + 2 : pos + 4], "big")
    spi_size = body[pos + 6]
    tpos = pos + 8 + spi_size
    if plen < 8 + spi_size or tpos + 8 > len(body):
        raise ParseError("IKEv1 proposal malformed")
    tlen = int.from_bytes(body[tpos + 2 : tpos + 4], "big")
    end = min(tpos + tlen, len(body))
    attrs: dict[int, int] = {}
    apos = tpos + 8
    while apos + 4 <= end:
        atype = int.from_bytes(body[apos : apos + 2], "big")
        aval = int.from_bytes(body[apos + 2 : apos + 4], "big")
        if atype & 0x8000:
            attrs[atype & 0x7FFF] = aval
            apos += 4
        else:
            apos += 4 + aval
    return attrs


def _lenient_chain(pt: bytes, first: int) -> list[int]:
    """Payload types of a decrypted IKEv1 body; bytes after Next Payload 0 are CBC padding."""
    types: list[int] = []
    ptype, pos = first, 0
    while ptype:
        if pos + 4 > len(pt) or len(types) > 64:
            raise ParseError("IKEv1 payload chain runs past the plaintext")
        length = int.from_bytes(pt[pos + 2 : pos + 4], "big")
        if length < 4 or pos + length > len(pt):
            raise ParseError(f"IKEv1 payload {ptype} has bad length {length}")
        types.append(ptype)
        ptype, pos = pt[pos], pos + length
    return types


def feed_ikev1(tracker: TrackerView, hdr: IKEHeader, msg: bytes, ev: IKEMessage) -> list[Any]:
    """One IKEv1 message -> its event (decrypted with an ``ikev1_decryption_table`` key)."""
    from netsec_layers.session.ike_types import IKEVerdict

    states = tracker.v1_states
    st = states.get(hdr.spi_i)
    if st is None:
        if len(states) >= MAX_V1_SAS:
            return [ev]
        st = states[hdr.spi_i] = _V1State(initiator=ev.src if hdr.spi_r == bytes(8) else ev.dst)
    if not hdr.flags & 1:
        try:
            chain = parse_payloads(msg, hdr.next_payload, HEADER_LEN, hdr.length)
        except ParseError as e:
            ev.verdict, ev.error = IKEVerdict.MALFORMED, str(e)
            return [ev]
        ev.payloads = [p.ptype for p in chain]
        _learn(st, ev.src == st.initiator, msg, chain)
        return [ev]
    ev.payloads = [hdr.next_payload]
    if hdr.spi_r != bytes(8):
        st.cky_r = hdr.spi_r
    key = tracker.keys.v1.get(hdr.spi_i)
    if st.cipher is None or st.hash_name is None or not st.g_xi or not st.g_xr:
        ev.verdict = IKEVerdict.NO_KEYS
        ev.error = "phase 1 parameters (SA, KE) not seen in the capture"
        return [ev]
    enc_key = _enc_key(st, key, hdr.spi_i)
    if enc_key is None:
        ev.verdict, ev.error = IKEVerdict.NO_KEYS, IKEVerdict.NO_KEYS.value
        return [ev]
    name, block = st.cipher
    ct = msg[HEADER_LEN : hdr.length]
    iv = _iv(st, hdr.message_id, block)
    try:
        pt = ikev1_decrypt(name, enc_key, iv, ct)
        types = _lenient_chain(pt, hdr.next_payload)
    except NetsecError as e:
        ev.verdict, ev.error = IKEVerdict.MALFORMED, str(e)
        return [ev]
    if len(st.ivs) < MAX_IVS or hdr.message_id in st.ivs:
        st.ivs[hdr.message_id] = ct[-block:]
    ev.verdict, ev.plaintext, ev.inner_first = IKEVerdict.DECRYPTED, pt, hdr.next_payload
    ev.inner_payloads = types
    ev.authenticated = _check_hash(st, hdr, ev, pt)
    if ev.authenticated is False:  # a forged or corrupted message: no plaintext is kept
        ev.verdict, ev.error = IKEVerdict.BAD_ICV, "IKEv1 HASH payload does not verify"
        ev.plaintext = ev.inner_payloads = None
        return [ev]
    out: list[Any] = [ev]
    if hdr.exchange_type == 32:
        out += _quick_mode(tracker, st, hdr, ev, pt)
    return out


def _quick_mode(
    tracker: TrackerView, st: _V1State, hdr: IKEHeader, ev: IKEMessage, pt: bytes
) -> list[Any]:
    """Record Quick Mode message 1/2 (SA, nonces, KE); derive the SAs after message 2."""
    from netsec_layers.session.ike_v1_qm import proposal_of, quick_mode_sas

    if hdr.message_id not in st.qm and len(st.qm) >= MAX_IVS:
        return []
    qm = st.qm.setdefault(hdr.message_id, {})
    mine = ev.src == st.initiator
    ptype, pos = hdr.next_payload, 0
    while ptype and pos + 4 <= len(pt):
        length = int.from_bytes(pt[pos + 2 : pos + 4], "big")
        body = pt[pos + 4 : pos + length]
        if ptype == 1:
            prop = proposal_of(body)
            if prop is not None:
                qm["proto"] = prop[0]
                qm["spi_i" if mine else "spi_r"] = prop[1]
                if not mine:
                    qm["tid"], qm["attrs"] = prop[2], prop[3]
        elif ptype == 10:
            qm["ni" if mine else "nr"] = body
        elif ptype == 4:
            qm["pfs"] = True
        ptype, pos = pt[pos], pos + max(length, 4)
    if mine or "tid" not in qm or "spi_i" not in qm or "ni" not in qm or "nr" not in qm:
        return []
    if st.skeyid_d is None or qm.get("done"):
        return []
    qm["done"] = True
    responder = ev.src
    evs = quick_mode_sas(
        hash_id=st.hash_id,
        skeyid_d=st.skeyid_d,
        frame=ev.frame,
        initiator=st.initiator,
        responder=responder,
        qm=qm,
        source=f"IKEv1 Quick Mode of {hdr.spi_i.hex()} msg {hdr.message_id:#x}",
    )
    tracker.derived += evs
    return list(evs)


def _check_hash(st: _V1State, hdr: IKEHeader, ev: IKEMessage, pt: bytes) -> bool | None:
    """Verify the HASH payload (RFC 2409 §5 HASH_I/HASH_R, §5.5 HASH(1)/(2)/(3), §5.7
    informational HASH(1)); None when SKEYID/SKEYID_a are unknown (Wireshark-table keys)."""
    import hmac

    if st.skeyid is None or st.skeyid_a is None or st.hash_name is None:
        return None
    payloads, ptype, pos = [], hdr.next_payload, 0
    while ptype and pos + 4 <= len(pt):
        length = max(4, int.from_bytes(pt[pos + 2 : pos + 4], "big"))
        payloads.append((ptype, pos, length))
        ptype, pos = pt[pos], pos + length
    if not payloads or payloads[0][0] != 8 and hdr.exchange_type not in (2, 4):
        return None
    h = st.hash_name
    mid = hdr.message_id.to_bytes(4, "big")
    mine = ev.src == st.initiator
    if hdr.exchange_type in (2, 4):  # Main / Aggressive Mode: HASH_I or HASH_R after ID
        hsh = next((pt[p + 4 : p + n] for t, p, n in payloads if t == 8), None)
        idb = next((pt[p + 4 : p + n] for t, p, n in payloads if t == 5), None)
        idb = idb if idb is not None else st.id_bodies.get(mine)  # Aggressive: ID was in clear
        if hsh is None or idb is None:
            return None
        gi, gr, ci, cr = st.g_xi, st.g_xr, ev.spi_i, ev.spi_r
        data = (gi + gr + ci + cr) if mine else (gr + gi + cr + ci)
        want = hmac.new(st.skeyid, data + st.sa_i_body + idb, h).digest()
        return hmac.compare_digest(want, hsh)
    _, p0, n0 = payloads[0]
    hsh = pt[p0 + 4 : p0 + n0]
    rest = pt[p0 + n0 : pos]  # the payloads after HASH, as sent (generic headers included)
    if hdr.exchange_type == 32:  # Quick Mode
        qm = st.qm.get(hdr.message_id, {})
        if not rest:  # HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b)
            data = b"\0" + mid + qm.get("ni", b"") + qm.get("nr", b"")
        elif mine:  # HASH(1) = prf(SKEYID_a, M-ID | the rest)
            data = mid + rest
        else:  # HASH(2) = prf(SKEYID_a, M-ID | Ni_b | the rest)
            data = mid + qm.get("ni", b"") + rest
    else:  # informational / others: prf(SKEYID_a, M-ID | the rest)
        data = mid + rest
    return hmac.compare_digest(hmac.new(st.skeyid_a, data, h).digest(), hsh)


def _enc_key(st: _V1State, key: Any, cky_i: bytes) -> bytes | None:
    """Ka from the key file, or derived from the PSK and g^xy (RFC 2409 §5, Appendix B)."""
    if key is None:
        return None
    if key.skeyid_d is not None:
        st.skeyid_d = key.skeyid_d
    if key.enc_key is not None:
        return bytes(key.enc_key)
    if key.psk is None or key.g_xy is None or not (st.nonce_i and st.nonce_r and st.cky_r):
        return None
    try:
        st.skeyid, st.skeyid_d, st.skeyid_a, ka = ikev1_keys(
            st.hash_id,
            psk=key.psk,
            nonce_i=st.nonce_i,
            nonce_r=st.nonce_r,
            g_xy=key.g_xy,
            cky_i=cky_i,
            cky_r=st.cky_r,
            key_len=st.key_len,
        )
    except NetsecError:
        return None
    key.enc_key = ka
    return bytes(ka)


def _iv(st: _V1State, message_id: int, block: int) -> bytes:
    if message_id in st.ivs:
        return st.ivs[message_id]
    assert st.hash_name is not None
    if 0 not in st.ivs:  # first encrypted phase 1 message (RFC 2409 Appendix B)
        st.ivs[0] = hashlib.new(st.hash_name, st.g_xi + st.g_xr).digest()[:block]
        if message_id == 0:
            return st.ivs[0]
    return hashlib.new(st.hash_name, st.ivs[0] + message_id.to_bytes(4, "big")).digest()[:block]


def _learn(st: _V1State, from_initiator: bool, msg: bytes, chain: list[Any]) -> None:
    for p in chain:
        body = p.body(msg)
        if p.ptype == 1 and not from_initiator:  # the responder's choice
            try:
                attrs = _first_transform(body)
            except ParseError:
                continue
            cipher = _CIPHERS.get(attrs.get(1, 0))
            st.hash_name = _HASHES.get(attrs.get(2, 0))
            st.hash_id = attrs.get(2, 0)
            st.cipher = cipher
            st.key_len = 24 if attrs.get(1) == 5 else attrs.get(14, 0) // 8
        elif p.ptype == 1 and from_initiator:
            st.sa_i_body = body
        elif p.ptype == 5:
            st.id_bodies[from_initiator] = body
        elif p.ptype == 10:
            if from_initiator:
                st.nonce_i = body
            else:
                st.nonce_r = body
        elif p.ptype == 4:
            if from_initiator:
                st.g_xi = body
            else:
                st.g_xr = body
