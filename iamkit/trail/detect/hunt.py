"""Running detection rules over the ``events`` table and collecting a ``detections`` frame.

One SQL query per rule (DuckDB runs each over all cores); a rule that fails to compile or run becomes
a row in the ``errors`` frame and the hunt goes on. With ``dialect="trino"`` the queries are rendered
for Athena and run only through an ``execute`` callable (the Athena back end), else just returned.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamkit.severity import RANK as SEVERITY_RANK
from iamkit.trail.detect import native, render
from iamkit.trail.detect.rules import Rule, error_row, load_rules
from iamkit.trail.detect.sigma import SigmaError, compile_rule, group_sql

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


@dataclass
class RenderedRule:
    """One rule as SQL for a dialect, with its Python refinement, needed tables and warnings."""

    rule: Rule
    sql: str
    post: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    requires: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    where: str | None = None  # a Sigma rule's predicate (for the shared single scan)
    native: native.NativeQuery | None = None  # a native rule's stages and main query (local runs)


@dataclass
class HuntResult:
    """Detections (``detections`` frame), per-rule problems (``errors`` frame), the SQL run per rule
    and each rule's wall time in seconds."""

    detections: pd.DataFrame
    errors: pd.DataFrame
    queries: dict[str, str]
    timings: dict[str, float]


def time_window(dialect: render.Dialect, since: Any = None, until: Any = None, *,
                accounts: Iterable[str] | None = None, regions: Iterable[str] | None = None) -> str | None:
    """A predicate bounding ``event_time`` and, when given, the accounts and regions (None when
    unbounded); on Trino with both ends, also the partition predicate of the Athena ``events`` view
    (date, and the accounts/regions), so a bounded hunt never scans everything."""
    accounts, regions = _checked("account", accounts), _checked("region", regions)
    parts = []
    if dialect.name == "trino" and since is not None and until is not None:
        from iamkit.trail.athena import VIEW_PARTITIONS, partition_predicate

        parts.append(partition_predicate(since, until, accounts=accounts, regions=regions, **VIEW_PARTITIONS))
    if since is not None:
        parts.append(f"event_time >= {dialect.timestamp(_iso(since))}")
    if until is not None:
        parts.append(f"event_time <= {dialect.timestamp(_iso(until, end_of_day=True))}")
    if accounts:
        parts.append(f"recipient_account_id IN ({', '.join(repr(a) for a in accounts)})")
    if regions:
        parts.append(f"aws_region IN ({', '.join(repr(r) for r in regions)})")
    return " AND ".join(parts) or None


_SHAPES = {"account": r"\d{12}", "region": r"[a-z]{2}(-[a-z]+)+-\d"}


def _checked(what: str, values: Iterable[str] | None) -> list[str] | None:
    """``values`` as a list, each checked to look like an account id / region (they go into SQL)."""
    import re

    from iamkit.errors import BadInput

    if not values:
        return None
    out = [str(v).strip() for v in values]
    for v in out:
        if not re.fullmatch(_SHAPES[what], v):
            raise BadInput(f"not an AWS {what}: {v!r}")
    return out


def _iso(value: Any, end_of_day: bool = False) -> str:
    """``value`` (datetime, date, ISO text; a bare date means its whole day) as UTC ISO text."""
    import datetime as dt

    from iamkit.errors import BadInput

    if isinstance(value, dt.datetime):
        t = value
    elif isinstance(value, dt.date) or (isinstance(value, str) and len(value.strip()) == 10):
        day = value if isinstance(value, dt.date) else None
        try:
            day = day or dt.date.fromisoformat(value.strip())
        except ValueError:
            raise BadInput(f"not a date: {value!r}") from None
        t = dt.datetime.combine(day, dt.time.max if end_of_day else dt.time.min)
    else:
        try:
            t = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise BadInput(f"not an ISO date/time: {value!r}") from None
    t = t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def render_rule(rule: Rule, dialect: str | render.Dialect = "duckdb", *, table: str = "events",
                where: str | None = None) -> RenderedRule:
    """Compile ``rule`` to SQL for ``dialect``; raises ``SigmaError``/``NativeError`` when it cannot."""
    d = dialect if isinstance(dialect, render.Dialect) else render.get(dialect)
    if rule.kind == "sigma":
        comp = compile_rule(rule.sigma, d)
        full = f"{comp.where} AND ({where})" if where else comp.where
        return RenderedRule(rule, group_sql(full, d, table=table), None, [], comp.warnings, comp.where)
    q = native.build(rule.kind, rule.params, d, table, where)
    return RenderedRule(rule, native.inline(q), q.post, q.requires, [], None, q)


