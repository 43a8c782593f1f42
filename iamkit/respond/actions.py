"""The remediation actions, one class per kind: what it reads (read-only calls), how it changes that state, how
it tells the change is already there, how it is previewed and how it is undone.

Every kind reads its before-state completely enough to put it back exactly (policy documents as IAM stores them,
byte for byte; tags; memberships; assignments). Two kinds cannot be undone and say so: removing a console login
profile (IAM never returns a password) and revoking Entra sign-in sessions (refresh tokens stay invalid); they
run only with ``allow_irreversible``. ``destructive`` kinds remove something a principal relies on (a document, an
attachment, a membership, an assignment, a password): two-person approval, when on, applies to them.
"""

from __future__ import annotations

import difflib
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, unquote

from iamkit.arn import ACCOUNT, ANYONE, GROUP, ROLE, ROOT, USER, name_of, principal
from iamkit.arn import parse as parse_arn
from iamkit.entra.errors import PermissionDenied
from iamkit.errors import BadInput, RemediationError

if TYPE_CHECKING:  # pragma: no cover
    from iamkit.respond.plan import Action

QUARANTINE_POLICY = "iamkit-quarantine"
REVOKE_POLICY = "iamkit-revoke-older-sessions"
QUARANTINE_TAG = "iam-risk:quarantine"
CASE_TAG = "iam-risk:case"
DENY_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "IamkitQuarantine", "Effect": "Deny", "Action": "*", "Resource": "*"}],
}
# what a "sensitive" role quarantine denies: identity and access changes, credentials and secrets, code, logging
SENSITIVE_ACTIONS = [
    "iam:*",
    "sts:AssumeRole",
    "sts:GetFederationToken",
    "organizations:*",
    "sso:*",
    "secretsmanager:GetSecretValue",
    "ssm:GetParameter*",
    "kms:Decrypt",
    "kms:CreateGrant",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "lambda:*",
    "ec2:RunInstances",
    "cloudtrail:*",
    "guardduty:*",
    "config:*",
    "access-analyzer:*",
]
ASSIGNMENT_POLL = 30  # at most this many status reads of an asynchronous Identity Center change
SLEEP: Callable[[float], None] = time.sleep  # tests inject a no-op


def _code(e: Exception) -> str:
    return str(getattr(e, "response", {}).get("Error", {}).get("Code", ""))


def raw_text(client: Any, operation: str, call: Callable[[], Any], pick: Callable[[dict], Any]) -> str | None:
    """A document exactly as IAM stores it (the text, not boto3's parsed dict): a handler registered ahead of
    boto3's own decoder keeps the URL-encoded text of the answer, so it can be put back byte for byte."""
    raw: dict[str, Any] = {}

    def keep(parsed, **_):
        try:
            raw["doc"] = pick(parsed)
        except (KeyError, TypeError, AttributeError):
            pass

    event = f"after-call.iam.{operation}"
    client.meta.events.register_first(event, keep, unique_id="iamkit-raw-policy-document")
    try:
        resp = call()
    finally:
        client.meta.events.unregister(event, unique_id="iamkit-raw-policy-document")
    doc = raw.get("doc")
    if isinstance(doc, str):
        return unquote(doc)
    got = pick(resp)
    return got if isinstance(got, str) or got is None else json.dumps(got)


def _kind(arn: str) -> str:
    k = principal(arn).kind
    if k not in (USER, ROLE, GROUP):
        raise BadInput(f"{arn!r} is not an IAM user, role or group ARN")
    return k


def inline_document(iam: Any, kind: str, name: str, policy: str) -> str:
    """An inline policy's document as IAM stores it (``kind``: user, role or group)."""
    op = {USER: "GetUserPolicy", ROLE: "GetRolePolicy", GROUP: "GetGroupPolicy"}[kind]
    call = {
        USER: lambda: iam.get_user_policy(UserName=name, PolicyName=policy),
        ROLE: lambda: iam.get_role_policy(RoleName=name, PolicyName=policy),
        GROUP: lambda: iam.get_group_policy(GroupName=name, PolicyName=policy),
    }[kind]
    return raw_text(iam, op, call, lambda p: p["PolicyDocument"])


def inline_names(iam: Any, kind: str, name: str) -> list[str]:
    call = {
        USER: lambda: iam.list_user_policies(UserName=name),
        ROLE: lambda: iam.list_role_policies(RoleName=name),
        GROUP: lambda: iam.list_group_policies(GroupName=name),
    }[kind]
    return sorted(call()["PolicyNames"])


def put_inline(iam: Any, kind: str, name: str, policy: str, document: str) -> None:
    {
        USER: lambda: iam.put_user_policy(UserName=name, PolicyName=policy, PolicyDocument=document),
        ROLE: lambda: iam.put_role_policy(RoleName=name, PolicyName=policy, PolicyDocument=document),
        GROUP: lambda: iam.put_group_policy(GroupName=name, PolicyName=policy, PolicyDocument=document),
    }[kind]()


