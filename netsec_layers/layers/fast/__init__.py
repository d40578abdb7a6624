"""The accelerator: Scapy's own packet objects, built without Scapy's per-layer constructor.

Everything that reaches into Scapy's internals to go faster lives here, behind this one
public API, so the layer classes import only public Scapy and this module:

- :mod:`.builder` -- :func:`dissect`/:func:`make`/:func:`copy_layers` build exactly the
  objects ``Ether(data)``, ``cls(data, _internal=1, ...)`` and ``Packet.copy`` build;
- :mod:`.pcap` -- :func:`fast_rdpcap`/:func:`iter_packets` are ``rdpcap``/``PcapReader``
  with the packets built by the builder (Scapy's readers, their packet construction patched).

``tests/layers/test_fast_dissect.py`` checks both against Scapy's own constructors.
"""

from __future__ import annotations

from netsec_layers.layers.fast.builder import (
    copy_layers,
    dissect,
    make,
    plan_summary,
    register_init,
    scapy_only,
)
from netsec_layers.layers.fast.pcap import fast_rdpcap, iter_packets

__all__ = [
    "copy_layers",
    "dissect",
    "fast_rdpcap",
    "iter_packets",
    "make",
    "plan_summary",
    "register_init",
    "scapy_only",
]
