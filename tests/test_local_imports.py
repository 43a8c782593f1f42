"""Function-local imports only where they keep a heavy package out of ``import iamkit`` (or a command's start):
``tools/local_imports.py`` names every other one. The parts already converted stay clean; the lead extends the
list to the whole tree after the merge, with ``ruff format``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLEAN = [
    "iamkit/aws",
    "iamkit/respond",
    "iamkit/sandbox",
    "iamkit/inventory.py",
    "iamkit/severity.py",
    "iamkit/arn.py",
    "iamkit/frames.py",
    "iamkit/errors.py",
    "iamkit/escape.py",
    "iamkit/jsontext.py",
    "iamkit/process.py",
    "iamkit/cli/__init__.py",
    "iamkit/cli/output.py",
    "iamkit/cli/run.py",
    "iamkit/cli/entra.py",
    "iamkit/cli/case.py",
    "iamkit/cli/inventory.py",
    "iamkit/cli/sandbox.py",
    "iamkit/investigate/iam.py",
]


def _run(*paths: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / "local_imports.py"), "--check", *paths],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_converted_parts_import_at_module_level():
    r = _run(*CLEAN)
    assert r.returncode == 0 and r.stdout == "", r.stdout


def test_the_check_itself(tmp_path):
    """On a small package: stdlib and light modules could move up; heavy ones, cycles and optional parts stay."""
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "local_imports.py").write_text((ROOT / "tools" / "local_imports.py").read_text())
    pkg = tmp_path / "iamkit"
    (pkg / "cli").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "light.py").write_text("import json\n")
    (pkg / "heavy.py").write_text("import pandas\n")
    (pkg / "loop.py").write_text("from iamkit import user\n")
    (pkg / "cli" / "__init__.py").write_text("")
    (pkg / "user.py").write_text(
        "def f():\n    import json\n    import pandas\n    from iamkit import light\n    from iamkit import heavy\n"
        "    from iamkit import loop\n    try:\n        import msal\n    except ImportError:\n        pass\n"
    )
    r = subprocess.run(
        [sys.executable, str(tmp_path / "tools" / "local_imports.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        "iamkit/user.py:2: json can be imported at module level",
        "iamkit/user.py:4: iamkit.light can be imported at module level",
    ]
