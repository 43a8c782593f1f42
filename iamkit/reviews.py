"""Scheduled reviews: the functions the ``review-*`` notebooks call, one per review, each writing its answers
as data (``evidence/review.json``) and a summary whose headline and figures the report and the cases index show.

- ``inventory_drift``: the organization's inventory, saved in the case, and its drift since the previous run's
  case of the same review (``iamkit.inventory.diff``).
- ``external_access``: what is reachable from outside the organization: IAM Access Analyzer's active findings
  where the endpoint has Access Analyzer, else iamkit's own exposure and trust findings (the report says which).
- ``key_hygiene``: active access keys older than 90 days or unused for 90 days (iamkit's IAMKIT-CRED-001/002),
  proposed as a remediation plan (deactivate, reversible) through ``iamkit.respond``: a dry run, never applied
  here (``iamkit remediate plan|apply CASE`` with the plan's hash is the only way to apply it).
- ``assume_role_hunt``: the shipped detections on AssumeRole calls (new source IP, user agent, country, ASN) over
  the review window, with the baseline they need loaded before it.

The quarterly least-privilege review is its own playbook (``playbooks/least-privilege.yml``, ``iamkit.leastpriv``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamkit.errors import BadInput, IamkitError, NotFound
from iamkit.ui.text import md

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.case import Case

FACTS = "review"
#: external-access rules when Access Analyzer is missing: resources open to anyone or to outside accounts, and
#: roles anyone or an outside account can assume
EXTERNAL_RULES = [
    "IAMKIT-EXPO-001",
    "IAMKIT-EXPO-002",
    "IAMKIT-TRUST-002",
    "IAMKIT-TRUST-003",
    "IAMKIT-TRUST-004",
    "IAMKIT-TRUST-005",
]
KEY_RULES = ["IAMKIT-CRED-001", "IAMKIT-CRED-002"]
BASELINE = dt.timedelta(days=14)  # history loaded before a hunt's window (the rules' first-seen baselines: 7 days)


def open_case(case_dir: str, review: str, **parameters: Any) -> Case:
    """The case a review notebook writes into: ``case_dir`` (set by ``iamkit run``), or a new case of ``review``
    under the cases folder when the notebook runs alone in JupyterLab."""
    from iamkit import config
    from iamkit.case import Case

    if case_dir:
        return Case.open_for_write(case_dir, actor=f"notebook {review}")
    return Case.create(config.load().cases_dir, review, parameters)


def done(case: Case) -> str:
    """End the notebook's work: under ``iamkit run`` the run finishes the case; alone, the report is built and
    the case finished here."""
    if case._role != "owner":
        return f"case {case.id}: {case.status} (the run finishes it)"
    from iamkit import report
    from iamkit.playbook import rebuild_index

    report.build(case)
    case.finish("complete")
    rebuild_index(case.path.parent)
    return f"case {case.id}: {case.status}; report: {case.path / 'report.html'}"


@dataclass
class Review:
    """A review's result: its facts (what the test compares with the answer key), headline, figures and frames."""

    title: str
    facts: dict[str, Any]
    headline: list[str]
    figures: dict[str, float]
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def sections(self):
        yield self.title, md("\n".join("- {}" for _ in self.headline), *self.headline)
        for n in self.notes:
            yield "", md("*{}*", n)
        for name, df in self.frames.items():
            yield name.replace("-", " "), df


def _save(case: Case, r: Review, tables: dict[str, str]) -> Review:
    """Facts, frames and the summary (headline first, figures for the index's trends) into the case."""
    for name, df in r.frames.items():
        case.save_frame(name, df)
    case.save_json(FACTS, r.facts)
    case.save_json(
        "summary",
        {
            "title": r.title,
            "headline": r.headline,
            "figures": r.figures,
            "tables": {k: v for k, v in tables.items() if k in r.frames},
        },
    )
    return r


def _collect(case: Case, parts: list[str] | None = None) -> Any:
    """The organization's inventory (every account the caller reaches), saved in the case as evidence."""
    from iamkit import inventory

    inv = inventory.collect(org=True, parts=parts)
    inv.save(case.evidence / "inventory")
    if len(inv.errors):
        case.save_frame("inventory-errors", inv.errors)
    return inv


def _iso(v: Any) -> str | None:
    import pandas as pd

    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    return pd.Timestamp(v).tz_convert("UTC").isoformat().replace("+00:00", "Z") if not isinstance(v, str) else v


