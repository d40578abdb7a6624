"""Known-answer tests for the TLS key derivation and record layer.

Sources (none produced by netsec_layers):
* RFC 8448 §3 (simple 1-RTT TLS 1.3 handshake): every secret, key, IV, Finished value and the
  protected records, hex copied from the RFC (tests/vectors/tls/rfc8448_s3.json).
* TLS PRF vectors from the IETF TLS list / GnuTLS (tests/vectors/tls/prf.json), plus
  OpenSSL's `openssl kdf TLS1-PRF` on random inputs, plus Scapy's SSL 3.0 PRF.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from netsec_layers.crypto import tls13
from netsec_layers.crypto.tls_prf import (
    compute_master_secret,
    finished_verify_data,
    key_block,
    prf,
)
from netsec_layers.crypto.tls_record import RecordProtection
from netsec_layers.crypto.tls_suites import suite_info
from netsec_layers.errors import IntegrityError
from tests.tls_vectors import load_vectors, rfc8448, unhex

# --------------------------------------------------------------------------- RFC 8448 §3
R = rfc8448("s3")
H = R["hash"]


def _v(name: str) -> bytes:
    return unhex(R[name])


def _rfc8448_values() -> dict[str, bytes]:
    """Recompute the whole §3 handshake with netsec_layers, starting from the RFC's inputs."""
    out: dict[str, bytes] = {}
    ch, sh = _v("client_hello"), _v("server_hello")
    priv = X25519PrivateKey.from_private_bytes(_v("client_x25519_private"))
    out["client_x25519_public"] = priv.public_key().public_bytes_raw()
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    shared = priv.exchange(X25519PublicKey.from_public_bytes(_v("server_x25519_public")))
    out["shared_secret"] = shared
    out["empty_hash"] = tls13.empty_hash(H)
    ks = tls13.KeySchedule13(H)
    out["early_secret"] = ks.early_secret
    out["derived_early"] = tls13.derive_secret(
        H, secret=ks.early_secret, label=b"derived", transcript_hash=tls13.empty_hash(H)
    )
    # The HkdfLabel structure itself (RFC 8446 §7.1), as printed in the RFC's "info" line.
    out["derived_early_info"] = (
        struct.pack("!HB", 32, 13) + b"tls13 derived" + bytes([32]) + tls13.empty_hash(H)
    )
    out["handshake_secret"] = ks.handshake(shared)
    tr = tls13.Transcript13(H)
    tr.update(ch)
    tr.update(sh)
    out["hello_hash"] = hello = tr.digest()
    out["client_handshake_traffic_secret"] = c_hs = ks.client_handshake_traffic_secret(hello)
    out["server_handshake_traffic_secret"] = s_hs = ks.server_handshake_traffic_secret(hello)
    out["derived_handshake"] = tls13.derive_secret(
        H, secret=ks.handshake_secret, label=b"derived", transcript_hash=tls13.empty_hash(H)
    )
    out["master_secret"] = ks.master()
    out["server_handshake_key"], out["server_handshake_iv"] = tls13.traffic_key_iv(
        H, traffic_secret=s_hs, key_len=16
    )
    out["client_handshake_key"], out["client_handshake_iv"] = tls13.traffic_key_iv(
        H, traffic_secret=c_hs, key_len=16
    )
    # Decrypt the server's flight and continue the transcript with what it contains.
    suite = suite_info(0x1301)
    assert suite is not None
    rec = _v("server_handshake_record")
    ct, plain = RecordProtection.tls13(suite, traffic_secret=s_hs).decrypt(
        rec[0], int.from_bytes(rec[1:3], "big"), rec[5:]
    )
    assert ct == 22
    msgs = _split_handshake(plain)
    assert [m[0] for m in msgs] == [8, 11, 15, 20]  # EE, Certificate, CertificateVerify, Finished
    out["encrypted_extensions"] = msgs[0]
    for m in msgs[:3]:
        tr.update(m)
    out["server_finished_key"] = tls13.finished_key(H, base_key=s_hs)
    out["server_finished_verify_data"] = tls13.finished_verify_data13(
        H, base_key=s_hs, transcript_hash=tr.digest()
    )
    assert msgs[3][4:] == out["server_finished_verify_data"]
    tr.update(msgs[3])
    out["server_finished_hash"] = sf_hash = tr.digest()
    out["client_application_traffic_secret_0"] = c_ap = ks.client_application_traffic_secret_0(
        sf_hash
    )
    out["server_application_traffic_secret_0"] = s_ap = ks.server_application_traffic_secret_0(
        sf_hash
    )
    out["exporter_master_secret"] = ks.exporter_master_secret(sf_hash)
    out["server_application_key"], out["server_application_iv"] = tls13.traffic_key_iv(
        H, traffic_secret=s_ap, key_len=16
    )
    out["client_application_key"], out["client_application_iv"] = tls13.traffic_key_iv(
        H, traffic_secret=c_ap, key_len=16
    )
    out["client_finished_key"] = tls13.finished_key(H, base_key=c_hs)
    out["client_finished_verify_data"] = tls13.finished_verify_data13(
        H, base_key=c_hs, transcript_hash=sf_hash
    )
    rec = _v("client_finished_record")
    ct, cfin = RecordProtection.tls13(suite, traffic_secret=c_hs).decrypt(23, 0x0303, rec[5:])
    assert ct == 22 and cfin[:4] == b"\x14\x00\x00\x20"
    assert cfin[4:] == out["client_finished_verify_data"]
    tr.update(cfin)
    out["client_finished_hash"] = cf_hash = tr.digest()
    out["resumption_master_secret"] = rms = ks.resumption_master_secret(cf_hash)
    out["resumption_psk"] = tls13.resumption_psk(
        H, resumption_master_secret=rms, ticket_nonce=_v("ticket_nonce")
    )
    # Application data: client record at seq 0, server record at seq 1 (seq 0 = the ticket).
    rec = _v("client_application_record")
    ct, data = RecordProtection.tls13(suite, traffic_secret=c_ap).decrypt(23, 0x0303, rec[5:])
    assert ct == 23
    out["application_data_plaintext"] = data
    srv = RecordProtection.tls13(suite, traffic_secret=s_ap)
    srv.seq = 1
    rec = _v("server_application_record_seq1")
    ct, data2 = srv.decrypt(23, 0x0303, rec[5:])
    assert ct == 23 and data2 == data
    return out


