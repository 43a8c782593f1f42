"""Helpers for benchmarks: timing, peak memory, and recording results."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def timed(fn, *args, repeat: int = 1, **kwargs) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return best, result


def record(name: str, figures: dict[str, Any]) -> None:
    """Print figures one per line and save them to bench/results/<name>.json."""
    RESULTS.mkdir(exist_ok=True)
    for k, v in figures.items():
        print(f"  {k:<48} {v:.4g}" if isinstance(v, float) else f"  {k:<48} {v}")
    (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=1, default=str))
