"""SSH crypto against independent implementations: asyncssh's packet encryption (every cipher
and MAC, both directions: asyncssh seals and we open, we seal and asyncssh opens), asyncssh's
key derivation, paramiko's and asyncssh's MODP prime tables, and the RFC 4251 mpint examples."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from asyncssh.encryption import get_encryption
from asyncssh.kex import Kex

from netsec_layers.crypto.ssh_cipher import CIPHERS, MACS, SSHPacketCipher, cipher_spec, mac_spec
from netsec_layers.crypto.ssh_kex import derive_key, encode_k, modp_group, ssh_mpint
from netsec_layers.errors import IntegrityError, ParseError, UnsupportedAlgorithmError

VECTORS = json.loads((Path(__file__).parents[1] / "vectors/ssh/kdf_and_groups.json").read_text())

AEAD = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com")
BLOCK = ("aes128-ctr", "aes192-ctr", "aes256-ctr", "aes128-cbc", "aes192-cbc", "aes256-cbc",
         "3des-cbc")  # fmt: skip
MAC_NAMES = ("hmac-sha1", "hmac-sha1-96", "hmac-sha2-256", "hmac-sha2-512", "hmac-md5",
             "hmac-md5-96", "umac-64@openssh.com", "umac-128@openssh.com")  # fmt: skip
CASES = [(c, None) for c in AEAD] + [
    (c, name)
    for c in BLOCK
    for m in MAC_NAMES
    for name in (m, m.removesuffix("@openssh.com") + "-etm@openssh.com")
]


def _packets(block: int, aad: bool, count: int = 6) -> list[bytes]:
    """Plain packets as asyncssh frames them (length, padding length, payload, padding)."""
    out = []
    for i in range(count):
        payload = bytes([94]) + os.urandom(7 * i + 1)
        hdrlen = 0 if aad else 4
        padlen = -(hdrlen + 1 + len(payload)) % block
        padlen += block if padlen < 4 else 0
        body = bytes([padlen]) + payload + os.urandom(padlen)
        out.append(len(body).to_bytes(4, "big") + body)
    return out


def _keys(cipher: str, mac: str | None) -> dict[str, bytes]:
    spec = cipher_spec(cipher)
    mkey = os.urandom(mac_spec(mac).key_len) if mac else b""
    return {"enc_key": os.urandom(spec.key_len), "iv": os.urandom(spec.iv_len), "mac_key": mkey}


def _theirs(cipher: str, mac: str | None, k: dict[str, bytes]) -> Any:
    mac_b = mac.encode() if mac else b""
    etm = bool(mac and mac.endswith("-etm@openssh.com"))
    return get_encryption(cipher.encode(), k["enc_key"], k["iv"], mac_b, k["mac_key"], etm)


@pytest.mark.parametrize(("cipher", "mac"), CASES, ids=lambda x: str(x))
def test_asyncssh_seals_we_open(cipher: str, mac: str | None) -> None:
    k = _keys(cipher, mac)
    theirs = _theirs(cipher, mac, k)
    ours = SSHPacketCipher(cipher=cipher, mac=mac, **k)
    aad = cipher in AEAD or bool(mac and "etm" in mac)
    stream = b""
    plains = _packets(cipher_spec(cipher).block_size, aad)
    for seq, plain in enumerate(plains, start=1000):
        a, b = theirs.encrypt_packet(seq, plain[:4], plain[4:])
        stream += a + b
    pos = 0
    for seq, plain in enumerate(plains, start=1000):
        size = ours.packet_size(stream[pos : pos + ours.header_size], seq)
        assert ours.open(stream[pos : pos + size], seq) == plain
        pos += size
    assert pos == len(stream)


@pytest.mark.parametrize(("cipher", "mac"), CASES, ids=lambda x: str(x))
def test_we_seal_asyncssh_opens(cipher: str, mac: str | None) -> None:
    k = _keys(cipher, mac)
    theirs = _theirs(cipher, mac, k)
    ours = SSHPacketCipher(cipher=cipher, mac=mac, **k)
    aad = cipher in AEAD or bool(mac and "etm" in mac)
    block = cipher_spec(cipher).block_size
    for seq, plain in enumerate(_packets(block, aad), start=7):
        wire = ours.seal(plain, seq)
        tag_len = ours.mac_len
        first_len = 4 if aad else block
        first, hdr = theirs.decrypt_header(seq, wire[:first_len], 4)
        assert int.from_bytes(hdr, "big") == len(plain) - 4
        got = theirs.decrypt_packet(seq, first, wire[first_len:-tag_len], 4, wire[-tag_len:])
        assert got == plain[4:]


@pytest.mark.parametrize(
    ("cipher", "mac"),
    [(c, None) for c in AEAD]
    + [("aes128-ctr", "hmac-sha2-256"), ("aes128-cbc", "hmac-sha1-etm@openssh.com")],
)
def test_tampering_is_an_integrity_error_and_keeps_the_state(cipher: str, mac: str | None) -> None:
    k = _keys(cipher, mac)
    sender = SSHPacketCipher(cipher=cipher, mac=mac, **k)
    receiver = SSHPacketCipher(cipher=cipher, mac=mac, **k)
    aad = cipher in AEAD or bool(mac and "etm" in mac)
    p1, p2 = _packets(cipher_spec(cipher).block_size, aad, 2)
    w1, w2 = sender.seal(p1, 0), sender.seal(p2, 1)
    bad = bytearray(w1)
    bad[-1] ^= 1
    with pytest.raises(IntegrityError):
        receiver.open(bytes(bad), 0)
    if "gcm" not in cipher:  # AES-GCM's nonce counts packets itself (RFC 5647 §7.1)
        # the wrong sequence number: the MAC fails (ChaCha20: the length already decrypts wrong)
        with pytest.raises((IntegrityError, ParseError)):
            receiver.open(w1, 1)
    assert receiver.open(w1, 0) == p1  # nothing moved on the failures
    assert receiver.open(w2, 1) == p2


def test_hostile_lengths_are_parse_errors() -> None:
    c = SSHPacketCipher(cipher="aes128-gcm@openssh.com", mac=None, enc_key=bytes(16), iv=bytes(12))
    for length in (0, 3, 0xFFFFFFFF, 256 * 1024 + 16, 17):
        with pytest.raises(ParseError):
            c.packet_size(length.to_bytes(4, "big"), 0)
    with pytest.raises(ParseError):
        c.open(b"\x00\x00\x00\x10" + bytes(10), 0)  # shorter than its length says


def test_unknown_algorithms_and_bad_key_sizes() -> None:
    with pytest.raises(UnsupportedAlgorithmError):
        cipher_spec("rc4")
    with pytest.raises(UnsupportedAlgorithmError):
        mac_spec("hmac-ripemd160")
    with pytest.raises(UnsupportedAlgorithmError):
        SSHPacketCipher(cipher="aes128-ctr", mac="hmac-sha1", enc_key=bytes(15), iv=bytes(16))
    assert set(CIPHERS) >= set(AEAD + BLOCK) and len(MACS) == 16


@pytest.mark.parametrize("hash_name", ["sha1", "sha256", "sha512"])
@pytest.mark.parametrize("size", [12, 32, 64, 200])
def test_key_derivation_equals_asyncssh(hash_name: str, size: int) -> None:
    kex = {"sha1": "diffie-hellman-group14-sha1", "sha256": "curve25519-sha256",
           "sha512": "diffie-hellman-group16-sha512"}[hash_name]  # fmt: skip
    k = int.from_bytes(os.urandom(32), "big") | (1 << 255)  # top bit set: mpint gets a 0x00
    h, sid = os.urandom(32), os.urandom(32)
    stub = SimpleNamespace(_hash_alg=getattr(hashlib, hash_name))
    for letter in "ABCDEF":
        theirs = Kex.compute_key(stub, ssh_mpint(k), h, letter.encode(), sid, size)  # type: ignore[arg-type]
        ours = derive_key(kex=kex, k=k, h=h, session_id=sid, letter=letter, size=size)
        assert ours == theirs


def test_hybrid_k_is_a_string() -> None:
    raw = b"\x80" + bytes(31)
    assert encode_k("mlkem768x25519-sha256", raw) == b"\x00\x00\x00\x20" + raw
    assert encode_k("curve25519-sha256", raw) == b"\x00\x00\x00\x21\x00" + raw


def test_mpint_examples() -> None:
    for value_hex, enc in VECTORS["mpint"]:
        value = int(value_hex, 16)
        if value >= 0:
            assert ssh_mpint(value) == len(bytes.fromhex(enc)).to_bytes(4, "big") + bytes.fromhex(
                enc
            )


def test_modp_groups_equal_paramiko_and_asyncssh() -> None:
    import asyncssh.kex_dh as adh
    from paramiko.kex_group14 import KexGroup14SHA256  # type: ignore[import-untyped]
    from paramiko.kex_group16 import KexGroup16SHA512  # type: ignore[import-untyped]

    theirs = {
        "diffie-hellman-group1-sha1": adh._group1_p,
        "diffie-hellman-group14-sha1": KexGroup14SHA256.P,
        "diffie-hellman-group14-sha256": adh._group14_p,
        "diffie-hellman-group16-sha512": KexGroup16SHA512.P,
        "diffie-hellman-group18-sha512": adh._group18_p,
    }
    for name, bits in VECTORS["groups"].items():
        p, g = modp_group(name)
        assert p == theirs[name] and g == 2 and p.bit_length() == bits


def test_umac_rfc4418_vector_and_nettle() -> None:
    """RFC 4418 Appendix test vector (K "abcdefghijklmnop", nonce "bcdefghi", empty message:
    UMAC-64 6E155FAD26900BE1), then Nettle's UMAC-32/64/96/128 (via asyncssh) on random keys,
    nonces and lengths around the 1024-byte L1 block and past the 2^17-bit L2 switch."""
    from asyncssh.crypto.umac import umac32, umac64, umac96, umac128

    from netsec_layers.crypto.ssh_umac import umac

    assert umac(b"abcdefghijklmnop", b"", b"bcdefghi", 8).hex() == "6e155fad26900be1"
    refs: dict[int, Any] = {4: umac32, 8: umac64, 12: umac96, 16: umac128}
    for n in (*range(0, 40), 1023, 1024, 1025, 4096, 16 * 1024 * 1024 + 1032):
        key, nonce, msg = os.urandom(16), os.urandom(8), os.urandom(n)
        for tag_len, ref in refs.items():
            if n > 100000 and tag_len != 8:
                continue  # one long message is enough for the POLY-128 branch
            assert umac(key, msg, nonce, tag_len) == ref(key, msg, nonce).digest(), (n, tag_len)


@pytest.mark.parametrize(
    ("cipher", "mac"),
    [(c, None) for c in AEAD]
    + [("aes128-ctr", "hmac-sha2-256"), ("aes256-cbc", "umac-64-etm@openssh.com")],
)
def test_crafted_packets_and_broken_ones_as_asyncssh_sees_them(
    cipher: str, mac: str | None
) -> None:
    from netsec_layers.crypto.ssh_cipher import craft_packet

    k = _keys(cipher, mac)
    theirs = _theirs(cipher, mac, k)
    ours = SSHPacketCipher(cipher=cipher, mac=mac, **k)
    aad = cipher in AEAD or bool(mac and "etm" in mac)
    first_len = 4 if aad else cipher_spec(cipher).block_size
    payload = b"\x5e" + os.urandom(50)
    for seq, broken in enumerate((False, False, True)):
        wire = craft_packet(payload, ours, seq, break_mac=broken)
        first, _hdr = theirs.decrypt_header(seq, wire[:first_len], 4)
        tag = wire[-ours.mac_len :]
        got = theirs.decrypt_packet(seq, first, wire[first_len : -ours.mac_len], 4, tag)
        if broken:
            assert got is None  # asyncssh rejects the flipped MAC/tag
        else:
            assert got is not None and got[1 : 1 + len(payload)] == payload
