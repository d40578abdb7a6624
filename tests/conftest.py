"""Shared pytest configuration for netsec_layers' test suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Hypothesis in CI draws the same examples every run (derandomize): a red CI run is then the
# code's doing, not the dice's (session 4: a damaged-certificate example met once in four runs).
# Exploring new examples is what local runs (no CI variable) and the fuzz targets' long runs do;
# what they find is fixed and pinned as an explicit case.  HYPOTHESIS_PROFILE overrides.
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore")
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "explore")
)

REPO = Path(__file__).resolve().parent.parent
PCAPS = REPO / "pcaps"
VECTORS = Path(__file__).resolve().parent / "vectors"


@pytest.fixture
def pcaps_dir() -> Path:
    return PCAPS


@pytest.fixture
def vectors_dir() -> Path:
    return VECTORS
