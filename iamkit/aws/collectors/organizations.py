"""The organization, seen from the management or a delegated-admin account: accounts with their OU
path, the OU tree, SCPs and RCPs with their targets (and statements), delegated administrators."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from iamkit.aws.calls import Scope
from iamkit.aws.collectors import More, Rows
from iamkit.aws.documents import parse_document, statements
from iamkit.errors import PolicyError

POLICY_TYPES = {"SERVICE_CONTROL_POLICY": "scp", "RESOURCE_CONTROL_POLICY": "rcp"}


def _ou_tree(scope: Scope, org_id: str) -> tuple[dict[str, tuple[str, str]], list[dict[str, Any]]]:
    """Map account id -> (ou id, ou path) and posture rows (control ``organizations.ou``) for every OU.

    The tree is walked level by level, the OUs of one level in parallel (a small pool of its own: this
    runs before the fan-out pool, which needs the account list it produces)."""
    where: dict[str, tuple[str, str]] = {}
    rows: list[dict[str, Any]] = []
    roots = scope.pages("organizations", "ListRoots", "Roots") or []
    level = [(r["Id"], "Root", r.get("Arn")) for r in roots]

    def visit(node: tuple[str, str, str | None]) -> tuple[tuple[str, str, str | None], list, list]:
        parent_id = node[0]
        accounts = scope.pages("organizations", "ListAccountsForParent", "Accounts", ParentId=parent_id) or []
        ous = (
            scope.pages("organizations", "ListOrganizationalUnitsForParent", "OrganizationalUnits", ParentId=parent_id)
            or []
        )
        return node, accounts, ous

    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="iamkit-ou") as pool:
        while level:
            following = []
            for (parent_id, path, arn), accounts, ous in pool.map(visit, level):
                rows.append(
                    {
                        "account_id": scope.account_id,
                        "region": None,
                        "control": "organizations.ou",
                        "resource_arn": arn or parent_id,
                        "status": "present",
                        "detail": {"id": parent_id, "path": path, "org_id": org_id},
                    }
                )
                for a in accounts:
                    where[a["Id"]] = (parent_id, path)
                following += [(ou["Id"], f"{path}/{ou.get('Name', ou['Id'])}", ou.get("Arn")) for ou in ous]
            level = following
    return where, rows


def _policy_rows(scope: Scope, short: str, p: dict[str, Any]) -> Rows:
    """Policy rows (one per target; unattached: one with no target) and statement rows of one SCP/RCP."""
    desc = scope.call("organizations", "DescribePolicy", PolicyId=p["Id"]) or {}
    content = (desc.get("Policy") or {}).get("Content")
    arn = p.get("Arn") or p["Id"]
    try:
        doc: Any = parse_document(content) if content is not None else None
        sts = statements(doc) if doc is not None else []
    except PolicyError as e:
        scope.log.add(scope.account_id, None, "parse-policy", "MalformedPolicyDocument", f"{arn}: {e}")
        doc, sts = content, []
    st_rows = [
        {"account_id": scope.account_id, "policy_arn": arn, "policy_name": p.get("Name"), "attached_to_arn": None, **st}
        for st in sts
    ]
    targets = scope.pages("organizations", "ListTargetsForPolicy", "Targets", PolicyId=p["Id"]) or []
    base = {
        "account_id": scope.account_id,
        "policy_arn": arn,
        "policy_name": p.get("Name"),
        "policy_type": short,
        "version_id": None,
        "is_default": True,
        "document": doc,
        "aws_managed": bool(p.get("AwsManaged")),
    }
    pol_rows = [
        {
            **base,
            "attached_to_arn": t.get("TargetId"),
            "attached_to_type": (t.get("Type") or "").lower().replace("organizational_unit", "ou") or None,
        }
        for t in targets or [{}]
    ]
    return {"policies": pol_rows, "statements": st_rows}


def policies(scope: Scope) -> More:
    """SCPs and RCPs: list them, then one follow-up task per policy (document, statements, targets)."""
    tasks = []
    for ptype, short in POLICY_TYPES.items():
        for p in (
            scope.pages(
                "organizations", "ListPolicies", "Policies", Filter=ptype, absent=("PolicyTypeNotEnabledException",)
            )
            or []
        ):
            tasks.append((f"{short} {p.get('Name')}", lambda short=short, p=p: _policy_rows(scope, short, p)))
    return More({}, tasks)


def _delegated_admins(scope: Scope) -> list[dict[str, Any]]:
    rows = []
    for d in scope.pages("organizations", "ListDelegatedAdministrators", "DelegatedAdministrators") or []:
        services = (
            scope.pages("organizations", "ListDelegatedServicesForAccount", "DelegatedServices", AccountId=d["Id"])
            or []
        )
        rows.append(
            {
                "account_id": d["Id"],
                "region": None,
                "control": "organizations.delegated_administrator",
                "resource_arn": d.get("Arn"),
                "status": d.get("Status"),
                "detail": {"name": d.get("Name"), "services": sorted(s.get("ServicePrincipal") for s in services)},
            }
        )
    return rows


def collect(scope: Scope) -> More:
    """Accounts and the OU tree now (fan-out needs them); SCP/RCP policies and delegated administrators
    as follow-up tasks."""
    org = (
        scope.call("organizations", "DescribeOrganization", absent=("AWSOrganizationsNotInUseException",)) or {}
    ).get("Organization")
    if not org:
        return More()
    where, ou_rows = _ou_tree(scope, org["Id"])
    accounts = []
    for a in scope.pages("organizations", "ListAccounts", "Accounts") or []:
        ou_id, ou_path = where.get(a["Id"], (None, None))
        accounts.append(
            {
                "account_id": a["Id"],
                "name": a.get("Name"),
                "email": a.get("Email"),
                "status": a.get("Status") or a.get("State"),
                "ou_id": ou_id,
                "ou_path": ou_path,
                "org_id": org["Id"],
                "is_management": a["Id"] == org.get("MasterAccountId"),
                "joined": a.get("JoinedTimestamp"),
            }
        )
    return More(
        {"accounts": accounts, "posture": ou_rows},
        [
            ("organization policies", lambda: policies(scope)),
            ("delegated administrators", lambda: {"posture": _delegated_admins(scope)}),
        ],
    )
