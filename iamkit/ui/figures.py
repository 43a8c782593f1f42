"""The investigation's figures, as plotly figures: interactive in JupyterLab, static SVG in the report
(``iamkit.ui.svg`` draws the same figure objects, so each figure is written once).

Every label, name and hover text is evidence and plotly reads tags in them: each goes through
``escape.html``. Figures over many points stay responsive: past ``MAX_POINTS`` markers the timeline bins
its calls (one marker per lane, class, outcome and time bin, sized by its count) and draws with WebGL.
Nothing here reaches the network: the map is drawn from country outlines shipped in a Python package
(``countryinfo``), not plotly's geo layer (which fetches its map from a CDN).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from iamkit import escape

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

MAX_POINTS = 5000
#: source IP classes against the key's baseline (facts.sources), and their colours
CLASSES = {"new": "#d62728", "usual": "#1f77b4", "AWS service": "#7f7f7f", "other": "#9467bd"}
#: outcomes (iamkit.trail.outcome) and their marker symbols
SYMBOLS = {"succeeded": "circle", "denied": "x", "failed": "triangle-up"}
LAYOUT = {"template": "plotly_white", "margin": {"l": 10, "r": 10, "t": 48, "b": 10}, "font": {"size": 12}}
_e = escape.html


def _go():
    import plotly.graph_objects as go

    return go


def _empty(title: str, why: str):
    go = _go()
    fig = go.Figure()
    fig.update_layout(
        title=f"{_e(title)} — {_e(why)}", height=120, xaxis={"visible": False}, yaxis={"visible": False}, **LAYOUT
    )
    return fig


def ip_class(ip: Any, facts: dict[str, Any] | None) -> str:
    """``new``, ``usual``, ``AWS service`` or ``other``: a source IP against the key's baseline."""
    src = (facts or {}).get("sources") or {}
    if ip in (src.get("new_ips") or ()):
        return "new"
    if ip in (src.get("usual_ips") or ()):
        return "usual"
    from iamkit.trail.ipcontext import classify

    if ip in (src.get("via_aws_services") or ()) or classify(ip) in ("aws_service", "aws_internal"):
        return "AWS service"
    return "other"


def _ip_label(ip: str, cls: str, facts: dict[str, Any] | None) -> str:
    ctx = (((facts or {}).get("sources") or {}).get("ip_context") or {}).get(ip) or {}
    where = ", ".join(str(x) for x in (ctx.get("country"), f"AS{ctx['asn']}" if ctx.get("asn") else None) if x)
    return _e(f"{ip}{f' ({where})' if where else ''} · {cls}")


def _window(facts: dict[str, Any] | None) -> tuple[Any, Any] | None:
    import pandas as pd

    w = (facts or {}).get("window") or {}
    if not w.get("start") or not w.get("end"):
        return None
    return pd.Timestamp(w["start"]), pd.Timestamp(w["end"])


def _shade_window(fig: Any, facts: dict[str, Any] | None) -> None:
    """Shade the suspicious window (``facts.window``) behind the traces, when the facts give one."""
    win = _window(facts)
    if win is not None:
        fig.add_shape(
            type="rect",
            xref="x",
            yref="paper",
            x0=win[0],
            x1=win[1],
            y0=0,
            y1=1,
            fillcolor="rgba(214,39,40,0.10)",
            line={"width": 0},
            layer="below",
        )


def _prepared(events: pd.DataFrame, facts: dict[str, Any] | None) -> pd.DataFrame:
    from iamkit.trail.outcome import outcome

    ev = events[["event_time", "source_ip", "error_code", "event_name"]].copy()
    ev["source_ip"] = ev["source_ip"].fillna("(none)").astype(str)
    ev["outcome"] = ev["error_code"].map(outcome)
    classes = {ip: ip_class(ip, facts) for ip in ev["source_ip"].unique()}
    ev["class"] = ev["source_ip"].map(classes)
    return ev


