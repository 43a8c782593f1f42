"""The compromised-access-key investigation: the functions its four notebooks call.

01 ``load_trail`` + ``trace_key`` + ``owner`` → 02 ``assess`` → 03 ``plan_containment`` (dry run) →
04 ``postmortem``. Each step reads what earlier steps left in the case folder, so a step can be re-run alone.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamkit.arn import account_of, parse
from iamkit.errors import BadInput, IamkitError, NotFound
from iamkit.ui.text import bullets, code, md

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.case import Case

PLAYBOOK = "compromised-access-key"


KEY_PATTERN = re.compile(r"(AKIA|ASIA)[A-Z0-9]{12,124}")
STEPS = {"01": "01-enrichment", "02": "02-assessment", "03": "03-remediation", "04": "04-postmortem"}


def check_key(parameters: dict[str, Any]) -> None:
    """The parameters a new key case needs: ``access_key_id`` is an access key id (``BadInput`` otherwise)."""
    key = str(parameters.get("access_key_id") or "").strip()
    if not key:
        raise BadInput(
            "access_key_id is required: set it in the parameters cell (AKIA… or ASIA…), then run the notebook again"
        )
    if not KEY_PATTERN.fullmatch(key):
        raise BadInput(f"access_key_id {key[:40]!r} is not an access key id (AKIA… or ASIA…)")


def open_case(case_dir: str, *, step: str = "", playbook: str = PLAYBOOK, **parameters: Any) -> Case:
    """The case a notebook of ``playbook`` writes into.

    With ``case_dir`` (``iamkit run`` sets it; the case picker too): that case, verified (and joined when the run
    that made it started this kernel). Without, in JupyterLab: step 01 checks its parameters first (no subject,
    no case) and starts a new case; any later step continues the newest case of this playbook that has the
    answers it needs, as ``iamkit run`` would chain them. End an interactive notebook with ``done(case, step)``."""
    from iamkit import config
    from iamkit.case import Case
    from iamkit.investigate.playbooks import get

    steps = get(playbook)
    if step == "explore":  # reads only (an approval opens its own session): other notebooks can write meanwhile
        path = case_dir or latest_case(config.load().cases_dir, playbook)
        if not path:
            raise NotFound(
                f"no case of {playbook} with answers under {config.load().cases_dir}: run the playbook "
                "(or 01-enrichment) first, or set case_dir"
            )
        case = Case.open(path)
        case.require_intact()
        return case
    if case_dir:
        return Case.open_for_write(case_dir, actor=f"notebook {STEPS.get(step, step) or playbook}")

    if step in ("", "01"):
        steps.check(parameters)
        given = {k: v for k, v in parameters.items() if v != "" or k not in ("access_key_id", "subject")}
        return Case.create(config.load().cases_dir, playbook, given)
    path = latest_case(config.load().cases_dir, playbook)
    if path is None:
        raise NotFound(
            f"no case of {playbook} with answers (evidence/facts.json) under {config.load().cases_dir}: "
            "run 01-enrichment first, or set case_dir to a case folder"
        )
    return Case.open_for_write(path, actor=f"notebook {STEPS.get(step, step)} (JupyterLab)")


def cases(root: str | Path | None = None, playbook: str = PLAYBOOK) -> list[tuple[str, str]]:
    """(label, path) of ``playbook``'s cases under ``root`` (the cases folder), newest first."""
    from iamkit import config
    from iamkit.case import Case

    root = Path(root if root is not None else config.load().cases_dir)
    out = []
    for d in sorted(root.iterdir()) if root.is_dir() else []:
        if not (d / "case.yaml").is_file() or d.is_symlink():
            continue
        try:
            c = Case.open(d)
        except IamkitError:
            continue
        if c.meta.get("playbook") != playbook:
            continue
        params = c.meta.get("parameters") or {}
        subject = params.get("access_key_id") or params.get("subject") or "?"
        out.append(
            (
                str(c.meta.get("created") or ""),
                f"{c.id} · {subject} · {c.status}",
                str(d.resolve()),
                (d / "evidence" / "facts.json").is_file(),
            )
        )
    out.sort(reverse=True)
    return [(label, path) for _, label, path, _ in out]


