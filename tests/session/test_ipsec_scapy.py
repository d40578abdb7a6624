"""Interoperability with Scapy's own ``scapy.layers.ipsec.SecurityAssociation`` (an implementation
we did not write): ours encrypts → Scapy decrypts, Scapy encrypts → ours decrypts, for every
algorithm both support, with and without ESN, tunnel and transport, IPv4 and IPv6, NAT-T."""

from __future__ import annotations

import os
import warnings

import pytest

from netsec_layers.keys.sa import SecurityAssociation
from netsec_layers.session.ipsec import SADatabase

scapy_all = pytest.importorskip("scapy.all")
ipsec = pytest.importorskip("scapy.layers.ipsec")
IP, IPv6, UDP, Raw = scapy_all.IP, scapy_all.IPv6, scapy_all.UDP, scapy_all.Raw

# (ours encryption, key bytes incl. salt, ours integrity, auth key bytes, scapy crypt, scapy
#  icv size, scapy auth)
ALGOS = [
    ("AES-CBC", 16, "HMAC-SHA2-256-128", 32, "AES-CBC", None, "SHA2-256-128"),
    ("AES-CBC", 32, "HMAC-SHA1-96", 20, "AES-CBC", None, "HMAC-SHA1-96"),
    ("AES-CBC", 24, "HMAC-SHA2-384-192", 48, "AES-CBC", None, "SHA2-384-192"),
    ("AES-CTR", 20, "HMAC-SHA2-512-256", 64, "AES-CTR", None, "SHA2-512-256"),
    ("AES-CTR", 36, "AES-CMAC-96", 16, "AES-CTR", None, "AES-CMAC-96"),
    ("3DES-CBC", 24, "HMAC-MD5-96", 16, "3DES", None, "HMAC-MD5-96"),
    ("DES-CBC", 8, "HMAC-SHA1-96", 20, "DES", None, "HMAC-SHA1-96"),
    ("NULL", 0, "HMAC-SHA2-256-128", 32, "NULL", None, "SHA2-256-128"),
    ("AES-GCM-16", 20, "NONE", 0, "AES-GCM", None, None),
    ("AES-CCM-16", 19, "NONE", 0, "AES-CCM", None, None),
    ("AES-CCM-12", 27, "NONE", 0, "AES-CCM", 12, None),
    ("AES-CCM-8", 35, "NONE", 0, "AES-CCM", 8, None),
    ("CHACHA20-POLY1305", 36, "NONE", 0, "CHACHA20-POLY1305", None, None),
    ("AES-GMAC", 20, "NONE", 0, "AES-NULL-GMAC", None, None),
]
# AES-GCM with 8/12-byte ICVs is not here: Scapy 2.8 passes the short tag to pyca's AESGCM,
# which only takes 16-byte tags, so Scapy cannot decrypt them (tshark covers them instead).
MODES = ["tunnel4", "tunnel6", "transport4", "transport6", "natt4"]
ESN_HIGH = 0x00C0FFEE


def _ids(a: tuple[object, ...]) -> str:
    return f"{a[0]}-{a[1]}-{a[2]}"


def _inner(mode: str, size: int) -> object:
    data = Raw(os.urandom(size))
    if mode.endswith("6"):
        return IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=1234, dport=53) / data
    return IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1234, dport=53) / data


