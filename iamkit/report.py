"""The case report: one self-contained HTML file (no external scripts), summary first, manifest last.

Built only from the case folder (``evidence/summary.json``, evidence frames, executed notebooks), so it can
be re-built later without touching AWS or Graph: ``iamkit case report DIR``.

Everything in a case folder is evidence, hence hostile. The report's own parts escape every value
(``iamkit.escape``); executed notebooks go through nbconvert and then an allow-list sanitizer (nh3: text
formatting and tables only, no links, images, scripts, styles or attributes beyond col/rowspan); and the page
carries a Content-Security-Policy that forbids scripts, frames, forms and every URL but inline data images.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamkit import escape, severity

if TYPE_CHECKING:  # pragma: no cover
    from iamkit.case import Case

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:72rem;color:#1d2430;line-height:1.45;overflow-wrap:anywhere}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{border-bottom:2px solid #e3e7ee;padding-bottom:.2rem;margin-top:2rem}
.meta{color:#5a6576;font-size:.9rem} .headline{background:#fff6e5;border-left:4px solid #f0a020;padding:.6rem 1rem}
.headline li{margin:.15rem 0} table{border-collapse:collapse;font-size:.82rem;margin:.5rem 0;width:100%}
th,td{border:1px solid #dde2ea;padding:.25rem .4rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f3f5f9}
details{margin:.5rem 0} summary{cursor:pointer;font-weight:600} code{background:#f3f5f9;padding:0 .2rem}
.nb{border:1px solid #e3e7ee;padding:.5rem 1rem;margin:.5rem 0;overflow-x:auto}
.wide{overflow-x:auto;max-width:100%} .wide table{width:auto;min-width:100%} td{max-width:32rem}
figure{margin:1rem 0;border:1px solid #e3e7ee;padding:.5rem} figure img{width:100%;height:auto;display:block}
figcaption{color:#37404d;font-size:.9rem;margin-top:.3rem} .denied{color:#b00020}
@media print{details{display:block} figure{break-inside:avoid}}
""" + "".join(
    f".sev-{level}{{color:{colour}{';font-weight:700' if severity.RANK[level] <= 2 else ''}}}\n"
    for level, colour in severity.COLORS.items()
)

# evidence JSON is written with sorted keys: put the columns a reader scans first back in front
FIRST_COLUMNS = [
    "step",
    "time",
    "when",
    "first_seen",
    "last_seen",
    "source_ip",
    "key",
    "call",
    "action",
    "account",
    "target",
    "result",
    "calls",
    "denied",
]

# No script-src, connect-src, frame-src, object-src: ``default-src 'none'`` refuses them all (the report is
# read with JavaScript off). Styles only from the report's own <style>; images only inline data.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src 'none'; base-uri 'none'; form-action 'none'"
)

# What an executed notebook may contribute to the report: text formatting and tables. No links (a URL from
# evidence stays text), no images, no classes or styles (nothing can dress up as the report's own parts).
NOTEBOOK_TAGS = {
    "div",
    "span",
    "p",
    "br",
    "hr",
    "pre",
    "code",
    "em",
    "strong",
    "b",
    "i",
    "s",
    "del",
    "sub",
    "sup",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "blockquote",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "th",
    "td",
    "caption",
}
NOTEBOOK_ATTRIBUTES = {"th": {"colspan", "rowspan"}, "td": {"colspan", "rowspan"}, "ol": {"start"}}
# elements dropped with everything inside them (the rest of a disallowed element's text is kept as text)
NOTEBOOK_DROPPED = {
    "script",
    "style",
    "template",
    "iframe",
    "object",
    "embed",
    "noscript",
    "textarea",
    "select",
    "svg",
    "math",
    "title",
    "head",
}