def delete_inline(iam: Any, kind: str, name: str, policy: str) -> None:
    {
        USER: lambda: iam.delete_user_policy(UserName=name, PolicyName=policy),
        ROLE: lambda: iam.delete_role_policy(RoleName=name, PolicyName=policy),
        GROUP: lambda: iam.delete_group_policy(GroupName=name, PolicyName=policy),
    }[kind]()


def attached_arns(iam: Any, kind: str, name: str) -> list[str]:
    call = {
        USER: lambda: iam.list_attached_user_policies(UserName=name),
        ROLE: lambda: iam.list_attached_role_policies(RoleName=name),
        GROUP: lambda: iam.list_attached_group_policies(GroupName=name),
    }[kind]
    return sorted(p["PolicyArn"] for p in call()["AttachedPolicies"])


def same_document(text: str | None, doc: dict[str, Any]) -> bool:
    try:
        return text is not None and json.loads(text) == doc
    except (ValueError, RecursionError):
        return False


def _pretty(text: str | None) -> list[str]:
    if text is None:
        return ["(none)"]
    try:
        return json.dumps(json.loads(text), indent=2, sort_keys=True).splitlines()
    except (ValueError, RecursionError):
        return text.splitlines()


def document_diff(before: str | None, after: str | None, name: str) -> list[str]:
    """A unified diff of two policy documents (pretty-printed, keys sorted)."""
    return list(
        difflib.unified_diff(_pretty(before), _pretty(after), f"{name} (now)", f"{name} (after)", lineterm="", n=2)
    )


class Kind:
    """One action kind. ``service``: whose client the action gets (``iam``, ``sso-admin`` or ``graph``)."""

    name: ClassVar[str]
    summary: ClassVar[str]
    undo: ClassVar[str]
    service: ClassVar[str] = "iam"
    reversible: ClassVar[bool] = True
    destructive: ClassVar[bool] = False

    def read(self, a: Action, c: Any) -> dict[str, Any]:
        raise NotImplementedError

    def change(self, a: Action, c: Any, before: dict[str, Any], hooks: Hooks) -> dict[str, Any]:
        """Make the change; returns what the journal's after entry should add (e.g. a created key's id)."""
        raise NotImplementedError

    def in_place(self, a: Action, state: dict[str, Any]) -> bool:
        raise NotImplementedError

    def restore(self, a: Action, before: dict[str, Any], c: Any, after: dict[str, Any]) -> None:
        raise NotImplementedError

    def restored(self, before: dict[str, Any], now: dict[str, Any]) -> bool:
        """Whether ``now`` is the journalled ``before`` again (fields an older journal kept and this version no
        longer reads are not compared)."""
        return all(now.get(k) == v for k, v in before.items() if k in now)

    def diff(self, a: Action, before: dict[str, Any]) -> list[str]:
        return []

    def check(self, a: Action) -> None:
        """Raise ``ValueError`` when ``a.params`` lack what this kind needs (a plan read from disk)."""


class Hooks:
    """What an apply run lends its actions: where a new key's secret goes, and who confirms a delayed step."""

    def __init__(
        self, hand_over: Callable[[str, str, str], str] | None = None, confirm: Callable[[Action], bool] | None = None
    ):
        self.hand_over = hand_over
        self.confirm = confirm


# --------------------------------------------------------------------------------------------- access keys
class DeactivateAccessKey(Kind):
    name = "deactivate_access_key"
    summary = "set the access key Inactive"
    undo = "set it Active again"

    def check(self, a):
        if not {"access_key_id", "user_name"} <= set(a.params):
            raise ValueError("access_key_id/user_name")

    def read(self, a, iam):
        keys = iam.list_access_keys(UserName=a.params["user_name"])["AccessKeyMetadata"]
        k = next((k for k in keys if k["AccessKeyId"] == a.params["access_key_id"]), None)
        return {"exists": k is not None, "status": k["Status"] if k else None}

    def change(self, a, iam, before, hooks):
        iam.update_access_key(UserName=a.params["user_name"], AccessKeyId=a.params["access_key_id"], Status="Inactive")
        return {}

    def in_place(self, a, state):
        return state.get("exists") is True and state.get("status") == "Inactive"

    def restore(self, a, before, iam, after):
        now = self.read(a, iam)
        if before.get("status") and now.get("status") != before["status"]:
            iam.update_access_key(
                UserName=a.params["user_name"], AccessKeyId=a.params["access_key_id"], Status=before["status"]
            )

    def diff(self, a, before):
        wait = " (after the operator confirms the new key works)" if a.params.get("confirm") else ""
        return [
            f"- {a.params['access_key_id']} status {before.get('status', '?')}",
            f"+ {a.params['access_key_id']} status Inactive{wait}",
        ]


