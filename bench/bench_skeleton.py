"""Walking skeleton: `import iamkit` time (vs importing pandas, its lightest heavy dependency) and the demo's
wall time (vs the floor of running four empty notebooks with papermill, the orchestration overhead)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import record


def _import_time(stmt: str, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", stmt], check=True)
        best = min(best, time.perf_counter() - t0)
    return best


def _empty_notebooks(n: int = 4) -> float:
    import papermill as pm

    nb = {
        "cells": [
            {
                "cell_type": "code",
                "id": "params",
                "metadata": {"tags": ["parameters"]},
                "source": "x = 1",
                "outputs": [],
                "execution_count": None,
            }
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "empty.ipynb"
        src.write_text(json.dumps(nb))
        t0 = time.perf_counter()
        for i in range(n):
            pm.execute_notebook(
                str(src), str(Path(d) / f"out{i}.ipynb"), parameters={"x": 2}, kernel_name="python3", progress_bar=False
            )
        return time.perf_counter() - t0


def main() -> None:
    bare = _import_time("pass")
    ik = _import_time("import iamkit") - bare
    pd_ = _import_time("import pandas") - bare
    floor = _empty_notebooks()
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "iamkit.cli", "demo", "--case", str(Path(d) / "case")],
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "IAMKIT_HOME": d},
        )
        demo = time.perf_counter() - t0
    record(
        "skeleton",
        {
            "import_iamkit_s": ik,
            "import_pandas_s": pd_,
            "import_ratio_iamkit_over_pandas": ik / pd_,
            "demo_wall_s": demo,
            "four_empty_notebooks_s": floor,
            "demo_over_notebook_floor": demo / floor,
        },
    )
