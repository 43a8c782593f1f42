"""The incident timeline: a plotly figure (static in reports, zoomable in JupyterLab) and a filter widget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from iamkit import escape

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def figure(events: pd.DataFrame, title: str = "Timeline"):
    """Calls over time, one row per access key, denied calls marked with an x."""
    import plotly.graph_objects as go

    fig = go.Figure()
    title = escape.html(title)
    if events.empty:
        return fig.update_layout(title=f"{title} (no events)")
    ev = events.copy()
    from iamkit.trail.outcome import is_denied

    ev["denied"] = ev["error_code"].map(is_denied).astype(bool)
    # plotly reads <br>, <b>, <a href> … in names, tick labels and hover text: every value is escaped
    for (key, denied), grp in ev.groupby([ev["access_key_id"].fillna("(none)"), "denied"], sort=False):
        label = escape.html(key)
        fig.add_trace(go.Scatter(
            x=grp["event_time"], y=[label] * len(grp), mode="markers", name=f"{label}{' denied' if denied else ''}",
            marker={"symbol": "x" if denied else "circle", "size": 9 if denied else 7},
            text=[f"{escape.html(name)} · {escape.html(ip)}" for name, ip in zip(
                grp["event_name"].fillna("").tolist(), grp["source_ip"].fillna("").tolist(), strict=True)],
            hovertemplate="%{x}<br>%{text}<extra></extra>"))
    return fig.update_layout(title=title, height=260 + 30 * ev["access_key_id"].nunique(),
                             margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend={"orientation": "h"})


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
        pick = w.Dropdown(options=[("(all)", "(all)")] + [(escape.visible(x), x) for x in sources], value="(all)",
                          description="service")
        cols = [c for c in ("event_time", "access_key_id", "event_name", "source_ip", "error_code")
                if c in self.events.columns]
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