class CreateAccessKey(Kind):
    """The first half of a rotation: a new key for the user, its secret handed to the operator only (never to
    the journal, the case or a log); undo deletes exactly the key it created."""

    name = "create_access_key"
    summary = "create a new access key and hand its secret to the operator (rotation)"
    undo = "delete the key it created"

    def check(self, a):
        if not isinstance(a.params.get("user_name"), str) or not isinstance(a.params.get("existing"), list):
            raise ValueError("user_name/existing")

    def read(self, a, iam):
        keys = iam.list_access_keys(UserName=a.params["user_name"])["AccessKeyMetadata"]
        return {"keys": sorted(k["AccessKeyId"] for k in keys)}

    def in_place(self, a, state):
        return bool(set(state.get("keys", [])) - set(a.params["existing"]))

    def change(self, a, iam, before, hooks):
        if hooks.hand_over is None:
            raise RemediationError(
                "a new key's secret needs somewhere to go: name a file outside the case "
                "(--secret-out) or run from a terminal"
            )
        key = iam.create_access_key(UserName=a.params["user_name"])["AccessKey"]
        where = hooks.hand_over(a.params["user_name"], key["AccessKeyId"], key["SecretAccessKey"])
        return {"created": key["AccessKeyId"], "handed_to": where}

    def restore(self, a, before, iam, after):
        created = after.get("created")
        if created and created in self.read(a, iam)["keys"]:
            iam.delete_access_key(UserName=a.params["user_name"], AccessKeyId=created)

    def diff(self, a, before):
        return [
            f"- keys of {a.params['user_name']}: {before.get('keys', '?')}",
            f"+ keys of {a.params['user_name']}: {before.get('keys', [])} + a new key (its secret handed to "
            "you once, never written to the case)",
        ]


# --------------------------------------------------------------------------------------------- inline policies
class _InlinePolicy(Kind):
    """An inline policy iamkit puts under its own name; the document already there (if any) is journalled and
    put back byte for byte on undo."""

    policy_name: ClassVar[str]

    def document(self, a: Action) -> dict[str, Any]:
        raise NotImplementedError

    def read(self, a, iam):
        kind, name = _kind(a.target_arn), name_of(a.target_arn)
        names = inline_names(iam, kind, name)
        state: dict[str, Any] = {
            "inline_policies": names,
            "document": inline_document(iam, kind, name, self.policy_name) if self.policy_name in names else None,
        }
        return state

    def change(self, a, iam, before, hooks):
        put_inline(iam, _kind(a.target_arn), name_of(a.target_arn), self.policy_name, json.dumps(self.document(a)))
        return {}

    def in_place(self, a, state):
        return same_document(state.get("document"), self.document(a))

    def restore(self, a, before, iam, after):
        kind, name, policy = _kind(a.target_arn), name_of(a.target_arn), self.policy_name
        now = self.read(a, iam)
        if "document" not in before:  # journals written before documents were kept: remove iamkit's own only
            if policy not in before.get("inline_policies", []) and policy in now.get("inline_policies", []):
                delete_inline(iam, kind, name, policy)
            return
        doc = before["document"]
        if doc is None:
            if now.get("document") is not None:
                delete_inline(iam, kind, name, policy)
        elif now.get("document") != doc:
            put_inline(iam, kind, name, policy, doc)

    def diff(self, a, before):
        names = before.get("inline_policies", [])
        return [
            f"- inline policies: {names if 'inline_policies' in before else '?'}",
            f"+ inline policies: {sorted(set(names) | {self.policy_name})}",
            *(
                [f"~ {self.policy_name}: the existing document is replaced (journalled, put back on undo)"]
                if before.get("document") and not self.in_place(a, before)
                else []
            ),
        ]


class QuarantineUser(_InlinePolicy):
    name = "quarantine_user"
    policy_name = QUARANTINE_POLICY
    summary = f"attach inline deny-all policy {QUARANTINE_POLICY}"
    undo = "delete it, or put back the document it replaced"

    def document(self, a):
        return DENY_ALL