# ------------------------------------------------------------------------------------------------ inventory
def inventory_counts(inv: Any) -> dict[str, int]:
    """Principals by type, access keys and resource policies with a document, over every account."""
    p = inv.principals
    return {
        "accounts": int(len(inv.accounts)),
        "users": int((p["principal_type"] == "user").sum()),
        "roles": int((p["principal_type"] == "role").sum()),
        "groups": int((p["principal_type"] == "group").sum()),
        "access_keys": int(len(inv.access_keys)),
        "resource_policies": int(inv.resource_policies["policy"].map(bool).sum()),
    }


def previous_case(case: Case, review: str) -> Path | None:
    """The newest completed case of ``review`` beside this one that holds an inventory snapshot."""
    from iamkit import caseindex

    runs = [
        r
        for r in caseindex.scan(case.path.parent)
        if r["playbook"] == review
        and r["id"] != case.id
        and r["status"] in caseindex.COMPLETE
        and (case.path.parent / r["id"] / "evidence" / "inventory" / "manifest.json").is_file()
    ]
    return case.path.parent / runs[-1]["id"] if runs else None


def inventory_drift(case: Case, review: str = "review-inventory") -> Review:
    """Collect the inventory into the case and diff it with the previous run's snapshot (verified first)."""
    from iamkit import inventory
    from iamkit.case import Case as CaseType

    inv = _collect(case)
    counts = inventory_counts(inv)
    prev = previous_case(case, review)
    drift = None
    notes = []
    if prev is not None:
        problems = CaseType.open(prev).verify()
        if problems:
            notes.append(f"previous case {prev.name} does not verify ({problems[0]}): drift not computed")
            case.note_unanswered("inventory", "drift since the previous run", notes[-1])
            prev = None
        else:
            drift = inventory.diff(inventory.Inventory.load(prev / "evidence" / "inventory"), inv)
    changes = {"added": 0, "removed": 0, "changed": 0}
    items: list[dict[str, Any]] = []
    if drift is not None:
        for c in changes:
            changes[c] = int((drift["change"] == c).sum())
        items = sorted(
            ({"kind": r["kind"], "change": r["change"], "key": r["key"]} for r in drift.to_dict("records")),
            key=lambda x: (x["kind"], x["change"], x["key"] or ""),
        )
    facts = {
        "review": review,
        "counts": counts,
        "previous_case": prev.name if prev else None,
        "drift": changes if drift is not None else None,
        "drift_items": items,
        "collection_errors": int(len(inv.errors)),
    }
    headline = [
        f"Inventory: {counts['accounts']} accounts, {counts['users']} users, {counts['roles']} roles, "
        f"{counts['groups']} groups, {counts['access_keys']} access keys, {counts['resource_policies']} "
        "resource policies"
    ]
    if drift is None:
        headline.append(
            "Drift: no previous run to compare with (this run is the baseline)"
            if not notes
            else f"Drift: not computed ({notes[0]})"
        )
    else:
        headline.append(
            f"Drift since {prev.name}: {changes['added']} added, {changes['removed']} removed, "
            f"{changes['changed']} changed"
        )
    if len(inv.errors):
        headline.append(f"{len(inv.errors)} collection call(s) failed or are not supported (inventory-errors)")
    figures = {
        **{k: float(v) for k, v in counts.items()},
        **({f"drift_{k}": float(v) for k, v in changes.items()} if drift is not None else {}),
    }
    frames = {"drift": drift} if drift is not None else {}
    r = Review("Weekly inventory and drift", facts, headline, figures, frames, notes)
    return _save(case, r, {"drift": "Drift since the previous run"})


# ------------------------------------------------------------------------------------------------ external access
def _analyzer_available(inv: Any) -> bool:
    """Access Analyzer answered (an analyzer is listed and ListAnalyzers did not fail) in the inventory."""
    e = inv.errors
    failed = len(e) and (e["operation"].astype(str).str.lower() == "access-analyzer:listanalyzers").any()
    has = (inv.posture["control"] == "access_analyzer.analyzer").any() if len(inv.posture) else False
    return bool(has) and not failed


def external_findings(inv: Any) -> tuple[str, pd.DataFrame]:
    """(where the findings come from, one row per finding: source, account_id, resource_arn, detail):
    Access Analyzer's active findings when the inventory reached it, else iamkit's own ``EXTERNAL_RULES``."""
    import pandas as pd

    from iamkit import assess

    if _analyzer_available(inv):
        p = inv.posture
        rows = p[(p["control"] == "access_analyzer.finding") & (p["status"] == "active")]
        return "access-analyzer", pd.DataFrame(
            {
                "source": "access-analyzer",
                "account_id": rows["account_id"].tolist(),
                "resource_arn": rows["resource_arn"].tolist(),
                "detail": rows["detail"]
                .map(lambda d: d if isinstance(d, str) else json.dumps(d, default=str, sort_keys=True))
                .tolist(),
            }
        )
    f = assess.run(inv, rules=EXTERNAL_RULES)
    f = f[f["rule_id"].isin(EXTERNAL_RULES)]
    return "iamkit", pd.DataFrame(
        {
            "source": f["rule_id"],
            "severity": f["severity"],
            "account_id": f["account_id"],
            "resource_arn": f["resource_arn"].fillna(f["principal_arn"]),
            "detail": f["detail"],
        }
    ).reset_index(drop=True)


