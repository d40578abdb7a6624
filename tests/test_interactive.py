"""Interactive Scapy use: star import, bind/unbind, Scapy's extension loader (fresh interpreters)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "pcaps" / "tls" / "python-tls13-port50443.pcap"


def _run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd="/",
    ).stdout


def test_star_import_makes_rdpcap_dissect_tls_on_any_port_and_unbind_restores_scapy() -> None:
    out = _run(
        "from netsec_layers import *\n"
        f"p = rdpcap({str(SAMPLE)!r})[3]\n"
        "print(p.summary()); print(bool(p.haslayer(TLSRecord)))\n"
        "print(raw(p) == bytes(p)); ls(TLSAlert)\n"
        "unbind_netsec_layers()\n"
        f"p = rdpcap({str(SAMPLE)!r})[3]\n"
        "print(p.summary()); print(bool(p.haslayer(TLSRecord)))\n"
    )
    lines = out.splitlines()
    assert "ClientHello sni=localhost" in lines[0] and lines[1] == "True" and lines[2] == "True"
    assert any(line.startswith("level") for line in lines)
    assert lines[-2].endswith("Raw") and lines[-1] == "False"


def test_scapy_extension_loader_loads_netsec_layers() -> None:
    out = _run(
        "from scapy.all import conf, rdpcap\n"
        "conf.exts.load('netsec-layers')\n"
        "from scapy.layers.netsec import TLSRecord, ESP\n"
        f"print(bool(rdpcap({str(SAMPLE)!r})[3].haslayer(TLSRecord)))\n"
    )
    assert out.strip() == "True"


def test_importing_the_package_does_not_import_scapy() -> None:
    assert _run("import sys, netsec_layers; print('scapy' in sys.modules)").strip() == "False"


def test_star_import_gives_the_fast_builders() -> None:
    out = _run(
        "from netsec_layers import *\n"
        f"a = rdpcap({str(SAMPLE)!r}); b = fast_rdpcap({str(SAMPLE)!r})\n"
        "print([p.summary() for p in a] == [p.summary() for p in b], len(b) > 5)\n"
        "print(fast_dissect(raw(a[3])).summary() == a[3].summary())\n"
    )
    assert out.split() == ["True", "True", "True"]
