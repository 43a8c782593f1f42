"""The incident timeline: a plotly figure (static in reports, zoomable in JupyterLab) and a filter widget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from iamkit import escape

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def figure(events: pd.DataFrame, title: str = "Timeline", facts: dict | None = None):
    """The activity timeline (``iamkit.ui.figures.activity_timeline``: one lane per source IP, shaped by
    outcome, the suspicious window marked when ``facts`` gives it)."""
    from iamkit.ui.figures import activity_timeline

    return activity_timeline(events, facts, title=title)


@dataclass
class TimelineExplorer:
    events: pd.DataFrame
    title: str = "Timeline"

    def widget(self):
        """A dropdown of event sources and a table that follows it (JupyterLab; headless shows its text).

        The table is an ``HTML`` widget whose value is replaced, not an ``Output`` widget: capturing display
        output into a widget races with headless execution (a papermill run could wait forever)."""
        import ipywidgets as w

        sources = sorted(self.events["event_source"].dropna().unique().tolist())
        pick = w.Dropdown(
            options=[("(all)", "(all)")] + [(escape.visible(x), x) for x in sources],
            value="(all)",
            description="service",
        )
        cols = [
            c
            for c in ("event_time", "access_key_id", "event_name", "source_ip", "error_code")
            if c in self.events.columns
        ]
        table = w.HTML()

        def render(change=None):
            df = self.events if pick.value == "(all)" else self.events[self.events["event_source"] == pick.value]
            table.value = escape.frame_html(df[cols].head(200))

        pick.observe(render, names="value")
        render()
        box = w.VBox([pick, table])
        box.add_class("iamkit-timeline")
        return box

    def sections(self):
        yield self.title, figure(self.events, self.title)
        yield "Filter by service", self.widget()
