"""Rebuild the generated sections of docs/architecture.md (the frames index and the command list) from the code.

    .venv/bin/python tools/architecture_doc.py           # rewrite the sections in place
    .venv/bin/python tools/architecture_doc.py --check   # exit 1 (and say which) when the page is stale

``tests/test_layers.py`` runs the check, so a frame or a command added without the page fails the tests.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
SECTION = re.compile(
    r"(<!-- generated: (\w+) \(python tools/architecture_doc.py\) -->\n)(.*?)(<!-- end generated -->)", re.S
)


def _import_everything() -> None:
    """Import every iamkit module but the sandbox (an optional extra) so each registers its frames."""
    import iamkit

    for mod in pkgutil.walk_packages(iamkit.__path__, "iamkit."):
        if mod.name.startswith("iamkit.sandbox") or mod.name.endswith("__main__"):
            continue
        importlib.import_module(mod.name)


def frames_section() -> str:
    from iamkit import frames

    _import_everything()
    lines = ["| frame | what | columns |", "|---|---|---|"]
    for name in sorted(frames.SCHEMAS):
        cols = ", ".join(f"{c}" if t == "string" else f"{c} ({t})" for c, t in frames.SCHEMAS[name].items())
        what = " ".join(frames.DOCS.get(name, "").split()).replace("|", "\\|")
        lines.append(f"| `{name}` | {what} | {cols} |")
    return "\n".join(lines) + "\n"


def commands_section() -> str:
    import typer

    from iamkit.cli import app

    lines: list[str] = []

    def walk(cmd, path: tuple[str, ...]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in sorted(subs.items()):
                walk(sub, (*path, name))
            return
        first = " ".join((cmd.help or "").strip().split("\n\n")[0].split())
        lines.append(f"- `iamkit {' '.join(path)}` — {first}")

    walk(typer.main.get_command(app), ())
    return "\n".join(lines) + "\n"


SECTIONS = {"frames": frames_section, "commands": commands_section}


def render(text: str) -> str:
    """``text`` with every generated section rebuilt."""
    return SECTION.sub(lambda m: m.group(1) + SECTIONS[m.group(2)]() + m.group(4), text)


def main(argv: list[str]) -> int:
    text = DOC.read_text()
    fresh = render(text)
    if "--check" in argv:
        if fresh != text:
            print(f"{DOC.relative_to(ROOT)} is stale: run python tools/architecture_doc.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
