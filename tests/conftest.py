"""Shared pytest configuration for netsec_layers' test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PCAPS = REPO / "pcaps"
VECTORS = Path(__file__).resolve().parent / "vectors"


@pytest.fixture
def pcaps_dir() -> Path:
    return PCAPS


@pytest.fixture
def vectors_dir() -> Path:
    return VECTORS
