"""Policy validation in the manner of IAM Access Analyzer: findings instead of exceptions.

``validate(doc, kind)`` returns :class:`Finding` rows (severity ``error`` | ``security_warning`` | ``warning`` |
``suggestion``, a stable ``code``, the statement index / Sid and the field). It walks the raw document
leniently, so any input — invalid JSON included — yields findings, never an exception.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from iamkit.errors import PolicyError
from iamkit.policy.catalog import Catalog, catalog
from iamkit.policy.document import _STATEMENT_KEYS, KINDS, VERSIONS, load_document
from iamkit.severity import VALIDATION as SEVERITIES  # noqa: F401  (the scale of Finding.severity)

_ACCOUNT = re.compile(r"^\d{12}$")
_SID = re.compile(r"^[A-Za-z0-9]*$")
# operator family -> the catalogue key types it may test
_COMPATIBLE = {
    "string": {"String", "ARN", "ArrayOfString", "ArrayOfARN"},
    "arn": {"ARN", "ArrayOfARN"},
    "numeric": {"Numeric", "ArrayOfNumeric"},
    "date": {"Date", "ArrayOfDate"},
    "bool": {"Bool", "ArrayOfBool"},
    "ip": {"IPAddress", "ArrayOfIPAddress"},
    "binary": {"Binary", "ArrayOfBinary"},
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One validation finding; ``statement`` is the index (None for document-level findings)."""

    severity: str
    code: str
    message: str
    statement: int | None = None
    sid: str = ""
    field: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Findings(list):
    def add(
        self, severity: str, code: str, message: str, index: int | None = None, sid: str = "", field: str = ""
    ) -> None:
        self.append(Finding(severity, code, message, index, sid, field))


def validate(doc: Any, kind: str = "identity") -> list[Finding]:
    """Check a policy document (dict, JSON text, URL-encoded JSON) of ``kind``; returns findings, never raises."""
    out = _Findings()
    if kind not in KINDS:
        out.add("error", "UNKNOWN_POLICY_KIND", f"unknown policy kind {kind!r} (one of {', '.join(KINDS)})")
        return out
    try:
        data = load_document(doc.to_dict() if hasattr(doc, "to_dict") and hasattr(doc, "statements") else doc)
    except PolicyError as e:
        out.add("error", "INVALID_JSON", str(e))
        return out
    version = data.get("Version")
    if version is None:
        out.add(
            "suggestion",
            "MISSING_VERSION",
            'no Version element: use "2012-10-17" (policy variables are not substituted in the 2008-10-17 language)',
            field="Version",
        )
    elif version not in VERSIONS:
        out.add("error", "INVALID_VERSION", f'unknown Version {version!r}; use "2012-10-17"', field="Version")
    elif version == "2008-10-17":
        out.add("warning", "OLD_VERSION", "Version 2008-10-17 does not support policy variables", field="Version")
    for key in set(data) - {"Version", "Id", "Statement"}:
        out.add("error", "UNKNOWN_ELEMENT", f"unknown top-level element {key!r}", field=str(key))
    statements = data.get("Statement")
    if statements is None:
        out.add("error", "MISSING_STATEMENT", "the policy has no Statement element", field="Statement")
        return out
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        out.add("error", "INVALID_STATEMENT", "Statement must be an object or a list of objects", field="Statement")
        return out
    if not statements:
        out.add("error", "MISSING_STATEMENT", "Statement is an empty list", field="Statement")
    cat = catalog()
    sids: dict[str, int] = {}
    for i, st in enumerate(statements):
        try:
            _statement(out, cat, st, i, kind, sids)
        except Exception as e:  # never crash on odd input; report it
            out.add("error", "INVALID_STATEMENT", f"statement could not be checked: {type(e).__name__}: {e}", i)
    return out


