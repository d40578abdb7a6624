"""`from scapy.all import *; from netsec_layers import *` keeps Scapy's names Scapy's: Scapy's own
SecurityAssociation encrypts and decrypts exactly as it does without netsec (compared byte for
byte with a pure-Scapy interpreter), also on packets dissected by netsec's bound layers."""

from __future__ import annotations

import importlib

import scapy.all as scapy_all

import netsec_layers
from netsec_layers.layers import all as layers_all

from ._run import run_python

# Scapy's SecurityAssociation on IPv4: transport mode, tunnel mode, NAT-T, three algorithms.
# The IV is given so both interpreters produce the same bytes; each result is printed in hex:
# the encryption, the decryption of the packet as built, and of the packet dissected again
# from bytes (netsec's ESP layer when netsec's layers are bound).
_SCAPY_SA_SCRIPT = """
import binascii
p = IP(src='1.1.1.1', dst='2.2.2.2') / TCP(sport=45012, dport=80) / Raw(b'testdata')
p = IP(raw(p))
cases = [
    dict(crypt_algo='AES-CBC', crypt_key=b'sixteenbytes key', auth_algo='HMAC-SHA1-96',
         auth_key=b'secret key'),
    dict(crypt_algo='AES-GCM', crypt_key=b'16bytekey+4bytenonce',
         tunnel_header=IP(src='11.11.11.11', dst='22.22.22.22')),
    dict(crypt_algo='AES-CBC', crypt_key=b'sixteenbytes key', auth_algo='SHA2-256-128',
         auth_key=b'secret key', nat_t_header=UDP(sport=4500, dport=4500)),
]
for i, kw in enumerate(cases):
    sa = SecurityAssociation(ESP, spi=0x222 + i, **kw)
    iv = b'\\x07' * (8 if kw['crypt_algo'] == 'AES-GCM' else 16)
    e = sa.encrypt(p, iv=iv)
    again = e.__class__(raw(e))
    print(type(again.getlayer(ESP)).__module__, sa.proto.__module__)
    print(binascii.hexlify(raw(e)).decode())
    print(binascii.hexlify(raw(sa.decrypt(e))).decode())
    print(binascii.hexlify(raw(sa.decrypt(again))).decode())
"""


def test_scapy_security_association_works_as_without_netsec() -> None:
    pure = run_python("from scapy.all import *\n" + _SCAPY_SA_SCRIPT).splitlines()
    mixed = run_python(
        "from scapy.all import *\nfrom netsec_layers import *\n" + _SCAPY_SA_SCRIPT
    ).splitlines()
    assert len(pure) == len(mixed) == 12
    for i in range(0, 12, 4):
        # without netsec Scapy dissects with its ESP; with netsec bound, with netsec's ESP
        assert pure[i] == "scapy.layers.ipsec scapy.layers.ipsec"
        assert mixed[i] == "netsec_layers.layers.ipsec scapy.layers.ipsec"
    pairs = [(a, b) for k, (a, b) in enumerate(zip(pure, mixed, strict=True)) if k % 4]
    assert all(a == b for a, b in pairs)
    assert "7465737464617461" in pure[2]  # b"testdata": the decryption did happen


def test_star_import_never_shadows_a_scapy_name() -> None:
    importlib.import_module("netsec_layers.io")  # a submodule named like a Scapy export (io)
    names = netsec_layers.__all__
    for name in names:
        if hasattr(scapy_all, name):
            assert getattr(netsec_layers, name) is getattr(scapy_all, name), name
    # every netsec object that shares a name with Scapy is there as Netsec<name>
    collisions = {n for n in layers_all.__all__ if hasattr(scapy_all, n)}
    assert collisions == {"AH", "ESP", "ISAKMP"}
    assert collisions | {"SecurityAssociation"} == set(netsec_layers.SCAPY_KEEPS)
    for name in collisions:
        assert getattr(netsec_layers, "Netsec" + name) is getattr(layers_all, name)
    sa = importlib.import_module("netsec_layers.keys.sa")
    assert netsec_layers.NetsecSecurityAssociation is sa.SecurityAssociation


