"""netsec_layers: dissect, decrypt, craft and encrypt IPsec and SSL/TLS traffic.

Importing the package is cheap (no Scapy). In an interactive session::

    from netsec_layers import *     # Scapy's whole API + netsec layers, bound to TCP/IP/UDP

gives ``ls()``, ``rdpcap()``, ``TLSRecord`` … and makes Scapy dissect TLS (by content, on any
port) and ESP/AH/IKE with netsec's layers; ``unbind_netsec_layers()`` undoes that.  Where Scapy
already has a name (``ESP``, ``AH``, ``ISAKMP``, ``SecurityAssociation``) it keeps Scapy's
object, so Scapy's own code goes on working; netsec's is ``Netsec<name>`` (``NetsecESP`` …;
``netsec_layers.layers.ipsec.ESP`` and the other module paths are unchanged).  The helpers
``recompute``, ``decrypt_tls``, ``encrypt_packet``, ``decrypt_packet``, ``SADatabase`` … are
listed in ``HELPERS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # no module attributes of these names: Scapy's (typing.Sequence …) stay
    import os
    from collections.abc import Sequence
    from typing import Any

__version__ = "0.1.0"

# Names Scapy's ``scapy.all`` also defines: at the package top they stay Scapy's (Scapy's own
# SecurityAssociation checks ``proto in (ESP, AH)`` against its classes), and netsec's objects
# are exported as ``Netsec<name>``.  tests/interactive checks this is every collision.
SCAPY_KEEPS = ("AH", "ESP", "ISAKMP", "SecurityAssociation")
NETSEC_PREFIX = "Netsec"

# Helpers importable from the package top: name -> (module, attribute).
HELPERS: dict[str, tuple[str, str]] = {
    "recompute": ("netsec_layers.interactive", "recompute"),
    "decrypt_tls": ("netsec_layers.interactive", "decrypt_tls"),
    "encrypt_packet": ("netsec_layers.session.ipsec_scapy", "encrypt_packet"),
    "decrypt_packet": ("netsec_layers.session.ipsec_scapy", "decrypt_packet"),
    "build_ah_packet": ("netsec_layers.session.ipsec_scapy", "build_ah_packet"),
    "verify_ah_packet": ("netsec_layers.session.ipsec_scapy", "verify_ah_packet"),
    "SADatabase": ("netsec_layers.session.ipsec", "SADatabase"),
    "NetsecSecurityAssociation": ("netsec_layers.keys.sa", "SecurityAssociation"),
    "load_sa_file": ("netsec_layers.keys.sa_files", "load_sa_file"),
    "TLSKeyMaterial": ("netsec_layers.session.tls_keys", "TLSKeyMaterial"),
    "load_keylog": ("netsec_layers.keys.keylog", "load_keylog"),
}


def _star_names() -> list[str]:
    import scapy.all as scapy_all

    from netsec_layers.interactive import register_for_explore
    from netsec_layers.layers import all as layers_all

    layers_all.bind_netsec_layers()
    register_for_explore()
    # a Scapy name that is also one of this package's submodules (``io``: the standard library's
    # module, re-exported by scapy.all) is left out: once the submodule is imported it is an
    # attribute of this package, and the star import would hand users ours in its place
    import pkgutil

    ours = {m.name for m in pkgutil.iter_modules(__path__)}
    names = {n for n in dir(scapy_all) if not n.startswith("_") and n not in ours}
    for n in layers_all.__all__:
        names.add(NETSEC_PREFIX + n if n in SCAPY_KEEPS else n)
    return sorted(names | set(HELPERS))


def __getattr__(name: str) -> Any:
    # PEP 562: `from netsec_layers import *` asks for __all__ here, so Scapy is imported only
    # by interactive users, never by `netsec --help`.
    if name == "__all__":
        return _star_names()
    if name.startswith("__"):
        raise AttributeError(name)
    if name in HELPERS:
        import importlib

        module, attr = HELPERS[name]
        return getattr(importlib.import_module(module), attr)
    from netsec_layers.layers import all as layers_all

    ours = name[len(NETSEC_PREFIX) :] if name.startswith(NETSEC_PREFIX) else None
    if ours in SCAPY_KEEPS and ours in layers_all.__all__:
        return getattr(layers_all, ours)
    if name in layers_all.__all__ and name not in SCAPY_KEEPS:
        return getattr(layers_all, name)
    import scapy.all as scapy_all

    try:
        return getattr(scapy_all, name)
    except AttributeError:
        raise AttributeError(f"module 'netsec_layers' has no attribute {name!r}") from None


def to_arrow(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    keylog: Sequence[str] | str = (),
    rsa_key: Sequence[str] | str = (),
    esp_sa: Sequence[str] | str = (),
    ssh_keylog: Sequence[str] | str = (),
    ike_keys: Sequence[str] | str = (),
    no_replay_check: bool = False,
) -> Any:
    """Every unit of a capture (the ``netsec dissect --json`` objects) as a ``pyarrow.Table``
    with typed columns (docs/columnar.md); several files or a directory are read as one
    capture in time order.  Key options as for ``netsec dissect``: a path or a
    list of paths each.  Needs ``pip install 'netsec-layers[columnar]'``."""
    from netsec_layers.cli.columnar import capture_table

    return capture_table(
        path,
        keylog=keylog,
        rsa_key=rsa_key,
        esp_sa=esp_sa,
        ssh_keylog=ssh_keylog,
        ike_keys=ike_keys,
        no_replay_check=no_replay_check,
    )


def to_pandas(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], **keys: Any) -> Any:
    """``to_arrow(path, **keys).to_pandas()``: a DataFrame, one row per unit (nullable ints stay
    ints: pandas' Arrow-backed dtypes)."""
    import pandas as pd

    return to_arrow(path, **keys).to_pandas(types_mapper=pd.ArrowDtype)


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
