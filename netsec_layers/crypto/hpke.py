"""HPKE (RFC 9180), Base mode, on pyca primitives: what Encrypted Client Hello needs.

pyca/cryptography 50 ships ``cryptography.hazmat.primitives.hpke``, but only as single-shot
``Suite.encrypt/decrypt(ciphertext, private_key, info)``: no associated data (ECH authenticates
the whole ClientHelloOuter as AAD, RFC 9849 §5.2) and no way in from a KEM shared secret (what an
RFC 9850 ``ECH_SECRET`` key-log line carries).  So the key schedule (§5.1), the encryption context
(§5.2) and the secret export (§5.3) are written here over HKDF/HMAC, with the AEADs and the DH
groups from pyca; the DHKEMs (§4.1) are here for a receiver holding its private key and for the
RFC's own test vectors.

Every derivation is keyword-only so secrets, labels and contexts cannot be swapped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from netsec_layers.crypto.tls13 import hkdf_expand, hkdf_extract
from netsec_layers.errors import IntegrityError, ParseError, UnsupportedAlgorithmError, UsageError

__all__ = [
    "AEAD_EXPORT_ONLY",
    "HPKEContext",
    "HPKESuite",
    "kem_decap",
    "kem_encap_with",
    "key_schedule_base",
    "labeled_expand",
    "labeled_extract",
]

_VERSION = b"HPKE-v1"  # RFC 9180 §4
MODE_BASE = 0x00
AEAD_EXPORT_ONLY = 0xFFFF


@dataclass(frozen=True, slots=True)
class _Kem:
    hash_name: str
    n_secret: int
    n_enc: int  # = Npk
    curve: Any  # an ec.EllipticCurve instance, or "X25519"/"X448"


# RFC 9180 §7.1 (KEM), §7.2 (KDF), §7.3 (AEAD: Nk, Nn, Nt)
_KEMS: dict[int, _Kem] = {
    0x0010: _Kem("SHA256", 32, 65, ec.SECP256R1()),
    0x0011: _Kem("SHA384", 48, 97, ec.SECP384R1()),
    0x0012: _Kem("SHA512", 64, 133, ec.SECP521R1()),
    0x0020: _Kem("SHA256", 32, 32, "X25519"),
    0x0021: _Kem("SHA512", 64, 56, "X448"),
}
_KDFS: dict[int, tuple[str, int]] = {
    0x0001: ("SHA256", 32),
    0x0002: ("SHA384", 48),
    0x0003: ("SHA512", 64),
}
_AEADS: dict[int, tuple[int, int, int]] = {
    0x0001: (16, 12, 16),  # AES-128-GCM
    0x0002: (32, 12, 16),  # AES-256-GCM
    0x0003: (32, 12, 16),  # ChaCha20Poly1305
    AEAD_EXPORT_ONLY: (0, 0, 0),
}


def _i2osp(value: int, length: int) -> bytes:
    return value.to_bytes(length, "big")


def labeled_extract(
    hash_name: str, *, suite_id: bytes, salt: bytes, label: bytes, ikm: bytes
) -> bytes:
    """LabeledExtract (RFC 9180 §4): HKDF-Extract(salt, "HPKE-v1" || suite_id || label || ikm)."""
    return hkdf_extract(hash_name, salt=salt, ikm=_VERSION + suite_id + label + ikm)


def labeled_expand(
    hash_name: str, *, suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int
) -> bytes:
    """LabeledExpand (RFC 9180 §4): HKDF-Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id ||
    label || info, L)."""
    if length > 0xFFFF:
        raise UsageError("LabeledExpand length past 2^16 - 1")
    labeled_info = _i2osp(length, 2) + _VERSION + suite_id + label + info
    return hkdf_expand(hash_name, prk=prk, info=labeled_info, length=length)


@dataclass(frozen=True, slots=True)
class HPKESuite:
    """A (KEM, KDF, AEAD) triple of IANA HPKE identifiers (RFC 9180 §7)."""

    kem_id: int
    kdf_id: int
    aead_id: int

    def __post_init__(self) -> None:
        for what, ident, table in (
            ("KEM", self.kem_id, _KEMS),
            ("KDF", self.kdf_id, _KDFS),
            ("AEAD", self.aead_id, _AEADS),
        ):
            if ident not in table:
                known = ", ".join(f"0x{k:04x}" for k in table)
                raise UnsupportedAlgorithmError(
                    f"HPKE {what} 0x{ident:04x} not supported; known: {known}"
                )

    @property
    def suite_id(self) -> bytes:
        """The key schedule's suite_id: "HPKE" || kem_id || kdf_id || aead_id (§5.1)."""
        return b"HPKE" + _i2osp(self.kem_id, 2) + _i2osp(self.kdf_id, 2) + _i2osp(self.aead_id, 2)

    @property
    def kdf_hash(self) -> str:
        return _KDFS[self.kdf_id][0]

    @property
    def n_secret(self) -> int:
        """Length of the KEM shared secret (§7.1 Nsecret)."""
        return _KEMS[self.kem_id].n_secret

    @property
    def n_enc(self) -> int:
        return _KEMS[self.kem_id].n_enc


