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
    stages = [
        (
            "key_uses",
            f"""SELECT c.c_id, c.c_time, c.creator, c.c_ip, c.key_id, c.key_user,
       e.event_id, e.event_time, e.source_ip, e.principal_arn, e.event_name
FROM (SELECT event_id AS c_id, event_time AS c_time, principal_arn AS creator, source_ip AS c_ip,
             {key} AS key_id, {user} AS key_user
      FROM {seed or table} WHERE {_KEY_ROWS} AND {where}) c
JOIN (SELECT event_id, event_time, source_ip, principal_arn, event_name, access_key_id
      FROM {table} WHERE access_key_id IS NOT NULL AND {where}) e
  ON e.access_key_id = c.key_id AND e.event_time >= c.c_time AND e.event_id <> c.c_id""",
        )
    ]
    ip_filter = ""
    if new_ip:
        stages.append(
            (
                "ip_first",
                f"""SELECT principal_arn AS p, source_ip AS ip, min(event_time) AS t
FROM {table}
WHERE source_ip IS NOT NULL AND {where} AND principal_arn IN (
  SELECT principal_arn FROM stage_key_uses UNION SELECT creator FROM stage_key_uses)
GROUP BY principal_arn, source_ip""",
            )
        )
        ip_filter = (
            "\n  LEFT JOIN stage_ip_first f1 ON f1.p = u.principal_arn AND f1.ip = u.source_ip"
            "\n  LEFT JOIN stage_ip_first f2 ON f2.p = u.creator AND f2.ip = u.source_ip"
            "\n  WHERE (f1.t IS NULL OR f1.t >= u.c_time) AND (f2.t IS NULL OR f2.t >= u.c_time)"
        )
    sql = f"""WITH hits AS (SELECT u.* FROM stage_key_uses u{ip_filter})
SELECT arbitrary(principal_arn) AS principal_arn, key_id AS access_key_id,
       {d.ids_agg(999)} AS event_ids, arbitrary(c_id) AS c_id, min(c_time) AS c_time,
       arbitrary(creator) AS creator, arbitrary(c_ip) AS c_ip, arbitrary(key_user) AS key_user,
       min(event_time) AS first_use, max(event_time) AS last_seen, count(*) AS n,
       {d.distinct_join("source_ip")} AS ips, {d.distinct_join("event_name")} AS names
FROM hits GROUP BY key_id"""

    def post(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        df["event_ids"] = [[c, *list(ids)] for c, ids in zip(df["c_id"], df["event_ids"], strict=True)]
        df["first_seen"] = df["c_time"]
        label = "used from new IP(s)" if new_ip else "used"
        df["detail"] = [
            f"key {k} of user {u} created by {c} from {ip} at {t}; {label} {n} time(s) from {ips}: {names}"
            for k, u, c, ip, t, n, ips, names in zip(
                df["access_key_id"],
                df["key_user"],
                df["creator"],
                df["c_ip"],
                df["c_time"],
                df["n"],
                df["ips"],
                df["names"],
                strict=True,
            )
        ]
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
    noise = (
        "AND e.source_ip NOT LIKE '%amazonaws.com' AND e.source_ip <> 'AWS Internal'" if attr != "user_agent" else ""
    )
    # the calls, shared by every first-seen rule over the same event names
    stage = (
        f"SELECT event_id, event_time, principal_arn, access_key_id, event_name, {who} AS who,\n"
        f"       source_ip, user_agent\nFROM {table}\n"
        f"WHERE {_names_in(names)} AND error_code IS NULL AND {where}"
    )
    # every caller's history (all calls), reduced to first use per (caller, ip, user agent): shared too
    history = _history_stage(d, table, where)
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
        WHERE v.v_first >= pf.p_first + {d.interval(days, "DAY")})
SELECT arbitrary(ev.principal_arn) AS principal_arn, arbitrary(ev.access_key_id) AS access_key_id,
       {d.ids_agg(1000)} AS event_ids, min(event_time) AS first_seen, max(event_time) AS last_seen,
       count(*) AS n, new.who AS who, new.val AS val
