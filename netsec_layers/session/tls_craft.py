"""Craft whole, valid TLS 1.2/1.3 connections with chosen keys (for tests and test peers).

:class:`CraftedTLSConnection` writes the handshake a real peer would see (ClientHello,
ServerHello, …, Finished with correct verify_data), then protects application data, alerts and
KeyUpdates with :class:`~netsec_layers.crypto.tls_record.RecordProtection`, and gives the NSS key
log (RFC 9850) that lets tshark or netsec decrypt it. :func:`write_connections` lays connections
out as TCP packets in a pcap. Certificates are not sent (the key log is what a decryptor needs),
so the handshake is the shape of a PSK-less server without certificate: enough for dissectors,
not for a client that verifies the server.
"""

from __future__ import annotations

import hashlib
import os
import struct
from typing import Any

from netsec_layers.crypto.tls13 import KeySchedule13, finished_verify_data13, next_traffic_secret
from netsec_layers.crypto.tls_prf import finished_verify_data, key_block
from netsec_layers.crypto.tls_record import RecordProtection
from netsec_layers.crypto.tls_suites import CipherSuiteInfo, suite_info
from netsec_layers.errors import UsageError
from netsec_layers.keys.keylog import format_keylog_line

CT_CCS, CT_ALERT, CT_HANDSHAKE, CT_APPDATA = 20, 21, 22, 23


def _vec(data: bytes, n: int) -> bytes:
    return len(data).to_bytes(n, "big") + data


def _ext(etype: int, body: bytes) -> bytes:
    return struct.pack("!HH", etype, len(body)) + body


def _msg(mtype: int, body: bytes) -> bytes:
    return bytes([mtype]) + len(body).to_bytes(3, "big") + body


def _record(ct: int, version: int, fragment: bytes) -> bytes:
    return struct.pack("!BHH", ct, version, len(fragment)) + fragment


