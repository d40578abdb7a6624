"""Issue #14: what cannot be decrypted stays in every output exactly as captured.

Real peers' traffic (OpenSSL, GnuTLS and Python TLS samples; ESP made by the Linux kernel and by
strongSwan) with *wrong* keys: the records/packets are reported as typed failures, never as
decrypted, and ``netsec decrypt -w`` keeps their frames byte for byte; tshark's reassembly of the
output shows the original ciphertext where decryption failed and the peers' plaintext elsewhere.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from netsec_layers.io.pcap import open_capture
from netsec_layers.keys.sa_files import load_sa_file
from netsec_layers.session.engine import CaptureEngine, IPsecInfo, iter_capture
from netsec_layers.session.ipsec import SADatabase
from netsec_layers.session.verdicts import IPsecFailure
from tests.tshark_util import load_sidecar, sidecar_bytes, tshark_follow_tcp

PCAPS = Path(__file__).resolve().parents[2] / "pcaps"
TLS = PCAPS / "tls"

# one sample per record-protection family, from three TLS implementations
TLS_FAMILIES = [
    "tls12-ecdhe-rsa-aes128gcm",  # TLS 1.2 AEAD (OpenSSL)
    "tls12-ecdhe-rsa-chacha20",  # TLS 1.2 ChaCha20-Poly1305
    "tls12-ecdhe-rsa-aes128-sha-noetm",  # CBC, MAC-then-encrypt
    "tls12-ecdhe-rsa-aes128-sha-etm",  # CBC, encrypt-then-MAC (RFC 7366)
    "tls10-aes128-sha",  # TLS 1.0 CBC, chained IV
    "tls13-aes128gcm",
    "tls13-aes128ccm",
    "tls13-chacha20",
    "gnutls-tls13",
    "python-openssl-tls12",
]


def _netsec(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netsec_layers", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _alter_keylog(src: Path, dst: Path) -> None:
    """Every secret with its last hex digit changed (the client randoms kept)."""
    out = []
    for line in src.read_text().splitlines():
        parts = line.split(" ")
        if len(parts) == 3 and not line.startswith("#"):
            s = parts[2]
            parts[2] = s[:-1] + ("0" if s[-1] != "0" else "1")
        out.append(" ".join(parts))
    dst.write_text("\n".join(out) + "\n")


def _frames(path: Path) -> list[bytes]:
    with open_capture(str(path)) as reader:
        return [f.data for f in reader]


@pytest.mark.integration
@pytest.mark.parametrize("name", TLS_FAMILIES)
def test_wrong_tls_keys_keep_the_connection_as_captured(name: str, tmp_path: Path) -> None:
    keys = tmp_path / "wrong.keys"
    _alter_keylog(TLS / f"{name}.keys", keys)
    pcap = TLS / f"{name}.pcap"
    dis = _netsec("dissect", str(pcap), "--json", "-q", "--keylog", str(keys))
    assert dis.returncode == 0, dis.stderr
    recs = [json.loads(line) for line in dis.stdout.splitlines()]
    assert not any(r["decrypted"] for r in recs)
    assert any((r["error"] or "").startswith("decryption failed") for r in recs)
    out = tmp_path / "out.pcap"
    res = _netsec("decrypt", str(pcap), "-w", str(out), "--keylog", str(keys), "--jobs", "1")
    assert out.exists(), res.stderr
    assert _frames(out) == _frames(pcap)  # every frame kept, byte for byte
    assert "0 connections decrypted" in res.stderr
    assert "1 connection kept as captured" in res.stderr


@pytest.mark.integration
def test_right_and_wrong_keys_in_one_capture_tshark_follows_both(tmp_path: Path) -> None:
    """One connection with its right keys, one with wrong keys: tshark's TCP reassembly of the
    output shows the first peer's plaintext and the second connection's original bytes."""
    good, bad = "tls13-aes128gcm", "tls12-ecdhe-rsa-aes128gcm"
    merged = tmp_path / "merged.pcap"
    subprocess.run(
        ["mergecap", "-F", "pcap", "-w", str(merged), str(TLS / f"{good}.pcap"),
         str(TLS / f"{bad}.pcap")],
        check=True,
    )  # fmt: skip
    wrong = tmp_path / "wrong.keys"
    _alter_keylog(TLS / f"{bad}.keys", wrong)
    keys = tmp_path / "all.keys"
    keys.write_text((TLS / f"{good}.keys").read_text() + wrong.read_text())
    out = tmp_path / "out.pcap"
    res = _netsec("decrypt", str(merged), "-w", str(out), "--keylog", str(keys), "--jobs", "1")
    assert out.exists(), res.stderr
    assert "1 connection decrypted" in res.stderr and "1 connection kept as captured" in res.stderr
    conn = load_sidecar(TLS / f"{good}.json")["connections"][0]
    plaintext = (sidecar_bytes(conn, "c2s"), sidecar_bytes(conn, "s2c"))
    # the bad connection as tshark reassembles it from its own capture
    original = tshark_follow_tcp(TLS / f"{bad}.pcap", 0, server_ports=[443])
    assert original[0] and original[1]
    got = {tshark_follow_tcp(out, i, server_ports=[443]) for i in (0, 1)}
    assert got == {plaintext, original}


# -- ESP: right integrity key, wrong encryption key ----------------------------------------------


def _flip_enc_key_xfrm(text: str) -> str:
    """The first key byte's top bit flipped (not a DES parity bit, not the salt)."""

    def flip(m: re.Match[str]) -> str:
        key = bytearray.fromhex(m.group(2))
        key[0] ^= 0x80
        return f"enc {m.group(1)} 0x{key.hex()}"

    return re.sub(r"enc (\S+) 0x([0-9a-fA-F]+)", flip, text)


