"""IAM principals, policies (every version, default flagged; AWS-managed ones in use), statements and
trusts of one account, from GetAccountAuthorizationDetails (paginated) plus ListRoles for session limits."""

from __future__ import annotations

from iamkit.aws.authz import AuthzBuilder
from iamkit.aws.calls import Scope
from iamkit.aws.collectors import Rows


def collect(scope: Scope) -> Rows:
    """Rows of principals, policies, statements and trusts for ``scope``'s account."""
    account = scope.account_id
    builder = AuthzBuilder()
    for page in scope.iter_pages("iam", "GetAccountAuthorizationDetails"):
        builder.add_page(account, page)
    rows = builder.finish()
    scope.log.extend(builder.errors)
    roles = scope.pages("iam", "ListRoles", "Roles") or []
    max_session = {r["Arn"]: r.get("MaxSessionDuration") for r in roles}
    for p in rows["principals"]:
        if p["principal_type"] == "role" and p.get("max_session_duration") is None:
            p["max_session_duration"] = max_session.get(p["arn"])
    if rows["principals"] or roles:
        rows["principals"].append({"account_id": account, "principal_type": "root", "name": "<root_account>",
                                   "arn": f"arn:aws:iam::{account}:root", "principal_id": account, "path": "/",
                                   "service_linked": False})
    return rows