def _strings(out: _Findings, value: Any, i: int, sid: str, fld: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        if len(set(value)) != len(value):
            out.add("suggestion", "DUPLICATE_VALUE", f"{fld} lists a value more than once", i, sid, fld)
        return value
    out.add("error", "INVALID_TYPE", f"{fld} must be a string or a non-empty list of strings", i, sid, fld)
    return []


def _statement(out: _Findings, cat: Catalog, st: Any, i: int, kind: str, sids: dict[str, int]) -> None:
    if not isinstance(st, Mapping):
        out.add("error", "INVALID_STATEMENT", "a statement must be an object", i)
        return
    principal_allowed, principal_required, resource_required = KINDS[kind]
    sid = st.get("Sid", "")
    if not isinstance(sid, str):
        out.add("error", "INVALID_SID", "Sid must be a string", i, field="Sid")
        sid = ""
    elif sid:
        if sid in sids:
            out.add("error", "DUPLICATE_SID", f"Sid {sid!r} also used by statement {sids[sid]}", i, sid, "Sid")
        sids.setdefault(sid, i)
        if kind in ("identity", "boundary", "session", "scp", "rcp") and not _SID.match(sid):
            out.add("error", "INVALID_SID", "Sid must be alphanumeric in this policy type", i, sid, "Sid")
    for key in set(st) - _STATEMENT_KEYS:
        out.add("error", "UNKNOWN_ELEMENT", f"unknown element {key!r}", i, sid, str(key))
    effect = st.get("Effect")
    if effect not in ("Allow", "Deny"):
        out.add(
            "error", "INVALID_EFFECT", f'Effect must be "Allow" or "Deny", got {json.dumps(effect)}', i, sid, "Effect"
        )
    if kind == "rcp":
        _check_rcp(out, st, effect, i, sid)

    # ---- actions
    if "Action" in st and "NotAction" in st:
        out.add("error", "ACTION_AND_NOTACTION", "use Action or NotAction, not both", i, sid, "Action")
    if "Action" not in st and "NotAction" not in st:
        out.add("error", "MISSING_ACTION", "the statement needs Action or NotAction", i, sid, "Action")
    afield = "Action" if "Action" in st else "NotAction"
    actions = _strings(out, st[afield], i, sid, afield) if afield in st else []
    known_actions = []
    for a in actions:
        known_actions.extend(_check_action(out, cat, a, i, sid, afield))
    if afield == "NotAction" and effect == "Allow":
        out.add(
            "security_warning",
            "ALLOW_WITH_NOT_ACTION",
            "Allow with NotAction grants every other action, including ones added to AWS later",
            i,
            sid,
            "NotAction",
        )
    if afield == "NotAction" and "*" in actions:
        out.add(
            "warning",
            "NEVER_MATCHES",
            'NotAction "*" excludes every action: the statement never applies',
            i,
            sid,
            "NotAction",
        )
    if afield == "Action" and actions and not known_actions and all(":" in a for a in actions):
        out.add("warning", "NEVER_MATCHES", "no listed action exists: the statement never applies", i, sid, "Action")

    # ---- resources
    if "Resource" in st and "NotResource" in st:
        out.add("error", "RESOURCE_AND_NOTRESOURCE", "use Resource or NotResource, not both", i, sid, "Resource")
    rfield = "Resource" if "Resource" in st else "NotResource" if "NotResource" in st else ""
    if not rfield and resource_required:
        out.add(
            "error", "MISSING_RESOURCE", f"a {kind} policy statement needs Resource or NotResource", i, sid, "Resource"
        )
    resources = _strings(out, st[rfield], i, sid, rfield) if rfield else []
    for r in resources:
        _check_arn(out, r, i, sid, rfield)
    if rfield == "NotResource" and effect == "Allow":
        out.add(
            "security_warning",
            "ALLOW_WITH_NOT_RESOURCE",
            "Allow with NotResource grants access to every other resource, including ones created later",
            i,
            sid,
            "NotResource",
        )
    if rfield == "NotResource" and "*" in resources:
        out.add(
            "warning",
            "NEVER_MATCHES",
            'NotResource "*" excludes every resource: the statement never applies',
            i,
            sid,
            "NotResource",
        )
    if rfield == "Resource" and afield == "Action":
        _check_resource_services(out, actions, resources, i, sid)
        _check_resource_star_only(out, cat, known_actions, resources, i, sid)

    # ---- principals
    has_p = "Principal" in st or "NotPrincipal" in st
    if "Principal" in st and "NotPrincipal" in st:
        out.add("error", "PRINCIPAL_AND_NOTPRINCIPAL", "use Principal or NotPrincipal, not both", i, sid, "Principal")
    if has_p and not principal_allowed:
        out.add(
            "error",
            "PRINCIPAL_NOT_ALLOWED",
            f"a {kind} policy cannot name a Principal (the engine ignores it)",
            i,
            sid,
            "Principal",
        )
    if principal_required and not has_p:
        out.add(
            "error",
            "MISSING_PRINCIPAL",
            f"a {kind} policy statement needs a Principal (without one it never applies)",
            i,
            sid,
            "Principal",
        )
    pfield = "Principal" if "Principal" in st else "NotPrincipal" if "NotPrincipal" in st else ""
    if pfield and principal_allowed:
        _check_principal(out, st[pfield], i, sid, pfield)
    if pfield == "NotPrincipal" and effect == "Deny" and principal_allowed:
        _check_not_principal_names(out, st["NotPrincipal"], i, sid)
    if pfield == "NotPrincipal" and effect == "Allow":
        out.add(
            "security_warning",
            "ALLOW_WITH_NOT_PRINCIPAL",
            "Allow with NotPrincipal grants every other principal, anonymous users included",
            i,
            sid,
            "NotPrincipal",
        )
    if (
        pfield == "Principal"
        and effect == "Allow"
        and _is_public(st["Principal"])
        and "Condition" not in st
        and kind in ("resource", "trust")
    ):
        out.add(
            "security_warning",
            "PUBLIC_PRINCIPAL",
            'Allow to Principal "*" without a Condition grants access to anyone, anonymous users included',
            i,
            sid,
            "Principal",
        )

    # ---- conditions
    if "Condition" in st:
        _check_condition(out, cat, st["Condition"], known_actions, effect, i, sid)


def _check_rcp(out: _Findings, st: Mapping[str, Any], effect: Any, i: int, sid: str) -> None:
    """RCP syntax (Organizations guide): Deny only, Principal "*" only, no NotPrincipal/NotAction, no Action "*"."""
    if effect == "Allow":
        out.add(
            "error",
            "RCP_ALLOW",
            "resource control policies can only Deny (RCPFullAWSAccess is implicit)",
            i,
            sid,
            "Effect",
        )
    for element in ("NotPrincipal", "NotAction"):
        if element in st:
            out.add("error", "RCP_UNSUPPORTED_ELEMENT", f"{element} is not supported in RCPs", i, sid, element)
    if "Principal" not in st and "NotPrincipal" not in st:
        out.add("error", "MISSING_PRINCIPAL", 'every RCP statement needs Principal "*"', i, sid, "Principal")
    elif "Principal" in st and st["Principal"] != "*":
        out.add(
            "error",
            "RCP_PRINCIPAL",
            'an RCP can only name Principal "*" (restrict principals with conditions)',
            i,
            sid,
            "Principal",
        )
    actions = st.get("Action")
    if actions == "*" or (isinstance(actions, list) and "*" in actions):
        out.add("error", "RCP_ACTION_STAR", 'a customer RCP cannot use Action "*": name the services', i, sid, "Action")


def _check_action(out: _Findings, cat: Catalog, a: str, i: int, sid: str, fld: str) -> list[str]:
    if a == "*":
        return [a]
    if a.count(":") != 1:
        out.add("error", "INVALID_ACTION", f"{a!r} is not an action (service:Action)", i, sid, fld)
        return []
    service, name = a.split(":")
    if not name:
        out.add("error", "INVALID_ACTION", f"{a!r} has no action name", i, sid, fld)
        return []
    if "*" not in service and "?" not in service and not cat.has_service(service):
        out.add("error", "UNKNOWN_SERVICE", f"unknown service prefix {service!r} in {a!r}", i, sid, fld)
        return []
    matches = cat.expand(a)
    if not matches:
        code = "UNKNOWN_ACTION" if "*" not in a and "?" not in a else "NO_MATCHING_ACTION"
        out.add(
            "error" if code == "UNKNOWN_ACTION" else "warning",
            code,
            f"{a!r} matches no action of {service}",
            i,
            sid,
            fld,
        )
    return list(matches)


def _check_arn(out: _Findings, r: str, i: int, sid: str, fld: str) -> None:
    if r == "*":
        return
    parts = r.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        out.add(
            "error", "INVALID_ARN", f"{r!r} is not an ARN (arn:partition:service:region:account:resource)", i, sid, fld
        )
        return
    _, partition, service, _region, account, resource = parts
    if partition not in ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "*") and "$" not in partition:
        out.add("error", "INVALID_ARN_PARTITION", f"{r!r}: unknown partition {partition!r}", i, sid, fld)
    if not service:
        out.add("error", "INVALID_ARN", f"{r!r}: empty service", i, sid, fld)
    if account and not (
        _ACCOUNT.match(account) or "*" in account or "?" in account or "${" in account or account == "aws"
    ):
        out.add("error", "INVALID_ARN_ACCOUNT", f"{r!r}: account {account!r} is not 12 digits", i, sid, fld)
    if not resource:
        out.add("error", "INVALID_ARN", f"{r!r}: empty resource part", i, sid, fld)


