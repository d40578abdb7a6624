"""Crafted DTLS 1.0/1.2 associations with keys we choose (wire bytes only; Sans-I/O).

:class:`CraftedDTLSConnection` produces the datagrams of a whole association -- ClientHello,
HelloVerifyRequest and the cookie retry (RFC 6347 §4.2.1), ServerHello, ServerHelloDone,
ClientKeyExchange, ChangeCipherSpec and Finished in epoch 1 with a correct verify_data over the
DTLS transcript (§4.2.6) -- then protected application data and alerts, optionally with
handshake messages cut into fragments, and deliberately broken records (``fault=``).  Its key
log (``CLIENT_RANDOM``) lets tshark and :class:`~netsec_layers.session.dtls.DTLSTracker`
decrypt it.  :func:`udp_packets` turns datagrams into IPv4/UDP packets for a pcap writer.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable
from typing import Any

from netsec_layers.crypto.dtls import DTLS10, DTLS12, DTLSRecordProtection, tls_version_of
from netsec_layers.crypto.tls_prf import finished_verify_data, key_block
from netsec_layers.crypto.tls_suites import CipherSuiteInfo, suite_info
from netsec_layers.errors import UsageError
from netsec_layers.keys.keylog import format_keylog_line

__all__ = ["CraftedDTLSConnection", "dtls_handshake_fragments", "dtls_record", "udp_packets"]

CT_CCS, CT_ALERT, CT_HANDSHAKE, CT_APPDATA = 20, 21, 22, 23


def _vec(data: bytes, n: int) -> bytes:
    return len(data).to_bytes(n, "big") + data


def _ext(etype: int, body: bytes) -> bytes:
    return struct.pack("!HH", etype, len(body)) + body


def dtls_record(content_type: int, version: int, epoch: int, seq: int, fragment: bytes) -> bytes:
    """A DTLS 1.0/1.2 record header + fragment (RFC 6347 §4.1)."""
    return struct.pack("!BHH", content_type, version, epoch) + seq.to_bytes(6, "big") + _vec(
        fragment, 2
    )  # fmt: skip


def dtls_handshake_fragments(msg_type: int, message_seq: int, body: bytes,
                             max_fragment: int | None = None) -> list[bytes]:  # fmt: skip
    """A handshake message as one or more fragments with 12-byte headers (RFC 6347 §4.2.3)."""
    size = max_fragment or max(len(body), 1)
    n = len(body).to_bytes(3, "big")
    out = []
    for off in range(0, max(len(body), 1), size):
        chunk = body[off : off + size]
        out.append(
            bytes([msg_type]) + n + struct.pack("!H", message_seq) + off.to_bytes(3, "big")
            + len(chunk).to_bytes(3, "big") + chunk
        )  # fmt: skip
    return out


def _whole(msg_type: int, message_seq: int, body: bytes) -> bytes:
    """The message as hashed for Finished: one fragment (RFC 6347 §4.2.6)."""
    return dtls_handshake_fragments(msg_type, message_seq, body)[0]


class CraftedDTLSConnection:
    """One DTLS 1.0 or 1.2 association with chosen keys; methods return datagrams."""

    def __init__(self, *, version: int = DTLS12, suite: int = 0xC02F,
                 extended_master_secret: bool = True, encrypt_then_mac: bool = False,
                 cookie: bytes | None = b"netsec-dtls-cookie", max_fragment: int | None = None,
                 client_cid: bytes | None = None, server_cid: bytes | None = None,
                 rng: Any = None) -> None:  # fmt: skip
        info = suite_info(suite)
        if info is None or info.is_tls13:
            raise UsageError(f"cipher suite 0x{suite:04x} cannot be crafted for DTLS 1.0/1.2")
        if version not in (DTLS10, DTLS12):
            raise UsageError("version is 0xfeff (DTLS 1.0) or 0xfefd (DTLS 1.2)")
        if version == DTLS10 and info.cipher_type == "aead":
            raise UsageError(f"{info.name} needs DTLS 1.2")
        self.version = version
        self.suite: CipherSuiteInfo = info
        self.ems = extended_master_secret
        self.etm = encrypt_then_mac and info.cipher_type == "block"
        self.cookie = cookie
        self.max_fragment = max_fragment
        # RFC 9146: each side names the CID it wants to receive (connection_id, type 54)
        self.client_cid, self.server_cid = client_cid, server_cid
        self.use_cid = client_cid is not None and server_cid is not None
        self._rand = rng.randbytes if rng is not None else os.urandom
        self.client_random = self._rand(32)
        self.server_random = self._rand(32)
        self.session_id = self._rand(32)
        self.master_secret = self._rand(48)
        self._seq = {True: 0, False: 0}  # next record sequence number per sender (epoch 0/1)
        self._epoch = {True: 0, False: 0}
        self._mseq = {True: 0, False: 0}
        self.client_prot: DTLSRecordProtection | None = None
        self.server_prot: DTLSRecordProtection | None = None

    # -- building blocks -----------------------------------------------------------------------
    def _next(self, from_client: bool) -> tuple[int, int]:
        seq = self._seq[from_client]
        self._seq[from_client] = seq + 1
        return self._epoch[from_client], seq

    def _plain(self, from_client: bool, ct: int, fragment: bytes) -> bytes:
        epoch, seq = self._next(from_client)
        return dtls_record(ct, self.version, epoch, seq, fragment)

    def _message(self, from_client: bool, msg_type: int, body: bytes) -> tuple[bytes, bytes]:
        """(records on the wire, the message as hashed)."""
        mseq = self._mseq[from_client]
        self._mseq[from_client] = mseq + 1
        frags = dtls_handshake_fragments(msg_type, mseq, body, self.max_fragment)
        return b"".join(self._plain(from_client, CT_HANDSHAKE, f) for f in frags), _whole(
            msg_type, mseq, body
        )  # fmt: skip

    def client_hello_body(self, cookie: bytes = b"") -> bytes:
        """A DTLS ClientHello body a real server accepts (curves, signature algorithms)."""
        exts = _ext(10, _vec(struct.pack("!HH", 0x001D, 0x0017), 2)) + _ext(11, b"\x01\x00")
        exts += _ext(13, _vec(struct.pack("!HHHH", 0x0403, 0x0804, 0x0401, 0x0503), 2))
        exts += (_ext(23, b"") if self.ems else b"") + (_ext(22, b"") if self.etm else b"")
        exts += _ext(0xFF01, b"\x00")
        if self.client_cid is not None:
            exts += _ext(54, _vec(self.client_cid, 1))
        return (struct.pack("!H", self.version) + self.client_random + _vec(b"", 1)
                + _vec(cookie, 1) + _vec(struct.pack("!HH", self.suite.code, 0x00FF), 2)
                + b"\x01\x00" + _vec(exts, 2))  # fmt: skip

    def client_hello(self, cookie: bytes = b"") -> bytes:
        """The next ClientHello datagram (message_seq and record number advance)."""
        return self._message(True, 1, self.client_hello_body(cookie))[0]

    def _server_hello_body(self) -> bytes:
        exts = (_ext(23, b"") if self.ems else b"") + (_ext(22, b"") if self.etm else b"")
        exts += _ext(0xFF01, b"\x00")
        if self.use_cid:
            exts += _ext(54, _vec(self.server_cid or b"", 1))
        return (struct.pack("!H", self.version) + self.server_random + _vec(self.session_id, 1)
                + struct.pack("!HB", self.suite.code, 0) + _vec(exts, 2))  # fmt: skip

    # -- the association -------------------------------------------------------------------------
    def handshake(self) -> list[tuple[bool, bytes]]:
        """Every handshake datagram as ``(from_client, bytes)``, in order.  The master secret
        is chosen, not derived: extended_master_secret (RFC 7627) is only signalled."""
        v, flights = self.version, []
        if self.cookie is not None:
            flights.append((True, self.client_hello()))
            self._mseq[False] += 1  # HelloVerifyRequest uses the server's message_seq 0
            hvr = struct.pack("!H", DTLS10) + _vec(self.cookie, 1)  # §4.2.1: always 1.0
            frag = dtls_handshake_fragments(3, 0, hvr)[0]
            flights.append((False, self._plain(False, CT_HANDSHAKE, frag)))
        ch_wire, ch = self._message(True, 1, self.client_hello_body(self.cookie or b""))
        flights.append((True, ch_wire))
        sh_wire, sh = self._message(False, 2, self._server_hello_body())
        shd_wire, shd = self._message(False, 14, b"")
        flights.append((False, sh_wire + shd_wire))
        pub = _vec(self._rand(256), 2) if self.suite.kex == "RSA" else _vec(self._rand(32), 1)
        cke_wire, cke = self._message(True, 16, pub)
        transcript = ch + sh + shd + cke
        tls_v = tls_version_of(v)
        kb = key_block(tls_v, self.suite, master_secret=self.master_secret,
                       client_random=self.client_random, server_random=self.server_random)  # fmt: skip
        self.client_prot = DTLSRecordProtection(self.suite, v, key=kb.client_key,
                                                mac_key=kb.client_mac, iv=kb.client_iv,
                                                encrypt_then_mac=self.etm)  # fmt: skip
        self.server_prot = DTLSRecordProtection(self.suite, v, key=kb.server_key,
                                                mac_key=kb.server_mac, iv=kb.server_iv,
                                                encrypt_then_mac=self.etm)  # fmt: skip
        fin = {}
        for side in (True, False):
            vd = finished_verify_data(tls_v, self.suite, master_secret=self.master_secret,
                                      from_client=side, transcript=transcript)  # fmt: skip
            mseq = self._mseq[side]
            self._mseq[side] += 1
            fin[side] = _whole(20, mseq, vd)
            transcript += fin[side]
        flights.append(
            (True, cke_wire + self._ccs(True) + self._protect(True, CT_HANDSHAKE, fin[True]))
        )
        flights.append((False, self._ccs(False) + self._protect(False, CT_HANDSHAKE, fin[False])))
        return flights

    def _ccs(self, from_client: bool) -> bytes:
        rec = self._plain(from_client, CT_CCS, b"\x01")
        self._epoch[from_client] += 1  # RFC 6347 §4.1: the epoch advances, seq restarts at 0
        self._seq[from_client] = 0
        return rec

    def _protect(self, from_client: bool, ct: int, plaintext: bytes,
                 fault: str | None = None) -> bytes:  # fmt: skip
        prot = self.client_prot if from_client else self.server_prot
        if prot is None:
            raise UsageError("call handshake() first")
        epoch, seq = self._next(from_client)
        if self.use_cid:  # RFC 9146 §4: tls12_cid records carry the receiver's CID
            cid = (self.server_cid if from_client else self.client_cid) or b""
            frag = prot.encrypt_cid(content_type=ct, version=self.version, epoch=epoch, seq=seq,
                                    cid=cid, plaintext=plaintext)  # fmt: skip
            if fault == "mac":
                frag = frag[:-1] + bytes([frag[-1] ^ 1])
            head = struct.pack("!BHH", 25, self.version, epoch) + seq.to_bytes(6, "big") + cid
            return head + _vec(frag, 2)
        frag = prot.encrypt(content_type=ct, version=self.version, epoch=epoch, seq=seq,
                            plaintext=plaintext, fault=fault)  # fmt: skip
        return dtls_record(ct, self.version, epoch, seq, frag)

    def application_data(self, data: bytes, *, from_client: bool,
                         fault: str | None = None) -> bytes:  # fmt: skip
        """One protected application-data record (``fault="mac"|"padding"`` breaks it)."""
        return self._protect(from_client, CT_APPDATA, data, fault)

    def alert(self, level: int, description: int, *, from_client: bool) -> bytes:
        return self._protect(from_client, CT_ALERT, bytes((level, description)))

    def keylog(self) -> str:
        """The NSS key log line (RFC 9850) of this association."""
        return format_keylog_line("CLIENT_RANDOM", self.client_random, self.master_secret) + "\n"


def udp_packets(datagrams: Iterable[tuple[bool, bytes]], *, client: tuple[str, int],
                server: tuple[str, int]) -> list[bytes]:  # fmt: skip
    """IPv4/UDP packets (raw IP, with UDP checksums) carrying the datagrams."""
    from netsec_layers.session.ipbuild import ipv4_header, udp_datagram

    out = []
    for i, (from_client, payload) in enumerate(datagrams):
        (src, sport), (dst, dport) = (client, server) if from_client else (server, client)
        udp = udp_datagram(version=4, src=src, dst=dst, sport=sport, dport=dport,
                           payload=payload, zero_checksum=False)  # fmt: skip
        out.append(ipv4_header(src=src, dst=dst, proto=17, payload_len=len(udp), ident=i) + udp)
    return out
