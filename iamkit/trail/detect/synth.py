"""Synthetic CloudTrail records for detection tests and the detections bench.

``record`` builds one realistic record dict (feed it to ``iamkit.trail.store.insert_records``);
``from_specs`` builds records from compact specs (the rule test cases' format); ``background_sql``
generates N benign-looking rows of the ``events`` table in SQL (no per-row Python).
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

ACCOUNT = "111111111111"
_ids = itertools.count(1)


def at(minutes: float, base: str = "2026-01-01T00:00:00Z") -> str:
    """ISO time ``minutes`` after ``base`` (tests place events on a minute scale)."""
    t = datetime.fromisoformat(base.replace("Z", "+00:00")) + timedelta(minutes=minutes)
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def user(name: str, key: str | None = None, account: str = ACCOUNT) -> dict:
    """``userIdentity`` of an IAM user (optionally calling with access key ``key``)."""
    ui = {
        "type": "IAMUser",
        "principalId": "AIDA" + name.upper()[:12],
        "accountId": account,
        "arn": f"arn:aws:iam::{account}:user/{name}",
        "userName": name,
    }
    if key:
        ui["accessKeyId"] = key
    return ui


def session(role: str, name: str, key: str = "ASIATESTSESSION0001", account: str = ACCOUNT) -> dict:
    """``userIdentity`` of an assumed-role session of ``role``."""
    role_arn = f"arn:aws:iam::{account}:role/{role}"
    return {
        "type": "AssumedRole",
        "principalId": f"AROA{role.upper()[:8]}:{name}",
        "accountId": account,
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{name}",
        "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "arn": role_arn, "userName": role},
            "attributes": {"mfaAuthenticated": "false"},
        },
    }


def root(account: str = ACCOUNT) -> dict:
    """``userIdentity`` of the account's root user."""
    return {"type": "Root", "principalId": account, "arn": f"arn:aws:iam::{account}:root", "accountId": account}


def record(
    name: str,
    source: str,
    ui: dict,
    t: str,
    *,
    ip: str = "198.51.100.10",
    ua: str = "aws-cli/2.15.0",
    rp: Any = None,
    re: Any = None,
    error: str | None = None,
    account: str = ACCOUNT,
    event_type: str = "AwsApiCall",
    extra: dict | None = None,
    event_id: str | None = None,
) -> dict:
    """One CloudTrail record."""
    r = {
        "eventVersion": "1.09",
        "userIdentity": ui,
        "eventTime": t,
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": ua,
        "requestParameters": rp,
        "responseElements": re,
        "eventID": event_id or f"synth-{next(_ids):08d}",
        "eventType": event_type,
        "recipientAccountId": account,
        "readOnly": False,
        "managementEvent": True,
    }
    if error:
        r["errorCode"], r["errorMessage"] = error, f"{error}: not authorized"
    r.update(extra or {})
    return r


def _fill(value: Any, i: int) -> Any:
    if isinstance(value, str):
        return value.replace("{i}", str(i))
    if isinstance(value, dict):
        return {k: _fill(v, i) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, i) for v in value]
    return value


def _identity(who: str, key: str | None, account: str | None, tag: str = "") -> dict:
    kw = {"account": account} if account else {}
    parts = who.split("/")
    if tag and parts[0] != "root":
        parts[1] += tag
    if parts[0] == "user" and len(parts) == 2:
        return user(parts[1], key or f"AKIA{parts[1].upper():0<16}"[:20], **kw)
    if parts[0] == "session" and len(parts) == 3:
        return session(parts[1], parts[2], key or f"ASIA{parts[2].upper().replace('-', ''):0<16}"[:20], **kw)
    if parts == ["root"]:
        return root(**kw)
    raise ValueError(f"who: {who!r} (user/NAME, session/ROLE/NAME or root)")


def from_specs(specs: list[dict], prefix: str, tag: str = "") -> tuple[list[dict], set[str]]:
    """Records from compact specs, and the ids of those marked ``hit``.

    A spec: ``name``, ``source`` (short service name or full event source), ``who`` (``user/NAME``,
    ``session/ROLE/NAME``, ``root``), ``t`` (minutes after 2026-01-01) or ``day``, optional ``rp``, ``re``,
    ``ip``, ``ua``, ``error``, ``account``, ``key`` (the caller's access key), ``extra`` (more record
    fields), ``repeat`` (copies ``every`` minutes apart; ``{i}`` in any string is the copy's number) and
    ``hit: true``. Event ids are ``<prefix>-<spec>-<copy>``; ``tag`` is appended to every principal's name.
    """
    out, hits = [], set()
    for n, spec in enumerate(specs):
        every = float(spec.get("every", 1))
        for i in range(int(spec.get("repeat", 1))):
            s = _fill(spec, i)
            t = float(s.get("day", 0)) * 1440 + float(s.get("t", 0)) + i * every
            source = s["source"] if "." in s["source"] else f"{s['source']}.amazonaws.com"
            eid = f"{prefix}-{n}-{i}"
            kw = {k: s[k] for k in ("rp", "re", "ip", "ua", "error", "extra", "account") if k in s}
            out.append(
                record(
                    s["name"],
                    source,
                    _identity(s["who"], s.get("key"), s.get("account"), tag),
                    at(t),
                    event_id=eid,
                    **kw,
                )
            )
            if s.get("hit"):
                hits.add(eid)
    return out, hits


