"""IAM Identity Center: instances, permission sets (managed, inline, customer-managed references,
boundary), account assignments, identity-store users, groups and memberships — for the whole
organization (``collect``) or for one person (``person``: their user, groups and assignments)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from iamkit.arn import name_of
from iamkit.aws.calls import Scope
from iamkit.aws.collectors import More, Rows
from iamkit.aws.documents import parse_document
from iamkit.errors import PolicyError


def _row(
    inst: dict, kind: str, id_: str | None, name: str | None, account_id: str | None, detail: dict[str, Any]
) -> dict[str, Any]:
    return {
        "instance_arn": inst.get("InstanceArn"),
        "identity_store_id": inst.get("IdentityStoreId"),
        "kind": kind,
        "id": id_,
        "name": name,
        "account_id": account_id,
        "detail": detail,
    }


ACCOUNTS_PER_TASK = 5
GROUPS_PER_TASK = 10


def _assignments(scope: Scope, inst: dict, ps: str, ps_name: str | None, accounts: list[str]) -> Rows:
    rows = []
    for acct in accounts:
        for a in (
            scope.pages(
                "sso-admin",
                "ListAccountAssignments",
                "AccountAssignments",
                InstanceArn=inst["InstanceArn"],
                AccountId=acct,
                PermissionSetArn=ps,
            )
            or []
        ):
            rows.append(
                _row(
                    inst,
                    "assignment",
                    f"{acct}:{ps}:{a.get('PrincipalType')}:{a.get('PrincipalId')}",
                    ps_name,
                    acct,
                    {
                        "permission_set_arn": ps,
                        "principal_type": a.get("PrincipalType"),
                        "principal_id": a.get("PrincipalId"),
                    },
                )
            )
    return {"identity_center": rows}


def permission_set(scope: Scope, inst: dict, ps: str, account_ids: list[str]) -> More:
    """One permission set's row; its account assignments as follow-up tasks (a few accounts each).

    Assignments are looked up in the accounts it is provisioned to and in ``account_ids``."""
    arn = inst["InstanceArn"]
    desc = (scope.call("sso-admin", "DescribePermissionSet", InstanceArn=arn, PermissionSetArn=ps) or {}).get(
        "PermissionSet"
    ) or {}
    managed = (
        scope.pages(
            "sso-admin",
            "ListManagedPoliciesInPermissionSet",
            "AttachedManagedPolicies",
            InstanceArn=arn,
            PermissionSetArn=ps,
        )
        or []
    )
    inline = (
        scope.call("sso-admin", "GetInlinePolicyForPermissionSet", InstanceArn=arn, PermissionSetArn=ps) or {}
    ).get("InlinePolicy")
    if inline:
        try:
            inline = parse_document(inline)
        except PolicyError as e:
            scope.log.add(
                scope.account_id, scope.region, "parse-policy", "MalformedPolicyDocument", f"inline policy of {ps}: {e}"
            )
    cmp = (
        scope.pages(
            "sso-admin",
            "ListCustomerManagedPolicyReferencesInPermissionSet",
            "CustomerManagedPolicyReferences",
            InstanceArn=arn,
            PermissionSetArn=ps,
        )
        or []
    )
    boundary = (
        scope.call(
            "sso-admin",
            "GetPermissionsBoundaryForPermissionSet",
            InstanceArn=arn,
            PermissionSetArn=ps,
            absent=("ResourceNotFoundException",),
        )
        or {}
    ).get("PermissionsBoundary")
    name = desc.get("Name")
    row = _row(
        inst,
        "permission_set",
        ps,
        name,
        None,
        {
            "description": desc.get("Description"),
            "session_duration": desc.get("SessionDuration"),
            "managed_policies": [m.get("Arn") for m in managed],
            "inline_policy": inline or None,
            "customer_managed_policies": [{"name": c.get("Name"), "path": c.get("Path")} for c in cmp],
            "permissions_boundary": boundary,
        },
    )
    provisioned = (
        scope.pages(
            "sso-admin", "ListAccountsForProvisionedPermissionSet", "AccountIds", InstanceArn=arn, PermissionSetArn=ps
        )
        or []
    )
    accounts = list(dict.fromkeys([*provisioned, *account_ids]))
    tasks = [
        (
            f"assignments {name} {i}",
            lambda chunk=accounts[i : i + ACCOUNTS_PER_TASK]: _assignments(scope, inst, ps, name, chunk),
        )
        for i in range(0, len(accounts), ACCOUNTS_PER_TASK)
    ]
    return More({"identity_center": [row]}, tasks)


def _memberships(scope: Scope, inst: dict, groups: list[dict]) -> Rows:
    rows = []
    for g in groups:
        for m in (
            scope.pages(
                "identitystore",
                "ListGroupMemberships",
                "GroupMemberships",
                IdentityStoreId=inst.get("IdentityStoreId"),
                GroupId=g["GroupId"],
            )
            or []
        ):
            user_id = (m.get("MemberId") or {}).get("UserId")
            rows.append(
                _row(
                    inst,
                    "membership",
                    m.get("MembershipId"),
                    g.get("DisplayName"),
                    None,
                    {"group_id": g["GroupId"], "user_id": user_id},
                )
            )
    return {"identity_center": rows}


def identity_store(scope: Scope, inst: dict) -> More:
    """Users and groups of the instance's identity store; memberships as follow-up tasks."""
    store = inst.get("IdentityStoreId")
    rows = []
    for u in scope.pages("identitystore", "ListUsers", "Users", IdentityStoreId=store) or []:
        emails = [e.get("Value") for e in u.get("Emails") or []]
        rows.append(
            _row(
                inst,
                "user",
                u["UserId"],
                u.get("UserName"),
                None,
                {"display_name": u.get("DisplayName"), "emails": emails, "external_ids": u.get("ExternalIds")},
            )
        )
    groups = scope.pages("identitystore", "ListGroups", "Groups", IdentityStoreId=store) or []
    for g in groups:
        rows.append(
            _row(inst, "group", g["GroupId"], g.get("DisplayName"), None, {"description": g.get("Description")})
        )
    tasks = [
        (f"memberships {i}", lambda chunk=groups[i : i + GROUPS_PER_TASK]: _memberships(scope, inst, chunk))
        for i in range(0, len(groups), GROUPS_PER_TASK)
    ]
    return More({"identity_center": rows}, tasks)