def activity_timeline(
    events: pd.DataFrame,
    facts: dict[str, Any] | None = None,
    *,
    title: str = "Activity by source IP and outcome",
    zoom: bool = True,
    max_points: int = MAX_POINTS,
):
    """Every call on a time axis, one lane per source IP (new IPs first), coloured by the IP's class against the
    key's baseline and shaped by outcome (● ok, ✕ denied, ▲ failed); the suspicious window (``facts.window``)
    shaded and, with ``zoom``, shown with a margin (double-click the plot for the whole period)."""
    import pandas as pd

    go = _go()
    if events is None or events.empty:
        return _empty(title, "no calls")
    ev = _prepared(events, facts)
    order = {"new": 0, "other": 1, "usual": 2, "AWS service": 3}
    lanes = ev.groupby("source_ip")["class"].first().map(order).sort_values(kind="stable").index.tolist()
    labels = {ip: _ip_label(ip, ev.loc[ev["source_ip"] == ip, "class"].iloc[0], facts) for ip in lanes}
    aggregated = len(ev) > max_points
    span = ev["event_time"].max() - ev["event_time"].min()
    fig = go.Figure()
    Trace = go.Scattergl if aggregated else go.Scatter
    for (cls, out), g in ev.groupby(["class", "outcome"], sort=False):
        name = f"{cls} IP · {out}"
        marker = {
            "color": CLASSES[cls],
            "symbol": SYMBOLS.get(out, "circle"),
            "line": {"width": 1, "color": CLASSES[cls]},
        }
        if aggregated:
            step = max(span / 2000, pd.Timedelta(seconds=1))
            b = g.assign(bin=g["event_time"].dt.floor(step)).groupby(["source_ip", "bin"])
            agg = b.agg(calls=("event_name", "size"), first=("event_name", "first")).reset_index()
            marker["size"] = (6 + 14 * (agg["calls"] / agg["calls"].max()) ** 0.5).round(1).tolist()
            fig.add_trace(
                Trace(
                    x=agg["bin"],
                    y=agg["source_ip"].map(labels),
                    mode="markers",
                    name=_e(name),
                    marker=marker,
                    text=[f"{n} calls from {_e(f)}…" for n, f in zip(agg["calls"], agg["first"], strict=True)],
                    hovertemplate="%{x}<br>%{y}<br>%{text}<extra></extra>",
                )
            )
        else:
            marker["size"] = 9 if out != "succeeded" else 7
            fig.add_trace(
                Trace(
                    x=g["event_time"],
                    y=g["source_ip"].map(labels),
                    mode="markers",
                    name=_e(name),
                    marker=marker,
                    text=[_e(n) for n in g["event_name"].fillna("")],
                    hovertemplate="%{x}<br>%{y}<br>%{text}<extra></extra>",
                )
            )
    win = _window(facts)
    layout: dict[str, Any] = {}
    if win is not None:
        start, end = win
        fig.add_shape(
            type="rect",
            xref="x",
            yref="paper",
            x0=start,
            x1=end,
            y0=0,
            y1=1,
            fillcolor="rgba(214,39,40,0.10)",
            line={"width": 0},
            layer="below",
        )
        fig.add_annotation(
            x=start,
            y=1,
            xref="x",
            yref="paper",
            text="suspicious window",
            showarrow=False,
            xanchor="left",
            yanchor="bottom",
            font={"color": "#d62728", "size": 11},
        )
        if zoom:
            pad = max((end - start) * 0.15, pd.Timedelta(minutes=5))
            layout["xaxis"] = {"range": [start - pad, end + pad], "type": "date"}
    note = f" (binned: {len(ev):,} calls)" if aggregated else ""
    fig.update_layout(
        title=_e(title) + note,
        height=150 + 34 * len(lanes),
        legend={"orientation": "h", "y": -0.15},
        yaxis={
            "type": "category",
            "categoryorder": "array",
            "categoryarray": [labels[ip] for ip in reversed(lanes)],
            "automargin": True,
        },
        **layout,
        **LAYOUT,
    )
    return fig


