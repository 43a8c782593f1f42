"""The rule catalogue behind ``iamkit trail rules``: every rule a hunt with the same options would load (the
shipped native and Sigma rules, or the given ones, plus added Sigma folders), with its source, severity,
ATT&CK techniques and whether it runs, and the ATT&CK coverage (technique -> rules).

A rule "runs" when it compiles for both DuckDB and Trino (the hunt's own rendering, ``hunt.render_rule``);
otherwise its status says why. A file that does not load is listed too, by path, with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamkit.trail.detect.sigma import attack_ids

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.trail.detect.rules import Rule

#: columns of the rules listing and of the coverage table
RULE_COLUMNS = ("id", "title", "source", "kind", "severity", "attack", "status", "notes", "path")
COVERAGE_COLUMNS = ("technique", "rules", "n_rules", "not_running")


def techniques(rule: Rule) -> list[str]:
    """ATT&CK technique ids of a rule: Sigma-style ``attack.tNNNN`` tags, and an ``attack`` list of ids
    (``T1098.001``, ``t1098`` or ``attack.t1098``) where the rule has one."""
    extra = getattr(rule, "attack", None) or []
    extra = [extra] if isinstance(extra, str) else list(extra)
    spelled = [x if str(x).lower().startswith("attack.") else f"attack.{x}" for x in extra]
    return attack_ids([*list(rule.tags or []), *spelled])


def source(rule_path: str) -> str:
    """``shipped/native``, ``shipped/sigma`` or the rule file's path (user-provided)."""
    from iamkit.trail.detect.rules import SHIPPED_DIR

    try:
        Path(rule_path).resolve().relative_to(SHIPPED_DIR)
    except (ValueError, OSError):
        return rule_path
    return "shipped"


def _status(rule: Rule) -> tuple[str, list[str]]:
    """``ok`` or ``unsupported: <reason>`` (DuckDB, then Trino), and notes: the compiler's warnings and
    pySigma's validation issues."""
    from iamkit.trail.detect import native
    from iamkit.trail.detect.hunt import render_rule
    from iamkit.trail.detect.sigma import SigmaError

    notes: list[str] = []
    for dialect in ("duckdb", "trino"):
        try:
            rr = render_rule(rule, dialect)
        except (SigmaError, native.NativeError) as e:
            return f"unsupported: {e}" + ("" if dialect == "duckdb" else " (Trino)"), notes
        notes += [w for w in rr.warnings if w not in notes]
    if rule.sigma is not None:
        from iamkit.trail.detect.sigma import validate

        notes += validate(rule.sigma)
    if rule.sigma is not None and rule.sigma.used_by:
        notes.append("only through correlation " + ", ".join(rule.sigma.used_by) + " (generate: false)")
    if rule.sigma is not None and rule.sigma.aggregation is not None:
        notes.append("count() aggregation, run as a correlation")
    return "ok", notes


def catalogue(
    rules: Iterable[Rule | str | Path] | None = None, sigma_dirs: Iterable[str | Path] = ()
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rules listing (``RULE_COLUMNS``) and the ATT&CK coverage (``COVERAGE_COLUMNS``) of ``rules``
    (default: the shipped detections) plus the Sigma rules under ``sigma_dirs``."""
    import pandas as pd

    from iamkit.trail.detect.hunt import resolve_rules

    found, errors = resolve_rules(rules, sigma_dirs)
    rows: list[dict[str, Any]] = []
    for r in found:
        status, notes = _status(r)
        where = source(r.path)
        rows.append(
            {
                "id": r.id,
                "title": r.title,
                "source": f"shipped/{'sigma' if r.kind == 'sigma' else 'native'}" if where == "shipped" else where,
                "kind": (r.sigma.kind if r.kind == "sigma" and r.sigma.kind == "correlation" else r.kind),
                "severity": r.severity,
                "attack": ", ".join(techniques(r)),
                "status": status,
                "notes": "; ".join(notes),
                "path": r.path,
            }
        )
    for e in errors:  # files that did not load, and duplicate ids
        rows.append(
            {
                "id": "",
                "title": "",
                "source": source(e["operation"]),
                "kind": "",
                "severity": "",
                "attack": "",
                "status": f"{'duplicate' if e['code'] == 'rule_duplicate' else 'invalid'}: {e['message']}",
                "notes": "",
                "path": e["operation"],
            }
        )
    listing = pd.DataFrame(rows, columns=list(RULE_COLUMNS))
    listing = listing.sort_values(
        ["source", "id"], key=lambda s: s.map(_source_order) if s.name == "source" else s, kind="stable"
    ).reset_index(drop=True)
    return listing, coverage(listing)


def _source_order(value: str) -> str:
    return {"shipped/native": "0", "shipped/sigma": "1"}.get(value, "2" + value)


def coverage(listing: pd.DataFrame) -> pd.DataFrame:
    """Technique -> the rules naming it that run (``rules``, ``n_rules``) and those that do not."""
    import pandas as pd

    by: dict[str, dict[str, list[str]]] = {}
    for rec in listing.to_dict(orient="records"):
        for t in [x for x in str(rec["attack"] or "").split(", ") if x]:
            slot = by.setdefault(t, {"ok": [], "no": []})
            slot["ok" if rec["status"] == "ok" else "no"].append(rec["id"])
    rows = [
        {"technique": t, "rules": ", ".join(v["ok"]), "n_rules": len(v["ok"]), "not_running": ", ".join(v["no"])}
        for t, v in sorted(by.items())
    ]
    return pd.DataFrame(rows, columns=list(COVERAGE_COLUMNS)).astype({"n_rules": "int64"})
