"""Key derivation of SSL 3.0 and TLS 1.0-1.2: PRFs, master secret, key block, Finished.

Versions are the wire values: ``0x0300`` SSL 3.0, ``0x0301`` TLS 1.0, ``0x0302`` TLS 1.1,
``0x0303`` TLS 1.2.  HMAC and hashes come from the standard library (OpenSSL underneath), which
is faster than building pyca objects for these short inputs; no other primitive is involved.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from netsec_layers.crypto.tls_suites import CipherSuiteInfo
from netsec_layers.errors import UnsupportedAlgorithmError, UsageError

SSL3 = 0x0300
TLS10 = 0x0301
TLS11 = 0x0302
TLS12 = 0x0303

_HASHES = {"MD5": "md5", "SHA1": "sha1", "SHA": "sha1", "SHA256": "sha256", "SHA384": "sha384"}
_HASHES["SHA512"] = "sha512"  # HKDF-SHA512 of HPKE (RFC 9180 §7.2), for ECH


def hashlib_name(hash_name: str) -> str:
    """Map ``SHA256``/``SHA1``/``MD5``... to the hashlib name; UnsupportedAlgorithmError else."""
    try:
        return _HASHES[hash_name.upper()]
    except KeyError:
        raise UnsupportedAlgorithmError(
            f"unknown hash {hash_name!r}; known: {', '.join(sorted(_HASHES))}"
        ) from None


def p_hash(hash_name: str, secret: bytes, seed: bytes, length: int) -> bytes:
    """P_hash of RFC 5246 §5: HMAC chaining A(i) = HMAC(secret, A(i-1)), output HMAC(A(i)+seed)."""
    name = hashlib_name(hash_name)
    out = bytearray()
    a = seed
    while len(out) < length:
        a = hmac.digest(secret, a, name)
        out += hmac.digest(secret, a + seed, name)
    return bytes(out[:length])


def ssl3_prf(secret: bytes, seed: bytes, length: int) -> bytes:
    """SSL 3.0 key derivation (RFC 6101 §6.1/§6.2.2): MD5(secret + SHA1('A' + secret + seed))...

    The salts are 'A', 'BB', 'CCC', ... (at most 26 rounds, i.e. 416 bytes).
    """
    if length > 26 * 16:
        raise UsageError("SSL 3.0 key derivation yields at most 416 bytes")
    out = bytearray()
    i = 0
    while len(out) < length:
        salt = bytes([0x41 + i]) * (i + 1)
        inner = hashlib.sha1(salt + secret + seed).digest()
        out += hashlib.md5(secret + inner).digest()
        i += 1
    return bytes(out[:length])


def prf(
    version: int,
    *,
    secret: bytes,
    label: bytes,
    seed: bytes,
    length: int,
    prf_hash: str = "SHA256",
) -> bytes:
    """The PRF of ``version``.

    * SSL 3.0: the MD5/SHA-1 construction of RFC 6101 (``label`` is ignored: SSL 3.0 has none).
    * TLS 1.0/1.1 (RFC 2246 §5): P_MD5(S1, label+seed) XOR P_SHA1(S2, label+seed), where S1 and
      S2 are the two halves of the secret, sharing the middle byte when its length is odd.
    * TLS 1.2 (RFC 5246 §5): P_<prf_hash>(secret, label+seed).
    """
    if length < 0:
        raise UsageError("negative PRF length")
    if version == SSL3:
        return ssl3_prf(secret, seed, length)
    if version in (TLS10, TLS11):
        half = (len(secret) + 1) // 2
        md5 = p_hash("MD5", secret[:half], label + seed, length)
        sha = p_hash("SHA1", secret[len(secret) - half :], label + seed, length)
        return (int.from_bytes(md5, "big") ^ int.from_bytes(sha, "big")).to_bytes(length, "big")
    if version == TLS12:
        return p_hash(prf_hash, secret, label + seed, length)
    raise UnsupportedAlgorithmError(f"no TLS PRF for version 0x{version:04x}")


def handshake_hash(version: int, prf_hash: str, transcript: bytes) -> bytes:
    """Hash of the handshake messages as TLS uses it for Finished and RFC 7627's session_hash.

    TLS 1.0/1.1: MD5(transcript) + SHA1(transcript) (36 bytes); TLS 1.2: prf_hash(transcript).
    """
    if version in (SSL3, TLS10, TLS11):
        return hashlib.md5(transcript).digest() + hashlib.sha1(transcript).digest()
    if version == TLS12:
        return hashlib.new(hashlib_name(prf_hash), transcript).digest()
    raise UnsupportedAlgorithmError(f"no handshake hash for version 0x{version:04x}")


def compute_master_secret(
    version: int,
    suite: CipherSuiteInfo,
    *,
    pre_master: bytes,
    client_random: bytes,
    server_random: bytes,
    session_hash: bytes | None = None,
) -> bytes:
    """48-byte master secret (RFC 5246 §8.1); with ``session_hash`` the RFC 7627 §4 variant.

    ``session_hash`` is :func:`handshake_hash` over the messages up to and including the
    ClientKeyExchange.  SSL 3.0 has no extended master secret (RFC 7627 §5.2 does not apply).
    """
    if session_hash is not None:
        if version == SSL3:
            raise UsageError("the extended master secret (RFC 7627) does not exist in SSL 3.0")
        return prf(
            version,
            secret=pre_master,
            label=b"extended master secret",
            seed=session_hash,
            length=48,
            prf_hash=suite.prf_hash,
        )
    return prf(
        version,
        secret=pre_master,
        label=b"master secret",
        seed=client_random + server_random,
        length=48,
        prf_hash=suite.prf_hash,
    )


@dataclass(frozen=True)
class KeyBlock:
    """The partitioned key block (RFC 5246 §6.3)."""

    client_mac: bytes
    server_mac: bytes
    client_key: bytes
    server_key: bytes
    client_iv: bytes
    server_iv: bytes


def key_block_iv_len(version: int, suite: CipherSuiteInfo) -> int:
    """IV bytes per direction in the key block.

    AEAD suites: the implicit salt/IV.  CBC: only SSL 3.0 and TLS 1.0 take the first IV from the
    key block; TLS 1.1+ sends an explicit IV in every record (RFC 4346 §6.3, RFC 5246 §6.3).
    """
    if suite.cipher_type == "aead":
        return suite.fixed_iv_len
    if suite.cipher_type == "block" and version <= TLS10:
        return suite.block_size
    return 0


def key_block(
    version: int,
    suite: CipherSuiteInfo,
    *,
    master_secret: bytes,
    client_random: bytes,
    server_random: bytes,
) -> KeyBlock:
    """Expand the master secret into MAC keys, cipher keys and IVs (RFC 5246 §6.3).

    The seed is server_random + client_random (reversed compared to the master secret).
    """
    if suite.is_tls13:
        raise UsageError(f"{suite.name} is a TLS 1.3 suite: use crypto.tls13")
    mac_len, key_len = suite.mac_len, suite.key_len
    iv_len = key_block_iv_len(version, suite)
    total = 2 * (mac_len + key_len + iv_len)
    block = prf(
        version,
        secret=master_secret,
        label=b"key expansion",
        seed=server_random + client_random,
        length=total,
        prf_hash=suite.prf_hash,
    )
    parts = []
    pos = 0
    for size in (mac_len, mac_len, key_len, key_len, iv_len, iv_len):
        parts.append(block[pos : pos + size])
        pos += size
    return KeyBlock(*parts)


_SSL3_PAD1 = {"md5": b"\x36" * 48, "sha1": b"\x36" * 40}
_SSL3_PAD2 = {"md5": b"\x5c" * 48, "sha1": b"\x5c" * 40}


def ssl3_mac(hash_name: str, *, mac_key: bytes, data: bytes) -> bytes:
    """The SSL 3.0 MAC construction (RFC 6101 §5.2.3.1):
    hash(secret + pad_2 + hash(secret + pad_1 + data)); ``data`` = seq + type + length + content.
    """
    name = hashlib_name(hash_name)
    inner = hashlib.new(name, mac_key + _SSL3_PAD1[name] + data).digest()
    return hashlib.new(name, mac_key + _SSL3_PAD2[name] + inner).digest()


def finished_verify_data(
    version: int,
    suite: CipherSuiteInfo,
    *,
    master_secret: bytes,
    from_client: bool,
    transcript: bytes,
) -> bytes:
    """verify_data of the Finished message sent by the client (``from_client``) or the server.

    ``transcript`` = all handshake messages before this Finished (headers included).
    SSL 3.0 (RFC 6101 §5.6.9): MD5 and SHA-1 hashes with sender 'CLNT'/'SRVR' (36 bytes).
    TLS: PRF(master_secret, "client finished"/"server finished", Hash(transcript))[0..11].
    """
    if version == SSL3:
        sender = b"CLNT" if from_client else b"SRVR"
        out = b""
        for name in ("md5", "sha1"):
            inner = hashlib.new(name, transcript + sender + master_secret + _SSL3_PAD1[name])
            outer = hashlib.new(name, master_secret + _SSL3_PAD2[name] + inner.digest())
            out += outer.digest()
        return out
    label = b"client finished" if from_client else b"server finished"
    return prf(
        version,
        secret=master_secret,
        label=label,
        seed=handshake_hash(version, suite.prf_hash, transcript),
        length=12,
        prf_hash=suite.prf_hash,
    )


def export_keying_material(
    version: int,
    suite: CipherSuiteInfo,
    *,
    master_secret: bytes,
    client_random: bytes,
    server_random: bytes,
    label: bytes,
    context: bytes | None,
    length: int,
) -> bytes:
    """RFC 5705 §4 keying material exporter for TLS 1.0-1.2."""
    seed = client_random + server_random
    if context is not None:
        seed += len(context).to_bytes(2, "big") + context
    return prf(
        version, secret=master_secret, label=label, seed=seed, length=length,
        prf_hash=suite.prf_hash,
    )  # fmt: skip
