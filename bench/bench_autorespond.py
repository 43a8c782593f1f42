"""Auto-response deployment: the zip's size and the handler's cold start from the zip alone (a fresh interpreter
with only the zip and boto3/botocore on its path, as in Lambda), against importing boto3 alone in the same kind of
interpreter (the floor every Python Lambda pays). Also the first judgement (catalogue load included)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from bench.common import record

PROVIDED = ("boto3", "botocore", "jmespath", "dateutil", "s3transfer", "six", "urllib3")


def _runtime_dir(d: Path) -> Path:
    """A folder standing in for the Lambda runtime's own packages: links to boto3 and its dependencies."""
    import importlib

    rt = d / "runtime"
    rt.mkdir()
    for name in PROVIDED:
        mod = importlib.import_module(name)
        src = Path(mod.__file__)
        src = src.parent if src.name == "__init__.py" else src
        (rt / src.name).symlink_to(src)
    return rt


def _cold(paths: list[Path], stmt: str, repeat: int = 5) -> float:
    code = f"import sys; sys.path[:0] = {[str(p) for p in paths]!r}; {stmt}"
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-S", "-c", code], check=True)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    from iamkit.respond.package import build

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        got = build(d / "autorespond.zip")
        code = d / "code"
        zipfile.ZipFile(d / "autorespond.zip").extractall(code)
        rt = _runtime_dir(d)
        base = _cold([rt], "import boto3")
        cold = _cold([code, rt], "import iamkit.respond.autorespond")
        first = _cold(
            [code, rt],
            "import iamkit.respond.autorespond as a; a._allowed('arn:aws:iam::123456789012:role/x', "
            "[{'Statement': [{'Effect': 'Allow', 'Action': 'iam:*', 'Resource': '*'}]}])",
            repeat=3,
        )
    record(
        "autorespond",
        {
            "zip_bytes": got["bytes"],
            "zip_files": got["files"],
            "cold_import_s": cold,
            "boto3_import_s (baseline)": base,
            "cold_import / boto3_import": cold / base,
            "cold_first_judgement_s": first,
            "first_judgement / boto3_import": first / base,
        },
    )


if __name__ == "__main__":
    main()
