"""SSH key exchange arithmetic: shared secret K, exchange hash H, and the keys of RFC 4253 §7.2.

Bytes in, bytes out on pyca ``cryptography``.  Sources: RFC 4253 §§7.2, 8 (DH, H), RFC 4419 §3
(group exchange H), RFC 5656 §§4, 7.1 (ECDH, NIST curves), RFC 8731 §3 (curve25519-sha256),
RFC 8268 / RFC 3526 (groups 14/16/18), RFC 2409 §6.2 (group 1), draft-josefsson-ntruprime-ssh
and draft-kampanakis-curdle-ssh-pq-ke (hybrids: K is a *string*, not an mpint).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric import ec, x25519

from netsec_layers.errors import KeyUnavailableError, ParseError, UnsupportedAlgorithmError

# --------------------------------------------------------------------------- method table

_HASH_BY_KEX: dict[str, str] = {
    "curve25519-sha256": "sha256",
    "curve25519-sha256@libssh.org": "sha256",
    "ecdh-sha2-nistp256": "sha256",
    "ecdh-sha2-nistp384": "sha384",
    "ecdh-sha2-nistp521": "sha512",
    "diffie-hellman-group1-sha1": "sha1",
    "diffie-hellman-group14-sha1": "sha1",
    "diffie-hellman-group14-sha256": "sha256",
    "diffie-hellman-group16-sha512": "sha512",
    "diffie-hellman-group18-sha512": "sha512",
    "diffie-hellman-group-exchange-sha1": "sha1",
    "diffie-hellman-group-exchange-sha256": "sha256",
    "sntrup761x25519-sha512": "sha512",
    "sntrup761x25519-sha512@openssh.com": "sha512",
    "mlkem768x25519-sha256": "sha256",
}

HYBRID_KEX = frozenset(
    {"sntrup761x25519-sha512", "sntrup761x25519-sha512@openssh.com", "mlkem768x25519-sha256"}
)

_ECDH_CURVES: dict[str, ec.EllipticCurve] = {
    "ecdh-sha2-nistp256": ec.SECP256R1(),
    "ecdh-sha2-nistp384": ec.SECP384R1(),
    "ecdh-sha2-nistp521": ec.SECP521R1(),
}

# RFC 2409 §6.2 / RFC 3526: p = 2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) * pi) + k), g = 2
_GROUPS: dict[str, tuple[int, int]] = {
    "diffie-hellman-group1-sha1": (1024, 129093),
    "diffie-hellman-group14-sha1": (2048, 124476),
    "diffie-hellman-group14-sha256": (2048, 124476),
    "diffie-hellman-group16-sha512": (4096, 240904),
    "diffie-hellman-group18-sha512": (8192, 4743158),
}

SUPPORTED_KEX = frozenset(_HASH_BY_KEX)


def kex_hash(kex: str) -> str:
    """The hash function name (hashlib) of a key exchange method."""
    try:
        return _HASH_BY_KEX[kex]
    except KeyError:
        known = ", ".join(sorted(_HASH_BY_KEX))
        msg = f"unknown SSH key exchange {kex!r} (known: {known})"
        raise UnsupportedAlgorithmError(msg) from None


def is_group_exchange(kex: str) -> bool:
    return kex.startswith("diffie-hellman-group-exchange-")


@lru_cache(maxsize=1)
def _pi_bits(bits: int) -> int:
    """floor(pi * 2^bits), by Machin's formula in integers (guard bits absorb rounding)."""
    guard = 64
    one = 1 << (bits + guard)

    def arctan_inv(x: int) -> int:
        total, term, n, sign = 0, one // x, 1, 1
        x2 = x * x
        while term:
            total += sign * (term // n)
            term //= x2
            n += 2
            sign = -sign
        return total

    pi = 4 * (4 * arctan_inv(5) - arctan_inv(239))
    return pi >> guard


@lru_cache(maxsize=8)
def modp_group(kex: str) -> tuple[int, int]:
    """``(p, g)`` of a fixed-group ``diffie-hellman-group*`` method."""
    try:
        n, k = _GROUPS[kex]
    except KeyError:
        raise UnsupportedAlgorithmError(f"{kex!r} has no fixed group") from None
    p = (1 << n) - (1 << (n - 64)) - 1 + (1 << 64) * ((_pi_bits(8062) >> (8062 - (n - 130))) + k)
    return p, 2


# --------------------------------------------------------------------------- encodings


def ssh_string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def ssh_mpint(value: int) -> bytes:
    """RFC 4251 §5 mpint of a non-negative integer, with its length."""
    if value < 0:
        raise ParseError("negative shared secret")
    body = value.to_bytes((value.bit_length() + 8) // 8, "big") if value else b""
    return ssh_string(body)


def encode_k(kex: str, k: int | bytes) -> bytes:
    """K as it enters H and the key derivation: an mpint, or a string for the hybrids."""
    if kex in HYBRID_KEX:
        return ssh_string(
            k if isinstance(k, bytes) else k.to_bytes(max(1, (k.bit_length() + 7) // 8), "big")
        )
    return ssh_mpint(int.from_bytes(k, "big") if isinstance(k, bytes) else k)


# --------------------------------------------------------------------------- shared secret


def _mpint_value(data: bytes) -> int:
    return int.from_bytes(data, "big", signed=True) if data else 0


def shared_secret_from_private(
    *,
    kex: str,
    private_key: bytes,
    client_public: bytes,
    server_public: bytes,
    group: tuple[int, int] | None = None,
) -> int:
    """K from one side's ephemeral private key (either side: the other side's public value is
    the one that does not match).  ``client_public``/``server_public`` are the raw bytes of e / f
    (mpint bodies) or Q_C / Q_S; ``group`` is (p, g) for group exchange."""
    if kex in HYBRID_KEX:
        raise KeyUnavailableError(f"{kex}: needs SHARED_SECRET (no post-quantum decapsulation)")
    if kex.startswith("curve25519-sha256"):
        if len(private_key) != 32:
            raise KeyUnavailableError("X25519 private key must be 32 bytes")
        priv = x25519.X25519PrivateKey.from_private_bytes(private_key)
        mine = priv.public_key().public_bytes_raw()
        peer = server_public if mine == client_public else client_public
        if mine not in (client_public, server_public):
            raise KeyUnavailableError("private key matches neither side's X25519 public key")
        try:
            secret = priv.exchange(x25519.X25519PublicKey.from_public_bytes(peer))
        except ValueError as exc:
            raise ParseError(f"bad X25519 public value: {exc}") from None
        return int.from_bytes(secret, "big")  # RFC 8731 §3.1: unsigned, network byte order
    if kex in _ECDH_CURVES:
        curve = _ECDH_CURVES[kex]
        try:
            epriv = ec.derive_private_key(int.from_bytes(private_key, "big"), curve)
        except ValueError as exc:
            raise KeyUnavailableError(f"bad ECDH private key: {exc}") from None
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        mine = epriv.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        if mine not in (client_public, server_public):
            raise KeyUnavailableError("private key matches neither side's ECDH public point")
        peer = server_public if mine == client_public else client_public
        try:
            pub = ec.EllipticCurvePublicKey.from_encoded_point(curve, peer)
            secret = epriv.exchange(ec.ECDH(), pub)
        except ValueError as exc:
            raise ParseError(f"bad ECDH public point: {exc}") from None
        return int.from_bytes(secret, "big")  # RFC 5656 §4: the x coordinate as an mpint
    if kex in _GROUPS or is_group_exchange(kex):
        if is_group_exchange(kex):
            if group is None:
                raise KeyUnavailableError("group exchange: the group (KEX_DH_GEX_GROUP) is missing")
            p, g = group
        else:
            p, g = modp_group(kex)
        x = int.from_bytes(private_key, "big")
        if not 1 < x < p - 1:
            raise KeyUnavailableError("DH private exponent out of range")
        e, f = _mpint_value(client_public), _mpint_value(server_public)
        mine_int = pow(g, x, p)
        if mine_int not in (e, f):
            raise KeyUnavailableError("private key matches neither side's DH public value")
        peer_int = f if mine_int == e else e
        if not 1 < peer_int < p - 1:  # RFC 4253 §8: values outside [1, p-1] must not be used
            raise ParseError("DH public value out of range")
        return pow(peer_int, x, p)
    raise UnsupportedAlgorithmError(f"unknown SSH key exchange {kex!r}")


# --------------------------------------------------------------------------- exchange hash


@dataclass(frozen=True, slots=True)
class KexTranscript:
    """What H covers (RFC 4253 §8, RFC 4419 §3, RFC 5656 §4): identification strings without
    CR LF, both KEXINIT payloads, the host key blob, the public values as sent, and for group
    exchange the request (min, n, max; n only for the old request) and the group."""

    kex: str
    v_c: bytes
    v_s: bytes
    i_c: bytes
    i_s: bytes
    k_s: bytes
    client_public: bytes
    server_public: bytes
    gex_request: tuple[int, ...] | None = None
    gex_group: tuple[bytes, bytes] | None = None  # p and g as mpint bodies


def exchange_hash(t: KexTranscript, k: int | bytes) -> bytes:
    """H = HASH(V_C || V_S || I_C || I_S || K_S || [GEX fields] || e/Q_C || f/Q_S || K)."""
    parts = [ssh_string(t.v_c), ssh_string(t.v_s), ssh_string(t.i_c), ssh_string(t.i_s)]
    parts.append(ssh_string(t.k_s))
    if is_group_exchange(t.kex):
        if t.gex_request is None or t.gex_group is None:
            raise KeyUnavailableError("group exchange: request or group not captured")
        parts.extend(v.to_bytes(4, "big") for v in t.gex_request)
        parts.extend(ssh_string(v) for v in t.gex_group)
    parts.append(ssh_string(t.client_public))
    parts.append(ssh_string(t.server_public))
    parts.append(encode_k(t.kex, k))
    return hashlib.new(kex_hash(t.kex), b"".join(parts)).digest()


# --------------------------------------------------------------------------- key derivation


def derive_key(
    *, kex: str, k: int | bytes, h: bytes, session_id: bytes, letter: str, size: int
) -> bytes:
    """RFC 4253 §7.2: HASH(K || H || letter || session_id), extended by HASH(K || H || K1 ...)."""
    if letter not in "ABCDEF" or len(letter) != 1:
        raise ValueError(f"key letter must be one of A-F, not {letter!r}")
    name = kex_hash(kex)
    kb = encode_k(kex, k)
    out = hashlib.new(name, kb + h + letter.encode() + session_id).digest()
    while len(out) < size:
        out += hashlib.new(name, kb + h + out).digest()
    return out[:size]


@dataclass(frozen=True, slots=True)
class DirectionKeys:
    """The IV, encryption key and integrity key of one direction (RFC 4253 §7.2)."""

    iv: bytes
    enc_key: bytes
    mac_key: bytes


def derive_direction_keys(
    *,
    kex: str,
    k: int | bytes,
    h: bytes,
    session_id: bytes,
    client_to_server: bool,
    iv_len: int,
    key_len: int,
    mac_key_len: int,
) -> DirectionKeys:
    """Letters A/C/E (client to server) or B/D/F (server to client)."""
    iv_l, enc_l, mac_l = ("A", "C", "E") if client_to_server else ("B", "D", "F")

    def d(letter: str, size: int) -> bytes:
        if size == 0:
            return b""
        return derive_key(kex=kex, k=k, h=h, session_id=session_id, letter=letter, size=size)

    return DirectionKeys(d(iv_l, iv_len), d(enc_l, key_len), d(mac_l, mac_key_len))
