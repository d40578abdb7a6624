"""Encrypted Client Hello (RFC 9849) in the TLS connection tracker.

The tracker calls two functions, and nothing else here touches its state:

* :func:`examine_client_hello` on every ClientHello: the encrypted_client_hello extension read,
  and, with the RFC 9850 ``ECH_SECRET`` and ``ECH_CONFIG`` logged for ClientHelloOuter.random,
  the inner ClientHello decrypted and rebuilt (:mod:`netsec_layers.crypto.ech`);
* :func:`choose_client_hello` at the ServerHello: which ClientHello the handshake went on with.
  A server that accepted ECH says so in ServerHello.random (§7.2 accept confirmation); its key
  schedule, transcript and the key log's TLS 1.3 secrets then belong to ClientHelloInner
  (RFC 9850 §3: keyed by the inner random).  When the confirmation does not match, the key log
  decides: secrets logged for the inner random and none for the outer one mean the inner hello
  was used (a capture edited after the fact, or a server that does not confirm).

Outcomes are :class:`ECHStatus` values; the text users read is made from them at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from typing import TYPE_CHECKING, Any

from netsec_layers.errors import IntegrityError, KeyUnavailableError, NetsecError, ParseError
from netsec_layers.session import tls_hello as hs

if TYPE_CHECKING:
    from netsec_layers.crypto.hpke import HPKEContext
    from netsec_layers.session.tls_keys import TLSKeyMaterial

EXT_ENCRYPTED_CLIENT_HELLO = 0xFE0D
# the RFC 9850 labels whose presence says which ClientHello's random the handshake used
_TLS13_LABELS = (
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
    "CLIENT_EARLY_TRAFFIC_SECRET",
)


class ECHStatus(Enum):
    """What became of one ClientHello's encrypted_client_hello extension."""

    INNER = "inner"  # the ClientHelloInner marker (type 1): nothing encrypted here
    DECRYPTED = "decrypted"  # payload authenticated, ClientHelloInner rebuilt
    NO_KEY = "no key"  # no ECH_SECRET + ECH_CONFIG for ClientHelloOuter.random (or GREASE ECH)
    CONFIG_MISMATCH = "config mismatch"  # the logged ECHConfig cannot be the one used
    DECRYPTION_FAILED = "decryption failed"  # AEAD tag mismatch: wrong ECH_SECRET, or damage
    MALFORMED = "malformed"  # the extension, or the decrypted inner hello, does not decode
    UNSUPPORTED = "unsupported"  # an HPKE KEM/KDF/AEAD not implemented


@dataclass(slots=True)
class ECHInfo:
    """One ClientHello's ECH extension and, once known, the server's answer."""

    ech_type: int  # 0 outer, 1 inner
    status: ECHStatus
    kdf_id: int | None = None
    aead_id: int | None = None
    config_id: int | None = None
    enc: bytes = b""
    payload_length: int = 0
    reason: str | None = None  # why not decrypted (made from the error at the edge)
    outer_message: bytes | None = None
    inner_message: bytes | None = None  # ClientHelloInner, whole handshake message
    inner_hello: hs.Hello | None = None
    accepted: bool | None = None  # ServerHello accept confirmation matched (None: not seen)
    used: str | None = None  # "inner" / "outer": the ClientHello the handshake went on with
    context: HPKEContext | None = None  # for the ClientHello after a HelloRetryRequest
    swaps: dict[bytes, bytes] | None = None  # outer -> inner message, both hellos after an HRR

    @property
    def decrypted(self) -> bool:
        return self.status is ECHStatus.DECRYPTED

    def to_json(self) -> dict[str, Any]:
        """The ``ech`` object of ``netsec dissect --json`` (docs/cli-contract.md)."""
        inner = self.inner_hello
        return {
            "type": "outer" if self.ech_type == 0 else "inner",
            "config_id": self.config_id,
            "cipher_suite": None
            if self.kdf_id is None
            else {"kdf_id": self.kdf_id, "aead_id": self.aead_id},
            "enc": self.enc.hex() if self.ech_type == 0 else None,
            "payload_length": self.payload_length if self.ech_type == 0 else None,
            "decrypted": self.decrypted,
            "status": self.status.value,
            "error": self.reason,
            "inner_sni": inner.sni() if inner else None,
            "inner_random": inner.random.hex() if inner else None,
            "accepted": self.accepted,
            "used": self.used,
        }


def _reason(exc: NetsecError) -> tuple[ECHStatus, str]:
    from netsec_layers.crypto.ech import ECHConfigMismatchError
    from netsec_layers.errors import UnsupportedAlgorithmError

    if isinstance(exc, IntegrityError):
        return (
            ECHStatus.DECRYPTION_FAILED,
            "ECH payload does not authenticate (wrong ECH_SECRET or --ech-key?)",
        )
    if isinstance(exc, ECHConfigMismatchError):
        return ECHStatus.CONFIG_MISMATCH, str(exc)
    if isinstance(exc, UnsupportedAlgorithmError):
        return ECHStatus.UNSUPPORTED, str(exc)
    return ECHStatus.MALFORMED, str(exc)