def revoke_document(a: Action) -> dict[str, Any]:
    """The inline policy ``revoke_role_sessions`` puts on the role."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "IamkitRevokeOlderSessions",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"DateLessThan": {"aws:TokenIssueTime": a.params["issued_before"]}},
            }
        ],
    }


class RevokeRoleSessions(_InlinePolicy):
    name = "revoke_role_sessions"
    policy_name = REVOKE_POLICY
    summary = f"inline policy {REVOKE_POLICY} denying sessions issued before now"
    undo = "delete it, or put back the document it replaced"

    def check(self, a):
        if not isinstance(a.params.get("issued_before"), str):
            raise ValueError("issued_before")

    def document(self, a):
        return revoke_document(a)


def quarantine_role_document(a: Action) -> dict[str, Any]:
    """Deny everything (``mode`` deny-all) or the sensitive actions (``mode`` sensitive) to every session of the
    role, and everything to the sessions issued before the plan (``aws:TokenIssueTime``)."""
    statements: list[dict[str, Any]] = []
    if a.params.get("mode") == "sensitive":
        statements.append(
            {"Sid": "IamkitQuarantineSensitive", "Effect": "Deny", "Action": SENSITIVE_ACTIONS, "Resource": "*"}
        )
    else:
        statements.append({"Sid": "IamkitQuarantine", "Effect": "Deny", "Action": "*", "Resource": "*"})
    statements.append(
        {
            "Sid": "IamkitRevokeOlderSessions",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": a.params["issued_before"]}},
        }
    )
    return {"Version": "2012-10-17", "Statement": statements}


class QuarantineRole(_InlinePolicy):
    name = "quarantine_role"
    policy_name = QUARANTINE_POLICY
    summary = (
        f"inline policy {QUARANTINE_POLICY} on the role: deny all (or the sensitive actions) and revoke "
        "sessions issued before the plan"
    )
    undo = "delete it, or put back the document it replaced"

    def check(self, a):
        if a.params.get("mode") not in ("deny-all", "sensitive") or not isinstance(a.params.get("issued_before"), str):
            raise ValueError("mode/issued_before")

    def document(self, a):
        return quarantine_role_document(a)


class DeleteInlinePolicy(Kind):
    name = "delete_inline_policy"
    summary = "delete an inline policy of a user, role or group (its document journalled)"
    undo = "put the document back byte for byte"
    destructive = True

    def check(self, a):
        if not isinstance(a.params.get("policy_name"), str):
            raise ValueError("policy_name")

    def read(self, a, iam):
        kind, name, pol = _kind(a.target_arn), name_of(a.target_arn), a.params["policy_name"]
        names = inline_names(iam, kind, name)
        return {"inline_policies": names, "document": inline_document(iam, kind, name, pol) if pol in names else None}

    def change(self, a, iam, before, hooks):
        delete_inline(iam, _kind(a.target_arn), name_of(a.target_arn), a.params["policy_name"])
        return {}

    def in_place(self, a, state):
        return a.params["policy_name"] not in state.get("inline_policies", [])

    def restore(self, a, before, iam, after):
        doc = before.get("document")
        now = self.read(a, iam)
        if doc is not None and now.get("document") != doc:
            put_inline(iam, _kind(a.target_arn), name_of(a.target_arn), a.params["policy_name"], doc)

    def diff(self, a, before):
        return [
            f"- inline policies: {before.get('inline_policies', '?')}",
            f"+ inline policies: {sorted(set(before.get('inline_policies', [])) - {a.params['policy_name']})}",
            *document_diff(before.get("document"), None, a.params["policy_name"]),
        ]


# --------------------------------------------------------------------------------------------- managed policies
def policy_document(iam: Any, policy_arn: str) -> str | None:
    """A managed policy's default version document, as IAM stores it (kept in the journal with a detach)."""
    try:
        version = iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
        return raw_text(
            iam,
            "GetPolicyVersion",
            lambda: iam.get_policy_version(PolicyArn=policy_arn, VersionId=version),
            lambda p: p["PolicyVersion"]["Document"],
        )
    except Exception as e:  # the document is kept for the record; its absence does not stop the detach
        if _code(e) in ("NoSuchEntity", "AccessDenied"):
            return None
        raise


class DetachPolicy(Kind):
    """Detach a managed policy (the kind names the principal type: ``detach_user_policy`` …)."""

    summary = "detach a managed policy (its document journalled)"
    undo = "attach it again"
    destructive = True
    principal_kind: ClassVar[str]

    def check(self, a):
        if not isinstance(a.params.get("policy_arn"), str):
            raise ValueError("policy_arn")

    def read(self, a, iam):
        attached = attached_arns(iam, self.principal_kind, name_of(a.target_arn))
        state: dict[str, Any] = {"attached_policies": attached}
        if a.params["policy_arn"] in attached:
            state["policy_document"] = policy_document(iam, a.params["policy_arn"])
        return state

    def change(self, a, iam, before, hooks):
        name = name_of(a.target_arn)
        {
            USER: lambda: iam.detach_user_policy(UserName=name, PolicyArn=a.params["policy_arn"]),
            ROLE: lambda: iam.detach_role_policy(RoleName=name, PolicyArn=a.params["policy_arn"]),
            GROUP: lambda: iam.detach_group_policy(GroupName=name, PolicyArn=a.params["policy_arn"]),
        }[self.principal_kind]()
        return {}

    def in_place(self, a, state):
        return a.params["policy_arn"] not in state.get("attached_policies", [])

    def restore(self, a, before, iam, after):
        arn, name = a.params["policy_arn"], name_of(a.target_arn)
        if arn in before.get("attached_policies", []) and arn not in self.read(a, iam)["attached_policies"]:
            {
                USER: lambda: iam.attach_user_policy(UserName=name, PolicyArn=arn),
                ROLE: lambda: iam.attach_role_policy(RoleName=name, PolicyArn=arn),
                GROUP: lambda: iam.attach_group_policy(GroupName=name, PolicyArn=arn),
            }[self.principal_kind]()

    def restored(self, before, now):
        return now.get("attached_policies") == before.get("attached_policies")

    def diff(self, a, before):
        return [
            f"- attached: {before.get('attached_policies', '?')}",
            f"+ attached: {sorted(set(before.get('attached_policies', [])) - {a.params['policy_arn']})}",
        ]


class DetachUserPolicy(DetachPolicy):
    name = "detach_user_policy"
    principal_kind = USER