def collect(scope: Scope, account_ids: list[str] | None = None) -> More:
    """Identity Center instances visible from ``scope``; permission sets and identity stores as follow-ups."""
    rows: list[dict[str, Any]] = []
    tasks: list[tuple[str, Any]] = []
    for inst in scope.pages("sso-admin", "ListInstances", "Instances") or []:
        rows.append(
            _row(
                inst,
                "instance",
                inst["InstanceArn"],
                inst.get("Name"),
                inst.get("OwnerAccountId"),
                {"status": inst.get("Status")},
            )
        )
        for ps in (
            scope.pages("sso-admin", "ListPermissionSets", "PermissionSets", InstanceArn=inst["InstanceArn"]) or []
        ):
            tasks.append(
                (
                    f"permission set {ps}",
                    lambda inst=inst, ps=ps: permission_set(scope, inst, ps, list(account_ids or [])),
                )
            )
        tasks.append(("identity store", lambda inst=inst: identity_store(scope, inst)))
    return More({"identity_center": rows}, tasks)


# ---------------------------------------------------------------------------------------------- one person
@dataclass
class PersonAccess:
    """One person in Identity Center: ``user`` (empty when not found: identity_store_id, user_id, user_name,
    display_name, emails, external_ids, matched_by), their ``groups`` (group_id, display_name) and the
    ``assignments`` reaching them (account_id, permission_set, permission_set_arn, principal_type,
    principal_id, principal_name, via: ``direct`` or ``group:<name>``)."""

    user: dict[str, Any] = field(default_factory=dict)
    groups: list[dict[str, Any]] = field(default_factory=list)
    assignments: list[dict[str, Any]] = field(default_factory=list)


_NOT_A_MATCH = ("ResourceNotFoundException", "ValidationException")