def _check_resource_services(out: _Findings, actions: list[str], resources: list[str], i: int, sid: str) -> None:
    """A statement whose every resource belongs to another service than every action never matches."""
    services = {a.split(":")[0].lower() for a in actions if ":" in a}
    if not services or "*" in actions or any("*" in s or "?" in s for s in services):
        return
    rsvc = set()
    for r in resources:
        parts = r.split(":", 5)
        if r == "*" or len(parts) != 6 or "*" in parts[2] or "?" in parts[2] or "$" in parts[2]:
            return
        rsvc.add(parts[2].lower())
    # a few services own ARNs of another prefix (sts roles are iam ARNs, logs streams, …)
    alias = {"sts": {"iam", "sts"}, "iam": {"iam", "sts"}, "s3": {"s3", "s3-object-lambda"}}
    reach = set().union(*(alias.get(s, {s}) for s in services))
    if rsvc and not (rsvc & reach):
        out.add(
            "warning",
            "NEVER_MATCHES",
            f"resources of {sorted(rsvc)} never match actions of {sorted(services)}",
            i,
            sid,
            "Resource",
        )


def _check_resource_star_only(
    out: _Findings, cat: Catalog, actions: list[str], resources: list[str], i: int, sid: str
) -> None:
    if "*" in resources or not actions or "*" in actions:
        return
    only = [a for a in actions if (info := cat.action(a)) and info.resource_star_only]
    if only and len(only) == len(actions):
        out.add(
            "warning",
            "NEVER_MATCHES",
            f'{", ".join(only[:3])} take only Resource "*": these ARNs never match',
            i,
            sid,
            "Resource",
        )


