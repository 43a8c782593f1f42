"""Running detection rules on a trail back end and collecting a ``detections`` frame.

``hunt(backend, …)`` takes a ``TrailBackend`` (a DuckDB ``Trail`` or an ``AthenaTrail``): the rules are
rendered in its dialect over its table, bounded by its ``scope`` (window, accounts, regions; the Athena view's
partitions), and run by the runner it gives (``LocalRunner``: one shared scan, shared stages and an IP-context
table on DuckDB; ``QueryRunner``: one query per rule on Athena). A rule that fails to compile or run becomes a
row in the ``errors`` frame and the hunt goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamkit.severity import RANK as SEVERITY_RANK
from iamkit.trail import dialect as dialects
from iamkit.trail.detect import native
from iamkit.trail.detect.rules import Rule, error_row, load_rules
from iamkit.trail.detect.sigma import SigmaError, compile_rule, group_sql

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.trail.backend import TrailBackend
    from iamkit.trail.predicates import Filters


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
    """Detections (``detections`` frame), per-rule problems (``errors`` frame), the SQL run per rule,
    each rule's wall time in seconds, and the rules that ran by id (their ATT&CK mapping, for OCSF)."""

    detections: pd.DataFrame
    errors: pd.DataFrame
    queries: dict[str, str]
    timings: dict[str, float]
    rules: dict[str, Rule] = field(default_factory=dict)


def render_rule(
    rule: Rule, dialect: str | dialects.Dialect = "duckdb", *, table: str = "events", where: str | None = None
) -> RenderedRule:
    """Compile ``rule`` to SQL for ``dialect``; raises ``SigmaError``/``NativeError`` when it cannot."""
    d = dialect if isinstance(dialect, dialects.Dialect) else dialects.get(dialect)
    if rule.kind == "sigma":
        comp = compile_rule(rule.sigma, d, table=table, scope=where)
        full = f"{comp.where} AND ({where})" if where else comp.where
        return RenderedRule(rule, group_sql(full, d, table=table), None, [], comp.warnings, comp.where)
    q = native.build(rule.kind, rule.params, d, table, where)
    return RenderedRule(rule, native.inline(q), q.post, q.requires, [], None, q)


def resolve_rules(
    rules: Iterable[Rule | str | Path] | None = None, sigma_dirs: Iterable[str | Path] = ()
) -> tuple[list[Rule], list[dict]]:
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


@dataclass
class Plan:
    """A hunt before it runs: the rules rendered for a back end (its dialect and table, bounded by
    ``where``), their SQL, and the problems so far."""

    rendered: list[RenderedRule]
    queries: dict[str, str]
    errors: list[dict]
    where: str | None
    dialect: dialects.Dialect
    table: str


def plan(
    backend: TrailBackend,
    rules: Iterable[Rule | str | Path] | None = None,
    sigma_dirs: Iterable[str | Path] = (),
    *,
    filters: Filters | None = None,
    tables: Iterable[str] | None = None,
) -> Plan:
    """Render ``rules`` (default: the shipped detections) plus the Sigma rules under ``sigma_dirs`` for
    ``backend``, bounded by ``filters`` (window, accounts, regions). A rule needing a table the back end
    lacks (``tables``, default ``backend.tables``: ``ip_context`` for country/ASN) is listed as skipped."""
    from iamkit.trail.predicates import Filters

    have = set(backend.tables if tables is None else tables)
    where = backend.scope((filters or Filters()).scope())
    where = None if where == "TRUE" else where
    rule_list, errors = resolve_rules(rules, sigma_dirs)
    rendered, queries = _render_all(rule_list, backend.dialect, backend.table, where, errors)
    keep = []
    for rr in rendered:
        missing = sorted(set(rr.requires) - have)
        if missing:
            queries.pop(rr.rule.id, None)
            errors.append(
                error_row(
                    rr.rule.id,
                    "rule_skipped",
                    f"{rr.rule.title}: needs an {missing[0]} table "
                    "(ip, asn, country) in the database; on Athena create it and pass "
                    "ip_context_table=True",
                )
            )
        else:
            keep.append(rr)
    return Plan(keep, queries, errors, where, backend.dialect, backend.table)


def hunt(
    backend: TrailBackend,
    rules: Iterable[Rule | str | Path] | None = None,
    sigma_dirs: Iterable[str | Path] = (),
    **kw: Any,
) -> HuntResult:
    """Run ``rules`` (default: the shipped detections) plus the Sigma rules under ``sigma_dirs`` on
    ``backend`` (a ``TrailBackend``): ``backend.hunt`` with the same keywords (``window`` or ``since``/``until``,
    ``accounts``, ``regions``, and the back end's own, e.g. ``ip_context`` locally)."""
    from iamkit.errors import BadInput
    from iamkit.trail.backend import TrailBackend

    if not isinstance(backend, TrailBackend):
        raise BadInput(
            f"hunt runs on a trail back end (iamkit.trail.open(db), iamkit.trail.open_athena(db)), "
            f"not a {type(backend).__name__}"
        )
    return backend.hunt(rules, sigma_dirs, **kw)


def execute(p: Plan, runner: Any) -> HuntResult:
    """Run a planned hunt with ``runner`` (``LocalRunner`` or ``QueryRunner``) into a ``HuntResult``."""
    import pandas as pd

    from iamkit import frames

    timings: dict[str, float] = {}
    errors = list(p.errors)
    try:
        rendered = runner.prepare(p, timings)
        parts = _execute(rendered, runner, errors, timings)
    finally:
        runner.close()
    det = pd.concat(parts, ignore_index=True) if parts else frames.empty("detections")
    det = frames.conform(det, "detections")
    if len(det):
        order = det["severity"].map(SEVERITY_RANK).fillna(9)
        det = det.assign(_o=order).sort_values(["_o", "first_seen", "detection_id"], kind="stable")
        det = det.drop(columns="_o").reset_index(drop=True)
    err = frames.conform(errors, "errors") if errors else frames.empty("errors")
    return HuntResult(det, err, p.queries, timings, {rr.rule.id: rr.rule for rr in p.rendered})


