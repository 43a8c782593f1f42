"""Plans from assess findings and hunt detections: each rule id proposes actions (``responses.yaml``), each
with its rationale and blast radius.

Findings and detections come as iamkit writes them (``iamkit assess --format json|csv|parquet|ocsf``,
``iamkit trail hunt --format json``); a file is classified by its structure (Parquet magic, a JSON value, else
CSV). A detection names its caller and event ids: the role, policy or inline policy an action needs comes from
those CloudTrail events (``iamkit.trail.open(db)``). A restricted trust names the principals that really assumed
the role in CloudTrail, plus those the operator names; with neither, the action is not proposed (an error row
says why). Rows that cannot be used are error rows, never a crash.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from iamkit import jsontext
from iamkit.arn import GROUP, ROLE, USER, group_arn, name_of, principal, role_arn, user_arn
from iamkit.errors import BadInput
from iamkit.frames import error_row
from iamkit.respond.actions import CASE_TAG, QUARANTINE_TAG, REGISTRY, restricted_trust, role_trust
from iamkit.respond.blast import blast_radius
from iamkit.respond.plan import Action, Plan, rotate_key_actions
from iamkit.respond.sessions import as_clients

TABLE_KINDS = set(REGISTRY) | {"rotate_key", "detach_policy"}
TARGETS = {"principal", "role", "key", "policy", "inline"}


def table(text: str | None = None) -> dict[str, list[dict[str, str]]]:
    """The rule → actions table (``responses.yaml``, or ``text``), validated: a one-line ``BadInput`` names
    the first bad entry."""
    import yaml

    raw = text if text is not None else resources.files("iamkit.respond").joinpath("responses.yaml").read_text()
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise BadInput(f"responses table: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise BadInput("responses table: expected a mapping of rule id to actions")
    for rule, entries in data.items():
        if not isinstance(entries, list) or not entries:
            raise BadInput(f"responses table: {rule}: expected a list of actions")
        for e in entries:
            if (
                not isinstance(e, dict)
                or e.get("kind") not in TABLE_KINDS
                or e.get("target") not in TARGETS
                or not isinstance(e.get("why"), str)
                or set(e) - {"kind", "target", "why", "mode"}
            ):
                raise BadInput(f"responses table: {rule}: bad entry {e!r} (kind, target, why[, mode])")
            if e["kind"] == "quarantine_role" and e.get("mode") not in ("deny-all", "sensitive"):
                raise BadInput(f"responses table: {rule}: quarantine_role needs mode deny-all or sensitive")
    return data


# ------------------------------------------------------------------------------------------------ reading
def read_rows(path: Path | str) -> list[dict[str, Any]]:
    """The rows of a findings or detections file, classified by structure: Parquet, JSON (an array of row
    objects, or OCSF findings) or CSV."""
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"--from-findings {p}: no such file")
    with p.open("rb") as f:
        head = f.read(4)
    if head == b"PAR1":
        import pandas as pd

        try:
            return pd.read_parquet(p).astype(object).where(lambda d: d.notna(), None).to_dict(orient="records")
        except Exception as e:  # a damaged Parquet file
            raise BadInput(f"--from-findings {p}: not a readable Parquet file ({e.__class__.__name__})") from None
    text = jsontext.read_text(p, f"--from-findings {p}")
    if text.lstrip()[:1] in ("[", "{"):
        data = jsontext.parse(text, f"--from-findings {p}")
        data = data.get("findings", data.get("detections", [data])) if isinstance(data, dict) else data
        if not isinstance(data, list):
            raise BadInput(f"--from-findings {p}: expected an array of findings or detections")
        return data
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or not ({"rule_id", "detection_id"} & set(rows[0])):
        raise BadInput(f"--from-findings {p}: not findings or detections (no rule_id or detection_id column)")
    return rows


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def _value(v: Any) -> Any:
    """A frame cell with pandas' missing values (None, NaN, NA, NaT) as None."""
    import pandas as pd

    if v is None or (isinstance(v, float) and v != v) or v is pd.NA or v is pd.NaT:
        return None
    return v