def kdf_supported(kdf_id: int) -> bool:
    return kdf_id in _KDFS


def aead_supported(aead_id: int) -> bool:
    return aead_id in _AEADS


def kem_supported(kem_id: int) -> bool:
    return kem_id in _KEMS


@dataclass(slots=True)
class HPKEContext:
    """An encryption context (RFC 9180 §5.2): key, base_nonce, sequence number, exporter."""

    suite: HPKESuite
    key: bytes
    base_nonce: bytes
    exporter_secret: bytes
    seq: int = 0
    _aead: Any = field(default=None, repr=False)

    def _cipher(self) -> Any:
        if self.suite.aead_id == AEAD_EXPORT_ONLY:
            raise UsageError("export-only HPKE context (AEAD 0xFFFF) cannot seal or open")
        if self._aead is None:
            self._aead = (
                ChaCha20Poly1305(self.key) if self.suite.aead_id == 0x0003 else AESGCM(self.key)
            )
        return self._aead

    def _nonce(self) -> bytes:
        nn = len(self.base_nonce)
        if self.seq >= 1 << (8 * nn):
            raise UsageError("HPKE message limit reached")  # §5.2 MessageLimitReachedError
        return bytes(a ^ b for a, b in zip(self.base_nonce, _i2osp(self.seq, nn), strict=True))

    def open(self, *, aad: bytes, ciphertext: bytes) -> bytes:
        """ContextR.Open (§5.2); IntegrityError (and no plaintext) if the tag does not verify.

        The sequence number advances only on success, as the RFC's OpenError leaves it."""
        aead = self._cipher()
        try:
            pt: bytes = aead.decrypt(self._nonce(), bytes(ciphertext), bytes(aad))
        except InvalidTag:
            raise IntegrityError("HPKE open: authentication tag mismatch") from None
        self.seq += 1
        return pt

    def seal(self, *, aad: bytes, plaintext: bytes) -> bytes:
        """ContextS.Seal (§5.2)."""
        ct: bytes = self._cipher().encrypt(self._nonce(), bytes(plaintext), bytes(aad))
        self.seq += 1
        return ct

    def export(self, *, exporter_context: bytes, length: int) -> bytes:
        """Context.Export (§5.3): LabeledExpand(exporter_secret, "sec", exporter_context, L)."""
        return labeled_expand(
            self.suite.kdf_hash,
            suite_id=self.suite.suite_id,
            prk=self.exporter_secret,
            label=b"sec",
            info=exporter_context,
            length=length,
        )


def key_schedule_base(suite: HPKESuite, *, shared_secret: bytes, info: bytes) -> HPKEContext:
    """KeySchedule(mode_base, shared_secret, info, "", "") (RFC 9180 §5.1).

    This is SetupBaseR/SetupBaseS past the KEM: an RFC 9850 ``ECH_SECRET`` is the KEM's
    ``shared_secret``, so a capture's ECH payload opens from it without any private key."""
    if len(shared_secret) != suite.n_secret:
        raise UsageError(
            f"HPKE shared secret of {len(shared_secret)} bytes; KEM 0x{suite.kem_id:04x} "
            f"makes {suite.n_secret}"
        )
    h, sid = suite.kdf_hash, suite.suite_id
    n_h = _KDFS[suite.kdf_id][1]
    n_k, n_n, _ = _AEADS[suite.aead_id]
    psk_id_hash = labeled_extract(h, suite_id=sid, salt=b"", label=b"psk_id_hash", ikm=b"")
    info_hash = labeled_extract(h, suite_id=sid, salt=b"", label=b"info_hash", ikm=info)
    context = bytes((MODE_BASE,)) + psk_id_hash + info_hash
    secret = labeled_extract(h, suite_id=sid, salt=shared_secret, label=b"secret", ikm=b"")

    def expand(label: bytes, length: int) -> bytes:
        if length == 0:
            return b""
        return labeled_expand(h, suite_id=sid, prk=secret, label=label, info=context, length=length)

    return HPKEContext(
        suite=suite,
        key=expand(b"key", n_k),
        base_nonce=expand(b"base_nonce", n_n),
        exporter_secret=expand(b"exp", n_h),
    )


