"""Event-driven auto-response: a Lambda handler for EventBridge "AWS API Call via CloudTrail" events on IAM.

For PutRolePolicy/PutUserPolicy/PutGroupPolicy, CreatePolicy, CreatePolicyVersion, Attach*Policy,
UpdateAssumeRolePolicy, CreateAccessKey for another user and CreateLoginProfile for another user, the handler
judges the change:

- does the new document grant access the old one did not (as Access Analyzer's no-new-access check does): the
  engine (``iamkit.policy.evaluate``) decides a set of probe actions for the affected principal with its other
  policies, before and after the new document;
- is what it grants dangerous: the native detections' checks (``iamkit.trail.detect.policydoc``: ``*``,
  ``iam:*``, PassRole, CreatePolicy; a trust opened to ``*``, an account root or a foreign account), admin
  equivalence, IAM write, PassRole on ``*``; credentials made for someone else.

Then it tags the principal ``iam-risk:review=true`` (with the reason) and notifies (``iamkit.respond.notify``:
the SNS topic and any configured webhook). An explicit deny (iamkit's quarantine inline policy) is put only when
``IAMKIT_AUTORESPOND_DENY`` is on and the confidence is high (admin or ``*`` trust). A benign change is ignored.
Imports stay light: no pandas, no DuckDB (a Lambda cold start loads only the policy engine and boto3).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from iamkit.arn import GROUP, ROLE, USER, group_arn, name_of, principal, role_arn, user_arn
from iamkit.aws.session import connect
from iamkit.policy import evaluate
from iamkit.respond.actions import DENY_ALL, QUARANTINE_POLICY, inline_document, raw_text
from iamkit.respond.notify import Message, send, settings
from iamkit.trail.detect.policydoc import dangerous_grants, load_document, trust_openings

LOG = logging.getLogger("iamkit.autorespond")
WATCHED = (
    "PutRolePolicy",
    "PutUserPolicy",
    "PutGroupPolicy",
    "CreatePolicy",
    "CreatePolicyVersion",
    "AttachRolePolicy",
    "AttachUserPolicy",
    "AttachGroupPolicy",
    "UpdateAssumeRolePolicy",
    "CreateAccessKey",
    "CreateLoginProfile",
)
# what a new document is probed for (enough to tell admin, IAM write, PassRole and data access apart)
IAM_WRITE = (
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "iam:AttachUserPolicy",
    "iam:PutUserPolicy",
    "iam:CreateAccessKey",
    "iam:CreateUser",
    "iam:UpdateAssumeRolePolicy",
    "iam:CreatePolicyVersion",
    "iam:CreateLoginProfile",
)
PROBES = (
    *IAM_WRITE,
    "iam:PassRole",
    "sts:AssumeRole",
    "s3:GetObject",
    "s3:PutBucketPolicy",
    "secretsmanager:GetSecretValue",
    "kms:Decrypt",
    "ec2:RunInstances",
    "lambda:UpdateFunctionCode",
    "cloudtrail:StopLogging",
    "organizations:LeaveOrganization",
    "ec2:DescribeInstances",
)
GRANT_TARGETS = ["*", "iam:*", "iam:PassRole", "iam:CreatePolicy*"]  # the native rule's targets
REVIEW_TAG, REASON_TAG = "iam-risk:review", "iam-risk:reason"
DENY_ENV = "IAMKIT_AUTORESPOND_DENY"


@dataclass
class Verdict:
    event_id: str | None
    event_name: str
    account_id: str | None
    principal_arn: str | None  # the principal whose access changed (None: a policy not attached yet)
    new_access: list[str] = field(default_factory=list)
    dangerous: list[str] = field(default_factory=list)
    confidence: str | None = None  # high | medium | None (benign)
    ignored: str | None = None  # why nothing is done

    @property
    def benign(self) -> bool:
        return not self.dangerous


def _doc(value: Any) -> dict | None:
    """A policy document as CloudTrail or IAM gives it (dict, JSON text, URL-encoded JSON text)."""
    return load_document(value)


def _allowed(arn: str, docs: list[dict]) -> set[str]:
    out = set()
    for action in PROBES:
        d = evaluate(
            {"principal": arn, "action": action, "resource": "*"},
            identity_policies=docs,
            explain=False,
            resource_policy_required=False,
        )
        if d.allowed:
            out.add(action)
    return out


def _inline_docs(iam: Any, kind: str, name: str, skip: str | None = None) -> list[dict]:
    lst = {
        USER: lambda: iam.list_user_policies(UserName=name),
        ROLE: lambda: iam.list_role_policies(RoleName=name),
        GROUP: lambda: iam.list_group_policies(GroupName=name),
    }[kind]()["PolicyNames"]
    return [d for n in lst if n != skip and (d := _doc(inline_document(iam, kind, name, n))) is not None]


def _managed_doc(iam: Any, arn: str, version: str | None = None) -> dict | None:
    version = version or iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return _doc(
        raw_text(
            iam,
            "GetPolicyVersion",
            lambda: iam.get_policy_version(PolicyArn=arn, VersionId=version),
            lambda p: p["PolicyVersion"]["Document"],
        )
    )


def _attached_docs(iam: Any, kind: str, name: str, skip: str | None = None) -> list[dict]:
    call = {
        USER: lambda: iam.list_attached_user_policies(UserName=name),
        ROLE: lambda: iam.list_attached_role_policies(RoleName=name),
        GROUP: lambda: iam.list_attached_group_policies(GroupName=name),
    }[kind]
    return [
        d
        for p in call()["AttachedPolicies"]
        if p["PolicyArn"] != skip and (d := _managed_doc(iam, p["PolicyArn"])) is not None
    ]


def _target(rp: dict, acct: str) -> tuple[str | None, str | None]:
    if rp.get("roleName"):
        return ROLE, role_arn(acct, rp["roleName"])
    if rp.get("userName"):
        return USER, user_arn(acct, rp["userName"])
    if rp.get("groupName"):
        return GROUP, group_arn(acct, rp["groupName"])
    return None, None


def _grant_reasons(doc: dict, new: set[str], after: set[str]) -> list[str]:
    """Why newly granted access is dangerous: the native rule's grants, admin equivalence (every probe allowed
    now), IAM write, PassRole on any role."""
    reasons = [f"grants {r}" for r in dangerous_grants(doc, GRANT_TARGETS)]
    if new and set(PROBES) <= after:
        reasons.append("administrator-equivalent: every probed action newly allowed")
    if new & set(IAM_WRITE):
        reasons.append(f"new IAM write: {', '.join(sorted(new & set(IAM_WRITE)))}")
    if "iam:PassRole" in new:
        reasons.append("new iam:PassRole on any role")
    return list(dict.fromkeys(reasons))


def judge(detail: dict, iam: Any) -> Verdict:
    """The verdict on one CloudTrail record (EventBridge's ``detail``); ``iam``: a client in its account."""
    name = str(detail.get("eventName") or "")
    acct = str(detail.get("recipientAccountId") or (detail.get("userIdentity") or {}).get("accountId") or "")
    v = Verdict(detail.get("eventID"), name, acct or None, None)
    if name not in WATCHED:
        v.ignored = "not a watched call"
        return v
    if detail.get("errorCode"):
        v.ignored = f"the call failed ({detail['errorCode']}): nothing changed"
        return v
    rp = detail.get("requestParameters") or {}
    caller = (detail.get("userIdentity") or {}).get("arn") or ""
    kind, target = _target(rp, acct)
    v.principal_arn = target
    if name in ("CreateAccessKey", "CreateLoginProfile"):
        own = principal(caller).kind == USER and name_of(caller) == rp.get("userName")
        if not rp.get("userName") or own:
            v.ignored = "credentials for the caller itself"
            return v
        v.dangerous = [f"{name} for another user ({rp['userName']}) by {caller}: persistence"]
        v.confidence = "medium"
        return v
    if name == "UpdateAssumeRolePolicy":
        doc = _doc(rp.get("policyDocument"))
        if doc is None:
            v.ignored = "the trust document could not be read"
            return v
        v.dangerous = [f"trust opened: {r}" for r in trust_openings(doc, acct or None, set())]
        v.confidence = ("high" if any("anyone" in r for r in v.dangerous) else "medium") if v.dangerous else None
        return v
    if name in ("CreatePolicy", "CreatePolicyVersion"):
        doc = _doc(rp.get("policyDocument"))
        if doc is None:
            v.ignored = "the policy document could not be read"
            return v
        before: list[dict] = []
        if name == "CreatePolicyVersion" and rp.get("policyArn"):
            versions = sorted(
                iam.list_policy_versions(PolicyArn=rp["policyArn"])["Versions"], key=lambda x: x["CreateDate"]
            )
            new_id = ((detail.get("responseElements") or {}).get("policyVersion") or {}).get("versionId")
            older = [x["VersionId"] for x in versions if x["VersionId"] != new_id]
            prev = _managed_doc(iam, rp["policyArn"], older[-1]) if older else None
            before = [prev] if prev else []
        probe = f"arn:aws:iam::{acct or '000000000000'}:role/iamkit-probe"
        after = _allowed(probe, [*before, doc])
        new = after - _allowed(probe, before)
        v.new_access = sorted(new)
        v.dangerous = _grant_reasons(doc, new, after) if new else []
        v.confidence = "high" if any("administrator" in r for r in v.dangerous) else "medium" if v.dangerous else None
        return v
    # a principal's policies: Put*Policy (inline) or Attach*Policy (managed)
    if target is None:
        v.ignored = "no principal named in the request"
        return v
    pname = name_of(target)
    if name.startswith("Put"):
        doc = _doc(rp.get("policyDocument"))
        others = _inline_docs(iam, kind, pname, skip=rp.get("policyName")) + _attached_docs(iam, kind, pname)
    else:
        doc = _managed_doc(iam, rp.get("policyArn", ""))
        others = _inline_docs(iam, kind, pname) + _attached_docs(iam, kind, pname, skip=rp.get("policyArn"))
    if doc is None:
        v.ignored = "the policy document could not be read"
        return v
    probe = target if kind != GROUP else f"arn:aws:iam::{acct}:user/iamkit-probe"
    after = _allowed(probe, [*others, doc])
    new = after - _allowed(probe, others)
    v.new_access = sorted(new)
    v.dangerous = _grant_reasons(doc, new, after) if new else []
    v.confidence = "high" if any("administrator" in r for r in v.dangerous) else "medium" if v.dangerous else None
    return v


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def respond(v: Verdict, iam: Any, *, deny: bool | None = None) -> list[str]:
    """Tag the principal for review and, when configured and the confidence is high, deny it everything.
    Returns what was done (one line each)."""
    done: list[str] = []
    if v.principal_arn is None or v.benign:
        return done
    kind, name = principal(v.principal_arn).kind, name_of(v.principal_arn)
    reason = f"{v.event_name} {v.event_id or ''}".strip()[:256]
    tags = [{"Key": REVIEW_TAG, "Value": "true"}, {"Key": REASON_TAG, "Value": reason}]
    if kind == USER:
        iam.tag_user(UserName=name, Tags=tags)
        done.append(f"tagged {v.principal_arn} {REVIEW_TAG}=true")
    elif kind == ROLE:
        iam.tag_role(RoleName=name, Tags=tags)
        done.append(f"tagged {v.principal_arn} {REVIEW_TAG}=true")
    deny = _flag(DENY_ENV) if deny is None else deny
    if deny and v.confidence == "high" and kind in (USER, ROLE):
        doc = json.dumps(DENY_ALL)
        (
            iam.put_user_policy(UserName=name, PolicyName=QUARANTINE_POLICY, PolicyDocument=doc)
            if kind == USER
            else iam.put_role_policy(RoleName=name, PolicyName=QUARANTINE_POLICY, PolicyDocument=doc)
        )
        done.append(f"denied everything to {v.principal_arn} (inline {QUARANTINE_POLICY}; remove it after review)")
    return done


def handle(
    event: dict,
    *,
    iam: Any = None,
    sns: Any = None,
    http: Any = None,
    conf: dict | None = None,
    deny: bool | None = None,
) -> dict[str, Any]:
    """Judge one EventBridge event, respond and notify; returns the verdict and what was done (logged too)."""
    detail = event.get("detail") if isinstance(event, dict) else None
    if not isinstance(detail, dict) or event.get("detail-type") != "AWS API Call via CloudTrail":
        return {"ignored": "not an EventBridge CloudTrail event"}
    if iam is None and detail.get("eventName") in WATCHED and not detail.get("errorCode"):
        iam = connect().client("iam")
    v = judge(detail, iam)
    out: dict[str, Any] = {"verdict": asdict(v), "done": [], "notified": []}
    if v.ignored or v.benign:
        LOG.info(
            json.dumps(
                {"ignored": v.ignored or "no new or dangerous access", "event": v.event_name, "event_id": v.event_id}
            )
        )
        return out
    try:
        out["done"] = respond(v, iam, deny=deny)
    except Exception as e:  # the notification still goes out, saying what failed
        out["done"] = [f"response failed: {e.__class__.__name__}: {str(e)[:200]}"]
    sev = "critical" if v.confidence == "high" else "high"
    ref = v.event_id or f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
    msg = Message(
        f"autorespond-{ref}",
        sev,
        found=[f"{v.event_name} on {v.principal_arn or 'a policy'}: {r}" for r in v.dangerous]
        + ([f"new access: {', '.join(v.new_access)}"] if v.new_access else []),
        done=out["done"],
        awaiting=[f"review {v.principal_arn or 'the policy'} and remove the tag or the change"],
        title="iamkit: auto-response",
    )
    rows, errors = send(msg, conf=settings() if conf is None else conf, http=http, sns=sns)
    out["notified"] = rows
    out["notify_errors"] = [e["message"] for e in errors]
    LOG.warning(
        json.dumps(
            {
                "event": v.event_name,
                "principal": v.principal_arn,
                "dangerous": v.dangerous,
                "done": out["done"],
                "notified": rows,
            },
            default=str,
        )
    )
    return out


def handler(event: dict, context: Any = None) -> dict[str, Any]:  # the Lambda entry point
    return handle(event)
