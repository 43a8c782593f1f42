"""Hunt detections as OCSF Detection Findings (class 2004, category 2 "Findings", OCSF 1.1): one event per
row of the ``detections`` frame, with the rule's ATT&CK mapping, the principal, key and CloudTrail event
ids as evidence and observables. ``SCHEMA`` (``iamkit/schemas/ocsf_detection_finding.json``) describes
exactly the fields written here; ``validate`` checks events against it."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamkit.severity import OCSF_ID, OCSF_NAME
from iamkit.trail.detect.attack import TACTICS, describe

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.trail.detect.rules import Rule

OCSF_VERSION = "1.1.0"
ATTACK_VERSION = "v15"
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "ocsf_detection_finding.json"
_ARN_ACCOUNT_AT = 4  # arn:partition:service:region:ACCOUNT:resource


def _ms(value: Any) -> int | None:
    import pandas as pd

    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    return int(pd.Timestamp(value).timestamp() * 1000)


def _account(arn: str | None) -> str | None:
    parts = (arn or "").split(":")
    return parts[_ARN_ACCOUNT_AT] if len(parts) > _ARN_ACCOUNT_AT and parts[_ARN_ACCOUNT_AT].isdigit() else None


def attacks(rule: Rule | None) -> list[dict[str, Any]]:
    """OCSF ``attack`` objects for a rule's techniques: technique (its parent for a sub-technique),
    sub-technique, first tactic and all tactics."""
    out = []
    for tid in rule.techniques if rule is not None else []:
        info = describe(tid)
        parent = tid.split(".")[0]
        obj: dict[str, Any] = {
            "version": ATTACK_VERSION,
            "technique": {"uid": parent, "name": describe(parent)["name"] or info["name"]},
        }
        if "." in tid:
            obj["sub_technique"] = {"uid": tid, "name": info["name"]}
        tactics = [{"uid": TACTICS[t], "name": t} for t in info["tactics"] if t in TACTICS]
        if tactics:
            obj["tactic"] = tactics[0]
            obj["tactics"] = tactics
        out.append(obj)
    return out


def to_ocsf(detections: pd.DataFrame, rules: dict[str, Rule] | None = None) -> list[dict[str, Any]]:
    """One OCSF Detection Finding per detection; ``rules`` (``HuntResult.rules``) give the ATT&CK mapping
    and rationale. The finding uid is stable: a hash of the rule id and the detection's event ids."""
    from iamkit import __version__

    rules = rules or {}
    out = []
    for r in detections.to_dict(orient="records"):
        rule = rules.get(r["detection_id"])
        ids = [str(x) for x in (r.get("event_ids") or [])]
        uid = hashlib.sha256(json.dumps([r["detection_id"], sorted(ids)]).encode()).hexdigest()[:32]
        sev = OCSF_ID.get(str(r.get("severity")), 1)
        first, last = _ms(r.get("first_seen")), _ms(r.get("last_seen"))
        principal = r.get("principal_arn") or None
        key = r.get("access_key_id") or None
        user: dict[str, Any] = {}
        if principal:
            user["uid"] = principal
        if key:
            user["credential_uid"] = key
        account = _account(principal)
        info: dict[str, Any] = {
            "uid": uid,
            "title": r.get("title") or r["detection_id"],
            "desc": r.get("summary") or "",
            "types": [rule.kind if rule is not None else "detection"],
            "analytic": {
                "uid": r["detection_id"],
                "name": r.get("title") or r["detection_id"],
                "type_id": 1,
                "type": "Rule",
            },
            "attacks": attacks(rule),
            "related_events_count": len(ids),
        }
        if first is not None:
            info["first_seen_time"] = first
        if last is not None:
            info["last_seen_time"] = last
        observables = []
        if principal:
            observables.append(
                {"name": "evidences[0].actor.user.uid", "type_id": 10, "type": "Resource UID", "value": principal}
            )
        if key:
            observables.append(
                {
                    "name": "evidences[0].actor.user.credential_uid",
                    "type_id": 99,
                    "type": "AWS Access Key ID",
                    "value": key,
                }
            )
        observables += [
            {"name": "evidences[0].data.event_ids", "type_id": 99, "type": "CloudTrail eventID", "value": e}
            for e in ids
        ]
        event: dict[str, Any] = {
            "class_uid": 2004,
            "class_name": "Detection Finding",
            "category_uid": 2,
            "category_name": "Findings",
            "activity_id": 1,
            "activity_name": "Create",
            "type_uid": 200401,
            "type_name": "Detection Finding: Create",
            "time": last if last is not None else first or 0,
            "severity_id": sev,
            "severity": OCSF_NAME[sev],
            "status_id": 1,
            "status": "New",
            "is_alert": True,
            "message": r.get("summary") or "",
            "metadata": {
                "version": OCSF_VERSION,
                "product": {"name": "iamkit", "vendor_name": "iamkit", "version": __version__},
            },
            "cloud": {"provider": "AWS"},
            "finding_info": info,
            "attacks": info["attacks"],
            "evidences": [{"actor": {"user": user} if user else {}, "data": {"event_ids": ids}}],
            "observables": observables,
        }
        if rule is not None and rule.description:
            event["finding_info"]["desc"] = f"{event['message']} | {' '.join(rule.description.split())}"
        if account:
            event["cloud"]["account"] = {"uid": account, "type": "AWS Account", "type_id": 10}
        out.append(event)
    return out


def dumps(detections: pd.DataFrame, rules: dict[str, Rule] | None = None) -> str:
    """The OCSF events as a JSON array text (validated against ``SCHEMA``)."""
    events = to_ocsf(detections, rules)
    validate(events)
    return json.dumps(events, indent=1, ensure_ascii=False)


@cache
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def validate(events: list[dict]) -> None:
    """Raise ``jsonschema.ValidationError`` when an event does not match the schema."""
    import jsonschema

    jsonschema.validate(events, {"type": "array", "items": schema()})
