"""DTLS association tracker (DTLS 1.0/1.2 RFC 6347, connection IDs RFC 9146, DTLS 1.3 RFC 9147).

A :class:`DTLSTracker` claims UDP datagrams by content (a DTLS record header that frames the
datagram, on any port), keeps one association per UDP conversation and emits one
:class:`DTLSRecordEvent` per record: header fields, handshake fragments, and -- with keys from
:class:`~netsec_layers.session.tls_keys.TLSKeyMaterial` (NSS key log, server RSA key, pcapng
DSBs) -- the authenticated plaintext.  Handshake messages are reassembled per direction
(:mod:`netsec_layers.session.dtls_reassembly`), retransmissions are counted and kept out of
the transcript, and the Finished messages are verified over the DTLS transcript (RFC 6347
§4.2.6: every message hashed as one fragment; the first ClientHello and HelloVerifyRequest
left out).  Every authenticated record passes the per-epoch anti-replay window of RFC 6347
§4.1.2.6; a failure is a typed :class:`DTLSFailure` and never stops the records after it.

Sans-I/O: datagrams in, events out; no files, no printing, no Scapy.
"""

from __future__ import annotations

import hashlib
import struct
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, ClassVar

from netsec_layers.constants.tls import HRR_RANDOM
from netsec_layers.errors import NetsecError, ParseError, UnsupportedAlgorithmError
from netsec_layers.session import tls_hello as hs
from netsec_layers.session.dtls_events import (
    DTLS10,
    DTLS12,
    DTLS13,
    DTLSAssociation,
    DTLSFailure,
    DTLSRecordEvent,
    _Side,
    split_records,
)
from netsec_layers.session.dtls_reassembly import FragmentVerdict, HandshakeMessage
from netsec_layers.session.ipsec_replay import ReplayWindow
from netsec_layers.session.trackers import Datagram, DatagramTracker

if TYPE_CHECKING:
    from netsec_layers.crypto.dtls import DTLS13RecordProtection
    from netsec_layers.session.tls_keys import TLSKeyMaterial

__all__ = ["DTLSAssociation", "DTLSFailure", "DTLSRecordEvent", "DTLSTracker"]

CT_CCS, CT_ALERT, CT_HANDSHAKE, CT_APPDATA, CT_HEARTBEAT, CT_CID, CT_ACK = (
    20,
    21,
    22,
    23,
    24,
    25,
    26,
)
HT_HELLO_VERIFY_REQUEST = 3
EXT_CONNECTION_ID = 54  # RFC 9146 §3
_PLAIN_TYPES = frozenset((20, 21, 22, 23, 24, 26))
_VERSIONS = frozenset((DTLS10, DTLS12, DTLS13))
MAX_TRANSCRIPT = 1 << 20
_SECRET_EPOCHS = {  # DTLS 1.3 epochs (RFC 9147 §6.1) and the key log labels keying them
    "CLIENT_EARLY_TRAFFIC_SECRET": (True, 1),
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET": (True, 2),
    "SERVER_HANDSHAKE_TRAFFIC_SECRET": (False, 2),
    "CLIENT_TRAFFIC_SECRET_0": (True, 3),
    "SERVER_TRAFFIC_SECRET_0": (False, 3),
}


def _compact(assoc: DTLSAssociation, *, keep_keys: bool) -> None:
    """Drop what an association no longer needs (the transcript; for an evicted one also its
    keys and reassembly state), keeping what ``stats`` reports."""
    assoc.transcript.clear()
    assoc.transcript_size = MAX_TRANSCRIPT  # no further Finished check on a partial transcript
    if not keep_keys:
        for side in (assoc.c, assoc.s):
            side.keys.clear()
            side.replay.clear()
            side.secrets13.clear()
            side.reasm.reset()


def _strip_cookie(body: bytes) -> bytes:
    """A DTLS ClientHello body in TLS form: the cookie (RFC 6347 §4.2.1) removed."""
    sid_end = 35 + body[34] if len(body) > 34 else len(body)
    if sid_end >= len(body):
        raise ParseError("truncated DTLS ClientHello")
    return body[:sid_end] + body[sid_end + 1 + body[sid_end] :]