def normalise(row: Any) -> dict[str, Any] | None:
    """A finding, an OCSF finding or a detection as one shape (None when it is none of them)."""
    if not isinstance(row, dict):
        return None
    if row.get("class_uid") == 2004:  # OCSF Detection Finding (iamkit assess --format ocsf)
        info = row.get("finding_info") or {}
        unmapped = row.get("unmapped") or {}
        arns = [r.get("uid") for r in row.get("resources") or [] if isinstance(r, dict)]
        evidence = unmapped.get("evidence") if isinstance(unmapped.get("evidence"), dict) else {}
        return {
            "rule_id": (info.get("analytic") or {}).get("uid"),
            "id": info.get("uid"),
            "severity": str(row.get("severity") or "").lower(),
            "title": info.get("title"),
            "account_id": (row.get("cloud") or {}).get("account", {}).get("uid"),
            "principal_arn": arns[-1] if arns else None,
            "resource_arn": arns[0] if arns else None,
            "access_key_id": evidence.get("access_key_id"),
            "event_ids": [],
        }
    if row.get("detection_id"):
        ids = _json(row.get("event_ids"))
        return {
            "rule_id": row["detection_id"],
            "id": f"{row['detection_id']}:{row.get('first_seen')}",
            "severity": row.get("severity"),
            "title": row.get("title"),
            "account_id": None,
            "principal_arn": row.get("principal_arn") or None,
            "resource_arn": None,
            "access_key_id": row.get("access_key_id") or None,
            "event_ids": [str(x) for x in ids] if isinstance(ids, list) else [],
        }
    if row.get("rule_id"):
        evidence = _json(row.get("evidence"))
        return {
            "rule_id": row["rule_id"],
            "id": row.get("finding_id"),
            "severity": row.get("severity"),
            "title": row.get("title"),
            "account_id": row.get("account_id") or None,
            "principal_arn": row.get("principal_arn") or None,
            "resource_arn": row.get("resource_arn") or None,
            "access_key_id": evidence.get("access_key_id") if isinstance(evidence, dict) else None,
            "event_ids": [],
        }
    return None


# ------------------------------------------------------------------------------------------------ proposing
@dataclass
class Proposal:
    """One proposed action: the rule that asked for it, why, and who or what loses access."""

    action: Action
    rule_id: str
    source: str
    severity: str
    rationale: str
    blast_radius: dict[str, Any] = field(default_factory=dict)


@dataclass
class Proposals:
    plan: Plan
    proposals: list[Proposal]
    errors: list[dict[str, Any]]
    unhandled: list[str]  # rule ids with no automatic response

    def frame(self):
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "step": i + 1,
                    "kind": p.action.kind,
                    "target": p.action.target_arn,
                    "rule_id": p.rule_id,
                    "severity": p.severity,
                    "rationale": p.rationale,
                    "blast_radius": p.blast_radius.get("summary", ""),
                }
                for i, p in enumerate(self.proposals)
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan_hash": self.plan.hash,
            "unhandled": self.unhandled,
            "errors": self.errors,
            "proposals": [
                {
                    "step": i + 1,
                    "kind": p.action.kind,
                    "target": p.action.target_arn,
                    "rule_id": p.rule_id,
                    "source": p.source,
                    "severity": p.severity,
                    "rationale": p.rationale,
                    "blast_radius": p.blast_radius,
                }
                for i, p in enumerate(self.proposals)
            ],
        }


class _Events:
    """The CloudTrail events a detection names, read once each through the trail's public ``sql``."""

    def __init__(self, trail: Any):
        self.trail = trail

    def of(self, ids: list[str]) -> list[dict[str, Any]]:
        if self.trail is None or not ids:
            return []
        ids = ids[:200]
        q = (
            "SELECT event_id, event_name, recipient_account_id, principal_arn, session_issuer_arn, "
            "request_parameters, error_code FROM events WHERE event_id IN (" + ",".join("?" * len(ids)) + ")"
        )
        df = self.trail.sql(q, ids)
        out = []
        for r in df.to_dict(orient="records"):
            r = {k: _value(v) for k, v in r.items()}
            rp = _json(r.get("request_parameters"))
            out.append({**r, "request_parameters": rp if isinstance(rp, dict) else {}})
        return out

    def assumers(self, role: str) -> list[str]:
        """Who assumed ``role`` successfully: roles (from their sessions) and users, in first-seen order."""
        if self.trail is None:
            return []
        df = self.trail.events(event_name="AssumeRole", parse_json=True)
        out: list[str] = []
        for r in df.to_dict(orient="records"):
            r = {k: _value(v) for k, v in r.items()}
            rp = r.get("request_parameters") or {}
            if not isinstance(rp, dict) or rp.get("roleArn") != role or r.get("error_code"):
                continue
            who = r.get("session_issuer_arn") or r.get("principal_arn")
            if isinstance(who, str) and principal(who).kind in (ROLE, USER) and who not in out:
                out.append(who)
        return out


