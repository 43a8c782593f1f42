"""The compromised-access-key investigation: the functions its four notebooks call.

01 ``load_trail`` + ``trace_key`` + ``owner`` → 02 ``assess`` → 03 ``plan_containment`` (dry run) →
04 ``postmortem``. Each step reads what earlier steps left in the case folder, so a step can be re-run alone.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamkit.errors import BadInput, NotFound

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.case import Case

PLAYBOOK = "compromised-access-key"


def open_case(case_dir: str, **parameters: Any) -> Case:
    """The case a notebook writes into: the one ``iamkit run`` made (joined, verified), an existing one (verified
    first, refused if changed outside iamkit) or a new one for interactive use."""
    from iamkit.case import Case

    if case_dir:
        return Case.open_for_write(case_dir, actor=f"notebook ({PLAYBOOK})")
    from iamkit import config

    return Case.create(config.load().cases_dir, PLAYBOOK, parameters)


def _window(start: str, end: str) -> tuple[dt.datetime, dt.datetime]:
    from iamkit.trail.sources import window_bounds  # the one parser: a bare end date means that whole day

    lo, hi = window_bounds(start or None, end or None)
    e = hi or dt.datetime.now(dt.UTC)
    s = lo or e - dt.timedelta(days=30)
    if s >= e:
        raise BadInput(f"window start {s} is not before end {e}")
    return s, e


def resolve_trail_source(trail_source: str) -> str:
    """``auto`` → the S3 location of the organization (or account) trail, found with DescribeTrails."""
    if trail_source and trail_source != "auto":
        return trail_source
    import boto3
    import botocore.exceptions as bex

    try:
        trails = boto3.client("cloudtrail").describe_trails(includeShadowTrails=True)["trailList"]
    except bex.ClientError as e:
        raise BadInput(f"trail_source=auto: DescribeTrails refused ({e.response['Error'].get('Code')}); "
                       "pass trail_source=s3://bucket/prefix, a folder or lookup:") from None
    trails = sorted(trails, key=lambda t: (not t.get("IsOrganizationTrail"), not t.get("IsMultiRegionTrail")))
    for t in trails:
        if t.get("S3BucketName"):
            prefix = (t.get("S3KeyPrefix") or "").strip("/")
            return f"s3://{t['S3BucketName']}/{prefix + '/' if prefix else ''}AWSLogs/"
    raise BadInput("trail_source=auto: no trail delivers to S3 here; pass s3://bucket/prefix, a folder or lookup:")


def trail_db(case: Case) -> Path:
    return case.path / "trail.duckdb"


@dataclass
class Loaded:
    source: str
    start: str
    end: str
    counters: dict[str, Any]
    errors: pd.DataFrame

    def sections(self):
        c = self.counters
        yield "CloudTrail loaded", (f"`{self.source}` from {self.start} to {self.end}: {c.get('events_inserted', 0)} "
                                    f"events from {c.get('files_loaded', 0)} files "
                                    f"({c.get('files_skipped', 0)} already loaded, {c.get('files_failed', 0)} failed)")
        if len(self.errors):
            yield "Files or calls that failed (the rest loaded)", self.errors


def load_trail(case: Case, trail_source: str = "auto", start: str = "", end: str = "") -> Loaded:
    """Load the window's CloudTrail into the case's DuckDB store; raw S3 files kept as evidence."""
    from iamkit import trail

    s, e = _window(start, end)
    source = resolve_trail_source(trail_source)
    with trail.open(trail_db(case)) as t:
        res = t.load([source], start=s, end=e, cache_dir=case.evidence / "cloudtrail")
        total = t.count()
    redacted = redact_raw_files(case.evidence / "cloudtrail")
    if redacted:
        case.save_json("cloudtrail-redactions", redacted)
    counters = {**res.as_dict(), "events_in_store": total, "raw_files_redacted": len(redacted)}
    case.save_json("trail-load", {"source": source, "start": s.isoformat(), "end": e.isoformat(), **counters})
    if len(res.errors):
        case.save_frame("trail-load-errors", res.errors)
    if total == 0:
        raise NotFound(f"no CloudTrail events found in {source} between {s:%Y-%m-%d} and {e:%Y-%m-%d}")
    return Loaded(source, s.isoformat(), e.isoformat(), counters, res.errors)


_TOKEN = re.compile(rb'("sessionToken"\s*:\s*")[^"]+(")')


def redact_raw_files(folder: Path) -> list[dict[str, str]]:
    """Session tokens in raw CloudTrail copies (AssumeRole responses carry them) become ``<redacted>``;
    each changed file's original sha256 is returned so provenance is kept without keeping the secret."""
    import gzip
    import hashlib

    out = []
    for p in sorted(folder.rglob("*")) if folder.is_dir() else []:
        if not p.is_file():
            continue
        raw = p.read_bytes()
        gz = raw[:2] == b"\x1f\x8b"
        try:
            body = gzip.decompress(raw) if gz else raw
        except (OSError, EOFError):
            continue  # a truncated file stays as received; the loader listed it
        if b"sessionToken" not in body:
            continue
        new = _TOKEN.sub(rb"\1<redacted>\2", body)
        if new != body:
            p.write_bytes(gzip.compress(new, mtime=0) if gz else new)
            out.append({"file": p.relative_to(folder).as_posix(), "original_sha256": hashlib.sha256(raw).hexdigest(),
                        "redacted": "sessionToken values"})
    return out