def _is_public(p: Any) -> bool:
    if p == "*":
        return True
    if isinstance(p, Mapping):
        v = p.get("AWS")
        return v == "*" or (isinstance(v, list) and "*" in v)
    return False


def _check_principal(out: _Findings, p: Any, i: int, sid: str, fld: str) -> None:
    if p == "*":
        return
    if isinstance(p, str) and p.strip():
        out.add(
            "error",
            "BARE_STRING_PRINCIPAL",
            f'{fld} is a bare string {p[:80]!r}: write {{"AWS": {p[:80]!r}}} (the engine reads it so, and reports it)',
            i,
            sid,
            fld,
        )
        return
    if not isinstance(p, Mapping) or not p:
        out.add("error", "INVALID_PRINCIPAL", f'{fld} must be "*" or an object such as {{"AWS": …}}', i, sid, fld)
        return
    for kind, vals in p.items():
        if kind not in ("AWS", "Service", "Federated", "CanonicalUser"):
            out.add("error", "INVALID_PRINCIPAL", f"unknown principal type {kind!r}", i, sid, f"{fld}.{kind}")
            continue
        for v in _strings(out, vals, i, sid, f"{fld}.{kind}"):
            if v == "*":
                if kind != "AWS":
                    out.add(
                        "error",
                        "INVALID_PRINCIPAL",
                        f'{kind} "*" is not valid; use "AWS": "*"',
                        i,
                        sid,
                        f"{fld}.{kind}",
                    )
                continue
            if "*" in v or "?" in v:
                out.add(
                    "error",
                    "WILDCARD_PRINCIPAL",
                    f'{v!r}: wildcards are not allowed in principals (only "*")',
                    i,
                    sid,
                    f"{fld}.{kind}",
                )
            elif kind == "AWS" and not _ACCOUNT.match(v):
                parts = v.split(":", 5)
                if (
                    len(parts) != 6
                    or parts[0] != "arn"
                    or parts[2] not in ("iam", "sts")
                    or not _ACCOUNT.match(parts[4])
                ):
                    out.add(
                        "error",
                        "INVALID_PRINCIPAL",
                        f"{v!r} is not an account id or IAM/STS ARN",
                        i,
                        sid,
                        f"{fld}.{kind}",
                    )
            elif kind == "Service" and not v.endswith((".amazonaws.com", ".amazonaws.com.cn", ".amazon.com")):
                out.add(
                    "warning",
                    "UNKNOWN_SERVICE_PRINCIPAL",
                    f"{v!r} does not look like a service principal",
                    i,
                    sid,
                    f"{fld}.{kind}",
                )


