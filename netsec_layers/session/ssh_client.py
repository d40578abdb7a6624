"""A Sans-I/O SSH client transport: key exchange, publickey authentication, one exec channel.

Bytes in (:meth:`SSHClient.receive`), bytes out (:meth:`SSHClient.data_to_send`); no sockets.
It speaks curve25519-sha256 (RFC 8731) with one cipher/MAC pair chosen by the caller, verifies
the server's ssh-ed25519 signature over H (RFC 8709), authenticates with an Ed25519 key
(RFC 4252 §7), runs one command (RFC 4254 §6.5) with the given stdin, and records its secrets as
an SSH key log (:attr:`keylog`: ``(cookie, "SHARED_SECRET" | "PRIVATE_KEY", bytes)``), so that a
capture of it decrypts with netsec and with tshark.  ``break_packet=N`` flips one bit of the
N-th encrypted packet it sends (0-based), to see a peer reject a bad MAC.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

from netsec_layers.crypto.ssh_cipher import SSHPacketCipher, cipher_spec, mac_spec
from netsec_layers.crypto.ssh_kex import (
    KexTranscript,
    derive_direction_keys,
    exchange_hash,
    ssh_string,
)
from netsec_layers.crypto.ssh_negotiate import STRICT_KEX_CLIENT, parse_kexinit, read_strings
from netsec_layers.errors import IntegrityError, NetsecError, ParseError

KEX = "curve25519-sha256"
VERSION = b"SSH-2.0-netsec_ssh_client"
WINDOW = 1 << 21
MAX_DATA = 16384


def _u32(v: int) -> bytes:
    return (v & 0xFFFFFFFF).to_bytes(4, "big")


def _name_list(*names: str) -> bytes:
    return ssh_string(",".join(names).encode())


class SSHClient:
    """One SSH client connection (see the module docstring)."""

    def __init__(
        self,
        *,
        user: str,
        key: ed25519.Ed25519PrivateKey,
        command: str,
        stdin: bytes = b"",
        cipher: str = "aes128-ctr",
        mac: str | None = "hmac-sha2-256",
        strict_kex: bool = False,
        break_packet: int | None = None,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> None:
        cipher_spec(cipher)
        if mac is not None:
            mac_spec(mac)
        self.user, self.key, self.command, self.stdin = user, key, command, stdin
        self.cipher_name, self.mac_name, self.strict = cipher, mac, strict_kex
        self.break_packet = break_packet
        self.rng = rng
        self.keylog: list[tuple[bytes, str, bytes]] = []
        self.stdout = bytearray()
        self.exit_status: int | None = None
        self.done = False
        self.error: str | None = None
        self._out = bytearray(VERSION + b"\r\n")
        self._in = bytearray()
        self._server_version: bytes | None = None
        self._send_seq = self._recv_seq = 0
        self._send: SSHPacketCipher | None = None
        self._recv: SSHPacketCipher | None = None
        self._pending_recv: SSHPacketCipher | None = None
        self._sent_encrypted = 0
        self._x25519 = x25519.X25519PrivateKey.from_private_bytes(rng(32))
        self._session_id: bytes | None = None
        self._strict_agreed = False
        self._server_channel: int | None = None
        kex_names = [KEX, STRICT_KEX_CLIENT] if strict_kex else [KEX]
        self._kexinit = (
            bytes([20])
            + rng(16)
            + _name_list(*kex_names)
            + _name_list("ssh-ed25519")
            + _name_list(cipher) * 2
            + (_name_list(mac) if mac else _name_list("none")) * 2
            + _name_list("none") * 2
            + _name_list() * 2
            + b"\x00"
            + _u32(0)
        )
        self._send_packet(self._kexinit)

    # ------------------------------------------------------------------ I/O

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def receive(self, data: bytes) -> None:
        """Bytes from the server; raises :class:`NetsecError` subclasses on protocol errors."""
        if self.done:
            return
        self._in += data
        if self._server_version is None:
            while b"\n" in self._in and self._server_version is None:
                i = self._in.index(b"\n")
                line = bytes(self._in[:i]).rstrip(b"\r")
                del self._in[: i + 1]
                if line.startswith(b"SSH-"):
                    self._server_version = line
            if self._server_version is None:
                return
        while not self.done:
            payload = self._next_payload()
            if payload is None:
                return
            self._handle(payload)

    # ------------------------------------------------------------------ framing

    def _send_packet(self, payload: bytes) -> None:
        c = self._send
        block = c.block_size if c else 8
        aad = c is not None and (c.length_in_clear or c.spec.kind == "chacha")
        pad = -(len(payload) + 1 + (0 if aad else 4)) % block
        pad += block if pad < 4 else 0
        body = bytes([pad]) + payload + self.rng(pad)
        plain = _u32(len(body)) + body
        if c is None:
            wire = plain
        else:
            wire = c.seal(plain, self._send_seq)
            if self.break_packet == self._sent_encrypted:
                wire = wire[:-1] + bytes([wire[-1] ^ 1])
            self._sent_encrypted += 1
        self._send_seq = (self._send_seq + 1) & 0xFFFFFFFF
        self._out += wire

    def _next_payload(self) -> bytes | None:
        c = self._recv
        if c is None:
            if len(self._in) < 5:
                return None
            size = 4 + int.from_bytes(self._in[:4], "big")
            if size > 256 * 1024:
                raise ParseError("packet too long")
            if len(self._in) < size:
                return None
            plain = bytes(self._in[:size])
        else:
            if len(self._in) < c.header_size:
                return None
            size = c.packet_size(bytes(self._in[: c.header_size]), self._recv_seq)
            if len(self._in) < size:
                return None
            plain = c.open(bytes(self._in[:size]), self._recv_seq)
        del self._in[:size]
        self._recv_seq = (self._recv_seq + 1) & 0xFFFFFFFF
        return plain[5 : len(plain) - plain[4]]

    # ------------------------------------------------------------------ protocol

    def _handle(self, p: bytes) -> None:
        t = p[0]
        if t == 20:
            self._server_kexinit = parse_kexinit(p)
            self._strict_agreed = self.strict and (
                "kex-strict-s-v00@openssh.com" in self._server_kexinit.kex_algorithms
            )
            q_c = self._x25519.public_key().public_bytes_raw()
            self._send_packet(bytes([30]) + ssh_string(q_c))
        elif t == 31:
            self._kex_reply(p)
        elif t == 21:
            self._recv, self._pending_recv = self._pending_recv, None
            if self._strict_agreed:
                self._recv_seq = 0
        elif t == 6:
            self._authenticate()
        elif t == 52:
            self._send_packet(
                bytes([90]) + ssh_string(b"session") + _u32(0) + _u32(WINDOW) + _u32(32768)
            )
        elif t == 51:
            raise NetsecError("authentication refused")
        elif t == 91:
            self._server_channel = int.from_bytes(p[5:9], "big")
            self._start_command()
        elif t == 94:
            self.stdout += read_strings(p, 5, 1)[0]
        elif t == 98:
            req = read_strings(p, 5, 1)[0]
            if req == b"exit-status":
                self.exit_status = int.from_bytes(p[10 + len(req) : 14 + len(req)], "big")
        elif t == 97:
            assert self._server_channel is not None
            self._send_packet(bytes([97]) + _u32(self._server_channel))
            self._send_packet(bytes([1]) + _u32(11) + ssh_string(b"bye") + ssh_string(b""))
            self.done = True
        elif t == 1:
            self.error = read_strings(p, 5, 1)[0].decode("utf-8", "replace")
            self.done = True

    def _kex_reply(self, p: bytes) -> None:
        k_s, q_s, sig = read_strings(p, 1, 3)
        secret = self._x25519.exchange(x25519.X25519PublicKey.from_public_bytes(q_s))
        k = int.from_bytes(secret, "big")
        t = KexTranscript(
            kex=KEX,
            v_c=VERSION,
            v_s=self._server_version or b"",
            i_c=self._kexinit,
            i_s=self._server_kexinit.payload,
            k_s=k_s,
            client_public=self._x25519.public_key().public_bytes_raw(),
            server_public=q_s,
        )
        h = exchange_hash(t, k)
        self._verify_host_signature(k_s, sig, h)
        cookie = self._kexinit[1:17]
        self.keylog.append((cookie, "SHARED_SECRET", secret.lstrip(b"\x00") or b"\x00"))
        self.keylog.append((cookie, "PRIVATE_KEY", self._x25519.private_bytes_raw()))
        self._session_id = self._session_id or h
        send, recv = (self._direction(k, h, c2s) for c2s in (True, False))
        self._send_packet(bytes([21]))
        self._send, self._pending_recv = send, recv
        if self._strict_agreed:
            self._send_seq = 0
        self._send_packet(bytes([5]) + ssh_string(b"ssh-userauth"))

    def _direction(self, k: int, h: bytes, c2s: bool) -> SSHPacketCipher:
        spec = cipher_spec(self.cipher_name)
        aead = spec.kind in ("gcm", "chacha")
        mac = None if aead else self.mac_name
        keys = derive_direction_keys(
            kex=KEX,
            k=k,
            h=h,
            session_id=self._session_id or h,
            client_to_server=c2s,
            iv_len=spec.iv_len,
            key_len=spec.key_len,
            mac_key_len=mac_spec(mac).key_len if mac else 0,
        )
        return SSHPacketCipher(
            cipher=self.cipher_name, mac=mac, enc_key=keys.enc_key, iv=keys.iv, mac_key=keys.mac_key
        )

    @staticmethod
    def _verify_host_signature(k_s: bytes, sig: bytes, h: bytes) -> None:
        key_type, key = read_strings(k_s, 0, 2)
        alg, raw = read_strings(sig, 0, 2)
        if key_type != b"ssh-ed25519" or alg != b"ssh-ed25519":
            raise NetsecError(f"host key type {key_type!r} not supported by this client")
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(key).verify(raw, h)
        except (InvalidSignature, ValueError):
            raise IntegrityError("the server's signature over H does not verify") from None

    def _authenticate(self) -> None:
        pub = self.key.public_key().public_bytes_raw()
        blob = ssh_string(b"ssh-ed25519") + ssh_string(pub)
        assert self._session_id is not None
        head = (
            bytes([50])
            + ssh_string(self.user.encode())
            + ssh_string(b"ssh-connection")
            + ssh_string(b"publickey")
            + b"\x01"
            + ssh_string(b"ssh-ed25519")
            + ssh_string(blob)
        )
        # RFC 4252 §7: the signature covers the session id and the request
        signature = self.key.sign(ssh_string(self._session_id) + head)
        self._send_packet(head + ssh_string(ssh_string(b"ssh-ed25519") + ssh_string(signature)))

    def _start_command(self) -> None:
        ch = self._server_channel
        assert ch is not None
        self._send_packet(
            bytes([98])
            + _u32(ch)
            + ssh_string(b"exec")
            + b"\x01"
            + ssh_string(self.command.encode())
        )
        for i in range(0, len(self.stdin), MAX_DATA):
            self._send_packet(bytes([94]) + _u32(ch) + ssh_string(self.stdin[i : i + MAX_DATA]))
        self._send_packet(bytes([96]) + _u32(ch))