def _split_handshake(data: bytes) -> list[bytes]:
    msgs, pos = [], 0
    while pos < len(data):
        n = int.from_bytes(data[pos + 1 : pos + 4], "big")
        msgs.append(data[pos : pos + 4 + n])
        pos += 4 + n
    return msgs


_RFC8448_KEYS = [
    k
    for k in R
    if k not in ("source", "hash", "suite", "client_hello", "server_hello", "ticket_nonce")
    # messages the layer tests read (tests/vectors/tls/rfc8448_messages.json)
    and k not in ("certificate", "certificate_verify", "server_finished", "new_session_ticket")
    and not k.endswith("_record")
    and not k.endswith("_record_seq1")
    and not k.endswith("_private")
    and k != "server_x25519_public"
]


@pytest.fixture(scope="module")
def rfc8448_computed() -> dict[str, bytes]:
    return _rfc8448_values()


@pytest.mark.parametrize("name", _RFC8448_KEYS)
def test_rfc8448_simple_1rtt(rfc8448_computed: dict[str, bytes], name: str) -> None:
    assert rfc8448_computed[name].hex() == _v(name).hex()


@pytest.mark.parametrize(
    "record,secret,seq,inner_type",
    [
        ("server_handshake_record", "server_handshake_traffic_secret", 0, 22),
        ("client_finished_record", "client_handshake_traffic_secret", 0, 22),
        ("client_application_record", "client_application_traffic_secret_0", 0, 23),
        ("server_application_record_seq1", "server_application_traffic_secret_0", 1, 23),
    ],
)
def test_rfc8448_records_reencrypt_byte_exact(
    record: str, secret: str, seq: int, inner_type: int
) -> None:
    """Decrypt an RFC record, then seal the plaintext again: the RFC's bytes come back."""
    suite = suite_info(0x1301)
    assert suite is not None
    rec = _v(record)
    opener = RecordProtection.tls13(suite, traffic_secret=_v(secret))
    sealer = RecordProtection.tls13(suite, traffic_secret=_v(secret))
    opener.seq = sealer.seq = seq
    ct, plain = opener.decrypt(rec[0], 0x0303, rec[5:])
    assert ct == inner_type and opener.seq == seq + 1
    outer, frag = sealer.encrypt(ct, 0x0303, plain)
    assert bytes([outer]) + b"\x03\x03" + len(frag).to_bytes(2, "big") + frag == rec
    # Wrong sequence number: the same bytes must not open, and seq must not move.
    wrong = RecordProtection.tls13(suite, traffic_secret=_v(secret))
    wrong.seq = seq + 1
    with pytest.raises(IntegrityError):
        wrong.decrypt(rec[0], 0x0303, rec[5:])
    assert wrong.seq == seq + 1