def _bin(span) -> tuple[str, str]:
    import pandas as pd

    if span <= pd.Timedelta(hours=6):
        return "10min", "per 10 minutes"
    if span <= pd.Timedelta(days=3):
        return "1h", "per hour"
    return "1D", "per day"


def sources_over_time(
    events: pd.DataFrame,
    facts: dict[str, Any] | None = None,
    *,
    top: int = 8,
    title: str = "Calls over time by source IP and country",
):
    """Stacked bars of calls per time bin, one colour per source IP (its country in its name; new IPs in red
    shades), the rest grouped as ``other``."""
    go = _go()
    if events is None or events.empty:
        return _empty(title, "no calls")
    ev = _prepared(events, facts)
    freq, unit = _bin(ev["event_time"].max() - ev["event_time"].min())
    counts = ev["source_ip"].value_counts()
    keep = counts.index[:top].tolist()
    ev["who"] = ev["source_ip"].where(ev["source_ip"].isin(keep), "other")
    ev["t"] = ev["event_time"].dt.floor(freq)
    table = ev.groupby(["t", "who"]).size().unstack(fill_value=0)
    shades = {
        "new": ["#d62728", "#ff7f0e", "#e377c2"],
        "usual": ["#1f77b4", "#17becf", "#2ca02c"],
        "AWS service": ["#7f7f7f", "#bcbd22"],
        "other": ["#9467bd", "#8c564b"],
    }
    used: dict[str, int] = {}
    fig = go.Figure()
    for who in [k for k in keep if k in table.columns] + (["other"] if "other" in table.columns else []):
        cls = "other" if who == "other" else ip_class(who, facts)
        i = used.get(cls, 0)
        used[cls] = i + 1
        color = shades[cls][i % len(shades[cls])]
        fig.add_trace(
            go.Bar(
                x=table.index,
                y=table[who],
                name=_ip_label(who, cls, facts) if who != "other" else "other IPs",
                marker={"color": color},
                hovertemplate="%{x}<br>%{y} calls<extra>%{fullData.name}</extra>",
            )
        )
    _shade_window(fig, facts)
    fig.update_layout(
        title=f"{_e(title)} ({unit})",
        barmode="stack",
        height=320,
        legend={"orientation": "h", "y": -0.2},
        yaxis={"title": "calls"},
        **LAYOUT,
    )
    return fig


# ------------------------------------------------------------------------------------------------ the map
@functools.lru_cache(maxsize=1)
def world() -> dict[str, dict[str, Any]]:
    """Country outlines and reference points by ISO alpha-2 code, from the ``countryinfo`` package's data."""
    from countryinfo import all_countries

    out: dict[str, dict[str, Any]] = {}
    for country in all_countries():
        info = country.info()
        name = info.get("name")
        code = (info.get("ISO") or {}).get("alpha2")
        if not code:
            continue
        rings = []
        for feat in (info.get("geoJSON") or {}).get("features", []):
            geom = feat.get("geometry") or {}
            polys = geom.get("coordinates", []) if geom.get("type") == "MultiPolygon" else [geom.get("coordinates", [])]
            rings += [p[0] for p in polys if p]
        out[code.upper()] = {"name": info.get("name") or name, "latlng": info.get("latlng") or [], "rings": rings}
    return out


def _rings_xy(rings: list) -> tuple[list, list]:
    xs: list = []
    ys: list = []
    for ring in rings:
        xs += [round(p[0], 2) for p in ring] + [None]
        ys += [round(p[1], 2) for p in ring] + [None]
    return xs, ys