SOURCES = {
    "access-analyzer": "IAM Access Analyzer (active findings)",
    "iamkit": "iamkit's own exposure and trust findings (Access Analyzer is not available at this endpoint)",
}


def external_access(case: Case) -> Review:
    """Resources and roles reachable from outside the organization."""
    inv = _collect(case)
    kind, found = external_findings(inv)
    source = SOURCES[kind]
    arns = sorted(set(found["resource_arn"].dropna().astype(str)))
    roles = [a for a in arns if ":role/" in a]
    resources = [a for a in arns if a not in roles]
    facts = {
        "review": "review-external-access",
        "source": kind,
        "exposed_resources": resources,
        "external_roles": roles,
    }
    headline = [
        f"External access: {len(resources)} resource(s) and {len(roles)} role(s) reachable from outside "
        "the organization",
        f"Source: {source}",
    ]
    if resources:
        headline.append(
            "Resources: " + ", ".join(resources[:5]) + (f" and {len(resources) - 5} more" if len(resources) > 5 else "")
        )
    r = Review(
        "Weekly external-access review",
        facts,
        headline,
        {"exposed_resources": float(len(resources)), "external_roles": float(len(roles))},
        {"external-access": found},
        [f"Source of these findings: {source}."],
    )
    return _save(case, r, {"external-access": "Reachable from outside the organization"})


# ------------------------------------------------------------------------------------------------ key hygiene
def key_hygiene(case: Case) -> Review:
    """Active keys older than 90 days or unused for 90 days, and a dry-run plan deactivating each (reversible)."""
    import pandas as pd

    from iamkit import assess
    from iamkit.respond import Action, Plan, capture_before
    from iamkit.respond.sessions import iam_client_for

    inv = _collect(case, parts=["iam", "credentials"])
    f = assess.run(inv, rules=KEY_RULES)
    f = f[f["rule_id"].isin(KEY_RULES)]
    keys = inv.access_keys.set_index("access_key_id")
    stale: dict[str, dict[str, Any]] = {}
    for r in f.to_dict("records"):
        ev = json.loads(r["evidence"] or "{}")
        kid = ev.get("access_key_id")
        if not kid:
            continue
        k = keys.loc[kid] if kid in keys.index else None
        e = stale.setdefault(
            kid,
            {
                "access_key_id": kid,
                "account_id": r["account_id"],
                "user_arn": r["principal_arn"],
                "user_name": k["user_name"] if k is not None else "",
                "created": _iso(k["created"]) if k is not None else None,
                "last_used": _iso(k["last_used"]) if k is not None else None,
                "reasons": [],
            },
        )
        e["reasons"].append(r["detail"])
    rows = sorted(stale.values(), key=lambda x: x["access_key_id"])
    actions = [
        Action(
            "deactivate_access_key",
            x["account_id"],
            x["user_arn"],
            {"access_key_id": x["access_key_id"], "user_name": x["user_name"]},
            "; ".join(x["reasons"]),
        )
        for x in rows
    ]
    plan = capture_before(Plan(case.id, actions), iam_client_for) if actions else Plan(case.id, [])
    case.save_json("remediation-plan", plan.to_dict())
    facts = {
        "review": "review-key-hygiene",
        "stale_keys": [x["access_key_id"] for x in rows],
        "planned": sorted(a.params["access_key_id"] for a in plan.actions),
        "applied": False,
        "plan_hash": plan.hash,
    }
    frame = pd.DataFrame(
        [{**x, "reasons": "; ".join(x["reasons"])} for x in rows],
        columns=["access_key_id", "account_id", "user_arn", "user_name", "created", "last_used", "reasons"],
    )
    headline = [
        f"Key hygiene: {len(rows)} active key(s) older than 90 days or unused for 90 days",
        f"Proposed (dry run, not applied): deactivate {len(actions)} key(s), plan {plan.hash}; review "
        f"with `iamkit remediate plan {case.path}`, apply only with --approve {plan.hash}",
    ]
    r = Review(
        "Monthly access-key hygiene",
        facts,
        headline,
        {"stale_keys": float(len(rows))},
        {"stale-keys": frame, "key-plan": plan.frame()},
    )
    return _save(case, r, {"stale-keys": "Stale access keys", "key-plan": "Proposed remediation (dry run)"})


