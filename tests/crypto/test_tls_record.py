"""RecordProtection: round trips and bit flips where an independent check covers the same
record protection (INDEPENDENT), state rules, SSL 3.0.

The OpenSSL interop tests (test_tls_interop.py) cover what OpenSSL can still negotiate. Here:
* SSL 3.0 records built in the test from RFC 6101 §5.2.3 with Scapy's SSLv3 MAC
  (scapy.layers.tls.crypto.h_mac) and a CBC/RC4 cipher, then opened by us;
* 3DES and RC4 records built from RFC 5246 §6.2.3 in the test (stdlib hmac + pyca cipher);
* every single-bit flip of records of each cipher type raises IntegrityError, seq unchanged;
* Hypothesis: encrypt/decrypt round trip, and random fragments only ever raise IntegrityError.
"""

from __future__ import annotations

import hmac
import os
import struct

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4, TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netsec_layers.crypto.tls_prf import key_block_iv_len
from netsec_layers.crypto.tls_record import RecordProtection
from netsec_layers.crypto.tls_suites import CipherSuiteInfo, suite_info, suite_name
from netsec_layers.errors import IntegrityError, UsageError

# Round trips of our sealer through our opener prove nothing on their own: they are kept only
# for record protections (cipher, MAC, version, encrypt-then-MAC; the key exchange does not
# matter) that an independent check also covers, one suite each. Where (tests/...):
INDEPENDENT = [
    (0x0002, 0x0300, False),  # NULL_SHA: SSL 3.0 records built with Scapy's MAC (here)
    (0x0004, 0x0300, False),  # RC4_128_MD5: same
    (0x0005, 0x0300, False),  # RC4_128_SHA: same
    (0x0009, 0x0300, False),  # DES_CBC_SHA: same
    (0x000A, 0x0300, False),  # 3DES_EDE_CBC_SHA: same
    (0x002F, 0x0300, False),  # AES_128_CBC_SHA: same
    (0x0035, 0x0300, False),  # AES_256_CBC_SHA: same
    (0x000A, 0x0301, False),  # 3DES_EDE_CBC_SHA: RFC 5246 construction (here)
    (0x000A, 0x0301, True),  # 3DES_EDE_CBC_SHA: GnuTLS (crypto/test_tls_gnutls)
    (0x002F, 0x0301, False),  # AES_128_CBC_SHA: OpenSSL (test_tls_interop), tshark (test_tls_craft)
    (0x002F, 0x0301, True),  # AES_128_CBC_SHA: OpenSSL, pcaps of real peers (test_tls_samples)
    (0x002F, 0x0302, False),  # AES_128_CBC_SHA: tshark (session/test_tls_craft)
    (0x002F, 0x0302, True),  # AES_128_CBC_SHA: OpenSSL, real-peer pcaps
    (0xC014, 0x0302, False),  # ECDHE_RSA_WITH_AES_256_CBC_SHA: OpenSSL
    (0x0001, 0x0303, False),  # NULL_MD5: OpenSSL, GnuTLS
    (0x0002, 0x0303, False),  # NULL_SHA: GnuTLS
    (0x0004, 0x0303, False),  # RC4_128_MD5: GnuTLS
    (0x0005, 0x0303, False),  # RC4_128_SHA: GnuTLS, RFC 5246 construction (here)
    (0x000A, 0x0303, False),  # 3DES_EDE_CBC_SHA: RFC 5246 construction (here)
    (0x000A, 0x0303, True),  # 3DES_EDE_CBC_SHA: GnuTLS
    (0x002F, 0x0303, False),  # AES_128_CBC_SHA: OpenSSL, tshark, real-peer pcaps
    (0x002F, 0x0303, True),  # AES_128_CBC_SHA: OpenSSL, tshark, real-peer pcaps
    (0x003B, 0x0303, False),  # NULL_SHA256: OpenSSL
    (0x003C, 0x0303, False),  # AES_128_CBC_SHA256: tshark
    (0x003C, 0x0303, True),  # AES_128_CBC_SHA256: OpenSSL, real-peer pcaps
    (0x0041, 0x0303, False),  # CAMELLIA_128_CBC_SHA: OpenSSL
    (0x0041, 0x0303, True),  # CAMELLIA_128_CBC_SHA: GnuTLS
    (0x009C, 0x0303, False),  # AES_128_GCM_SHA256: OpenSSL, tshark, real-peer pcaps
    (0x00C0, 0x0303, True),  # CAMELLIA_256_CBC_SHA256: OpenSSL
    (0xC028, 0x0303, False),  # ECDHE_RSA_WITH_AES_256_CBC_SHA384: OpenSSL
    (0xC028, 0x0303, True),  # ECDHE_RSA_WITH_AES_256_CBC_SHA384: GnuTLS, real-peer pcaps
    (0xC02C, 0x0303, False),  # AES_256_GCM_SHA384: OpenSSL, GnuTLS, tshark, real-peer pcaps
    (0xC09D, 0x0303, False),  # AES_256_CCM: OpenSSL
    (0xC0A0, 0x0303, False),  # AES_128_CCM_8: OpenSSL
    (0xCCA8, 0x0303, False),  # CHACHA20_POLY1305: OpenSSL, tshark, real-peer pcaps
    (0x1301, 0x0304, False),  # TLS 1.3: RFC 8448 (test_tls_vectors), OpenSSL, tshark, pcaps
    (0x1302, 0x0304, False),  # TLS 1.3: OpenSSL, GnuTLS, tshark, real-peer pcaps
    (0x1303, 0x0304, False),  # TLS 1.3: OpenSSL, GnuTLS, tshark, real-peer pcaps
    (0x1304, 0x0304, False),  # TLS 1.3: OpenSSL, GnuTLS, real-peer pcaps
    (0x1305, 0x0304, False),  # TLS 1.3: OpenSSL
]