def ip_map(events: pd.DataFrame, facts: dict[str, Any] | None = None, *, title: str = "Where the calls came from"):
    """Countries of the source IPs on a world map (offline outlines): a country with calls is filled, its
    marker sized by calls and coloured by the worst class of its IPs (new before usual)."""
    go = _go()
    if events is None or events.empty:
        return _empty(title, "no calls")
    ev = _prepared(events, facts)
    ctx = ((facts or {}).get("sources") or {}).get("ip_context") or {}
    if not ctx:
        from iamkit.trail.ipcontext import IpContext

        ctx = {r.ip: {"country": r.country} for r in IpContext().frame(ev["source_ip"].unique()).itertuples()}
    ev["country"] = ev["source_ip"].map(lambda ip: (ctx.get(ip) or {}).get("country"))
    w = world()
    fig = go.Figure()
    xs, ys = _rings_xy([r for c in w.values() for r in c["rings"]])
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines",
            line={"color": "#c7cdd6", "width": 0.6},
            fill="toself",
            fillcolor="#f3f5f9",
            hoverinfo="skip",
            showlegend=False,
            name="land",
        )
    )
    rank = {"new": 0, "other": 1, "usual": 2, "AWS service": 3}
    placed = ev.dropna(subset=["country"])
    for code, g in placed.groupby("country"):
        c = w.get(str(code).upper())
        if not c or len(c["latlng"]) != 2:
            continue
        cls = min(g["class"], key=lambda k: rank[k])
        cx, cy = _rings_xy(c["rings"])
        fig.add_trace(
            go.Scatter(
                x=cx,
                y=cy,
                mode="lines",
                fill="toself",
                line={"color": CLASSES[cls], "width": 0.8},
                fillcolor=CLASSES[cls],
                opacity=0.35,
                hoverinfo="skip",
                showlegend=False,
            )
        )
        ips = ", ".join(f"{ip} ({n})" for ip, n in g["source_ip"].value_counts().head(5).items())
        fig.add_trace(
            go.Scatter(
                x=[c["latlng"][1]],
                y=[c["latlng"][0]],
                mode="markers+text",
                marker={
                    "size": 10 + min(30, len(g) ** 0.5 * 2),
                    "color": CLASSES[cls],
                    "line": {"width": 1, "color": "white"},
                },
                text=[_e(f"{code} · {len(g)} calls")],
                textposition="top center",
                hovertext=[_e(f"{c['name']}: {ips}")],
                hoverinfo="text",
                name=_e(f"{code} ({cls})"),
            )
        )
    unplaced = ev[ev["country"].isna()]["source_ip"].unique().tolist()
    note = f" — no country for {len(unplaced)} source(s)" if unplaced else ""
    fig.update_layout(
        title=_e(title + note),
        height=420,
        showlegend=True,
        legend={"orientation": "h", "y": -0.05},
        xaxis={"range": [-180, 180], "visible": False},
        yaxis={"range": [-60, 85], "visible": False, "scaleanchor": "x"},
        **LAYOUT,
    )
    return fig


# ------------------------------------------------------------------------------------------------ graphs
def _layout_graph(g, seed: int = 7) -> dict:
    import networkx as nx

    return nx.spring_layout(g, seed=seed, k=1.2 / max(1, len(g)) ** 0.5) if len(g) else {}