# ------------------------------------------------------------------------------------------------ AssumeRole hunt
def assume_role_rules() -> list[Any]:
    """The shipped detections on AssumeRole calls (the rules whose ``event_names`` are AssumeRole*)."""
    from iamkit.trail.detect import load_rules

    rules, errors = load_rules(None)
    if errors:
        raise BadInput(f"shipped detections did not load: {errors[0]}")
    return [r for r in rules if any(str(n).startswith("AssumeRole") for n in (r.params or {}).get("event_names", []))]


def _ip_context(case: Case) -> Any:
    """Offline IP context for the country and ASN rules: the MaxMind databases configured, else none."""
    from iamkit import config
    from iamkit.trail.ipcontext import IpContext

    settings = config.load()
    try:
        return IpContext(country_mmdb=settings.country_mmdb or None, asn_mmdb=settings.asn_mmdb or None)
    except IamkitError as e:
        case.note_unanswered("hunt", "country and ASN of the source IPs", str(e))
        return IpContext()


def assume_role_hunt(case: Case, trail_source: str = "auto", start: str = "", end: str = "") -> Review:
    """The AssumeRole detections whose calls fall in the window (default: the last day), over a trail loaded
    ``BASELINE`` before it so first-seen rules have their history."""
    import pandas as pd

    from iamkit import trail
    from iamkit.investigate.access_key import load_trail, trail_db
    from iamkit.trail.detect import hunt
    from iamkit.window import Window

    w = Window.parse(
        start or None, end or None, end_now=True, default_span=dt.timedelta(days=1), names=("start", "end")
    )
    if w.start is None or w.end is None or w.start >= w.end:
        raise BadInput(f"start {start!r} is not before end {end or 'now'}")
    loaded = load_trail(case, trail_source, (w.start - BASELINE).isoformat(), w.end.isoformat())
    rules = assume_role_rules()
    with trail.open(trail_db(case)) as t:
        res = hunt(t, rules=rules, ip_context=_ip_context(case))
    d = res.detections
    if len(d):
        d = d[pd.to_datetime(d["last_seen"], utc=True) >= pd.Timestamp(w.start)]
    d = d.reset_index(drop=True)
    if len(res.errors):
        case.save_frame("hunt-errors", res.errors)
        for e in res.errors.to_dict("records"):
            case.note_unanswered("hunt", f"detection {e.get('operation')}", f"{e.get('code')}: {e.get('message')}")
    items = sorted(
        (
            {
                "detection_id": r["detection_id"],
                "principal_arn": r["principal_arn"],
                "access_key_id": r["access_key_id"],
            }
            for r in d.to_dict("records")
        ),
        key=lambda x: (x["detection_id"], x["principal_arn"] or "", x["access_key_id"] or ""),
    )
    facts = {
        "review": "review-assume-role-hunt",
        "window": {"start": w.start.isoformat(), "end": w.end.isoformat()},
        "rules": sorted(r.id for r in rules),
        "detections": items,
        "events_loaded": int(loaded.counters.get("events_in_store", 0)),
    }
    who = sorted({x["principal_arn"] for x in items if x["principal_arn"]})
    headline = [
        f"AssumeRole hunt {w.start:%Y-%m-%d %H:%M} → {w.end:%Y-%m-%d %H:%M} UTC: {len(items)} detection(s) "
        f"by {len(who)} principal(s), {len(rules)} rules",
        ("Principals: " + ", ".join(who[:5]) + (f" and {len(who) - 5} more" if len(who) > 5 else ""))
        if who
        else "No AssumeRole call stood out",
    ]
    r = Review(
        "Daily AssumeRole threat hunt",
        facts,
        headline,
        {"detections": float(len(items)), "principals": float(len(who))},
        {"assume-role-detections": d},
        [f"Trail: {loaded.source}, loaded from {loaded.start}."],
    )
    return _save(case, r, {"assume-role-detections": "AssumeRole detections in the window"})


def review_facts(case_dir: Path | str) -> dict[str, Any]:
    """A review case's facts (``evidence/review.json``)."""
    from iamkit import jsontext

    p = Path(case_dir) / "evidence" / f"{FACTS}.json"
    if not p.is_file():
        raise NotFound(f"{case_dir}: no review facts (evidence/{FACTS}.json)")
    try:
        return jsontext.read(p)
    except IamkitError as e:
        raise BadInput(str(e)) from None


__all__ = [
    "Review",
    "assume_role_hunt",
    "done",
    "external_access",
    "inventory_drift",
    "key_hygiene",
    "open_case",
    "review_facts",
]
