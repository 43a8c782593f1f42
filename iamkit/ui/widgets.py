"""Widgets that steer an investigation in JupyterLab, each the twin of a notebook parameter.

Under papermill the parameter decides and the widget only displays its value; in Lab the widget calls the very
function the parameter feeds (given to it as a callable by the notebook's wiring in ``iamkit.investigate``), so
a value picked in Lab and the same value given as a parameter give the same frame (tested).

Results are shown in ``HTML`` widgets whose value is replaced (every cell escaped by ``escape.frame_html``), and
figures are appended to an ``Output`` widget with ``append_display_data`` (never by capturing display output,
which races with headless execution). Entity cells of the events browser are buttons: a click pivots.
"""

from __future__ import annotations

import html as _html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from iamkit import escape

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

PAGE_SIZE = 25
ENTITY_COLUMNS = ("source_ip", "access_key_id", "principal_arn", "session_name", "target", "user_arn", "role_arn")


def _w():
    import ipywidgets

    return ipywidgets


def sections_html(result: Any) -> str:
    """A result's ``sections()`` as one HTML fragment: titles and text escaped (library Markdown rendered with raw
    HTML off), frames through ``escape.frame_html``; figures are left to the caller."""
    from markdown_it import MarkdownIt

    from iamkit.ui.text import Markup

    mdit = MarkdownIt("commonmark", {"html": False})
    parts = []
    for title, thing in result.sections() if hasattr(result, "sections") else [("", result)]:
        if title:
            parts.append(f"<h4>{escape.html(title)}</h4>")
        if thing is None:
            continue
        if isinstance(thing, Markup):
            parts.append(mdit.render(str(thing)))
        elif isinstance(thing, str):
            parts.append(f"<p>{escape.html(thing)}</p>")
        elif hasattr(thing, "to_html") and hasattr(thing, "columns"):
            more = f"<p><em>{len(thing) - 50} more rows</em></p>" if len(thing) > 50 else ""
            parts.append(escape.frame_html(thing.head(50)) + more)
    return "".join(parts)


def _is_figure(thing: Any) -> bool:
    return type(thing).__name__ == "Figure" and hasattr(thing, "to_plotly_json")


# ---------------------------------------------------------------------------------------------- case picker
@dataclass
class CasePicker:
    """Pick a case folder; ``Open`` calls ``opener(path)`` (the function behind the ``case_dir`` parameter) and
    then ``on_open(case)``. ``cases``: (label, path) pairs, newest first."""

    cases: list[tuple[str, str]]
    current: str
    opener: Callable[[str], Any]
    on_open: list[Callable[[Any], None]] = field(default_factory=list)
    case: Any = None

    def open(self, path: str) -> Any:
        self.case = self.opener(path)
        for cb in self.on_open:
            cb(self.case)
        return self.case

    def widget(self):
        w = _w()
        options = [(escape.visible(label), path) for label, path in self.cases]
        if self.current and self.current not in [p for _, p in options]:
            options.insert(0, (escape.visible(self.current), self.current))
        pick = w.Dropdown(
            options=options,
            value=self.current or (options[0][1] if options else None),
            description="case",
            layout={"width": "70%"},
        )
        button = w.Button(description="Open", button_style="primary")
        status = w.HTML(f"<b>open:</b> {escape.html(self.current)}" if self.current else "")

        def click(_):
            try:
                case = self.open(pick.value)
                status.value = f"<b>open:</b> {escape.html(case.path)} ({escape.html(case.status)})"
            except Exception as e:  # a refused case (changed outside iamkit, busy) is said, not raised
                status.value = f"<b>not opened:</b> {escape.html(e)}"

        button.on_click(click)
        box = w.VBox([w.HBox([pick, button]), status])
        box.add_class("iamkit-case-picker")
        return box