# -- DHKEM (RFC 9180 §4.1) -------------------------------------------------------------------------


def _kem(kem_id: int) -> _Kem:
    try:
        return _KEMS[kem_id]
    except KeyError:
        raise UnsupportedAlgorithmError(f"HPKE KEM 0x{kem_id:04x} not supported") from None


def _private_key(kem: _Kem, sk: bytes) -> Any:
    try:
        if kem.curve == "X25519":
            return x25519.X25519PrivateKey.from_private_bytes(sk)
        if kem.curve == "X448":
            return x448.X448PrivateKey.from_private_bytes(sk)
        return ec.derive_private_key(int.from_bytes(sk, "big"), kem.curve)
    except ValueError as exc:
        raise UsageError(f"bad HPKE private key: {exc}") from None


def _serialize_public(kem: _Kem, key: Any) -> bytes:
    if isinstance(kem.curve, str):
        return bytes(key.public_bytes_raw())
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return bytes(key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))


def _deserialize_public(kem: _Kem, data: bytes) -> Any:
    if len(data) != kem.n_enc:
        raise ParseError(f"HPKE public key/enc of {len(data)} bytes, expected {kem.n_enc}")
    try:
        if kem.curve == "X25519":
            return x25519.X25519PublicKey.from_public_bytes(data)
        if kem.curve == "X448":
            return x448.X448PublicKey.from_public_bytes(data)
        return ec.EllipticCurvePublicKey.from_encoded_point(kem.curve, data)
    except ValueError as exc:
        raise ParseError(f"bad HPKE public key/enc: {exc}") from None


def _dh(kem: _Kem, sk: Any, pk: Any) -> bytes:
    try:
        if isinstance(kem.curve, str):
            return bytes(sk.exchange(pk))
        return bytes(sk.exchange(ec.ECDH(), pk))
    except ValueError as exc:  # e.g. an all-zero X25519 result (§7.1.4 validation)
        raise ParseError(f"HPKE DH failed: {exc}") from None


def _extract_and_expand(kem_id: int, kem: _Kem, *, dh: bytes, kem_context: bytes) -> bytes:
    sid = b"KEM" + _i2osp(kem_id, 2)
    eae_prk = labeled_extract(kem.hash_name, suite_id=sid, salt=b"", label=b"eae_prk", ikm=dh)
    return labeled_expand(
        kem.hash_name,
        suite_id=sid,
        prk=eae_prk,
        label=b"shared_secret",
        info=kem_context,
        length=kem.n_secret,
    )


def kem_decap(kem_id: int, *, enc: bytes, private_key: bytes) -> bytes:
    """DHKEM Decap(enc, skR) (§4.1): the shared secret, from the recipient's raw private key."""
    kem = _kem(kem_id)
    sk = _private_key(kem, private_key)
    dh = _dh(kem, sk, _deserialize_public(kem, enc))
    pk_rm = _serialize_public(kem, sk.public_key())
    return _extract_and_expand(kem_id, kem, dh=dh, kem_context=bytes(enc) + pk_rm)


def kem_encap_with(
    kem_id: int, *, public_key: bytes, ephemeral_private_key: bytes
) -> tuple[bytes, bytes]:
    """DHKEM Encap(pkR) with a given ephemeral key (deterministic, for test vectors and
    crafting): ``(shared_secret, enc)``."""
    kem = _kem(kem_id)
    sk_e = _private_key(kem, ephemeral_private_key)
    dh = _dh(kem, sk_e, _deserialize_public(kem, public_key))
    enc = _serialize_public(kem, sk_e.public_key())
    return _extract_and_expand(kem_id, kem, dh=dh, kem_context=enc + bytes(public_key)), enc


def public_key_of(kem_id: int, private_key: bytes) -> bytes:
    """The serialized public key (SerializePublicKey, §4) of a raw private key."""
    kem = _kem(kem_id)
    return _serialize_public(kem, _private_key(kem, private_key).public_key())