def load_summary(case: Case) -> dict[str, Any]:
    """``evidence/summary.json``, its headline rendered from ``evidence/facts.json`` when the case has facts;
    every string made ``visible`` (it is shown, never computed on). A summary or facts file that cannot be read
    (a crafted or damaged case) becomes a headline line saying so, never a failed report."""
    from iamkit import jsontext
    from iamkit.errors import IamkitError

    p = case.evidence / "summary.json"
    try:
        s = jsontext.read(p) if p.is_file() else {}
    except IamkitError as e:
        s = {"headline": [f"evidence/summary.json could not be read: {e}"]}
    if not isinstance(s, dict):
        s = {"headline": ["evidence/summary.json is not a JSON object"]}
    f = case.evidence / "facts.json"
    if f.is_file():
        try:
            s["headline"] = headline(jsontext.read(f))
        except (IamkitError, KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            s["headline"] = [f"evidence/facts.json could not be rendered: {e.__class__.__name__}: {e}"]
    return _visible_tree(s)


# ---------------------------------------------------------------- the headline, rendered from the facts
def _when(t: str | None) -> str:
    return (t or "?").replace("T", " ").replace("Z", " UTC")


def _duration(start: str | None, end: str | None) -> str:
    if not start or not end:
        return "?"
    secs = int(
        (
            dt.datetime.fromisoformat(end.replace("Z", "+00:00"))
            - dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
        ).total_seconds()
    )
    if secs < 3600:
        return f"{secs // 60} min"
    return f"{secs // 3600} h {secs % 3600 // 60:02d} min" if secs < 86400 else f"{secs / 86400:.1f} days"


def _ip(ip: str, context: dict[str, Any]) -> str:
    c = context.get(ip) or {}
    bits = [c.get("country"), f"AS{c['asn']} {c.get('as_org') or ''}".strip() if c.get("asn") else None]
    bits = [b for b in bits if b]
    return f"{ip} ({', '.join(bits)})" if bits else ip


def _some(items: list[str], n: int = 3, sep: str = ", ") -> str:
    """At most ``n`` items, then how many more (the facts file has them all)."""
    shown = sep.join(items[:n])
    return shown + (f"{sep}and {len(items) - n} more" if len(items) > n else "")


def _names(arns: list[str]) -> str:
    return _some([a.rsplit("/", 1)[-1] for a in arns], 5) or "none"


def headline(f: dict[str, Any]) -> list[str]:
    """The lines a responder reads first, from a key investigation's facts (``evidence/facts.json``): what
    could not be answered (first, when anything), then who and the suspicious activity apart from the owner's
    usual one, persistence, privilege, lateral movement, data access and logging."""
    lines = []
    if f.get("unanswered"):
        lines.append(
            "Not answered: " + "; ".join(f"{u['question']} — {u['reason']} ({u['step']})" for u in f["unanswered"])
        )
    if "access_key_id" not in f["subject"]:
        return lines + _subject_headline(f)
    s, w, a, src = f["subject"], f["window"], f["activity"], f["sources"]
    ctx = src.get("ip_context") or {}
    who = s.get("principal_arn") or "unknown principal"
    if s.get("person"):
        who += f" ({s['person']})"
    key = s["access_key_id"]
    if s["key_type"] == "session":
        key += f" (session {s.get('session_arn') or '?'}, opened from {s.get('origin_access_key_id') or '?'})"
    if w.get("start"):
        fe = w.get("first_event") or {}
        ips = (
            ("new IP " if len(src["new_ips"]) == 1 else "new IPs ") + _some([_ip(i, ctx) for i in src["new_ips"]], 5)
            if src["new_ips"]
            else "no new IP"
        )
        agents = (
            ("new user agent " if len(src["new_user_agents"]) == 1 else "new user agents ")
            + _some([f'"{u}"' for u in src["new_user_agents"]], 2, "; ")
            if src["new_user_agents"]
            else "no new user agent"
        )
        line = (
            f"Key {key} of {who}: {a['suspicious_calls']} suspicious calls {_when(w['start'])} → "
            f"{_when(w['end'])} ({_duration(w['start'], w['end'])}) from {ips} with {agents}; first "
            f"{fe.get('event_name')} at {_when(fe.get('event_time'))}"
        )
        if src["via_aws_services"]:
            line += f"; via AWS services: {', '.join(src['via_aws_services'])}"
    else:
        line = f"Key {key} of {who}: no suspicious activity"
    if src["usual_ips"]:
        line += (
            f". Usual activity, apart: {a['usual_calls']} calls from "
            f"{_some([_ip(i, ctx) for i in src['usual_ips']], 5)} with "
            f"{_some(src['usual_user_agents'], 2, '; ') or '?'}"
        )
    else:
        line += ". No usual activity to compare with (less than a day of the key's history loaded)"
    lines.append(line)
    c = f["created"]
    persistence = (
        f"Persistence: created user(s) {_names(c['users'])}; created key(s) {_some(c['access_keys'], 5) or 'none'}"
    )
    if c["login_profiles"]:
        persistence += f"; console password for {_names(c['login_profiles'])}"
    if f["console_logins"]:
        persistence += f"; console sign-in as {_names(f['console_logins'])}"
    lines.append(persistence)
    changes = (
        _some(
            [
                f"{(p['policy'] or 'trust policy').rsplit('/', 1)[-1]} {p['event_name']} on {p['target']}"
                for p in f["policies_changed"]
            ],
            3,
            "; ",
        )
        or "no policy changed"
    )
    reach = f.get("reach")
    admins = (_some(reach["admin_principals"], 5) or "none") if reach else "not assessed"
    lines.append(f"Privilege: {changes}; administrator (or able to become one) afterwards: {admins}")
    roles = (
        _some(
            [
                f"{r['role_arn']} (session {r['session_name']}, key {r['access_key_id']}) from account "
                f"{r['from_account']}{' (cross-account)' if r['cross_account'] else ''}"
                for r in f["roles_assumed"]
            ],
            3,
            "; ",
        )
        or "none"
    )
    lines.append(f"Lateral movement: assumed {roles}")
    read = f["resources_read"]
    secrets = sum(":secretsmanager:" in r for r in read)
    objects = sum(r.startswith("arn:aws:s3:::") for r in read)
    logging = (
        _some(
            [
                f"{x['event_name']} {x['result']}" + (f" ({x['error_code']})" if x["error_code"] else "")
                for x in f["logging_changes"]
            ],
            6,
        )
        or "none"
    )
    denied_by_key = (
        f" ({a['subject_key_denied']} by key {s['access_key_id']})"
        if a["subject_key_denied"] != f["denied"]["count"]
        else ""
    )
    lines.append(
        f"Data access: {secrets} secret read(s), {objects} S3 object read(s), {len(read) - secrets - objects}"
        f" other read(s); {f['denied']['count']} denied calls{denied_by_key}, "
        f"{f['other_errors']['count']} other errors; logging changes: {logging}"
    )
    return lines


def _subject_headline(f: dict[str, Any]) -> list[str]:
    """The headline of an investigation of a principal, person or resource: the subject, what is exposed and who
    used it, the detections, the proposed containment and the post-mortem's times."""
    s = f["subject"]
    lines = [
        f"Subject: {s.get('kind')} {s.get('id')}" + (f" in account {s['account_id']}" if s.get("account_id") else "")
    ]
    w, src = f.get("window") or {}, f.get("sources") or {}
    if w.get("start"):
        fe = w.get("first_event") or {}
        lines.append(
            f"{f['activity']['suspicious_calls']} suspicious calls {_when(w['start'])} → {_when(w['end'])}"
            f" (first {fe.get('event_name')}), from {_some(src.get('new_ips') or [], 5) or 'no new IP'}"
            + (f" with {_some(src['new_user_agents'], 2, '; ')}" if src.get("new_user_agents") else "")
            + f"; {f['denied']['count']} denied."
        )
    if w.get("start") and f["activity"]["usual_calls"]:
        lines.append(
            f"Usual activity, apart: {f['activity']['usual_calls']} calls from "
            f"{_some(src.get('usual_ips') or [], 5) or 'no IP'}."
        )
    if f.get("resources_read"):
        lines.append("Read: " + _some(f["resources_read"], 5) + ".")
    made = f.get("created") or {}
    if f.get("console_logins") or made.get("users") or made.get("access_keys"):
        lines.append(
            "Console sign-ins: "
            + (_some(f.get("console_logins") or []) or "none")
            + "; created users: "
            + (_some(made.get("users") or []) or "none")
            + "; created keys: "
            + (_some(made.get("access_keys") or []) or "none")
            + "."
        )
    for r in f.get("roles_assumed") or []:
        lines.append(
            f"Session {r['session_name']} of {r['role_arn']} opened by {r['from_principal']}"
            + (" across accounts" if r.get("cross_account") else "")
            + "."
        )
    if f.get("risky_changes"):
        lines.append(
            "Risky policy changes: "
            + "; ".join(
                f"{c['event_name']} {c.get('policy') or ''} on {c['target']} ({', '.join(c['risks'])})"
                for c in f["risky_changes"]
            )
            + "."
        )
    if f.get("logging_changes"):
        lines.append(
            "Logging and guardrails: "
            + "; ".join(
                f"{c['event_name']} {c['result']}"
                + (f" ({c['error_code']})" if c.get("error_code") else "")
                + (f" on {c['target']}" if c.get("target") else "")
                for c in f["logging_changes"]
            )
            + "."
        )
    e = f.get("exposure")
    if e:
        org = e["proposed_trust"].get("principal_org_id")
        lines.append(
            f"Its trust lets in {_some(e['trusted'], 5) or 'nobody'} "
            f"({', '.join(e['problems']) or 'no trust rule broken'}); {e['sessions']} session(s) opened "
            f"{_when(e['first_used'])} → {_when(e['last_used'])} by {_some(e['used_by'], 5) or 'nobody'}."
        )
        lines.append(
            "Restrict it to "
            + (_some(e["proposed_trust"]["principals"], 5) or "nobody")
            + (f" with aws:PrincipalOrgID {org}" if org else "")
            + "; keep "
            + (", ".join(f.get("standing_detections") or []) or "no detection")
            + " on."
        )
    r = f.get("resource_exposure")
    if r:
        lines.append(
            f"Its policy breaks {', '.join(r['problems']) or 'no exposure rule'}; changed by "
            + (
                "; ".join(
                    f"{c['event_name']} {c['result']} by {c['by']} at {_when(c['time'])}" for c in r["policy_changes"]
                )
                or "nobody in the window"
            )
            + "."
        )
        lines.append(
            f"Read {r['reads']} time(s) by {_some(r['accessed_by'], 5) or 'nobody'} from "
            f"{_some(r['access_ips'], 5) or 'no IP'} ({_when(r['first_access'])} → {_when(r['last_access'])})"
            + (f": {_some(r['objects_read'], 5)}" if r["objects_read"] else "")
            + "."
        )
    det = f.get("detections")
    lines.append("Detections on it: " + (", ".join(det) if det else "none" if det is not None else "not assessed"))
    c = f.get("containment")
    if c:
        lines.append("Proposed containment (dry run): " + "; ".join(f"{x['kind']} {x['target']}" for x in c))
    pm = f.get("postmortem")
    if pm:
        lines.append(
            "Time to detect: "
            + pm["time_to_detect"]["note"]
            + "; to contain: "
            + pm["time_to_contain"]["note"]
            + f"; {len(pm['guardrails'])} guardrail(s) to add."
        )
    return lines


def _visible_tree(v: Any) -> Any:
    """A JSON-like tree (summary, notebook) with every string and key made ``visible``."""
    if isinstance(v, str):
        return escape.visible(v)
    if isinstance(v, dict):
        return {escape.visible(k): _visible_tree(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_visible_tree(x) for x in v]
    return v


_e = escape.html


#: cells whose whole (escaped) text is one of these words get their colour
_SEVERITY_CELL = re.compile(r"<td>(critical|high|medium|low|info|denied)</td>")
OPEN_ROWS = 15  # rows a long table shows before the rest is folded away


def _cells(df: Any) -> str:
    return _SEVERITY_CELL.sub(
        lambda m: f"<td class={'sev-' + m.group(1) if m.group(1) != 'denied' else 'denied'}>{m.group(1)}</td>",
        escape.frame_html(df),
    )


def _table(rows: list[dict[str, Any]] | Any, limit: int = 200, where: str = "") -> str:
    """A table: the first ``OPEN_ROWS`` rows shown, the next ones (up to ``limit``) folded in a ``<details>``,
    the rest only in the evidence (``where`` names the file). Severity words are coloured; no index column."""
    import pandas as pd

    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    first = [c for c in FIRST_COLUMNS if c in df.columns]
    df = df[first + [c for c in df.columns if c not in first]]
    if df.empty:
        return "<p><em>none</em></p>"
    shown = _cells(df.head(OPEN_ROWS))
    if len(df) > OPEN_ROWS:
        rest = df.iloc[OPEN_ROWS:limit]
        shown += f"<details><summary>{len(rest)} more rows</summary><div class=wide>{_cells(rest)}</div></details>"
    if len(df) > limit:
        shown += f"<p class=meta>{len(df) - limit} more rows in {_e(where) if where else 'the evidence file'}</p>"
    return f"<div class=wide>{shown}</div>"


def _kv(d: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{_e(k)}</th><td>{_e(v if not isinstance(v, (list, dict)) else json.dumps(v, default=str))}</td></tr>"
        for k, v in d.items()
    )
    return f"<table>{rows}</table>"


def _value(v: Any) -> str:
    """A summary entry: a dict as key/value rows, a list of dicts as a table, a list as items, else text."""
    if isinstance(v, dict):
        return _kv(v)
    if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
        return _table(v)
    if isinstance(v, list):
        return "<ul>" + "".join(f"<li>{_e(x)}</li>" for x in v) + "</ul>"
    return f"<p>{_e(v)}</p>"


_EVIDENCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def _plain_name(name: Any) -> bool:
    """An evidence frame name as the library writes them (``key-events``): no path, no control, not too long."""
    return isinstance(name, str) and _EVIDENCE_NAME.fullmatch(name) is not None


# Output kinds a notebook contributes as text or (sanitized) HTML; images, scripts, LaTeX, JSON and interactive
# figures or widgets are named in their place (open the notebook in JupyterLab to see them).
NOTEBOOK_MIMETYPES = ("text/html", "text/markdown", "text/plain")


def _notebook_html(path: Path) -> str:
    """An executed notebook as an HTML fragment: outputs only, text kinds only, through an allow-list sanitizer."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.from_dict(_visible_tree(nbformat.read(str(path), as_version=4)))
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data")
            if not isinstance(data, dict):
                continue
            kept = {k: data[k] for k in NOTEBOOK_MIMETYPES if k in data}
            if any(k.startswith(("application/vnd.plotly", "application/vnd.jupyter.widget")) for k in data):
                kept = {
                    "text/plain": "[interactive figure or widget: the report's Figures section draws the "
                    "figures; open this notebook in JupyterLab to explore them]"
                }
            elif not kept:
                kept = {"text/plain": f"[{', '.join(map(str, data))} output: open this notebook in JupyterLab]"}
            out["data"] = kept
    exporter = HTMLExporter(
        template_name="basic",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        anchor_link_text="",
    )
    body, _ = exporter.from_notebook_node(nb)
    return sanitize(body)


def sanitize(fragment: str) -> str:
    """Untrusted HTML → what ``NOTEBOOK_TAGS``/``NOTEBOOK_ATTRIBUTES`` allow (parsed as HTML5 by ammonia, so
    broken or nested markup cannot smuggle anything through); invisible characters made visible first."""
    import nh3

    return nh3.clean(
        escape.visible(fragment),
        tags=NOTEBOOK_TAGS,
        attributes=NOTEBOOK_ATTRIBUTES,
        clean_content_tags=NOTEBOOK_DROPPED,
        url_schemes=set(),
        link_rel=None,
        strip_comments=True,
    )


#: the columns of the traced calls the report shows (all of them stay in evidence/key-events.parquet)
EVENT_COLUMNS = [
    "event_time",
    "activity",
    "source_ip",
    "access_key_id",
    "event_name",
    "event_source",
    "recipient_account_id",
    "error_code",
    "error_message",
    "request_parameters",
    "user_agent",
]


def _events_table(case: Case, df: Any, facts: dict[str, Any]) -> Any:
    """The traced calls, the suspicious ones first (oldest first within each), in the columns a reader scans."""
    from iamkit.ui.figures import ip_class

    df = df.copy()
    classes = {ip: ip_class(ip, facts) for ip in df["source_ip"].dropna().unique()} if "source_ip" in df else {}
    df["activity"] = df["source_ip"].map(classes).fillna("other") if "source_ip" in df else "other"
    df["_order"] = df["activity"].map({"new": 0, "other": 1, "AWS service": 2, "usual": 3}).fillna(1)
    df = df.sort_values(["_order", "event_time"] if "event_time" in df else ["_order"], kind="stable")
    df["activity"] = (
        df["activity"].map({"new": "suspicious (new IP)", "AWS service": "via AWS service"}).fillna(df["activity"])
    )
    return df[[c for c in EVENT_COLUMNS if c in df.columns]]


def _figure_html(cf: Any) -> str:
    """A figure as an inert SVG image (a data URI: it can run nothing and load nothing) with its caption."""
    import base64

    from iamkit.ui.svg import to_svg

    if cf.figure is None:
        return f"<h3>{_e(cf.title)}</h3><p class=meta>not drawn: {_e(cf.missing)}</p>"
    try:
        svg = to_svg(cf.figure).encode("utf-8", "backslashreplace")
    except Exception as e:  # a figure that cannot be drawn is named, the rest of the report is kept
        return f"<h3>{_e(cf.title)}</h3><p class=meta>not drawn: {_e(e.__class__.__name__)}: {_e(e)}</p>"
    data = base64.b64encode(svg).decode("ascii")
    return (
        f'<figure><img src="data:image/svg+xml;base64,{data}" alt="{_e(cf.title)}">'
        f"<figcaption><strong>{_e(cf.title)}.</strong> {_e(cf.look_for)}</figcaption></figure>"
    )


def _facts(case: Case) -> dict[str, Any]:
    from iamkit import jsontext
    from iamkit.errors import IamkitError

    p = case.evidence / "facts.json"
    try:
        f = jsontext.read(p) if p.is_file() else {}
    except IamkitError:
        return {}
    return f if isinstance(f, dict) else {}


def _manifest_by_folder(case: Case) -> str:
    """Files and bytes per folder (two levels deep under evidence/), largest first; the full list with every
    file's sha256 is ``manifest.json``."""
    groups: dict[str, list[int]] = {}
    for p in case.files():
        rel = p.relative_to(case.path).parts
        if p.name in ("report.html", "INCOMPLETE"):
            continue
        folder = (
            "/".join(rel[:2]) + "/"
            if rel[0] == "evidence" and len(rel) > 2
            else (rel[0] + "/" if len(rel) > 1 else "(top level)")
        )
        g = groups.setdefault(folder, [0, 0])
        g[0] += 1
        g[1] += p.stat().st_size
    rows = [{"folder": k, "files": n, "bytes": b} for k, (n, b) in sorted(groups.items(), key=lambda x: -x[1][1])]
    return _table(rows, limit=500)


def render(case: Case) -> str:
    s = load_summary(case)
    meta = case.meta
    facts = _facts(case)
    parts = [
        f"<!doctype html><html lang=en><head><meta charset=utf-8>"
        f'<meta http-equiv=Content-Security-Policy content="{CSP}">'
        f"<meta name=referrer content=no-referrer>"
        f"<title>{_e(s.get('title') or case.id)}</title><style>{CSS}</style></head><body>"
    ]
    parts.append(f"<h1>{_e(s.get('title') or 'Case ' + case.id)}</h1>")
    parts.append(
        f"<p class=meta>case <code>{_e(case.id)}</code> · playbook <code>{_e(meta.get('playbook'))}</code>"
        f" · status {_e(meta.get('status'))} · analyst {_e(meta.get('analyst'))} · created "
        f"{_e(meta.get('created'))} · iamkit {_e(meta.get('iamkit_version'))}"
        f" · caller {_e((meta.get('caller_identity') or {}).get('Arn', 'n/a'))}</p>"
    )
    parts.append("<h2 id=summary>Summary</h2>")
    if s.get("headline"):
        lines = s["headline"] if isinstance(s["headline"], list) else [s["headline"]]
        parts.append("<ul class=headline>" + "".join(f"<li>{_e(x)}</li>" for x in lines) + "</ul>")
    for key, title in (
        ("what", "What happened, step by step"),
        ("proposed_actions", "Proposed actions (dry run)"),
        ("postmortem", "Post-mortem: time to detect / contain / recover, detection gaps, guardrails"),
        ("from_where", "From where"),
        ("who", "Who"),
        ("when", "When"),
        ("blast_radius", "Blast radius"),
    ):
        if key not in s:
            continue
        parts.append(f"<h3>{title}</h3>")
        parts.append(_value(s[key]))
    if facts:
        from iamkit.ui.case_figures import case_figures

        parts.append("<h2 id=figures>Figures</h2>")
        try:
            figures = case_figures(case, facts)
        except Exception as e:  # damaged evidence: say so, keep the report
            figures = []
            parts.append(f"<p class=meta>figures not drawn: {_e(e.__class__.__name__)}: {_e(e)}</p>")
        parts += [_figure_html(cf) for cf in figures]
    tables = s.get("tables")
    for name, title in tables.items() if isinstance(tables, dict) else ():
        if not _plain_name(name):  # a crafted summary must not pull in files from outside the evidence folder
            continue
        p = case.evidence / f"{name}.parquet"
        if p.is_file():
            import pandas as pd

            df = pd.read_parquet(p)
            if name == "key-events" and len(df):
                df = _events_table(case, df, facts)
            parts.append(f"<h2>{_e(title)}</h2>" + _table(df, where=f"evidence/{name}.parquet"))
    parts.append("<h2 id=notebooks>Notebooks</h2>")
    for nb in sorted((case.path / "notebooks").glob("*.ipynb")):
        try:
            fragment = _notebook_html(nb)
        except Exception as e:  # a damaged notebook is named, the rest of the report is kept
            fragment = f"<p><em>could not render this notebook: {_e(e.__class__.__name__)}: {_e(e)}</em></p>"
        parts.append(f"<details><summary>{_e(nb.name)}</summary><div class=nb>{fragment}</div></details>")
    parts.append(
        "<h2 id=manifest>Evidence manifest</h2><p class=meta>Files per folder when this report was built. "
        "The full list, with every file's sha256, is <code>manifest.json</code> (sealed by "
        f"<code>manifest.sha256</code>; it covers this report too): <code>iamkit case verify "
        f"{_e(case.path)}</code> recomputes it.</p>"
    )
    parts.append(_manifest_by_folder(case))
    parts.append(f"<p class=meta>built {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}</p></body></html>")
    return "\n".join(parts)


def build(case: Case) -> Path:
    """Write ``report.html`` into the case folder (a case opened for writing, hence verified) and return its path.

    Lone surrogates a crafted case may carry are written as backslash escapes, never a failed report."""
    return case.write_file("report.html", render(case).encode("utf-8", "backslashreplace"))