def _suite(code: int) -> CipherSuiteInfo:
    s = suite_info(code)
    assert s is not None
    return s


CASES = [(_suite(code), v, etm) for code, v, etm in INDEPENDENT]
IDS = [f"{s.name}-{v:04x}{'-etm' if e else ''}" for s, v, e in CASES]


def _pair(s: CipherSuiteInfo, v: int, etm: bool) -> tuple[RecordProtection, RecordProtection]:
    if s.is_tls13:
        secret = os.urandom(48 if s.prf_hash == "SHA384" else 32)
        return (
            RecordProtection.tls13(s, traffic_secret=secret),
            RecordProtection.tls13(s, traffic_secret=secret),
        )
    key, mac = os.urandom(s.key_len), os.urandom(s.mac_len)
    iv = os.urandom(key_block_iv_len(v, s))
    return tuple(  # type: ignore[return-value]
        RecordProtection.tls12(s, v, key=key, mac_key=mac, iv=iv, encrypt_then_mac=etm)
        for _ in range(2)
    )


@pytest.mark.parametrize("suite,version,etm", CASES, ids=IDS)
def test_round_trip_and_every_bit_flip(suite: CipherSuiteInfo, version: int, etm: bool) -> None:
    """Three records (0, 1, 50 bytes): round trip, then every single-bit flip of the next one."""
    sealer, opener = _pair(suite, version, etm)
    rec_version = 0x0303 if version == 0x0304 else version
    for n in (0, 1, 50):
        pt = os.urandom(n)
        ct, frag = sealer.encrypt(23, rec_version, pt, padding=16)
        assert opener.decrypt(ct, rec_version, frag) == (23, pt)
    ct, frag = sealer.encrypt(22, rec_version, b"flip me" * 3)
    seq = opener.seq
    if suite.cipher_type == "null" and not suite.mac_len:
        return  # TLS_NULL_WITH_NULL_NULL has nothing to check
    for bit in range(len(frag) * 8):
        bad = bytearray(frag)
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(IntegrityError):
            opener.decrypt(ct, rec_version, bytes(bad))
    # The header fields are authenticated too (MAC/AAD): another type or version fails.
    with pytest.raises(IntegrityError):
        opener.decrypt(21 if ct != 21 else 22, rec_version, frag)
    if version != 0x0300:  # SSL 3.0's MAC does not cover the version
        with pytest.raises(IntegrityError):
            opener.decrypt(ct, rec_version ^ 1, frag)
    assert opener.seq == seq
    # Truncations never yield plaintext either.
    for cut in range(0, len(frag)):
        with pytest.raises(IntegrityError):
            opener.decrypt(ct, rec_version, frag[:cut])
    assert opener.decrypt(ct, rec_version, frag) == (22, b"flip me" * 3)
    assert opener.seq == seq + 1


