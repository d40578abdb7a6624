"""TLS 1.3 key schedule (RFC 8446 §7) on HMAC/HKDF.

Every derivation is keyword-only so secrets, labels and transcript hashes cannot be swapped.
Labels are given without the ``"tls13 "`` prefix (it is added here, RFC 8446 §7.1).
"""

from __future__ import annotations

import hashlib
import hmac

from netsec_layers.crypto.tls_prf import hashlib_name
from netsec_layers.errors import UsageError

_PREFIX = b"tls13 "


def hash_len(hash_name: str) -> int:
    """Output length of ``hash_name`` (32 for SHA256, 48 for SHA384)."""
    return hashlib.new(hashlib_name(hash_name)).digest_size


def hkdf_extract(hash_name: str, *, salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract (RFC 5869 §2.2); an empty salt means HashLen zero bytes."""
    name = hashlib_name(hash_name)
    if not salt:
        salt = bytes(hash_len(hash_name))
    return hmac.digest(salt, ikm, name)


def hkdf_expand(hash_name: str, *, prk: bytes, info: bytes, length: int) -> bytes:
    """HKDF-Expand (RFC 5869 §2.3)."""
    name = hashlib_name(hash_name)
    hlen = hash_len(hash_name)
    if length > 255 * hlen:
        raise UsageError(f"HKDF-Expand length {length} exceeds 255*HashLen")
    out = b""
    t = b""
    i = 1
    while len(out) < length:
        t = hmac.digest(prk, t + info + bytes([i]), name)
        out += t
        i += 1
    return out[:length]


def hkdf_expand_label(
    hash_name: str, *, secret: bytes, label: bytes, context: bytes, length: int
) -> bytes:
    """HKDF-Expand-Label (RFC 8446 §7.1): HkdfLabel = length(2) + <"tls13 "+label> + <context>."""
    full = _PREFIX + label
    if len(full) > 255 or len(context) > 255 or length > 0xFFFF:
        raise UsageError("HKDF-Expand-Label argument too long")
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + bytes([len(context)]) + context
    return hkdf_expand(hash_name, prk=secret, info=info, length=length)


def derive_secret(hash_name: str, *, secret: bytes, label: bytes, transcript_hash: bytes) -> bytes:
    """Derive-Secret (RFC 8446 §7.1) given Transcript-Hash(Messages) already computed."""
    return hkdf_expand_label(
        hash_name, secret=secret, label=label, context=transcript_hash,
        length=hash_len(hash_name),
    )  # fmt: skip


def empty_hash(hash_name: str) -> bytes:
    """Transcript-Hash of no messages, Hash("")."""
    return hashlib.new(hashlib_name(hash_name)).digest()


def traffic_key_iv(
    hash_name: str, *, traffic_secret: bytes, key_len: int, iv_len: int = 12
) -> tuple[bytes, bytes]:
    """[sender]_write_key and [sender]_write_iv (RFC 8446 §7.3)."""
    key = hkdf_expand_label(
        hash_name, secret=traffic_secret, label=b"key", context=b"", length=key_len
    )
    iv = hkdf_expand_label(
        hash_name, secret=traffic_secret, label=b"iv", context=b"", length=iv_len
    )
    return key, iv


def next_traffic_secret(hash_name: str, *, traffic_secret: bytes) -> bytes:
    """application_traffic_secret_N+1 after a KeyUpdate (RFC 8446 §7.2)."""
    return hkdf_expand_label(
        hash_name, secret=traffic_secret, label=b"traffic upd", context=b"",
        length=hash_len(hash_name),
    )  # fmt: skip


def finished_key(hash_name: str, *, base_key: bytes) -> bytes:
    """finished_key = HKDF-Expand-Label(BaseKey, "finished", "", Hash.length) (RFC 8446 §4.4.4)."""
    return hkdf_expand_label(
        hash_name, secret=base_key, label=b"finished", context=b"", length=hash_len(hash_name)
    )


def finished_verify_data13(hash_name: str, *, base_key: bytes, transcript_hash: bytes) -> bytes:
    """verify_data = HMAC(finished_key, Transcript-Hash(...)) (RFC 8446 §4.4.4).

    ``base_key`` is the sender's handshake traffic secret (or the binder key for PSK binders,
    whose transcript is the truncated ClientHello, §4.2.11.2).
    """
    key = finished_key(hash_name, base_key=base_key)
    return hmac.digest(key, transcript_hash, hashlib_name(hash_name))


def resumption_psk(
    hash_name: str, *, resumption_master_secret: bytes, ticket_nonce: bytes
) -> bytes:
    """PSK of a NewSessionTicket (RFC 8446 §4.6.1)."""
    return hkdf_expand_label(
        hash_name, secret=resumption_master_secret, label=b"resumption", context=ticket_nonce,
        length=hash_len(hash_name),
    )  # fmt: skip


def export_keying_material13(
    hash_name: str, *, exporter_secret: bytes, label: bytes, context: bytes, length: int
) -> bytes:
    """TLS-Exporter (RFC 8446 §7.5) from the (early_)exporter_master_secret."""
    inner = derive_secret(
        hash_name, secret=exporter_secret, label=label, transcript_hash=empty_hash(hash_name)
    )
    ctx_hash = hashlib.new(hashlib_name(hash_name), context).digest()
    return hkdf_expand_label(
        hash_name, secret=inner, label=b"exporter", context=ctx_hash, length=length
    )


class Transcript13:
    """Running Transcript-Hash (RFC 8446 §4.4.1), including the HelloRetryRequest rule.

    Feed whole handshake messages (4-byte header included) with :meth:`update`.  When a
    HelloRetryRequest arrives, call :meth:`update` for ClientHello1 first, then
    :meth:`hello_retry_request` with the HRR message: the ClientHello1 hash is replaced by the
    synthetic ``message_hash`` message (type 254, 3-byte length, Hash(ClientHello1)).
    """

    def __init__(self, hash_name: str) -> None:
        self.hash_name = hash_name
        self._name = hashlib_name(hash_name)
        self._h = hashlib.new(self._name)

    def update(self, message: bytes) -> None:
        """Add one handshake message."""
        self._h.update(message)

    def hello_retry_request(self, hrr_message: bytes) -> None:
        """Apply the §4.4.1 rule: the transcript so far (ClientHello1) becomes message_hash."""
        ch1_hash = self._h.digest()
        self._h = hashlib.new(self._name)
        self._h.update(b"\xfe\x00\x00" + bytes([len(ch1_hash)]) + ch1_hash)
        self._h.update(hrr_message)

    def digest(self) -> bytes:
        """Transcript-Hash of the messages so far."""
        return self._h.copy().digest()


class KeySchedule13:
    """The RFC 8446 §7.1 key schedule for one connection.

    ``psk`` is the resumption/external PSK (``None`` = no PSK: HashLen zeros).  Call
    :meth:`handshake` with the (EC)DHE shared secret (``None`` for psk_ke), then :meth:`master`.
    Transcript hashes are given explicitly (see :class:`Transcript13`), so the class needs no
    message parsing; each traffic secret method names the transcript it expects.
    """

    def __init__(self, hash_name: str = "SHA256", *, psk: bytes | None = None) -> None:
        self.hash_name = hash_name
        self.hash_len = hash_len(hash_name)
        zeros = bytes(self.hash_len)
        self.early_secret = hkdf_extract(hash_name, salt=zeros, ikm=psk or zeros)
        self.handshake_secret: bytes | None = None
        self.master_secret: bytes | None = None

    def _derive(self, secret: bytes | None, label: bytes, transcript_hash: bytes) -> bytes:
        if secret is None:
            raise UsageError("key schedule step called out of order")
        return derive_secret(
            self.hash_name, secret=secret, label=label, transcript_hash=transcript_hash
        )

    # -- early secret --------------------------------------------------------------------
    def binder_key(self, *, external: bool = False) -> bytes:
        """binder_key: Derive-Secret(early, "ext binder" | "res binder", "")."""
        label = b"ext binder" if external else b"res binder"
        return self._derive(self.early_secret, label, empty_hash(self.hash_name))

    def client_early_traffic_secret(self, client_hello_hash: bytes) -> bytes:
        """client_early_traffic_secret (transcript: ClientHello)."""
        return self._derive(self.early_secret, b"c e traffic", client_hello_hash)

    def early_exporter_master_secret(self, client_hello_hash: bytes) -> bytes:
        """early_exporter_master_secret (transcript: ClientHello)."""
        return self._derive(self.early_secret, b"e exp master", client_hello_hash)

    # -- handshake secret ----------------------------------------------------------------
    def handshake(self, shared_secret: bytes | None) -> bytes:
        """Handshake Secret = HKDF-Extract(Derive-Secret(early, "derived", ""), (EC)DHE)."""
        salt = self._derive(self.early_secret, b"derived", empty_hash(self.hash_name))
        ikm = shared_secret if shared_secret is not None else bytes(self.hash_len)
        self.handshake_secret = hkdf_extract(self.hash_name, salt=salt, ikm=ikm)
        return self.handshake_secret

    def client_handshake_traffic_secret(self, hello_hash: bytes) -> bytes:
        """client_handshake_traffic_secret (transcript: ClientHello...ServerHello)."""
        return self._derive(self.handshake_secret, b"c hs traffic", hello_hash)

    def server_handshake_traffic_secret(self, hello_hash: bytes) -> bytes:
        """server_handshake_traffic_secret (transcript: ClientHello...ServerHello)."""
        return self._derive(self.handshake_secret, b"s hs traffic", hello_hash)

    # -- master secret -------------------------------------------------------------------
    def master(self) -> bytes:
        """Master Secret = HKDF-Extract(Derive-Secret(handshake, "derived", ""), 0)."""
        salt = self._derive(self.handshake_secret, b"derived", empty_hash(self.hash_name))
        self.master_secret = hkdf_extract(self.hash_name, salt=salt, ikm=bytes(self.hash_len))
        return self.master_secret

    def client_application_traffic_secret_0(self, server_finished_hash: bytes) -> bytes:
        """client_application_traffic_secret_0 (transcript: ClientHello...server Finished)."""
        return self._derive(self.master_secret, b"c ap traffic", server_finished_hash)

    def server_application_traffic_secret_0(self, server_finished_hash: bytes) -> bytes:
        """server_application_traffic_secret_0 (transcript: ClientHello...server Finished)."""
        return self._derive(self.master_secret, b"s ap traffic", server_finished_hash)

    def exporter_master_secret(self, server_finished_hash: bytes) -> bytes:
        """exporter_master_secret (transcript: ClientHello...server Finished)."""
        return self._derive(self.master_secret, b"exp master", server_finished_hash)

    def resumption_master_secret(self, client_finished_hash: bytes) -> bytes:
        """resumption_master_secret (transcript: ClientHello...client Finished)."""
        return self._derive(self.master_secret, b"res master", client_finished_hash)
