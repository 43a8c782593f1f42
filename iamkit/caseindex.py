"""``cases/index.html``: every run in the cases folder with its headline figures, the trend of each review across
its runs, and a link to each report. Rebuilt after every ``iamkit run`` into the cases folder, and by
``iamkit cases index``.

Case folders are evidence, hence hostile: every value is escaped where it is rendered (``iamkit.escape``), a
link is the case folder's own name percent-encoded (never a value read from a file), and the page carries the
report's strict Content-Security-Policy (no scripts, nothing loaded).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any
from urllib.parse import quote

from iamkit import escape

INDEX = "index.html"
COMPLETE = ("complete", "complete with errors")
_e = escape.html


def _time(text: Any) -> dt.datetime | None:
    try:
        t = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _figures(raw: Any) -> dict[str, float]:
    """A summary's ``figures``: name → finite number; anything else is left out (it is not a figure)."""
    out: dict[str, float] = {}
    for k, v in raw.items() if isinstance(raw, dict) else ():
        if isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            out[k] = v
    return out


def scan(cases_root: Path | str) -> list[dict[str, Any]]:
    """One row per case folder under ``cases_root`` (oldest first): id, playbook, status, created, headline and
    figures from ``evidence/summary.json``, whether it has a report. Symlinks and folders that are not cases are
    passed over; a case whose files cannot be read is listed with what could be read."""
    from iamkit.case import Case
    from iamkit.errors import IamkitError

    root = Path(cases_root)
    rows = []
    for d in sorted(root.iterdir()) if root.is_dir() else []:
        if d.is_symlink() or not d.is_dir() or not (d / "case.yaml").is_file():
            continue
        try:
            meta = Case.open(d).meta
        except IamkitError as e:
            meta = {"status": f"unreadable: {e}"}
        summary: Any = {}
        if not str(meta.get("status") or "").startswith("unreadable"):
            from iamkit.report import load_summary

            summary = load_summary(Case(d, meta))  # the headline as the report shows it (facts rendered)
        headline = summary.get("headline")
        headline = headline if isinstance(headline, list) else [headline] if headline else []
        report = d / "report.html"
        rows.append(
            {
                "id": d.name,
                "playbook": str(meta.get("playbook") or "?"),
                "status": str(meta.get("status")),
                "created": str(meta.get("created") or ""),
                "created_at": _time(meta.get("created")),
                "headline": [str(x) for x in headline[:3]],
                "figures": _figures(summary.get("figures")),
                "report": report.is_file() and not report.is_symlink(),
            }
        )
    rows.sort(key=lambda r: (r["created_at"] or dt.datetime.min.replace(tzinfo=dt.UTC), r["id"]))
    return rows


def _link(case_id: str) -> str:
    return f'<a href="{_e(quote(case_id, safe=""))}/report.html">report</a>'


def _delta(now: float, before: float | None) -> str:
    if before is None:
        return ""
    d = now - before
    return " (=)" if d == 0 else f" ({'+' if d > 0 else ''}{d:g})"


def render(cases_root: Path | str, rows: list[dict[str, Any]] | None = None) -> str:
    from iamkit.report import CSP, CSS

    rows = scan(cases_root) if rows is None else rows
    parts = [
        f"<!doctype html><html lang=en><head><meta charset=utf-8>"
        f'<meta http-equiv=Content-Security-Policy content="{CSP}"><meta name=referrer content=no-referrer>'
        f"<title>iamkit cases</title><style>{CSS}</style></head><body><h1>Cases</h1>"
        f"<p class=meta>{len(rows)} run(s) in <code>{_e(Path(cases_root).resolve())}</code>, newest first. "
        "Rebuilt after every run; <code>iamkit cases index</code> rebuilds it.</p>"
    ]
    by_playbook: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_playbook.setdefault(r["playbook"], []).append(r)
    trends = {k: v for k, v in by_playbook.items() if any(r["figures"] for r in v)}
    if trends:
        parts.append("<h2 id=trends>Trends</h2>")
    for pb, runs in sorted(trends.items()):
        names = list(dict.fromkeys(n for r in runs for n in r["figures"]))
        head = "".join(f"<th>{_e(n)}</th>" for n in names)
        body, last = [], {}
        for r in runs:
            if r["status"] not in COMPLETE:
                continue
            figs = r["figures"]
            cells = "".join(
                f"<td>{_e(format(figs[n], 'g') + _delta(figs[n], last.get(n)))}</td>" if n in figs else "<td></td>"
                for n in names
            )
            last.update(r["figures"])
            body.append(
                f"<tr><td>{_e(r['created'])}</td><td><code>{_e(r['id'])}</code></td>{cells}"
                f"<td>{_link(r['id']) if r['report'] else ''}</td></tr>"
            )
        parts.append(
            f"<h3>{_e(pb)}</h3><p class=meta>each figure with its change since the previous completed run"
            f"</p><div class=wide><table><tr><th>run</th><th>case</th>{head}<th></th></tr>"
            + "".join(body)
            + "</table></div>"
        )
    parts.append(
        "<h2 id=runs>Runs</h2><div class=wide><table><tr><th>created</th><th>case</th><th>playbook</th>"
        "<th>status</th><th>headline</th><th>figures</th><th></th></tr>"
    )
    for r in reversed(rows):
        figs = ", ".join(f"{k} {v:g}" for k, v in r["figures"].items())
        lines = "".join(f"<li>{_e(x)}</li>" for x in r["headline"])
        parts.append(
            f"<tr><td>{_e(r['created'])}</td><td><code>{_e(r['id'])}</code></td><td>{_e(r['playbook'])}"
            f"</td><td>{_e(r['status'])}</td><td><ul>{lines}</ul></td><td>{_e(figs)}</td>"
            f"<td>{_link(r['id']) if r['report'] else ''}</td></tr>"
        )
    parts.append(
        f"</table></div><p class=meta>built {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}</p></body></html>"
    )
    return "\n".join(parts)


def build(cases_root: Path | str) -> Path:
    """Write ``index.html`` into the cases folder (atomically) and return its path."""
    from iamkit.files import write_atomic

    root = Path(cases_root)
    return write_atomic(root / INDEX, render(root).encode("utf-8", "backslashreplace"))
