"""SFTP packets (draft-ietf-secsh-filexfer-02, protocol version 3), carried in the data of an
SSH session channel whose subsystem is ``sftp`` (RFC 4254 §6.5).

Every packet is ``uint32 length, byte type, [uint32 request-id], fields``; ATTRS (§5) are kept
opaque (``attrs`` to the end of the packet) where they end a packet.  Like the SSH layers, the
fields are lenient: any bytes dissect and rebuild to themselves."""

from __future__ import annotations

from typing import Any

from netsec_layers.layers.ssh._fields import (
    SSHBase,
    SSHIntField,
    SSHRestField,
    SSHStringField,
)

SFTP_TYPES: dict[int, str] = {
    1: "INIT", 2: "VERSION", 3: "OPEN", 4: "CLOSE", 5: "READ", 6: "WRITE", 7: "LSTAT",
    8: "FSTAT", 9: "SETSTAT", 10: "FSETSTAT", 11: "OPENDIR", 12: "READDIR", 13: "REMOVE",
    14: "MKDIR", 15: "RMDIR", 16: "REALPATH", 17: "STAT", 18: "RENAME", 19: "READLINK",
    20: "SYMLINK", 101: "STATUS", 102: "HANDLE", 103: "DATA", 104: "NAME", 105: "ATTRS",
    200: "EXTENDED", 201: "EXTENDED_REPLY",
}  # fmt: skip

# which fields follow the request id, per type (s: string, 4: uint32, 8: uint64, r: rest)
_LAYOUT: dict[int, tuple[tuple[str, str], ...]] = {
    3: (("filename", "s"), ("pflags", "4"), ("attrs", "r")),
    4: (("handle", "s"),),
    5: (("handle", "s"), ("offset", "8"), ("read_len", "4")),
    6: (("handle", "s"), ("offset", "8"), ("data", "s")),
    7: (("path", "s"),),
    8: (("handle", "s"),),
    9: (("path", "s"), ("attrs", "r")),
    10: (("handle", "s"), ("attrs", "r")),
    11: (("path", "s"),),
    12: (("handle", "s"),),
    13: (("filename", "s"),),
    14: (("path", "s"), ("attrs", "r")),
    15: (("path", "s"),),
    16: (("path", "s"),),
    17: (("path", "s"),),
    18: (("oldpath", "s"), ("newpath", "s")),
    19: (("path", "s"),),
    20: (("linkpath", "s"), ("targetpath", "s")),
    101: (("status_code", "4"), ("message", "s"), ("language", "s")),
    102: (("handle", "s"),),
    103: (("data", "s"),),
    104: (("count", "4"), ("entries", "r")),
    105: (("attrs", "r"),),
    200: (("extended_request", "s"), ("request_data", "r")),
    201: (("reply_data", "r"),),
}


def _field(name: str, kind: str) -> Any:
    if kind == "s":
        return SSHStringField(name, b"")
    if kind == "r":
        return SSHRestField(name, b"")
    return SSHIntField(name, 0, int(kind))


class SFTPPacket(SSHBase):
    """Base of the SFTP packet classes (``length`` None is computed when building)."""

    name = "SFTP packet"

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        # absent because the bytes were missing (the type is absent too): rebuild as dissected
        if self.length is None and self.fields.get("sftp_type", 0) is not None:
            pkt = (len(pkt) + len(pay)).to_bytes(4, "big") + pkt
        return pkt + pay

    def mysummary(self) -> str:
        return f"SFTP {self.name}"


class _LengthField(SSHIntField):
    """``length`` absent (None) means: compute it (SFTPPacket.post_build prepends it)."""


def _make(ptype: int, name: str) -> type[SFTPPacket]:
    fields: list[Any] = [_LengthField("length", None, 4), SSHIntField("sftp_type", ptype, 1)]
    if ptype in (1, 2):
        fields += [SSHIntField("version", 3, 4), SSHRestField("extensions", b"")]
    else:
        fields.append(SSHIntField("request_id", 0, 4))
        fields += [_field(n, k) for n, k in _LAYOUT.get(ptype, (("payload", "r"),))]
    return type(f"SFTP{name.title().replace('_', '')}", (SFTPPacket,), {
        "name": f"SSH_FXP_{name}", "fields_desc": fields,
    })  # fmt: skip


SFTP_CLASSES: dict[int, type[SFTPPacket]] = {t: _make(t, n) for t, n in SFTP_TYPES.items()}
SFTPUnknown = _make(0, "UNKNOWN")


def dissect_sftp_packet(data: bytes) -> SSHBase:
    """One whole SFTP packet (its 4-byte length included); never raises."""
    if not data:
        from netsec_layers.layers.ssh.packet import SSHUndecoded

        return SSHUndecoded(reason="empty SFTP packet")
    cls = SFTP_CLASSES.get(data[4], SFTPUnknown) if len(data) > 4 else SFTPUnknown
    try:
        return cls(data)
    except Exception:  # noqa: BLE001 - a guard: a layer never raises on outside bytes
        return SFTPUnknown(data)


__all__ = ["SFTP_CLASSES", "SFTP_TYPES", "SFTPPacket", "SFTPUnknown", "dissect_sftp_packet"]
