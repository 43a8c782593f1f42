"""Hostile-evidence tests; puts this folder on sys.path so tests import the ``payloads`` helpers."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