@pytest.mark.parametrize("fault", ["mac", "padding"])
def test_fault_injection_is_rejected(fault: str) -> None:
    for code, version in ((0x002F, 0x0301), (0x003C, 0x0303), (0x002F, 0x0300), (0xC02F, 0x0303)):
        s = suite_info(code)
        assert s is not None
        if fault == "padding" and s.cipher_type != "block":
            continue
        sealer, opener = _pair(s, version, False)
        ct, frag = sealer.encrypt(23, version, b"x" * 30, fault=fault)
        with pytest.raises(IntegrityError):
            opener.decrypt(ct, version, frag)


def test_tls13_padding_and_all_zero_inner_plaintext() -> None:
    s = suite_info(0x1301)
    assert s is not None
    sealer, opener = _pair(s, 0x0304, False)
    _ct, frag = sealer.encrypt(23, 0x0303, b"data\x00\x00", padding=300)
    assert opener.decrypt(23, 0x0303, frag) == (23, b"data\x00\x00")
    # RFC 8446 §5.4: an inner plaintext of only zeros has no content type -> error.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    seq = opener.seq
    nonce = (int.from_bytes(opener.iv, "big") ^ seq).to_bytes(12, "big")
    body = AESGCM(opener.key).encrypt(nonce, bytes(20), struct.pack("!BHH", 23, 0x0303, 36))
    with pytest.raises(IntegrityError):
        opener.decrypt(23, 0x0303, body)
    assert opener.seq == seq


def test_tls10_cbc_chain_survives_a_bad_record() -> None:
    """A forged record must not disturb the implicit IV chain (RFC 2246 §6.2.3.2)."""
    s = suite_info(0x002F)
    assert s is not None
    sealer, opener = _pair(s, 0x0301, False)
    _ct, good1 = sealer.encrypt(23, 0x0301, b"one")
    _ct, good2 = sealer.encrypt(23, 0x0301, b"two")
    assert opener.decrypt(23, 0x0301, good1) == (23, b"one")
    with pytest.raises(IntegrityError):
        opener.decrypt(23, 0x0301, os.urandom(48))
    assert opener.decrypt(23, 0x0301, good2) == (23, b"two")


def test_rc4_keystream_survives_a_bad_record() -> None:
    s = suite_info(0x0005)
    assert s is not None
    sealer, opener = _pair(s, 0x0303, False)
    frags = [sealer.encrypt(23, 0x0303, bytes([i]) * 40)[1] for i in range(3)]
    assert opener.decrypt(23, 0x0303, frags[0])[1] == bytes(40)
    with pytest.raises(IntegrityError):
        opener.decrypt(23, 0x0303, frags[2])  # wrong keystream position -> MAC fails
    assert opener.decrypt(23, 0x0303, frags[1])[1] == b"\x01" * 40
    assert opener.decrypt(23, 0x0303, frags[2])[1] == b"\x02" * 40


# ---------------------------------------------------------------- independent constructions
def _scapy_sslv3_mac(mac_name: str, key: bytes, tbd: bytes) -> bytes:
    from scapy.layers.tls.crypto.h_mac import Hmac_MD5, Hmac_SHA

    return (Hmac_SHA if mac_name == "SHA1" else Hmac_MD5)(key).digest_sslv3(tbd)