FROM ev JOIN new ON new.who = ev.who AND new.val = ev.val
GROUP BY new.who, new.val"""

    def post(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        df["detail"] = [
            f"{', '.join(names)} by {w} from new {attr} {v!r} (first seen after a {days}-day baseline); {n} call(s)"
            for w, v, n in zip(df["who"], df["val"], df["n"], strict=True)
        ]
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
        RANGE BETWEEN {d.interval(minutes, "MINUTE")} PRECEDING AND CURRENT ROW) AS cnt FROM dn),
hot AS (SELECT who, max(cnt) AS peak FROM w GROUP BY who HAVING max(cnt) >= {n})
SELECT arbitrary(dn.principal_arn) AS principal_arn, arbitrary(dn.access_key_id) AS access_key_id,
       {d.ids_agg(1000)} AS event_ids, min(event_time) AS first_seen, max(event_time) AS last_seen,
       count(*) AS n, arbitrary(hot.peak) AS peak, {d.distinct_join("event_name")} AS names
FROM dn JOIN hot ON hot.who = dn.who GROUP BY dn.who"""

    def post(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        df["detail"] = [
            f"{pk} denied calls within {minutes} min (threshold {n}); {c} denied in all: {nm}"
            for pk, c, nm in zip(df["peak"], df["n"], df["names"], strict=True)
        ]
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


def _candidates(
    d: Dialect, rows: str, source: str, where: str, post: Callable[[pd.DataFrame], pd.DataFrame]
) -> NativeQuery:
    sql = (
        f"SELECT principal_arn, access_key_id, event_id, event_time, event_name, recipient_account_id,\n"
        f"       {d.json_as_text('request_parameters')} AS rp\n"
        f"FROM {source} WHERE {rows} AND {where}"
    )
    return NativeQuery(sql, post, rows=rows)


def _per_event(df: pd.DataFrame, reasons_of: Callable[[Any], list[str]]) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for rec in df.to_dict(orient="records"):
        reasons = reasons_of(rec)
        if reasons:
            rows.append(
                {
                    "principal_arn": rec["principal_arn"],
                    "access_key_id": rec["access_key_id"],
                    "event_ids": [rec["event_id"]],
                    "first_seen": rec["event_time"],
                    "last_seen": rec["event_time"],
                    "n": 1,
                    "detail": f"{rec['event_name']}: " + "; ".join(reasons),
                }
            )
    return pd.DataFrame(rows, columns=OUTPUT_COLUMNS)


def _params(rec: dict) -> dict:
    try:
        out = json.loads(rec.get("rp") or "{}")
    except ValueError:
        return {}
    return out if isinstance(out, dict) else {}


POLICY_EVENTS = {
    "PutUserPolicy": "policyDocument",
    "PutRolePolicy": "policyDocument",
    "PutGroupPolicy": "policyDocument",
    "CreatePolicy": "policyDocument",
    "CreatePolicyVersion": "policyDocument",
}


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
        raw = (
            params.get(fields.get(rec["event_name"], "policyDocument"))
            or params.get("policyDocument")
            or params.get("assumeRolePolicyDocument")
        )
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

    return _candidates(
        d, _candidate_rows(d, ["PutEventSelectors"]), seed or table, where, lambda df: _per_event(df, reasons)
    )


# ---------------------------------------------------------------- event match (declarative)

_OPS = ("equals", "not_equals", "startswith", "endswith", "contains", "exists", "differs_from")


def field_sql(name: str, d: Dialect) -> str:
    """SQL for a CloudTrail field as a rule names it (``eventName``, ``userIdentity.userName``,
    ``requestParameters.withDecryption``) or an ``events`` column (``event_name``): a column when the
    column table has one, else a JSON path inside a kept subtree; the same in both dialects.
    Raises ``NativeError`` for a field the events table does not keep."""
    from iamkit.trail import columns

    if name in columns.FRAME_COLUMNS and columns.FRAME_COLUMNS[name] != columns.J:
        return name
    scalar, identity, roots = columns.sigma_fields()
    key = name.lower()
    if key in scalar:
        return scalar[key]
    head, _, rest = name.partition(".")
    if head.lower() == "useridentity" and rest.lower() in identity:
        return identity[rest.lower()]
    if head.lower() in roots and rest:
        return d.json_text(roots[head.lower()], rest.split("."))
    raise NativeError(
        f"field {name!r} is not kept by the events table (a column, or a path under "
        f"{', '.join(sorted(c.json_root for c in columns.EVENTS if c.json_root))})"
    )


def _text(expr: str) -> str:
    return f"lower(CAST({expr} AS VARCHAR))"


def _like(value: str, before: str, after: str) -> str:
    v = value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return lit(before + v + after) + " ESCAPE '\\'"


def _values(cond: dict, op: str) -> list[str]:
    v = cond[op]
    vals = v if isinstance(v, list) else [v]
    return [str(x).lower() if not isinstance(x, bool) else str(x).lower() for x in vals]


def condition_sql(cond: dict, d: Dialect) -> str:
    """One ``where`` condition (``field`` plus one operator) as SQL; text comparisons ignore case."""
    if not isinstance(cond, dict):
        raise NativeError(f"a condition is a mapping (field: …, equals: …), got {cond!r}")
    ops = [o for o in _OPS if o in cond]
    if "field" not in cond or len(ops) != 1:
        raise NativeError(f"a condition needs 'field' and exactly one of {', '.join(_OPS)}: {cond!r}")
    op = ops[0]
    e = field_sql(str(cond["field"]), d)
    t = _text(e)
    if op == "exists":
        return f"{e} IS {'NOT ' if cond[op] else ''}NULL"
    if op == "differs_from":
        other = _text(field_sql(str(cond[op]), d))
        return f"({e} IS NOT NULL AND ({other} IS NULL OR {t} <> {other}))"
    vals = _values(cond, op)
    if not vals:
        raise NativeError(f"condition on {cond['field']!r}: {op} needs at least one value")
    if op == "equals":
        return f"{t} IN ({', '.join(lit(v) for v in vals)})"
    if op == "not_equals":
        return f"({e} IS NULL OR {t} NOT IN ({', '.join(lit(v) for v in vals)}))"
    shape = {"startswith": ("", "%"), "endswith": ("%", ""), "contains": ("%", "%")}[op]
    return "(" + " OR ".join(f"{t} LIKE {_like(v, *shape)}" for v in vals) + ")"


def condition_fields(p: dict) -> list[str]:
    """Every field an ``event_match`` rule's parameters read (for the rule's ``fields`` declaration)."""
    out = []
    for cond in [*(p.get("where") or []), *(p.get("where_any") or [])]:
        out.append(str(cond.get("field")))
        if "differs_from" in cond:
            out.append(str(cond["differs_from"]))
    th = p.get("threshold") or {}
    if th.get("distinct"):
        out.append(str(th["distinct"]))
    return out


def _match_rows(p: dict, d: Dialect) -> str:
    """The static row predicate of an ``event_match`` rule (event source/names, outcome, conditions)."""
    parts = []
    sources = p.get("event_sources") or []
    names = p.get("event_names") or []
    if sources:
        parts.append("lower(event_source) IN (" + ", ".join(lit(s.lower()) for s in sources) + ")")
    if names:
        parts.append(_names_in(names))
    outcome = p.get("outcome", "success")
    if outcome not in ("success", "failure", "any"):
        raise NativeError(f"outcome must be success, failure or any, got {outcome!r}")
    if outcome != "any":
        parts.append(f"error_code IS {'' if outcome == 'success' else 'NOT '}NULL")
    parts += [condition_sql(c, d) for c in p.get("where") or []]
    if p.get("where_any"):
        parts.append("(" + " OR ".join(condition_sql(c, d) for c in p["where_any"]) + ")")
    if not (sources or names or p.get("where") or p.get("where_any")):
        raise NativeError("event_match needs event_sources, event_names or a where condition")
    return " AND ".join(parts)


def _positive(block: dict, key: str, default: int) -> int:
    value = block.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise NativeError(f"{key} must be a whole number of at least 1, got {value!r}")
    return value


def _history_stage(d: Dialect, table: str, where: str) -> str:
    """Every caller's first call per (source IP, user agent): shared by the first-seen rules of both kinds."""
    who = _who("caller")
    return (
        f"SELECT {who} AS who, source_ip, user_agent, min(event_time) AS first_time\nFROM {table}\n"
        f"WHERE {where}\nGROUP BY 1, 2, 3"
    )


def event_match(p: dict, d: Dialect, table: str, where: str, seed: str | None = None) -> NativeQuery:
    """Calls matching event sources/names, an outcome and field conditions (all of ``where``, one of
    ``where_any``); one detection per principal and key. Optionally only when ``threshold`` (``count``
    matching calls, or ``count`` distinct values of ``distinct`` each new for the principal, within
    ``minutes``) is reached by one principal, or only when the caller's ``first_seen`` such call comes
    after ``baseline_days`` of its own history (it never made one while the baseline was learned)."""
    rows = _match_rows(p, d)
    th, fs = p.get("threshold"), p.get("first_seen")
    for name, value in (("threshold", th), ("first_seen", fs)):
        if value is not None and not isinstance(value, dict):
            raise NativeError(
                f"{name} is a mapping ({'count, minutes, distinct' if name == 'threshold' else 'baseline_days'}), "
                f"got {value!r}"
            )
    for name in ("where", "where_any", "event_names", "event_sources"):
        if p.get(name) is not None and not isinstance(p[name], list):
            raise NativeError(f"{name} is a list, got {p[name]!r}")
    if th is not None and fs is not None:
        raise NativeError("give threshold or first_seen, not both")
    src = seed or table
    label = p.get("summary") or "matching call(s)"
    if th is not None:
        n, minutes = _positive(th, "count", 10), _positive(th, "minutes", 10)
        distinct = th.get("distinct")
        val = field_sql(distinct, d) if distinct else "event_id"
        who = "coalesce(principal_arn, principal_id, access_key_id, source_ip)"
        counted = (
            "SELECT who, event_time FROM (SELECT who, val, min(event_time) AS event_time FROM m GROUP BY who, val) f"
            if distinct
            else "SELECT who, event_time FROM m"
        )
        sql = f"""WITH m AS (
  SELECT event_id, event_time, principal_arn, access_key_id, event_name, {who} AS who,
         CAST({val} AS VARCHAR) AS val
  FROM {src} WHERE {rows} AND {where}),
c AS ({counted}),
w AS (SELECT who, count(*) OVER (PARTITION BY who ORDER BY event_time
        RANGE BETWEEN {d.interval(minutes, "MINUTE")} PRECEDING AND CURRENT ROW) AS cnt FROM c),
hot AS (SELECT who, max(cnt) AS peak FROM w GROUP BY who HAVING max(cnt) >= {n})
SELECT arbitrary(m.principal_arn) AS principal_arn, arbitrary(m.access_key_id) AS access_key_id,
       {d.ids_agg(1000)} AS event_ids, min(event_time) AS first_seen, max(event_time) AS last_seen,
       count(*) AS n, arbitrary(hot.peak) AS peak, {d.distinct_join("event_name")} AS names
FROM m JOIN hot ON hot.who = m.who GROUP BY m.who"""
        what = f"distinct {distinct} value(s) new for the principal" if distinct else "call(s)"

        def post(df: pd.DataFrame) -> pd.DataFrame:
            df = df.copy()
            df["detail"] = [
                f"{pk} {what} within {minutes} min (threshold {n}); {c} {label} in all: {nm}"
                for pk, c, nm in zip(df["peak"], df["n"], df["names"], strict=True)
            ]
            return df

        return NativeQuery(sql, post, rows=rows)
    if fs is not None:
        days = _positive(fs, "baseline_days", 14)
        who = _who("caller")
        sql = f"""WITH m AS (
  SELECT event_id, event_time, principal_arn, access_key_id, event_name, {who} AS who
  FROM {src} WHERE {rows} AND {where}),
f AS (SELECT who, min(event_time) AS first_use FROM m GROUP BY who),
pf AS (SELECT who, min(first_time) AS p_first FROM stage_history GROUP BY who)
SELECT arbitrary(m.principal_arn) AS principal_arn, arbitrary(m.access_key_id) AS access_key_id,
       {d.ids_agg(1000)} AS event_ids, min(event_time) AS first_seen, max(event_time) AS last_seen,
       count(*) AS n, m.who AS who, {d.distinct_join("event_name")} AS names
FROM m JOIN f ON f.who = m.who JOIN pf ON pf.who = m.who
WHERE f.first_use >= pf.p_first + {d.interval(days, "DAY")}
GROUP BY m.who"""

        def post(df: pd.DataFrame) -> pd.DataFrame:
            df = df.copy()
            df["detail"] = [
                f"first {nm} by {w} after a {days}-day baseline without any; {c} {label}"
                for w, nm, c in zip(df["who"], df["names"], df["n"], strict=True)
            ]
            return df

        return NativeQuery(sql, post, stages=[("history", _history_stage(d, table, where))], rows=rows)
    sql = (
        f"SELECT principal_arn, access_key_id, {d.ids_agg(1000)} AS event_ids, min(event_time) AS first_seen, "
        f"max(event_time) AS last_seen, count(*) AS n, {d.distinct_join('event_name')} AS names\n"
        f"FROM {src}\nWHERE {rows} AND {where}\nGROUP BY principal_arn, access_key_id"
    )

    def post(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        df["detail"] = [f"{c} {label}: {nm}" for c, nm in zip(df["n"], df["names"], strict=True)]
        return df

    return NativeQuery(sql, post, rows=rows)


# ---------------------------------------------------------------- instance credentials used elsewhere

_INSTANCE_SESSION = "^i-[0-9a-f]{8,17}$"


def instance_credentials_elsewhere(p: dict, d: Dialect, table: str, where: str, seed: str | None = None) -> NativeQuery:
    """Calls by an EC2 instance's role session (session name ``i-…``) from a source IP other than the
    one its first call came from: the instance's credentials taken off the instance (IMDS theft)."""
    noise = "source_ip NOT LIKE '%amazonaws.com' AND source_ip <> 'AWS Internal'"
    rows = (
        f"identity_type = 'AssumedRole' AND session_name IS NOT NULL AND "
        f"{d.regex('session_name', _INSTANCE_SESSION)} AND source_ip IS NOT NULL AND {noise}"
    )
    sql = f"""WITH s AS (
  SELECT event_id, event_time, principal_arn, access_key_id, event_name, source_ip
  FROM {seed or table} WHERE {rows} AND {where}),
t0 AS (SELECT principal_arn, min(event_time) AS t FROM s GROUP BY principal_arn),
home AS (SELECT s.principal_arn, min(s.source_ip) AS ip FROM s JOIN t0 ON t0.principal_arn = s.principal_arn
         AND s.event_time = t0.t GROUP BY s.principal_arn)
SELECT s.principal_arn AS principal_arn, arbitrary(s.access_key_id) AS access_key_id,
       {d.ids_agg(1000)} AS event_ids, min(event_time) AS first_seen, max(event_time) AS last_seen,
       count(*) AS n, arbitrary(home.ip) AS home_ip, {d.distinct_join("s.source_ip")} AS ips,
       {d.distinct_join("event_name")} AS names
FROM s JOIN home ON home.principal_arn = s.principal_arn
WHERE s.source_ip <> home.ip
GROUP BY s.principal_arn"""

    def post(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        df["detail"] = [
            f"instance session first seen from {h}, then {n} call(s) from {ips}: {nm}"
            for h, n, ips, nm in zip(df["home_ip"], df["n"], df["ips"], df["names"], strict=True)
        ]
        return df

    return NativeQuery(sql, post, rows=rows)


# ---------------------------------------------------------------- sharing and exposure (document checks)

SHARE_EVENTS = [
    "ModifySnapshotAttribute",
    "ModifyImageAttribute",
    "ModifyDBSnapshotAttribute",
    "ModifyDBClusterSnapshotAttribute",
]


def resource_shared(p: dict, d: Dialect, table: str, where: str, seed: str | None = None) -> NativeQuery:
    """EBS snapshots, AMIs and RDS (cluster) snapshots shared with an account other than the event's own
    (``trusted_accounts`` excepted) or made public (group ``all``)."""
    trusted = {str(a) for a in p.get("trusted_accounts") or []}

    def reasons(rec: dict) -> list[str]:
        return policydoc.share_grants(_params(rec), rec["recipient_account_id"], trusted)

    return _candidates(
        d, _candidate_rows(d, SHARE_EVENTS, ["add"]), seed or table, where, lambda df: _per_event(df, reasons)
    )


BUCKET_EVENTS = [
    "PutBucketPolicy",
    "PutBucketAcl",
    "PutBucketPublicAccessBlock",
    "DeleteBucketPublicAccessBlock",
    "PutAccountPublicAccessBlock",
    "DeleteAccountPublicAccessBlock",
]


def bucket_public(p: dict, d: Dialect, table: str, where: str, seed: str | None = None) -> NativeQuery:
    """S3 bucket policies or ACLs that open a bucket to anyone (or to a foreign account), and public
    access blocks removed or turned off."""
    trusted = {str(a) for a in p.get("trusted_accounts") or []}

    def reasons(rec: dict) -> list[str]:
        return policydoc.bucket_exposure(rec["event_name"], _params(rec), rec["recipient_account_id"], trusted)

    return _candidates(d, _candidate_rows(d, BUCKET_EVENTS), seed or table, where, lambda df: _per_event(df, reasons))


def replication_foreign(p: dict, d: Dialect, table: str, where: str, seed: str | None = None) -> NativeQuery:
    """S3 replication configured to a destination in another account (``trusted_accounts`` excepted)."""
    trusted = {str(a) for a in p.get("trusted_accounts") or []}

    def reasons(rec: dict) -> list[str]:
        return policydoc.replication_targets(_params(rec), rec["recipient_account_id"], trusted)

    return _candidates(
        d, _candidate_rows(d, ["PutBucketReplication"]), seed or table, where, lambda df: _per_event(df, reasons)
    )


#: kind name -> builder: (params, dialect, table, extra where, seed table or None) -> NativeQuery.
KINDS: dict[str, Callable[..., NativeQuery]] = {
    "key_created_then_used": key_created_then_used,
    "first_seen": first_seen,
    "denied_burst": denied_burst,
    "policy_grant": policy_grant,
    "trust_opened": trust_opened,
    "selectors_narrowed": selectors_narrowed,
    "event_match": event_match,
    "instance_credentials_elsewhere": instance_credentials_elsewhere,
    "resource_shared": resource_shared,
    "bucket_public": bucket_public,
    "replication_foreign": replication_foreign,
}


def build(
    kind: str, params: dict, dialect: Dialect, table: str = "events", where: str | None = None, seed: str | None = None
) -> NativeQuery:
    """Render native rule ``kind`` with ``params`` for ``dialect`` (static rows read from ``seed``)."""
    if kind not in KINDS:
        raise NativeError(f"unknown native rule kind {kind!r}; known: {', '.join(sorted(KINDS))}")
    return KINDS[kind](dict(params or {}), dialect, table, where or "TRUE", seed)