class DetachRolePolicy(DetachPolicy):
    name = "detach_role_policy"
    principal_kind = ROLE


class DetachGroupPolicy(DetachPolicy):
    name = "detach_group_policy"
    principal_kind = GROUP


# --------------------------------------------------------------------------------------------- least privilege
LEAST_PRIVILEGE_PATH = "/iamkit/"


def least_privilege_names(a: Action) -> list[str]:
    """The customer-managed policies a least-privilege roll-out creates for ``a``'s principal, one per candidate
    document (``iamkit-lp-<name>-<n>``, within IAM's 128 characters)."""
    stem = f"iamkit-lp-{name_of(a.target_arn)}"[:120]
    return [f"{stem}-{i + 1}" for i in range(len(a.params["candidate"]))]


class PutLeastPrivilegePolicy(Kind):
    """Replace a user's or role's identity policies by its least-privilege candidate (``iamkit leastpriv``): the
    candidate documents become customer-managed policies under ``/iamkit/`` attached to it, and its other managed
    policies are detached and inline ones deleted (each document journalled). Undo puts every one back and
    deletes the policies the roll-out created."""

    name = "put_least_privilege_policy"
    summary = "replace the identity policies by the least-privilege candidate (documents journalled)"
    undo = "attach and put back the previous policies; delete the candidate's policies"
    destructive = True

    def check(self, a):
        cand = a.params.get("candidate")
        if not isinstance(cand, list) or not cand or not all(isinstance(d, dict) for d in cand):
            raise ValueError("candidate")
        if _kind(a.target_arn) not in (USER, ROLE):
            raise ValueError("target_arn (a user or role)")

    def _arns(self, a) -> list[str]:
        t = parse_arn(a.target_arn)
        acct, part = (t.account, t.partition) if t is not None else ("", "aws")
        return [f"arn:{part}:iam::{acct}:policy{LEAST_PRIVILEGE_PATH}{n}" for n in least_privilege_names(a)]

    def read(self, a, iam):
        kind, name = _kind(a.target_arn), name_of(a.target_arn)
        return {
            "attached_policies": sorted(attached_arns(iam, kind, name)),
            "inline_policies": {n: inline_document(iam, kind, name, n) for n in sorted(inline_names(iam, kind, name))},
        }

    def change(self, a, iam, before, hooks):
        kind, name = _kind(a.target_arn), name_of(a.target_arn)
        attach = iam.attach_user_policy if kind == USER else iam.attach_role_policy
        detach = iam.detach_user_policy if kind == USER else iam.detach_role_policy
        key = "UserName" if kind == USER else "RoleName"
        created = []
        for pname, arn, doc in zip(least_privilege_names(a), self._arns(a), a.params["candidate"], strict=True):
            if arn not in before.get("attached_policies", []):
                existing = policy_document(iam, arn)
                if existing is not None and not same_document(existing, doc):
                    raise RemediationError(
                        f"{arn} already exists with another document: delete it (or name it in no plan) first"
                    )
                if existing is None:
                    iam.create_policy(
                        PolicyName=pname,
                        Path=LEAST_PRIVILEGE_PATH,
                        PolicyDocument=json.dumps(doc),
                        Description="least privilege from observed usage (iamkit leastpriv)",
                    )
                    created.append(arn)
                attach(**{key: name, "PolicyArn": arn})
        mine = set(self._arns(a))
        for arn in before.get("attached_policies", []):
            if arn not in mine:
                detach(**{key: name, "PolicyArn": arn})
        for pol in before.get("inline_policies", {}):
            delete_inline(iam, kind, name, pol)
        return {"created_policies": created}

    def in_place(self, a, state):
        return (state.get("attached_policies") == sorted(self._arns(a))) and not state.get("inline_policies")

    def restore(self, a, before, iam, after):
        kind, name = _kind(a.target_arn), name_of(a.target_arn)
        attach = iam.attach_user_policy if kind == USER else iam.attach_role_policy
        detach = iam.detach_user_policy if kind == USER else iam.detach_role_policy
        key = "UserName" if kind == USER else "RoleName"
        now = self.read(a, iam)
        for pol, doc in before.get("inline_policies", {}).items():
            if now["inline_policies"].get(pol) != doc and doc is not None:
                put_inline(iam, kind, name, pol, doc)
        for arn in before.get("attached_policies", []):
            if arn not in now["attached_policies"]:
                attach(**{key: name, "PolicyArn": arn})
        for arn in self._arns(a):
            if arn in now["attached_policies"] and arn not in before.get("attached_policies", []):
                detach(**{key: name, "PolicyArn": arn})
        for arn in (after or {}).get("created_policies", []):
            try:
                iam.delete_policy(PolicyArn=arn)
            except Exception as e:  # still attached elsewhere: left in place, the undo says so
                if _code(e) != "NoSuchEntity":
                    raise RemediationError(f"the candidate policy {arn} could not be deleted: {_code(e)}") from None

    def restored(self, before, now):
        return now.get("attached_policies") == before.get("attached_policies") and now.get(
            "inline_policies"
        ) == before.get("inline_policies")

    def diff(self, a, before):
        out = [f"- attached: {before.get('attached_policies', '?')}", f"+ attached: {sorted(self._arns(a))}"]
        for pol, doc in (before.get("inline_policies") or {}).items():
            out += document_diff(doc, None, f"inline {pol}")
        for pname, doc in zip(least_privilege_names(a), a.params["candidate"], strict=True):
            out += document_diff(None, json.dumps(doc), pname)
        return out


