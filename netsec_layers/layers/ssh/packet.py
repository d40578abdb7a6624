"""The identification string and the binary packet (RFC 4253 §§4.2, 6), and message dispatch.

:func:`dissect_ssh_message` picks the message class from the number and, for the
method-specific numbers (RFC 4250 §4.1.2), from the key exchange / authentication method when
given, else from which format fits the bytes exactly.  It never raises: what cannot be decoded
is an :class:`SSHUndecoded` carrying the reason.
"""

from __future__ import annotations

from typing import Any

from scapy.fields import Field, StrField
from scapy.packet import NoPayload, Packet, Raw

from netsec_layers.constants.ssh import SSHMsg
from netsec_layers.layers.ssh._fields import (
    SSHBase,
    SSHIntField,
    SSHMetaField,
    SSHRestField,
    bytes_repr,
    stop,
    stopped,
)
from netsec_layers.layers.ssh.messages import (
    ALTERNATIVES,
    MESSAGE_CLASSES,
    SSHKexDHGexGroup,
    SSHKexDHGexRequestOld,
    SSHKexDHInit,
    SSHKexDHReply,
    SSHMessage,
    SSHUnknownMessage,
    SSHUserauthInfoRequest,
    SSHUserauthPasswdChangeReq,
    SSHUserauthPKOK,
)


class SSHUndecoded(SSHBase):
    """Bytes that could not be decoded (``reason`` is never on the wire)."""

    name = "SSH undecoded"
    fields_desc = [SSHMetaField("reason", b""), SSHRestField("load", b"")]


def _fits(p: Packet) -> bool:
    """Every field decoded and nothing left over."""
    return isinstance(p.payload, NoPayload) and all(v is not None for v in p.fields.values())


def _choose(msg_type: int, kex: str | None, auth_method: bytes | None) -> tuple[type[Any], ...]:
    gex = kex is not None and kex.startswith("diffie-hellman-group-exchange")
    if msg_type == 30 and kex is not None:
        return (SSHKexDHGexRequestOld,) if gex else (SSHKexDHInit,)
    if msg_type == 31 and kex is not None:
        return (SSHKexDHGexGroup,) if gex else (SSHKexDHReply,)
    if msg_type == 60 and auth_method is not None:
        by_method: dict[bytes, type[Any]] = {
            b"publickey": SSHUserauthPKOK,
            b"password": SSHUserauthPasswdChangeReq,
            b"keyboard-interactive": SSHUserauthInfoRequest,
        }
        if auth_method in by_method:
            return (by_method[auth_method],)
    if msg_type in ALTERNATIVES:
        return ALTERNATIVES[msg_type]
    return (MESSAGE_CLASSES.get(msg_type, SSHUnknownMessage),)


def dissect_ssh_message(
    data: bytes, *, kex: str | None = None, auth_method: bytes | None = None
) -> Packet:
    """The message class instance for one packet payload (never raises).

    ``kex``: the negotiated key exchange method name; ``auth_method``: the method of the last
    USERAUTH_REQUEST.  Both only choose among the method-specific messages."""
    if not data:
        return SSHUndecoded(reason="empty payload")
    try:
        classes = _choose(data[0], kex, auth_method)
        first: Packet | None = None
        for cls in classes:
            p: Packet = cls(data)
            if _fits(p) or len(classes) == 1:
                return p
            first = first or p
        assert first is not None
        return first
    except Exception as exc:  # noqa: BLE001 - a guard: a layer never raises on outside bytes
        return SSHUndecoded(data, reason=f"{type(exc).__name__}: {exc}")


class SSHIdent(SSHBase):
    """One line of the version exchange (RFC 4253 §4.2): ``SSH-protoversion-softwareversion
    [SP comments]`` or, before it, another line from the server; ``eol`` is CR LF or LF."""

    name = "SSH identification"
    fields_desc = [StrField("ident", b"SSH-2.0-netsec"), StrField("eol", b"\r\n")]

    def do_dissect(self, s: bytes) -> bytes:
        i = s.find(b"\n")
        line, rest = (s, b"") if i < 0 else (s[: i + 1], s[i + 1 :])
        eol = b"\r\n" if line.endswith(b"\r\n") else b"\n" if line.endswith(b"\n") else b""
        self.fields["ident"] = line[: len(line) - len(eol)]
        self.fields["eol"] = eol
        self.raw_packet_cache = None
        return rest

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s

    @property
    def is_version(self) -> bool:
        return bool(self.ident.startswith(b"SSH-"))

    @property
    def proto_version(self) -> str | None:
        parts = self.ident.split(b"-", 2)
        return parts[1].decode("latin-1") if self.is_version and len(parts) > 1 else None

    @property
    def software_version(self) -> str | None:
        parts = self.ident.split(b" ", 1)[0].split(b"-", 2)
        return parts[2].decode("latin-1") if self.is_version and len(parts) > 2 else None

    def mysummary(self) -> str:
        return f"SSH {self.ident.decode('latin-1')!r}"


