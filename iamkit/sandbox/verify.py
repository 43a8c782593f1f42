"""Check an inventory against the scenario manifest: what the sandbox seeded is what a collection must find.

Used by the sandbox tests (default size) and the inventory bench (20 x 500), so both sizes are held to the
same ground truth (``SeededOrg.counts`` per account, and the seeded role lists). ``authorization_request``
turns a scenario's CloudTrail record into the request IAM decided, so a test can replay the scenario through
the policy engine against the seeded IAM (the coherence test).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from iamkit import frames
from iamkit.inventory import FRAME_NAMES, Inventory

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.sandbox.model import SeededOrg


def _n(df: pd.DataFrame, account: str, **eq: Any) -> int:
    mask = df["account_id"] == account
    for col, val in eq.items():
        mask &= df[col] == val
    return int(mask.sum())


#: ``SeededOrg.counts["per_account"][acct]`` keys -> how to count them in an inventory (others are ignored)
COUNTERS: dict[str, Callable[[Inventory, str], int]] = {
    "users": lambda inv, a: _n(inv.principals, a, principal_type="user"),
    "roles": lambda inv, a: _n(inv.principals, a, principal_type="role"),
    "groups": lambda inv, a: _n(inv.principals, a, principal_type="group"),
    "access_keys": lambda inv, a: _n(inv.access_keys, a),
    "resource_policies": lambda inv, a: int(
        ((inv.resource_policies["account_id"] == a) & inv.resource_policies["policy"].map(bool)).sum()
    ),
}


def count_mismatches(inv: Inventory, org: SeededOrg) -> tuple[int, list[str]]:
    """(how many counts were checked, one line per count that differs from the manifest)."""
    problems: list[str] = []
    checked = 0
    for acct, counts in ((org.counts or {}).get("per_account") or {}).items():
        for key, want in counts.items():
            if key in COUNTERS:
                got = COUNTERS[key](inv, acct)
                checked += 1
                if got != want:
                    problems.append(f"{acct} {key}: manifest {want}, inventory {got}")
    for a in org.accounts:  # ground truth from the seeded lists, whether or not the manifest carries counts
        seeded = sum(1 for r in org.roles if r.account_id == a.account_id)
        got = _n(inv.principals, a.account_id, principal_type="role")
        checked += 1
        if got < seeded:
            problems.append(f"{a.account_id} roles: {seeded} seeded, inventory has {got}")
    return checked, problems


#: frames a collection of the sandbox must fill (Identity Center and posture are seeded too)
FILLED = tuple(n for n in FRAME_NAMES if n != "errors")


def snapshot_problems(inv: Inventory, org: SeededOrg) -> list[str]:
    """Everything a sandbox collection got wrong, one line each (empty: it found what was seeded).

    Frames follow their schemas and the seeded ones are filled; every seeded role, user, access key and
    resource policy is there (the incident may add one user and one key); the manifest's counts agree.
    """
    problems: list[str] = []
    for name in FRAME_NAMES:
        try:
            frames.check(getattr(inv, name), name)
        except ValueError as e:
            problems.append(str(e))
    problems += [f"{name}: empty" for name in FILLED if not len(getattr(inv, name))]
    p = inv.principals
    arns = set(p["arn"])
    problems += [f"role missing: {r.arn}" for r in org.roles if r.arn not in arns]
    problems += [f"user missing: {u.arn}" for u in org.users if u.arn not in arns]
    keys = set(inv.access_keys["access_key_id"])
    problems += [
        f"access key missing: {k.access_key_id}"
        for u in org.users
        for k in u.access_keys
        if k.access_key_id not in keys
    ]
    rp = inv.resource_policies.drop_duplicates("resource_arn").set_index("resource_arn")["policy"]
    for res in org.resources:
        if res.arn not in rp.index:
            problems.append(f"resource missing: {res.arn}")
        elif res.policy and not (isinstance(rp[res.arn], dict) and rp[res.arn].get("Statement")):
            problems.append(f"resource policy empty: {res.arn}")
    problems += count_mismatches(inv, org)[1]
    return problems


# ---------------------------------------------------------------- coherence: a record as an authorization request
#: CloudTrail event names whose IAM action is named differently
_ACTIONS = {
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
}
#: calls that need no permission at all
_NO_PERMISSION = {("sts", "GetCallerIdentity")}
#: IAM calls that act on the calling user when they name none
_SELF = {
    "GetUser",
    "ListAttachedUserPolicies",
    "ListUserPolicies",
    "ListGroupsForUser",
    "ListAccessKeys",
    "ListMFADevices",
    "CreateAccessKey",
}


def authorization_request(record: dict[str, Any]) -> dict[str, Any] | None:
    """The request IAM authorized (or refused) for a CloudTrail record, for the policy engine to replay:
    ``{"principal": user or role ARN, "action", "resource", "context"}``; None for records IAM policies do not
    decide — sign-in events, AWS service events, calls an AWS service made for the caller (``invokedBy``:
    authorized by that service's own grant), calls needing no permission (GetCallerIdentity), and callers that
    are not IAM users or role sessions."""
    ui = record.get("userIdentity") or {}
    kind = ui.get("type")
    if record.get("eventType") != "AwsApiCall" or kind not in ("IAMUser", "AssumedRole") or "invokedBy" in ui:
        return None
    svc = record["eventSource"].split(".", 1)[0]
    name = re.sub(r"\d{8}$", "", record["eventName"])  # ListFunctions20150331 -> ListFunctions
    if (svc, name) in _NO_PERMISSION:
        return None
    action = _ACTIONS.get((svc, name), f"{svc}:{name}")
    account = record["recipientAccountId"]
    rp = record.get("requestParameters") or {}
    principal = ui["arn"] if kind == "IAMUser" else ui["sessionContext"]["sessionIssuer"]["arn"]
    resource = "*"
    if svc == "iam":
        user = rp.get("userName") or (ui.get("userName") if kind == "IAMUser" and name in _SELF else None)
        if user:
            resource = f"arn:aws:iam::{account}:user/{user}"
    elif svc == "sts" and rp.get("roleArn"):
        resource = rp["roleArn"]
    elif svc == "secretsmanager" and rp.get("secretId"):
        resource = rp["secretId"]
    elif svc == "s3" and rp.get("bucketName"):
        resource = f"arn:aws:s3:::{rp['bucketName']}" + (f"/{rp['key']}" if rp.get("key") else "")
    elif svc == "cloudtrail" and (rp.get("name") or rp.get("trailName")):
        resource = rp.get("name") or rp.get("trailName")
    context = {"aws:SourceIp": record["sourceIPAddress"], "aws:CurrentTime": record["eventTime"]}
    if rp.get("policyArn"):
        context["iam:PolicyARN"] = rp["policyArn"]
    return {"principal": principal, "action": action, "resource": resource, "context": context}


def incoherent(
    records: list[tuple[int, str, dict, str]], allowed: Callable[[dict[str, Any]], bool]
) -> tuple[int, list[str]]:
    """Replay scenario records (``trailgen.scenario_records``) through ``allowed(request) -> bool`` (the policy
    engine over the seeded IAM, SCPs and resource policies): a call written as succeeded or failed for another
    reason than a denial must be allowed, a denied one must not. Returns (requests replayed, one line per
    record the policies contradict)."""
    checked, problems = 0, []
    for _t, _kind, rec, outcome in records:
        req = authorization_request(rec)
        if req is None:
            continue
        checked += 1
        ok = allowed(req)
        if ok == (outcome == "denied"):
            problems.append(
                f"{rec['eventTime']} {rec['eventName']} by {req['principal']} on {req['resource']}: "
                f"written {outcome}, the policies {'allow' if ok else 'deny'} {req['action']}"
            )
    return checked, problems