def test_old_import_paths_still_give_netsec_layers() -> None:
    ipsec = importlib.import_module("netsec_layers.layers.ipsec")
    ike = importlib.import_module("netsec_layers.layers.ike")
    assert layers_all.ESP is ipsec.ESP and layers_all.AH is ipsec.AH
    assert layers_all.ISAKMP is ike.ISAKMP
    assert ipsec.ESP.__module__ == "netsec_layers.layers.ipsec"


def test_helpers_come_from_the_engine_modules() -> None:
    expected = {
        "encrypt_packet": "netsec_layers.session.ipsec_scapy",
        "decrypt_packet": "netsec_layers.session.ipsec_scapy",
        "SADatabase": "netsec_layers.session.ipsec",
        "TLSKeyMaterial": "netsec_layers.session.tls_keys",
        "recompute": "netsec_layers.interactive",
        "decrypt_tls": "netsec_layers.interactive",
    }
    for name, module in expected.items():
        assert getattr(netsec_layers, name) is getattr(importlib.import_module(module), name)
        assert name in netsec_layers.__all__


def test_netsec_esp_round_trip_through_scapy_sa() -> None:
    """Ours decrypts what Scapy's SA encrypts (and Scapy's decrypts what ours encrypts),
    everything imported from the package top."""
    out = run_python(
        "from scapy.all import *\nfrom netsec_layers import *\n"
        "key = b'sixteenbytes key'; akey = bytes(range(20))\n"
        "theirs = SecurityAssociation(ESP, spi=0x1001, crypt_algo='AES-CBC', crypt_key=key,"
        " auth_algo='HMAC-SHA1-96', auth_key=akey, tunnel_header=IP(src='9.9.9.1', dst='9.9.9.2'))\n"
        "ours = NetsecSecurityAssociation(spi=0x1001, encryption='AES-CBC', enc_key=key,"
        " integrity='HMAC-SHA1-96', auth_key=akey, src='9.9.9.1', dst='9.9.9.2')\n"
        "inner = IP(src='10.0.0.1', dst='10.0.0.2') / UDP(sport=1, dport=2) / b'hello'\n"
        "plain = decrypt_packet(theirs.encrypt(inner), SADatabase([ours]))\n"
        "print(plain.summary()); print(bytes(plain[UDP].payload))\n"
        "back = theirs.decrypt(IP(raw(encrypt_packet(inner, ours, SADatabase([ours])))))\n"
        "print(raw(back) == raw(IP(raw(inner))))\n"
    )
    lines = out.splitlines()
    assert lines[0].startswith("ESPPlaintext spi=0x00001001") or "ESPPlaintext" in lines[0]
    assert lines[1] == "b'hello'" and lines[2] == "True"


def test_dissected_netsec_layers_are_found_by_netsec_name_or_class_name() -> None:
    """After the star import ``p[ESP]`` (Scapy's class) finds netsec's wire ESP (a subclass);
    AH and ISAKMP, whose fields differ from Scapy's, by ``NetsecAH``/``"AH"``."""
    out = run_python(
        "from netsec_layers import *\n"
        "p = rdpcap('pcaps/esp/ah-transport-sha256.pcap')[0]\n"
        "e = rdpcap('pcaps/esp/esp-transport-gcm.pcap')[0]\n"
        "i = [q for q in rdpcap('pcaps/ike/strongswan_ikev1.pcap') if q.haslayer(UDP)][0]\n"
        "print(e[ESP] is e[NetsecESP], p[NetsecAH] is p['AH'], bool(p.haslayer(AH)))\n"
        "print(type(i['ISAKMP']) is NetsecISAKMP, bool(i.haslayer(ISAKMP)))\n"
    )
    assert out.split() == ["True", "True", "False", "True", "False"]
