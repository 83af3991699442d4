"""Shared fixtures: the hard input files and a quiet environment for Prefect and TensorFlow."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CASES = Path(__file__).parent / "cases"

# Set before any test imports Prefect, Great Expectations or TensorFlow.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "rnnpipe")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def cases() -> Path:
    return CASES
