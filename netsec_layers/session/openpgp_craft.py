"""Crafting whole OpenPGP messages: encrypt to passphrases and certificates, sign.

v4 messages (SKESK v4 / PKESK v3 + SEIPD v1 with MDC) are what gpg 2.2 and sq 0.27 read;
``v6=True`` gives SKESK v6 / PKESK v6 + SEIPD v2 (AEAD).  Broken packets on request:
``break_mdc`` / ``break_tag`` corrupt the integrity check, ``truncate`` cuts the output,
``partial`` writes partial body lengths.
"""

from __future__ import annotations

import os
import zlib

from netsec_layers.constants.openpgp import AEADAlgo, CompressionAlgo, HashAlgo, PacketTag, SymAlgo
from netsec_layers.crypto import openpgp_armor as armor
from netsec_layers.crypto.openpgp_craft import (
    ENCRYPTING,
    SIGNING,
    make_signature,
    one_pass_for,
    pkesk_encrypt,
)
from netsec_layers.crypto.openpgp_sym import (
    SessionKey,
    key_size,
    seipd1_encrypt,
    seipd2_encrypt,
    skesk_encrypt,
)
from netsec_layers.crypto.openpgp_wire import frame_packet
from netsec_layers.errors import KeyUnavailableError, UsageError
from netsec_layers.keys.openpgp_keys import KeyEntry, Keyring


def literal_packet(
    data: bytes, *, fmt: bytes = b"b", filename: bytes = b"", date: int = 0, partial: int = 0
) -> bytes:
    body = fmt + bytes([len(filename)]) + filename + date.to_bytes(4, "big") + data
    return frame_packet(PacketTag.LITERAL_DATA, body, partial=partial)


def compressed_packet(inner: bytes, algo: int = CompressionAlgo.ZLIB) -> bytes:
    if algo == CompressionAlgo.ZIP:
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        data = c.compress(inner) + c.flush()
    elif algo == CompressionAlgo.ZLIB:
        data = zlib.compress(inner)
    elif algo == CompressionAlgo.BZIP2:
        import bz2

        data = bz2.compress(inner)
    else:
        data = inner
    return frame_packet(PacketTag.COMPRESSED_DATA, bytes([algo]) + data)


def _encryption_key(ring: Keyring) -> list[KeyEntry]:
    """One encryption-capable key per certificate (a subkey when there is one)."""
    chosen: dict[bytes, KeyEntry] = {}
    for e in ring.entries:
        if e.public.algo in ENCRYPTING and (e.flags is None or e.flags & 0x0C):
            prim = e.primary.fingerprint
            if prim not in chosen or chosen[prim].public is chosen[prim].primary:
                chosen[prim] = e
    return list(chosen.values())


def encrypt_message(
    data: bytes,
    *,
    passphrases: list[bytes] | None = None,
    certs: Keyring | None = None,
    v6: bool = False,
    algo: int = SymAlgo.AES256,
    aead: int = AEADAlgo.OCB,
    compress: int | None = None,
    partial: int = 0,
    break_mdc: bool = False,
    session_key: SessionKey | None = None,
    signed: bytes = b"",
) -> bytes:
    """A binary OpenPGP message carrying ``data`` (or the ready packets ``signed``)."""
    recipients = _encryption_key(certs) if certs else []
    if not passphrases and not recipients:
        raise UsageError("no passphrase and no encryption-capable certificate")
    sk = session_key or SessionKey(None if v6 else algo, os.urandom(key_size(algo)))
    out = []
    for pw in passphrases or []:
        body = skesk_encrypt(
            pw,
            sk if not v6 else SessionKey(None, sk.key),
            version=6 if v6 else 4,
            algo=algo,
            aead=aead,
        )
        out.append(frame_packet(PacketTag.SKESK, body))
    for entry in recipients:
        out.append(
            frame_packet(PacketTag.PKESK, pkesk_encrypt(entry.public, sk, version=6 if v6 else 3))
        )
    inner = signed or literal_packet(data)
    if compress is not None:
        inner = compressed_packet(inner, compress)
    if v6:
        body = seipd2_encrypt(algo, aead, sk.key, inner, break_tag=break_mdc)
    else:
        body = seipd1_encrypt(algo, sk.key, inner, break_mdc=break_mdc)
    out.append(frame_packet(PacketTag.SEIPD, body, partial=partial))
    return b"".join(out)


def _signing_key(ring: Keyring) -> tuple[KeyEntry, dict[str, bytes]]:
    for e in ring.secret_entries():
        if e.public.algo in SIGNING and (e.flags is None or e.flags & 0x02):
            sec = ring.unlocked_secret(e)
            if sec is not None:
                return e, sec
    raise KeyUnavailableError("no unlockable signing key")


def sign_message(
    data: bytes,
    ring: Keyring,
    *,
    detached: bool = False,
    text: bool = False,
    clearsign: bool = False,
    break_sig: bool = False,
) -> bytes:
    """A detached signature, a one-pass signed message, or (``clearsign``) armored text."""
    entry, sec = _signing_key(ring)
    if clearsign:
        sig = make_signature(
            entry.public, sec, armor.canonical_cleartext(data), sig_type=1, break_sig=break_sig
        )
        hash_name = HashAlgo(sig[3]).name.replace("_", "-")
        return armor.encode_clearsigned(data, frame_packet(PacketTag.SIGNATURE, sig), [hash_name])
    signed = armor.canonical_text(data) if text else data
    sig = make_signature(entry.public, sec, signed, sig_type=1 if text else 0, break_sig=break_sig)
    sig_pkt = frame_packet(PacketTag.SIGNATURE, sig)
    if detached:
        return sig_pkt
    ops = frame_packet(PacketTag.ONE_PASS_SIGNATURE, one_pass_for(sig))
    return ops + literal_packet(data, fmt=b"t" if text else b"b") + sig_pkt