def examine_client_hello(
    keys: TLSKeyMaterial, msg: bytes, hello: hs.Hello, *, previous: ECHInfo | None = None
) -> ECHInfo | None:
    """The ECH state of ClientHello ``msg`` (None without the extension).  ``previous`` is the
    first ClientHello's state when this one follows a HelloRetryRequest."""
    body = hello.extensions.get(EXT_ENCRYPTED_CLIENT_HELLO)
    if body is None:
        return None
    from netsec_layers.crypto import ech

    try:
        ext = ech.parse_ech_client_hello(body)
    except ParseError as exc:
        return ECHInfo(0, ECHStatus.MALFORMED, reason=str(exc), payload_length=len(body))
    if ext.ech_type == ech.ECH_TYPE_INNER:
        return ECHInfo(1, ECHStatus.INNER)
    info = ECHInfo(
        0,
        ECHStatus.NO_KEY,
        kdf_id=ext.kdf_id,
        aead_id=ext.aead_id,
        config_id=ext.config_id,
        enc=ext.enc,
        payload_length=len(ext.payload),
        outer_message=msg,
    )
    try:
        if previous is not None and previous.context is not None and not ext.enc:
            encoded = ech.open_second_client_hello(msg, context=previous.context)
            info.context = previous.context
        else:
            secrets = keys.secrets_for(hello.random)
            secret, config = secrets.get("ECH_SECRET"), secrets.get("ECH_CONFIG")
            if secret and config:
                encoded, info.context = ech.open_client_hello(
                    msg, shared_secret=secret, ech_config=config
                )
            else:
                server_keys = [k for k in keys.ech_keys if k.config.config_id == ext.config_id]
                if not server_keys:
                    info.reason = (
                        "no ECH_SECRET and ECH_CONFIG for this ClientHelloOuter.random"
                        + (
                            f", no --ech-key with config_id {ext.config_id}"
                            if keys.ech_keys
                            else ""
                        )
                    )
                    return info
                encoded, info.context = _open_with_server_keys(msg, server_keys)
        inner_msg = ech.decode_client_hello_inner(encoded, client_hello_outer=msg)
        inner = hs.parse_hello(inner_msg)
    except KeyUnavailableError as exc:  # ECHConfigMismatchError
        info.status, info.reason = _reason(exc)
        return info
    except NetsecError as exc:
        info.status, info.reason = _reason(exc)
        return info
    info.status, info.inner_message, info.inner_hello = ECHStatus.DECRYPTED, inner_msg, inner
    info.swaps = dict(previous.swaps or {}) if previous is not None else {}
    info.swaps[msg] = inner_msg
    return info


def _open_with_server_keys(msg: bytes, server_keys: list[Any]) -> tuple[bytes, Any]:
    """Open with each server key of the extension's config_id in turn (a server may keep old
    keys under a reused config_id); the last key's error if none opens it."""
    from netsec_layers.crypto import ech

    err: NetsecError | None = None
    for k in server_keys:
        try:
            encoded, ctx, _shared = ech.open_client_hello_with_key(msg, k)
            return encoded, ctx
        except NetsecError as exc:
            err = exc
    assert err is not None
    raise err


def _has_tls13_secrets(keys: TLSKeyMaterial, random: bytes) -> bool:
    found = keys.secrets_for(random)
    return any(label in found for label in _TLS13_LABELS)


def choose_client_hello(
    keys: TLSKeyMaterial,
    ech: ECHInfo,
    transcript: list[tuple[int, bytes]],
    server_hello: bytes,
    cipher_suite: int | None,
) -> tuple[ECHInfo, tuple[hs.Hello, list[tuple[int, bytes]]] | None]:
    """At a (non-HRR) ServerHello: the ECH state with the server's answer (a copy: the
    ClientHello's record keeps what was known then), and ``(ClientHelloInner, the transcript
    with the inner hellos in place of the outer ones)`` when the handshake went on with the
    inner hello, else None.  ``transcript`` holds the messages so far, the ServerHello last."""
    answer = replace(ech)
    if not ech.decrypted or ech.inner_hello is None or ech.inner_message is None:
        answer.used = "outer" if ech.ech_type == 0 else None
        return answer, None
    from netsec_layers.crypto import ech as ech_crypto
    from netsec_layers.crypto.tls13 import Transcript13
    from netsec_layers.crypto.tls_suites import suite_info

    swaps = ech.swaps or {}
    swapped = [(t, swaps.get(m, m)) for t, m in transcript[:-1]]
    si = suite_info(cipher_suite or 0)
    if si is not None and len(server_hello) >= 38:
        t = Transcript13(si.prf_hash)
        for mtype, m in swapped:
            if mtype == hs.HT_SERVER_HELLO:  # the HelloRetryRequest (RFC 8446 §4.4.1)
                t.hello_retry_request(m)
            else:
                t.update(m)
        t.update(ech_crypto.server_hello_for_confirmation(server_hello))
        want = ech_crypto.accept_confirmation(
            si.prf_hash, inner_random=ech.inner_hello.random, transcript_hash=t.digest()
        )
        answer.accepted = want == server_hello[30:38]
    outer_random = ech.outer_message[6:38] if ech.outer_message else b""
    use_inner = bool(answer.accepted) or (
        _has_tls13_secrets(keys, ech.inner_hello.random)
        and not _has_tls13_secrets(keys, outer_random)
    )
    answer.used = "inner" if use_inner else "outer"
    if not use_inner:
        return answer, None
    return answer, (ech.inner_hello, [*swapped, transcript[-1]])
