"""Operation counts instead of wall-clock time: complexity checks that a loaded machine cannot
make flaky.

``python_lines(fn)`` is the number of Python lines executed (``sys.settrace`` line events) plus
Python calls made while ``fn`` runs: a deterministic measure of the interpreted work, the same on
an idle and on a loaded machine.  Loops written in Python (record parsing, resynchronisation
scans, range merging, SA indexing) show up in it; work done inside one C call does not, so
costs hidden in C (e.g. a dict's deleted slots) are measured with a timer in ``tools/`` instead.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

_Tracer = Callable[[FrameType, str, Any], Any]


def python_lines(fn: Callable[[], object]) -> int:
    """Python lines executed and calls made while ``fn()`` runs."""
    count = 0

    def local(frame: FrameType, event: str, arg: Any) -> _Tracer:
        nonlocal count
        count += 1
        return local

    def calls(frame: FrameType, event: str, arg: Any) -> _Tracer:
        nonlocal count
        count += 1
        return local

    old = sys.gettrace()
    sys.settrace(calls)
    try:
        fn()
    finally:
        sys.settrace(old)
    return count


def growth(fn: Callable[[int], object], n: int, factor: int = 4) -> float:
    """``python_lines`` at ``factor * n`` over that at ``n`` (after one warm-up run, so lazy
    imports and caches are not counted): linear work gives about ``factor``, quadratic
    ``factor ** 2``."""
    fn(n)
    small = python_lines(lambda: fn(n))
    large = python_lines(lambda: fn(factor * n))
    return large / max(small, 1)
