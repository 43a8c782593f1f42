"""Native rule kinds: detections Sigma cannot say (created-then-used, first-seen baselines, bursts,
policy-content checks). Each kind renders SQL for a dialect; document checks add a Python step that
runs only on the few candidate rows the SQL returns, so every kind also runs on Athena results.

Every query returns the columns of ``OUTPUT_COLUMNS`` (``detail`` becomes the detection summary).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from iamkit.trail.detect import policydoc
from iamkit.trail.dialect import Dialect, lit
from iamkit.trail.outcome import denied_sql

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

OUTPUT_COLUMNS = ["principal_arn", "access_key_id", "event_ids", "first_seen", "last_seen", "n", "detail"]


class NativeError(Exception):
    """A native rule whose parameters cannot be rendered; the message names the parameter."""


@dataclass
class NativeQuery:
    """SQL for one native rule, an optional refinement over its (few) result rows, needed tables.

    A builder given ``seed`` (a table holding at least the rows matching its ``rows`` predicate) reads
    those rows from it instead of the events table: the hunt's single scan fills such a table once.

    ``stages`` are named intermediate results (``stage_<name>`` in ``sql`` and later stages): inlined
    as CTEs by ``inline`` (Trino, or one query per rule), or computed once per hunt as temp tables on
    DuckDB and shared by every rule whose stage SQL is identical.
    """

    sql: str
    post: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    requires: list[str] = field(default_factory=list)
    stages: list[tuple[str, str]] = field(default_factory=list)
    rows: str | None = None  # predicate on ``events`` covering every row the query reads from ``seed``


def inline(q: NativeQuery) -> str:
    """``q`` as one SQL statement: its stages become leading CTEs."""
    if not q.stages:
        return q.sql
    ctes = ",\n".join(f"stage_{name} AS (\n{sql}\n)" for name, sql in q.stages)
    if q.sql.lstrip().upper().startswith("WITH "):
        return f"WITH {ctes},\n{q.sql.lstrip()[5:]}"
    return f"WITH {ctes}\n{q.sql}"


def _names_in(names: list[str]) -> str:
    return "lower(event_name) IN (" + ", ".join(lit(n.lower()) for n in names) + ")"


def _who(expr_kind: str, alias: str = "") -> str:
    """The stable identity of a caller: the role behind a session, else the principal."""
    if expr_kind == "caller":
        return f"coalesce({alias}session_issuer_arn, {alias}principal_arn, {alias}principal_id)"
    raise NativeError(f"principal must be 'caller', got {expr_kind!r}")


# ---------------------------------------------------------------- key created then used

_KEY_ROWS = "event_name = 'CreateAccessKey' AND error_code IS NULL"


def key_created_then_used(p: dict, d: Dialect, table: str, where: str, seed: str | None = None) -> NativeQuery:
    """An access key created (CreateAccessKey) and then used; with ``new_ip`` only uses from a source
    IP neither the creator nor the key's user was seen on before the key existed."""
    key = d.json_text("response_elements", ["accessKey", "accessKeyId"])
    user = d.json_text("response_elements", ["accessKey", "userName"])
    new_ip = bool(p.get("new_ip", False))
    stages = [("key_uses", f"""SELECT c.c_id, c.c_time, c.creator, c.c_ip, c.key_id, c.key_user,
       e.event_id, e.event_time, e.source_ip, e.principal_arn, e.event_name
FROM (SELECT event_id AS c_id, event_time AS c_time, principal_arn AS creator, source_ip AS c_ip,
             {key} AS key_id, {user} AS key_user
      FROM {seed or table} WHERE {_KEY_ROWS} AND {where}) c
JOIN (SELECT event_id, event_time, source_ip, principal_arn, event_name, access_key_id
      FROM {table} WHERE access_key_id IS NOT NULL AND {where}) e
  ON e.access_key_id = c.key_id AND e.event_time >= c.c_time AND e.event_id <> c.c_id""")]
    ip_filter = ""
    if new_ip:
        stages.append(("ip_first", f"""SELECT principal_arn AS p, source_ip AS ip, min(event_time) AS t
FROM {table}
WHERE source_ip IS NOT NULL AND {where} AND principal_arn IN (
  SELECT principal_arn FROM stage_key_uses UNION SELECT creator FROM stage_key_uses)
GROUP BY principal_arn, source_ip"""))
        ip_filter = ("\n  LEFT JOIN stage_ip_first f1 ON f1.p = u.principal_arn AND f1.ip = u.source_ip"
                     "\n  LEFT JOIN stage_ip_first f2 ON f2.p = u.creator AND f2.ip = u.source_ip"
                     "\n  WHERE (f1.t IS NULL OR f1.t >= u.c_time) AND (f2.t IS NULL OR f2.t >= u.c_time)")
    sql = f"""WITH hits AS (SELECT u.* FROM stage_key_uses u{ip_filter})
SELECT arbitrary(principal_arn) AS principal_arn, key_id AS access_key_id,
       {d.ids_agg(999)} AS event_ids, arbitrary(c_id) AS c_id, min(c_time) AS c_time,
       arbitrary(creator) AS creator, arbitrary(c_ip) AS c_ip, arbitrary(key_user) AS key_user,
       min(event_time) AS first_use, max(event_time) AS last_seen, count(*) AS n,
       {d.distinct_join('source_ip')} AS ips, {d.distinct_join('event_name')} AS names
FROM hits GROUP BY key_id"""

    def post(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        df["event_ids"] = [[c, *list(ids)] for c, ids in zip(df["c_id"], df["event_ids"], strict=True)]
        df["first_seen"] = df["c_time"]
        label = "used from new IP(s)" if new_ip else "used"
        df["detail"] = [
            f"key {k} of user {u} created by {c} from {ip} at {t}; {label} {n} time(s) from {ips}: {names}"
            for k, u, c, ip, t, n, ips, names in zip(df["access_key_id"], df["key_user"], df["creator"],
                                                      df["c_ip"], df["c_time"], df["n"], df["ips"],
                                                      df["names"], strict=True)]
        return df

    return NativeQuery(sql, post, stages=stages, rows=_KEY_ROWS)


# ---------------------------------------------------------------- first seen

_ATTRS = {"source_ip": "e.source_ip", "user_agent": "e.user_agent", "asn": "ipc.asn", "country": "ipc.country"}


def first_seen(p: dict, d: Dialect, table: str, where: str, seed: str | None = None) -> NativeQuery:
    """Calls (default AssumeRole) with an ``attribute`` value the caller had never used in ANY call before,
    once the caller's first ``baseline_days`` of history (all its calls: the learning baseline) are over.
    A user who never assumed a role before and does so from a new IP is caught; one who always works
    from the same IP is not."""
    attr = p.get("attribute", "source_ip")
    if attr not in _ATTRS:
        raise NativeError(f"attribute must be one of {sorted(_ATTRS)}, got {attr!r}")
    days = int(p.get("baseline_days", 14))
    names = p.get("event_names") or ["AssumeRole"]
    who = _who(p.get("principal", "caller"))
    join = "\n  LEFT JOIN ip_context ipc ON ipc.ip = e.source_ip" if attr in ("asn", "country") else ""
    requires = ["ip_context"] if join else []
    noise = ("AND e.source_ip NOT LIKE '%amazonaws.com' AND e.source_ip <> 'AWS Internal'"
             if attr != "user_agent" else "")
    # the calls, shared by every first-seen rule over the same event names
    stage = (f"SELECT event_id, event_time, principal_arn, access_key_id, event_name, {who} AS who,\n"
             f"       source_ip, user_agent\nFROM {table}\n"
             f"WHERE {_names_in(names)} AND error_code IS NULL AND {where}")
    # every caller's history (all calls), reduced to first use per (caller, ip, user agent): shared too
    history = (f"SELECT {who} AS who, source_ip, user_agent, min(event_time) AS first_time\nFROM {table}\n"
               f"WHERE {where}\nGROUP BY 1, 2, 3")
    sql = f"""WITH ev AS (
  SELECT e.event_id, e.event_time, e.principal_arn, e.access_key_id, e.who,
         CAST({_ATTRS[attr]} AS VARCHAR) AS val
  FROM stage_calls e{join}
  WHERE {_ATTRS[attr]} IS NOT NULL {noise}),
hist AS (
  SELECT e.who, CAST({_ATTRS[attr]} AS VARCHAR) AS val, e.first_time
  FROM stage_history e{join}
  WHERE {_ATTRS[attr]} IS NOT NULL {noise}),
pf AS (SELECT who, min(first_time) AS p_first FROM stage_history GROUP BY who),
v AS (SELECT who, val, min(first_time) AS v_first FROM hist GROUP BY who, val),
new AS (SELECT v.who, v.val FROM v JOIN pf ON pf.who = v.who
        WHERE v.v_first >= pf.p_first + {d.interval(days, 'DAY')})
SELECT arbitrary(ev.principal_arn) AS principal_arn, arbitrary(ev.access_key_id) AS access_key_id,
       {d.ids_agg(1000)} AS event_ids, min(event_time) AS first_seen, max(event_time) AS last_seen,
       count(*) AS n, new.who AS who, new.val AS val
FROM ev JOIN new ON new.who = ev.who AND new.val = ev.val
GROUP BY new.who, new.val"""

    def post(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        df["detail"] = [f"{', '.join(names)} by {w} from new {attr} {v!r} (first seen after a {days}-day baseline); "
                        f"{n} call(s)" for w, v, n in zip(df["who"], df["val"], df["n"], strict=True)]
        return df

    return NativeQuery(sql, post, requires, stages=[("calls", stage), ("history", history)])


# ---------------------------------------------------------------- bursts of denied calls

def denied_burst(p: dict, d: Dialect, table: str, where: str, seed: str | None = None) -> NativeQuery:
    """At least ``threshold`` denied calls by one principal within ``minutes`` (reconnaissance)."""
    n = int(p.get("threshold", 20))
    minutes = int(p.get("minutes", 10))
    codes = p.get("error_codes")  # default: the one AccessDenied-class definition (iamkit.trail.outcome)
    denied = f"error_code IN ({', '.join(lit(c) for c in codes)})" if codes else denied_sql("error_code")
    sql = f"""WITH dn AS (
  SELECT event_id, event_time, principal_arn, access_key_id, event_name,
         coalesce(principal_arn, principal_id, access_key_id, source_ip) AS who
  FROM {table} WHERE {denied} AND {where}),
w AS (SELECT who, count(*) OVER (PARTITION BY who ORDER BY event_time
        RANGE BETWEEN {d.interval(minutes, 'MINUTE')} PRECEDING AND CURRENT ROW) AS cnt FROM dn),
hot AS (SELECT who, max(cnt) AS peak FROM w GROUP BY who HAVING max(cnt) >= {n})
SELECT arbitrary(dn.principal_arn) AS principal_arn, arbitrary(dn.access_key_id) AS access_key_id,
       {d.ids_agg(1000)} AS event_ids, min(event_time) AS first_seen, max(event_time) AS last_seen,
       count(*) AS n, arbitrary(hot.peak) AS peak, {d.distinct_join('event_name')} AS names
FROM dn JOIN hot ON hot.who = dn.who GROUP BY dn.who"""

    def post(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        df["detail"] = [f"{pk} denied calls within {minutes} min (threshold {n}); {c} denied in all: {nm}"
                        for pk, c, nm in zip(df["peak"], df["n"], df["names"], strict=True)]
        return df

    return NativeQuery(sql, post)


# ---------------------------------------------------------------- document checks

def _candidate_rows(d: Dialect, names: list[str], needles: list[str] | None = None) -> str:
    """Successful calls named ``names`` whose request text contains one of ``needles`` (a cheap SQL
    prefilter, case-insensitive, so only likely hits reach the Python check)."""
    text = f"lower({d.json_as_text('request_parameters')})"
    pre = ""
    if needles:
        pre = " AND (" + " OR ".join(f"strpos({text}, {lit(n.lower())}) > 0" for n in needles) + ")"
    return f"{_names_in(names)} AND error_code IS NULL{pre}"


def _candidates(d: Dialect, rows: str, source: str, where: str,
                post: Callable[[pd.DataFrame], pd.DataFrame]) -> NativeQuery:
    sql = (f"SELECT principal_arn, access_key_id, event_id, event_time, event_name, recipient_account_id,\n"
           f"       {d.json_as_text('request_parameters')} AS rp\n"
           f"FROM {source} WHERE {rows} AND {where}")
    return NativeQuery(sql, post, rows=rows)


def _per_event(df: pd.DataFrame, reasons_of: Callable[[Any], list[str]]) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for rec in df.to_dict(orient="records"):
        reasons = reasons_of(rec)
        if reasons:
            rows.append({"principal_arn": rec["principal_arn"], "access_key_id": rec["access_key_id"],
                         "event_ids": [rec["event_id"]], "first_seen": rec["event_time"],
                         "last_seen": rec["event_time"], "n": 1,
                         "detail": f"{rec['event_name']}: " + "; ".join(reasons)})
    return pd.DataFrame(rows, columns=OUTPUT_COLUMNS)


def _params(rec: dict) -> dict:
    try:
        out = json.loads(rec.get("rp") or "{}")
    except ValueError:
        return {}
    return out if isinstance(out, dict) else {}


POLICY_EVENTS = {"PutUserPolicy": "policyDocument", "PutRolePolicy": "policyDocument",
                 "PutGroupPolicy": "policyDocument", "CreatePolicy": "policyDocument",
                 "CreatePolicyVersion": "policyDocument"}


def policy_grant(p: dict, d: Dialect, table: str, where: str, seed: str | None = None) -> NativeQuery:
    """Inline or managed policy documents written with a dangerous grant (``actions``: ``*``, ``iam:*``,
    ``iam:PassRole``, ``iam:CreatePolicy*`` by default); documents parsed from their (URL-encoded) JSON."""
    targets = p.get("actions") or ["*", "iam:*", "iam:PassRole", "iam:CreatePolicy*"]
    names = p.get("event_names") or list(POLICY_EVENTS)

    def reasons(rec: dict) -> list[str]:
        params = _params(rec)
        doc = policydoc.load_document(params.get("policyDocument"))
        if doc is None:
            return ["policy document unreadable"] if params.get("policyDocument") else []
        target = params.get("policyName") or params.get("policyArn") or ""
        where_to = params.get("userName") or params.get("roleName") or params.get("groupName") or ""
        found = policydoc.dangerous_grants(doc, targets)
        prefix = f"{target}{' on ' + where_to if where_to else ''}: "
        return [prefix + r for r in found]

    # every dangerous grant spells '*' or 'iam:' (JSON or URL-encoded), or uses NotAction
    needles = ["*", "%2a", '"iam:', "%22iam%3a", "notaction"]
    return _candidates(d, _candidate_rows(d, names, needles), seed or table, where, lambda df: _per_event(df, reasons))


def trust_opened(p: dict, d: Dialect, table: str, where: str, seed: str | None = None) -> NativeQuery:
    """Role trust policies (UpdateAssumeRolePolicy, CreateRole) that let ``*``, an account root or a
    foreign account assume the role (``trusted_accounts`` are not foreign)."""
    trusted = {str(a) for a in p.get("trusted_accounts") or []}
    fields = {"UpdateAssumeRolePolicy": "policyDocument", "CreateRole": "assumeRolePolicyDocument"}

    def reasons(rec: dict) -> list[str]:
        params = _params(rec)
        raw = params.get(fields.get(rec["event_name"], "policyDocument")) or params.get("policyDocument") \
            or params.get("assumeRolePolicyDocument")
        doc = policydoc.load_document(raw)
        if doc is None:
            return ["trust policy unreadable"] if raw else []
        role = params.get("roleName") or ""
        return [f"role {role}: {r}" for r in policydoc.trust_openings(doc, rec["recipient_account_id"], trusted)]

    return _candidates(d, _candidate_rows(d, list(fields)), seed or table, where, lambda df: _per_event(df, reasons))


def selectors_narrowed(p: dict, d: Dialect, table: str, where: str, seed: str | None = None) -> NativeQuery:
    """PutEventSelectors requests that stop logging some management events."""

    def reasons(rec: dict) -> list[str]:
        params = _params(rec)
        trail = params.get("trailName") or ""
        return [f"trail {trail}: {r}" for r in policydoc.selector_narrowing(params)]

    return _candidates(d, _candidate_rows(d, ["PutEventSelectors"]), seed or table, where,
                       lambda df: _per_event(df, reasons))


#: kind name -> builder: (params, dialect, table, extra where, seed table or None) -> NativeQuery.
KINDS: dict[str, Callable[..., NativeQuery]] = {
    "key_created_then_used": key_created_then_used,
    "first_seen": first_seen,
    "denied_burst": denied_burst,
    "policy_grant": policy_grant,
    "trust_opened": trust_opened,
    "selectors_narrowed": selectors_narrowed,
}


def build(kind: str, params: dict, dialect: Dialect, table: str = "events", where: str | None = None,
          seed: str | None = None) -> NativeQuery:
    """Render native rule ``kind`` with ``params`` for ``dialect`` (static rows read from ``seed``)."""
    if kind not in KINDS:
        raise NativeError(f"unknown native rule kind {kind!r}; known: {', '.join(sorted(KINDS))}")
    return KINDS[kind](dict(params or {}), dialect, table, where or "TRUE", seed)
