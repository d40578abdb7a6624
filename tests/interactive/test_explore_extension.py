"""Scapy's extension loader and explore(): `conf.exts.load("netsec-layers")`, `load_layer("netsec")`
and `explore("netsec")` in a fresh interpreter, with Scapy's own names left to Scapy."""

from __future__ import annotations

from ._run import run_python


def test_extension_loader_load_layer_and_explore() -> None:
    out = run_python(
        "from scapy.all import *\n"
        "import scapy.layers.ipsec as scapy_ipsec\n"
        "conf.exts.load('netsec-layers')\n"
        "print('EXTS', 'netsec-layers' in repr(conf.exts))\n"
        "load_layer('netsec')\n"
        "print('SCAPY-ESP', ESP is scapy_ipsec.ESP, NetsecESP.__module__)\n"
        "print('TLS', TLSClientHello.__module__)\n"
        "explore('netsec')\n"
        "from scapy.layers.netsec import ESP as ours\n"
        "print('OURS', ours is NetsecESP)\n"
    )
    lines = out.splitlines()
    assert "EXTS True" in lines
    assert "SCAPY-ESP True netsec_layers.layers.ipsec" in lines
    assert "TLS netsec_layers.layers.tls.handshake" in lines
    assert "OURS True" in lines
    assert "Packets contained in scapy.layers.netsec:" in out
    listed = {line.split("|")[0].strip() for line in lines if "|" in line}
    for cls in ("TLSClientHello", "TLSRecord", "ESPPlaintext", "IKEv2", "DTLSRecord", "ISAKMP"):
        assert cls in listed, cls


def test_explore_lists_netsec_modules_after_star_import() -> None:
    out = run_python("from netsec_layers import *\nexplore('scapy.layers.netsec')\n")
    assert "TLSClientHello" in out and "ESPPlaintext" in out
