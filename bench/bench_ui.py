"""Figures and the events browser at 1k / 10k / 100k calls: build time and payload (the JSON plotly sends to the
browser; the SVG the report embeds) of the activity timeline, against a naive baseline measured in the same run
(one ``go.Scatter`` with every call and its hover text, as the old timeline drew them). The events browser
renders one page whatever the row count: its time and payload per page are printed next to pandas'
``to_html`` of the whole frame (what showing the frame would send). No figure here is asserted on.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from bench.common import record, timed

SIZES = (1_000, 10_000, 100_000)
FACTS = {
    "window": {"start": "2026-12-05T07:00:00Z", "end": "2026-12-05T07:42:00Z"},
    "sources": {"new_ips": ["203.0.113.30"], "usual_ips": ["198.51.100.21"], "via_aws_services": []},
}


def calls(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    t0 = pd.Timestamp("2026-11-22T00:00:00Z")
    times = t0 + pd.to_timedelta(np.sort(rng.integers(0, 13 * 86400, n)), unit="s")
    ips = rng.choice(
        ["198.51.100.21", "203.0.113.30", "192.0.2.9", "secretsmanager.amazonaws.com"], n, p=[0.7, 0.2, 0.09, 0.01]
    )
    codes = rng.choice([None, "AccessDenied", "ThrottlingException"], n, p=[0.85, 0.1, 0.05])
    names = rng.choice(["GetObject", "ListBuckets", "AssumeRole", "GetSecretValue", "CreateUser"], n)
    return pd.DataFrame(
        {
            "event_time": times,
            "source_ip": ips,
            "error_code": codes,
            "event_name": names,
            "access_key_id": "AKIAEXAMPLEEXAMPLE01",
            "event_source": "s3.amazonaws.com",
        }
    )


def naive(ev: pd.DataFrame):
    import plotly.graph_objects as go

    return go.Figure(
        go.Scatter(
            x=ev["event_time"],
            y=ev["source_ip"],
            mode="markers",
            text=[f"{a} · {b}" for a, b in zip(ev["event_name"], ev["source_ip"], strict=True)],
            hovertemplate="%{x}<br>%{text}<extra></extra>",
        )
    )


def main() -> None:
    import plotly.io as pio

    from iamkit.ui.figures import activity_timeline
    from iamkit.ui.svg import to_svg
    from iamkit.ui.widgets import EventsBrowser

    figures: dict[str, object] = {}
    for n in SIZES:
        ev = calls(n)
        t_ours, fig = timed(activity_timeline, ev, FACTS, zoom=False, repeat=3)
        t_naive, base = timed(naive, ev, repeat=3)
        j_ours, j_naive = len(pio.to_json(fig)), len(pio.to_json(base))
        t_svg, svg = timed(to_svg, fig, repeat=3)
        figures[f"{n:>7} calls: timeline build s (ours / naive)"] = f"{t_ours:.3f} / {t_naive:.3f}"
        figures[f"{n:>7} calls: plotly JSON bytes (ours / naive)"] = f"{j_ours:,} / {j_naive:,}"
        figures[f"{n:>7} calls: payload ratio naive/ours"] = round(j_naive / j_ours, 2)
        figures[f"{n:>7} calls: markers drawn"] = sum(len(t.x) for t in fig.data)
        figures[f"{n:>7} calls: report SVG bytes, build s"] = f"{len(svg):,}, {t_svg:.3f}"
        browser = EventsBrowser(ev)
        t_page, box = timed(browser.widget)
        rows = len(box.children[-1].children) - 1
        t_full, full = timed(lambda e=ev: e.to_html())
        figures[f"{n:>7} calls: browser first page s ({rows} rows) / full to_html s"] = f"{t_page:.3f} / {t_full:.3f}"
        figures[f"{n:>7} calls: full to_html bytes (not sent)"] = f"{len(full):,}"
        json.dumps(figures)
    record("ui", figures)


if __name__ == "__main__":
    main()
