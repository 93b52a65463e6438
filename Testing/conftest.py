"""Shared test set-up: hypothesis profiles and small helpers."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from ParomaWatermarkLib import SecretKey, slicewise, watermark_bits

settings.register_profile(
    "default", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile(
    "ci", max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default"))


@pytest.fixture
def key() -> SecretKey:
    return SecretKey(bytes(range(32)))


@pytest.fixture
def bits(key: SecretKey) -> np.ndarray:
    return watermark_bits("P-0001|DS-42", key, "2026-01-01T00:00:00Z")


@pytest.fixture(scope="module")
def small_chunks():
    """Make every volume span several chunks, so that the threaded path runs even on tiny test volumes."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(slicewise, "CHUNK_VOXELS", 64)
        yield
