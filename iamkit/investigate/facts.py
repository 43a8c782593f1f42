"""The answers of a key investigation, as data (``evidence/facts.json``, schema ``iamkit/schemas/facts.schema.json``).

``activity_facts`` derives them from the events of a key trace (the ``events`` columns of ``iamkit/frames.py``
plus the trace's ``node``; JSON columns as dicts or JSON text): pure, so the same facts come out of a live load,
a case folder or a test fixture. Later steps add ``reach``, ``detections`` and ``containment``; ``unanswered``
lists what could not be answered. The report's summary and the notebooks render from the file.

Suspicious vs usual activity (documented in the schema too): the origin key's baseline is the IPs and user
agents it used in the first ``BASELINE`` (24 h) of its history in the loaded window. A call of the origin key
from an IP or an agent outside the baseline is suspicious; so is every call of what a suspicious call created
(users, keys, sessions); a call an AWS service made for the key (``invokedBy``, AWS Internal) goes with the
key's own call it followed. The rest is the owner's usual activity. With less history than ``BASELINE`` after the first call there is no
baseline: everything is suspicious. User agents are compared without aws-cli's per-command tokens.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd

from iamkit.arn import account_of, build, is_arn, user_arn
from iamkit.trail.ipcontext import classify
from iamkit.trail.outcome import FAILED, SUCCEEDED, is_denied, outcome

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "facts.schema.json"
SCHEMA_VERSION = 1
BASELINE = dt.timedelta(hours=24)
SERVICE_SOURCES = ("aws_service", "aws_internal")
STS_ISSUERS = (
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "GetSessionToken",
    "GetFederationToken",
    "AssumeRoot",
)
POLICY_EVENTS = {
    "AttachUserPolicy": "user",
    "PutUserPolicy": "user",
    "AttachRolePolicy": "role",
    "PutRolePolicy": "role",
    "AttachGroupPolicy": "group",
    "PutGroupPolicy": "group",
    "AddUserToGroup": "group",
    "PutUserPermissionsBoundary": "user",
    "PutRolePermissionsBoundary": "role",
    "UpdateAssumeRolePolicy": "role",
    "CreatePolicyVersion": "policy",
    "SetDefaultPolicyVersion": "policy",
}
#: logging and guardrail changes: (event source prefix, event name) -> request parameters naming the target
LOGGING_EVENTS = {
    ("cloudtrail", "StopLogging"): ("name",),
    ("cloudtrail", "DeleteTrail"): ("name",),
    ("cloudtrail", "UpdateTrail"): ("name",),
    ("cloudtrail", "PutEventSelectors"): ("trailName",),
    ("cloudtrail", "PutInsightSelectors"): ("trailName",),
    ("cloudtrail", "DeleteEventDataStore"): ("eventDataStore",),
    ("cloudtrail", "StopEventDataStoreIngestion"): ("eventDataStore",),
    ("guardduty", "DeleteDetector"): ("detectorId",),
    ("guardduty", "UpdateDetector"): ("detectorId",),
    ("guardduty", "DisassociateFromMasterAccount"): ("detectorId",),
    ("guardduty", "DisassociateFromAdministratorAccount"): ("detectorId",),
    ("config", "StopConfigurationRecorder"): ("configurationRecorderName",),
    ("config", "DeleteConfigurationRecorder"): ("configurationRecorderName",),
    ("config", "DeleteDeliveryChannel"): ("deliveryChannelName",),
    ("access-analyzer", "DeleteAnalyzer"): ("analyzerName",),
    ("securityhub", "DisableSecurityHub"): (),
    ("organizations", "LeaveOrganization"): (),
    ("logs", "DeleteLogGroup"): ("logGroupName",),
}
#: data reads, and the request parameter naming what was read (the ARN is built from it)
READS = {
    "GetSecretValue": "secretId",
    "GetObject": "key",
    "GetParameter": "name",
    "GetParameters": "names",
    "GetItem": "tableName",
    "Query": "tableName",
    "Scan": "tableName",
    "BatchGetItem": "requestItems",
    "GetPasswordData": "instanceId",
    "Decrypt": "keyId",
}
NOT_CHANGES = ("iam", "sts", "signin", "sso")  # IAM/STS changes are listed in their own fields
CONSOLE_AGENT = "AWS Internal"


# ---------------------------------------------------------------- helpers
def _j(v: Any) -> Any:
    if isinstance(v, str) and v[:1] in "{[":
        try:
            return json.loads(v)
        except ValueError:
            return None
    return v if isinstance(v, (dict, list)) else None


def _s(v: Any) -> str | None:
    """A cell as text, or None for missing values (None, NaN, NA)."""
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return None
    return str(v)


def iso(t: Any) -> str | None:
    """A timestamp as ISO-8601 UTC with a Z (the facts' time format)."""
    if t is None or t is pd.NaT or (isinstance(t, float) and t != t):
        return None
    ts = pd.Timestamp(t)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def agent_family(user_agent: Any) -> str:
    """A user agent without aws-cli's per-command tokens (``command/s3.ls``, ``md/command#s3.ls``)."""
    text = _s(user_agent) or ""
    return " ".join(t for t in text.split() if not t.startswith(("command/", "md/command#")))


def _false(v: Any) -> bool:
    """A read_only cell that says False (numpy and pandas booleans included; missing is not False)."""
    return _s(v) in ("False", "false")


def _service_source(ip: Any) -> bool:
    return classify(ip) in SERVICE_SOURCES


def _invoked(row: pd.Series) -> bool:
    ui = _j(row.get("user_identity")) or {}
    return bool(ui.get("invokedBy")) or _service_source(row.get("source_ip"))


def _account(arn: Any) -> str | None:
    return account_of(_s(arn))


def _user_arn(account: Any, name: Any) -> str | None:
    return user_arn(account, name) if account and name else None


# ---------------------------------------------------------------- suspicious vs usual
def classify_activity(
    ev: pd.DataFrame, root_key: str, nodes: pd.DataFrame | None = None
) -> tuple[pd.Series, set[str], set[str], bool]:
    """(suspicious mask over ``ev``, usual IPs, usual agent families, whether a baseline exists): see the
    module docstring for the rule. ``ev`` must be in time order and carry the trace's ``node`` column."""
    if ev.empty:
        return pd.Series([], dtype=bool), set(), set(), False
    invoked = ev.apply(_invoked, axis=1)
    node = ev["node"] if "node" in ev.columns else pd.Series([root_key] * len(ev), index=ev.index)
    own = (node == root_key) & ~invoked
    times = pd.to_datetime(ev["event_time"], utc=True)
    susp = pd.Series(True, index=ev.index)
    usual_ips: set[str] = set()
    usual_agents: set[str] = set()
    baseline = False
    if own.any():
        t0 = times[own].min()
        learn = own & (times < t0 + BASELINE)
        baseline = bool((own & (times >= t0 + BASELINE)).any())
        if baseline:
            usual_ips = {x for x in ev.loc[learn, "source_ip"].map(_s) if x}
            usual_agents = {agent_family(x) for x in ev.loc[learn, "user_agent"]}
            new = ~ev["source_ip"].map(_s).isin(usual_ips) | ~ev["user_agent"].map(agent_family).isin(usual_agents)
            susp[own] = new[own]
            # a call a service made for the origin key goes with the key's own call it followed (the latest
            # one at or before it; the first one when none came before)
            mine = (node == root_key) & invoked
            if mine.any():
                own_times = times[own].to_numpy()
                own_susp = susp[own].to_numpy()
                at = own_times.searchsorted(times[mine].to_numpy(), side="right") - 1
                susp[mine] = own_susp[at.clip(0, len(own_susp) - 1)]
    # everything a node does follows the call that created it (depth order: parents first)
    if nodes is not None and len(nodes) and "node" in ev.columns:
        flag = dict(zip(ev["event_id"], susp, strict=False))
        for n in nodes.sort_values("depth").itertuples():
            if n.node == root_key or int(n.depth or 0) == 0:
                continue
            created = _s(n.created_by_event)
            node_susp = flag.get(created, True) if created else True
            mask = node == n.node
            susp[mask] = node_susp
            flag.update(dict.fromkeys(ev.loc[mask, "event_id"], node_susp))
    return susp.astype(bool), usual_ips, usual_agents, baseline


# ---------------------------------------------------------------- what the activity did
def _read_resource(name: str, req: dict, row: pd.Series) -> list[str]:
    acct, region = _s(row.get("recipient_account_id")), _s(row.get("aws_region"))
    if name == "GetSecretValue" and req.get("secretId"):
        sid = str(req["secretId"])
        return [sid if is_arn(sid) else build("secretsmanager", f"secret:{sid}", region=region, account=acct)]
    if name == "GetObject":
        res = _j(row.get("resources")) or []
        arn = next((x.get("ARN") for x in res if isinstance(x, dict) and x.get("type") == "AWS::S3::Object"), None)
        if arn or req.get("bucketName"):
            return [arn or build("s3", f"{req.get('bucketName')}/{req.get('key')}")]
    if name in ("GetParameter", "GetParameters"):
        names = req.get("names") or [req.get("name")]
        return [build("ssm", f"parameter/{str(n).lstrip('/')}", region=region, account=acct) for n in names if n]
    if name in ("GetItem", "Query", "Scan") and req.get("tableName"):
        return [build("dynamodb", f"table/{req['tableName']}", region=region, account=acct)]
    if name == "BatchGetItem" and isinstance(req.get("requestItems"), dict):
        return [build("dynamodb", f"table/{t}", region=region, account=acct) for t in req["requestItems"]]
    if name == "GetPasswordData" and req.get("instanceId"):
        return [build("ec2", f"instance/{req['instanceId']}", region=region, account=acct)]
    if name == "Decrypt":
        res = _j(row.get("resources")) or []
        return [x["ARN"] for x in res if isinstance(x, dict) and x.get("ARN")]
    return []


def _changed_resource(row: pd.Series, req: dict) -> str | None:
    res = _j(row.get("resources")) or []
    arns = [x.get("ARN") for x in res if isinstance(x, dict) and x.get("ARN")]
    if arns:
        return arns[0]
    if req.get("bucketName"):
        return build("s3", f"{req['bucketName']}" + (f"/{req['key']}" if req.get("key") else ""))
    for k in (
        "secretId",
        "functionName",
        "roleArn",
        "keyId",
        "name",
        "tableName",
        "queueUrl",
        "topicArn",
        "instanceId",
        "groupId",
        "repositoryName",
        "stackName",
    ):
        if req.get(k):
            return str(req[k])
    return _s(row.get("event_source"))


def activity_facts(
    events: pd.DataFrame,
    subject: dict[str, Any],
    *,
    root_key: str | None = None,
    nodes: pd.DataFrame | None = None,
    ip_context: Any = None,
) -> dict[str, Any]:
    """The facts of steps 1 (what the activity did, from where) for ``subject``, from a trace's events.

    ``root_key`` is the key the trace started from (the origin key; default the subject's key);
    ``ip_context`` an ``IpContext`` (country, ASN) for the IPs named; ``reach``, ``detections`` and
    ``containment`` stay None for later steps."""
    root_key = root_key or subject.get("access_key_id")
    ev = events.sort_values(["event_time", "event_id"]).reset_index(drop=True) if len(events) else events
    susp, usual_ips, usual_agents, _baseline = classify_activity(ev, root_key, nodes)
    S = ev[susp] if len(ev) else ev
    invoked = S.apply(_invoked, axis=1) if len(S) else pd.Series([], dtype=bool)
    created: dict[str, list[str]] = {"users": [], "access_keys": [], "sessions": [], "login_profiles": []}
    console: list[str] = []
    policies: list[dict[str, Any]] = []
    roles: list[dict[str, Any]] = []
    read: list[str] = []
    changed: list[str] = []
    denied: dict[str, int] = {}
    failed: dict[str, int] = {}
    for i, r in S.iterrows():
        name = _s(r["event_name"]) or ""
        code = _s(r.get("error_code"))
        result = outcome(code)
        if result != SUCCEEDED:
            bucket = failed if result == FAILED else denied
            bucket[code] = bucket.get(code, 0) + 1
            continue
        req = _j(r.get("request_parameters")) or {}
        resp = _j(r.get("response_elements")) or {}
        acct = _s(r.get("recipient_account_id"))
        caller = _s(r.get("principal_arn"))
        if name == "CreateUser":
            arn = (resp.get("user") or {}).get("arn") or _user_arn(acct, req.get("userName"))
            if arn:
                created["users"].append(arn)
        elif name == "CreateAccessKey":
            key = (resp.get("accessKey") or {}).get("accessKeyId")
            if key:
                created["access_keys"].append(key)
        elif name in STS_ISSUERS:
            key = (resp.get("credentials") or {}).get("accessKeyId")
            if key:
                created["sessions"].append(key)
            if name == "AssumeRole" and req.get("roleArn"):
                role_acct = _account(req["roleArn"])
                from_acct = _account(caller) or (_j(r.get("user_identity")) or {}).get("accountId") or acct
                roles.append(
                    {
                        "role_arn": req["roleArn"],
                        "session_name": req.get("roleSessionName"),
                        "access_key_id": key,
                        "from_principal": caller,
                        "from_account": from_acct,
                        "account_id": role_acct,
                        "cross_account": bool(role_acct and from_acct != role_acct),
                    }
                )
        elif name in ("CreateLoginProfile", "UpdateLoginProfile"):
            arn = _user_arn(acct, req.get("userName")) or caller
            if arn:
                created["login_profiles"].append(arn)
        elif name == "ConsoleLogin" and (resp.get("ConsoleLogin") == "Success") and caller:
            console.append(caller)
        if name in POLICY_EVENTS:
            kind = POLICY_EVENTS[name]
            target = (
                req.get("policyArn")
                if kind == "policy"
                else build("iam", f"{kind}/{req.get(kind + 'Name')}", account=acct)
            )
            policy = (
                None
                if name == "UpdateAssumeRolePolicy"
                else req.get("policyArn")
                or req.get("permissionsBoundary")
                or (f"inline:{req['policyName']}" if req.get("policyName") else None)
                or (req.get("groupName") if name == "AddUserToGroup" else None)
            )
            if name == "AddUserToGroup":
                target = _user_arn(acct, req.get("userName")) or target
            policies.append({"event_name": name, "target": str(target), "policy": policy})
        source = (_s(r.get("event_source")) or "").split(".", 1)[0]
        if invoked.loc[i]:
            continue  # a service's own calls for the caller are not the caller's reads or writes
        if name in READS:
            read += _read_resource(name, req, r)
        elif (
            _false(r.get("read_only"))
            and source not in NOT_CHANGES
            and (source, name) not in LOGGING_EVENTS
            and name != "ConsoleLogin"
        ):
            target = _changed_resource(r, req)
            if target:
                changed.append(target)
    logging = []
    for _, r in ev.iterrows():
        source = (_s(r.get("event_source")) or "").split(".", 1)[0]
        keys = LOGGING_EVENTS.get((source, _s(r["event_name"]) or ""))
        if keys is None:
            continue
        req = _j(r.get("request_parameters")) or {}
        target = next((str(req[k]) for k in keys if req.get(k)), None)
        code = _s(r.get("error_code"))
        logging.append({"event_name": r["event_name"], "target": target, "result": outcome(code), "error_code": code})
    plain = S[~invoked] if len(S) else S
    new_ips = (
        sorted({ip for ip in plain["source_ip"].map(_s) if ip and ip not in usual_ips and not _service_source(ip)})
        if len(plain)
        else []
    )
    new_agents = (
        sorted(
            {
                a
                for a in plain["user_agent"].map(agent_family)
                if a and a not in usual_agents and a != CONSOLE_AGENT and not a.endswith(".amazonaws.com")
            }
        )
        if len(plain)
        else []
    )
    via = sorted({ip for ip in S["source_ip"].map(_s) if ip and _service_source(ip)}) if len(S) else []
    first = S.iloc[0] if len(S) else None
    key = subject.get("access_key_id")  # a principal's investigation has no subject key: no calls of it
    mine = ev[ev["access_key_id"] == key] if len(ev) and key else ev.iloc[0:0]
    sources = {
        "new_ips": new_ips,
        "new_user_agents": new_agents,
        "usual_ips": sorted(usual_ips),
        "usual_user_agents": sorted(usual_agents),
        "via_aws_services": via,
    }
    if ip_context is not None:
        sources["ip_context"] = {
            ip: {k: v for k, v in ip_context.lookup(ip).items() if k in ("country", "asn", "as_org") and v is not None}
            for ip in [*new_ips, *sorted(usual_ips)]
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "subject": subject,
        "window": {
            "start": iso(S["event_time"].min()) if len(S) else None,
            "end": iso(S["event_time"].max()) if len(S) else None,
            "first_event": None
            if first is None
            else {
                "event_name": _s(first["event_name"]),
                "event_time": iso(first["event_time"]),
                "access_key_id": _s(first.get("access_key_id")),
                "source_ip": _s(first.get("source_ip")),
            },
        },
        "activity": {
            "suspicious_calls": int(len(S)),
            "usual_calls": int(len(ev) - len(S)),
            "subject_key_calls": int(len(mine)),
            "subject_key_denied": int(mine["error_code"].map(is_denied).sum()) if len(mine) else 0,
        },
        "sources": sources,
        "created": {k: list(dict.fromkeys(v)) for k, v in created.items()},
        "console_logins": list(dict.fromkeys(console)),
        "policies_changed": policies,
        "roles_assumed": roles,
        "resources_read": sorted(set(read)),
        "resources_changed": sorted(set(changed)),
        "denied": {"count": sum(denied.values()), "by_code": dict(sorted(denied.items()))},
        "other_errors": {"count": sum(failed.values()), "by_code": dict(sorted(failed.items()))},
        "logging_changes": logging,
        "reach": None,
        "detections": None,
        "containment": None,
        "unanswered": [],
    }


# ---------------------------------------------------------------- the file
def validate(facts: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the first field that breaks the schema."""
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    err = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(facts))
    if err is not None:
        where = "/".join(str(p) for p in err.absolute_path) or "(top)"
        raise ValueError(f"facts do not match {SCHEMA.name} at {where}: {err.message}")


def load(case: Any) -> dict[str, Any]:
    """The case's facts (``NotFound`` before step 1 wrote them)."""
    return case.load_json("facts")


def save(case: Any, facts: dict[str, Any]) -> dict[str, Any]:
    """Write the facts into the case, with the case's unanswered questions, after checking the schema."""
    facts["unanswered"] = list(case.unanswered())
    validate(facts)
    case.save_json("facts", facts)
    return facts


def update(case: Any, **fields: Any) -> dict[str, Any]:
    """Set some fields of the case's facts (a later step's answers) and save them."""
    facts = load(case)
    facts.update(fields)
    return save(case, facts)


# ---------------------------------------------------------------- checking facts against an answer key
def _canon(v: Any) -> str:
    return json.dumps(v, sort_keys=True, default=str)


def differences(
    facts: dict[str, Any], key: dict[str, Any], schema: dict[str, Any] | None = None, path: str = ""
) -> list[str]:
    """Where ``facts`` differ from an answer ``key``, field by field, by the schema's ``x-compare`` rule
    (``exact``: equal, arrays as sets unless ``x-ordered``; ``at-least``: every key item present;
    ``ignore``). One line per difference, naming the field."""
    schema = schema if schema is not None else json.loads(SCHEMA.read_text())
    props = schema.get("properties", {})
    out: list[str] = []
    for name, want in key.items():
        spec = props.get(name, {})
        rule = spec.get("x-compare", "exact")
        where = f"{path}{name}"
        got = facts.get(name) if isinstance(facts, dict) else None
        if rule == "ignore":
            continue
        sub = _resolve(spec, schema, want)
        if isinstance(want, dict) and isinstance(got, dict) and "properties" in sub and rule == "exact":
            out += differences(got, want, {**sub, "$defs": schema.get("$defs", {})}, where + ".")
        elif rule == "at-least":
            have = {_canon(x) for x in (got or [])}
            missing = [x for x in (want or []) if _canon(x) not in have]
            if missing or (want is not None and got is None):
                out.append(f"{where}: missing {missing if got is not None else 'the whole field (null)'}")
        elif isinstance(want, list) and isinstance(got, list) and not sub.get("x-ordered"):
            w, g = sorted(map(_canon, want)), sorted(map(_canon, got))
            if w != g:
                out.append(f"{where}: expected {sorted(set(w) - set(g))} missing, {sorted(set(g) - set(w))} extra")
        elif _canon(want) != _canon(got):
            out.append(f"{where}: expected {_canon(want)}, got {_canon(got)}")
    return out


def _resolve(spec: dict[str, Any], schema: dict[str, Any], want: Any = None) -> dict[str, Any]:
    """A property's schema with local ``$ref``s followed, and the object branch of a ``oneOf`` (nullable, or one
    object shape among several: the first whose required fields ``want`` has)."""

    def follow(s: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in s:
            s = {**schema.get("$defs", {}).get(s["$ref"].rsplit("/", 1)[-1], {}), **s}
        return s

    spec = follow(spec)
    objects = [b for b in map(follow, spec.get("oneOf", [])) if b.get("type") == "object"]
    fits = [b for b in objects if isinstance(want, dict) and set(b.get("required", ())) <= set(want)]
    for branch in fits or objects:
        return {**branch, **{k: v for k, v in spec.items() if k.startswith("x-")}}
    return spec