class QueryRunner:
    """Runs each rule as one query through ``query(sql)`` (the Athena back end); ``progress(done, total)``."""

    def __init__(self, query: Callable[[str], pd.DataFrame], progress: Callable[[int, int], None] | None = None):
        self.query, self.progress, self.done, self.total = query, progress, 0, 0

    def prepare(self, p: Plan, timings: dict[str, float]) -> list[RenderedRule]:
        self.total = len(p.rendered)
        return p.rendered

    def skip(self, rr: RenderedRule) -> str | None:
        return None

    def run(self, rr: RenderedRule) -> pd.DataFrame:
        try:
            return self.query(rr.sql)
        finally:
            self.done += 1
            if self.progress is not None:
                self.progress(self.done, self.total)

    def close(self) -> None:
        pass


class LocalRunner:
    """Runs rules on a DuckDB connection: one shared scan for every Sigma predicate and native rule's static
    rows, native stages computed once and shared, and an ``ip_context`` table built on first need (unless the
    store has one) from ``ip_context`` (an ``IpContext`` or an ``ip_context`` frame; default: offline data)."""

    def __init__(self, con: Any, ip_context: Any = None, table: str = "events"):
        self.con = con
        tables = {r[0].lower() for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if table.lower() not in tables:
            from iamkit.errors import NotFound

            raise NotFound(f"no table {table!r} in the store (load CloudTrail first: iamkit trail load)")
        self.ctx = _IpContextTable(con, ip_context) if "ip_context" not in tables else None
        self.stages: _Stages | None = None

    def prepare(self, p: Plan, timings: dict[str, float]) -> list[RenderedRule]:
        self.stages = _Stages(self.con, timings)
        return _single_scan(self.con, p.rendered, p.dialect, p.table, p.where, timings)

    def skip(self, rr: RenderedRule) -> str | None:
        if self.ctx is not None and "ip_context" in rr.requires:
            return self.ctx.ensure(rr.rule.params.get("attribute"), rr.rule.params.get("event_names"))
        return None

    def run(self, rr: RenderedRule) -> pd.DataFrame:
        return self.con.execute(self.stages.sql_for(rr)).fetch_df()

    def close(self) -> None:
        if self.ctx is not None:
            self.ctx.close()
        self.con.execute(f"DROP TABLE IF EXISTS {_HITS}")
        if self.stages is not None:
            self.stages.close()


def _render_all(
    rule_list: list[Rule], d: dialects.Dialect, table: str, where: str | None, errors: list[dict]
) -> tuple[list[RenderedRule], dict[str, str]]:
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


def _execute(
    rendered: list[RenderedRule], runner: Any, errors: list[dict], timings: dict[str, float]
) -> list[pd.DataFrame]:
    """Run each rule (its Python refinement included) and shape its rows as detections; a rule that
    fails is listed in ``errors`` and the others go on."""
    parts = []
    for rr in rendered:
        rule = rr.rule
        problem = runner.skip(rr)
        if problem:
            errors.append(error_row(rule.id, "rule_skipped", f"{rule.title}: {problem}"))
            continue
        t0 = time.perf_counter()
        try:
            df = runner.run(rr)
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


def _single_scan(
    con: Any,
    rendered: list[RenderedRule],
    d: dialects.Dialect,
    table: str,
    where: str | None,
    timings: dict[str, float],
) -> list[RenderedRule]:
    """One scan of the events for every Sigma predicate and every native rule's static rows, into a
    temp table of hit rows (all columns, one flag per rule); those rules then read it instead of the
    events. On any engine error the rules are left to run one by one (so only the bad one fails)."""
    batch = [rr for rr in rendered if rr.where is not None or (rr.native is not None and rr.native.rows is not None)]
    if len(batch) < 2:
        return rendered
    preds = [rr.where if rr.where is not None else rr.native.rows for rr in batch]
    flags = ", ".join(f"coalesce({p}, FALSE) AS r{i}" for i, p in enumerate(preds))
    any_hit = " OR ".join(f"({p})" for p in preds)
    extra = f" AND ({where})" if where else ""
    t0 = time.perf_counter()
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {_HITS} AS SELECT *, {flags} FROM {table} WHERE ({any_hit}){extra}")
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
    return pd.DataFrame(
        {
            "detection_id": rule.id,
            "severity": rule.severity,
            "title": rule.title,
            "event_ids": [as_id_list(x) for x in df["event_ids"]],
            "principal_arn": df["principal_arn"],
            "access_key_id": df["access_key_id"],
            "first_seen": df["first_seen"],
            "last_seen": df["last_seen"],
            "summary": summary,
        }
    )


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
                from iamkit.trail.dialect import lit
                from iamkit.trail.ipcontext import IpContext

                self.ctx = self.ctx or (self.source if self.source is not None else IpContext())
                in_list = ", ".join(lit(n) for n in sorted(names))
                known = set(self.df["ip"]) if self.df is not None else set()
                ips = [
                    r[0]
                    for r in self.con.execute(
                        f"SELECT DISTINCT source_ip FROM events WHERE source_ip IS NOT NULL "
                        f"AND lower(event_name) IN ({in_list})"
                    ).fetchall()
                    if r[0] not in known
                ]
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
