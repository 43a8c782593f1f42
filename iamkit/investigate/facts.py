"""Incident facts from CloudTrail rows of a key trace: what was created, attached, assumed and read.

Pure functions over an events frame (DESIGN.md §4 columns; JSON columns as dicts or JSON text), so the
same facts come out of a live load, a case folder or a test fixture.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd


def _j(v: Any) -> Any:
    if isinstance(v, str) and v[:1] in "{[":
        try:
            return json.loads(v)
        except ValueError:
            return None
    return v if isinstance(v, (dict, list)) else None


def _ok(row: pd.Series) -> bool:
    return pd.isna(row.get("error_code")) or not row.get("error_code")


def facts(events: pd.DataFrame, access_key_id: str) -> dict[str, Any]:
    """Everything the report's summary needs, derived from the trace's events (ordered by time)."""
    ev = events.sort_values("event_time") if len(events) else events
    key_rows = ev[ev["access_key_id"] == access_key_id] if len(ev) else ev
    out: dict[str, Any] = {
        "access_key_id": access_key_id,
        "events": int(len(ev)),
        "events_by_leaked_key": int(len(key_rows)),
        "first_seen": None if ev.empty else str(ev["event_time"].min()),
        "last_seen": None if ev.empty else str(ev["event_time"].max()),
        "source_ips": ev["source_ip"].dropna().value_counts().to_dict() if len(ev) else {},
        "user_agents": ev["user_agent"].dropna().value_counts().head(10).to_dict() if len(ev) else {},
        "accounts": sorted(ev["recipient_account_id"].dropna().unique().tolist()) if len(ev) else [],
        "denied": int(ev["error_code"].notna().sum()) if len(ev) else 0,
        "created_users": [], "created_keys": [], "policies_attached": {}, "assumed_roles": [],
        "secrets_read": [], "objects_read": [], "logging_tampering": [], "evidence": {},
    }
    users: dict[str, dict[str, Any]] = {}
    for _, r in ev.iterrows():
        name, req, resp = r["event_name"], _j(r.get("request_parameters")) or {}, _j(r.get("response_elements")) or {}
        acct = r.get("recipient_account_id")
        eid = r.get("event_id")
        if name == "CreateUser" and _ok(r):
            u = (resp.get("user") or {})
            arn = u.get("arn") or f"arn:aws:iam::{acct}:user/{req.get('userName')}"
            users[arn] = {"arn": arn, "account_id": acct, "user_name": u.get("userName") or req.get("userName"),
                          "access_keys": [], "event_id": eid, "created": str(r["event_time"])}
        elif name == "CreateAccessKey" and _ok(r):
            k = resp.get("accessKey") or {}
            key_id, uname = k.get("accessKeyId"), k.get("userName") or req.get("userName")
            out["created_keys"].append({"access_key_id": key_id, "user_name": uname, "account_id": acct,
                                        "event_id": eid, "created": str(r["event_time"])})
            for u in users.values():
                if u["user_name"] == uname and u["account_id"] == acct and key_id:
                    u["access_keys"].append(key_id)
        elif name in ("AttachUserPolicy", "PutUserPolicy") and _ok(r):
            uname = req.get("userName")
            arn = next((a for a, u in users.items() if u["user_name"] == uname), None) or \
                f"arn:aws:iam::{acct}:user/{uname}"
            pol = req.get("policyArn") or f"inline:{req.get('policyName')}"
            out["policies_attached"].setdefault(arn, []).append(pol)
            out["evidence"].setdefault(pol, []).append(eid)
        elif name == "AssumeRole" and _ok(r):
            creds = resp.get("credentials") or {}
            role_arn = req.get("roleArn", "")
            out["assumed_roles"].append({
                "role_arn": role_arn, "account_id": role_arn.split(":")[4] if role_arn.count(":") >= 5 else acct,
                "session_name": req.get("roleSessionName"), "access_key_id": creds.get("accessKeyId"),
                "event_id": eid, "when": str(r["event_time"]), "source_ip": r.get("source_ip")})
        elif name == "GetSecretValue" and _ok(r):
            out["secrets_read"].append({"secret": req.get("secretId"), "account_id": acct, "event_id": eid,
                                        "access_key_id": r.get("access_key_id"), "when": str(r["event_time"])})
        elif name == "GetObject" and _ok(r):
            res = _j(r.get("resources")) or []
            arn = next((x.get("ARN") for x in res if x.get("type") == "AWS::S3::Object"), None) or \
                f"arn:aws:s3:::{req.get('bucketName')}/{req.get('key')}"
            out["objects_read"].append({"object": arn, "account_id": acct, "event_id": eid,
                                        "access_key_id": r.get("access_key_id"), "when": str(r["event_time"])})
        elif name in ("StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors"):
            out["logging_tampering"].append({"event": name, "account_id": acct, "event_id": eid,
                                             "result": r.get("error_code") or "succeeded",
                                             "when": str(r["event_time"])})
    out["created_users"] = list(users.values())
    return out


def headline(f: dict[str, Any], origin: dict[str, Any]) -> list[str]:
    """Five lines a responder reads first."""
    ips = ", ".join(list(f["source_ips"])[:3]) or "none"
    created = ", ".join(u["user_name"] for u in f["created_users"]) or "none"
    keys = ", ".join(k["access_key_id"] for k in f["created_keys"] if k["access_key_id"]) or "none"
    roles = ", ".join(f"{a['role_arn']} ({a['session_name']})" for a in f["assumed_roles"]) or "none"
    reads = len(f["secrets_read"]) + len(f["objects_read"])
    admin = [p for ps in f["policies_attached"].values() for p in ps if p.endswith("/AdministratorAccess")]
    return [
        f"Key {f['access_key_id']} of {origin.get('arn') or origin.get('user_arn') or 'unknown principal'}: "
        f"{f['events']} calls from {len(f['source_ips'])} IPs ({ips}), {f['first_seen']} → {f['last_seen']}",
        f"Persistence: created user(s) {created}; created key(s) {keys}",
        f"Privilege: {len(admin)} AdministratorAccess attachment(s); policies attached to "
        f"{', '.join(f['policies_attached']) or 'none'}",
        f"Lateral movement: assumed {roles}",
        f"Data access: {len(f['secrets_read'])} secret read(s), {len(f['objects_read'])} S3 object read(s) "
        f"({reads} total); {f['denied']} denied calls; logging tampering: "
        f"{', '.join(x['event'] + ' ' + x['result'] for x in f['logging_tampering']) or 'none'}",
    ]