def _check_not_principal_names(out: _Findings, p: Any, i: int, sid: str) -> None:
    """A Deny with NotPrincipal exempts a principal only when its account (and a session's role) is listed too."""
    if not isinstance(p, Mapping) or not isinstance(p.get("AWS"), (str, list)):
        return
    values = [p["AWS"]] if isinstance(p["AWS"], str) else [v for v in p["AWS"] if isinstance(v, str)]
    listed = {f"arn:aws:iam::{v}:root" if _ACCOUNT.match(v) else v for v in values}
    for v in values:
        parts = v.split(":", 5)
        if len(parts) != 6 or not _ACCOUNT.match(parts[4]) or parts[5] == "root":
            continue
        missing = []
        if f"arn:{parts[1]}:iam::{parts[4]}:root" not in listed:
            missing.append("its account")
        if parts[2] == "sts" and parts[5].startswith("assumed-role/"):
            role = parts[5].split("/")[1]
            if not any(
                x.startswith(f"arn:{parts[1]}:iam::{parts[4]}:role/") and x.rsplit("/", 1)[-1] == role for x in listed
            ):
                missing.append("its role")
        if missing:
            out.add(
                "warning",
                "NOT_PRINCIPAL_INCOMPLETE",
                f"NotPrincipal lists {v} without {' and '.join(missing)}: the Deny still applies to it",
                i,
                sid,
                "NotPrincipal",
            )