def _targets(spec: dict[str, str], f: dict[str, Any], events: _Events) -> list[dict[str, Any]]:
    """The concrete targets (arn, account, extra params) one table entry names for one finding/detection."""
    t = spec["target"]
    evs = events.of(f["event_ids"])
    if t == "principal":
        arn = f["principal_arn"]
        return [{"arn": arn}] if arn and principal(arn).kind in (USER, ROLE) else []
    if t == "key":
        key = f["access_key_id"]
        if not key:
            return []
        owner = f["principal_arn"] if f["principal_arn"] and principal(f["principal_arn"]).kind == USER else None
        if owner is None and events.trail is not None:  # the key's owner signs the calls made with it
            used = events.trail.events(access_key_id=key, limit=1, parse_json=False)
            owner = str(used["principal_arn"].iloc[0]) if len(used) else None
        return [{"arn": owner, "key": key}] if owner and principal(owner).kind == USER else []
    if t == "role":
        if not f["event_ids"]:
            arn = f["principal_arn"] or f["resource_arn"]
            return [{"arn": arn}] if arn and principal(arn).kind == ROLE else []
        out = []
        for e in evs:
            rp, acct = e["request_parameters"], e.get("recipient_account_id") or ""
            arn = rp.get("roleArn") or (role_arn(acct, rp["roleName"]) if rp.get("roleName") and acct else None)
            if arn and {"arn": arn} not in out and not e.get("error_code"):
                out.append({"arn": arn})
        return out
    out = []
    for e in evs:  # policy / inline: the principal the event changed
        rp, acct = e["request_parameters"], e.get("recipient_account_id") or ""
        if e.get("error_code") or not acct:
            continue
        who = (
            user_arn(acct, rp["userName"])
            if rp.get("userName")
            else role_arn(acct, rp["roleName"])
            if rp.get("roleName")
            else group_arn(acct, rp["groupName"])
            if rp.get("groupName")
            else None
        )
        what = rp.get("policyArn") if t == "policy" else rp.get("policyName")
        if who and what and {"arn": who, "what": what} not in out:
            out.append({"arn": who, "what": what})
    return out


def _actions(spec: dict[str, str], tgt: dict[str, Any], ctx: dict[str, Any]) -> list[Action]:
    kind, arn, why = spec["kind"], tgt["arn"], spec["why"]
    acct = principal(arn).account or ""
    if kind == "tag_principal":
        return [Action(kind, acct, arn, {"tags": {QUARANTINE_TAG: "true", CASE_TAG: ctx["case_id"]}}, why)]
    if kind in ("quarantine_user",):
        return [Action(kind, acct, arn, {}, why)]
    if kind == "quarantine_role":
        return [Action(kind, acct, arn, {"mode": spec["mode"], "issued_before": ctx["now"]}, why)]
    if kind == "revoke_role_sessions":
        return [Action(kind, acct, arn, {"issued_before": ctx["now"]}, why)]
    if kind == "deactivate_access_key":
        return [Action(kind, acct, arn, {"access_key_id": tgt["key"], "user_name": name_of(arn)}, why)]
    if kind == "rotate_key":
        existing = ctx["keys_of"](acct, name_of(arn))
        return rotate_key_actions(acct, arn, tgt["key"], existing, why)
    if kind == "detach_policy":
        pk = principal(arn).kind
        return [
            Action(
                {USER: "detach_user_policy", ROLE: "detach_role_policy", GROUP: "detach_group_policy"}[pk],
                acct,
                arn,
                {"policy_arn": tgt["what"]},
                why,
            )
        ]
    if kind == "delete_inline_policy":
        return [Action(kind, acct, arn, {"policy_name": tgt["what"]}, why)]
    if kind == "restrict_trust":
        named = list(dict.fromkeys([*ctx["assumers"](arn), *ctx["trust_principals"]]))
        if not named:
            raise BadInput(
                f"restrict_trust {arn}: nobody assumed the role in the trail and no --trust-principal "
                "was named: name the principals that keep access"
            )
        doc = json.loads(ctx["trust_of"](acct, name_of(arn)))
        new = restricted_trust(doc, named, ctx["org_id"])
        if new == doc:
            raise BadInput(f"restrict_trust {arn}: the trust has no '*' or account-root principal to replace")
        return [Action(kind, acct, arn, {"document": new, "kept": named}, why)]
    raise BadInput(f"responses table: kind {kind} has no builder")


