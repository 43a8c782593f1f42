"""Findings as OCSF Detection Finding events (class 2004, category 2 "Findings", OCSF 1.1), the JSON that
Security Lake, SIEMs and other OCSF consumers ingest."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from iamkit import arn as arns
from iamkit.severity import OCSF_ID as SEVERITY_ID
from iamkit.severity import OCSF_NAME as SEVERITY_NAME

OCSF_VERSION = "1.1.0"


def _v(x: Any) -> Any:
    from iamkit.assess.context import val

    return val(x)


def _resource(arn: str) -> dict[str, Any]:
    a = arns.parse(arn)
    out: dict[str, Any] = {
        "uid": arn,
        "type": a.service if a else "unknown",
        "cloud_partition": a.partition if a else "aws",
    }
    if a is not None and a.region:
        out["region"] = a.region
    if a is not None and a.account:
        out["owner"] = {"account": {"uid": a.account, "type": "AWS Account", "type_id": 10}}
    return out


def to_ocsf(findings: Any, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """One OCSF Detection Finding per row of a ``findings`` frame."""
    from iamkit import __version__

    ms = int((now or datetime.now(UTC)).timestamp() * 1000)
    out = []
    for r in findings.to_dict(orient="records"):
        sev = SEVERITY_ID.get(str(_v(r.get("severity")) or "info"), 1)
        resources = [
            _resource(a) for a in dict.fromkeys(x for x in (_v(r.get("resource_arn")), _v(r.get("principal_arn"))) if x)
        ]
        try:
            evidence = json.loads(_v(r.get("evidence")) or "{}")
        except ValueError:
            evidence = {"raw": _v(r.get("evidence"))}
        event: dict[str, Any] = {
            "class_uid": 2004,
            "class_name": "Detection Finding",
            "category_uid": 2,
            "category_name": "Findings",
            "activity_id": 1,
            "activity_name": "Create",
            "type_uid": 200401,
            "type_name": "Detection Finding: Create",
            "time": ms,
            "severity_id": sev,
            "severity": SEVERITY_NAME[sev],
            "status_id": 1,
            "status": "New",
            "message": _v(r.get("detail")),
            "metadata": {
                "version": OCSF_VERSION,
                "product": {"name": "iamkit", "vendor_name": "iamkit", "version": __version__},
            },
            "finding_info": {
                "uid": _v(r.get("finding_id")),
                "title": _v(r.get("title")),
                "desc": _v(r.get("detail")),
                "types": [str(_v(r.get("rule_id")) or "").split("-")[1] if "-" in str(_v(r.get("rule_id"))) else ""],
                "analytic": {"uid": _v(r.get("rule_id")), "name": _v(r.get("title")), "type_id": 1, "type": "Rule"},
            },
            "cloud": {
                "provider": "AWS",
                "account": {"uid": _v(r.get("account_id")), "type": "AWS Account", "type_id": 10},
            },
            "resources": resources,
            "remediation": {
                "desc": _v(r.get("remediation")) or "",
                "references": [x for x in str(_v(r.get("references")) or "").split() if x],
            },
            "unmapped": {"evidence": evidence, "principal_type": _v(r.get("principal_type"))},
        }
        out.append(event)
    return out


def dumps(findings: Any, *, now: datetime | None = None) -> str:
    """The OCSF events as a JSON array text."""
    return json.dumps(to_ocsf(findings, now=now), indent=1, default=str)