def _find_user(scope: Scope, store: str, upn: str, entra_object_id: str | None) -> tuple[str | None, str | None]:
    """(user id, matched_by): by userName, then email (GetUserId), then a case-insensitive scan of the
    store's userNames or an Entra object id among a user's external ids (the store is small in practice)."""
    for path, how in (("userName", "userName"), ("emails.value", "email")):
        found = scope.call(
            "identitystore",
            "GetUserId",
            absent=_NOT_A_MATCH,
            IdentityStoreId=store,
            AlternateIdentifier={"UniqueAttribute": {"AttributePath": path, "AttributeValue": upn}},
        )
        if found and found.get("UserId"):
            return found["UserId"], how
    low = upn.lower()
    for u in scope.pages("identitystore", "ListUsers", "Users", IdentityStoreId=store) or []:
        if (u.get("UserName") or "").lower() == low:
            return u["UserId"], "userName"
        if entra_object_id and any(x.get("Id") == entra_object_id for x in u.get("ExternalIds") or []):
            return u["UserId"], "externalId"
    return None, None


def person(
    scope: Scope, upn: str, *, entra_object_id: str | None = None, instance_arn: str | None = None
) -> PersonAccess:
    """The Identity Center user behind ``upn`` (or the Entra object id in its external ids), their groups and
    the account assignments reaching them, directly and through each group. Failures are ``scope.log``
    rows (``NoInstance`` / ``NotFound`` when there is nothing to read); what was read is returned."""
    instances = scope.pages("sso-admin", "ListInstances", "Instances")
    if instances is None:
        return PersonAccess()
    inst = next((i for i in instances if not instance_arn or i.get("InstanceArn") == instance_arn), None)
    if inst is None:
        scope.log.add(
            scope.account_id, scope.region, "sso:ListInstances", "NoInstance", "no IAM Identity Center instance found"
        )
        return PersonAccess()
    store, iarn = inst["IdentityStoreId"], inst["InstanceArn"]
    user_id, matched_by = _find_user(scope, store, upn, entra_object_id)
    if user_id is None:
        scope.log.add(
            scope.account_id, scope.region, "identitystore:GetUserId", "NotFound", f"no Identity Center user for {upn}"
        )
        return PersonAccess()
    desc = scope.call("identitystore", "DescribeUser", IdentityStoreId=store, UserId=user_id) or {}
    user = {
        "identity_store_id": store,
        "user_id": user_id,
        "user_name": desc.get("UserName"),
        "display_name": desc.get("DisplayName"),
        "emails": [m.get("Value") for m in desc.get("Emails") or []],
        "external_ids": desc.get("ExternalIds") or [],
        "matched_by": matched_by,
    }
    groups = []
    for m in (
        scope.pages(
            "identitystore",
            "ListGroupMembershipsForMember",
            "GroupMemberships",
            IdentityStoreId=store,
            MemberId={"UserId": user_id},
        )
        or []
    ):
        gid = m["GroupId"]
        g = scope.call("identitystore", "DescribeGroup", IdentityStoreId=store, GroupId=gid) or {}
        groups.append({"group_id": gid, "display_name": g.get("DisplayName")})
    principals = [("USER", user_id, user["user_name"] or upn, "direct")] + [
        ("GROUP", g["group_id"], g["display_name"], f"group:{g['display_name']}") for g in groups
    ]
    names: dict[str, str] = {}
    assignments = []
    for ptype, pid, pname, via in principals:
        for a in (
            scope.pages(
                "sso-admin",
                "ListAccountAssignmentsForPrincipal",
                "AccountAssignments",
                InstanceArn=iarn,
                PrincipalId=pid,
                PrincipalType=ptype,
            )
            or []
        ):
            ps = a["PermissionSetArn"]
            if ps not in names:
                desc_ps = scope.call("sso-admin", "DescribePermissionSet", InstanceArn=iarn, PermissionSetArn=ps)
                names[ps] = ((desc_ps or {}).get("PermissionSet") or {}).get("Name") or name_of(ps)
            assignments.append(
                {
                    "account_id": a["AccountId"],
                    "permission_set": names[ps],
                    "permission_set_arn": ps,
                    "principal_type": ptype,
                    "principal_id": pid,
                    "principal_name": pname,
                    "via": via,
                }
            )
    return PersonAccess(user, groups, assignments)