def resolve_rules(rules: Iterable[Rule | str | Path] | None = None,
                  sigma_dirs: Iterable[str | Path] = ()) -> tuple[list[Rule], list[dict]]:
    """Rule objects from rules/paths (None: the shipped rules) plus ``sigma_dirs``; load errors listed."""
    errors: list[dict] = []
    out: list[Rule] = []
    paths: list[str | Path] = []
    if isinstance(rules, (str, Path, Rule)):
        rules = [rules]
    if isinstance(sigma_dirs, (str, Path)):
        sigma_dirs = [sigma_dirs]
    if rules is None:
        loaded, errs = load_rules(None)
        out += loaded
        errors += errs
    else:
        for r in rules:
            (out.append(r) if isinstance(r, Rule) else paths.append(r))
    paths += list(sigma_dirs)
    if paths:
        loaded, errs = load_rules(paths)
        known = {r.id for r in out}
        for r in loaded:
            if r.id in known:
                errors.append(error_row(r.path, "rule_duplicate", f"rule id {r.id} already loaded"))
            else:
                out.append(r)
                known.add(r.id)
        errors += errs
    return out, errors


def _connection(con_or_trail: Any):
    if con_or_trail is None:
        return None
    if hasattr(con_or_trail, "con"):
        return con_or_trail.con
    if isinstance(con_or_trail, (str, Path)):
        from iamkit.errors import NotFound
        from iamkit.trail.store import connect

        if not Path(con_or_trail).exists():
            raise NotFound(f"no DuckDB store at {con_or_trail}")
        return connect(con_or_trail, read_only=True)
    return con_or_trail


def _tables(con) -> set[str]:
    rows = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    return {r[0].lower() for r in rows}


def hunt(con_or_trail: Any = None, rules: Iterable[Rule | str | Path] | None = None,
         sigma_dirs: Iterable[str | Path] = (), dialect: str = "duckdb", *, table: str = "events",
         since: Any = None, until: Any = None, ip_context: Any = None,
         execute: Callable[[str], pd.DataFrame] | None = None, accounts: Iterable[str] | None = None,
         regions: Iterable[str] | None = None) -> HuntResult:
    """Run ``rules`` (default: the shipped detections) plus the Sigma rules under ``sigma_dirs``, over
    the ``[since, until]`` window and, when given, only the ``accounts`` and ``regions``.

    ``con_or_trail`` is a DuckDB connection, a ``Trail`` (``.con``) or a store path. Trino queries run
    only through ``execute(sql) -> DataFrame`` (e.g. the Athena back end); without it they are rendered.
    Rules needing IP context (country/ASN) use an ``ip_context`` table when the store has one, else one
    built from ``ip_context`` (an ``IpContext`` or an ``ip_context`` frame; default: offline country data).
    """
    import pandas as pd

    from iamkit import frames

    d = render.get(dialect)
    rule_list, errors = resolve_rules(rules, sigma_dirs)
    con = _connection(con_or_trail)
    opened = con is not None and isinstance(con_or_trail, (str, Path))
    local = execute is None and con is not None and d.name == "duckdb"
    tables = _tables(con) if local else None
    if tables is not None and table.lower() not in tables:
        from iamkit.errors import NotFound

        raise NotFound(f"no table {table!r} in the store (load CloudTrail first: iamkit trail load)")
    where = time_window(d, since, until, accounts=accounts, regions=regions)
    rendered, queries = _render_all(rule_list, d, table, where, errors)
    timings: dict[str, float] = {}
    parts: list[pd.DataFrame] = []
    if local:
        ctx = _IpContextTable(con, ip_context) if "ip_context" not in tables else None
        stages = _Stages(con, timings)
        try:
            rendered = _single_scan(con, rendered, d, table, where, timings)
            parts = _execute(rendered, lambda sql: con.execute(sql).fetch_df(), stages, ctx, errors, timings)
        finally:
            if ctx is not None:
                ctx.close()
            con.execute(f"DROP TABLE IF EXISTS {_HITS}")
            stages.close()
            if opened:
                con.close()
    else:
        if opened:
            con.close()
        if execute is not None:
            parts = _execute(rendered, execute, None, None, errors, timings)
    det = pd.concat(parts, ignore_index=True) if parts else frames.empty("detections")
    det = frames.conform(det, "detections")
    if len(det):
        order = det["severity"].map(SEVERITY_RANK).fillna(9)
        det = det.assign(_o=order).sort_values(["_o", "first_seen", "detection_id"], kind="stable")
        det = det.drop(columns="_o").reset_index(drop=True)
    err = frames.conform(errors, "errors") if errors else frames.empty("errors")
    return HuntResult(det, err, queries, timings)


