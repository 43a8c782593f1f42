"""The case report: one self-contained HTML file (no external scripts), summary first, manifest last.

Built only from the case folder (``evidence/summary.json``, evidence frames, executed notebooks), so it can
be re-built later without touching AWS or Graph: ``iamkit case report DIR``.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from iamkit.case import Case

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:72rem;color:#1d2430;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{border-bottom:2px solid #e3e7ee;padding-bottom:.2rem;margin-top:2rem}
.meta{color:#5a6576;font-size:.9rem} .headline{background:#fff6e5;border-left:4px solid #f0a020;padding:.6rem 1rem}
.headline li{margin:.15rem 0} table{border-collapse:collapse;font-size:.82rem;margin:.5rem 0;width:100%}
th,td{border:1px solid #dde2ea;padding:.25rem .4rem;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:#f3f5f9} .sev-critical{color:#b00020;font-weight:700} .sev-high{color:#d9480f;font-weight:700}
details{margin:.5rem 0} summary{cursor:pointer;font-weight:600} code{background:#f3f5f9;padding:0 .2rem}
.nb{border:1px solid #e3e7ee;padding:.5rem 1rem;margin:.5rem 0;overflow-x:auto}
"""

# evidence JSON is written with sorted keys: put the columns a reader scans first back in front
FIRST_COLUMNS = ["step", "time", "when", "first_seen", "last_seen", "source_ip", "key", "call", "action",
                 "account", "target", "result", "calls", "denied"]

_SCRIPT = re.compile(r"<script\b.*?</script\s*>", re.I | re.S)
_EXTERNAL = re.compile(r"""(src|href)\s*=\s*["']https?://[^"']*["']""", re.I)


def load_summary(case: Case) -> dict[str, Any]:
    p = case.evidence / "summary.json"
    return json.loads(p.read_text()) if p.is_file() else {}


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def _table(rows: list[dict[str, Any]] | Any, limit: int = 200) -> str:
    import pandas as pd

    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    first = [c for c in FIRST_COLUMNS if c in df.columns]
    df = df[first + [c for c in df.columns if c not in first]]
    if df.empty:
        return "<p><em>none</em></p>"
    more = f"<p class=meta>{len(df) - limit} more rows in the evidence file</p>" if len(df) > limit else ""
    return df.head(limit).to_html(index=False, escape=True, border=0, na_rep="") + more


def _kv(d: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v if not isinstance(v, (list, dict)) else json.dumps(v, default=str))}</td></tr>"
                   for k, v in d.items())
    return f"<table>{rows}</table>"


def _notebook_html(path: Path) -> str:
    """An executed notebook as an HTML fragment: outputs only, scripts and external links removed."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:  # interactive figures stay in the notebook; the report stays script-free
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if any(k.startswith("application/vnd.plotly") or k.startswith("application/vnd.jupyter.widget")
                   for k in data):
                out["data"] = {"text/plain": "[interactive figure or widget: open this notebook in JupyterLab]"}
    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb)
    body = _SCRIPT.sub("", body)
    return _EXTERNAL.sub(r'\1="#"', body)


def render(case: Case) -> str:
    s = load_summary(case)
    meta = case.meta
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_e(s.get('title') or case.id)}</title>"
             f"<style>{CSS}</style></head><body>"]
    parts.append(f"<h1>{_e(s.get('title') or 'Case ' + case.id)}</h1>")
    parts.append(f"<p class=meta>case <code>{_e(case.id)}</code> · playbook <code>{_e(meta.get('playbook'))}</code>"
                 f" · analyst {_e(meta.get('analyst'))} · created {_e(meta.get('created'))}"
                 f" · iamkit {_e(meta.get('iamkit_version'))}"
                 f" · caller {_e((meta.get('caller_identity') or {}).get('Arn', 'n/a'))}</p>")
    parts.append("<h2 id=summary>Summary</h2>")
    if s.get("headline"):
        parts.append("<ul class=headline>" + "".join(f"<li>{_e(x)}</li>" for x in s["headline"]) + "</ul>")
    for key, title in (("who", "Who"), ("what", "What"), ("when", "When"), ("from_where", "From where"),
                       ("blast_radius", "Blast radius"), ("proposed_actions", "Proposed actions")):
        if key not in s:
            continue
        v = s[key]
        parts.append(f"<h3>{title}</h3>")
        parts.append(_kv(v) if isinstance(v, dict) else _table(v) if v and isinstance(v[0], dict)
                     else "<ul>" + "".join(f"<li>{_e(x)}</li>" for x in v) + "</ul>" if isinstance(v, list)
                     else f"<p>{_e(v)}</p>")
    for name, title in s.get("tables", {}).items():
        p = case.evidence / f"{name}.parquet"
        if p.is_file():
            import pandas as pd

            parts.append(f"<h2>{_e(title)}</h2>" + _table(pd.read_parquet(p)))
    parts.append("<h2 id=notebooks>Notebooks</h2>")
    for nb in sorted((case.path / "notebooks").glob("*.ipynb")):
        parts.append(f"<details><summary>{_e(nb.name)}</summary><div class=nb>{_notebook_html(nb)}</div></details>")
    parts.append("<h2 id=manifest>Evidence manifest</h2><p class=meta>sha256 of every file when this report was "
                 "built; <code>manifest.json</code> (sealed by <code>manifest.sha256</code>) covers this report too "
                 f"and <code>iamkit case verify {_e(case.path)}</code> recomputes it.</p>")
    from iamkit.case import sha256_file

    rows = [{"file": p.relative_to(case.path).as_posix(), "bytes": p.stat().st_size, "sha256": sha256_file(p)}
            for p in case.files() if p.name != "report.html" and p.name != "INCOMPLETE"]
    parts.append(_table(rows, limit=10_000))
    parts.append(f"<p class=meta>built {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}</p></body></html>")
    return "\n".join(parts)


def build(case: Case) -> Path:
    """Write ``report.html`` into the case folder (a case opened for writing, hence verified) and return its path."""
    return case.write_file("report.html", render(case))