@pytest.mark.parametrize("code", [0x002F, 0x0035, 0x000A, 0x0009, 0x0005, 0x0004, 0x0002])
def test_ssl3_records_built_from_rfc6101_with_scapy_mac(code: int) -> None:
    """SSL 3.0 (RFC 6101 §5.2.3): MAC = Scapy's digest_sslv3 over seq+type+length+content;
    CBC padding of arbitrary bytes + length byte < block size; IV chained between records."""
    s = suite_info(code)
    assert s is not None
    key, mac_key = os.urandom(s.key_len), os.urandom(s.mac_len)
    iv = os.urandom(s.block_size) if s.cipher_type == "block" else b""
    opener = RecordProtection.tls12(s, 0x0300, key=key, mac_key=mac_key, iv=iv)
    if s.cipher_type == "stream":
        enc = Cipher(ARC4(key), None).encryptor()
    chain = iv
    for seq, content in enumerate((b"hello", b"", os.urandom(100))):
        tbd = struct.pack("!QBH", seq, 23, len(content)) + content
        mac = _scapy_sslv3_mac(s.mac or "", mac_key, tbd)
        if s.cipher_type == "block":
            bs = s.block_size
            pad = (bs - (len(content) + len(mac) + 1) % bs) % bs
            block = content + mac + os.urandom(pad) + bytes([pad])
            alg = (
                algorithms.AES(key)
                if s.cipher.startswith("AES")
                else TripleDES(key if len(key) == 24 else key * 3)
            )
            e = Cipher(alg, modes.CBC(chain)).encryptor()
            frag = e.update(block) + e.finalize()
            chain = frag[-bs:]
        elif s.cipher_type == "stream":
            frag = enc.update(content + mac)
        else:
            frag = content + mac
        assert opener.decrypt(23, 0x0300, frag) == (23, content)


@pytest.mark.parametrize("code,version", [(0x000A, 0x0303), (0x000A, 0x0301), (0x0005, 0x0303)])
def test_3des_rc4_records_built_from_rfc5246(code: int, version: int) -> None:
    """RFC 5246 §6.2.3.1/§6.2.3.2 construction done here with stdlib HMAC and pyca ciphers."""
    s = suite_info(code)
    assert s is not None
    key, mac_key = os.urandom(s.key_len), os.urandom(20)
    iv = os.urandom(8) if version == 0x0301 and s.cipher_type == "block" else b""
    opener = RecordProtection.tls12(s, version, key=key, mac_key=mac_key, iv=iv)
    rc4 = Cipher(ARC4(key), None).encryptor()
    chain = iv
    for seq, content in enumerate((b"abc", os.urandom(77))):
        mac = hmac.digest(
            mac_key, struct.pack("!QBHH", seq, 23, version, len(content)) + content, "sha1"
        )
        if s.cipher_type == "stream":
            frag = rc4.update(content + mac)
        else:
            pad = (8 - (len(content) + 21) % 8) % 8 + 8  # one extra block of padding
            block = content + mac + bytes([pad]) * (pad + 1)
            this_iv = chain if version == 0x0301 else os.urandom(8)
            e = Cipher(TripleDES(key), modes.CBC(this_iv)).encryptor()
            body = e.update(block) + e.finalize()
            frag = body if version == 0x0301 else this_iv + body
            chain = body[-8:]
        assert opener.decrypt(23, version, frag) == (23, content)


# ---------------------------------------------------------------- property tests
_PROPERTY_SUITES = [0x1301, 0x1303, 0x1305, 0xC02F, 0xCCA8, 0xC0A0, 0x002F, 0x000A, 0x0005, 0x0002]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=st.sampled_from(INDEPENDENT),
    data=st.lists(st.binary(max_size=600), min_size=1, max_size=4),
    ctype=st.sampled_from([21, 22, 23]),
    padding=st.integers(0, 300),
)
def test_property_round_trip(
    case: tuple[int, int, bool], data: list[bytes], ctype: int, padding: int
) -> None:
    code, version, etm = case
    sealer, opener = _pair(_suite(code), version, etm)
    rv = 0x0303 if version == 0x0304 else version
    for pt in data:
        ct, frag = sealer.encrypt(ctype, rv, pt, padding=padding)
        assert opener.decrypt(ct, rv, frag) == (ctype, pt)