def _render_all(rule_list: list[Rule], d: render.Dialect, table: str, where: str | None,
                errors: list[dict]) -> tuple[list[RenderedRule], dict[str, str]]:
    """Every rule as SQL; the ones that cannot be compiled are listed in ``errors``."""
    rendered: list[RenderedRule] = []
    queries: dict[str, str] = {}
    for rule in rule_list:
        try:
            rr = render_rule(rule, d, table=table, where=where)
        except (SigmaError, native.NativeError) as e:
            errors.append(error_row(rule.id, "rule_unsupported", f"{rule.title or rule.id} ({rule.path}): {e}"))
            continue
        queries[rule.id] = rr.sql
        errors += [error_row(rule.id, "rule_warning", f"{rule.title}: {w}") for w in rr.warnings]
        rendered.append(rr)
    return rendered, queries


def _execute(rendered: list[RenderedRule], run: Callable[[str], pd.DataFrame], stages: _Stages | None,
             ctx: _IpContextTable | None, errors: list[dict], timings: dict[str, float]) -> list[pd.DataFrame]:
    """Run each rule (its Python refinement included) and shape its rows as detections; a rule that
    fails is listed in ``errors`` and the others go on."""
    parts = []
    for rr in rendered:
        rule = rr.rule
        if ctx is not None and "ip_context" in rr.requires:
            problem = ctx.ensure(rule.params.get("attribute"), rule.params.get("event_names"))
            if problem:
                errors.append(error_row(rule.id, "rule_skipped", f"{rule.title}: {problem}"))
                continue
        t0 = time.perf_counter()
        try:
            df = run(stages.sql_for(rr) if stages is not None else rr.sql)
            if "event_ids" in df.columns:
                df = df.assign(event_ids=[as_id_list(x) for x in df["event_ids"]])
            if rr.post is not None and len(df):
                df = rr.post(df)
        except Exception as e:  # one rule's engine error must not stop the hunt
            errors.append(error_row(rule.id, "rule_failed", f"{rule.title}: {type(e).__name__}: {e}"))
            continue
        finally:
            timings[rule.id] = time.perf_counter() - t0
        if len(df):
            parts.append(_as_detections(rule, df))
    return parts


_HITS = "_iamkit_hunt_hits"


class _Stages:
    """Native-rule stages as DuckDB temp tables, each computed once per hunt and shared by the rules
    whose stage SQL is identical (e.g. the AssumeRole calls of the four first-seen rules)."""

    def __init__(self, con: Any, timings: dict[str, float]):
        self.con, self.timings, self.made = con, timings, {}

    def sql_for(self, rr: RenderedRule) -> str:
        """The rule's main query reading its stages from temp tables (created on first use)."""
        import hashlib
        import re

        if rr.native is None or not rr.native.stages:
            return rr.sql
        names: dict[str, str] = {}

        def subst(sql: str) -> str:
            for name, tmp in names.items():
                sql = re.sub(rf"\bstage_{name}\b", tmp, sql)
            return sql

        for name, sql in rr.native.stages:
            body = subst(sql)
            if body not in self.made:
                tmp = f"_iamkit_stage_{name}_{hashlib.sha1(body.encode()).hexdigest()[:10]}"
                t0 = time.perf_counter()
                self.con.execute(f"CREATE OR REPLACE TEMP TABLE {tmp} AS {body}")
                self.timings[f"(stage {name})"] = self.timings.get(f"(stage {name})", 0) + time.perf_counter() - t0
                self.made[body] = tmp
            names[name] = self.made[body]
        return subst(rr.native.sql)

    def close(self) -> None:
        for tmp in self.made.values():
            self.con.execute(f"DROP TABLE IF EXISTS {tmp}")


