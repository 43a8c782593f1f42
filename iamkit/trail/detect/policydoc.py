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
                        reasons.append(
                            f"advanced selector excludes sources {f.get('notEquals') or f.get('notStartsWith')}"
                        )
        if not management:
            reasons.append("advanced selectors log no management events")
    return list(dict.fromkeys(reasons))


def _foreign(acct: str, own: str | None, trusted: set[str]) -> bool:
    return own is not None and acct != own and acct not in trusted


def share_grants(params: dict, own: str | None, trusted: set[str]) -> list[str]:
    """Reasons a Modify{Snapshot,Image,DBSnapshot,DBClusterSnapshot}Attribute request shares the resource
    publicly (group ``all``) or with a foreign account."""
    reasons: list[str] = []
    what = (
        params.get("snapshotId")
        or params.get("imageId")
        or params.get("dBSnapshotIdentifier")
        or params.get("dBClusterSnapshotIdentifier")
        or "?"
    )
    for attr in ("createVolumePermission", "launchPermission"):
        block = params.get(attr)
        add = block.get("add") if isinstance(block, dict) else None
        items = add.get("items") if isinstance(add, dict) else add
        for item in _as_list(items):
            if not isinstance(item, dict):
                continue
            if str(item.get("group", "")).lower() == "all":
                reasons.append(f"{what} made public ({attr} group all)")
            acct = str(item.get("userId") or "")
            if _ACCOUNT.match(acct) and _foreign(acct, own, trusted):
                reasons.append(f"{what} shared with foreign account {acct}")
            org = item.get("organizationArn") or item.get("organizationalUnitArn")
            if org:
                reasons.append(f"{what} shared with {org}")
    if str(params.get("attributeName", "")).lower() == "restore":
        for v in (str(x) for x in _as_list(params.get("valuesToAdd"))):
            if v.lower() == "all":
                reasons.append(f"{what} made public (restore all)")
            elif _ACCOUNT.match(v) and _foreign(v, own, trusted):
                reasons.append(f"{what} shared with foreign account {v}")
    return list(dict.fromkeys(reasons))


#: condition keys that keep a ``Principal: *`` statement from being public (IAM Access Analyzer's view)
_RESTRICTING = frozenset(
    {
        "aws:sourcevpce",
        "aws:sourcevpc",
        "aws:sourceip",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalaccount",
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:principalarn",
        "aws:userid",
        "aws:sourceorgid",
        "aws:sourceorgpaths",
        "s3:dataaccesspointaccount",
        "s3:dataaccesspointarn",
    }
)
_PUBLIC_GROUPS = ("/groups/global/allusers", "/groups/global/authenticatedusers")
_PUBLIC_ACLS = {"public-read", "public-read-write", "authenticated-read"}


def _restricted(statement: dict) -> bool:
    cond = statement.get("Condition")
    if not isinstance(cond, dict):
        return False
    return any(str(k).lower() in _RESTRICTING for block in cond.values() if isinstance(block, dict) for k in block)


def _strings(value: Any, depth: int = 0) -> list[str]:
    """Every string inside a JSON value (bounded depth)."""
    if depth > 20:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v, depth + 1)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v, depth + 1)]
    return []


def bucket_exposure(event_name: str, params: dict, own: str | None, trusted: set[str]) -> list[str]:
    """Reasons an S3 call opens a bucket: a policy allowing anyone (no restricting condition) or a foreign
    account, an ACL granting AllUsers/AuthenticatedUsers, a public access block removed or turned off."""
    bucket = str(params.get("bucketName") or "")
    name = event_name.lower()
    if name == "putbucketpolicy":
        doc = load_document(params.get("bucketPolicy") or params.get("policy"))
        if doc is None:
            return []
        reasons = []
        for st in statements(doc):
            if str(st.get("Effect", "")).lower() != "allow":
                continue
            for r in trust_openings({"Statement": [st]}, own, trusted):
                if "anyone" not in r and "foreign" not in r:
                    continue  # the bucket's own account
                if "anyone" in r and _restricted(st):
                    continue
                reasons.append(f"bucket {bucket} policy: {r.replace(' with conditions', '')}")
        return list(dict.fromkeys(reasons))
    if name == "putbucketacl":
        reasons = [
            f"bucket {bucket} ACL grants {s.rsplit('/', 1)[-1]}"
            for s in _strings(params)
            if s.lower().endswith(_PUBLIC_GROUPS)
        ]
        acl = params.get("x-amz-acl")
        reasons += [f"bucket {bucket} canned ACL {a}" for a in _as_list(acl) if str(a).lower() in _PUBLIC_ACLS]
        return list(dict.fromkeys(reasons))
    if name.startswith("delete"):
        return [f"public access block removed{' from bucket ' + bucket if bucket else ' (account-wide)'}"]
    conf = params.get("PublicAccessBlockConfiguration") or params.get("publicAccessBlockConfiguration") or {}
    off = [k for k, v in conf.items() if v in (False, "false")] if isinstance(conf, dict) else []
    return (
        [f"public access block turned off{' on bucket ' + bucket if bucket else ''}: {', '.join(off)}"] if off else []
    )


def replication_targets(params: dict, own: str | None, trusted: set[str]) -> list[str]:
    """Reasons a PutBucketReplication request replicates to another account."""
    conf = params.get("ReplicationConfiguration") or params.get("replicationConfiguration") or {}
    reasons = []
    for rule in _as_list(conf.get("Rule") or conf.get("Rules")) if isinstance(conf, dict) else []:
        dest = rule.get("Destination") if isinstance(rule, dict) else None
        if not isinstance(dest, dict):
            continue
        acct = str(dest.get("Account") or "")
        if _ACCOUNT.match(acct) and _foreign(acct, own, trusted):
            reasons.append(
                f"bucket {params.get('bucketName') or '?'} replicates to {dest.get('Bucket') or '?'} "
                f"in foreign account {acct}"
            )
    return list(dict.fromkeys(reasons))
