"""SSH layers (RFC 4250-4254, 4256, 4419, 5656, 8308, 8709): identification string, binary
packet, every message, host keys and signatures.  Scapy ``Packet`` classes only (no crypto)."""

from __future__ import annotations

from netsec_layers.layers.ssh._fields import int_to_mpint, mpint_to_int
from netsec_layers.layers.ssh.hostkeys import SSHPublicKey, SSHSignature
from netsec_layers.layers.ssh.messages import *  # noqa: F403
from netsec_layers.layers.ssh.messages import __all__ as _messages_all
from netsec_layers.layers.ssh.packet import (
    SSHBinaryPacket,
    SSHIdent,
    SSHUndecoded,
    dissect_ssh_message,
    dissect_ssh_stream,
)

__all__ = [
    *_messages_all,
    "SSHBinaryPacket",
    "SSHIdent",
    "SSHPublicKey",
    "SSHSignature",
    "SSHUndecoded",
    "dissect_ssh_message",
    "dissect_ssh_stream",
    "int_to_mpint",
    "mpint_to_int",
]