class CraftedTLSConnection:
    """One TLS 1.2 or 1.3 connection with keys we choose; every method returns wire bytes."""

    def __init__(
        self,
        *,
        version: int = 0x0303,
        suite: int = 0xC02F,
        sni: str = "example.com",
        extended_master_secret: bool = True,
        encrypt_then_mac: bool = False,
        compression: int = 0,
        rng: Any = None,
    ) -> None:
        info = suite_info(suite)
        if info is None:
            raise UsageError(f"cipher suite 0x{suite:04x} is not supported for record protection")
        if (version >= 0x0304) != (info.kex == "TLS13"):
            raise UsageError(f"suite {info.name} does not fit version 0x{version:04x}")
        if compression not in (0, 1) or (compression and version >= 0x0304):
            raise UsageError("compression: 0 (null) or 1 (DEFLATE, RFC 3749; TLS 1.2 and older)")
        # The ClientHello offers DEFLATE and null, the ServerHello picks DEFLATE: the records
        # after ChangeCipherSpec are compressed, then protected (RFC 5246 §6.2.2).
        self.compression = compression
        self.version = version
        self.suite: CipherSuiteInfo = info
        self.sni = sni
        self.ems = extended_master_secret
        self.etm = encrypt_then_mac and info.cipher_type == "block"
        self._rand = rng.randbytes if rng is not None else os.urandom
        self.client_random = self._rand(32)
        self.server_random = self._rand(32)
        self.session_id = self._rand(32)
        self.master_secret = self._rand(48)
        self.secrets: dict[str, bytes] = {}
        self.client_prot: RecordProtection | None = None
        self.server_prot: RecordProtection | None = None
        self.record_version = 0x0303 if version >= 0x0303 else version

    # -- handshake ---------------------------------------------------------------------------------
    def handshake(self) -> list[tuple[bool, bytes]]:
        """The handshake flights as ``(from_client, wire bytes)``, in order."""
        return self._handshake13() if self.version >= 0x0304 else self._handshake12()

    def _client_hello(self) -> bytes:
        name = self.sni.encode()
        exts = _ext(0, _vec(b"\0" + _vec(name, 2), 2))
        exts += _ext(10, _vec(struct.pack("!HH", 0x001D, 0x0017), 2))  # x25519, secp256r1
        exts += _ext(11, b"\x01\x00")
        exts += _ext(13, _vec(struct.pack("!HHHH", 0x0403, 0x0804, 0x0401, 0x0503), 2))
        if self.version >= 0x0304:
            exts += _ext(43, b"\x02\x03\x04")
            exts += _ext(51, _vec(struct.pack("!H", 0x001D) + _vec(self._rand(32), 2), 2))
            exts += _ext(45, b"\x01\x01")
        else:
            if self.ems:
                exts += _ext(23, b"")
            if self.etm:
                exts += _ext(22, b"")
            exts += _ext(0xFF01, b"\x00")
        suites = struct.pack("!HH", self.suite.code, 0x00FF)
        legacy = min(self.version, 0x0303)
        body = struct.pack("!H", legacy) + self.client_random + _vec(self.session_id, 1)
        methods = b"\x02\x01\x00" if self.compression else b"\x01\x00"
        body += _vec(suites, 2) + methods + _vec(exts, 2)
        return _msg(1, body)

    def _server_hello(self) -> bytes:
        if self.version >= 0x0304:
            exts = _ext(43, b"\x03\x04") + _ext(
                51, struct.pack("!H", 0x001D) + _vec(self._rand(32), 2)
            )
        else:
            exts = (_ext(23, b"") if self.ems else b"") + (_ext(22, b"") if self.etm else b"")
            exts += _ext(0xFF01, b"\x00")
        body = (
            struct.pack("!H", min(self.version, 0x0303))
            + self.server_random
            + _vec(self.session_id, 1)
        )
        body += struct.pack("!HB", self.suite.code, self.compression) + _vec(exts, 2)
        return _msg(2, body)

    def _handshake12(self) -> list[tuple[bool, bytes]]:
        v = self.version
        ch, sh = self._client_hello(), self._server_hello()
        shd = _msg(14, b"")
        if self.suite.kex == "RSA":  # EncryptedPreMasterSecret (RFC 5246 §7.4.7.1)
            cke = _msg(16, _vec(self._rand(256), 2))
        else:  # an ECDH public value (RFC 8422 §5.7)
            cke = _msg(16, _vec(self._rand(32), 1))
        transcript = ch + sh + shd + cke
        kb = key_block(
            v,
            self.suite,
            master_secret=self.master_secret,
            client_random=self.client_random,
            server_random=self.server_random,
        )
        self.client_prot = RecordProtection.tls12(
            self.suite,
            v,
            key=kb.client_key,
            mac_key=kb.client_mac,
            iv=kb.client_iv,
            encrypt_then_mac=self.etm,
            compression=self.compression,
        )
        self.server_prot = RecordProtection.tls12(
            self.suite,
            v,
            key=kb.server_key,
            mac_key=kb.server_mac,
            iv=kb.server_iv,
            encrypt_then_mac=self.etm,
            compression=self.compression,
        )
        cfin = _msg(
            20,
            finished_verify_data(
                v,
                self.suite,
                master_secret=self.master_secret,
                from_client=True,
                transcript=transcript,
            ),
        )
        sfin = _msg(
            20,
            finished_verify_data(
                v,
                self.suite,
                master_secret=self.master_secret,
                from_client=False,
                transcript=transcript + cfin,
            ),
        )
        rv = self.record_version
        hello_version = 0x0301 if v >= 0x0301 else v
        return [
            (True, _record(CT_HANDSHAKE, hello_version, ch)),
            (False, _record(CT_HANDSHAKE, rv, sh) + _record(CT_HANDSHAKE, rv, shd)),
            (
                True,
                _record(CT_HANDSHAKE, rv, cke)
                + _record(CT_CCS, rv, b"\x01")
                + self._protect(True, CT_HANDSHAKE, cfin),
            ),
            (False, _record(CT_CCS, rv, b"\x01") + self._protect(False, CT_HANDSHAKE, sfin)),
        ]

    def _handshake13(self) -> list[tuple[bool, bytes]]:
        h = self.suite.prf_hash
        ch, sh = self._client_hello(), self._server_hello()
        ks = KeySchedule13(h)
        ks.handshake(self._rand(32))
        th = hashlib.new(h.lower(), ch + sh).digest()
        chts = ks.client_handshake_traffic_secret(th)
        shts = ks.server_handshake_traffic_secret(th)
        ee = _msg(8, b"\0\0")
        sfin = _msg(
            20,
            finished_verify_data13(
                h, base_key=shts, transcript_hash=hashlib.new(h.lower(), ch + sh + ee).digest()
            ),
        )
        ks.master()
        th_sf = hashlib.new(h.lower(), ch + sh + ee + sfin).digest()
        cats = ks.client_application_traffic_secret_0(th_sf)
        sats = ks.server_application_traffic_secret_0(th_sf)
        cfin = _msg(20, finished_verify_data13(h, base_key=chts, transcript_hash=th_sf))
        self.secrets = {
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET": chts,
            "SERVER_HANDSHAKE_TRAFFIC_SECRET": shts,
            "CLIENT_TRAFFIC_SECRET_0": cats,
            "SERVER_TRAFFIC_SECRET_0": sats,
            "EXPORTER_SECRET": ks.exporter_master_secret(th_sf),
        }
        self.client_prot = RecordProtection.tls13(self.suite, traffic_secret=chts)
        self.server_prot = RecordProtection.tls13(self.suite, traffic_secret=shts)
        server_flight = _record(CT_HANDSHAKE, 0x0303, sh) + _record(CT_CCS, 0x0303, b"\x01")
        server_flight += self._protect(False, CT_HANDSHAKE, ee + sfin)
        self.server_prot = RecordProtection.tls13(self.suite, traffic_secret=sats)
        client_flight = _record(CT_CCS, 0x0303, b"\x01") + self._protect(True, CT_HANDSHAKE, cfin)
        self.client_prot = RecordProtection.tls13(self.suite, traffic_secret=cats)
        return [
            (True, _record(CT_HANDSHAKE, 0x0301, ch)),
            (False, server_flight),
            (True, client_flight),
        ]

    # -- records -------------------------------------------------------------------------------------
    def _protect(self, from_client: bool, ct: int, plaintext: bytes, padding: int = 0) -> bytes:
        prot = self.client_prot if from_client else self.server_prot
        if prot is None:
            raise UsageError("call handshake() first")
        outer, fragment = prot.encrypt(ct, self.record_version, plaintext, padding=padding)
        return _record(outer, self.record_version, fragment)

    def application_data(
        self, data: bytes, *, from_client: bool, record_size: int = 16384, padding: int = 0
    ) -> bytes:
        """``data`` cut into protected application-data records of at most ``record_size`` bytes."""
        return b"".join(
            self._protect(from_client, CT_APPDATA, data[i : i + record_size], padding)
            for i in range(0, max(len(data), 1), record_size)
        )

    def alert(self, level: int, description: int, *, from_client: bool) -> bytes:
        return self._protect(from_client, CT_ALERT, bytes((level, description)))

    def key_update(self, *, from_client: bool, request_update: bool = False) -> bytes:
        """A TLS 1.3 KeyUpdate (RFC 8446 §4.6.3); the sender's keys change after it."""
        if self.version < 0x0304:
            raise UsageError("KeyUpdate exists in TLS 1.3 only")
        wire = self._protect(from_client, CT_HANDSHAKE, _msg(24, bytes((int(request_update),))))
        prot = self.client_prot if from_client else self.server_prot
        assert prot is not None
        prot.key_update()
        label = "CLIENT" if from_client else "SERVER"
        n = sum(1 for k in self.secrets if k.startswith(f"{label}_TRAFFIC_SECRET_"))
        self.secrets[f"{label}_TRAFFIC_SECRET_{n}"] = next_traffic_secret(
            self.suite.prf_hash, traffic_secret=self.secrets[f"{label}_TRAFFIC_SECRET_{n - 1}"]
        )
        return wire

    def keylog(self) -> str:
        """NSS key log lines (RFC 9850) for this connection."""
        if self.version < 0x0304:
            return (
                format_keylog_line("CLIENT_RANDOM", self.client_random, self.master_secret) + "\n"
            )
        return "".join(
            format_keylog_line(label, self.client_random, secret) + "\n"
            for label, secret in self.secrets.items()
            if not label[-1].isdigit() or label.endswith("_0")
        )


def __getattr__(name: str) -> Any:
    # ``write_connections`` writes a pcap, so it lives in the I/O floor (netsec_layers.io.crafted);
    # this name is kept for earlier code, without a static import upward.
    if name == "write_connections":
        import importlib

        return importlib.import_module("netsec_layers.io.crafted").write_connections
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
