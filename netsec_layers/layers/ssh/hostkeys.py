"""Public host keys, user keys and signatures as carried inside SSH messages.

RFC 4253 §6.6 (ssh-rsa, ssh-dss), RFC 5656 §3.1 (ecdsa-sha2-*), RFC 8709 §4 (ssh-ed25519),
RFC 8332 (rsa-sha2-256/512 signatures), OpenSSH PROTOCOL.certkeys (certificates).  A key type
this module does not know keeps its data in ``key_data`` (opaque).
"""

from __future__ import annotations

from scapy.fields import ConditionalField
from scapy.packet import Packet

from netsec_layers.layers.ssh._fields import SSHBase, SSHIntField, SSHRestField, SSHStringField

_ED = (b"ssh-ed25519", b"ssh-ed448")
_CERTS = (
    b"ssh-rsa-cert-v01@openssh.com",
    b"ssh-dss-cert-v01@openssh.com",
    b"ecdsa-sha2-nistp256-cert-v01@openssh.com",
    b"ecdsa-sha2-nistp384-cert-v01@openssh.com",
    b"ecdsa-sha2-nistp521-cert-v01@openssh.com",
    b"ssh-ed25519-cert-v01@openssh.com",
)


def _kind(p: Packet, base: str) -> bool:
    """The certificate's key part (PROTOCOL.certkeys: the plain key's fields after the nonce)."""
    kt = p.key_type or b""
    if kt in _CERTS:
        kt = kt.replace(b"-cert-v01@openssh.com", b"")
    if base == "rsa":
        return kt == b"ssh-rsa"
    if base == "dss":
        return kt == b"ssh-dss"
    if base == "ecdsa":
        return kt.startswith(b"ecdsa-sha2-")
    return kt in _ED


def _cert(p: Packet) -> bool:
    return p.key_type in _CERTS


class SSHPublicKey(SSHBase):
    """A public key blob (``K_S`` of a KEX reply, the key of a publickey USERAUTH_REQUEST)."""

    name = "SSH public key"
    fields_desc = [
        SSHStringField("key_type", b"ssh-ed25519"),
        ConditionalField(SSHStringField("nonce", b""), _cert),
        # ssh-rsa: e, n
        ConditionalField(SSHStringField("e", b""), lambda p: _kind(p, "rsa")),
        ConditionalField(SSHStringField("n", b""), lambda p: _kind(p, "rsa")),
        # ssh-dss: p, q, g, y
        ConditionalField(SSHStringField("p", b""), lambda p: _kind(p, "dss")),
        ConditionalField(SSHStringField("q", b""), lambda p: _kind(p, "dss")),
        ConditionalField(SSHStringField("g", b""), lambda p: _kind(p, "dss")),
        ConditionalField(SSHStringField("y", b""), lambda p: _kind(p, "dss")),
        # ecdsa-sha2-*: curve identifier, Q
        ConditionalField(SSHStringField("curve", b""), lambda p: _kind(p, "ecdsa")),
        ConditionalField(SSHStringField("q_point", b""), lambda p: _kind(p, "ecdsa")),
        # ssh-ed25519 / ssh-ed448: the raw public key
        ConditionalField(SSHStringField("key", b""), lambda p: _kind(p, "ed")),
        # certificates: PROTOCOL.certkeys §"Certificate format"
        ConditionalField(SSHIntField("serial", 0, 8), _cert),
        ConditionalField(SSHIntField("cert_type", 1, 4), _cert),
        ConditionalField(SSHStringField("key_id", b""), _cert),
        ConditionalField(SSHStringField("valid_principals", b""), _cert),
        ConditionalField(SSHIntField("valid_after", 0, 8), _cert),
        ConditionalField(SSHIntField("valid_before", 0, 8), _cert),
        ConditionalField(SSHStringField("critical_options", b""), _cert),
        ConditionalField(SSHStringField("extensions", b""), _cert),
        ConditionalField(SSHStringField("reserved", b""), _cert),
        ConditionalField(SSHStringField("signature_key", b""), _cert),
        ConditionalField(SSHStringField("signature", b""), _cert),
        SSHRestField("key_data", b""),
    ]


class SSHSignature(SSHBase):
    """A signature blob (RFC 4253 §6.6): algorithm name and the signature bytes (for ECDSA the
    blob of mpints r and s, RFC 5656 §3.1.2)."""

    name = "SSH signature"
    fields_desc = [
        SSHStringField("algorithm", b"ssh-ed25519"),
        SSHStringField("signature", b""),
        SSHRestField("extra", b""),
    ]


__all__ = ["SSHPublicKey", "SSHSignature"]
