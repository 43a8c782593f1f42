"""The analyst's workspace: the functions the notebook parameters feed, and the widgets bound to the same ones.

``activity(case, start, end, subject)`` is what the ``start``/``end``/``subject`` parameters decide headless;
``workbench(...)`` shows it in JupyterLab with a case picker, window and subject pickers, an events browser whose
entity cells pivot, the activity figure, and a pivot panel — every control calling these same functions.
``plan_review(case)`` lets a responder tick containment actions and approve them in dry run (journalled).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from iamkit.ui.text import md

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from iamkit.case import Case

BROWSER_COLUMNS = [
    "event_time",
    "source_ip",
    "access_key_id",
    "event_name",
    "event_source",
    "error_code",
    "principal_arn",
    "recipient_account_id",
    "user_agent",
]


def _facts(case: Case) -> dict[str, Any]:
    from iamkit import jsontext

    p = case.evidence / "facts.json"
    f = jsontext.read(p) if p.is_file() else {}
    return f if isinstance(f, dict) else {}


@dataclass
class Activity:
    """The calls of ``subject`` (all calls when empty) between ``start`` and ``end`` in the case's store."""

    subject: str
    start: str
    end: str
    events: pd.DataFrame
    facts: dict[str, Any]

    def figure(self):
        from iamkit.ui.figures import activity_timeline

        return activity_timeline(
            self.events, self.facts, zoom=False, title=f"Activity of {self.subject or 'every principal'}"
        )

    def sections(self):
        what = self.subject or "every principal"
        when = f"{self.start or 'the start of the data'} → {self.end or 'the end of the data'}"
        if self.events.empty:
            yield (
                f"Activity of {what}",
                md("No call of {} between {} (widen the window or pick another subject).", what, when),
            )
            return
        new = ((self.facts.get("sources") or {}).get("new_ips")) or []
        n_new = int(self.events["source_ip"].isin(new).sum())
        yield (
            f"Activity of {what}",
            md(
                "{} calls between {}, {} of them from the incident's new IPs. Look for: red lanes (new IPs), ✕ (denied). "
                "Next: click an IP, key or ARN below to pivot on it.",
                len(self.events),
                when,
                n_new,
            ),
        )
        yield "", self.figure()


def activity(case: Case, start: str = "", end: str = "", subject: str = "") -> Activity:
    """The function behind the ``start``, ``end`` and ``subject`` parameters (and their widgets)."""
    from iamkit import trail
    from iamkit.investigate.pivot import _KEY, kind_of

    kw: dict[str, Any] = {}
    subject = (subject or "").strip()
    if subject:
        kind = kind_of(subject)
        if kind == "ip":
            kw["source_ip"] = subject
        elif _KEY.fullmatch(subject):
            kw["access_key_id"] = subject
        else:
            kw["principal"] = subject
    with trail.open(case.path / "trail.duckdb", read_only=True) as t:
        ev = t.events(start=start or None, end=end or None, parse_json=False, **kw)
    cols = [c for c in BROWSER_COLUMNS if c in ev.columns]
    return Activity(subject, start or "", end or "", ev[cols].reset_index(drop=True), _facts(case))