def _pair(algo: tuple, mode: str, esn: bool) -> tuple[SecurityAssociation, object]:
    enc, klen, integ, alen, s_enc, s_icv, s_auth = algo
    key, akey = os.urandom(klen), os.urandom(alen)
    tunnel = mode.startswith(("tunnel", "natt"))
    ours = SecurityAssociation(
        spi=0x1000 + klen,
        encryption=enc,
        enc_key=key,
        integrity=integ,
        auth_key=akey,
        mode="tunnel" if tunnel else "transport",
        esn=esn,
        esn_high=ESN_HIGH if esn else 0,
        udp_encap=(4500, 4500) if mode == "natt4" else None,
    )
    kw: dict[str, object] = {}
    if tunnel:
        kw["tunnel_header"] = (
            IPv6(src="2001:db8:f::1", dst="2001:db8:f::2")
            if mode.endswith("6")
            else IP(src="192.0.2.1", dst="192.0.2.2")
        )
    if mode == "natt4":
        kw["nat_t_header"] = UDP(sport=4500, dport=4500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = ipsec.SecurityAssociation(
            ipsec.ESP,
            spi=ours.spi,
            crypt_algo=s_enc,
            crypt_key=key or None,
            crypt_icv_size=s_icv,
            auth_algo=s_auth,
            auth_key=akey or None,
            esn_en=esn,
            esn=ESN_HIGH if esn else 0,
            **kw,
        )
    return ours, theirs


def _outer(mode: str, esp: bytes) -> object:
    if mode == "natt4":
        return IP(
            bytes(
                IP(src="192.0.2.1", dst="192.0.2.2")
                / UDP(sport=4500, dport=4500, chksum=0)
                / Raw(esp)
            )
        )
    if mode == "tunnel6":
        return IPv6(bytes(IPv6(src="2001:db8:f::1", dst="2001:db8:f::2", nh=50) / Raw(esp)))
    if mode == "tunnel4":
        return IP(bytes(IP(src="192.0.2.1", dst="192.0.2.2", proto=50) / Raw(esp)))
    if mode == "transport6":
        return IPv6(bytes(IPv6(src="2001:db8::1", dst="2001:db8::2", nh=50) / Raw(esp)))
    return IP(bytes(IP(src="10.0.0.1", dst="10.0.0.2", proto=50) / Raw(esp)))


@pytest.mark.parametrize("esn", [False, True], ids=["seq32", "esn"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("algo", ALGOS, ids=_ids)
def test_ours_encrypt_scapy_decrypts(algo: tuple, mode: str, esn: bool) -> None:
    ours, theirs = _pair(algo, mode, esn)
    db = SADatabase()
    for n, size in enumerate((1, 333)):
        inner = _inner(mode, size)
        raw_inner = bytes(inner)
        if ours.mode == "tunnel":
            esp = db.encrypt(raw_inner, sa=ours, next_header=41 if mode.endswith("6") else 4)
            got = theirs.decrypt(_outer(mode, esp))
            assert bytes(got) == raw_inner
        else:
            esp = db.encrypt(bytes(inner[UDP]), sa=ours, next_header=17)
            got = theirs.decrypt(_outer(mode, esp))
            assert bytes(got[UDP]) == bytes(inner[UDP])
        assert int.from_bytes(esp[4:8], "big") == n + 1


@pytest.mark.parametrize("esn", [False, True], ids=["seq32", "esn"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("algo", ALGOS, ids=_ids)
def test_scapy_encrypts_ours_decrypts(algo: tuple, mode: str, esn: bool) -> None:
    ours, theirs = _pair(algo, mode, esn)
    db = SADatabase([ours])
    for seq, size in ((1, 1), (7, 333)):
        inner = _inner(mode, size)
        enc = theirs.encrypt(inner, seq_num=seq)
        esp = bytes(enc[ipsec.ESP]) if enc.haslayer(ipsec.ESP) else bytes(enc[UDP].payload)
        src = enc.src
        dst = enc.dst
        opened = db.decrypt(esp, src=src, dst=dst)
        assert opened.wire_seq == seq
        assert opened.seq == ((ESN_HIGH << 32) | seq if esn else seq)
        assert opened.replay == "new"
        assert opened.pad_ok
        if ours.mode == "tunnel":
            assert opened.payload == bytes(inner)
            assert opened.next_header == (41 if mode.endswith("6") else 4)
        else:
            assert opened.payload == bytes(inner[UDP])
            assert opened.next_header == 17
