"""Sans-I/O SSH connection tracker (RFC 4253 transport) for the capture engine.

Claims a TCP connection whose first bytes are ``SSH-`` (any port), then per direction: the
identification string, the binary packets in clear up to NEWKEYS, and afterwards packets
decrypted with keys derived from an SSH key log (:mod:`netsec_layers.keys.ssh_keylog`):
K from the log (or from a logged ephemeral private key), H from the captured exchange, the keys
of RFC 4253 §7.2, the session id from the first exchange; rekeys are followed the same way.
Sequence numbers count every packet per direction (RFC 4253 §6.4) and restart at 0 after each
NEWKEYS once strict KEX is negotiated (OpenSSH PROTOCOL §1.10).

Without keys, a direction's packets after NEWKEYS are delimited while their length is in clear
(AES-GCM, ``-etm`` MACs) and plausible; otherwise (or after a TCP gap) the rest of the direction
is reported per chunk with ``seq``/``msg_type``/``payload`` null.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from netsec_layers.crypto.ssh_cipher import (
    MAX_PACKET_LENGTH,
    SSHPacketCipher,
    cipher_spec,
    mac_spec,
)
from netsec_layers.crypto.ssh_kex import (
    HYBRID_KEX,
    KexTranscript,
    derive_direction_keys,
    exchange_hash,
    is_group_exchange,
    shared_secret_from_private,
)
from netsec_layers.crypto.ssh_negotiate import (
    KexInit,
    Negotiated,
    negotiate,
    parse_kexinit,
    read_strings,
)
from netsec_layers.errors import IntegrityError, NetsecError
from netsec_layers.keys.ssh_keylog import SHARED_SECRET, SSHKeyLog
from netsec_layers.session.ssh_events import SSHBanner, SSHPacketInfo, SSHVerdict
from netsec_layers.session.ssh_stats import SSHConnStats, SSHStats
from netsec_layers.session.trackers import StreamTracker

if TYPE_CHECKING:
    from netsec_layers.session.tcp import StreamChunk, TCPConn

__all__ = ["SSHBanner", "SSHPacketInfo", "SSHTracker", "SSHVerdict"]

MAX_BANNER_LINE = 8192  # RFC 4253 §4.2 says 255 for the SSH- line; other lines are longer
MAX_PRE_BANNER_LINES = 64
# bytes held after a direction's NEWKEYS while the other direction's KEX reply is not yet seen
MAX_KEY_WAIT = 1 << 20


@dataclass
class _Exchange:
    """One key exchange (the first, or a rekey)."""

    i_c: KexInit | None = None
    i_s: KexInit | None = None
    algs: Negotiated | None = None
    client_public: bytes | None = None
    server_public: bytes | None = None
    host_key: bytes | None = None
    gex_request: tuple[int, ...] | None = None
    gex_group: tuple[bytes, bytes] | None = None
    # candidate (c2s, s2c) ciphers from the key log; the first that authenticates wins
    candidates: list[tuple[SSHPacketCipher, SSHPacketCipher]] = field(default_factory=list)
    h: bytes | None = None
    key_error: str | None = None
    # KEX messages seen before both KEXINITs (the byte streams of the two directions may be
    # delivered out of step): handled once the method is known
    early: list[tuple[bool, int, bytes]] = field(default_factory=list)


@dataclass
class _Direction:
    from_client: bool
    buf: bytearray = field(default_factory=bytearray)
    banner_done: bool = False
    pre_lines: int = 0
    seq: int = 0
    cipher: SSHPacketCipher | None = None
    candidates: list[SSHPacketCipher] = field(default_factory=list)
    keys_from: _Exchange | None = None  # the exchange whose keys apply after NEWKEYS
    encrypted: bool = False  # past this direction's first NEWKEYS
    rekeyed: bool = False  # past a later NEWKEYS
    clear_length_mac: int | None = None  # no key: MAC length when the length is in clear
    lost: bool = False
    lost_reason: str = ""
    compression: str = "none"
    zlib_on: bool = False
    inflater: Any = None


@dataclass
class _Conn:
    stream: int
    c2s: _Direction = field(default_factory=lambda: _Direction(True))
    s2c: _Direction = field(default_factory=lambda: _Direction(False))
    v_c: bytes | None = None
    v_s: bytes | None = None
    exchange: _Exchange = field(default_factory=_Exchange)
    session_id: bytes | None = None
    strict: bool | None = None  # decided by the first exchange
    auth_method: bytes | None = None
    authenticated: bool = False
    stats: SSHConnStats | None = None


class SSHTracker(StreamTracker):
    """Every SSH connection of a capture; keys from :class:`SSHKeyLog`."""

    name = "ssh"

    def __init__(self, keylog: SSHKeyLog | None = None) -> None:
        self.keylog = keylog if keylog is not None else SSHKeyLog()
        self._conns: dict[int, _Conn] = {}
        self.stats = SSHStats()

    def has_keys(self) -> bool:
        return len(self.keylog) > 0

    def stats_rows(self) -> list[dict[str, Any]]:
        """One ``netsec stats`` row per SSH connection (see :mod:`.ssh_stats`)."""
        return self.stats.rows()

    # ------------------------------------------------------------------ engine interface

    def claims(self, chunk: StreamChunk) -> bool:
        data = chunk.data
        return data.startswith(b"SSH-") or (0 < len(data) < 4 and b"SSH-".startswith(data))

    def release(self, conn: TCPConn) -> None:
        self._conns.pop(conn.index, None)

    def on_secrets(self, secrets_type: int, data: bytes) -> bool:
        if secrets_type != 0x5353484B:  # pcapng DSB "SSHK"
            return False
        from netsec_layers.keys.ssh_keylog import parse_ssh_keylog

        self.keylog.merge(parse_ssh_keylog(data))
        return True

    def feed(self, chunk: StreamChunk) -> list[Any]:
        conn = self._conns.get(chunk.conn.index)
        if conn is None:
            conn = self._conns[chunk.conn.index] = _Conn(chunk.conn.index)
            c, s = chunk.conn.client, chunk.conn.server
            conn.stats = self.stats.conn(chunk.conn.index, f"{c[0]}:{c[1]}", f"{s[0]}:{s[1]}")
        d = conn.c2s if chunk.from_client else conn.s2c
        events: list[Any] = []
        if chunk.gap and not d.lost:
            d.lost, d.lost_reason = True, "after a TCP gap"
            d.buf.clear()
        if d.lost:
            if chunk.data:
                n = len(chunk.data)
                events.append(self._undelimited(conn, d, chunk.frame, n, d.lost_reason))
            return events
        d.buf += chunk.data
        self._drain(conn, d, chunk.frame, events)
        other = conn.s2c if chunk.from_client else conn.c2s
        if other.buf and not other.lost:  # it may have been waiting for keys this side brought
            self._drain(conn, other, chunk.frame, events)
        return events

    # ------------------------------------------------------------------ framing

    def _undelimited(
        self, conn: _Conn, d: _Direction, frame: int, n: int, why: str
    ) -> SSHPacketInfo:
        return SSHPacketInfo(
            frame,
            conn.stream,
            d.from_client,
            None,
            None,
            SSHVerdict.UNDELIMITED,
            length=n,
            detail=why,
        )

    def _lose(self, conn: _Conn, d: _Direction, frame: int, why: str, events: list[Any]) -> None:
        d.lost, d.lost_reason = True, why
        if d.buf:
            events.append(self._undelimited(conn, d, frame, len(d.buf), why))
        d.buf.clear()

    def _drain(self, conn: _Conn, d: _Direction, frame: int, events: list[Any]) -> None:
        while not d.lost:
            if not d.banner_done:
                if not self._banner(conn, d, frame, events):
                    return
                continue
            if not self._packet(conn, d, frame, events):
                return

    def _banner(self, conn: _Conn, d: _Direction, frame: int, events: list[Any]) -> bool:
        i = d.buf.find(b"\n")
        if i < 0:
            if len(d.buf) > MAX_BANNER_LINE:
                self._lose(conn, d, frame, "no identification string", events)
            return False
        line = bytes(d.buf[:i]).rstrip(b"\r")
        del d.buf[: i + 1]
        if not line.startswith(b"SSH-"):
            # RFC 4253 §4.2: the server may send other lines first
            d.pre_lines += 1
            if d.pre_lines > MAX_PRE_BANNER_LINES:
                self._lose(conn, d, frame, "no identification string", events)
            return True
        d.banner_done = True
        if d.from_client:
            conn.v_c = line
        else:
            conn.v_s = line
        events.append(SSHBanner(frame, conn.stream, d.from_client, line.decode("latin-1")))
        if conn.stats is not None:
            if d.from_client:
                conn.stats.client_version = line.decode("latin-1")
            else:
                conn.stats.server_version = line.decode("latin-1")
        return True

    def _packet(self, conn: _Conn, d: _Direction, frame: int, events: list[Any]) -> bool:
        """Take one packet off ``d.buf`` if it is all there."""
        seq = d.seq
        if not d.encrypted:
            if len(d.buf) < 5:
                return False
            length = int.from_bytes(d.buf[:4], "big")
            if length < 5 or length > MAX_PACKET_LENGTH or d.buf[4] >= length:
                self._lose(conn, d, frame, f"bad packet length {length}", events)
                return False
            if len(d.buf) < 4 + length:
                return False
            raw = bytes(d.buf[: 4 + length])
            del d.buf[: 4 + length]
            d.seq = (d.seq + 1) & 0xFFFFFFFF
            payload = raw[5 : 4 + length - raw[4]]
            self._emit(conn, d, frame, seq, payload, SSHVerdict.CLEAR, len(raw), events)
            return True
        if d.cipher is None and not d.candidates and d.keys_from is not None:
            ex = d.keys_from
            d.candidates = [pair[0 if d.from_client else 1] for pair in ex.candidates]
            if not d.candidates and ex.server_public is None and len(d.buf) < MAX_KEY_WAIT:
                return False  # the reply (and so the keys) is still to come in the other direction
            d.keys_from = None
        cipher = d.cipher or (d.candidates[0] if d.candidates else None)
        if cipher is None:
            return self._packet_no_key(conn, d, frame, events)
        if len(d.buf) < cipher.header_size:
            return False
        try:
            size = cipher.packet_size(bytes(d.buf[: cipher.header_size]), seq)
        except NetsecError as exc:
            if d.cipher is None and len(d.candidates) > 1:
                d.candidates.pop(0)
                return True
            self._lose(conn, d, frame, f"cannot delimit: {exc}", events)
            return False
        if len(d.buf) < size:
            return False
        raw = bytes(d.buf[:size])
        plain = None
        for cand in [d.cipher] if d.cipher else list(d.candidates):
            assert cand is not None
            try:
                plain = cand.open(raw, seq)
            except IntegrityError:
                continue
            except NetsecError:
                continue
            d.cipher = cand
            d.candidates = []
            break
        del d.buf[:size]
        d.seq = (d.seq + 1) & 0xFFFFFFFF
        if plain is None:
            events.append(
                SSHPacketInfo(
                    frame,
                    conn.stream,
                    d.from_client,
                    seq,
                    None,
                    SSHVerdict.INTEGRITY_FAILED,
                    length=size,
                    detail=f"{cipher.spec.name} with {cipher.mac.name if cipher.mac else 'its tag'}",
                )
            )
            if conn.stats is not None:
                conn.stats.packets += 1
                conn.stats.failed += 1
            if not cipher.length_in_clear:
                # the next length is unknown once the stream state is in doubt
                self._lose(conn, d, frame, "after an integrity failure", events)
                return False
            return True
        padlen = plain[4]
        if padlen < 4 or padlen > len(plain) - 5:
            events.append(
                SSHPacketInfo(
                    frame,
                    conn.stream,
                    d.from_client,
                    seq,
                    None,
                    SSHVerdict.MALFORMED,
                    length=size,
                    detail=f"padding length {padlen}",
                )
            )
            return True
        payload = plain[5 : len(plain) - padlen]
        self._emit(conn, d, frame, seq, payload, SSHVerdict.DECRYPTED, size, events)
        return True

    def _packet_no_key(self, conn: _Conn, d: _Direction, frame: int, events: list[Any]) -> bool:
        if d.rekeyed:
            # the contract: without keys, packets are delimited only until a rekey
            self._lose(conn, d, frame, "no key after the rekey", events)
            return False
        if d.clear_length_mac is None:
            self._lose(conn, d, frame, "encrypted length, no key", events)
            return False
        if len(d.buf) < 4:
            return False
        length = int.from_bytes(d.buf[:4], "big")
        if length < 5 or length > MAX_PACKET_LENGTH or length % 8:
            self._lose(conn, d, frame, f"implausible clear length {length}", events)
            return False
        size = 4 + length + d.clear_length_mac
        if len(d.buf) < size:
            return False
        del d.buf[:size]
        seq = d.seq
        d.seq = (d.seq + 1) & 0xFFFFFFFF
        events.append(
            SSHPacketInfo(
                frame, conn.stream, d.from_client, seq, None, SSHVerdict.NO_KEY, length=size
            )
        )
        return True

    # ------------------------------------------------------------------ messages

    def _emit(
        self,
        conn: _Conn,
        d: _Direction,
        frame: int,
        seq: int,
        payload: bytes,
        verdict: SSHVerdict,
        size: int,
        events: list[Any],
    ) -> None:
        if d.zlib_on and payload:
            try:
                payload = d.inflater.decompress(payload, MAX_PACKET_LENGTH * 4)
                if d.inflater.unconsumed_tail:
                    raise zlib.error("decompressed payload too large")
            except zlib.error as exc:
                events.append(
                    SSHPacketInfo(
                        frame,
                        conn.stream,
                        d.from_client,
                        seq,
                        None,
                        SSHVerdict.DECOMPRESSION_FAILED,
                        length=size,
                        detail=str(exc),
                    )
                )
                return
        msg_type = payload[0] if payload else None
        kex = conn.exchange.algs.kex if conn.exchange.algs else None
        info = SSHPacketInfo(
            frame,
            conn.stream,
            d.from_client,
            seq,
            msg_type,
            verdict,
            payload,
            size,
            kex=kex,
            auth_method=conn.auth_method,
        )
        events.append(info)
        if conn.stats is not None:
            conn.stats.packets += 1
            conn.stats.decrypted += verdict is SSHVerdict.DECRYPTED
            if msg_type is not None:
                conn.stats.message(d.from_client, msg_type, payload)
        if msg_type is not None:
            self._message(conn, d, msg_type, payload)

    def _message(self, conn: _Conn, d: _Direction, msg_type: int, payload: bytes) -> None:
        ex = conn.exchange
        try:
            if msg_type == 20:
                ki = parse_kexinit(payload)
                mine = ex.i_c if d.from_client else ex.i_s
                if mine is not None:  # a rekey: a new exchange begins
                    ex = conn.exchange = _Exchange()
                if d.from_client:
                    ex.i_c = ki
                else:
                    ex.i_s = ki
                if ex.i_c is not None and ex.i_s is not None:
                    ex.algs = negotiate(ex.i_c, ex.i_s)
                    if conn.strict is None:
                        conn.strict = ex.algs.strict
                    self._note_algorithms(conn, ex.algs)
                    for from_client, early_type, early_payload in ex.early:
                        self._kex_message(conn, ex, from_client, early_type, early_payload)
                    ex.early.clear()
            elif msg_type == 21:
                self._newkeys(conn, d)
            elif 30 <= msg_type <= 49 and ex.algs is not None:
                self._kex_message(conn, ex, d.from_client, msg_type, payload)
            elif 30 <= msg_type <= 49 and len(ex.early) < 8:
                ex.early.append((d.from_client, msg_type, payload))
            elif msg_type == 50 and d.from_client:
                conn.auth_method = read_strings(payload, 1, 3)[2]
            elif msg_type == 52 and not d.from_client:
                conn.authenticated = True
                for dd in (conn.c2s, conn.s2c):
                    if dd.compression == "zlib@openssh.com" and not dd.zlib_on:
                        dd.zlib_on = True  # delayed compression starts after USERAUTH_SUCCESS
                        dd.inflater = dd.inflater or zlib.decompressobj()
        except NetsecError:
            pass  # a malformed message changes no state; it is still reported as a packet

    def _kex_message(
        self, conn: _Conn, ex: _Exchange, from_client: bool, msg_type: int, payload: bytes
    ) -> None:
        assert ex.algs is not None
        gex = is_group_exchange(ex.algs.kex)
        if gex and from_client and msg_type == 34 and len(payload) >= 13:
            ex.gex_request = tuple(int.from_bytes(payload[i : i + 4], "big") for i in (1, 5, 9))
        elif gex and from_client and msg_type == 30 and len(payload) >= 5:
            ex.gex_request = (int.from_bytes(payload[1:5], "big"),)
        elif gex and not from_client and msg_type == 31:
            p, g = read_strings(payload, 1, 2)
            ex.gex_group = (p, g)
        elif from_client and msg_type == (32 if gex else 30):
            ex.client_public = read_strings(payload, 1, 1)[0]
        elif not from_client and msg_type == (33 if gex else 31):
            ex.host_key, ex.server_public, _sig = read_strings(payload, 1, 3)
            if conn.stats is not None and conn.stats.host_key_type is None:
                conn.stats.host_key(ex.host_key)
            self._derive(conn, ex)

    @staticmethod
    def _note_algorithms(conn: _Conn, algs: Negotiated) -> None:
        st = conn.stats
        if st is None:
            return
        st.key_exchanges += 1
        st.kex = algs.kex
        st.ciphers = (algs.cipher_c2s, algs.cipher_s2c)
        st.macs = (algs.mac_c2s, algs.mac_s2c)
        st.compression = (algs.compression_c2s, algs.compression_s2c)
        st.strict_kex = bool(conn.strict)

    def _derive(self, conn: _Conn, ex: _Exchange) -> None:
        assert ex.algs is not None and ex.i_c is not None and ex.i_s is not None
        if conn.v_c is None or conn.v_s is None or ex.client_public is None:
            ex.key_error = "the exchange was not all captured"
            return
        assert ex.server_public is not None and ex.host_key is not None
        algs = ex.algs
        t = KexTranscript(
            kex=algs.kex,
            v_c=conn.v_c,
            v_s=conn.v_s,
            i_c=ex.i_c.payload,
            i_s=ex.i_s.payload,
            k_s=ex.host_key,
            client_public=ex.client_public,
            server_public=ex.server_public,
            gex_request=ex.gex_request,
            gex_group=ex.gex_group,
        )
        group = None
        if ex.gex_group is not None:
            group = tuple(int.from_bytes(v, "big") for v in ex.gex_group)
        for kind, secret in self.keylog.lookup(ex.i_c.cookie, ex.i_s.cookie):
            try:
                k: int | bytes
                if kind == SHARED_SECRET:
                    k = secret if algs.kex in HYBRID_KEX else int.from_bytes(secret, "big")
                else:
                    k = shared_secret_from_private(
                        kex=algs.kex,
                        private_key=secret,
                        client_public=ex.client_public,
                        server_public=ex.server_public,
                        group=(group[0], group[1]) if group else None,
                    )
                h = exchange_hash(t, k)
                sid = conn.session_id or h
                ex.candidates.append(
                    (self._cipher(algs, k, h, sid, True), self._cipher(algs, k, h, sid, False))
                )
                ex.h = ex.h or h
            except NetsecError as exc:
                ex.key_error = str(exc)

    @staticmethod
    def _cipher(
        algs: Negotiated, k: int | bytes, h: bytes, sid: bytes, c2s: bool
    ) -> SSHPacketCipher:
        cname = algs.cipher_c2s if c2s else algs.cipher_s2c
        mname = algs.mac_c2s if c2s else algs.mac_s2c
        spec = cipher_spec(cname)
        mkey_len = mac_spec(mname).key_len if mname and mname != "none" else 0
        keys = derive_direction_keys(
            kex=algs.kex,
            k=k,
            h=h,
            session_id=sid,
            client_to_server=c2s,
            iv_len=spec.iv_len,
            key_len=spec.key_len,
            mac_key_len=mkey_len,
        )
        return SSHPacketCipher(
            cipher=cname, mac=mname, enc_key=keys.enc_key, iv=keys.iv, mac_key=keys.mac_key
        )

    def _newkeys(self, conn: _Conn, d: _Direction) -> None:
        ex = conn.exchange
        if conn.session_id is None and ex.h is not None:
            conn.session_id = ex.h
        d.rekeyed = d.encrypted  # a NEWKEYS after the first: this direction was rekeyed
        d.encrypted = True
        d.cipher = None
        d.candidates = []
        d.keys_from = ex
        d.clear_length_mac = None
        if ex.algs is not None:
            cname = ex.algs.cipher_c2s if d.from_client else ex.algs.cipher_s2c
            mname = ex.algs.mac_c2s if d.from_client else ex.algs.mac_s2c
            if cname.startswith("aes") and "gcm@openssh.com" in cname:
                d.clear_length_mac = 16
            elif mname is not None and mname.endswith("-etm@openssh.com") and mname in _MAC_LENS:
                d.clear_length_mac = _MAC_LENS[mname]
            comp = ex.algs.compression_c2s if d.from_client else ex.algs.compression_s2c
            d.compression = comp
            if comp == "zlib" or (comp == "zlib@openssh.com" and conn.authenticated):
                d.zlib_on = True
                d.inflater = d.inflater or zlib.decompressobj()
        if conn.strict:
            d.seq = 0  # OpenSSH PROTOCOL §1.10: reset after every NEWKEYS


def _mac_lens() -> dict[str, int]:
    from netsec_layers.crypto.ssh_cipher import MACS

    return {name: m.mac_len for name, m in MACS.items()}


_MAC_LENS = _mac_lens()
