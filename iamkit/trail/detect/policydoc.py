"""Reading IAM policy documents as CloudTrail records carry them (JSON strings, sometimes URL-encoded)
and spotting dangerous grants and opened trusts. Pure functions on a handful of candidate rows."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from iamkit.policy.matching import action_matches

_ACCOUNT = re.compile(r"^\d{12}$")
_ARN_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):(.*)$")


def load_document(value: Any) -> dict | None:
    """A policy document from a dict, a JSON string, or a URL-encoded JSON string; None if unreadable."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    for candidate in (text, unquote(text), unquote(text.replace("+", " "))):
        try:
            doc = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(doc, str):  # double-encoded
            return load_document(doc)
        return doc if isinstance(doc, dict) else None
    return None


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def statements(doc: dict) -> list[dict]:
    """The statements of a document (``Statement`` may be one object or a list)."""
    return [s for s in _as_list(doc.get("Statement")) if isinstance(s, dict)]


def dangerous_grants(doc: dict, targets: list[str]) -> list[str]:
    """Reasons ``doc`` allows any of ``targets`` (action names, wildcards allowed: ``iam:CreatePolicy*``).

    An allowed action pattern is reported when it is a full wildcard (``*``, ``service:*`` of a target's
    service) or when it grants a target action; ``NotAction`` with Allow is reported unless it excludes
    every concrete (non-wildcard) target.
    """
    reasons: list[str] = []
    for st in statements(doc):
        if str(st.get("Effect", "")).lower() != "allow":
            continue
        res = ", ".join(str(r) for r in _as_list(st.get("Resource") or st.get("NotResource"))) or "?"
        for pattern in (str(a) for a in _as_list(st.get("Action"))):
            hit = _pattern_hits(pattern, targets)
            if hit:
                reasons.append(f"Allow {pattern!r} on {res} ({hit})")
        not_actions = [str(a).lower() for a in _as_list(st.get("NotAction"))]
        if not_actions:
            concrete = [t for t in targets if t != "*" and not t.endswith(":*")]
            open_targets = [t for t in concrete if not any(_grants(na, t) for na in not_actions)]
            if open_targets:
                reasons.append(f"Allow NotAction {not_actions} on {res} (leaves {', '.join(open_targets)})")
    return list(dict.fromkeys(reasons))


def _grants(pattern: str, target: str) -> bool:
    """True when action ``pattern`` (an IAM glob from hostile trail data) matches a concrete or wildcard ``target``."""
    if action_matches(pattern, target):
        return True
    # target with a wildcard (iam:CreatePolicy*): the pattern grants some action the target names
    stem = target.rstrip("*")
    return target.endswith("*") and (action_matches(pattern, stem) or action_matches(pattern, stem + "version"))


def _pattern_hits(pattern: str, targets: list[str]) -> str:
    p = pattern.lower()
    if p == "*":
        return "full admin: every action"
    services = {t.split(":")[0].lower() for t in targets if ":" in t}
    if p.endswith(":*") and p.split(":")[0] in services:
        return f"every {p.split(':')[0]} action"
    hits = [t for t in targets if t != "*" and not t.endswith(":*") and _grants(pattern, t)]
    return ("grants " + ", ".join(hits)) if hits else ""


def trust_openings(doc: dict, own_account: str | None, trusted: set[str]) -> list[str]:
    """Reasons a trust policy lets outsiders assume the role: ``*``, an account root, a foreign account."""
    reasons: list[str] = []
    for st in statements(doc):
        if str(st.get("Effect", "")).lower() != "allow":
            continue
        cond = " with conditions" if st.get("Condition") else ""
        principal = st.get("Principal")
        if principal == "*" or (isinstance(principal, str) and principal.strip() == "*"):
            reasons.append(f"Principal '*' (anyone){cond}")
            continue
        if not isinstance(principal, dict):
            continue
        for kind, values in principal.items():
            for v in (str(x) for x in _as_list(values)):
                if v == "*":
                    reasons.append(f"Principal {kind} '*' (anyone){cond}")
                    continue
                if kind.upper() != "AWS":
                    continue
                acct, rest = _principal_account(v)
                if acct is None:
                    continue
                is_root = rest in ("", "root")
                foreign = own_account is not None and acct != own_account and acct not in trusted
                if is_root and foreign:
                    reasons.append(f"foreign account root {acct}{cond}")
                elif is_root and acct not in trusted:
                    reasons.append(f"account root {acct} (any principal of the account it allows){cond}")
                elif foreign:
                    reasons.append(f"foreign account principal {v}{cond}")
    return list(dict.fromkeys(reasons))


def _principal_account(value: str) -> tuple[str | None, str]:
    if _ACCOUNT.match(value):
        return value, ""
    m = _ARN_ACCOUNT.match(value)
    return (m.group(1), m.group(2)) if m else (None, "")


def selector_narrowing(params: dict) -> list[str]:
    """Reasons a PutEventSelectors request logs less than all management events."""
    reasons: list[str] = []
    basic = params.get("eventSelectors")
    advanced = params.get("advancedEventSelectors")
    for sel in _as_list(basic):
        if not isinstance(sel, dict):
            continue
        if sel.get("includeManagementEvents") in (False, "false"):
            reasons.append("includeManagementEvents false")
        rw = str(sel.get("readWriteType") or "All")
        if rw.lower() != "all":
            reasons.append(f"readWriteType {rw}")
        if sel.get("excludeManagementEventSources"):
            reasons.append(f"excludeManagementEventSources {sel['excludeManagementEventSources']}")
    if basic is not None and not _as_list(basic) and not advanced:
        reasons.append("event selectors emptied")
    if advanced:
        management = False
        for sel in _as_list(advanced):
            fields = [f for f in _as_list((sel or {}).get("fieldSelectors")) if isinstance(f, dict)]
            cats = [f for f in fields if str(f.get("field")).lower() == "eventcategory"]
            if any("Management" in _as_list(f.get("equals")) for f in cats):
                management = True
                for f in fields:
                    name = str(f.get("field"))
                    if name.lower() == "readonly":
                        reasons.append(f"advanced selector keeps only readOnly={_as_list(f.get('equals'))}")
                    if name.lower() == "eventsource" and (f.get("notEquals") or f.get("notStartsWith")):
                        reasons.append(f"advanced selector excludes sources {f.get('notEquals') or f.get('notStartsWith')}")
        if not management:
            reasons.append("advanced selectors log no management events")
    return list(dict.fromkeys(reasons))
