"""Triggers: start the right playbook from a finding, its fields mapped onto the playbook's parameters.

``read(path) -> Finding`` recognises a finding by its structure (never by substrings): a GuardDuty finding as
GetFindings returns it (``{"Findings": [...]}``, or one finding), the EventBridge "GuardDuty Finding" event, an
iamkit detection row (``iamkit trail hunt --format json``), an OCSF Detection Finding (``class_uid`` 2004), or an
EventBridge CloudTrail event ("AWS API Call via CloudTrail"). Each becomes the same ``Finding``: its trigger
category (``guardduty``, ``detections`` or ``cloudtrail``, the keys of a playbook's ``triggers``), its type and
its fields, each value checked against what that field must look like (``FIELDS``): a crafted value is refused,
never passed on. ``choose(finding)`` picks the playbook whose triggers name the type; ``parameters`` maps the
fields onto the playbook's parameters (``triggers.map``, else same-named parameters). Values only ever reach a
notebook as papermill parameters (Python literals), never a shell or a path.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iamkit.errors import BadInput

MAX_BYTES = 5 * 1024 * 1024

_ARN_TAIL = r"[A-Za-z0-9+=,.@_/:-]{1,512}"
#: finding field -> (what it is, the full match its value must be)
FIELDS: dict[str, tuple[str, re.Pattern[str] | None]] = {
    "access_key_id": ("an access key id", re.compile(r"(AKIA|ASIA)[A-Z0-9]{12,124}")),
    "principal_arn": (
        "an IAM or STS principal ARN",
        re.compile(rf"arn:aws[a-z-]{{0,16}}:(iam|sts)::\d{{12}}:{_ARN_TAIL}"),
    ),
    "role_arn": ("an IAM role ARN", re.compile(r"arn:aws[a-z-]{0,16}:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}")),
    "user_name": ("an IAM user or role name", re.compile(r"[A-Za-z0-9+=,.@_-]{1,128}")),
    "session_name": ("a role session name", re.compile(r"[A-Za-z0-9+=,.@_-]{2,64}")),
    "account_id": ("an AWS account id", re.compile(r"\d{12}")),
    "region": ("an AWS region", re.compile(r"[a-z]{2}(-[a-z]+){1,2}-\d{1,2}")),
    "source_ip": ("an IP address", None),
    "first_seen": ("an ISO-8601 time", None),
    "last_seen": ("an ISO-8601 time", None),
}
KINDS = {"guardduty": "GuardDuty finding type", "detections": "detection id", "cloudtrail": "CloudTrail event"}


@dataclass
class Finding:
    shape: str  # what was recognised, e.g. "GuardDuty finding (GetFindings)"
    category: str  # guardduty | detections | cloudtrail
    type: str
    fields: dict[str, str] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)  # field -> why its value was refused
    raw: Any = None

    def describe(self) -> str:
        return f"{self.shape}, {KINDS[self.category]} {self.type}"


# ------------------------------------------------------------------------------------------------ reading
def _get(obj: Any, path: str) -> Any:
    """``a.b.c`` in a JSON tree, each key matched without regard to case (GuardDuty's API spells them
    PascalCase, its EventBridge event camelCase); ``None`` when any part is missing."""
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        if part in obj:
            obj = obj[part]
            continue
        low = part.lower()
        obj = next((v for k, v in obj.items() if isinstance(k, str) and k.lower() == low), None)
    return obj


def _has(obj: Any, *keys: str) -> bool:
    return isinstance(obj, dict) and all(_get(obj, k) is not None for k in keys)


def _iso(value: Any) -> str | None:
    """A time as ISO-8601 UTC: ISO text, or epoch milliseconds (OCSF, pandas JSON)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            return dt.datetime.fromtimestamp(value / 1000, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        except (OverflowError, OSError, ValueError):
            return None
    from iamkit.window import parse_time

    text = str(value).strip()
    if len(text) > 40 or not re.match(r"\d{4}-\d{2}-\d{2}", text):  # a time, never a span back from now
        return None
    try:
        t = parse_time(text, name="time")
    except BadInput:
        return None
    if not isinstance(t, dt.datetime):
        return None
    t = t if t.tzinfo else t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def check(name: str, value: Any) -> str:
    """``value`` as the text of finding field ``name``, or BadInput saying what it should have been."""
    what, pattern = FIELDS[name]
    text = value if isinstance(value, str) else None
    ok = False
    if name == "source_ip" and text is not None:
        try:
            text = str(ipaddress.ip_address(text.strip()))
            ok = True
        except ValueError:
            ok = False
    elif name in ("first_seen", "last_seen"):
        text = _iso(value)
        ok = text is not None
    elif text is not None and pattern is not None:
        ok = len(text) <= 2048 and pattern.fullmatch(text) is not None
    if not ok:
        from iamkit.escape import visible

        shown = visible(str(value)[:80])
        raise BadInput(f"finding field {name}: {shown!r} is not {what}")
    return text  # type: ignore[return-value]


def _fields(raw: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Checked fields (empty values left out) and the ones refused, with why."""
    good, bad = {}, {}
    for k, v in raw.items():
        if v is None or v == "":
            continue
        try:
            good[k] = check(k, v)
        except BadInput as e:
            bad[k] = str(e)
    return good, bad


def _guardduty(f: dict[str, Any], shape: str) -> Finding:
    account = _get(f, "AccountId")
    details = _get(f, "Resource.AccessKeyDetails") or {}
    user, kind = _get(details, "UserName"), _get(details, "UserType")
    principal = role = None
    if isinstance(account, str) and isinstance(user, str):
        if kind == "IAMUser":
            principal = f"arn:aws:iam::{account}:user/{user}"
        elif kind == "AssumedRole":
            role = f"arn:aws:iam::{account}:role/{user}"
        elif kind == "Root":
            principal = f"arn:aws:iam::{account}:root"
    action = _get(f, "Service.Action") or {}
    ip = None
    for k in ("AwsApiCallAction", "NetworkConnectionAction", "PortProbeAction"):
        ip = ip or _get(action, f"{k}.RemoteIpDetails.IpAddressV4")
    good, bad = _fields(
        {
            "access_key_id": _get(details, "AccessKeyId"),
            "principal_arn": principal,
            "role_arn": role,
            "user_name": user,
            "account_id": account,
            "region": _get(f, "Region"),
            "source_ip": ip,
            "first_seen": _get(f, "Service.EventFirstSeen"),
            "last_seen": _get(f, "Service.EventLastSeen"),
        }
    )
    return Finding(shape, "guardduty", _type(_get(f, "Type"), "Type"), good, bad, f)


def _cloudtrail(rec: dict[str, Any], shape: str) -> Finding:
    ident = _get(rec, "userIdentity") or {}
    issuer = _get(ident, "sessionContext.sessionIssuer.arn")
    name = _get(rec, "eventName")
    source = _get(rec, "eventSource")
    good, bad = _fields(
        {
            "access_key_id": _get(ident, "accessKeyId"),
            "principal_arn": _get(ident, "arn"),
            "role_arn": issuer if isinstance(issuer, str) and ":role/" in issuer else None,
            "account_id": _get(rec, "recipientAccountId") or _get(ident, "accountId"),
            "region": _get(rec, "awsRegion"),
            "source_ip": _get(rec, "sourceIPAddress"),
            "first_seen": _get(rec, "eventTime"),
            "last_seen": _get(rec, "eventTime"),
        }
    )
    event = _type(name, "detail.eventName")
    if isinstance(source, str) and re.fullmatch(r"[a-z0-9-]{1,64}\.amazonaws\.com", source):
        event = f"{source}:{event}"
    return Finding(shape, "cloudtrail", event, good, bad, rec)


def _detection_row(row: dict[str, Any]) -> Finding:
    good, bad = _fields(
        {
            "access_key_id": row.get("access_key_id"),
            "principal_arn": row.get("principal_arn"),
            "first_seen": row.get("first_seen"),
            "last_seen": row.get("last_seen"),
        }
    )
    return Finding(
        "detection row (trail hunt --format json)",
        "detections",
        _type(row.get("detection_id"), "detection_id"),
        good,
        bad,
        row,
    )


def _ocsf(ev: dict[str, Any]) -> Finding:
    evidences = _get(ev, "evidences")
    first = evidences[0] if isinstance(evidences, list) and evidences and isinstance(evidences[0], dict) else {}
    user = _get(first, "actor.user") or _get(ev, "actor.user") or {}
    good, bad = _fields(
        {
            "access_key_id": _get(user, "credential_uid"),
            "principal_arn": _get(user, "uid"),
            "source_ip": _get(first, "src_endpoint.ip") or _get(ev, "src_endpoint.ip"),
            "account_id": _get(ev, "cloud.account.uid"),
            "region": _get(ev, "cloud.region"),
            "first_seen": _get(ev, "finding_info.first_seen_time"),
            "last_seen": _get(ev, "finding_info.last_seen_time"),
        }
    )
    rule = _get(ev, "finding_info.analytic.uid")
    return Finding("OCSF Detection Finding", "detections", _type(rule, "finding_info.analytic.uid"), good, bad, ev)


_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/!-]{0,255}")


def _type(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _TYPE.fullmatch(value):
        from iamkit.escape import visible

        raise BadInput(f"finding {where}: {visible(str(value)[:80])!r} is not a finding type iamkit knows how to read")
    return value


def _one(items: list[Any], what: str) -> Any:
    if len(items) != 1:
        raise BadInput(f"the file holds {len(items)} {what}s: give one (for example jq '.[0]')")
    return items[0]


def recognise(doc: Any) -> Finding:
    """The ``Finding`` in a parsed JSON document, recognised by structure; BadInput naming what was not."""
    if isinstance(doc, list) and doc and all(isinstance(x, dict) for x in doc):
        kinds = {("ocsf" if x.get("class_uid") == 2004 else "row" if "detection_id" in x else "other") for x in doc}
        if kinds == {"row"}:
            return _detection_row(_one(doc, "detection row"))
        if kinds == {"ocsf"}:
            return _ocsf(_one(doc, "OCSF finding"))
    if isinstance(doc, dict):
        if _has(doc, "detail-type", "source", "detail") and isinstance(doc["detail"], dict):
            kind, source = doc["detail-type"], doc["source"]
            if source == "aws.guardduty" and kind == "GuardDuty Finding":
                return _guardduty(doc["detail"], "EventBridge GuardDuty Finding event")
            if kind in ("AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail") and _has(
                doc["detail"], "eventName", "userIdentity"
            ):
                return _cloudtrail(doc["detail"], f"EventBridge {kind} event")
            from iamkit.escape import visible

            raise BadInput(
                f"EventBridge event of source {visible(str(source)[:60])!r}, detail-type "
                f"{visible(str(kind)[:60])!r} is not a trigger iamkit knows (GuardDuty Finding, "
                "AWS API Call via CloudTrail)"
            )
        if isinstance(doc.get("Findings"), list) and all(isinstance(x, dict) for x in doc["Findings"]):
            return _guardduty(_one(doc["Findings"], "GuardDuty finding"), "GuardDuty finding (GetFindings)")
        if _has(doc, "SchemaVersion", "Type", "Resource", "AccountId"):
            return _guardduty(doc, "GuardDuty finding")
        if doc.get("class_uid") == 2004 and isinstance(doc.get("finding_info"), dict):
            return _ocsf(doc)
        if "detection_id" in doc:
            return _detection_row(doc)
    from iamkit.escape import visible

    keys = ", ".join(map(str, list(doc)[:8])) if isinstance(doc, dict) else ""
    got = (
        f"an object with keys {visible(keys)[:200]}"
        if isinstance(doc, dict)
        else f"a JSON {type(doc).__name__}" + (f" of {len(doc)} item(s)" if isinstance(doc, list) else "")
    )
    raise BadInput(
        f"not a finding iamkit recognises ({got}): expected a GuardDuty finding (GetFindings or its "
        "EventBridge event), an iamkit detection row (trail hunt --format json), an OCSF Detection "
        "Finding (class_uid 2004) or an EventBridge CloudTrail event"
    )


def read(path: Path | str) -> Finding:
    """Read and recognise the finding in ``path`` (JSON, at most ``MAX_BYTES``)."""
    from iamkit import jsontext

    p = Path(path)
    if not p.is_file():
        raise BadInput(f"--from-finding {p}: not a file")
    if p.stat().st_size > MAX_BYTES:
        raise BadInput(f"--from-finding {p}: larger than {MAX_BYTES // 1024 // 1024} MB; a finding is a few KB")
    doc = jsontext.read(p, f"--from-finding {p}")
    try:
        return recognise(doc)
    except BadInput as e:
        raise BadInput(f"--from-finding {p}: {e}") from None


# ------------------------------------------------------------------------------------------------ choosing
def _matches(entry: str, value: str, category: str) -> int:
    """2 exact, 1 prefix (an entry ending in ``*``), 0 no match; a CloudTrail entry may omit the event source."""
    if entry == value or (category == "cloudtrail" and ":" not in entry and value.rsplit(":", 1)[-1] == entry):
        return 2
    if entry.endswith("*") and value.startswith(entry[:-1]):
        return 1
    return 0


def candidates(finding: Finding, extra: list[Path | str] | None = None) -> list[tuple[int, Any]]:
    """(match strength, playbook) of every playbook whose triggers name the finding's type, best first."""
    from iamkit import playbook

    out = []
    for _, path in sorted(playbook.available(extra).items()):
        pb = playbook.load(path)
        entries = (pb.triggers or {}).get(finding.category) or []
        best = max((_matches(str(e), finding.type, finding.category) for e in entries), default=0)
        if best:
            out.append((best, pb))
    out.sort(key=lambda x: -x[0])
    return out


def _fills(pb: Any, finding: Finding) -> bool:
    """Whether ``finding`` carries a field (accepted or refused) for every required parameter of ``pb`` that has
    no default: a detection of a key starts the key's playbook, not one that needs a role it does not name."""
    by_param = pb.trigger_map
    have = set(finding.fields) | set(finding.rejected)
    return all(by_param.get(p.name) in have for p in pb.parameters if p.required and p.default in (None, ""))


def choose(finding: Finding, extra: list[Path | str] | None = None) -> Any:
    """The one playbook the finding triggers; BadInput when none or several equally do."""
    found = candidates(finding, extra)
    if not found:
        raise BadInput(
            f"no playbook is triggered by {finding.describe()}: name one (iamkit run PLAYBOOK "
            "--from-finding FILE), or add the type to a playbook's triggers"
        )
    best = [pb for strength, pb in found if strength == found[0][0]]
    if len(best) > 1:  # equally named: the playbooks whose required parameters this finding can fill
        filled = [pb for pb in best if _fills(pb, finding)]
        best = filled or best
    if len(best) > 1:
        raise BadInput(
            f"{finding.describe()} triggers {', '.join(p.id for p in best)}: name the one to run "
            "(iamkit run PLAYBOOK --from-finding FILE)"
        )
    return best[0]


def parameters(finding: Finding, pb: Any) -> dict[str, str]:
    """The playbook's parameters the finding fills (``pb.trigger_map``); a mapped field whose value was refused
    is an error naming it."""
    out = {}
    for name, fld in pb.trigger_map.items():
        if fld in finding.rejected:
            raise BadInput(f"{finding.rejected[fld]} (needed for parameter {name} of {pb.id})")
        if fld in finding.fields:
            out[name] = finding.fields[fld]
    return out


def record(finding: Finding, mapped: dict[str, str], source: Path | str) -> dict[str, Any]:
    """What the case keeps about its trigger (``evidence/trigger.json``): the finding as received (secrets such as
    a CloudTrail response's session token redacted, as the trail store does) and the mapping."""
    import copy

    from iamkit.trail.store import redact_secrets

    raw = copy.deepcopy(finding.raw)
    redact_secrets(raw)
    return {
        "file": Path(source).name,
        "shape": finding.shape,
        "category": finding.category,
        "type": finding.type,
        "fields": finding.fields,
        "refused": finding.rejected,
        "parameters": mapped,
        "finding": raw,
    }
