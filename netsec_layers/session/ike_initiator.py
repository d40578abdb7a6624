"""A Sans-I/O IKEv2 initiator (bytes in, bytes out): IKE_SA_INIT, IKE_AUTH with a pre-shared
key, CREATE_CHILD_SA (with a new Curve25519 exchange for PFS), INFORMATIONAL Delete.

It sends what RFC 7296 §1.2-§1.3 describe and keeps an :class:`IKETracker` fed with every
message both ways, so the responder's AUTH is checked (§2.15) and the CHILD_SAs are derived
(§2.17) by the same code that reads captures; :attr:`child_sas` holds them as
:class:`~netsec_layers.keys.sa.SecurityAssociation` pairs ready for ESP.  Transport is the
caller's: :meth:`start`/:meth:`receive`/:meth:`create_child_sa` return :class:`Outgoing`
datagrams (UDP payload and port; on port 4500 the non-ESP marker is already there).

Algorithms: IKE SA ENCR_AES_CBC-128, PRF_HMAC_SHA2_256, AUTH_HMAC_SHA2_256_128, Curve25519;
CHILD_SAs ENCR_AES_GCM_16 (128-bit key) without ESN, tunnel mode, UDP-encapsulated when the
NAT-D hashes say so (or ``force_encap``: a source NAT-D hash that cannot match, RFC 7296
§2.23, as strongSwan's ``encap = yes`` does).
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from netsec_layers.crypto.ike import (
    SKCipher,
    derive_ike_keys,
    psk_auth,
    skeyseed,
    x25519_keypair,
    x25519_shared,
)
from netsec_layers.errors import IntegrityError, NetsecError
from netsec_layers.keys.ike_keys import (
    IKEKeys,
    IKEv2KeyEntry,
    format_ikev2_decryption_table,
    format_netsec_json,
)
from netsec_layers.keys.sa import SecurityAssociation
from netsec_layers.session.ike import AuthVerdict, IKEMessage, IKETracker
from netsec_layers.session.ike_craft import payload_chain, seal_sk_message
from netsec_layers.session.ike_wire import notify_fields, parse_header, parse_payloads
from netsec_layers.session.netstack import IPPacket
from netsec_layers.session.trackers import Datagram, SADerived

__all__ = ["IKEInitiatorError", "IKEv2Initiator", "Outgoing"]

_ENCR, _KEY_BITS, _PRF, _INTEG, _GROUP = 12, 128, 5, 12, 31
_MARKER = b"\0\0\0\0"


class IKEInitiatorError(NetsecError):
    """The responder refused (error Notify), or its reply did not authenticate."""


@dataclass(frozen=True)
class Outgoing:
    """One UDP datagram to send to the responder."""

    payload: bytes
    port: int  # 500, or 4500 after NAT detection (payload then starts with the marker)


def _transform(ttype: int, tid: int, key_bits: int | None, last: bool) -> bytes:
    attr = struct.pack("!HH", 0x800E, key_bits) if key_bits else b""
    return struct.pack("!BBHBBH", 0 if last else 3, 0, 8 + len(attr), ttype, 0, tid) + attr


def _proposal(proto: int, spi: bytes, transforms: list[tuple[int, int, int | None]]) -> bytes:
    body = b"".join(
        _transform(t, i, k, n == len(transforms) - 1) for n, (t, i, k) in enumerate(transforms)
    )
    head = struct.pack(
        "!BBHBBBB", 0, 0, 8 + len(spi) + len(body), 1, proto, len(spi), len(transforms)
    )
    return head + spi + body


def _ts(addr: str) -> bytes:
    a = ipaddress.IPv4Address(addr).packed
    return struct.pack("!B3x", 1) + struct.pack("!BBHHH", 7, 0, 16, 0, 65535) + a + a


def _id(identity: str) -> bytes:
    # strongSwan reads "user@domain" as ID_RFC822_ADDR (3), other names as ID_FQDN (2)
    return struct.pack("!B3x", 3 if "@" in identity else 2) + identity.encode()


@dataclass
class _Pending:
    exchange: int
    ke_private: bytes = b""  # our Curve25519 private key when the request carried KE


@dataclass
class IKEv2Initiator:
    """One IKE SA towards ``remote``; see the module docstring."""

    psk: bytes
    id_i: str
    id_r: str | None
    local: tuple[str, int]  # address and IKE port (500) of this side
    remote: tuple[str, int]
    ts_i: str  # inner address of this side (a /32 traffic selector)
    ts_r: str
    force_encap: bool = False
    rng: Callable[[int], bytes] = os.urandom
    spi_i: bytes = b""
    spi_r: bytes = bytes(8)
    child_sas: list[tuple[SecurityAssociation, SecurityAssociation]] = field(default_factory=list)
    established: bool = False
    messages: list[IKEMessage] = field(default_factory=list)  # the tracker's view, both ways

    def __post_init__(self) -> None:
        self.spi_i = self.spi_i or self.rng(8)
        self.tracker = IKETracker(IKEKeys())
        self._mid = 0
        self._port = 500
        self._pending: dict[int, _Pending] = {}
        self._entry: IKEv2KeyEntry | None = None
        self._c_out: SKCipher | None = None
        self._c_in: SKCipher | None = None
        self._frame = 0

    # -- public ---------------------------------------------------------------------------
    def start(self) -> list[Outgoing]:
        """The IKE_SA_INIT request."""
        priv, pub = x25519_keypair(self.rng(32))
        self.nonce_i = self.rng(32)
        sa = _proposal(
            1, b"", [(1, _ENCR, _KEY_BITS), (2, _PRF, None), (3, _INTEG, None), (4, _GROUP, None)]
        )
        src = self._natd(self.local) if not self.force_encap else self.rng(20)
        items = [
            (33, sa),
            (34, struct.pack("!HH", _GROUP, 0) + pub),
            (40, self.nonce_i),
            (41, struct.pack("!BBH", 0, 0, 16388) + src),
            (41, struct.pack("!BBH", 0, 0, 16389) + self._natd(self.remote)),
        ]
        first, body = payload_chain(items)
        msg = self._header(first, 34, 0x08, 0, len(body)) + body
        self._init_request = msg
        self._pending[0] = _Pending(34, ke_private=priv)
        self._mid = 1
        return [self._send(msg)]

    def receive(self, payload: bytes, port: int) -> list[Outgoing]:
        """A datagram from the responder; returns what to send next (maybe nothing)."""
        msg = payload[4:] if port == 4500 and payload[:4] == _MARKER else payload
        try:
            hdr = parse_header(msg)
        except NetsecError:
            return []  # not an IKE message (stray datagram): nothing to answer
        if hdr.spi_i != self.spi_i:
            return []
        pend = self._pending.get(hdr.message_id) if hdr.is_response else None
        if pend is not None and pend.exchange == 36 and pend.ke_private:
            self._pfs_secret(hdr.message_id, msg[: hdr.length], pend.ke_private)
        self._observe(msg, outgoing=False)
        if not hdr.is_response:
            return self._answer(hdr.exchange_type, hdr.message_id)
        if pend is None or pend.exchange != hdr.exchange_type:
            return []  # a retransmitted or unexpected response
        del self._pending[hdr.message_id]
        if hdr.exchange_type == 34:
            self.spi_r = hdr.spi_r
            chain = [
                (p.ptype, p.body(msg))
                for p in parse_payloads(msg, hdr.next_payload, 28, hdr.length)
            ]
            self._check_notifies(chain)
            return self._on_init(chain, pend.ke_private)
        self._open()
        if hdr.exchange_type == 35:
            return self._on_auth()
        return []

    def create_child_sa(
        self,
        *,
        ts_i: str,
        ts_r: str,
        pfs: bool = True,
        encr: int = 20,
        key_bits: int = 128,
        integ: int = 0,
    ) -> list[Outgoing]:
        """A CREATE_CHILD_SA request for a new ESP SA between two more inner addresses
        (``encr``/``key_bits``/``integ``: IKEv2 transform IDs, default AES-GCM-16-128)."""
        if not self.established:
            raise IKEInitiatorError("the IKE SA is not established")
        spi, nonce = self.rng(4), self.rng(32)
        transforms: list[tuple[int, int, int | None]] = [(1, encr, key_bits)]
        if integ:
            transforms.append((3, integ, None))
        transforms.append((5, 0, None))
        priv = b""
        items: list[tuple[int, bytes]] = []
        if pfs:
            priv, pub = x25519_keypair(self.rng(32))
            transforms.insert(1, (4, _GROUP, None))
        items.append((33, _proposal(3, spi, transforms)))
        items.append((40, nonce))
        if pfs:
            items.append((34, struct.pack("!HH", _GROUP, 0) + pub))
        items += [(44, _ts(ts_i)), (45, _ts(ts_r))]
        mid = self._next_mid()
        self._pending[mid] = _Pending(36, ke_private=priv)
        return [self._send(self._seal(36, 0x08, mid, items))]

    def delete(self) -> list[Outgoing]:
        """INFORMATIONAL with a Delete of the IKE SA (RFC 7296 §1.4.1)."""
        mid = self._next_mid()
        self._pending[mid] = _Pending(37)
        return [self._send(self._seal(37, 0x08, mid, [(42, struct.pack("!BBH", 1, 0, 0))]))]

    def key_file(self) -> str:
        """netsec ``--ike-keys`` JSON (g^ir, PFS g^ir per message ID, PSK)."""
        assert self._entry is not None
        return format_netsec_json([self._entry])

    def wireshark_table(self) -> str:
        """A Wireshark ``ikev2_decryption_table`` line for this IKE SA."""
        assert self._entry is not None and self.keys is not None
        k = self.keys
        e = IKEv2KeyEntry(
            self.spi_i,
            self.spi_r,
            sk_ei=k.sk_ei,
            sk_er=k.sk_er,
            sk_ai=k.sk_ai,
            sk_ar=k.sk_ar,
            encr=(_ENCR, _KEY_BITS),
            integ=_INTEG,
        )
        return format_ikev2_decryption_table([e])

    # -- exchanges ------------------------------------------------------------------------
    def _on_init(self, chain: list[tuple[int, bytes]], ke_private: bytes) -> list[Outgoing]:
        ke = next((b for t, b in chain if t == 34), None)
        nonce_r = next((b for t, b in chain if t == 40), None)
        if ke is None or nonce_r is None or len(ke) < 4:
            raise IKEInitiatorError("IKE_SA_INIT response without KE or Nonce")
        self.nonce_r = nonce_r
        g_ir = x25519_shared(ke_private, ke[4:])
        seed = skeyseed(_PRF, nonce_i=self.nonce_i, nonce_r=nonce_r, g_ir=g_ir)
        self.keys = derive_ike_keys(
            _PRF,
            seed=seed,
            nonce_i=self.nonce_i,
            nonce_r=nonce_r,
            spi_i=self.spi_i,
            spi_r=self.spi_r,
            enc_key_len=16,
            integ_key_len=32,
        )
        self._c_out = SKCipher(_ENCR, self.keys.sk_ei, _INTEG, self.keys.sk_ai)
        self._c_in = SKCipher(_ENCR, self.keys.sk_er, _INTEG, self.keys.sk_ar)
        self._entry = IKEv2KeyEntry(self.spi_i, self.spi_r, g_ir=g_ir, psk=self.psk)
        self.tracker.keys.v2[(self.spi_i, self.spi_r)] = self._entry
        natd = [b for t, b in chain if t == 41 and b[2:4] == b"\x40\x04"]
        if self.force_encap or (natd and natd[0][4:] != self._natd(self.remote, self.spi_r)):
            self._port = 4500  # RFC 7296 §2.23: NAT detected, float to 4500
        id_i = _id(self.id_i)
        auth = psk_auth(
            _PRF,
            psk=self.psk,
            real_message=self._init_request,
            nonce=nonce_r,
            sk_p=self.keys.sk_pi,
            id_body=id_i,
        )
        self._child_spi = self.rng(4)
        items = [(35, id_i)]
        if self.id_r:
            items.append((36, _id(self.id_r)))
        items += [
            (39, struct.pack("!B3x", 2) + auth),
            (33, _proposal(3, self._child_spi, [(1, 20, 128), (5, 0, None)])),
            (44, _ts(self.ts_i)),
            (45, _ts(self.ts_r)),
        ]
        mid = self._next_mid()
        self._pending[mid] = _Pending(35)
        return [self._send(self._seal(35, 0x08, mid, items))]

    def _pfs_secret(self, mid: int, msg: bytes, private: bytes) -> None:
        """The new g^ir of a CREATE_CHILD_SA, known before the tracker derives the CHILD_SA."""
        assert self._c_in is not None and self._entry is not None
        try:
            pt = self._c_in.open(msg, 32)  # IKE header + SK payload header
            first = msg[28]
            ke = next(
                (p.body(pt) for p in parse_payloads(pt, first, 0, len(pt)) if p.ptype == 34), None
            )
        except NetsecError:
            return  # the tracker reports the failure
        if ke is not None and len(ke) > 4:
            self._entry.pfs[mid] = x25519_shared(private, ke[4:])

    def _on_auth(self) -> list[Outgoing]:
        ev = self.messages[-1]
        if ev.auth_verdict is not AuthVerdict.VERIFIED:
            v = ev.auth_verdict.value if ev.auth_verdict else "no AUTH payload"
            raise IKEInitiatorError(f"responder AUTH not verified: {v}")
        self.established = True
        return []

    # -- plumbing -------------------------------------------------------------------------
    def _next_mid(self) -> int:
        mid, self._mid = self._mid, self._mid + 1
        return mid

    def _header(self, first: int, exchange: int, flags: int, mid: int, body_len: int) -> bytes:
        return struct.pack(
            "!8s8sBBBBII", self.spi_i, self.spi_r, first, 0x20, exchange, flags, mid, 28 + body_len
        )

    def _natd(self, addr: tuple[str, int], spi_r: bytes | None = None) -> bytes:
        ip = ipaddress.ip_address(addr[0]).packed
        r = self.spi_r if spi_r is None else spi_r
        return hashlib.sha1(self.spi_i + r + ip + struct.pack("!H", addr[1])).digest()

    def _seal(
        self,
        exchange: int,
        flags: int,
        mid: int,
        items: list[tuple[int, bytes]],
        fault: str | None = None,
    ) -> bytes:
        assert self._c_out is not None
        return seal_sk_message(
            spi_i=self.spi_i,
            spi_r=self.spi_r,
            exchange=exchange,
            flags=flags,
            message_id=mid,
            items=items,
            cipher=self._c_out,
            iv=self.rng(self._c_out.iv_len),
            fault=fault,
        )

    def informational(self, *, fault: str | None = None) -> list[Outgoing]:
        """An empty INFORMATIONAL request (a liveness check, RFC 7296 §1.4), optionally with
        one of :data:`~netsec_layers.session.ike_craft.FAULTS` built in (then no answer is
        expected and the message ID is not used up)."""
        if fault is None:
            mid = self._next_mid()
            self._pending[mid] = _Pending(37)
        else:
            mid = self._mid
        return [self._send(self._seal(37, 0x08, mid, [], fault))]

    def _open(self) -> list[tuple[int, bytes]]:
        ev = self.messages[-1]
        if not ev.decrypted or ev.plaintext is None:
            raise IntegrityError(f"IKE response not authenticated: {ev.error}")
        pt = ev.plaintext
        chain = [(p.ptype, p.body(pt)) for p in parse_payloads(pt, ev.inner_first, 0, len(pt))]
        self._check_notifies(chain)
        return chain

    def _check_notifies(self, chain: list[tuple[int, bytes]]) -> None:
        for t, body in chain:
            if t == 41:
                _, ntype, _, _ = notify_fields(body)
                if ntype < 16384:  # error types (RFC 7296 §3.10.1)
                    raise IKEInitiatorError(f"responder sent error Notify {ntype}")

    def _answer(self, exchange: int, mid: int) -> list[Outgoing]:
        """Answer a responder's INFORMATIONAL request (liveness check) with an empty one."""
        if exchange != 37 or not self.messages or not self.messages[-1].decrypted:
            return []
        return [self._send(self._seal(37, 0x08 | 0x20, mid, []))]

    def _send(self, msg: bytes) -> Outgoing:
        self._observe(msg, outgoing=True)
        return Outgoing(_MARKER + msg if self._port == 4500 else msg, self._port)

    def _observe(self, msg: bytes, *, outgoing: bool) -> None:
        """Feed a message to the tracker (the capture-reading code checks and derives)."""
        self._frame += 1
        src, dst = (self.local, self.remote) if outgoing else (self.remote, self.local)
        ip = IPPacket(4, src[0], dst[0], 17, b"", b"", b"", self._frame, 0)
        port = self._port
        payload = _MARKER + msg if port == 4500 else msg
        for ev in self.tracker.feed(Datagram(ip, port, port, payload)):
            if isinstance(ev, IKEMessage):
                self.messages.append(ev)
            elif isinstance(ev, SADerived):
                self._derived(ev)

    def _derived(self, ev: SADerived) -> None:
        sa = ev.sa
        if sa.src == self.local[0]:
            self._out_sa = sa
        elif hasattr(self, "_out_sa"):
            self.child_sas.append((self._out_sa, sa))
            del self._out_sa
