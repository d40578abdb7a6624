"""Mutable per-SA state shared by ESP (:mod:`.ipsec`) and AH (:mod:`.ipsec_ah`)."""

from __future__ import annotations

import os

from netsec_layers.crypto.esp import ESPTransform, Integrity
from netsec_layers.keys.sa import SecurityAssociation
from netsec_layers.session.ipsec_replay import ReplayWindow

__all__ = ["SAState"]


class SAState:
    """Mutable per-SA state: transform objects, windows and counters."""

    __slots__ = (
        "sa",
        "spi",
        "transform",
        "ah_integrity",
        "window",
        "out_seq",
        "last_out",
        "iv_counter",
    )

    def __init__(self, sa: SecurityAssociation, spi: int) -> None:
        self.sa = sa
        self.spi = spi
        self.transform: ESPTransform | None = None
        self.ah_integrity: Integrity | None = None
        if sa.protocol == "esp":
            self.transform = ESPTransform(sa.encryption, sa.enc_key, sa.integrity, sa.auth_key)
        high = sa.esn_high << 32 if sa.esn else 0
        self.window = ReplayWindow(sa.replay_window, top=high)
        self.out_seq = high | 1  # RFC 4303 §3.3.3: the first packet carries 1
        self.last_out: int | None = None
        # Counter IVs (RFC 4106 §3.1, RFC 3686 §3.1): unique per packet, random start per run.
        self.iv_counter = int.from_bytes(os.urandom(8), "big")