def _iso(t: Any) -> str:
    import pandas as pd

    return pd.Timestamp(t).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def window_presets(case: Case, facts: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Named windows: the suspicious one (with 15 minutes either side), the whole loaded period, its last day."""
    import pandas as pd

    out: dict[str, tuple[str, str]] = {"whole loaded period": ("", "")}
    w = facts.get("window") or {}
    if w.get("start") and w.get("end"):
        pad = dt.timedelta(minutes=15)
        out["suspicious window ±15 min"] = (_iso(pd.Timestamp(w["start"]) - pad), _iso(pd.Timestamp(w["end"]) + pad))
    from iamkit import trail

    with trail.open(case.path / "trail.duckdb", read_only=True) as t:
        last = t.con.execute("SELECT max(event_time) FROM events").fetchone()[0]
    if last is not None:
        last = pd.Timestamp(last)
        last = last.tz_localize("UTC") if last.tzinfo is None else last
        out["last day of data"] = (_iso(last - dt.timedelta(days=1)), _iso(last))
    return out


def subjects(case: Case) -> list[str]:
    """What the subject picker searches: keys and principals of the store, principals of the inventory."""
    from iamkit import trail

    with trail.open(case.path / "trail.duckdb", read_only=True) as t:
        keys = [
            r[0]
            for r in t.con.execute(
                "SELECT DISTINCT access_key_id FROM events WHERE access_key_id IS NOT NULL ORDER BY 1 LIMIT 20000"
            ).fetchall()
        ]
        arns = [
            r[0]
            for r in t.con.execute(
                "SELECT DISTINCT principal_arn FROM events WHERE principal_arn IS NOT NULL ORDER BY 1 LIMIT 20000"
            ).fetchall()
        ]
    inv = case.evidence / "inventory" / "principals.parquet"
    if inv.is_file():
        import pandas as pd

        arns += pd.read_parquet(inv, columns=["arn"])["arn"].dropna().tolist()
    return list(dict.fromkeys([*keys, *arns]))


@dataclass
class Workbench:
    """Steer the case in JupyterLab: every control calls ``activity`` / ``pivot`` / ``open_case`` as the
    parameters do. Headless it shows the same result the parameters gave (its widgets only display)."""

    case: Case
    start: str = ""
    end: str = ""
    subject: str = ""
    current: Activity | None = None
    panels: dict[str, Any] = field(default_factory=dict)

    def run(self) -> Activity:
        self.current = activity(self.case, self.start, self.end, self.subject)
        return self.current

    def sections(self):
        yield from (self.current or self.run()).sections()
        yield "Steer (JupyterLab): case, window, subject; click an entity to pivot", self.widget()

    def widget(self):
        import ipywidgets as w

        from iamkit.investigate.access_key import cases, open_case
        from iamkit.investigate.pivot import pivot
        from iamkit.ui.widgets import (
            CasePicker,
            EventsBrowser,
            PivotPanel,
            SubjectPicker,
            WindowPicker,
            figure_output,
            show_figure,
        )

        act = self.current or self.run()
        facts = act.facts
        picker = CasePicker(
            cases(self.case.path.parent, self.case.meta.get("playbook") or "compromised-access-key"),
            str(self.case.path.resolve()),
            lambda p: open_case(p, step="explore"),
        )
        window = WindowPicker(self.start, self.end, window_presets(self.case, facts))
        subject = SubjectPicker(self.subject, subjects(self.case))
        panel = PivotPanel(lambda v: pivot(v, case=self.case))
        browser = EventsBrowser(act.events, columns=BROWSER_COLUMNS[:7], on_pivot=panel.go, title="Calls")
        fig_out = figure_output(None)
        summary = w.HTML()
        summary.add_class("iamkit-activity-summary")

        def refresh():
            a = self.run()
            browser.replace(a.events)
            show_figure(fig_out, a.figure())
            summary.value = (
                f"<b>{len(a.events):,}</b> calls · subject <code>"
                f"{_h(a.subject or 'every principal')}</code> · window <code>{_h(a.start or '…')}</code> "
                f"→ <code>{_h(a.end or '…')}</code> · case <code>{_h(self.case.id)}</code>"
            )

        def new_window(start: str, end: str):
            self.start, self.end = start, end
            refresh()

        def new_subject(value: str):
            self.subject = value
            refresh()

        def new_case(case):
            self.case = case
            panel.pivot = lambda v: pivot(v, case=case)
            refresh()

        window.on_change.append(new_window)
        subject.on_change.append(new_subject)
        picker.on_open.append(new_case)
        self.panels = {"case": picker, "window": window, "subject": subject, "browser": browser, "pivot": panel}
        refresh()
        box = w.VBox(
            [picker.widget(), window.widget(), subject.widget(), summary, fig_out, browser.widget(), panel.widget()]
        )
        box.add_class("iamkit-workbench")
        return box


def _h(v: Any) -> str:
    from iamkit import escape

    return escape.html(v)


def workbench(case: Case, start: str = "", end: str = "", subject: str = "") -> Workbench:
    return Workbench(case, start or "", end or "", subject or "")


@dataclass
class PlanApproval:
    """The containment plan with its review widget (tick actions, approve in dry run)."""

    case: Case
    plan: Any
    approver: str = ""

    def approve(self, steps: list[int], approver: str = "") -> dict[str, Any]:
        """Record a dry-run approval of ``steps`` in the journal (``iamkit.respond.record_approval``)."""
        from iamkit.case import Case
        from iamkit.respond import record_approval

        who = approver or self.approver or None
        if self.case._role in ("owner", "joined"):
            return record_approval(self.plan, self.case, steps, who)
        with Case.open_for_write(self.case.path, actor="plan approval (dry run)") as case:  # verified first
            return record_approval(self.plan, case, steps, who)

    def sections(self):
        from iamkit.ui.widgets import PlanReview

        rows = self.plan.frame()
        yield (
            "Review and approve (dry run)",
            md(
                "Tick the actions you approve and press the button: the approval (who, when, which steps, plan {}) is "
                "recorded in the case journal and nothing is changed. To apply, run the command shown above.",
                self.plan.hash,
            ),
        )
        yield (
            "",
            PlanReview(
                [{"kind": r.kind, "target": r.target} for r in rows.itertuples()],
                self.plan.hash,
                self.approve,
                self.approver,
            ).widget(),
        )


def plan_review(case: Case, approver: str = "") -> PlanApproval:
    from iamkit.respond import Plan

    return PlanApproval(case, Plan.from_dict(case.load_json("remediation-plan")), approver)


def default_subject(case: Case) -> str:
    """The key the case investigated (its subject), when the parameter is empty."""
    return str((_facts(case).get("subject") or {}).get("access_key_id") or "")