# --------------------------------------------------------------------------------------------- trust policies
def role_trust(iam: Any, role: str) -> str:
    """A role's trust policy as IAM stores it (text)."""
    return raw_text(
        iam, "GetRole", lambda: iam.get_role(RoleName=role), lambda p: p["Role"]["AssumeRolePolicyDocument"]
    )


def _opened(value: str) -> bool:
    return principal(value).kind in (ANYONE, ROOT, ACCOUNT)


def restricted_trust(document: dict[str, Any], principals: list[str], org_id: str | None) -> dict[str, Any]:
    """``document`` with every ``*`` or account-root AWS principal of its Allow statements replaced by
    ``principals`` (named role or user ARNs) and, when ``org_id`` is given, an ``aws:PrincipalOrgID`` condition
    added to those statements. Service and federated principals are left as they are."""
    if not principals:
        raise BadInput(
            "restricting a trust needs the principals that may keep assuming the role (none were "
            "seen in CloudTrail: name them)"
        )
    bad = [p for p in principals if principal(p).kind not in (ROLE, USER)]
    if bad:
        raise BadInput(f"a restricted trust names roles or users, not {bad[0]!r}")
    doc = json.loads(json.dumps(document))
    sts = doc.get("Statement")
    for st in sts if isinstance(sts, list) else [sts]:
        if not isinstance(st, dict) or st.get("Effect") != "Allow":
            continue
        p = st.get("Principal")
        if p == "*":
            p = {"AWS": "*"}
        if not isinstance(p, dict) or "AWS" not in p:
            continue
        values = p["AWS"] if isinstance(p["AWS"], list) else [p["AWS"]]
        if not any(_opened(str(v)) for v in values):
            continue
        kept = [v for v in values if not _opened(str(v))]
        named = list(dict.fromkeys([*kept, *principals]))
        st["Principal"] = {**p, "AWS": named[0] if len(named) == 1 else named}
        if org_id:
            cond = st.setdefault("Condition", {})
            cond.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = org_id
    return doc


class RestrictTrust(Kind):
    name = "restrict_trust"
    summary = "replace a '*' or account-root trust principal with named roles plus aws:PrincipalOrgID"
    undo = "put the trust document back byte for byte"

    def check(self, a):
        if not isinstance(a.params.get("document"), dict):
            raise ValueError("document")

    def read(self, a, iam):
        return {"document": role_trust(iam, name_of(a.target_arn))}

    def change(self, a, iam, before, hooks):
        iam.update_assume_role_policy(RoleName=name_of(a.target_arn), PolicyDocument=json.dumps(a.params["document"]))
        return {}

    def in_place(self, a, state):
        return same_document(state.get("document"), a.params["document"])

    def restore(self, a, before, iam, after):
        doc = before.get("document")
        if doc is not None and self.read(a, iam)["document"] != doc:
            iam.update_assume_role_policy(RoleName=name_of(a.target_arn), PolicyDocument=doc)

    def diff(self, a, before):
        return document_diff(before.get("document"), json.dumps(a.params["document"]), "trust policy")


# --------------------------------------------------------------------------------------------- tags, groups, logins
class TagPrincipal(Kind):
    name = "tag_principal"
    summary = f"tag the user or role {QUARANTINE_TAG}=true with the case id"
    undo = "put each tag back as it was (or remove it)"

    def check(self, a):
        tags = a.params.get("tags")
        if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
            raise ValueError("tags")

    def _tags(self, iam, a):
        kind, name = _kind(a.target_arn), name_of(a.target_arn)
        got = (iam.list_user_tags(UserName=name) if kind == USER else iam.list_role_tags(RoleName=name))["Tags"]
        return {t["Key"]: t["Value"] for t in got}

    def read(self, a, iam):
        now = self._tags(iam, a)
        return {"tags": {k: now.get(k) for k in sorted(a.params["tags"])}}

    def _put(self, iam, a, tags: dict[str, str], remove: list[str]):
        kind, name = _kind(a.target_arn), name_of(a.target_arn)
        if tags:
            pairs = [{"Key": k, "Value": v} for k, v in tags.items()]
            iam.tag_user(UserName=name, Tags=pairs) if kind == USER else iam.tag_role(RoleName=name, Tags=pairs)
        if remove:
            iam.untag_user(UserName=name, TagKeys=remove) if kind == USER else iam.untag_role(
                RoleName=name, TagKeys=remove
            )

    def change(self, a, iam, before, hooks):
        self._put(iam, a, dict(a.params["tags"]), [])
        return {}

    def in_place(self, a, state):
        return state.get("tags") == dict(sorted(a.params["tags"].items()))

    def restore(self, a, before, iam, after):
        old = before.get("tags", {})
        self._put(iam, a, {k: v for k, v in old.items() if v is not None}, [k for k, v in old.items() if v is None])

    def diff(self, a, before):
        return [f"- tags: {before.get('tags', '?')}", f"+ tags: {dict(sorted(a.params['tags'].items()))}"]


