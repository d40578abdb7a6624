"""IKE tracker: IKEv2 messages on UDP 500/4500, SK decryption, fragments, CHILD_SA derivation.

:class:`IKETracker` is a :class:`DatagramTracker`: it claims UDP payloads that parse as an IKE
header (on port 500, or on 4500 after the RFC 3948 non-ESP marker; ports are hints, the bytes
decide), decrypts SK/SKF payloads with the keys of ``--ike-keys`` (authentication first), and
emits one :class:`IKEMessage` per complete message.  With SK_d (given, or derived from g^ir
and the capture's IKE_SA_INIT, RFC 7296 §2.14) it derives every CHILD_SA (§2.17) created in
IKE_AUTH or CREATE_CHILD_SA and emits :class:`SADerived` so the engine decrypts the capture's
ESP; a rekeyed IKE SA (§2.18) gets its keys from the old SK_d and the new g^ir.
IKEv1 messages are reported (header, payloads) and decrypted with ``ikev1_decryption_table``
keys in :mod:`netsec_layers.session.ike_v1`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from netsec_layers.crypto.ike import (
    SKCipher,
    derive_ike_keys,
    enc_key_len,
    integ_key_len,
    skeyseed,
    skeyseed_rekey,
)
from netsec_layers.errors import IntegrityError, NetsecError, ParseError
from netsec_layers.keys.ike_keys import IKEKeys
from netsec_layers.session.ike_stats import count, rows
from netsec_layers.session.ike_types import (
    AuthVerdict,
    IKEMessage,
    IKESAState,
    IKEVerdict,
)
from netsec_layers.session.ike_wire import (
    HEADER_LEN,
    IKEHeader,
    notify_fields,
    parse_header,
    parse_payloads,
    parse_sa,
)
from netsec_layers.session.trackers import Datagram, DatagramTracker, SADerived

__all__ = ["AuthVerdict", "IKEMessage", "IKETracker", "IKEVerdict"]

IKE_PORTS = (500, 4500)
MAX_FRAGMENTS = 64  # RFC 7383 sets no limit; real peers send a handful
MAX_PENDING_BYTES = 1 << 20  # per IKE SA, fragments waiting for the rest
MAX_SAS = 4096
USE_TRANSPORT_MODE = 16391
REKEY_SA = 16393


class IKETracker(DatagramTracker):
    """Sans-I/O IKE tracker (bytes in, events out)."""

    name: ClassVar[str] = "ike"

    def __init__(self, keys: IKEKeys | None = None) -> None:
        self.keys = keys or IKEKeys()
        self.sas: dict[bytes, IKESAState] = {}  # by SPIi (SPIr is zero in the first request)
        self.derived: list[SADerived] = []
        self.v1_states: dict[bytes, Any] = {}  # IKEv1 phase 1 state by initiator cookie

    # -- claiming --------------------------------------------------------------------------
    @staticmethod
    def _message(dgram: Datagram) -> bytes | None:
        p = dgram.payload
        if 4500 in (dgram.sport, dgram.dport) or p[:4] == b"\0\0\0\0":
            if p[:4] != b"\0\0\0\0":
                return None
            p = p[4:]
        if len(p) < HEADER_LEN:
            return None
        ver = p[17] >> 4
        if ver not in (1, 2) or int.from_bytes(p[24:28], "big") != len(p):
            return None
        return p

    def claims(self, dgram: Datagram) -> bool:
        if not ({dgram.sport, dgram.dport} & set(IKE_PORTS)):
            return False
        return self._message(dgram) is not None

    # -- feeding ---------------------------------------------------------------------------
    def feed(self, dgram: Datagram) -> list[Any]:
        msg = self._message(dgram)
        if msg is None:
            return []
        try:
            hdr = parse_header(msg)
        except NetsecError:
            return []
        ev = IKEMessage(
            dgram.frame,
            hdr.version,
            hdr.spi_i,
            hdr.spi_r,
            hdr.exchange_type,
            hdr.message_id,
            hdr.flags,
            [],
            IKEVerdict.NONE,
            src=dgram.ip.src,
            dst=dgram.ip.dst,
            raw=msg[: hdr.length],
        )
        if hdr.version == 1:
            from netsec_layers.session.ike_v1 import feed_ikev1

            return feed_ikev1(self, hdr, msg, ev)
        out: list[Any] = []
        try:
            chain = parse_payloads(msg, hdr.next_payload, HEADER_LEN, hdr.length)
        except ParseError as e:
            ev.verdict, ev.error = IKEVerdict.MALFORMED, str(e)
            return [ev]
        ev.payloads = [p.ptype for p in chain]
        sa = self._sa(hdr, dgram)
        if sa is None:
            ev.error = "too many IKE SAs"
            return [ev]
        if hdr.exchange_type == 34:
            self._ike_sa_init(sa, hdr, msg, chain, dgram)
            out.append(ev)
        elif chain and chain[-1].ptype in (46, 53):
            last = chain[-1]
            if last.ptype == 53:
                if self._fragment(sa, hdr, msg, last, ev) is not None:
                    out.append(ev)  # else waiting for more fragments
            else:
                self._decrypt(sa, hdr, msg, last.offset + 4, last.next_payload, ev)
                out.append(ev)
            if out and ev.decrypted and ev.plaintext is not None:
                out += self._inner(sa, hdr, ev)
        else:
            out.append(ev)
        count(sa.stats, out)
        return out

    def stats_rows(self) -> list[dict[str, Any]]:
        """One ``netsec stats`` row per IKE SA (see :mod:`.ike_stats`)."""
        return rows(self.sas.values())

    def _sa(self, hdr: IKEHeader, dgram: Datagram) -> IKESAState | None:
        sa = self.sas.get(hdr.spi_i)
        if sa is None:
            if len(self.sas) >= MAX_SAS:
                return None
            sa = self.sas[hdr.spi_i] = IKESAState(hdr.spi_i, hdr.spi_r)
            if hdr.from_initiator:
                sa.initiator, sa.responder = dgram.ip.src, dgram.ip.dst
            else:
                sa.initiator, sa.responder = dgram.ip.dst, dgram.ip.src
        if sa.spi_r == bytes(8) and hdr.spi_r != bytes(8):
            sa.spi_r = hdr.spi_r
        if 4500 in (dgram.sport, dgram.dport):
            sa.udp_ports = (
                (dgram.sport, dgram.dport) if hdr.from_initiator else (dgram.dport, dgram.sport)
            )
        return sa

    def _ike_sa_init(
        self, sa: IKESAState, hdr: IKEHeader, msg: bytes, chain: list[Any], dgram: Datagram
    ) -> None:
        if any(p.ptype == 33 for p in chain) or not hdr.is_response:
            # A request, or the response that accepts it: after a COOKIE or INVALID_KE_PAYLOAD
            # round (§2.6, §1.3) these replace the earlier attempt, keys included.
            sa.init_msgs[hdr.is_response] = msg[: hdr.length]  # RealMessage1/2 of §2.15
            sa.keys = sa.cipher_i = sa.cipher_r = None
            if hdr.is_response:
                sa.spi_r = hdr.spi_r
        for p in chain:
            body = p.body(msg)
            if p.ptype == 40:
                if hdr.is_response:
                    sa.nonce_r = body
                else:
                    sa.nonce_i = body
            elif p.ptype == 33 and hdr.is_response:
                try:
                    props = parse_sa(body)
                except ParseError:
                    props = []
                sa.proposal = props[0] if props else None

    # -- keys ------------------------------------------------------------------------------
    def _ciphers(self, sa: IKESAState) -> tuple[SKCipher, SKCipher] | str:
        if sa.cipher_i is not None and sa.cipher_r is not None:
            return sa.cipher_i, sa.cipher_r
        e = self.keys.v2.get((sa.spi_i, sa.spi_r))
        if e is None:
            return IKEVerdict.NO_KEYS.value
        sa.entry = e
        prop = sa.proposal
        try:
            encr = prop.get(1) if prop else None
            integ = prop.get(3) if prop else None
            prf = prop.get(2) if prop else None
            if encr is None and e.encr is None:
                return (
                    "algorithms unknown: the IKE_SA_INIT is not in the capture (a Wireshark "
                    "ikev2_decryption_table line names them)"
                )
            e_id, bits = (encr.tid, encr.key_bits) if encr else (e.encr or (0, None))
            i_id = integ.tid if integ else 0
            if e.integ is not None and e.integ >= 0 and not integ:
                i_id = e.integ
            aead = e_id in (14, 15, 16, 18, 19, 20, 28)
            if not integ and not aead and (e.integ is None or e.integ < 0):
                # Wireshark's "ANY n-bits [No Checking]": authenticate first or not at all
                return (
                    f"{IKEVerdict.UNSUPPORTED.value}: the integrity algorithm is unknown "
                    "(no IKE_SA_INIT, and the key line says 'ANY ... [No Checking]')"
                )
            if e.g_ir is not None and prf is not None and sa.keys is None:
                if sa.parent_sk_d is not None:
                    seed = skeyseed_rekey(
                        prf.tid,
                        old_sk_d=sa.parent_sk_d,
                        g_ir=e.g_ir,
                        nonce_i=sa.nonce_i,
                        nonce_r=sa.nonce_r,
                    )
                else:
                    seed = skeyseed(prf.tid, nonce_i=sa.nonce_i, nonce_r=sa.nonce_r, g_ir=e.g_ir)
                sa.keys = derive_ike_keys(
                    prf.tid,
                    seed=seed,
                    nonce_i=sa.nonce_i,
                    nonce_r=sa.nonce_r,
                    spi_i=sa.spi_i,
                    spi_r=sa.spi_r,
                    enc_key_len=enc_key_len(e_id, bits),
                    integ_key_len=integ_key_len(i_id) if i_id else 0,
                )
            k = sa.keys
            ei = e.sk_ei if e.sk_ei is not None else (k.sk_ei if k else None)
            er = e.sk_er if e.sk_er is not None else (k.sk_er if k else None)
            ai = e.sk_ai if e.sk_ai is not None else (k.sk_ai if k else b"")
            ar = e.sk_ar if e.sk_ar is not None else (k.sk_ar if k else b"")
            if ei is None or er is None:
                return "no SK_ei/SK_er for this IKE SA"
            sa.cipher_i = SKCipher(e_id, ei, i_id, ai or b"")
            sa.cipher_r = SKCipher(e_id, er, i_id, ar or b"")
        except NetsecError as err:
            return f"{IKEVerdict.UNSUPPORTED.value}: {err}"
        return sa.cipher_i, sa.cipher_r

    def _sk_d(self, sa: IKESAState) -> tuple[bytes, int] | None:
        prf = sa.proposal.get(2) if sa.proposal else None
        if prf is None:
            return None
        if sa.entry is not None and sa.entry.sk_d is not None:
            return sa.entry.sk_d, prf.tid
        if sa.keys is not None:
            return sa.keys.sk_d, prf.tid
        return None

    # -- SK / SKF --------------------------------------------------------------------------
    def _decrypt(
        self, sa: IKESAState, hdr: IKEHeader, msg: bytes, body_off: int, first: int, ev: IKEMessage
    ) -> None:
        ciphers = self._ciphers(sa)
        if isinstance(ciphers, str):
            ev.verdict = (
                IKEVerdict.NO_KEYS
                if ciphers == IKEVerdict.NO_KEYS.value
                else IKEVerdict.UNSUPPORTED
            )
            ev.error = ciphers
            return
        c = ciphers[0] if hdr.from_initiator else ciphers[1]
        try:
            pt = c.open(msg[: hdr.length], body_off)
        except IntegrityError as e:
            ev.verdict, ev.error = IKEVerdict.BAD_ICV, str(e)
            return
        except NetsecError as e:
            ev.verdict, ev.error = IKEVerdict.MALFORMED, str(e)
            return
        self._accept(ev, first, pt)

    def _accept(self, ev: IKEMessage, first: int, pt: bytes) -> None:
        try:
            inner = parse_payloads(pt, first, 0, len(pt)) if first else []
        except ParseError as e:
            ev.verdict, ev.error = IKEVerdict.MALFORMED, f"inner payloads: {e}"
            return
        ev.verdict, ev.plaintext, ev.inner_first = IKEVerdict.DECRYPTED, pt, first
        ev.inner_payloads = [p.ptype for p in inner]
        ev.authenticated = True

    def _fragment(
        self, sa: IKESAState, hdr: IKEHeader, msg: bytes, skf: Any, ev: IKEMessage
    ) -> bool | None:
        """RFC 7383 §2.6: each fragment is authenticated alone, then reassembled in order."""
        body = skf.body(msg)
        if len(body) < 4:
            ev.verdict, ev.error = IKEVerdict.MALFORMED, "SKF shorter than its header"
            return False
        num, total = int.from_bytes(body[:2], "big"), int.from_bytes(body[2:4], "big")
        if not 1 <= num <= total or total > MAX_FRAGMENTS:
            ev.verdict, ev.error = IKEVerdict.MALFORMED, f"fragment {num} of {total}"
            return False
        one = IKEMessage(
            ev.frame,
            2,
            ev.spi_i,
            ev.spi_r,
            ev.exchange_type,
            ev.message_id,
            ev.flags,
            [],
            IKEVerdict.NONE,
        )
        self._decrypt(sa, hdr, msg, skf.offset + 8, 0, one)
        if not one.decrypted:
            ev.verdict, ev.error = one.verdict, f"fragment {num}/{total}: {one.error}"
            return False  # a forged fragment is reported and dropped (§2.6.1)
        key = (hdr.message_id, hdr.is_response)
        frags = sa.fragments.setdefault(key, {})
        if any(t != total for _, t in frags.values()):
            sa.pending_bytes -= sum(len(f) for n, (f, _) in frags.items() if n)
            frags.clear()  # a new fragmentation of the same message (§2.6) restarts
        pt = one.plaintext or b""
        if num in frags or sa.pending_bytes + len(pt) > MAX_PENDING_BYTES:
            return None
        frags[num] = (pt, total)
        sa.pending_bytes += len(pt)
        if num == 1:
            frags[0] = (bytes([skf.next_payload]), total)
        if sum(1 for n in frags if n) < total or 0 not in frags:
            return None
        whole = b"".join(frags[n][0] for n in range(1, total + 1))
        first = frags[0][0][0]
        sa.pending_bytes -= len(whole)
        del sa.fragments[key]
        ev.fragments = total
        self._accept(ev, first, whole)
        return True

    # -- exchanges inside SK: CHILD_SA and IKE SA derivation ------------------------------
    def _inner(self, sa: IKESAState, hdr: IKEHeader, ev: IKEMessage) -> list[Any]:
        from netsec_layers.session.ike_child import check_auth, record_exchange

        if hdr.exchange_type == 35:
            check_auth(sa, hdr, ev)
        return record_exchange(self, sa, hdr, ev)


__all__ += ["MAX_FRAGMENTS", "notify_fields"]