def policy(*statements: dict) -> str:
    """A policy document as the JSON string CloudTrail records carry."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


#: (event name, service, weight per 10,000): mostly reads, sensitive calls rare, as in real trails.
_MIX = [
    ("DescribeInstances", "ec2", 2500),
    ("GetObject", "s3", 2000),
    ("PutObject", "s3", 800),
    ("ListBuckets", "s3", 300),
    ("GetCallerIdentity", "sts", 500),
    ("AssumeRole", "sts", 1200),
    ("Decrypt", "kms", 1500),
    ("ListUsers", "iam", 200),
    ("ListRoles", "iam", 200),
    ("DescribeSecurityGroups", "ec2", 500),
    ("GetSecretValue", "secretsmanager", 250),
    ("ConsoleLogin", "signin", 20),
    ("CreateAccessKey", "iam", 5),
    ("PutRolePolicy", "iam", 5),
    ("StopLogging", "cloudtrail", 1),
    ("UpdateFunctionConfiguration20150331v2", "lambda", 19),
]


def _pick(column: str) -> str:
    """SQL CASE choosing from ``_MIX`` by ``hash(i, 1) % 10000`` (``column``: 'name' or 'source')."""
    parts, edge = [], 0
    for name, service, weight in _MIX:
        edge += weight
        value = name if column == "name" else f"{service}.amazonaws.com"
        parts.append(f"WHEN b < {edge} THEN '{value}'")
    return "CASE " + " ".join(parts) + " END"


def background_sql(
    n: int,
    *,
    principals: int = 500,
    keys: int = 800,
    ips: int = 300,
    days: int = 30,
    start: str = "2026-01-01 00:00:00+00",
) -> str:
    """SQL (DuckDB) selecting ``n`` synthetic ``events`` rows: a realistic mix of calls by many principals
    (each mostly from its own IP), 1% errors, JSON subtrees of realistic shape. Deterministic."""
    assert sum(w for _, _, w in _MIX) == 10000
    span = days * 86400
    return f"""
WITH g AS (SELECT i, hash(i, 1) % 10000 AS b, hash(i, 3) % {principals} AS p FROM range({n}) t(i))
SELECT
  'bg-' || i AS event_id,
  TIMESTAMPTZ '{start}' + to_seconds((i * {span} // {n})::BIGINT) AS event_time,
  {_pick("source")} AS event_source,
  {_pick("name")} AS event_name,
  'us-east-1' AS aws_region,
  '{ACCOUNT}' AS recipient_account_id,
  CASE WHEN hash(i, 2) % 10 < 7 THEN 'IAMUser' ELSE 'AssumedRole' END AS identity_type,
  'arn:aws:iam::{ACCOUNT}:user/u' || p AS principal_arn,
  'AIDA' || p AS principal_id,
  'AKIA' || lpad((hash(p, 4) % {keys})::VARCHAR, 16, '0') AS access_key_id,
  NULL::VARCHAR AS session_issuer_arn,
  NULL::VARCHAR AS session_name,
  CASE WHEN hash(i, 5) % 100 = 0 THEN '10.9.' || (hash(i, 5) % 250) || '.7'
       ELSE '10.' || (hash(p, 5) % {ips} // 250) || '.' || (hash(p, 5) % 250) || '.7' END AS source_ip,
  CASE WHEN hash(p, 6) % 3 = 0 THEN 'Boto3/1.34 Python/3.11' ELSE 'aws-cli/2.15.0' END AS user_agent,
  CASE WHEN hash(i, 7) % 100 = 0 THEN 'AccessDenied' END AS error_code,
  NULL::VARCHAR AS error_message,
  hash(i, 8) % 2 = 0 AS read_only,
  'AwsApiCall' AS event_type,
  false AS mfa_authenticated,
  json_object('userName', 'u' || p, 'policyName', 'app', 'policyDocument',
              '{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/k"}}]}}',
              'roleArn', 'arn:aws:iam::{ACCOUNT}:role/r' || (hash(i, 9) % 50)) AS request_parameters,
  json_object('accessKey', json_object('accessKeyId', 'AKIABG' || i, 'userName', 'u1')) AS response_elements,
  json_object('MFAUsed', 'Yes') AS additional_event_data,
  NULL::JSON AS resources,
  json_object('type', 'IAMUser', 'arn', 'arn:aws:iam::{ACCOUNT}:user/u' || p) AS user_identity
FROM g"""
