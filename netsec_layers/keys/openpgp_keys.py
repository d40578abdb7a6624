"""OpenPGP keys and certificates as users hold them: armored or binary files, and session keys.

A :class:`Keyring` holds every primary key and subkey found (public or secret), indexed by
fingerprint and key ID, with the user IDs of each certificate.  Secret keys stay locked until a
passphrase opens them (:meth:`Keyring.unlocked_secret`).  ``ALGO:HEX`` session keys are parsed
as ``gpg --show-session-key`` prints them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netsec_layers.constants.openpgp import SYM_KEY_SIZE, PacketTag, SymAlgo
from netsec_layers.crypto import openpgp_armor as armor
from netsec_layers.crypto.openpgp_pk import SecretKey, parse_secret_key, unlock
from netsec_layers.crypto.openpgp_sym import SessionKey
from netsec_layers.crypto.openpgp_wire import (
    PublicKey,
    parse_public_key,
    parse_signature,
    read_packets,
)
from netsec_layers.errors import IntegrityError, KeyFileError, NetsecError

MAX_KEY_FILE = 16 << 20


@dataclass
class KeyEntry:
    """One primary key or subkey."""

    public: PublicKey
    primary: PublicKey  # itself for a primary key
    secret: SecretKey | None = None
    user_ids: list[bytes] = field(default_factory=list)
    flags: int | None = None  # Key Flags subpacket of its self-signature (§5.2.3.29)

    @property
    def fingerprint_hex(self) -> str:
        return self.public.fingerprint.hex().upper()


@dataclass
class Keyring:
    entries: list[KeyEntry] = field(default_factory=list)
    passphrases: list[bytes] = field(default_factory=list)

    def add_bytes(self, data: bytes, *, passphrase: bytes | None = None) -> int:
        """Add every key in ``data`` (armored or binary); returns how many keys were found."""
        if passphrase is not None:
            self.passphrases.append(passphrase)
        blobs: list[bytes] = []
        if armor.is_armored(data):
            for block in armor.decode(data):
                if isinstance(block, armor.ArmorBlock):
                    blobs.append(block.data)
        else:
            blobs.append(data)
        found = 0
        for blob in blobs:
            primary: KeyEntry | None = None
            current: KeyEntry | None = None
            for pkt in read_packets(blob):
                if pkt.tag == PacketTag.SIGNATURE and current is not None:
                    _note_flags(current, pkt.body)
                    continue
                if pkt.tag in (PacketTag.SECRET_KEY, PacketTag.SECRET_SUBKEY):
                    sk = parse_secret_key(pkt.body, pkt.tag)
                    pub, sec = sk.public, sk
                elif pkt.tag in (PacketTag.PUBLIC_KEY, PacketTag.PUBLIC_SUBKEY):
                    pub, sec = parse_public_key(pkt.body)[0], None
                elif pkt.tag == PacketTag.USER_ID and primary is not None:
                    primary.user_ids.append(pkt.body)
                    continue
                else:
                    continue
                is_primary = pkt.tag in (PacketTag.SECRET_KEY, PacketTag.PUBLIC_KEY)
                entry = KeyEntry(pub, pub if is_primary or primary is None else primary.public, sec)
                if is_primary:
                    primary = entry
                current = self._merge(entry)
                found += 1
        return found

    def _merge(self, entry: KeyEntry) -> KeyEntry:
        for old in self.entries:
            if old.public.fingerprint == entry.public.fingerprint:
                if old.secret is None and entry.secret is not None:
                    old.secret = entry.secret
                return old
        self.entries.append(entry)
        return entry

    def by_key_id(self, key_id: bytes) -> list[KeyEntry]:
        return [e for e in self.entries if e.public.key_id == key_id]

    def by_fingerprint(self, fpr: bytes) -> KeyEntry | None:
        for e in self.entries:
            if e.public.fingerprint == fpr:
                return e
        return None

    def secret_entries(self) -> list[KeyEntry]:
        return [e for e in self.entries if e.secret is not None]

    def unlocked_secret(self, entry: KeyEntry) -> dict[str, bytes] | None:
        """The secret material of ``entry``, trying every passphrase; None if none opens it."""
        sk = entry.secret
        if sk is None:
            return None
        if sk.secret is not None:
            return sk.secret
        for p in self.passphrases:
            try:
                return unlock(sk, p)
            except IntegrityError:
                continue
            except NetsecError:
                return None
        return None


def _note_flags(entry: KeyEntry, body: bytes) -> None:
    """Record the key flags of a self-signature (certification, direct key, subkey binding)."""
    try:
        sig = parse_signature(body)
    except NetsecError:
        return
    if sig.sig_type not in (0x10, 0x11, 0x12, 0x13, 0x18, 0x1F):
        return
    for sp in sig.subpackets(27, hashed_only=True):
        if sp.data:
            entry.flags = (entry.flags or 0) | sp.data[0]


def split_key_argument(arg: str) -> tuple[str, str | None]:
    """``FILE[:PASSWORD]``: the passphrase is everything after the first colon (it may hold
    spaces and colons); a FILE that exists as given wins over splitting."""
    import os

    if os.path.exists(arg) or ":" not in arg:
        return arg, None
    path, _, pw = arg.partition(":")
    return path, pw


def load_key_file(path: str, keyring: Keyring, passphrase: str | None = None) -> int:
    with open(path, "rb") as fh:
        data = fh.read(MAX_KEY_FILE + 1)
    if len(data) > MAX_KEY_FILE:
        raise KeyFileError(f"{path}: key file larger than {MAX_KEY_FILE} octets")
    try:
        n = keyring.add_bytes(data, passphrase=passphrase.encode() if passphrase else None)
    except NetsecError as exc:
        raise KeyFileError(f"{path}: not an OpenPGP key: {exc}") from None
    if not n:
        raise KeyFileError(f"{path}: no OpenPGP key found")
    return n


def parse_session_key(text: str) -> SessionKey:
    """``ALGO:HEX`` (``gpg --show-session-key``) or ``:HEX`` / ``HEX`` (v6: no algorithm)."""
    algo_s, sep, hex_s = text.strip().partition(":")
    if not sep:
        algo_s, hex_s = "", algo_s
    try:
        key = bytes.fromhex(hex_s)
        algo = int(algo_s) if algo_s else None
    except ValueError:
        raise KeyFileError(f"session key {text!r} is not ALGO:HEX") from None
    if algo is not None:
        try:
            want = SYM_KEY_SIZE[SymAlgo(algo)]
        except (KeyError, ValueError):
            raise KeyFileError(f"session key algorithm {algo} unknown") from None
        if want != len(key):
            raise KeyFileError(f"session key for algorithm {algo} must be {want} octets")
    return SessionKey(algo, key)