class DTLSTracker(DatagramTracker):
    """Tracks DTLS associations over UDP and decrypts them with ``keys``."""

    name: ClassVar[str] = "dtls"

    def __init__(self, keys: TLSKeyMaterial | None = None, *, replay_window: int = 64,
                 max_associations: int = 100_000) -> None:  # fmt: skip
        from netsec_layers.session.tls_keys import TLSKeyMaterial

        self.keys = keys if keys is not None else TLSKeyMaterial()
        self.replay_window = replay_window
        self.max_associations = max_associations
        self.assocs: OrderedDict[tuple[Any, ...], DTLSAssociation] = OrderedDict()
        self._streams: OrderedDict[tuple[Any, ...], int] = OrderedDict()
        self._next_stream = 0
        self.closed: list[DTLSAssociation] = []  # evicted associations, for stats

    @property
    def streams_numbered(self) -> int:
        """How many UDP flows have been given a DTLS stream number so far (0, 1, 2, … in order
        of first datagram, never reused)."""
        return self._next_stream

    # -- claiming -------------------------------------------------------------------------------
    @staticmethod
    def _key(dgram: Datagram) -> tuple[Any, ...]:
        a, b = (dgram.ip.src, dgram.sport), (dgram.ip.dst, dgram.dport)
        return (a, b) if a <= b else (b, a)

    def _stream_of(self, key: tuple[Any, ...]) -> int:
        """udp.stream numbering: 0-based by first appearance of the conversation."""
        n = self._streams.get(key)
        if n is None:
            n = self._streams[key] = self._next_stream
            self._next_stream += 1
            if len(self._streams) > self.max_associations:
                self._streams.popitem(last=False)
        return n

    def claims(self, dgram: Datagram) -> bool:
        key = self._key(dgram)
        self._stream_of(key)
        if key in self.assocs:
            return True
        p = dgram.payload
        # a DTLS 1.0/1.2 record header (DTLS 1.3 also starts with one) whose records frame the
        # datagram exactly; unified headers alone are too weak a sign for a new association
        if len(p) < 13 or p[0] not in _PLAIN_TYPES or (p[1] << 8 | p[2]) not in (DTLS10, DTLS12):
            return False
        recs = split_records(p, None)
        return bool(recs) and recs[-1][0] + recs[-1][1] == len(p)

    # -- records --------------------------------------------------------------------------------
    def feed(self, dgram: Datagram) -> list[Any]:
        key = self._key(dgram)
        src = (dgram.ip.src, dgram.sport)
        dst = (dgram.ip.dst, dgram.dport)
        assoc = self.assocs.get(key)
        if assoc is None:
            assoc = DTLSAssociation(self._stream_of(key), src, dst)
            self.assocs[key] = assoc
            if len(self.assocs) > self.max_associations:
                gone = self.assocs.popitem(last=False)[1]
                _compact(gone, keep_keys=False)
                self.closed.append(gone)
                del self.closed[: -self.max_associations]
        else:
            self.assocs.move_to_end(key)
        from_client = src == assoc.client
        if not from_client and assoc.client_hello is None and self._is_client_hello(dgram.payload):
            # the first sender was not the client: the ClientHello sender is (contract "dir")
            assoc.client, assoc.server = src, dst
            from_client = True
        events: list[Any] = []
        data = dgram.payload
        for off, size in split_records(data, self._cid_in(assoc, from_client)):
            raw = data[off : off + size]
            ev = self._record(assoc, from_client, raw, dgram, src, dst)
            assoc.records += 1
            events.append(ev)
        return events

    @staticmethod
    def _is_client_hello(p: bytes) -> bool:
        return len(p) >= 26 and p[0] == CT_HANDSHAKE and p[3:5] == b"\0\0" and p[13] == 1

    @staticmethod
    def _cid_in(assoc: DTLSAssociation, from_client: bool) -> int | None:
        # records from the client carry the CID the server chose to receive, and vice versa
        return (assoc.s if from_client else assoc.c).cid_length

    def _record(self, assoc: DTLSAssociation, from_client: bool, raw: bytes, dgram: Datagram,
                src: tuple[str, int], dst: tuple[str, int]) -> DTLSRecordEvent:  # fmt: skip
        side = assoc.c if from_client else assoc.s
        first = raw[0]
        ev = DTLSRecordEvent(dgram.frame, dgram.ts_ns, assoc.stream, from_client, src, dst,
                             first, 0, 0, 0, 0, raw)  # fmt: skip
        if 0x20 <= first <= 0x3F:
            self._unified(assoc, side, ev, raw)
            return ev
        ct, version, epoch = (
            raw[0],
            int.from_bytes(raw[1:3], "big"),
            int.from_bytes(raw[3:5], "big"),
        )
        seq = int.from_bytes(raw[5:11], "big")
        ev.version, ev.epoch, ev.seq = version, epoch, seq
        cidlen = (self._cid_in(assoc, from_client) or 0) if ct == CT_CID else 0
        ev.length = int.from_bytes(raw[11 + cidlen : 13 + cidlen], "big")
        fragment = raw[13 + cidlen :]
        if ct == CT_CID:
            ev.cid = raw[11 : 11 + cidlen]
        if epoch == 0 and ct != CT_CID:
            ev.inner_content_type, ev.plaintext = ct, fragment
        else:
            prot = side.keys.get(epoch)
            if prot is None or not hasattr(prot, "decrypt_cid"):
                self._fail(assoc, ev, DTLSFailure.NO_KEY, "no key for this association")
                return ev
            try:
                if ct == CT_CID:  # RFC 9146: the real type is inside
                    ct, plain = prot.decrypt_cid(version=version, epoch=epoch, seq=seq,
                                                 cid=ev.cid or b"", fragment=fragment)  # fmt: skip
                else:
                    plain = prot.decrypt(content_type=ct, version=version, epoch=epoch, seq=seq,
                                         fragment=fragment)  # fmt: skip
            except UnsupportedAlgorithmError as exc:
                self._fail(assoc, ev, DTLSFailure.UNSUPPORTED, f"unsupported: {exc}")
                return ev
            except NetsecError as exc:
                self._fail(assoc, ev, DTLSFailure.DECRYPTION_FAILED, f"decryption failed: {exc}")
                return ev
            if not self._replay_ok(assoc, side, ev, epoch, seq):
                return ev
            ev.decrypted, ev.inner_content_type, ev.plaintext = True, ct, plain
            assoc.decrypted += 1
        self._content(assoc, from_client, ev, epoch)
        return ev

    def _fail(self, assoc: DTLSAssociation, ev: DTLSRecordEvent, why: DTLSFailure,
              text: str) -> None:  # fmt: skip
        ev.failure, ev.error = why, text
        if why is DTLSFailure.DECRYPTION_FAILED:
            assoc.failed += 1

    def _replay_ok(self, assoc: DTLSAssociation, side: _Side, ev: DTLSRecordEvent, epoch: int,
                   seq: int) -> bool:  # fmt: skip
        """RFC 6347 §4.1.2.6 window per epoch, checked after authentication; a replayed record
        is reported and its content not used again."""
        if not self.replay_window:
            return True
        win = side.replay.get(epoch)
        if win is None:
            win = side.replay[epoch] = ReplayWindow(self.replay_window)
        state = win.check(seq)
        if state != "new":
            why = DTLSFailure.REPLAYED if state == "replayed" else DTLSFailure.OUTSIDE_WINDOW
            self._fail(assoc, ev, why, why.value)
            return False
        win.update(seq)
        return True

    # -- record content -------------------------------------------------------------------------
    def _content(self, assoc: DTLSAssociation, from_client: bool, ev: DTLSRecordEvent,
                 epoch: int) -> None:  # fmt: skip
        ct, data = ev.inner_content_type, ev.plaintext or b""
        if ct == CT_ALERT:
            if len(data) >= 2:
                ev.alert = (data[0], data[1])
            else:
                self._fail(assoc, ev, DTLSFailure.MALFORMED, "malformed: truncated alert")
        elif ct == CT_HANDSHAKE:
            self._handshake_fragments(assoc, from_client, ev, data, epoch)
        elif ct not in (CT_CCS, CT_APPDATA, CT_HEARTBEAT, CT_ACK):
            self._fail(assoc, ev, DTLSFailure.MALFORMED, f"unknown content type {ct}")

    def _handshake_fragments(self, assoc: DTLSAssociation, from_client: bool,
                             ev: DTLSRecordEvent, data: bytes, epoch: int) -> None:  # fmt: skip
        side = assoc.c if from_client else assoc.s
        off = 0
        while off < len(data):
            if off + 12 > len(data):
                self._fail(assoc, ev, DTLSFailure.MALFORMED, "malformed: partial handshake header")
                return
            mt, length, mseq, foff, flen = struct.unpack_from("!B3sH3s3s", data, off)
            length, foff, flen = (int.from_bytes(x, "big") for x in (length, foff, flen))
            frag = data[off + 12 : off + 12 + flen]
            if len(frag) < flen:
                self._fail(assoc, ev, DTLSFailure.MALFORMED, "malformed: fragment past the record")
                return
            ev.handshake_types.append(mt)
            ev.fragments.append((mt, length, mseq, foff, flen))
            off += 12 + flen
            if mt == hs.HT_CLIENT_HELLO and from_client and foff == 0 and mseq == 0:
                self._new_client_hello(assoc, frag, length)
            verdict, done = side.reasm.add(msg_type=mt, length=length, message_seq=mseq,
                                           fragment_offset=foff, fragment=frag, frame=ev.frame)  # fmt: skip
            side.epoch = epoch
            if verdict is FragmentVerdict.RETRANSMISSION:
                ev.retransmission = True
            elif verdict is not FragmentVerdict.ACCEPTED:
                self._fail(assoc, ev, DTLSFailure.HANDSHAKE_REJECTED,
                           f"handshake fragment rejected: {verdict.value}")  # fmt: skip
            for msg in done:
                self._message(assoc, from_client, msg, ev)

    def _new_client_hello(self, assoc: DTLSAssociation, frag: bytes, length: int) -> None:
        """A ClientHello with message_seq 0 after a handshake: a new connection on the same
        ports starts over (RFC 6347 §4.2.8)."""
        ch = assoc.client_hello
        if ch is None or assoc.server_hello is None or len(frag) < 34:
            return
        if frag[2:34] == ch.random:
            return
        for side in (assoc.c, assoc.s):
            side.reasm.reset()
            side.keys.clear()
            side.replay.clear()
            side.next13.clear()
        assoc.version = assoc.suite = assoc.suite_info = assoc.master_secret = None
        assoc.client_hello = assoc.server_hello = None
        assoc.transcript.clear()
        assoc.transcript_size = 0
        assoc.finished_ok.clear()

    # -- handshake messages ---------------------------------------------------------------------
    def _message(self, assoc: DTLSAssociation, from_client: bool, msg: HandshakeMessage,
                 ev: DTLSRecordEvent) -> None:  # fmt: skip
        mt = msg.msg_type
        try:
            if mt == HT_HELLO_VERIFY_REQUEST:
                # RFC 6347 §4.2.6: ClientHello1 and HelloVerifyRequest are not hashed
                assoc.cookie_exchange = True
                assoc.transcript.clear()
                assoc.transcript_size = 0
                return
            if mt == hs.HT_FINISHED:
                self._finished(assoc, from_client, msg, ev)
            if mt == hs.HT_CLIENT_HELLO and from_client:
                assoc.client_hello = hs.parse_hello(b"\x01\0\0\0" + _strip_cookie(msg.body))
                ext = assoc.client_hello.extensions.get(EXT_CONNECTION_ID)
                if ext:
                    assoc.c.cid_length = ext[0]  # the client receives this CID length
            if assoc.transcript_size < MAX_TRANSCRIPT:
                assoc.transcript.append(msg)
                assoc.transcript_size += len(msg.body) + 12
            if mt == hs.HT_SERVER_HELLO and not from_client:
                self._server_hello(assoc, hs.parse_hello(msg.tls_bytes()))
            elif mt == hs.HT_CLIENT_KEY_EXCHANGE and from_client:
                self._client_key_exchange(assoc, msg)
            elif mt == hs.HT_NEW_SESSION_TICKET and assoc.master_secret and assoc.version != DTLS13:
                ticket = hs.parse_new_session_ticket(msg.tls_bytes(), 0x0303)
                self.keys.remember_ticket(ticket, assoc.master_secret)
        except ParseError as exc:
            self._fail(assoc, ev, DTLSFailure.MALFORMED, f"malformed: {exc}")

    def _server_hello(self, assoc: DTLSAssociation, sh: hs.Hello) -> None:
        from netsec_layers.crypto.tls_suites import suite_info

        ch = assoc.client_hello
        assoc.server_hello = sh
        assoc.version = sh.selected_version()
        assoc.suite = sh.cipher_suite
        assoc.suite_info = suite_info(sh.cipher_suite or 0)
        ext = sh.extensions.get(EXT_CONNECTION_ID)
        if ext:
            assoc.s.cid_length = ext[0]
        if ch is None or assoc.suite_info is None:
            return
        if assoc.version == DTLS13:
            self._keys13(assoc)
            return
        both = set(ch.extensions) & set(sh.extensions)
        assoc.ems = hs.EXT_EXTENDED_MASTER_SECRET in both
        assoc.etm = hs.EXT_ENCRYPT_THEN_MAC in both
        assoc.resumed = bool(sh.session_id) and sh.session_id == ch.session_id
        found = self.keys.master_for_resumption(
            client_random=ch.random,
            session_id=sh.session_id if assoc.resumed else b"",
            ticket=ch.extensions.get(hs.EXT_SESSION_TICKET),
        )
        if found is not None:
            assoc.master_secret, assoc.key_source = found.master_secret, found.source
            self._keys12(assoc)

    def _client_key_exchange(self, assoc: DTLSAssociation, msg: HandshakeMessage) -> None:
        ch, si, sh = assoc.client_hello, assoc.suite_info, assoc.server_hello
        if assoc.master_secret is not None or ch is None or si is None or sh is None:
            return
        from netsec_layers.crypto.dtls import tls_version_of
        from netsec_layers.crypto.tls_prf import compute_master_secret, handshake_hash

        tls_ver = tls_version_of(assoc.version or DTLS12)
        encrypted = (
            hs.parse_rsa_encrypted_pre_master(msg.tls_bytes(), tls_ver) if si.kex == "RSA" else None
        )
        # the pre-master starts with ClientHello.client_version as sent: 0xfefd, not 0x0303
        found = self.keys.pre_master_for(client_random=ch.random, encrypted_pre_master=encrypted,
                                         client_version=ch.legacy_version)  # fmt: skip
        if found is None:
            return
        pms, source = found
        shash = None
        if assoc.ems:  # RFC 7627 §3: the session hash covers up to the ClientKeyExchange
            shash = handshake_hash(tls_ver, si.prf_hash, self._transcript_bytes(assoc))
        assoc.master_secret = compute_master_secret(
            tls_ver, si, pre_master=pms, client_random=ch.random, server_random=sh.random,
            session_hash=shash,
        )  # fmt: skip
        assoc.key_source = source
        self._keys12(assoc)

    def _keys12(self, assoc: DTLSAssociation) -> None:
        from netsec_layers.crypto.dtls import DTLSRecordProtection, tls_version_of
        from netsec_layers.crypto.tls_prf import key_block

        si, ch, sh, ms = (
            assoc.suite_info,
            assoc.client_hello,
            assoc.server_hello,
            assoc.master_secret,
        )
        if (
            si is None
            or ch is None
            or sh is None
            or ms is None
            or assoc.version not in (DTLS10, DTLS12)
        ):
            return
        kb = key_block(tls_version_of(assoc.version), si, master_secret=ms,
                       client_random=ch.random, server_random=sh.random)  # fmt: skip
        try:
            cprot = DTLSRecordProtection(si, assoc.version, key=kb.client_key, mac_key=kb.client_mac,
                                         iv=kb.client_iv, encrypt_then_mac=assoc.etm)  # fmt: skip
            sprot = DTLSRecordProtection(si, assoc.version, key=kb.server_key, mac_key=kb.server_mac,
                                         iv=kb.server_iv, encrypt_then_mac=assoc.etm)  # fmt: skip
        except NetsecError:
            return
        # the keys take effect in the epoch after the one carrying this handshake (§4.1)
        assoc.c.keys[assoc.c.epoch + 1] = cprot
        assoc.s.keys[assoc.s.epoch + 1] = sprot
        if sh.session_id:
            self.keys.remember_session(sh.session_id, ms)

    def _transcript_bytes(self, assoc: DTLSAssociation) -> bytes:
        msgs = assoc.transcript
        if assoc.version != DTLS13:
            return b"".join(m.dtls_bytes() for m in msgs)
        head = b""
        si = assoc.suite_info
        if (
            si is not None
            and len(msgs) >= 2
            and msgs[0].msg_type == hs.HT_CLIENT_HELLO
            and msgs[1].msg_type == hs.HT_SERVER_HELLO
            and msgs[1].body[2:34] == HRR_RANDOM
        ):
            # RFC 8446 §4.4.1: after a HelloRetryRequest, ClientHello1 is replaced by
            # message_hash(Hash(ClientHello1)) -- over its TLS form (RFC 9147 §5.2)
            digest = hashlib.new(si.prf_hash.lower(), msgs[0].tls_bytes()).digest()
            head = bytes([hs.HT_MESSAGE_HASH, 0, 0, len(digest)]) + digest
            msgs = msgs[1:]
        return head + b"".join(m.tls_bytes() for m in msgs)

    def _finished(self, assoc: DTLSAssociation, from_client: bool, msg: HandshakeMessage,
                  ev: DTLSRecordEvent) -> None:  # fmt: skip
        si, side = assoc.suite_info, "client" if from_client else "server"
        if si is None or assoc.version is None or assoc.transcript_size >= MAX_TRANSCRIPT:
            return
        if assoc.version == DTLS13:
            from netsec_layers.crypto.dtls import dtls13_finished_verify_data

            base = (assoc.c if from_client else assoc.s).secrets13.get(2)
            if base is None:
                return
            expected = dtls13_finished_verify_data(
                si.prf_hash, base_key=base, transcript=self._transcript_bytes(assoc)
            )
        else:
            if assoc.master_secret is None:
                return
            from netsec_layers.crypto.dtls import tls_version_of
            from netsec_layers.crypto.tls_prf import finished_verify_data

            expected = finished_verify_data(
                tls_version_of(assoc.version), si, master_secret=assoc.master_secret,
                from_client=from_client, transcript=self._transcript_bytes(assoc),
            )  # fmt: skip
        ok = expected == msg.body
        assoc.finished_ok[side] = ok
        if len(assoc.finished_ok) == 2:  # both checked: the transcript is not needed any more
            _compact(assoc, keep_keys=True)
        if not ok:
            self._fail(assoc, ev, DTLSFailure.FINISHED_MISMATCH,
                       f"{side} Finished verify_data mismatch (wrong keys or lost messages)")  # fmt: skip

    # -- DTLS 1.3 -------------------------------------------------------------------------------
    def _keys13(self, assoc: DTLSAssociation) -> None:
        from netsec_layers.crypto.dtls import DTLS13RecordProtection

        ch, si = assoc.client_hello, assoc.suite_info
        if ch is None or si is None or not si.is_tls13:
            return
        for label, secret in self.keys.secrets_for(ch.random).items():
            where = _SECRET_EPOCHS.get(label)
            if where is None:
                continue
            side = assoc.c if where[0] else assoc.s
            side.secrets13[where[1]] = secret
            side.keys[where[1]] = DTLS13RecordProtection(si, traffic_secret=secret)
            assoc.key_source = "keylog"

    def _unified(self, assoc: DTLSAssociation, side: _Side, ev: DTLSRecordEvent,
                 raw: bytes) -> None:  # fmt: skip
        first = raw[0]
        cidlen = (self._cid_in(assoc, side is assoc.c) or 0) if first & 0x10 else 0
        seq_off, seq_len = 1 + cidlen, 2 if first & 0x08 else 1
        hdr_len = seq_off + seq_len + (2 if first & 0x04 else 0)
        ev.version, ev.cid = DTLS13, raw[1 : 1 + cidlen] if first & 0x10 else None
        ev.seq = int.from_bytes(raw[seq_off : seq_off + seq_len], "big")
        body = raw[hdr_len:]
        ev.length = len(body)
        # RFC 9147 §4.2.2: the most recent epoch whose low bits match
        epochs = sorted((e for e in side.keys if e & 3 == first & 3), reverse=True)
        ev.epoch = epochs[0] if epochs else first & 3
        if len(raw) < hdr_len:
            self._fail(assoc, ev, DTLSFailure.MALFORMED, "malformed: truncated unified header")
            return
        if assoc.version != DTLS13:
            epochs = []  # a unified header outside DTLS 1.3: no DTLS 1.3 keys apply
        if not epochs:
            self._fail(assoc, ev, DTLSFailure.NO_KEY, "no key for this association")
            return
        prot: DTLS13RecordProtection = side.keys[epochs[0]]
        try:
            seq, ct, plain = prot.open(header=raw[:hdr_len], seq_offset=seq_off, seq_len=seq_len,
                                       encrypted_record=body,
                                       expected_seq=side.next13.get(epochs[0], 0))  # fmt: skip
        except NetsecError as exc:
            self._fail(assoc, ev, DTLSFailure.DECRYPTION_FAILED, f"decryption failed: {exc}")
            return
        ev.seq, ev.epoch = seq, epochs[0]
        if not self._replay_ok(assoc, side, ev, epochs[0], seq):
            return
        side.next13[epochs[0]] = max(side.next13.get(epochs[0], 0), seq + 1)
        ev.decrypted, ev.inner_content_type, ev.plaintext = True, ct, plain
        assoc.decrypted += 1
        self._content(assoc, side is assoc.c, ev, epochs[0])
        if ct == CT_HANDSHAKE and hs.HT_KEY_UPDATE in ev.handshake_types:
            self._key_update13(assoc, side, epochs[0])

    def _key_update13(self, assoc: DTLSAssociation, side: _Side, epoch: int) -> None:
        from netsec_layers.crypto.dtls import DTLS13RecordProtection, dtls13_next_traffic_secret

        secret, si = side.secrets13.get(epoch), assoc.suite_info
        if secret is None or si is None or epoch < 3:
            return
        nxt = dtls13_next_traffic_secret(si.prf_hash, traffic_secret=secret)
        side.secrets13[epoch + 1] = nxt
        side.keys[epoch + 1] = DTLS13RecordProtection(si, traffic_secret=nxt)

    # -- end --------------------------------------------------------------------------------------
    def associations(self) -> list[DTLSAssociation]:
        """Every association seen (evicted ones first), for ``stats``."""
        return [*self.closed, *self.assocs.values()]

    def stats_rows(self) -> list[dict[str, Any]]:
        """One ``netsec stats`` row per association (endpoints, version, suite, cookie
        exchange, retransmissions, records decrypted/failed, Finished checks, key source)."""
        from netsec_layers.crypto.tls_suites import suite_name

        names = {DTLS10: "DTLS 1.0", DTLS12: "DTLS 1.2", DTLS13: "DTLS 1.3"}
        return [
            {
                "proto": "dtls",
                "stream": a.stream,
                "client": f"{a.client[0]}:{a.client[1]}",
                "server": f"{a.server[0]}:{a.server[1]}",
                "version": names.get(a.version or 0) if a.version else None,
                "cipher_suite": suite_name(a.suite) if a.suite is not None else None,
                "cookie_exchange": a.cookie_exchange,
                "resumed": a.resumed,
                "retransmissions": a.retransmissions,
                "records": a.records,
                "decrypted": a.decrypted,
                "failed": a.failed,
                "key_source": a.key_source,
                "finished_ok": dict(a.finished_ok),
            }
            for a in sorted(self.associations(), key=lambda a: a.stream)
        ]

    def on_secrets(self, secrets_type: int, data: bytes) -> bool:
        """A pcapng TLS key-log DSB (type 0x544c534b) also keys DTLS."""
        if secrets_type != 0x544C534B:
            return False
        self.keys.add_keylog_text(data)
        return False  # let the TLS side see it too