# ---------------------------------------------------------------------------------------------- window + subject
@dataclass
class WindowPicker:
    """The time window (``start``/``end`` parameters, ISO-8601): presets and custom, applied with a button."""

    start: str
    end: str
    presets: dict[str, tuple[str, str]]
    on_change: list[Callable[[str, str], None]] = field(default_factory=list)

    def set(self, start: str, end: str) -> None:
        self.start, self.end = start, end
        for cb in self.on_change:
            cb(start, end)

    def widget(self):
        w = _w()
        preset = w.Dropdown(options=[*self.presets, "custom"], value="custom", description="window")
        start = w.Text(value=self.start, description="start", placeholder="2026-12-05T06:00:00Z")
        end = w.Text(value=self.end, description="end", placeholder="empty: the end of the data")
        apply = w.Button(description="Apply window")

        def chose(change):
            if change["new"] in self.presets:
                start.value, end.value = self.presets[change["new"]]

        preset.observe(chose, names="value")
        apply.on_click(lambda _: self.set(start.value.strip(), end.value.strip()))
        box = w.HBox([preset, start, end, apply])
        box.add_class("iamkit-window")
        return box


@dataclass
class SubjectPicker:
    """The subject (an access key, principal or IP; the ``subject`` parameter): type to search the keys and
    principals of the store and the inventory, apply with a button."""

    value: str
    options: list[str]
    on_change: list[Callable[[str], None]] = field(default_factory=list)

    def set(self, value: str) -> None:
        self.value = value
        for cb in self.on_change:
            cb(value)

    def widget(self):
        w = _w()
        box_ = w.Combobox(
            value=self.value,
            options=[escape.visible(o) for o in self.options[:5000]],
            description="subject",
            ensure_option=False,
            layout={"width": "60%"},
        )
        apply = w.Button(description="Apply subject")
        apply.on_click(lambda _: self.set(box_.value.strip()))
        box = w.HBox([box_, apply])
        box.add_class("iamkit-subject")
        return box