def test_rfc8448_keylog_labels_map_to_secrets() -> None:
    """A key log built from the RFC's secrets drives RecordProtection to the RFC plaintext."""
    from netsec_layers.keys.keylog import format_keylog_line, parse_keylog

    client_random = _v("client_hello")[6:38]
    text = "\n".join(
        [
            format_keylog_line(
                "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                client_random,
                _v("server_handshake_traffic_secret"),
            ),
            format_keylog_line(
                "CLIENT_TRAFFIC_SECRET_0", client_random, _v("client_application_traffic_secret_0")
            ),
        ]
    )
    kl = parse_keylog(text)
    assert not kl.errors
    secret = kl.secrets_for(client_random)["CLIENT_TRAFFIC_SECRET_0"]
    suite = suite_info(0x1301)
    assert suite is not None
    rec = _v("client_application_record")
    _ct, data = RecordProtection.tls13(suite, traffic_secret=secret).decrypt(23, 0x0303, rec[5:])
    assert data == _v("application_data_plaintext")


# --------------------------------------------------------------------------- PRF vectors
P = load_vectors("prf.json")


@pytest.mark.parametrize("vec", P["vectors"], ids=[v["id"] for v in P["vectors"]])
def test_prf_vectors(vec: dict[str, str]) -> None:
    out = prf(
        int(vec["version"], 16),
        secret=unhex(vec["secret"]),
        label=vec["label"].encode(),
        seed=unhex(vec["seed"]),
        length=len(unhex(vec["output"])),
        prf_hash=vec["hash"] if vec["hash"] != "MD5-SHA1" else "SHA256",
    )
    assert out.hex() == vec["output"]


def _openssl_prf(digest: str, secret: bytes, seed: bytes, length: int) -> bytes:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is required for this integration test")
    res = subprocess.run(
        [openssl, "kdf", "-binary", "-keylen", str(length), "-kdfopt", f"digest:{digest}",
         "-kdfopt", f"hexsecret:{secret.hex()}", "-kdfopt", f"hexseed:{seed.hex()}",
         "TLS1-PRF"],
        capture_output=True, check=True,
    )  # fmt: skip
    return res.stdout


@pytest.mark.integration
@pytest.mark.parametrize(
    "version,digest,prf_hash",
    [(0x0301, "MD5-SHA1", "SHA256"), (0x0303, "SHA256", "SHA256"), (0x0303, "SHA384", "SHA384")],
)
def test_prf_against_openssl_kdf(version: int, digest: str, prf_hash: str) -> None:
    """Odd secret lengths exercise the TLS 1.0 S1/S2 overlap (RFC 2246 §5)."""
    for secret_len, length in ((47, 104), (48, 48), (1, 13)):
        secret, seed = os.urandom(secret_len), os.urandom(64)
        ours = prf(
            version, secret=secret, label=b"key expansion", seed=seed, length=length,
            prf_hash=prf_hash,
        )  # fmt: skip
        assert ours == _openssl_prf(digest, secret, b"key expansion" + seed, length)


# --------------------------------------------------------------------------- SSL 3.0 vs Scapy
def _scapy_prf(version: int) -> Any:
    from scapy.layers.tls.crypto.prf import PRF

    return PRF("sha256", version)


