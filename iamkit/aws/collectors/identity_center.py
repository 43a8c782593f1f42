"""IAM Identity Center: instances, permission sets (managed, inline, customer-managed references,
boundary), account assignments, identity-store users, groups and memberships."""

from __future__ import annotations

from typing import Any

from iamkit.aws.calls import Scope
from iamkit.aws.collectors import Rows
from iamkit.aws.documents import parse_document
from iamkit.errors import PolicyError


def _row(inst: dict, kind: str, id_: str | None, name: str | None, account_id: str | None,
         detail: dict[str, Any]) -> dict[str, Any]:
    return {"instance_arn": inst.get("InstanceArn"), "identity_store_id": inst.get("IdentityStoreId"),
            "kind": kind, "id": id_, "name": name, "account_id": account_id, "detail": detail}


def _permission_sets(scope: Scope, inst: dict, account_ids: list[str]) -> list[dict[str, Any]]:
    arn = inst["InstanceArn"]
    rows = []
    for ps in scope.pages("sso-admin", "ListPermissionSets", "PermissionSets", InstanceArn=arn) or []:
        desc = (scope.call("sso-admin", "DescribePermissionSet", InstanceArn=arn, PermissionSetArn=ps)
                or {}).get("PermissionSet") or {}
        managed = scope.pages("sso-admin", "ListManagedPoliciesInPermissionSet", "AttachedManagedPolicies",
                              InstanceArn=arn, PermissionSetArn=ps) or []
        inline = (scope.call("sso-admin", "GetInlinePolicyForPermissionSet", InstanceArn=arn,
                             PermissionSetArn=ps) or {}).get("InlinePolicy")
        if inline:
            try:
                inline = parse_document(inline)
            except PolicyError as e:
                scope.log.add(scope.account_id, scope.region, "parse-policy", "MalformedPolicyDocument",
                              f"inline policy of {ps}: {e}")
        cmp = scope.pages("sso-admin", "ListCustomerManagedPolicyReferencesInPermissionSet",
                          "CustomerManagedPolicyReferences", InstanceArn=arn, PermissionSetArn=ps) or []
        boundary = (scope.call("sso-admin", "GetPermissionsBoundaryForPermissionSet", InstanceArn=arn,
                               PermissionSetArn=ps, absent=("ResourceNotFoundException",))
                    or {}).get("PermissionsBoundary")
        rows.append(_row(inst, "permission_set", ps, desc.get("Name"), None, {
            "description": desc.get("Description"), "session_duration": desc.get("SessionDuration"),
            "managed_policies": [m.get("Arn") for m in managed], "inline_policy": inline or None,
            "customer_managed_policies": [{"name": c.get("Name"), "path": c.get("Path")} for c in cmp],
            "permissions_boundary": boundary}))
        provisioned = scope.pages("sso-admin", "ListAccountsForProvisionedPermissionSet", "AccountIds",
                                  InstanceArn=arn, PermissionSetArn=ps) or []
        for acct in dict.fromkeys([*provisioned, *account_ids]):
            for a in scope.pages("sso-admin", "ListAccountAssignments", "AccountAssignments", InstanceArn=arn,
                                 AccountId=acct, PermissionSetArn=ps) or []:
                rows.append(_row(inst, "assignment", f"{acct}:{ps}:{a.get('PrincipalType')}:{a.get('PrincipalId')}",
                                 desc.get("Name"), acct, {"permission_set_arn": ps,
                                                          "principal_type": a.get("PrincipalType"),
                                                          "principal_id": a.get("PrincipalId")}))
    return rows


def _identity_store(scope: Scope, inst: dict) -> list[dict[str, Any]]:
    store = inst.get("IdentityStoreId")
    rows = []
    for u in scope.pages("identitystore", "ListUsers", "Users", IdentityStoreId=store) or []:
        emails = [e.get("Value") for e in u.get("Emails") or []]
        rows.append(_row(inst, "user", u["UserId"], u.get("UserName"), None, {
            "display_name": u.get("DisplayName"), "emails": emails, "external_ids": u.get("ExternalIds")}))
    for g in scope.pages("identitystore", "ListGroups", "Groups", IdentityStoreId=store) or []:
        rows.append(_row(inst, "group", g["GroupId"], g.get("DisplayName"), None,
                         {"description": g.get("Description")}))
        for m in scope.pages("identitystore", "ListGroupMemberships", "GroupMemberships", IdentityStoreId=store,
                             GroupId=g["GroupId"]) or []:
            user_id = (m.get("MemberId") or {}).get("UserId")
            rows.append(_row(inst, "membership", m.get("MembershipId"), g.get("DisplayName"), None,
                             {"group_id": g["GroupId"], "user_id": user_id}))
    return rows


def collect(scope: Scope, account_ids: list[str] | None = None) -> Rows:
    """Identity Center rows for every instance visible from ``scope``; assignments are looked up in the
    accounts a permission set is provisioned to and in ``account_ids`` (the organization's accounts)."""
    rows: list[dict[str, Any]] = []
    for inst in scope.pages("sso-admin", "ListInstances", "Instances") or []:
        rows.append(_row(inst, "instance", inst["InstanceArn"], inst.get("Name"), inst.get("OwnerAccountId"),
                         {"status": inst.get("Status")}))
        rows += _permission_sets(scope, inst, list(account_ids or []))
        rows += _identity_store(scope, inst)
    return {"identity_center": rows}