# ---------------------------------------------------------------------------------------------- events browser
class FramePager:
    """Server-side paging over a frame: filter (a substring, in the chosen columns, case-insensitive), sort, and
    one page at a time; only that page is ever rendered for the browser."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self._text: dict[str, Any] = {}

    def _lower(self, col: str):
        if col not in self._text:
            self._text[col] = self.frame[col].astype("string").str.lower()
        return self._text[col]

    def page(
        self,
        number: int = 0,
        size: int = PAGE_SIZE,
        *,
        sort: str | None = None,
        ascending: bool = True,
        contains: str = "",
        columns: list[str] | None = None,
    ) -> tuple[pd.DataFrame, int]:
        """(the page's rows, how many rows match)."""
        df = self.frame
        cols = [c for c in (columns or list(df.columns)) if c in df.columns]
        if contains:
            needle = contains.lower()
            mask = None
            for c in cols:
                hit = self._lower(c).str.contains(needle, regex=False, na=False)
                mask = hit if mask is None else mask | hit
            df = df[mask] if mask is not None else df
        if sort and sort in df.columns:
            df = df.sort_values(sort, ascending=ascending, kind="stable", na_position="last")
        total = len(df)
        start = max(0, number) * size
        return df.iloc[start : start + size][cols], total


@dataclass
class EventsBrowser:
    """A sortable, filterable table with column choice and paging (any row count: only a page is sent to the
    browser); cells of entity columns are buttons that call ``on_pivot(value)``."""

    frame: pd.DataFrame
    columns: list[str] | None = None
    on_pivot: Callable[[str], None] | None = None
    page_size: int = PAGE_SIZE
    title: str = "Events"

    def __post_init__(self):
        self.pager = FramePager(self.frame)
        self.number = 0
        self.state: dict[str, Any] = {
            "sort": None,
            "ascending": True,
            "contains": "",
            "columns": self.columns or list(self.frame.columns)[:8],
        }

    def replace(self, frame: pd.DataFrame) -> None:
        """New rows (the window or the subject changed): back to the first page."""
        self.frame = frame
        self.pager = FramePager(frame)
        self.number = 0
        self.state["columns"] = [c for c in self.state["columns"] if c in frame.columns] or list(frame.columns)[:8]
        if hasattr(self, "_render"):
            self._render()

    def current(self) -> tuple[pd.DataFrame, int]:
        return self.pager.page(self.number, self.page_size, **self.state)

    def widget(self):
        w = _w()
        cols = list(self.frame.columns)
        filt = w.Text(placeholder="filter (text in the shown columns)", description="filter")
        sort = w.Dropdown(options=[("(time order)", "")] + [(escape.visible(c), c) for c in cols], description="sort")
        desc = w.ToggleButton(description="descending", value=False)
        choose = w.SelectMultiple(
            options=[(escape.visible(c), c) for c in cols], value=self.state["columns"], description="columns", rows=6
        )
        prev, nxt = w.Button(description="◀ previous"), w.Button(description="next ▶")
        where = w.HTML()
        grid = w.VBox(layout={"height": "auto", "flex": "0 0 auto"})
        grid.add_class("iamkit-events-grid")

        def render(_=None):
            self.state.update(
                sort=sort.value or None,
                ascending=not desc.value,
                contains=filt.value.strip(),
                columns=list(choose.value) or cols[:1],
            )
            page, total = self.current()
            pages = max(1, -(-total // self.page_size))
            self.number = min(self.number, pages - 1)
            where.value = (
                f"<b>{escape.html(self.title)}</b>: page {self.number + 1} of {pages} · "
                f"{total:,} matching rows of {len(self.frame):,}"
            )
            header = w.HBox([w.HTML(f"<b>{escape.html(c)}</b>", layout={"width": _width(c)}) for c in page.columns])
            rows = [header]
            for rec in page.itertuples(index=False):
                cells = []
                for c, v in zip(page.columns, rec, strict=True):
                    text = _cell_text(v)
                    if c in ENTITY_COLUMNS and text and self.on_pivot is not None:
                        b = w.Button(
                            description=escape.visible(text)[:60],
                            tooltip=f"pivot on {escape.visible(text)}",
                            layout={"width": _width(c), "height": "26px"},
                        )
                        b.add_class("iamkit-entity")
                        b.on_click(lambda _b, value=text: self.on_pivot(value))
                        cells.append(b)
                    else:
                        cells.append(
                            w.HTML(
                                _html.escape(escape.visible(text)[:120]),
                                layout={"width": _width(c), "height": "26px", "overflow": "hidden"},
                            )
                        )
                rows.append(w.HBox(cells, layout={"height": "30px", "align_items": "center"}))
            grid.children = rows

        def move(step):
            self.number = max(0, self.number + step)
            render()

        self._render = render
        for ctl in (filt, sort, desc, choose):
            ctl.observe(lambda _c: (setattr(self, "number", 0), render()), names="value")
        prev.on_click(lambda _: move(-1))
        nxt.on_click(lambda _: move(1))
        render()
        box = w.VBox([w.HBox([filt, sort, desc]), w.HBox([choose, w.VBox([w.HBox([prev, nxt]), where])]), grid])
        box.add_class("iamkit-events")
        return box


def _cell_text(v: Any) -> str:
    """A cell as the table shows it: missing values empty, times to the second."""
    import pandas as pd

    if v is None or (not isinstance(v, (list, tuple, dict)) and pd.isna(v)):
        return ""
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    return str(v)


def _width(column: str) -> str:
    return {
        "event_time": "190px",
        "source_ip": "150px",
        "access_key_id": "190px",
        "event_name": "170px",
        "error_code": "150px",
    }.get(column, "220px")


# ---------------------------------------------------------------------------------------------- pivot panel
@dataclass
class PivotPanel:
    """A value box and a ``Pivot`` button calling ``pivot(value)`` (``ik.pivot`` bound to the case); the result's
    sections are shown below. The events browser's entity buttons land here too."""

    pivot: Callable[[str], Any]
    value: str = ""
    result: Any = None

    def go(self, value: str) -> Any:
        self.value = value
        self.result = self.pivot(value)
        if hasattr(self, "_show"):
            self._show()
        return self.result

    def widget(self):
        w = _w()
        box_ = w.Text(value=escape.visible(self.value), description="pivot on", layout={"width": "60%"})
        button = w.Button(description="Pivot", button_style="info")
        out = w.HTML()
        out.add_class("iamkit-pivot-result")

        def show():
            box_.value = escape.visible(self.value)
            out.value = sections_html(self.result) if self.result is not None else ""

        def click(_):
            try:
                self.go(box_.value.strip())
            except Exception as e:  # a bad value is one line, never a traceback in the widget
                out.value = f"<p><b>pivot failed:</b> {escape.html(e)}</p>"

        self._show = show
        button.on_click(click)
        show()
        box = w.VBox([w.HBox([box_, button]), out])
        box.add_class("iamkit-pivot")
        return box


# ---------------------------------------------------------------------------------------------- plan review
@dataclass
class PlanReview:
    """Tick the plan's actions and approve them in dry run: ``approve(steps, approver)`` records the approval
    (who, when, which steps, the plan hash) in the case journal; nothing is applied."""

    actions: list[dict[str, Any]]
    plan_hash: str
    approve: Callable[[list[int], str], dict[str, Any]]
    approver: str = ""
    last: dict[str, Any] | None = None

    def widget(self):
        w = _w()
        boxes = []
        for i, a in enumerate(self.actions, 1):
            cb = w.Checkbox(
                value=False,
                description=escape.visible(f"{i}. {a['kind']} {a['target']}")[:120],
                indent=False,
                layout={"width": "95%"},
            )
            cb.add_class("iamkit-plan-action")
            boxes.append(cb)
        who = w.Text(value=self.approver, description="approver")
        button = w.Button(description="Approve (dry run)", button_style="warning")
        result = w.HTML(f"plan <code>{escape.html(self.plan_hash)}</code>: tick the actions to approve")
        result.add_class("iamkit-plan-result")

        def click(_):
            steps = [i for i, cb in enumerate(boxes, 1) if cb.value]
            if not steps:
                result.value = "<b>nothing approved:</b> tick at least one action"
                return
            try:
                self.last = self.approve(steps, who.value.strip())
                result.value = (
                    f"<b>approved in dry run</b> by {escape.html(self.last['approver'])}: "
                    f"step(s) {escape.html(', '.join(map(str, steps)))} of plan "
                    f"<code>{escape.html(self.plan_hash)}</code>; recorded in journal.jsonl, nothing "
                    "applied"
                )
            except Exception as e:
                result.value = f"<b>not recorded:</b> {escape.html(e)}"

        button.on_click(click)
        box = w.VBox([*boxes, w.HBox([who, button]), result])
        box.add_class("iamkit-plan")
        return box


class ProgressBar:
    """A progress bar shown at once in JupyterLab, updated by ``update(done, total)`` (a loader's callback)."""

    def __init__(self, label: str):
        from IPython.display import display

        w = _w()
        self.bar = w.IntProgress(value=0, min=0, max=1, description=escape.visible(label)[:40], layout={"width": "60%"})
        self.text = w.HTML()
        display(w.HBox([self.bar, self.text]))

    def update(self, done: int, total: int) -> None:
        self.bar.max = max(1, total)
        self.bar.value = min(done, self.bar.max)
        self.text.value = f"{done:,} / {total:,}"


def figure_output(fig: Any = None):
    """An ``Output`` widget showing ``fig``; ``show_figure(out, fig)`` replaces it."""
    out = _w().Output()
    show_figure(out, fig)
    return out


def show_figure(out: Any, fig: Any) -> None:
    """Put ``fig`` in the ``Output`` widget ``out`` by setting its outputs: never by display messages (a plotly
    figure passed to ``append_display_data`` displays itself in the cell instead) nor by capturing output
    (which races with headless execution)."""
    if fig is None:
        out.outputs = ()
        return
    import json

    import plotly.io as pio

    data = {
        "application/vnd.plotly.v1+json": json.loads(pio.to_json(fig, validate=False)),
        "text/plain": "[plotly figure]",
    }
    out.outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)
