"""Events of the SSH tracker (:mod:`.ssh`): identification strings and binary packets, each
with its ``netsec dissect --json`` object (the contract of issue 17) and a one-line summary."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class SSHVerdict(Enum):
    """What became of one SSH packet (or undelimited chunk)."""

    CLEAR = "clear"  # sent before NEWKEYS
    DECRYPTED = "decrypted"  # decrypted and its MAC/tag verified
    NO_KEY = "no key"  # encrypted, no key for it
    INTEGRITY_FAILED = "integrity failed"  # MAC/tag mismatch with the keys we have
    UNDELIMITED = "undelimited"  # bytes whose packet boundaries cannot be known
    MALFORMED = "malformed"  # a packet that breaks RFC 4253 §6 (length, padding)
    DECOMPRESSION_FAILED = "decompression failed"


@dataclass(slots=True)
class SSHBanner:
    """An identification string (``SSH-2.0-…``) of one direction."""

    frame: int
    stream: int
    from_client: bool
    banner: str

    def to_json(self) -> dict[str, Any]:
        return {
            "proto": "ssh",
            "frame": self.frame,
            "stream": self.stream,
            "dir": "c2s" if self.from_client else "s2c",
            "banner": self.banner,
        }

    def summary(self) -> str:
        return f"SSH {self.banner}"


@dataclass(slots=True)
class SSHPacketInfo:
    """One binary packet (or, with ``seq`` None, a chunk that cannot be delimited)."""

    frame: int
    stream: int
    from_client: bool
    seq: int | None
    msg_type: int | None
    verdict: SSHVerdict
    payload: bytes | None = None  # after decryption and decompression
    length: int = 0  # bytes on the wire
    detail: str | None = None
    kex: str | None = None  # dissection context of the method-specific message numbers
    auth_method: bytes | None = None

    @property
    def decrypted(self) -> bool:
        return self.verdict is SSHVerdict.DECRYPTED

    @property
    def error(self) -> str | None:
        if self.verdict in (SSHVerdict.CLEAR, SSHVerdict.DECRYPTED):
            return None
        text: str = self.verdict.value
        return text + (f": {self.detail}" if self.detail else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "proto": "ssh",
            "frame": self.frame,
            "stream": self.stream,
            "dir": "c2s" if self.from_client else "s2c",
            "seq": self.seq,
            "msg_type": self.msg_type,
            "decrypted": self.decrypted,
            "payload": None if self.payload is None else self.payload.hex(),
            "error": self.error,
            "length": self.length,
        }

    def summary(self) -> str:
        if self.msg_type is None or self.payload is None:
            return f"SSH encrypted packet ({self.length} bytes){': ' + self.error if self.error else ''}"
        from netsec_layers.layers.ssh import dissect_ssh_message

        msg = dissect_ssh_message(self.payload, kex=self.kex, auth_method=self.auth_method)
        name = str(msg.name).replace("SSH_MSG_", "")
        return f"SSH {name}" + (" (decrypted)" if self.decrypted else "")

    def layers(self) -> list[Any]:
        """The Scapy message layer of the (decrypted) payload, for ``dissect -V``."""
        if self.payload is None:
            return []
        from netsec_layers.layers.ssh import dissect_ssh_message

        return [dissect_ssh_message(self.payload, kex=self.kex, auth_method=self.auth_method)]
