"""Where the TLS connection tracker finds its keys.

:class:`TLSKeyMaterial` gathers every source a user may give at once (RFC 9850 key logs, pcapng
Decryption Secrets Blocks, server RSA private keys, secrets set from Python) plus what a capture
teaches along the way (TLS ≤ 1.2 sessions and tickets, so resumed connections decrypt too).
It holds no global state: two captures with different keys can be processed side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from netsec_layers.errors import NetsecError

if TYPE_CHECKING:
    from netsec_layers.crypto.ech import ECHServerKey
    from netsec_layers.keys.keylog import KeyLog


@dataclass(slots=True)
class MasterSecretResult:
    master_secret: bytes
    source: str  # "keylog", "keylog-pms", "keylog-rsa", "rsa-key", "session-cache", "ticket-cache"


class TLSKeyMaterial:
    """All key material known to one dissection/decryption run."""

    def __init__(self) -> None:
        from netsec_layers.keys.keylog import parse_keylog

        self.keylog: KeyLog = parse_keylog("")
        self.rsa_keys: list[Any] = []
        self.ech_keys: list[ECHServerKey] = []  # servers' ECH keys (--ech-key)
        self._sessions: dict[bytes, bytes] = {}
        self._tickets: dict[bytes, bytes] = {}
        self._direct: dict[bytes, dict[str, bytes]] = {}
        self.max_cache = 100_000

    # -- sources -------------------------------------------------------------------------------
    def add_keylog(self, keylog: KeyLog) -> None:
        self.keylog.merge(keylog)

    def add_keylog_text(self, text: str | bytes) -> KeyLog:
        from netsec_layers.keys.keylog import parse_keylog

        kl = parse_keylog(text)
        self.keylog.merge(kl)
        return kl

    def add_rsa_key(self, key: Any) -> None:
        self.rsa_keys.append(key)

    def add_ech_keys(self, keys: list[ECHServerKey]) -> None:
        """A server's ECH keys (:func:`netsec_layers.crypto.ech.load_ech_pem`): ClientHelloOuter
        messages naming their config_id are opened without ``ECH_SECRET`` lines."""
        self.ech_keys.extend(keys)

    def set_secret(self, client_random: bytes, label: str, secret: bytes) -> None:
        """Give a secret directly from Python (same labels as a key log, e.g. ``CLIENT_RANDOM``)."""
        self._direct.setdefault(bytes(client_random), {})[label] = bytes(secret)

    @property
    def empty(self) -> bool:
        return not (self.keylog or self.rsa_keys or self._direct)

    # -- lookups -------------------------------------------------------------------------------
    def secrets_for(self, client_random: bytes) -> dict[str, bytes]:
        found = dict(self.keylog.secrets_for(client_random))
        found.update(self._direct.get(client_random, {}))
        return found

    def remember_session(self, session_id: bytes, master_secret: bytes) -> None:
        if session_id and len(self._sessions) < self.max_cache:
            self._sessions[session_id] = master_secret

    def remember_ticket(self, ticket: bytes, master_secret: bytes) -> None:
        if ticket and len(self._tickets) < self.max_cache:
            self._tickets[ticket] = master_secret

    def master_for_resumption(
        self, *, client_random: bytes, session_id: bytes, ticket: bytes | None
    ) -> MasterSecretResult | None:
        """Master secret of a TLS ≤ 1.2 connection known before its key exchange."""
        ms = self.secrets_for(client_random).get("CLIENT_RANDOM")
        if ms:
            return MasterSecretResult(ms, "keylog")
        if session_id:
            ms = self.keylog.master_by_session_id(session_id)
            if ms:
                return MasterSecretResult(ms, "keylog")
            ms = self._sessions.get(session_id)
            if ms:
                return MasterSecretResult(ms, "session-cache")
        if ticket:
            ms = self._tickets.get(ticket)
            if ms:
                return MasterSecretResult(ms, "ticket-cache")
        return None

    def pre_master_for(
        self, *, client_random: bytes, encrypted_pre_master: bytes | None, client_version: int
    ) -> tuple[bytes, str] | None:
        """Pre-master secret of a full TLS ≤ 1.2 handshake, from a key log or an RSA key."""
        pms = self.secrets_for(client_random).get("PMS_CLIENT_RANDOM")
        if pms:
            return pms, "keylog-pms"
        if encrypted_pre_master is None:
            return None
        pms = self.keylog.rsa_pre_master(encrypted_pre_master[:8])
        if pms:
            return pms, "keylog-rsa"
        if self.rsa_keys:
            from netsec_layers.crypto.tls_rsa import decrypt_pre_master

            for key in self.rsa_keys:
                if key.key_size // 8 != len(encrypted_pre_master):
                    continue
                try:
                    pms = decrypt_pre_master(
                        key, encrypted_pre_master, client_version=client_version
                    )
                except NetsecError:
                    continue
                # The RFC 5246 §7.4.7.1 countermeasure hides a wrong key behind a random
                # pre-master; the Finished check of the tracker tells the truth afterwards.
                return pms, "rsa-key"
        return None
