"""netsec_layers: dissect, decrypt, craft and encrypt IPsec and SSL/TLS traffic.

Importing the package is cheap (no Scapy). In an interactive session::

    from netsec_layers import *     # Scapy's whole API + netsec layers, bound to TCP/IP/UDP

gives ``ls()``, ``rdpcap()``, ``TLSRecord``, ``ESP`` … and makes Scapy dissect TLS (by content,
on any port) and ESP/AH with netsec's layers; ``unbind_netsec_layers()`` undoes that.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def _star_names() -> list[str]:
    import scapy.all as scapy_all

    from netsec_layers.layers import all as layers_all

    layers_all.bind_netsec_layers()
    names = [n for n in dir(scapy_all) if not n.startswith("_")]
    return sorted(set(names) | set(layers_all.__all__))


def __getattr__(name: str) -> Any:
    # PEP 562: `from netsec_layers import *` asks for __all__ here, so Scapy is imported only
    # by interactive users, never by `netsec --help`.
    if name == "__all__":
        return _star_names()
    if name.startswith("__"):
        raise AttributeError(name)
    from netsec_layers.layers import all as layers_all

    if name in layers_all.__all__:
        return getattr(layers_all, name)
    import scapy.all as scapy_all

    try:
        return getattr(scapy_all, name)
    except AttributeError:
        raise AttributeError(f"module 'netsec_layers' has no attribute {name!r}") from None


def scapy_ext(plg: Any) -> None:
    """Entry point of Scapy's extension loader: ``conf.exts.load("netsec-layers")``."""
    from pathlib import Path

    plg.config("netsec-layers", __version__)
    plg.register(
        name="netsec",
        mode=plg.MODE.LAYERS,
        path=str(Path(__file__).with_name("scapy_layers.py")),
        default=True,
    )