class _MessageField(Field[Any, Any]):
    """The payload of a binary packet, ``packet_length - padding_length - 1`` bytes."""

    def __init__(self, name: str) -> None:
        super().__init__(name, None)

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, Any]:
        plen, padlen = pkt.packet_length, pkt.padding_length
        if plen is None or padlen is None or stopped(pkt):
            return stop(pkt, s)
        n = plen - padlen - 1
        if n < 0 or n > len(s):
            return stop(pkt, s)
        kex = getattr(pkt, "kex", None)
        return s[n:], dissect_ssh_message(s[:n], kex=kex, auth_method=pkt.auth_method)

    def addfield(self, pkt: Packet, s: bytes, val: Any) -> bytes:
        return s if val is None else s + bytes(val)

    def i2repr(self, pkt: Packet | None, x: Any) -> str:
        return repr(x)


class _LenBytes(Field[Any, Any]):
    """Opaque bytes whose length is a function of the packet; absent (None) when the bytes are
    not all there."""

    __slots__ = ["length_from"]

    def __init__(self, name: str, length_from: Any) -> None:
        super().__init__(name, None)
        self.length_from = length_from

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, Any]:
        n = self.length_from(pkt)
        if n is None or n > len(s) or stopped(pkt):
            return stop(pkt, s)
        return s[n:], s[:n]

    def addfield(self, pkt: Packet, s: bytes, val: Any) -> bytes:
        return s if val is None else s + bytes(val)

    def i2repr(self, pkt: Packet | None, x: Any) -> str:
        return bytes_repr(x)


class SSHBinaryPacket(SSHBase):
    """RFC 4253 §6: uint32 packet_length, byte padding_length, payload (``message``), random
    padding, MAC.  Built with ``None`` lengths/padding, they are computed (padding to a multiple
    of ``block_size``, at least 4 bytes).  ``mac_len=`` (keyword) says how many MAC bytes follow
    when dissecting; a following packet goes to the Scapy payload."""

    name = "SSH binary packet"
    fields_desc = [
        SSHIntField("packet_length", None, 4),
        SSHIntField("padding_length", None, 1),
        _MessageField("message"),
        _LenBytes("padding", lambda p: p.padding_length),
        _LenBytes("mac", lambda p: p.mac_len),
    ]
    mac_len = 0
    block_size = 8
    kex: str | None = None
    auth_method: bytes | None = None

    def __init__(
        self,
        _pkt: bytes = b"",
        *args: Any,
        mac_len: int = 0,
        kex: str | None = None,
        auth_method: bytes | None = None,
        **kwargs: Any,
    ) -> None:
        object.__setattr__(self, "mac_len", mac_len)
        object.__setattr__(self, "kex", kex)
        object.__setattr__(self, "auth_method", auth_method)
        super().__init__(_pkt, *args, **kwargs)

    def self_build(self) -> bytes:
        # dissected from an incomplete packet (a field's bytes missing, so the last field, mac,
        # is absent): rebuilt field by field, absent fields writing nothing; otherwise None
        # lengths/padding are computed
        if self.raw_packet_cache is not None or self.fields.get("mac", 0) is None:
            return bytes(super().self_build())
        msg = b"" if self.message is None else bytes(self.message)
        padding: bytes | None = self.padding
        padlen: int | None = self.padding_length
        if padlen is None:
            if padding is not None:
                padlen = len(padding)
            else:
                padlen = -(5 + len(msg)) % self.block_size
                padlen += self.block_size if padlen < 4 else 0
        if padding is None:
            padding = b"\x00" * padlen
        plen: int | None = self.packet_length
        if plen is None:
            plen = 1 + len(msg) + len(padding)
        out: bytes = (plen & 0xFFFFFFFF).to_bytes(4, "big") + bytes([padlen & 0xFF]) + msg + padding
        return out + bytes(self.mac or b"")

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        if self.message is None:
            return Raw
        return SSHBinaryPacket if len(payload) >= 5 else Raw

    def mysummary(self) -> str:
        m = self.message
        return f"SSH {m.name}" if isinstance(m, Packet) else "SSH binary packet"


def dissect_ssh_stream(data: bytes, *, kex: str | None = None) -> list[Packet]:
    """The clear-text start of one direction of an SSH connection: identification lines, then
    binary packets up to and including NEWKEYS; what follows is one :class:`SSHUndecoded`."""
    out: list[Packet] = []
    pos = 0
    version_seen = False
    while pos < len(data) and not version_seen:
        line = SSHIdent(data[pos:])
        line.remove_payload()
        out.append(line)
        pos += len(line.ident) + len(line.eol)
        version_seen = line.is_version
        if not line.eol:
            break
    while version_seen and len(data) - pos >= 5:
        p = SSHBinaryPacket(data[pos:], kex=kex)
        if p.message is None or p.padding is None:
            break
        p.remove_payload()
        out.append(p)
        pos += 4 + p.packet_length
        if isinstance(p.message, SSHMessage) and p.message.msg_type == SSHMsg.NEWKEYS:
            break
    if pos < len(data):
        out.append(SSHUndecoded(data[pos:], reason="encrypted or incomplete"))
    return out