def _single_scan(con: Any, rendered: list[RenderedRule], d: render.Dialect, table: str, where: str | None,
                 timings: dict[str, float]) -> list[RenderedRule]:
    """One scan of the events for every Sigma predicate and every native rule's static rows, into a
    temp table of hit rows (all columns, one flag per rule); those rules then read it instead of the
    events. On any engine error the rules are left to run one by one (so only the bad one fails)."""
    batch = [rr for rr in rendered
             if rr.where is not None or (rr.native is not None and rr.native.rows is not None)]
    if len(batch) < 2:
        return rendered
    preds = [rr.where if rr.where is not None else rr.native.rows for rr in batch]
    flags = ", ".join(f"coalesce({p}, FALSE) AS r{i}" for i, p in enumerate(preds))
    any_hit = " OR ".join(f"({p})" for p in preds)
    extra = f" AND ({where})" if where else ""
    t0 = time.perf_counter()
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {_HITS} AS SELECT *, {flags} FROM {table} "
                    f"WHERE ({any_hit}){extra}")
    except Exception:  # one bad predicate: run the rules separately so only that one fails
        return rendered
    finally:
        timings["(single scan)"] = time.perf_counter() - t0
    out = []
    for rr in rendered:
        if rr in batch:
            i = batch.index(rr)
            if rr.where is not None:
                rr = RenderedRule(rr.rule, group_sql(f"r{i}", d, table=_HITS), None, rr.requires, [], rr.where)
            else:
                q = native.build(rr.rule.kind, rr.rule.params, d, table, where, seed=_HITS)
                rr = RenderedRule(rr.rule, native.inline(q), q.post, q.requires, [], None, q)
        out.append(rr)
    return out


def as_id_list(value: Any) -> list[str]:
    """Event ids as a list, from a DuckDB list/array or Athena's text form of an array (``[a, b]``)."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        return [x.strip().strip('"') for x in text.split(",") if x.strip()]
    try:
        return [str(x) for x in value]
    except TypeError:
        return [str(value)]


def _as_detections(rule: Rule, df: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    n = df["n"] if "n" in df.columns else pd.Series([None] * len(df), index=df.index)
    detail = df["detail"] if "detail" in df.columns else pd.Series([""] * len(df), index=df.index)
    if rule.kind == "sigma":
        summary = [f"{int(c)} event(s): {t}" for c, t in zip(n, detail, strict=True)]
    else:
        summary = [str(t) for t in detail]
    return pd.DataFrame({
        "detection_id": rule.id, "severity": rule.severity, "title": rule.title,
        "event_ids": [as_id_list(x) for x in df["event_ids"]],
        "principal_arn": df["principal_arn"], "access_key_id": df["access_key_id"],
        "first_seen": df["first_seen"], "last_seen": df["last_seen"], "summary": summary,
    })


class _IpContextTable:
    """Registers an ``ip_context`` view on a DuckDB connection when a rule first needs one, covering
    the source IPs of the calls the rules look at (looked up offline, once per distinct IP)."""

    def __init__(self, con: Any, source: Any):
        self.con, self.source, self.df, self.problem = con, source, None, None
        self.covered: set[str] = set()
        self.ctx: Any = None

    def ensure(self, attribute: str | None, event_names: list[str] | None = None) -> str | None:
        """None when the view has data for ``attribute``; else why the rule is skipped."""
        names = {n.lower() for n in (event_names or ["AssumeRole"])}
        if self.problem is None and (self.df is None or not names <= self.covered):
            self._extend(names - self.covered)
        if self.problem:
            return self.problem
        if attribute in ("asn", "country") and self.df[attribute].isna().all():
            what = "an ASN database (MaxMind GeoLite2-ASN .mmdb)" if attribute == "asn" else "country data"
            return f"no {attribute} known for any source IP: give {what} as ip_context"
        return None

    def _extend(self, names: set[str]) -> None:
        import pandas as pd

        try:
            if isinstance(self.source, pd.DataFrame):
                df = self.source
            else:
                from iamkit.trail.detect.render import lit
                from iamkit.trail.ipcontext import IpContext

                self.ctx = self.ctx or (self.source if self.source is not None else IpContext())
                in_list = ", ".join(lit(n) for n in sorted(names))
                known = set(self.df["ip"]) if self.df is not None else set()
                ips = [r[0] for r in self.con.execute(
                    f"SELECT DISTINCT source_ip FROM events WHERE source_ip IS NOT NULL "
                    f"AND lower(event_name) IN ({in_list})").fetchall() if r[0] not in known]
                df = self.ctx.frame(ips)
                if self.df is not None:
                    df = pd.concat([self.df, df[["ip", "asn", "country"]]], ignore_index=True)
        except Exception as e:  # any failure here only skips the IP-context rules
            self.problem = f"IP context unavailable: {type(e).__name__}: {e}"
            return
        missing = {"ip", "asn", "country"} - set(df.columns)
        if missing:
            self.problem = f"ip_context frame lacks column(s) {sorted(missing)}"
            return
        if self.df is not None:
            self.con.unregister("ip_context")
        self.df = df[["ip", "asn", "country"]].astype(object)
        self.covered |= names
        self.con.register("ip_context", self.df)

    def close(self) -> None:
        if self.df is not None:
            self.con.unregister("ip_context")
