"""GetAccountAuthorizationDetails (live pages or the ``aws iam get-account-authorization-details`` JSON)
into rows of the principals, policies, statements and trusts frames.

Pure: no I/O. Conventions (see ``iamkit.frames``):
- policies: the default version gets one row per attachment (one row with an empty ``attached_to_arn``
  when unattached); every non-default version one row with an empty ``attached_to_arn``.
  Inline policies have no ARN: ``policy_arn`` is null and ``attached_to_arn`` names the principal.
- statements: managed policies once per policy (default version, ``attached_to_arn`` empty);
  inline policies once per principal.
- a document that cannot be parsed keeps its row (document = the raw text) and becomes an error row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from iamkit.arn import account_of as arn_account
from iamkit.arn import is_aws_managed_policy, name_of
from iamkit.aws.documents import parse_document, statements, trust_rows
from iamkit.errors import PolicyError
from iamkit.frames import error_row

FRAMES = ("principals", "policies", "statements", "trusts")
_SECTIONS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")


def is_aws_managed(policy_arn: str | None) -> bool:
    """True for AWS-managed policy ARNs (``arn:<partition>:iam::aws:policy/…``)."""
    return is_aws_managed_policy(policy_arn)


def _tags(items: list[dict] | None) -> dict[str, str] | None:
    return {t["Key"]: t.get("Value", "") for t in items} if items else None


class AuthzBuilder:
    """Accumulates rows from authorization-details pages of one or more accounts."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {name: [] for name in FRAMES}
        self.errors: list[dict[str, Any]] = []
        self._attachments: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._policies: dict[tuple[str, str], dict[str, Any]] = {}

    # -- documents --
    def _doc(self, account_id: str, doc: Any, where: str) -> Any:
        try:
            return parse_document(doc)
        except PolicyError as e:
            self.errors.append(
                error_row("parse-policy", "MalformedPolicyDocument", f"{where}: {e}", account_id=account_id)
            )
            return doc

    def _statements(
        self, account_id: str, policy_arn: str | None, name: str, attached_to: str | None, doc: Any, where: str
    ) -> None:
        if not isinstance(doc, dict):
            return
        try:
            sts = statements(doc)
        except PolicyError as e:
            self.errors.append(
                error_row("parse-policy", "MalformedPolicyDocument", f"{where}: {e}", account_id=account_id)
            )
            return
        for st in sts:
            self.rows["statements"].append(
                {
                    "account_id": account_id,
                    "policy_arn": policy_arn,
                    "policy_name": name,
                    "attached_to_arn": attached_to,
                    **st,
                }
            )

    def _inline(self, account_id: str, principal_arn: str, ptype: str, items: list[dict] | None) -> None:
        for p in items or []:
            name = p.get("PolicyName")
            where = f"inline policy {name} of {principal_arn}"
            doc = self._doc(account_id, p.get("PolicyDocument"), where)
            self.rows["policies"].append(
                {
                    "account_id": account_id,
                    "policy_arn": None,
                    "policy_name": name,
                    "policy_type": "inline",
                    "attached_to_arn": principal_arn,
                    "attached_to_type": ptype,
                    "version_id": None,
                    "is_default": True,
                    "document": doc,
                    "aws_managed": False,
                }
            )
            self._statements(account_id, None, name, principal_arn, doc, where)

    def _attached(self, account_id: str, principal_arn: str, ptype: str, items: list[dict] | None) -> None:
        for p in items or []:
            self._attachments.setdefault((account_id, p["PolicyArn"]), []).append((principal_arn, ptype))

    def _principal(self, account_id: str, ptype: str, d: dict, name_key: str, id_key: str, **extra: Any) -> str:
        arn = d.get("Arn")
        boundary = (d.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        path = d.get("Path") or "/"
        self.rows["principals"].append(
            {
                "account_id": account_id,
                "principal_type": ptype,
                "name": d.get(name_key),
                "arn": arn,
                "principal_id": d.get(id_key),
                "path": path,
                "created": d.get("CreateDate"),
                "permissions_boundary_arn": boundary,
                "tags": _tags(d.get("Tags")),
                "service_linked": path.startswith("/aws-service-role/"),
                **extra,
            }
        )
        return arn

    # -- sections --
    def add_page(self, account_id: str, page: dict[str, Any]) -> None:
        """Add one authorization-details page (or a whole exported file) of ``account_id``."""
        for u in page.get("UserDetailList") or []:
            arn = self._principal(account_id, "user", u, "UserName", "UserId", groups=list(u.get("GroupList") or []))
            self._inline(account_id, arn, "user", u.get("UserPolicyList"))
            self._attached(account_id, arn, "user", u.get("AttachedManagedPolicies"))
        for g in page.get("GroupDetailList") or []:
            arn = self._principal(account_id, "group", g, "GroupName", "GroupId")
            self._inline(account_id, arn, "group", g.get("GroupPolicyList"))
            self._attached(account_id, arn, "group", g.get("AttachedManagedPolicies"))
        for r in page.get("RoleDetailList") or []:
            last = (r.get("RoleLastUsed") or {}).get("LastUsedDate")
            arn = self._principal(
                account_id,
                "role",
                r,
                "RoleName",
                "RoleId",
                last_used=last,
                max_session_duration=r.get("MaxSessionDuration"),
            )
            self._inline(account_id, arn, "role", r.get("RolePolicyList"))
            self._attached(account_id, arn, "role", r.get("AttachedManagedPolicies"))
            where = f"trust policy of {arn}"
            doc = self._doc(account_id, r.get("AssumeRolePolicyDocument"), where)
            if isinstance(doc, dict):
                try:
                    self.rows["trusts"].extend(trust_rows(account_id, arn, doc))
                except PolicyError as e:
                    self.errors.append(
                        error_row("parse-policy", "MalformedPolicyDocument", f"{where}: {e}", account_id=account_id)
                    )
        for p in page.get("Policies") or []:
            self._policies[(account_id, p["Arn"])] = p

    def finish(self) -> dict[str, list[dict[str, Any]]]:
        """Emit the managed-policy rows (needs every page's attachments) and return rows per frame."""
        for (account_id, arn), p in self._policies.items():
            name = p.get("PolicyName") or name_of(arn)
            aws = is_aws_managed(arn)
            ptype = "aws_managed" if aws else "managed"
            attached = self._attachments.pop((account_id, arn), [])
            for v in p.get("PolicyVersionList") or []:
                is_default = bool(v.get("IsDefaultVersion"))
                where = f"policy {arn} version {v.get('VersionId')}"
                doc = self._doc(account_id, v.get("Document"), where)
                targets = attached if (is_default and attached) else [(None, None)]
                for target_arn, ttype in targets:
                    self.rows["policies"].append(
                        {
                            "account_id": account_id,
                            "policy_arn": arn,
                            "policy_name": name,
                            "policy_type": ptype,
                            "attached_to_arn": target_arn,
                            "attached_to_type": ttype,
                            "version_id": v.get("VersionId"),
                            "is_default": is_default,
                            "document": doc,
                            "aws_managed": aws,
                        }
                    )
                if is_default:
                    self._statements(account_id, arn, name, None, doc, where)
        # attachments to policies the pages did not describe (e.g. a filtered export) still count
        for (account_id, arn), attached in self._attachments.items():
            aws = is_aws_managed(arn)
            for target_arn, ttype in attached:
                self.rows["policies"].append(
                    {
                        "account_id": account_id,
                        "policy_arn": arn,
                        "policy_name": name_of(arn),
                        "policy_type": "aws_managed" if aws else "managed",
                        "attached_to_arn": target_arn,
                        "attached_to_type": ttype,
                        "version_id": None,
                        "is_default": True,
                        "document": None,
                        "aws_managed": aws,
                    }
                )
        self._attachments.clear()
        self._policies.clear()
        return self.rows


def account_of(page: dict[str, Any]) -> str | None:
    """The account id an authorization-details document belongs to (from its first non-AWS ARN)."""
    for section in ("UserDetailList", "RoleDetailList", "GroupDetailList", "Policies"):
        for item in page.get(section) or []:
            account = arn_account(item.get("Arn"))
            if account:
                return account
    return None


def looks_like_authz(doc: Any) -> bool:
    """True when ``doc`` has the shape of GetAccountAuthorizationDetails output."""
    return (
        isinstance(doc, dict)
        and any(k in doc for k in _SECTIONS)
        and all(isinstance(doc.get(k, []), list) for k in _SECTIONS)
    )


def build(pages: Iterable[tuple[str, dict[str, Any]]]) -> tuple[dict[str, list[dict]], list[dict]]:
    """Rows per frame and error rows for ``(account_id, page)`` pairs."""
    b = AuthzBuilder()
    for account_id, page in pages:
        b.add_page(account_id, page)
    return b.finish(), b.errors
