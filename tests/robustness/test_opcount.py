"""The operation counter the complexity tests rely on tells linear from quadratic work."""

from __future__ import annotations

from tests.robustness._opcount import growth, python_lines


def _linear(n: int) -> None:
    for _ in range(n):
        pass


def _quadratic(n: int) -> None:
    for i in range(n):
        for _ in range(i):
            pass


def test_growth_tells_linear_from_quadratic() -> None:
    assert 3.5 < growth(_linear, 200) < 4.5
    assert growth(_quadratic, 200) > 14


def test_counts_are_deterministic_and_restore_the_previous_tracer() -> None:
    import sys

    before = sys.gettrace()
    assert python_lines(lambda: _quadratic(50)) == python_lines(lambda: _quadratic(50))
    assert sys.gettrace() is before
