"""IAM principals, policies (every version, default flagged; AWS-managed ones in use), statements and
trusts of one account, from GetAccountAuthorizationDetails (paginated) plus ListRoles for session limits
(merged by ``apply_role_limits`` once both have run)."""

from __future__ import annotations

from iamkit.arn import root_arn
from iamkit.aws.authz import AuthzBuilder
from iamkit.aws.calls import Scope
from iamkit.aws.collectors import BIG_PAGES, More, Rows


def authorization_details(scope: Scope) -> Rows:
    """Principals (plus the root principal), policies, statements and trusts from the paginated
    GetAccountAuthorizationDetails."""
    account = scope.account_id
    builder = AuthzBuilder()
    for page in scope.iter_pages("iam", "GetAccountAuthorizationDetails", PaginationConfig=BIG_PAGES):
        builder.add_page(account, page)
    rows = builder.finish()
    scope.log.extend(builder.errors)
    if rows["principals"]:
        rows["principals"].append(
            {
                "account_id": account,
                "principal_type": "root",
                "name": "<root_account>",
                "arn": root_arn(account),
                "principal_id": account,
                "path": "/",
                "service_linked": False,
            }
        )
    return rows


def role_limits(scope: Scope) -> Rows:
    """Each role's maximum session duration (not in authorization details), as ``_role_limits`` rows."""
    roles = scope.pages("iam", "ListRoles", "Roles", PaginationConfig=BIG_PAGES) or []
    return {"_role_limits": [{"arn": r["Arn"], "max_session_duration": r.get("MaxSessionDuration")} for r in roles]}


def apply_role_limits(rows: Rows) -> None:
    """Move ``_role_limits`` into ``principals.max_session_duration`` (and drop the helper rows)."""
    limits = {r["arn"]: r["max_session_duration"] for r in rows.pop("_role_limits", [])}
    for p in rows.get("principals", []):
        if p["principal_type"] == "role" and p.get("max_session_duration") is None:
            p["max_session_duration"] = limits.get(p["arn"])


def collect(scope: Scope) -> More:
    """Authorization details and role limits of ``scope``'s account, as two parallel follow-ups."""
    return More(
        {},
        [("authorization details", lambda: authorization_details(scope)), ("role limits", lambda: role_limits(scope))],
    )