def _check_condition(
    out: _Findings, cat: Catalog, block: Any, actions: list[str], effect: Any, i: int, sid: str
) -> None:
    from iamkit.policy.conditions import compile_conditions, known_operator, operator_family
    from iamkit.policy.conditions.setops import parse_operator

    if not isinstance(block, Mapping):
        out.add("error", "INVALID_CONDITION", "Condition must be an object of operators", i, sid, "Condition")
        return
    infos = [cat.action(a) for a in actions if a != "*"]
    infos = [x for x in infos if x is not None]
    null_true: set[str] = set()
    positive: set[str] = set()
    for op, keys in block.items():
        fld = f"Condition.{op}"
        if not isinstance(op, str) or not known_operator(op):
            out.add("error", "UNKNOWN_OPERATOR", f"unknown condition operator {op!r}", i, sid, fld)
            continue
        if not isinstance(keys, Mapping) or not keys:
            out.add("error", "INVALID_CONDITION", f"{op} must map condition keys to values", i, sid, fld)
            continue
        family = operator_family(op)
        parsed = parse_operator(op)
        for key, raw in keys.items():
            kf = f"{fld}.{key}"
            try:
                compiled = compile_conditions({op: {str(key): raw}}).conditions
                error = compiled[0].error if compiled else None
            except PolicyError as e:
                error = str(e)
            if error:
                out.add("error", "INVALID_CONDITION_VALUE", error, i, sid, kf)
            ck = cat.condition_key(str(key))
            if ck is None and cat.is_federated_key(str(key)):
                pass  # claims of an OIDC/SAML provider: not enumerable, accepted as AWS does
            elif ck is None:
                service = str(key).split(":", 1)[0].lower()
                if ":" not in str(key):
                    out.add(
                        "error", "INVALID_CONDITION_KEY", f"{key!r} is not a condition key (service:Key)", i, sid, kf
                    )
                elif service != "aws" and not cat.has_service(service):
                    out.add("error", "UNKNOWN_CONDITION_KEY", f"unknown service in condition key {key!r}", i, sid, kf)
                else:
                    out.add("error", "UNKNOWN_CONDITION_KEY", f"unknown condition key {key!r}", i, sid, kf)
            else:
                if infos and not ck.is_global and not any(cat.key_applies(str(key), a) for a in infos):
                    out.add(
                        "warning",
                        "CONDITION_KEY_NOT_SUPPORTED",
                        f"{key!r} is not supported by "
                        f"{', '.join(a.full_name for a in infos[:3])}: the condition never matches "
                        "as written",
                        i,
                        sid,
                        kf,
                    )
                if family != "null" and ck.type not in _COMPATIBLE.get(family, set()):
                    # a String operator still compares the text form (a warning); a typed operator on a key of
                    # another type cannot work (an error)
                    sev = "warning" if family == "string" or (family == "arn" and ck.type == "String") else "error"
                    out.add(
                        sev, "TYPE_MISMATCH", f"{op} compares {family} values but {ck.name} is {ck.type}", i, sid, kf
                    )
                if parsed.qualifier == "ForAllValues" and not ck.multi_valued:
                    out.add(
                        "security_warning",
                        "FORALLVALUES_WITH_SINGLE_VALUED_KEY",
                        f"ForAllValues on the "
                        f"single-valued key {ck.name} is true when the key is absent; use the plain operator",
                        i,
                        sid,
                        kf,
                    )
                elif parsed.qualifier == "ForAnyValue" and not ck.multi_valued:
                    out.add(
                        "warning",
                        "FORANYVALUE_WITH_SINGLE_VALUED_KEY",
                        f"ForAnyValue on the single-valued key {ck.name}; use the plain operator",
                        i,
                        sid,
                        kf,
                    )
                elif parsed.qualifier is None and ck.multi_valued and family != "null":
                    out.add(
                        "warning",
                        "MISSING_SET_OPERATOR",
                        f"{ck.name} is multi-valued: qualify {op} with ForAnyValue: or ForAllValues:",
                        i,
                        sid,
                        kf,
                    )
            if (
                str(key).lower() == "aws:multifactorauthpresent"
                and effect == "Allow"
                and family == "bool"
                and parsed.if_exists
                and _truthy(raw)
            ):
                out.add(
                    "security_warning",
                    "BOOLIFEXISTS_MFA_IN_ALLOW",
                    "BoolIfExists aws:MultiFactorAuthPresent "
                    "true in an Allow also allows long-term access keys without MFA (the key is absent); "
                    "use Bool",
                    i,
                    sid,
                    kf,
                )
            low = str(key).lower()
            if family == "null":
                if _truthy(raw):
                    null_true.add(low)
            elif not parsed.if_exists and parsed.qualifier is None and not _negated(op):
                positive.add(low)
    for key in sorted(null_true & positive):
        out.add(
            "warning",
            "NEVER_MATCHES",
            f"Null {key} true (key absent) contradicts another operator needing the key: the statement never applies",
            i,
            sid,
            "Condition",
        )


def _truthy(raw: Any) -> bool:
    vals = raw if isinstance(raw, list) else [raw]
    return any(v is True or (isinstance(v, str) and v.lower() == "true") for v in vals)


def _negated(op: str) -> bool:
    base = op.split(":")[-1].lower()
    return base.startswith(("stringnot", "numericnot", "datenot", "notip", "arnnot"))


def findings_frame(findings: list[Finding]):
    """Findings as a DataFrame (severity, code, message, statement, sid, field)."""
    import pandas as pd

    cols = ["severity", "code", "message", "statement", "sid", "field"]
    df = pd.DataFrame([f.to_dict() for f in findings], columns=cols)
    df["statement"] = df["statement"].astype("Int64")
    return df