@dataclass
class KeyTrace:
    access_key_id: str
    origin: dict[str, Any]
    nodes: pd.DataFrame
    events: pd.DataFrame
    facts: dict[str, Any]
    headline: list[str]

    def sections(self):
        yield f"Key {self.access_key_id}", "\n".join(f"- {h}" for h in self.headline)
        yield "Origin", _kv_frame(self.origin)
        yield "Keys, users and sessions in the chain", self.nodes
        yield "Every call, oldest first", self.events[[c for c in (
            "event_time", "depth", "access_key_id", "event_source", "event_name", "recipient_account_id",
            "source_ip", "user_agent", "error_code") if c in self.events.columns]]


def _kv_frame(d: dict[str, Any]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame([{"field": k, "value": str(v)} for k, v in d.items()])


def trace_key(case: Case, access_key_id: str) -> KeyTrace:
    """Trace the key back to its origin and forward through what it created; evidence saved."""
    from iamkit import trail
    from iamkit.investigate.facts import facts, headline

    if not access_key_id:
        raise BadInput("access_key_id is required")
    with trail.open(trail_db(case), read_only=True) as t:
        tr = t.trace(access_key_id)
        full = _full_events(t, tr.events)
    o = tr.origin
    origin = {"kind": o.kind, "arn": o.principal_arn, "name": o.name, "account_id": o.account_id,
              "first_key": o.access_key_id, "chain": " → ".join(str(k) for k in o.chain if k)}
    if o.kind == "iam_user":
        origin.update(user_arn=o.principal_arn, user_name=o.name)
    f = facts(full, access_key_id)
    lines = headline(f, origin)
    case.save_frame("key-events", full, query={"trace": access_key_id, "db": trail_db(case).name})
    case.save_frame("key-chain", tr.nodes)
    case.save_json("key-facts", {"origin": origin, **f, "headline": lines})
    return KeyTrace(access_key_id, origin, tr.nodes, full, f, lines)


def _full_events(t, traced: pd.DataFrame) -> pd.DataFrame:
    """Whole event rows (JSON subtrees included) for the traced events, with the trace's depth and node."""
    from iamkit.trail import parse_json_columns

    ids = [i for i in traced["event_id"].dropna().unique().tolist()]
    if not ids:
        return traced
    t.con.execute("CREATE OR REPLACE TEMP TABLE _ids (event_id VARCHAR)")
    t.con.executemany("INSERT INTO _ids VALUES (?)", [[i] for i in ids])
    rows = parse_json_columns(t.sql("SELECT e.* FROM events e JOIN _ids USING (event_id)"))
    extra = traced[["event_id", "depth", "node"]].drop_duplicates("event_id")
    return rows.merge(extra, on="event_id", how="left").sort_values(["event_time", "event_id"]).reset_index(drop=True)


@dataclass
class Owner:
    principal_arn: str
    details: pd.DataFrame
    policies: pd.DataFrame
    credential: pd.DataFrame
    errors: list[str] = field(default_factory=list)

    def sections(self):
        yield f"Owner {self.principal_arn}", self.details
        yield "Policies attached (directly and through groups)", self.policies
        if len(self.credential):
            yield "Credential report row", self.credential
        for e in self.errors:
            yield "Could not read", e


def owner(case: Case) -> Owner:
    """IAM of the key owner's account (authorization details + credential report), the owner's rows kept."""
    import pandas as pd

    from iamkit.respond.sessions import session_for

    kf = case.load_json("key-facts")
    origin = kf["origin"]
    arn = origin.get("user_arn") or origin.get("arn") or ""
    account = origin.get("account_id") or (arn.split(":")[4] if arn.count(":") >= 5 else "")
    errors: list[str] = []
    details = pd.DataFrame([{"field": k, "value": str(v)} for k, v in origin.items()])
    policies = pd.DataFrame()
    cred = pd.DataFrame()
    try:
        from iamkit.investigate.iam import collect_account

        frames = collect_account(session_for(account), account)
        principals, pols = frames["principals"], frames["policies"]
        case.save_frame(f"iam-{account}-principals", principals)
        case.save_frame(f"iam-{account}-policies", pols)
        from iamkit.investigate.reach import group_arns_of

        me = principals[principals["arn"] == arn]
        if len(me):
            details = me.T.reset_index().rename(columns={"index": "field", me.index[0]: "value"})
        group_arns = group_arns_of(principals, arn)
        if len(frames["errors"]):
            case.save_frame(f"iam-{account}-errors", frames["errors"])
            errors += [f"{r.operation}: {r.code}: {r.message}"[:300] for r in frames["errors"].itertuples()]
        policies = pols[pols["attached_to_arn"].isin([arn, *group_arns])][
            ["attached_to_arn", "policy_type", "policy_name", "policy_arn"]]
        if "credentials" in frames:
            cr = frames["credentials"]
            case.save_frame(f"iam-{account}-credential-report", cr)
            cred = cr[cr["arn"] == arn]
    except Exception as e:  # the owner's account may deny us: listed, the investigation goes on
        errors.append(f"IAM of account {account}: {e.__class__.__name__}: {e}"[:300])
    case.save_json("owner", {"principal_arn": arn, "account_id": account, "errors": errors})
    return Owner(arn, details, policies, cred, errors)


def timeline_explorer(case: Case):
    """An interactive view of the key's calls (a figure headless; a filterable widget in JupyterLab)."""
    from iamkit.ui.timeline import TimelineExplorer

    return TimelineExplorer(case.load_frame("key-events"), title=f"Calls traced from {case.meta['parameters'].get('access_key_id', '')}")


def assess(case: Case):
    """Reach and blast radius of everything the key touched (``iamkit.investigate.reach``)."""
    from iamkit.investigate.reach import assess_key

    return assess_key(case)


def plan_containment(case: Case):
    """A dry-run containment plan with the before-state read now; nothing is changed."""
    from iamkit.investigate.containment import plan_for_case

    return plan_for_case(case)


def postmortem(case: Case):
    """The summary (who, what, when, from where, blast radius, proposed actions) and the timeline figure."""
    from iamkit.investigate.postmortem import summarize

    return summarize(case)