class RemoveFromGroup(Kind):
    name = "remove_from_group"
    summary = "remove the user from a group"
    undo = "add the user to the group again"
    destructive = True

    def check(self, a):
        if not isinstance(a.params.get("group_name"), str):
            raise ValueError("group_name")

    def read(self, a, iam):
        groups = iam.list_groups_for_user(UserName=name_of(a.target_arn))["Groups"]
        return {"groups": sorted(g["GroupName"] for g in groups)}

    def change(self, a, iam, before, hooks):
        iam.remove_user_from_group(GroupName=a.params["group_name"], UserName=name_of(a.target_arn))
        return {}

    def in_place(self, a, state):
        return a.params["group_name"] not in state.get("groups", [])

    def restore(self, a, before, iam, after):
        g = a.params["group_name"]
        if g in before.get("groups", []) and g not in self.read(a, iam)["groups"]:
            iam.add_user_to_group(GroupName=g, UserName=name_of(a.target_arn))

    def diff(self, a, before):
        return [
            f"- groups: {before.get('groups', '?')}",
            f"+ groups: {sorted(set(before.get('groups', [])) - {a.params['group_name']})}",
        ]


IRREVERSIBLE_LOGIN = (
    "irreversible: IAM never returns a console password, so the login profile cannot be put back; "
    "if the user needs the console again, create a new login profile with a new password "
    "(aws iam create-login-profile)"
)


class RemoveLoginProfile(Kind):
    name = "remove_login_profile"
    summary = "delete the user's console login profile (password)"
    undo = "impossible: the password cannot be restored (irreversible)"
    reversible = False
    destructive = True

    def read(self, a, iam):
        try:
            lp = iam.get_login_profile(UserName=name_of(a.target_arn))["LoginProfile"]
        except Exception as e:
            if _code(e) == "NoSuchEntity":
                return {"exists": False}
            raise
        return {
            "exists": True,
            "created": str(lp.get("CreateDate")),
            "password_reset_required": bool(lp.get("PasswordResetRequired")),
        }

    def change(self, a, iam, before, hooks):
        iam.delete_login_profile(UserName=name_of(a.target_arn))
        return {}

    def in_place(self, a, state):
        return state.get("exists") is False

    def restore(self, a, before, iam, after):
        raise RemediationError(IRREVERSIBLE_LOGIN)

    def diff(self, a, before):
        return [
            f"- console login profile: {'yes' if before.get('exists') else before.get('exists', '?')}",
            "+ console login profile: none (IRREVERSIBLE: the password cannot be restored)",
        ]


# --------------------------------------------------------------------------------------------- Identity Center
class RemoveAccountAssignment(Kind):
    """An Identity Center account assignment (permission set × principal × account), in the account that holds
    the Identity Center instance (``account_id``); ``target_arn`` is the permission set."""

    name = "remove_account_assignment"
    summary = "remove an Identity Center account assignment"
    undo = "create the assignment again"
    service = "sso-admin"
    destructive = True

    def check(self, a):
        if not {"instance_arn", "target_account_id", "principal_type", "principal_id"} <= set(a.params):
            raise ValueError("assignment")

    def _key(self, a):
        return {
            "InstanceArn": a.params["instance_arn"],
            "TargetId": a.params["target_account_id"],
            "TargetType": "AWS_ACCOUNT",
            "PermissionSetArn": a.target_arn,
            "PrincipalType": a.params["principal_type"],
            "PrincipalId": a.params["principal_id"],
        }

    def read(self, a, sso):
        found = False
        kw = {
            "InstanceArn": a.params["instance_arn"],
            "AccountId": a.params["target_account_id"],
            "PermissionSetArn": a.target_arn,
        }
        while True:
            page = sso.list_account_assignments(**kw)
            found = found or any(
                x.get("PrincipalType") == a.params["principal_type"]
                and x.get("PrincipalId") == a.params["principal_id"]
                for x in page.get("AccountAssignments", [])
            )
            if not page.get("NextToken") or found:
                return {"assigned": found}
            kw["NextToken"] = page["NextToken"]

    def _wait(self, sso, a, status: dict[str, Any], field: str) -> None:
        """Identity Center changes are asynchronous: read the request's status until it ends (bounded)."""
        describe = getattr(sso, f"describe_account_assignment_{field.lower()}_status")
        for _ in range(ASSIGNMENT_POLL):
            state = status.get("Status")
            if state in (None, "SUCCEEDED"):
                return
            if state == "FAILED":
                raise RemediationError(f"Identity Center: {status.get('FailureReason') or 'the change failed'}")
            SLEEP(1.0)
            status = describe(
                InstanceArn=a.params["instance_arn"], **{f"AccountAssignment{field}RequestId": status.get("RequestId")}
            )[f"AccountAssignment{field}Status"]
        raise RemediationError("Identity Center: the change is still in progress; check it and run again")

    def change(self, a, sso, before, hooks):
        self._wait(sso, a, sso.delete_account_assignment(**self._key(a))["AccountAssignmentDeletionStatus"], "Deletion")
        return {}

    def in_place(self, a, state):
        return state.get("assigned") is False

    def restore(self, a, before, sso, after):
        if before.get("assigned") and not self.read(a, sso)["assigned"]:
            self._wait(
                sso, a, sso.create_account_assignment(**self._key(a))["AccountAssignmentCreationStatus"], "Creation"
            )

    def diff(self, a, before):
        who = f"{a.params['principal_type']} {a.params['principal_id']}"
        return [
            f"- {who} assigned {a.target_arn} in {a.params['target_account_id']}: {before.get('assigned', '?')}",
            f"+ {who} assigned {a.target_arn} in {a.params['target_account_id']}: False",
        ]