@settings(max_examples=150, deadline=None)
@given(
    code=st.sampled_from(_PROPERTY_SUITES),
    version=st.sampled_from([0x0300, 0x0301, 0x0302, 0x0303]),
    etm=st.booleans(),
    fragment=st.binary(max_size=300),
)
def test_property_garbage_only_raises_integrity_error(
    code: int, version: int, etm: bool, fragment: bytes
) -> None:
    s = suite_info(code)
    assert s is not None
    if s.is_tls13:
        version = 0x0304
    elif s.cipher_type == "aead":
        version = 0x0303
    _sealer, opener = _pair(s, version, etm and version > 0x0300)
    with pytest.raises(IntegrityError):
        opener.decrypt(23, 0x0303, fragment)
    assert opener.seq == 0


def test_misuse_raises_usage_error() -> None:
    gcm, cbc, t13 = suite_info(0xC02F), suite_info(0x002F), suite_info(0x1301)
    assert gcm and cbc and t13
    with pytest.raises(UsageError):
        RecordProtection.tls12(gcm, 0x0301, key=bytes(16), mac_key=b"", iv=bytes(4))
    with pytest.raises(UsageError):
        RecordProtection.tls12(gcm, 0x0303, key=bytes(15), mac_key=b"", iv=bytes(4))
    with pytest.raises(UsageError):
        RecordProtection.tls12(cbc, 0x0303, key=bytes(16), mac_key=bytes(19), iv=b"")
    with pytest.raises(UsageError):
        RecordProtection.tls12(t13, 0x0303, key=bytes(16), mac_key=b"", iv=bytes(12))
    with pytest.raises(UsageError):
        RecordProtection.tls13(gcm, traffic_secret=bytes(32))
    with pytest.raises(UsageError):
        RecordProtection.tls12(gcm, 0x0303, key=bytes(16), mac_key=b"", iv=bytes(4)).key_update()


def test_suite_table() -> None:
    assert suite_name(0x1301) == "TLS_AES_128_GCM_SHA256"
    assert suite_name(0xC02F) == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert suite_name(0xC0A0) == "TLS_RSA_WITH_AES_128_CCM_8"
    assert suite_name(0x00FF) == "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"
    assert suite_name(0x3A3A) == "GREASE"
    assert suite_name(0xFEFE) == "0xFEFE"
    assert suite_info(0x00FF) is None
    s = suite_info(0xC030)
    assert s and (s.prf_hash, s.key_len, s.fixed_iv_len, s.record_iv_len) == ("SHA384", 32, 4, 8)
    s = suite_info(0x0035)
    assert s and (s.mac, s.mac_len, s.block_size, s.prf_hash) == ("SHA1", 20, 16, "SHA256")


def test_tls_crypto_modules_do_not_import_scapy() -> None:
    """crypto/ and keys/ never import Scapy (architecture rule; keeps `netsec --help` fast)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import netsec_layers.crypto.tls_suites, netsec_layers.crypto.tls_prf\n"
        "import netsec_layers.crypto.tls13, netsec_layers.crypto.tls_record\n"
        "import netsec_layers.crypto.tls_rsa, netsec_layers.keys.keylog\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'scapy'], 'scapy imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "code,version",
    [
        (0x1301, 0x0304),
        (0xC02F, 0x0303),
        (0x002F, 0x0301),
        (0x002F, 0x0303),
        (0x0005, 0x0303),
        (0x0002, 0x0300),
    ],
)
def test_buffer_types_accepted(code: int, version: int) -> None:
    """Callers slice captures with memoryview/bytearray: same result as bytes."""
    s = suite_info(code)
    assert s is not None
    sealer, opener = _pair(s, version, False)
    rv = 0x0303 if version == 0x0304 else version
    for wrap in (bytes, bytearray, memoryview):
        ct, frag = sealer.encrypt(23, rv, b"buffer types")
        assert opener.decrypt(ct, rv, wrap(frag)) == (23, b"buffer types")
