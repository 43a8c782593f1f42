"""Fixtures for the assessment tests; puts this folder on sys.path so tests import the ``assesstest`` helpers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from assesstest import Builder  # noqa: E402


@pytest.fixture
def b() -> Builder:
    """A fresh inventory builder."""
    return Builder()