def trust_graph(
    trusts: pd.DataFrame,
    accounts: list[str] | None = None,
    *,
    org_accounts: list[str] | None = None,
    highlight: list[str] | None = None,
    title: str = "Who can assume which role (trust policies)",
    limit: int = 120,
):
    """Who may assume which role: principals (accounts, users, roles, ``*``) → roles, for the roles of
    ``accounts``. Red: risky (anyone, or an account outside the organization with neither ExternalId nor MFA
    required); orange: roles in ``highlight`` (the ones the incident assumed). AWS services and SAML/OIDC
    providers trust by design and are left out: the graph is about lateral movement."""
    import networkx as nx

    go = _go()
    if trusts is None or trusts.empty:
        return _empty(title, "no trust policies collected")
    t = trusts[trusts["effect"].fillna("Allow") == "Allow"]
    if accounts:
        t = t[t["account_id"].isin(accounts)]
    t = t[
        ~t["principal_type"].isin(["Service", "Federated"])
        & ~t["role_arn"].str.contains("/aws-service-role/", na=False)
    ]
    org = set(org_accounts or ()) | set(trusts["account_id"].dropna())
    used = set(highlight or ())
    g = nx.DiGraph()
    for r in t.head(limit).itertuples():
        src = str(r.principal)
        pacct = r.principal_account_id if isinstance(r.principal_account_id, str) else ""
        outside = bool(pacct) and pacct not in org
        kind = (
            "anyone"
            if src == "*"
            else "outside the organization"
            if outside
            else ("account" if src.endswith(":root") else "principal")
        )
        risky = src == "*" or (outside and r.external_id_required is not True and r.mfa_required is not True)
        g.add_node(src, kind=kind)
        g.add_node(r.role_arn, kind="role used in the incident" if r.role_arn in used else "role")
        g.add_edge(
            src, r.role_arn, edge="used in the incident" if r.role_arn in used else "risky trust" if risky else "trust"
        )
    if not len(g):
        return _empty(title, "no trust policy in these accounts")
    pos = _layout_graph(g)
    fig = go.Figure()
    for edge, color, width in (
        ("trust", "#b8c0cc", 1),
        ("risky trust", "#d62728", 2),
        ("used in the incident", "#ff7f0e", 3),
    ):
        xs: list = []
        ys: list = []
        for a, b, d in g.edges(data=True):
            if d["edge"] == edge:
                xs += [pos[a][0], pos[b][0], None]
                ys += [pos[a][1], pos[b][1], None]
        if xs:
            fig.add_trace(
                go.Scatter(x=xs, y=ys, mode="lines", line={"color": color, "width": width}, hoverinfo="skip", name=edge)
            )
    styles = {
        "role": ("circle", "#2ca02c"),
        "role used in the incident": ("circle", "#ff7f0e"),
        "account": ("square", "#1f77b4"),
        "principal": ("circle", "#17becf"),
        "outside the organization": ("diamond", "#d62728"),
        "anyone": ("diamond", "#b00020"),
    }
    for kind, (symbol, color) in styles.items():
        ns = [n for n, d in g.nodes(data=True) if d["kind"] == kind]
        if not ns:
            continue
        fig.add_trace(
            go.Scatter(
                x=[pos[n][0] for n in ns],
                y=[pos[n][1] for n in ns],
                mode="markers+text",
                marker={"symbol": symbol, "size": 11, "color": color},
                text=[_e(_short(n)) for n in ns],
                textposition="top center",
                textfont={"size": 9},
                hovertext=[_e(n) for n in ns],
                hoverinfo="text",
                name=kind,
            )
        )
    fig.update_layout(
        title=_e(title),
        height=460,
        xaxis={"visible": False},
        yaxis={"visible": False},
        legend={"orientation": "h", "y": -0.05},
        **LAYOUT,
    )
    return fig


def _short(arn: str) -> str:
    if arn.endswith(":root") and arn.count(":") >= 4:
        return f"account {arn.split(':')[4]}"
    return arn.rsplit("/", 1)[-1] if "/" in arn else arn


def escalation_paths(
    inventory: Any, principals: list[str] | None = None, title: str = "Privilege-escalation paths to administrator"
):
    """The escalation graph (``iamkit.assess.privesc``) restricted to ``principals``' paths to administrator."""
    from iamkit.assess.privesc.figure import figure
    from iamkit.assess.privesc.graph import build_graph

    fig = figure(build_graph(inventory), principals)
    if not any(len(t.x or ()) for t in fig.data):
        return _empty(title, "none of these principals has a path to administrator")
    return fig.update_layout(title=_e(title), height=480, **{k: v for k, v in LAYOUT.items() if k != "template"})


