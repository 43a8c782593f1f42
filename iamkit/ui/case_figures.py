"""The figures of a key investigation, drawn from its case folder alone (evidence frames and facts): the same
list for the post-mortem notebook (interactive) and the report (static SVG).

Each entry says what it answers and what to look for; one that cannot be drawn (its evidence is missing or
unreadable) is kept as a one-line reason, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iamkit import arn as arns

if TYPE_CHECKING:  # pragma: no cover
    from iamkit.case import Case


@dataclass
class CaseFigure:
    key: str
    title: str
    look_for: str
    figure: Any = None  # a plotly figure, or None when it could not be drawn
    missing: str = ""  # why not


def _frame(case: Case, name: str):
    p = case.evidence / f"{name}.parquet"
    if not p.is_file():
        return None
    import pandas as pd

    return pd.read_parquet(p)


def _inventory(case: Case):
    folder = case.evidence / "inventory"
    if not (folder / "manifest.json").is_file():
        return None
    from iamkit.inventory import Inventory

    return Inventory.load(folder)


def case_figures(case: Case, facts: dict[str, Any] | None = None) -> list[CaseFigure]:
    """Every figure the case's evidence can draw, in reading order."""
    from iamkit.ui import figures as F

    if facts is None:
        from iamkit import jsontext

        p = case.evidence / "facts.json"
        facts = jsontext.read(p) if p.is_file() else {}
    facts = facts if isinstance(facts, dict) else {}
    out: list[CaseFigure] = []

    def add(key: str, title: str, look_for: str, make) -> None:
        try:
            fig = make()
        except Exception as e:  # evidence is hostile and may be damaged: say which figure and why, go on
            out.append(CaseFigure(key, title, look_for, None, f"{e.__class__.__name__}: {str(e)[:200]}"))
            return
        if fig is None:
            out.append(CaseFigure(key, title, look_for, None, "no evidence for it in this case"))
        else:
            out.append(CaseFigure(key, title, look_for, fig))

    events = _frame(case, "key-events")
    if events is None:  # the other playbooks keep their subject's calls (iamkit.investigate.subject)
        events = _frame(case, "subject-events")
    subject = facts.get("subject") or {}
    add(
        "timeline",
        "The suspicious window, call by call",
        "Red lanes are IPs the subject had not used in its first day; ✕ marks a denied call. The shaded band is the "
        "suspicious window: everything in it came from the attacker's IPs or what they created.",
        lambda: None if events is None else F.activity_timeline(events, facts),
    )
    add(
        "sources",
        "Calls over time, by source IP and country",
        "The whole loaded period: the owner's usual IPs day after day, then the new ones.",
        lambda: None if events is None else F.sources_over_time(events, facts),
    )
    add(
        "map",
        "Where the calls came from",
        "Countries from offline data (iptocc, or MaxMind files when configured); documentation and private "
        "addresses have none.",
        lambda: None if events is None else F.ip_map(events, facts),
    )
    inv = None
    try:
        inv = _inventory(case)
    except Exception as e:
        out.append(CaseFigure("inventory", "IAM of the accounts involved", "", None, f"{e.__class__.__name__}: {e}"))
    roles = [r.get("role_arn") for r in facts.get("roles_assumed") or [] if isinstance(r, dict)]
    accounts = sorted({a for a in [subject.get("account_id"), *(arns.account_of(r) for r in roles)] if a})
    add(
        "trust",
        "Who can assume which role",
        "Orange: the roles the incident assumed. Red: roles anyone, or an account outside the organization, "
        "may assume without ExternalId or MFA — the next lateral step an attacker would look for.",
        lambda: (
            None
            if inv is None
            else F.trust_graph(
                inv.trusts,
                accounts or None,
                org_accounts=inv.accounts["account_id"].tolist() if len(inv.accounts) else None,
                highlight=roles,
            )
        ),
    )
    admins = ((facts.get("reach") or {}).get("admin_principals")) or []
    add(
        "escalation",
        "Paths to administrator",
        "Each principal of the incident that is, or can make itself, administrator, and the method on each step.",
        lambda: None if inv is None else F.escalation_paths(inv, admins or None),
    )
    account = subject.get("account_id")
    cred = _frame(case, f"iam-{account}-credential-report") if account and str(account).isalnum() else None
    created = [str(u).rsplit("/", 1)[-1] for u in (facts.get("created") or {}).get("users") or []]
    owner = str(subject.get("principal_arn") or "").rsplit("/", 1)[-1]
    add(
        "keys",
        "Access keys of the owner's account: age and last use",
        "The leaked key (◀) against the account's other keys: keys older than 90 days (dotted line) and keys "
        "unused for long are the next ones to rotate or delete.",
        lambda: None if cred is None else F.key_age(cred, highlight=[owner, *created]),
    )
    signins = _frame(case, "person-signins")
    if signins is not None:
        add(
            "person",
            "The owner's Entra sign-ins and the key's AWS calls",
            "A new AWS IP with no Entra sign-in from it around that time is a credential used elsewhere.",
            lambda: F.person_timeline(signins, events, facts),
        )
    return out