def latest_case(root: str | Path | None = None, playbook: str = PLAYBOOK) -> Path | None:
    """The newest case of ``playbook`` under ``root`` that has answers (``evidence/facts.json``)."""
    for _, path in cases(root, playbook):
        if (Path(path) / "evidence" / "facts.json").is_file():
            return Path(path)
    return None


def done(case: Case, step: str) -> str:
    """End an interactive notebook's work on the case (nothing under ``iamkit run``, which ends the case itself):
    the session is sealed and closed so the next notebook can open it; step 04 also builds the report. Returns
    the case's status line."""
    if case._role != "owner":  # joined a run's session: the run finishes the case
        return f"case {case.id}: {case.status} (the run finishes it)"
    if step == "04":
        from iamkit import report

        report.build(case)
        case.finish("complete")
    elif case.status in ("complete", "complete with errors"):
        case.close()
    else:
        case.finish(f"paused after {STEPS.get(step, step)}")
    return f"case {case.id}: {case.status}" + (f"; report: {case.path / 'report.html'}" if step == "04" else "")


def _window(start: str, end: str) -> tuple[dt.datetime, dt.datetime]:
    """The investigation's window (``iamkit.window``: a bare end date is that whole day): empty end now,
    empty start 30 days before the end; start must come before end."""
    from iamkit.window import Window

    w = Window.parse(
        start or None, end or None, end_now=True, default_span=dt.timedelta(days=30), names=("start", "end")
    )
    if w.start >= w.end:
        raise BadInput(f"window start {w.start} is not before end {w.end}")
    return w.start, w.end


def resolve_trail_source(trail_source: str) -> str:
    """``auto`` → the S3 location of the organization (or account) trail, found with DescribeTrails."""
    if trail_source and trail_source != "auto":
        return trail_source
    import botocore.exceptions as bex

    from iamkit.aws.session import client_config, new_session

    try:
        cloudtrail = new_session().client("cloudtrail", config=client_config())
        trails = cloudtrail.describe_trails(includeShadowTrails=True)["trailList"]
    except bex.ClientError as e:
        raise BadInput(
            f"trail_source=auto: DescribeTrails refused ({e.response['Error'].get('Code')}); "
            "pass trail_source=s3://bucket/prefix, a folder or lookup:"
        ) from None
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
        yield (
            "CloudTrail loaded",
            md(
                "{} from {} to {}: {} events from {} files ({} already loaded, {} failed)",
                code(self.source),
                self.start,
                self.end,
                c.get("events_inserted", 0),
                c.get("files_loaded", 0),
                c.get("files_skipped", 0),
                c.get("files_failed", 0),
            ),
        )
        if len(self.errors):
            yield "Files or calls that failed (the rest loaded)", self.errors


def load_trail(
    case: Case, trail_source: str = "auto", start: str = "", end: str = "", progress: bool = False
) -> Loaded:
    """Load the window's CloudTrail into the case's DuckDB store; raw S3 files kept as evidence. ``progress``:
    show a progress bar (JupyterLab; a headless run shows none)."""
    from iamkit import trail

    s, e = _window(start, end)
    source = resolve_trail_source(trail_source)
    bar = None
    if progress:
        from iamkit.ui.widgets import ProgressBar

        bar = ProgressBar("loading CloudTrail files")
    with trail.open(trail_db(case)) as t:
        res = t.load(
            [source], start=s, end=e, cache_dir=case.evidence / "cloudtrail", progress=bar.update if bar else None
        )
        total = t.count()
    redacted = redact_raw_files(case.evidence / "cloudtrail")
    if redacted:
        case.save_json("cloudtrail-redactions", redacted)
    counters = {**res.as_dict(), "events_in_store": total, "raw_files_redacted": len(redacted)}
    case.save_json("trail-load", {"source": source, "start": s.isoformat(), "end": e.isoformat(), **counters})
    if len(res.errors):
        case.save_frame("trail-load-errors", res.errors)
        first = res.errors.iloc[0].to_dict()
        case.note_unanswered(
            "enrichment",
            "every call in the window",
            f"{len(res.errors)} CloudTrail file(s) or call(s) failed to load, the rest loaded "
            f"(first: {first.get('source') or first.get('file') or ''} "
            f"{first.get('error') or first.get('message') or ''})",
        )
    if total == 0:
        raise NotFound(f"no CloudTrail events found in {source} between {s:%Y-%m-%d} and {e:%Y-%m-%d}")
    return Loaded(source, s.isoformat(), e.isoformat(), counters, res.errors)