def key_age(
    credentials: pd.DataFrame,
    *,
    highlight: list[str] | None = None,
    now: Any = None,
    title: str = "Access keys: age and days since last use",
):
    """One bar per active access key (from the credential report): its age in days, and a marker at the days
    since it was last used (none: never used). Users in ``highlight`` are named in red."""
    import pandas as pd

    go = _go()
    if credentials is None or credentials.empty:
        return _empty(title, "no credential report")
    now = pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz="UTC")
    rows = []
    for r in credentials.itertuples():
        for n in (1, 2):
            active = getattr(r, f"access_key_{n}_active", None)
            if active is not None and not pd.isna(active) and bool(active):
                rotated = getattr(r, f"access_key_{n}_last_rotated", None)
                used = getattr(r, f"access_key_{n}_last_used_date", None)
                if rotated is None or pd.isna(rotated):
                    continue
                rows.append(
                    {
                        "key": f"{r.user} · key {n}",
                        "user": str(r.user),
                        "age": (now - pd.Timestamp(rotated)).total_seconds() / 86400,
                        "idle": None
                        if used is None or pd.isna(used)
                        else (now - pd.Timestamp(used)).total_seconds() / 86400,
                    }
                )
    if not rows:
        return _empty(title, "no active access key")
    df = pd.DataFrame(rows).sort_values("age")
    hot = set(highlight or ())
    labels = [_e(k) + (" ◀" if u in hot else "") for k, u in zip(df["key"], df["user"], strict=True)]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=df["age"].round(1),
            y=labels,
            orientation="h",
            name="age (days)",
            marker={"color": ["#d62728" if u in hot else "#1f77b4" for u in df["user"]]},
            hovertemplate="%{y}: %{x} days old<extra></extra>",
        )
    )
    used = df.dropna(subset=["idle"])
    fig.add_trace(
        go.Scatter(
            x=used["idle"].round(1),
            y=[labels[i] for i, ok in enumerate(df["idle"].notna()) if ok],
            mode="markers",
            name="days since last use",
            marker={"symbol": "diamond", "size": 9, "color": "#111"},
            hovertemplate="%{y}: last used %{x} days ago<extra></extra>",
        )
    )
    fig.add_vline(x=90, line={"dash": "dot", "color": "#b7791f"})
    fig.update_layout(
        title=_e(title),
        height=140 + 24 * len(df),
        xaxis={"title": "days"},
        yaxis={"type": "category", "automargin": True},
        legend={"orientation": "h", "y": -0.2},
        **LAYOUT,
    )
    return fig


def person_timeline(
    signins: pd.DataFrame,
    events: pd.DataFrame,
    facts: dict[str, Any] | None = None,
    title: str = "Entra sign-ins and AWS calls on one axis",
):
    """Entra ID sign-ins (by IP, success or failure) and the key's AWS calls (by IP class) on one time axis:
    a new AWS IP with no sign-in from it nearby is the pattern to look for."""
    go = _go()
    fig = go.Figure()
    if signins is not None and len(signins):
        s = signins.copy()
        ok = s["success"].fillna(False).astype(bool) if "success" in s else True
        for good, g in s.groupby(ok):
            fig.add_trace(
                go.Scatter(
                    x=g["created"],
                    y=["Entra sign-in"] * len(g),
                    mode="markers",
                    name="sign-in ok" if good else "sign-in failed",
                    marker={"symbol": "square" if good else "x", "size": 10, "color": "#2ca02c" if good else "#d62728"},
                    text=[
                        _e(f"{ip} {app}")
                        for ip, app in zip(
                            g.get("ip_address", [""] * len(g)), g.get("app_display_name", [""] * len(g)), strict=True
                        )
                    ],
                    hovertemplate="%{x}<br>%{text}<extra></extra>",
                )
            )
    if events is not None and len(events):
        ev = _prepared(events, facts)
        for cls, g in ev.groupby("class"):
            fig.add_trace(
                go.Scatter(
                    x=g["event_time"],
                    y=[f"AWS · {cls} IP"] * len(g),
                    mode="markers",
                    name=f"AWS calls · {cls} IP",
                    marker={"color": CLASSES[cls], "size": 7},
                    text=[_e(f"{ip} {n}") for ip, n in zip(g["source_ip"], g["event_name"], strict=True)],
                    hovertemplate="%{x}<br>%{text}<extra></extra>",
                )
            )
    if not fig.data:
        return _empty(title, "no sign-ins and no calls")
    _shade_window(fig, facts)
    fig.update_layout(
        title=_e(title),
        height=300,
        yaxis={"type": "category", "automargin": True},
        legend={"orientation": "h", "y": -0.25},
        **LAYOUT,
    )
    return fig
