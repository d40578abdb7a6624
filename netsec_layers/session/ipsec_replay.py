"""Anti-replay window (RFC 4303 §3.4.3) and ESN inference (RFC 4303 Appendix A).

Pure integer state, no I/O: :class:`ReplayWindow` tracks the highest authenticated sequence
number ``top`` and a bitmap of the ``size`` numbers at and below it (bit *i* = ``top - i``).
"""

from __future__ import annotations

from netsec_layers.errors import ReplayVerdict

__all__ = ["ReplayWindow", "infer_esn"]

_M32 = 0xFFFFFFFF


def infer_esn(top: int, window: int, seq_low: int) -> int:
    """Full 64-bit sequence number for a received low half (RFC 4303 Appendix A2.2/A3).

    ``top`` is the highest authenticated 64-bit number so far, ``window`` the window size W.
    """
    th, tl = top >> 32, top & _M32
    w = max(window, 1)
    if tl >= w - 1:  # Case A: the window lies within one 2^32 block
        seqh = th if seq_low >= tl - w + 1 else th + 1
    else:  # Case B: the window straddles a 2^32 boundary
        if seq_low >= ((tl - w + 1) & _M32):
            seqh = th - 1 if th else 0
        else:
            seqh = th
    return ((seqh & _M32) << 32) | seq_low


class ReplayWindow:
    """Sliding receive window of ``size`` sequence numbers (0 = no replay check)."""

    __slots__ = ("size", "top", "bitmap", "seen", "_mask")

    def __init__(self, size: int = 64, *, top: int = 0) -> None:
        self.size = size
        self.top = top  # highest authenticated number; initial = ESN high bits << 32
        self.bitmap = 0
        self.seen = False
        self._mask = (1 << size) - 1 if size else 0

    def infer(self, seq_low: int) -> int:
        """64-bit number for ``seq_low`` given what was authenticated so far (Appendix A3)."""
        return infer_esn(self.top, self.size or 64, seq_low)

    def check(self, seq: int) -> ReplayVerdict:
        """NEW, REPLAYED or OUTSIDE_WINDOW; does not change the window."""
        if not self.seen or seq > self.top:
            return ReplayVerdict.NEW
        diff = self.top - seq
        if diff >= self.size:
            return ReplayVerdict.OUTSIDE_WINDOW
        return ReplayVerdict.REPLAYED if (self.bitmap >> diff) & 1 else ReplayVerdict.NEW

    def update(self, seq: int) -> None:
        """Record an authenticated number (call only after ICV verification, §3.4.3)."""
        if not self.seen:
            self.seen = True
            self.top = seq
            self.bitmap = 1
        elif seq > self.top:
            shift = seq - self.top
            self.bitmap = ((self.bitmap << shift) | 1) & self._mask if shift < self.size else 1
            self.top = seq
        else:
            diff = self.top - seq
            if diff < self.size:
                self.bitmap |= 1 << diff
        if not self.size:
            self.bitmap = 0