def _maybe_secret(body: bytes) -> bool:
    """A cheap necessary condition for a secret key in raw JSON: one of ``store.SECRET_KEYS`` in any case,
    or a ``\\u`` escape (which can spell any name). Files with neither are not parsed."""
    from iamkit.trail.store import SECRET_KEYS

    names = b"|".join(sorted({k.lower().encode() for k in SECRET_KEYS}))
    return re.search(rb"(?i:" + names + rb")|\\u", body) is not None


def _redact_raw(body: bytes) -> tuple[bytes, int]:
    """A raw CloudTrail file (one JSON document, or JSON lines) with its secrets redacted, and how many."""
    import json

    from iamkit.trail.store import redact_document

    def dump(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()

    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        pass
    else:
        n = redact_document(doc)
        return (dump(doc) if n else body), n
    lines, total = [], 0
    for line in body.split(b"\n"):
        try:
            doc = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError):
            lines.append(line)  # not JSON: kept as received (the loader lists it)
            continue
        n = redact_document(doc)
        lines.append(dump(doc) if n else line)
        total += n
    return b"\n".join(lines), total


def redact_raw_files(folder: Path) -> list[dict[str, str]]:
    """Secrets in raw CloudTrail copies become ``<redacted:sha256:…>`` exactly as in the store (the same
    ``store.SECRET_KEYS`` in every record's request, response and additional data: session tokens, secret
    keys, passwords); each changed file's original sha256 is returned so provenance is kept without keeping
    the secret. A redacted file is written back as compact JSON (gzipped again when it was)."""
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
        if not _maybe_secret(body):
            continue
        new, n = _redact_raw(body)
        if n:
            p.write_bytes(gzip.compress(new, mtime=0) if gz else new)
            out.append(
                {
                    "file": p.relative_to(folder).as_posix(),
                    "original_sha256": hashlib.sha256(raw).hexdigest(),
                    "redacted": f"{n} secret value(s)",
                }
            )
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
        yield f"Key {self.access_key_id}", bullets(self.headline)
        yield "Origin", _kv_frame(self.origin)
        yield "Keys, users and sessions in the chain", self.nodes
        yield (
            "Every call, oldest first",
            self.events[
                [
                    c
                    for c in (
                        "event_time",
                        "depth",
                        "access_key_id",
                        "event_source",
                        "event_name",
                        "recipient_account_id",
                        "source_ip",
                        "user_agent",
                        "error_code",
                    )
                    if c in self.events.columns
                ]
            ],
        )