def propose(
    rows: list[Any],
    case_id: str,
    *,
    clients: Any = None,
    trail: Any = None,
    inventory: Any = None,
    trust_principals: list[str] | tuple[str, ...] = (),
    org_id: str | None = None,
    now: str | None = None,
    responses: dict[str, list[dict[str, str]]] | None = None,
) -> Proposals:
    """A plan for ``rows`` (findings and/or detections). ``clients`` (``iamkit.respond.sessions.Clients``)
    reads what a proposal needs from AWS (a role's trust, a user's keys; read-only); ``trail`` (an
    ``iamkit.trail.open(db)``) gives a detection's events and a role's real assumers; ``inventory`` gives
    the blast radius (``iamkit.respond.blast``)."""
    responses = responses if responses is not None else table()
    events = _Events(trail)
    cl = as_clients(clients) if clients is not None else None

    def need_clients(what: str):
        if cl is None:
            raise BadInput(f"{what} needs AWS access (read-only) to plan")
        return cl

    ctx = {
        "case_id": case_id,
        "org_id": org_id,
        "trust_principals": list(trust_principals),
        "now": now or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "assumers": events.assumers,
        "trust_of": lambda acct, role: role_trust(need_clients("a trust restriction").client(acct, "iam"), role),
        "keys_of": lambda acct, user: sorted(
            k["AccessKeyId"]
            for k in need_clients("a key rotation")
            .client(acct, "iam")
            .list_access_keys(UserName=user)["AccessKeyMetadata"]
        ),
    }
    proposals: list[Proposal] = []
    errors: list[dict[str, Any]] = []
    unhandled: list[str] = []
    seen: set[str] = set()
    for i, row in enumerate(rows, 1):
        f = normalise(row)
        if f is None:
            errors.append(error_row("respond:propose", "BadInput", f"row {i}: not a finding or a detection"))
            continue
        specs = responses.get(str(f["rule_id"]))
        if not specs:
            if f["rule_id"] not in unhandled:
                unhandled.append(str(f["rule_id"]))
            continue
        for spec in specs:
            try:
                targets = _targets(spec, f, events)
                if not targets:
                    raise BadInput(
                        f"{spec['kind']}: the {spec['target']} it acts on is not named (by the row"
                        f"{' or its events' if f['event_ids'] else ''})"
                    )
                for tgt in targets:
                    for a in _actions(spec, tgt, ctx):
                        key = json.dumps([a.kind, a.target_arn, a.params], sort_keys=True)
                        if key in seen:  # two findings asking for the same change: one step
                            continue
                        seen.add(key)
                        a.evidence = [str(f["id"])]
                        proposals.append(
                            Proposal(a, str(f["rule_id"]), str(f["id"]), str(f["severity"] or ""), a.reason)
                        )
            except Exception as e:
                errors.append(
                    error_row(
                        "respond:propose",
                        e.__class__.__name__,
                        f"{f['rule_id']} {f['id']}: {e}"[:300],
                        account_id=f["account_id"],
                    )
                )
    if inventory is not None:
        for p in proposals:
            try:
                p.blast_radius = blast_radius(p.action, inventory)
            except Exception as e:  # the plan stands without it
                p.blast_radius = {"summary": f"not computed: {e.__class__.__name__}: {e}"[:200]}
    else:
        for p in proposals:
            p.blast_radius = {"summary": "not computed (no --snapshot)"}
    return Proposals(Plan(case_id, [p.action for p in proposals]), proposals, errors, unhandled)