# --------------------------------------------------------------------------------------------- Entra ID (Graph)
ENTRA_PERMISSIONS = {
    "revoke_entra_sessions": "User.RevokeSessions.All",
    "disable_entra_user": "User.EnableDisableAccount.All",
}


def _graph_call(kind: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except PermissionDenied as e:
        raise PermissionDenied(
            f"Graph refused {kind}: the app needs {ENTRA_PERMISSIONS[kind]} (or User.ReadWrite.All) ({e})",
            permission=ENTRA_PERMISSIONS[kind],
        ) from None


def _user_path(a: Action) -> str:
    return f"/users/{quote(a.params['user'], safe='@.')}"


class RevokeEntraSessions(Kind):
    name = "revoke_entra_sessions"
    summary = "revoke the Entra user's sign-in sessions (refresh tokens)"
    undo = "impossible: revoked sessions stay revoked (irreversible); the user signs in again"
    service = "graph"
    reversible = False
    destructive = True

    def check(self, a):
        if not isinstance(a.params.get("user"), str) or not isinstance(a.params.get("issued_before"), str):
            raise ValueError("user/issued_before")

    def read(self, a, g):
        u = g.get(_user_path(a), params={"$select": "id,userPrincipalName,signInSessionsValidFromDateTime"})
        return {"id": u.get("id"), "sessions_valid_from": u.get("signInSessionsValidFromDateTime")}

    def change(self, a, g, before, hooks):
        _graph_call(self.name, lambda: g.request("POST", f"{_user_path(a)}/revokeSignInSessions", json_body={}))
        return {}

    def in_place(self, a, state):
        valid = state.get("sessions_valid_from")
        return isinstance(valid, str) and valid >= a.params["issued_before"][:19]

    def restore(self, a, before, g, after):
        raise RemediationError(
            "irreversible: revoked Entra sign-in sessions cannot be given back; the user signs "
            "in again (with MFA) to get new ones"
        )

    def diff(self, a, before):
        return [
            f"- {a.params['user']}: sessions valid from {before.get('sessions_valid_from')}",
            f"+ {a.params['user']}: sessions valid from now (IRREVERSIBLE: every refresh token revoked)",
        ]


class DisableEntraUser(Kind):
    name = "disable_entra_user"
    summary = "disable the Entra user (accountEnabled false)"
    undo = "set accountEnabled back to what it was"
    service = "graph"

    def check(self, a):
        if not isinstance(a.params.get("user"), str):
            raise ValueError("user")

    def read(self, a, g):
        u = g.get(_user_path(a), params={"$select": "id,userPrincipalName,accountEnabled"})
        return {"account_enabled": u.get("accountEnabled")}

    def _set(self, a, g, value: bool) -> None:
        _graph_call(self.name, lambda: g.request("PATCH", _user_path(a), json_body={"accountEnabled": value}))

    def change(self, a, g, before, hooks):
        self._set(a, g, False)
        return {}

    def in_place(self, a, state):
        return state.get("account_enabled") is False

    def restore(self, a, before, g, after):
        old = before.get("account_enabled")
        if isinstance(old, bool) and self.read(a, g)["account_enabled"] != old:
            self._set(a, g, old)

    def diff(self, a, before):
        return [
            f"- {a.params['user']}: accountEnabled {before.get('account_enabled', '?')}",
            f"+ {a.params['user']}: accountEnabled False",
        ]


REGISTRY: dict[str, Kind] = {
    k.name: k()
    for k in (
        DeactivateAccessKey,
        CreateAccessKey,
        QuarantineUser,
        RevokeRoleSessions,
        QuarantineRole,
        DeleteInlinePolicy,
        DetachUserPolicy,
        DetachRolePolicy,
        DetachGroupPolicy,
        PutLeastPrivilegePolicy,
        RestrictTrust,
        TagPrincipal,
        RemoveFromGroup,
        RemoveLoginProfile,
        RemoveAccountAssignment,
        RevokeEntraSessions,
        DisableEntraUser,
    )
}