@pytest.mark.parametrize("version", [0x0300, 0x0301, 0x0302, 0x0303])
def test_master_secret_key_block_finished_vs_scapy(version: int) -> None:
    """Scapy's independent PRF code (scapy.layers.tls.crypto.prf) agrees for every version."""
    suite = suite_info(0x002F)  # AES_128_CBC_SHA
    assert suite is not None
    pms, cr, sr = os.urandom(48), os.urandom(32), os.urandom(32)
    sp = _scapy_prf(version)
    ms = compute_master_secret(version, suite, pre_master=pms, client_random=cr, server_random=sr)
    assert ms == sp.compute_master_secret(pms, cr, sr)
    kb = key_block(version, suite, master_secret=ms, client_random=cr, server_random=sr)
    n = 2 * (20 + 16 + (16 if version <= 0x0301 else 0))
    raw = sp.derive_key_block(ms, sr, cr, n)
    assert kb.client_mac + kb.server_mac + kb.client_key + kb.server_key == raw[:72]
    assert kb.client_iv + kb.server_iv == raw[72:]
    transcript = os.urandom(300)
    for side, from_client in (("client", True), ("server", False)):
        ours = finished_verify_data(
            version, suite, master_secret=ms, from_client=from_client, transcript=transcript
        )
        assert ours == sp.compute_verify_data(side, "write", transcript, ms)


def test_extended_master_secret_formula() -> None:
    """RFC 7627 §4: PRF(pms, "extended master secret", session_hash) -- vs OpenSSL's KDF."""
    suite = suite_info(0xC02F)
    assert suite is not None
    pms, shash = os.urandom(48), os.urandom(32)
    ems = compute_master_secret(
        0x0303, suite, pre_master=pms, client_random=b"x" * 32, server_random=b"y" * 32,
        session_hash=shash,
    )  # fmt: skip
    if shutil.which("openssl"):
        assert ems == _openssl_prf("SHA256", pms, b"extended master secret" + shash, 48)
    assert ems != compute_master_secret(
        0x0303, suite, pre_master=pms, client_random=b"x" * 32, server_random=b"y" * 32
    )


def test_des_is_single_des() -> None:
    """FIPS 81 / the classic DES example: key 0123456789abcdef, 'Now is t' -> 3fa40e8a984d4815."""
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    from netsec_layers.crypto.tls_record import _block_algorithm

    enc = Cipher(_block_algorithm("DES_CBC", unhex("0123456789abcdef")), modes.ECB()).encryptor()
    assert enc.update(b"Now is t").hex() == "3fa40e8a984d4815"


# --------------------------------------------------------------------------- RFC 8448 §4
R4 = rfc8448("s4")


def _rfc8448_resumed_values() -> dict[str, bytes]:
    v = {k: unhex(R4[k]) for k in ("resumption_master_secret", "ticket_nonce", "binder_hash")}
    v["client_hello_hash"] = unhex(R4["client_hello_hash"])
    h = R4["hash"]
    out: dict[str, bytes] = {}
    out["psk"] = psk = tls13.resumption_psk(
        h, resumption_master_secret=v["resumption_master_secret"], ticket_nonce=v["ticket_nonce"]
    )
    ks = tls13.KeySchedule13(h, psk=psk)
    out["early_secret"] = ks.early_secret
    out["binder_key"] = bk = ks.binder_key(external=False)
    out["binder_finished_key"] = tls13.finished_key(h, base_key=bk)
    # RFC 8446 §4.2.11.2: the binder is a Finished computed over the truncated ClientHello.
    out["binder"] = tls13.finished_verify_data13(h, base_key=bk, transcript_hash=v["binder_hash"])
    out["client_early_traffic_secret"] = ks.client_early_traffic_secret(v["client_hello_hash"])
    out["derived_early"] = tls13.derive_secret(
        h, secret=ks.early_secret, label=b"derived", transcript_hash=tls13.empty_hash(h)
    )
    return out


_R4_KEYS = [
    "psk", "early_secret", "binder_key", "binder_finished_key", "binder",
    "client_early_traffic_secret", "derived_early",
]  # fmt: skip


@pytest.mark.parametrize("name", _R4_KEYS)
def test_rfc8448_resumed_0rtt_key_schedule(name: str) -> None:
    assert _rfc8448_resumed_values()[name].hex() == unhex(R4[name]).hex()
