"""One captured frame: the unit every floor above the capture reader works on.

It lives at the bottom floor (beside :mod:`netsec_layers.errors`) so that the Sans-I/O session
layer takes frames without importing the I/O layer that reads them from files.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Frame"]


@dataclass(slots=True)
class Frame:
    """One captured frame."""

    number: int  # 1-based frame number in the capture
    ts_ns: int  # timestamp, nanoseconds since the epoch
    linktype: int  # DLT/LINKTYPE of this frame's interface
    data: bytes  # captured bytes
    orig_len: int  # original length on the wire
    interface: int = 0  # pcapng interface id (0 for pcap)