def _kv_frame(d: dict[str, Any]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame([{"field": k, "value": str(v)} for k, v in d.items()])


MAX_PIVOTS = 10


def _creator_key(con: Any, principal_arn: str) -> tuple[str | None, str | None]:
    """(key, event id) of the CreateUser call that made the IAM user ``principal_arn``, if it is in the store."""
    row = con.execute(
        """
        SELECT access_key_id, event_id FROM events
        WHERE event_name = 'CreateUser' AND error_code IS NULL AND access_key_id IS NOT NULL
          AND json_extract_string(response_elements, '$.user.arn') = ?
        ORDER BY event_time LIMIT 1""",
        [principal_arn],
    ).fetchone()
    return (row[0], row[1]) if row else (None, None)


def origin_chain(t: Any, origin: Any) -> tuple[list[str], Any]:
    """Follow a trace's origin further up while it was itself made by another key (a key created by
    CreateAccessKey, a user created by CreateUser), in the local store ``t`` (a ``Trail``): the chain from
    the first key, and the first origin."""
    from iamkit.trail.trace import find_origin

    chain = list(origin.chain)
    for _ in range(MAX_PIVOTS):
        parent = origin.detail.get("created_by_key")
        if not parent and origin.kind == "iam_user" and origin.principal_arn:
            parent, _event = _creator_key(t.con, origin.principal_arn)
        if not parent or parent in chain:
            break
        up = find_origin(t, parent)
        chain = [k for k in up.chain if k not in chain] + chain
        origin = up
    return chain, origin


def trace_key(case: Case, access_key_id: str) -> KeyTrace:
    """Trace the key back to the first key of its chain, investigate the incident from there (what it and
    everything it created did), and write the answers (``evidence/facts.json``); evidence saved."""
    from iamkit import trail
    from iamkit.investigate import facts as F
    from iamkit.report import headline

    if not access_key_id:
        raise BadInput("access_key_id is required")
    with trail.open(trail_db(case), read_only=True) as t:
        first = t.trace(access_key_id)
        chain, o = origin_chain(t, first.origin)
        root = next((k for k in chain if k.startswith("AKIA")), chain[0] if chain else access_key_id)
        tr = first if root == access_key_id else t.trace(root)
        full = _full_events(t, tr.events)
    me = first.nodes[first.nodes["node"] == access_key_id]
    origin = {
        "kind": o.kind,
        "arn": o.principal_arn,
        "name": o.name,
        "account_id": o.account_id,
        "first_key": chain[0] if chain else None,
        "chain": " → ".join(chain),
    }
    if o.kind == "iam_user":
        origin.update(user_arn=o.principal_arn, user_name=o.name)
    session = access_key_id.startswith("ASIA")
    subject = {
        "access_key_id": access_key_id,
        "key_type": "session" if session else "long-term",
        "principal_arn": o.principal_arn,
        "account_id": o.account_id,
        "person": None,
        "session_arn": (me.iloc[0]["principal_arn"] if len(me) else None) if session else None,
        "origin_access_key_id": root if root.startswith("AKIA") else None,
        "chain": chain,
    }
    if subject["session_arn"] is not None and not isinstance(subject["session_arn"], str):
        subject["session_arn"] = None  # a missing value
    if o.kind in ("unknown", "aws_account"):
        case.note_unanswered(
            "enrichment",
            "who is behind the key",
            f"its origin is {o.kind}: "
            + str(o.detail.get("note") or "the key is never issued or used by a known identity in the loaded window"),
        )
    f = F.activity_facts(full, subject, root_key=root, nodes=tr.nodes, ip_context=_ip_context(case))
    case.save_frame("key-events", full, query={"trace": root, "subject": access_key_id, "db": trail_db(case).name})
    case.save_frame("key-chain", tr.nodes)
    f = F.save(case, f)
    return KeyTrace(access_key_id, origin, tr.nodes, full, f, headline(f))


def _ip_context(case: Case) -> Any:
    """Offline IP context: the MaxMind databases configured (``country_mmdb``, ``asn_mmdb``), else iptocc."""
    from iamkit import config
    from iamkit.trail.ipcontext import IpContext

    settings = config.load()
    try:
        return IpContext(country_mmdb=settings.country_mmdb or None, asn_mmdb=settings.asn_mmdb or None)
    except IamkitError as e:
        case.note_unanswered("enrichment", "country and ASN of the source IPs", str(e))
        return IpContext()


def _full_events(t, traced: pd.DataFrame) -> pd.DataFrame:
    """Whole event rows (JSON subtrees included) for the traced events, with the trace's depth and node."""
    from iamkit.trail import parse_json_columns

    ids = [i for i in traced["event_id"].dropna().unique().tolist()]
    if not ids:
        return traced
    t.con.execute("CREATE OR REPLACE TEMP TABLE _ids (event_id VARCHAR)")
    t.con.executemany("INSERT INTO _ids VALUES (?)", [[i] for i in ids])
    rows = parse_json_columns(t.con.execute("SELECT e.* FROM events e JOIN _ids USING (event_id)").df())
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


#: tags naming the human behind an IAM identity (first found wins)
PERSON_TAGS = ("email", "Email", "owner", "Owner", "upn", "UPN", "mail")


def owner(case: Case) -> Owner:
    """IAM of the key owner's account (authorization details + credential report), the owner's rows kept;
    the person behind the owner (its email/owner tag) goes into the facts."""
    import pandas as pd

    from iamkit.investigate import facts as F
    from iamkit.respond.sessions import context_for

    f = F.load(case)
    arn = f["subject"].get("principal_arn") or ""
    account = f["subject"].get("account_id") or account_of(arn) or ""
    errors: list[str] = []
    details = pd.DataFrame([{"field": k, "value": str(v)} for k, v in f["subject"].items()])
    policies = pd.DataFrame()
    cred = pd.DataFrame()
    who = parse(arn)
    if who is None or who.service != "iam":
        return Owner(arn, details, policies, cred, [f"the key's origin is not an IAM identity ({arn or 'unknown'})"])
    try:
        from iamkit.investigate.iam import collect_account

        frames = collect_account(context_for(account), account)
        principals, pols = frames["principals"], frames["policies"]
        case.save_frame(f"iam-{account}-principals", principals)
        case.save_frame(f"iam-{account}-policies", pols)
        from iamkit.investigate.reach import group_arns_of

        me = principals[principals["arn"] == arn]
        if len(me):
            details = me.T.reset_index().rename(columns={"index": "field", me.index[0]: "value"})
            tags = me.iloc[0]["tags"]
            tags = json.loads(tags) if isinstance(tags, str) else tags
            person = next((tags[k] for k in PERSON_TAGS if isinstance(tags, dict) and tags.get(k)), None)
            if person:
                F.update(case, subject={**f["subject"], "person": str(person)})
        else:
            errors.append(f"{arn} is not in the IAM of account {account} (deleted since?)")
        group_arns = group_arns_of(principals, arn)
        if len(frames["errors"]):
            case.save_frame(f"iam-{account}-errors", frames["errors"])
            errors += [f"{r.operation}: {r.code}: {r.message}"[:300] for r in frames["errors"].itertuples()]
        policies = pols[pols["attached_to_arn"].isin([arn, *group_arns])][
            ["attached_to_arn", "policy_type", "policy_name", "policy_arn"]
        ]
        if "credentials" in frames:
            cr = frames["credentials"]
            case.save_frame(f"iam-{account}-credential-report", cr)
            cred = cr[cr["arn"] == arn]
    except Exception as e:  # the owner's account may deny us: said, the investigation goes on
        errors.append(f"IAM of account {account}: {e.__class__.__name__}: {e}"[:300])
    for e in errors:
        case.note_unanswered("enrichment", "the owner's IAM details and person", e)
    case.save_json("owner", {"principal_arn": arn, "account_id": account, "errors": errors})
    return Owner(arn, details, policies, cred, errors)


@dataclass
class Answers:
    """The investigation's answers as they stand (``evidence/facts.json``), for a notebook to show."""

    facts: dict[str, Any]

    def sections(self):
        import pandas as pd

        if self.facts.get("unanswered"):
            yield "Not answered", pd.DataFrame(self.facts["unanswered"])
        rows = [
            {"field": k, "value": json.dumps(v, default=str)}
            for k, v in self.facts.items()
            if k not in ("schema_version", "unanswered")
        ]
        yield "The answers (evidence/facts.json, schema iamkit/schemas/facts.schema.json)", pd.DataFrame(rows)


def answers(case: Case) -> Answers:
    """The case's facts (what every step answered so far, and what it could not)."""
    from iamkit.investigate import facts as F

    return Answers(F.load(case))


def timeline_explorer(case: Case):
    """An interactive view of the key's calls (a figure headless; a filterable widget in JupyterLab)."""
    from iamkit.ui.timeline import TimelineExplorer

    return TimelineExplorer(
        case.load_frame("key-events"), title=f"Calls traced from {case.meta['parameters'].get('access_key_id', '')}"
    )


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


@dataclass
class Figures:
    """Figures of the case (``iamkit.ui.case_figures``), each with what to look for; one that could not be drawn
    is a one-line reason."""

    items: list[Any]

    def sections(self):
        for f in self.items:
            if f.figure is None:
                yield f.title, f"not drawn: {f.missing}"
            else:
                yield f.title, md("{}", f.look_for)
                yield "", f.figure


def figures(case: Case, *keys: str) -> Figures:
    """The case's figures (all, or those named: timeline, sources, map, trust, escalation, keys, person)."""
    from iamkit.ui.case_figures import case_figures

    items = case_figures(case)
    return Figures([f for f in items if not keys or f.key in keys])