XFRM_SEPARATE_INTEGRITY = [
    "esp4_tunnel_cbc_sha256",
    "esp4_3des_md5",
    "esp4_cbc_cmac",
    "esp4_ctr_sha512",
    "esp6_cbc_xcbc",
    "esp6_transport_cbc256_sha1",
    "esp4_esn_wrap_cbc_sha256",
]


def _esp_units(pcap: Path, db: SADatabase) -> list[IPsecInfo]:
    engine = CaptureEngine(sadb=db)
    return [
        u
        for res in iter_capture(str(pcap), engine)
        for u in res.units
        if isinstance(u, IPsecInfo) and u.proto == "esp"
    ]


@pytest.mark.parametrize("name", XFRM_SEPARATE_INTEGRITY)
def test_kernel_esp_with_wrong_encryption_key_is_implausible(name: str, tmp_path: Path) -> None:
    state = tmp_path / f"{name}.xfrm_state"
    state.write_text(_flip_enc_key_xfrm((PCAPS / "xfrm" / f"{name}.xfrm_state").read_text()))
    pcap = PCAPS / "xfrm" / f"{name}.pcap"
    units = _esp_units(pcap, SADatabase(load_sa_file(str(state))))
    assert units
    for u in units:
        assert not u.decrypted and u.inner is None
        assert u.failure is IPsecFailure.IMPLAUSIBLE, u.error
        assert (u.error or "").startswith("ICV ok, plaintext implausible: wrong encryption key?")
    # the right keys still decrypt every packet (the check does not reject real traffic)
    right = SADatabase(load_sa_file(str(PCAPS / "xfrm" / f"{name}.xfrm_state")))
    assert all(u.decrypted and u.error is None for u in _esp_units(pcap, right))
    out = tmp_path / "out.pcap"
    res = _netsec("decrypt", str(pcap), "-w", str(out), "--esp-sa", str(state), "--jobs", "1")
    assert out.exists(), res.stderr
    assert _frames(out) == _frames(pcap)


def test_strongswan_cbc_with_wrong_encryption_key_is_implausible(tmp_path: Path) -> None:
    src = PCAPS / "strongswan" / "strongswan_natt.esp_sa"
    lines = []
    for line in src.read_text().splitlines():
        if "AES-CBC" in line:
            cols = line.split(",")
            key = bytearray.fromhex(cols[5].strip('"')[2:])
            key[0] ^= 0x80
            cols[5] = f'"0x{key.hex()}"'
            line = ",".join(cols)
        lines.append(line)
    sa_file = tmp_path / "wrong.esp_sa"
    sa_file.write_text("\n".join(lines) + "\n")
    units = _esp_units(
        PCAPS / "strongswan" / "strongswan_natt.pcap", SADatabase(load_sa_file(str(sa_file)))
    )
    cbc = [u for u in units if u.spi in (0x28A14317, 0x27A2B108)]
    gcm = [u for u in units if u not in cbc]
    assert cbc and gcm
    assert all(u.failure is IPsecFailure.IMPLAUSIBLE and not u.decrypted for u in cbc)
    assert all(u.decrypted for u in gcm)


@pytest.mark.parametrize("name", ["esp4_tunnel_cbc_sha256", "esp4_transport_gcm"])
def test_wrong_esp_keys_keep_packets_in_the_plaintext_capture(name: str, tmp_path: Path) -> None:
    """A wrong AEAD key fails the ICV; either way the packet stays as captured."""
    text = (PCAPS / "xfrm" / f"{name}.xfrm_state").read_text()
    text = re.sub(
        r"(aead \S+ 0x)([0-9a-f]{2})",
        lambda m: m.group(1) + f"{int(m.group(2), 16) ^ 0x80:02x}",
        text,
    )
    state = tmp_path / "wrong.xfrm_state"
    state.write_text(_flip_enc_key_xfrm(text))
    pcap = PCAPS / "xfrm" / f"{name}.pcap"
    out = tmp_path / "out.pcap"
    res = _netsec("decrypt", str(pcap), "-w", str(out), "--esp-sa", str(state), "--jobs", "1")
    assert out.exists(), res.stderr
    assert _frames(out) == _frames(pcap)
    assert "ESP: 0 decrypted" in res.stderr
