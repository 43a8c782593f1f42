"""Static SVG of the plotly figures iamkit draws (``iamkit.ui.figures``), for the report: no JavaScript, no
kaleido, no browser. It draws the subset those figures use: scatter (markers, lines, text, ``fill="toself"``
polygons; WebGL traces alike), bars (stacked, vertical or horizontal), date / category / linear axes, shaded
rectangles and lines over the plot, annotations, a legend.

The output is inert by construction: only ``svg g rect path circle line text`` elements with geometry, colour
and font attributes, every text XML-escaped (plotly labels arrive HTML-escaped and are decoded first, so
``&lt;b&gt;`` shows as ``<b>``, as it does in plotly). The report embeds it as an ``<img>`` data URI, where an
SVG can neither run script nor load anything.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import numbers
from typing import Any

WIDTH = 1000
FONT = "system-ui,-apple-system,Segoe UI,Roboto,sans-serif"
CHAR = 6.4  # average glyph width at 11px, for laying out labels
_DATE_STEPS = (
    [(s, "%H:%M:%S") for s in (1, 5, 15, 30)]
    + [(m * 60, "%H:%M") for m in (1, 5, 10, 15, 30)]
    + [(h * 3600, "%H:%M") for h in (1, 2, 3, 6, 12)]
    + [(d * 86400, "%b %d") for d in (1, 2, 7, 14, 30, 91, 182, 365)]
)


def _x(text: Any) -> str:
    """Plotly label → XML text: decode plotly's HTML escaping (iamkit's labels carry no plotly tags), then escape
    for XML; invisible characters shown as ``⟨U+…⟩``, line breaks as spaces."""
    from iamkit.escape import visible

    s = visible(html.unescape(str(text))).replace("\n", " ").replace("\t", " ")
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _n(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".") if abs(v) < 1e6 else f"{v:.0f}"


def _seq(v: Any) -> list:
    if v is None:
        return []
    if isinstance(v, (str, bytes)):
        return [v]
    try:
        return list(v)
    except TypeError:
        return [v]


def _is_time(v: Any) -> bool:
    import numpy as np

    return isinstance(v, (dt.datetime, dt.date, np.datetime64)) or type(v).__name__ == "Timestamp"


def _seconds(v: Any) -> float | None:
    import pandas as pd

    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    try:
        ts = pd.Timestamp(v)
    except (ValueError, TypeError):
        return None
    if ts is pd.NaT:
        return None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.timestamp()


class _Axis:
    """One axis: kind (date | category | linear), its data range and a mapping to pixels."""

    def __init__(self, spec: dict[str, Any], values: list[Any], lo_px: float, hi_px: float, reverse: bool = False):
        self.spec = spec
        self.visible = spec.get("visible", True) is not False
        kind = spec.get("type") if spec.get("type") in ("date", "category", "linear") else None
        sample = next((v for v in values if v is not None), None)
        if kind is None:
            if sample is None or isinstance(sample, numbers.Number) and not isinstance(sample, bool):
                kind = "linear"
            elif _is_time(sample):
                kind = "date"
            else:
                kind = "category"
        self.kind = kind
        self.lo_px, self.hi_px, self.reverse = lo_px, hi_px, reverse
        if kind == "category":
            order = [str(c) for c in _seq(spec.get("categoryarray"))]
            seen = dict.fromkeys(order)
            for v in values:
                if v is not None:
                    seen.setdefault(str(v), None)
            self.categories = list(seen)
            self.lo, self.hi = -0.5, len(self.categories) - 0.5
        else:
            conv = self._num
            nums = [conv(v) for v in values]
            nums = [v for v in nums if v is not None]
            rng = _seq(spec.get("range"))
            if len(rng) == 2 and None not in rng:
                self.lo, self.hi = conv(rng[0]), conv(rng[1])
            elif nums:
                self.lo, self.hi = min(nums), max(nums)
                pad = (self.hi - self.lo) * 0.04 or (60.0 if kind == "date" else 1.0)
                self.lo, self.hi = self.lo - pad, self.hi + pad
            else:
                self.lo, self.hi = 0.0, 1.0
            if kind == "linear" and spec.get("_bars_from_zero"):
                self.lo = min(self.lo, 0.0)
            if self.hi <= self.lo:
                self.hi = self.lo + 1

    def _num(self, v: Any) -> float | None:
        if self.kind == "date":
            return _seconds(v)
        try:
            f = float(v)
        except (TypeError, ValueError):
            return None
        return None if math.isnan(f) else f

    def value(self, v: Any) -> float | None:
        if v is None:
            return None
        if self.kind == "category":
            try:
                return float(self.categories.index(str(v)))
            except ValueError:
                return None
        return self._num(v)

    def px(self, v: Any) -> float | None:
        f = self.value(v)
        return None if f is None else self.unit_px(f)

    def unit_px(self, f: float) -> float:
        """Pixel of a position already in axis units (seconds, category index or number)."""
        t = (f - self.lo) / (self.hi - self.lo)
        if self.reverse:
            t = 1 - t
        return self.lo_px + t * (self.hi_px - self.lo_px)

    def ticks(self) -> list[tuple[float, str]]:
        if self.kind == "category":
            return [(float(i), c) for i, c in enumerate(self.categories)]
        span = self.hi - self.lo
        if self.kind == "date":
            step, fmt = next(((s, f) for s, f in _DATE_STEPS if span / s <= 8), _DATE_STEPS[-1])
            first = math.ceil(self.lo / step) * step
            out, last_day = [], None
            t = first
            while t <= self.hi:
                d = dt.datetime.fromtimestamp(t, dt.UTC)
                label = d.strftime(fmt)
                if step < 86400 and d.date() != last_day:
                    label = d.strftime("%b %d ") + label
                    last_day = d.date()
                out.append((t, label))
                t += step
            return out
        raw = span / 6
        mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
        step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
        t = math.ceil(self.lo / step) * step
        out = []
        while t <= self.hi + 1e-9:
            out.append((t, f"{t:g}"))
            t += step
        return out


def _marker(symbol: str, x: float, y: float, size: float, color: str, opacity: float) -> str:
    r = size / 2
    op = f' fill-opacity="{_n(opacity)}"' if opacity < 1 else ""
    if symbol == "x":
        return (
            f'<path d="M{_n(x - r)} {_n(y - r)}L{_n(x + r)} {_n(y + r)}M{_n(x - r)} {_n(y + r)}L{_n(x + r)} '
            f'{_n(y - r)}" stroke="{color}" stroke-width="2"/>'
        )
    if symbol == "triangle-up":
        return f'<path d="M{_n(x)} {_n(y - r)}L{_n(x + r)} {_n(y + r)}L{_n(x - r)} {_n(y + r)}Z" fill="{color}"{op}/>'
    if symbol == "square":
        return f'<rect x="{_n(x - r)}" y="{_n(y - r)}" width="{_n(size)}" height="{_n(size)}" fill="{color}"{op}/>'
    if symbol == "diamond":
        return (
            f'<path d="M{_n(x)} {_n(y - r)}L{_n(x + r)} {_n(y)}L{_n(x)} {_n(y + r)}L{_n(x - r)} {_n(y)}Z" '
            f'fill="{color}"{op}/>'
        )
    return f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(r)}" fill="{color}"{op}/>'


_SAFE_COLOR = __import__("re").compile(r"#[0-9a-fA-F]{3,8}|rgba?\([0-9., ]{5,40}\)|[a-z]{3,20}")


def _color(c: Any, default: str = "#1f77b4") -> str:
    """A colour the library set (never evidence), checked anyway: anything else becomes the default."""
    return c if isinstance(c, str) and _SAFE_COLOR.fullmatch(c) else default


def to_svg(fig: Any, width: int = WIDTH) -> str:
    """The figure as a standalone SVG document (``width`` px wide, the figure's own height)."""
    layout = fig.layout
    traces = list(fig.data)
    height = int(layout.height or 400)
    xspec = layout.xaxis.to_plotly_json() if layout.xaxis else {}
    yspec = layout.yaxis.to_plotly_json() if layout.yaxis else {}
    horizontal = any(t.type == "bar" and t.orientation == "h" for t in traces)
    xs = [v for t in traces for v in _seq(t.x)]
    ys = [v for t in traces for v in _seq(t.y)]
    bars = [t for t in traces if t.type == "bar"]
    stacked_totals = _stack(bars, horizontal)
    if bars:
        (xspec if horizontal else yspec)["_bars_from_zero"] = True
        if stacked_totals:
            (xs if horizontal else ys).extend(stacked_totals)
    legend = [t for t in traces if t.showlegend is not False and t.name and len(_seq(t.x))]
    per_row = max(1, int((width - 40) // 190))
    legend_rows = math.ceil(len(legend) / per_row) if len(legend) > 1 or (legend and legend[0].name) else 0
    probe = _Axis(yspec, ys, 0, 1)
    left = 50.0
    if probe.visible and probe.kind == "category":
        left = min(width * 0.45, 16 + CHAR * max((len(html.unescape(c)) for c in probe.categories), default=4))
    top, right = 44.0, 20.0
    bottom = (34.0 if _Axis(xspec, xs, 0, 1).visible else 10.0) + 18 * legend_rows
    ax = _Axis(xspec, xs, left, width - right)
    ay = _Axis(yspec, ys, top, height - bottom, reverse=True)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="11">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>',
    ]
    title = layout.title.text if layout.title else None
    if title:
        out.append(f'<text x="{_n(left)}" y="24" font-size="15" font-weight="600" fill="#1d2430">{_x(title)}</text>')
    plot_bottom, plot_top = height - bottom, top
    out += _shapes(layout, ax, ay, plot_top, plot_bottom, below=True)
    out += _grid(ax, ay, left, width - right, plot_top, plot_bottom)
    out += _bars(bars, ax, ay, horizontal)
    for t in traces:
        if t.type in ("scatter", "scattergl"):
            out += _scatter(t, ax, ay)
    out += _shapes(layout, ax, ay, plot_top, plot_bottom, below=False)
    for a in layout.annotations or ():
        x = ax.px(a.x) if a.xref in (None, "x") else left + float(a.x or 0) * (width - right - left)
        y = plot_top + (1 - float(a.y or 0)) * (plot_bottom - plot_top) if a.yref == "paper" else ay.px(a.y)
        if x is not None and y is not None:
            color = _color(a.font.color if a.font else None, "#1d2430")
            out.append(f'<text x="{_n(x + 3)}" y="{_n(y - 3)}" fill="{color}">{_x(a.text or "")}</text>')
    out += _legend(legend, left, height - 18 * legend_rows + 4, per_row)
    out.append("</svg>")
    return "".join(out)


def _stack(bars: list, horizontal: bool) -> list[float]:
    """Totals per position of stacked bars (to size the value axis)."""
    totals: dict[Any, float] = {}
    for t in bars:
        pos, val = (t.y, t.x) if horizontal else (t.x, t.y)
        for p, v in zip(_seq(pos), _seq(val), strict=False):
            try:
                totals[str(p)] = totals.get(str(p), 0.0) + float(v)
            except (TypeError, ValueError):
                continue
    return list(totals.values())


def _grid(ax: _Axis, ay: _Axis, x0: float, x1: float, y0: float, y1: float) -> list[str]:
    out = []
    if ax.visible:
        for v, label in ax.ticks():
            x = ax.unit_px(v)
            out.append(f'<line x1="{_n(x)}" y1="{_n(y0)}" x2="{_n(x)}" y2="{_n(y1)}" stroke="#eef1f5"/>')
            out.append(f'<text x="{_n(x)}" y="{_n(y1 + 14)}" text-anchor="middle" fill="#5a6576">{_x(label)}</text>')
        out.append(f'<line x1="{_n(x0)}" y1="{_n(y1)}" x2="{_n(x1)}" y2="{_n(y1)}" stroke="#9aa4b2"/>')
    if ay.visible:
        for v, label in ay.ticks():
            y = ay.unit_px(v)
            out.append(f'<line x1="{_n(x0)}" y1="{_n(y)}" x2="{_n(x1)}" y2="{_n(y)}" stroke="#eef1f5"/>')
            shown = html.unescape(label)
            limit = int((x0 - 10) / CHAR)
            if len(shown) > limit > 3:
                label = shown[: limit - 1] + "…"
            out.append(f'<text x="{_n(x0 - 6)}" y="{_n(y + 4)}" text-anchor="end" fill="#37404d">{_x(label)}</text>')
    return out


def _bars(bars: list, ax: _Axis, ay: _Axis, horizontal: bool) -> list[str]:
    out = []
    base: dict[str, float] = {}
    n = max(1, len({str(p) for t in bars for p in _seq(t.y if horizontal else t.x)}))
    pos_axis, val_axis = (ay, ax) if horizontal else (ax, ay)
    if pos_axis.kind == "category":
        thick = abs(pos_axis.hi_px - pos_axis.lo_px) / max(1, len(pos_axis.categories)) * 0.7
    else:
        thick = max(2.0, abs(pos_axis.hi_px - pos_axis.lo_px) / n * 0.8)
    for t in bars:
        colors = _seq(t.marker.color) if t.marker and t.marker.color is not None else []
        pos, val = (t.y, t.x) if horizontal else (t.x, t.y)
        for i, (p, v) in enumerate(zip(_seq(pos), _seq(val), strict=False)):
            try:
                v = float(v)
            except (TypeError, ValueError):
                continue
            if v == 0:
                continue
            b = base.get(str(p), 0.0)
            base[str(p)] = b + v
            c = pos_axis.px(p)
            a, z = val_axis.px(b), val_axis.px(b + v)
            if c is None or a is None or z is None:
                continue
            color = _color(colors[i] if len(colors) > 1 else (colors[0] if colors else None))
            if horizontal:
                out.append(
                    f'<rect x="{_n(min(a, z))}" y="{_n(c - thick / 2)}" width="{_n(abs(z - a))}" '
                    f'height="{_n(thick)}" fill="{color}"/>'
                )
            else:
                out.append(
                    f'<rect x="{_n(c - thick / 2)}" y="{_n(min(a, z))}" width="{_n(thick)}" '
                    f'height="{_n(abs(z - a))}" fill="{color}"/>'
                )
    return out


def _scatter(t: Any, ax: _Axis, ay: _Axis) -> list[str]:
    out = []
    mode = t.mode or "markers"
    pts = [(ax.px(x), ay.px(y)) for x, y in zip(_seq(t.x), _seq(t.y), strict=False)]
    if "lines" in mode or t.fill == "toself":
        line = t.line
        color = _color(line.color if line else None, "#999")
        width = float(line.width) if line and line.width is not None else 1.0
        d, pen = [], False
        for x, y in pts:
            if x is None or y is None:
                if pen and t.fill == "toself":
                    d.append("Z")
                pen = False
                continue
            d.append(f"{'L' if pen else 'M'}{_n(x)} {_n(y)}")
            pen = True
        if pen and t.fill == "toself":
            d.append("Z")
        if d:
            fill = _color(t.fillcolor, color) if t.fill == "toself" else "none"
            op = float(t.opacity) if t.opacity is not None else 1.0
            out.append(
                f'<path d="{"".join(d)}" fill="{fill}" stroke="{color}" stroke-width="{_n(width)}"'
                f'{f" opacity={chr(34)}{_n(op)}{chr(34)}" if op < 1 else ""} fill-rule="evenodd"/>'
            )
    if "markers" in mode:
        m = t.marker
        sizes = _seq(m.size) if m and m.size is not None else [7]
        colors = _seq(m.color) if m and m.color is not None else ["#1f77b4"]
        symbol = getattr(m, "symbol", None) if m else None
        symbol = symbol if isinstance(symbol, str) else "circle"
        opacity = float(m.opacity) if m and m.opacity is not None and not isinstance(m.opacity, tuple) else 0.85
        for i, (x, y) in enumerate(pts):
            if x is None or y is None:
                continue
            size = float(sizes[i] if len(sizes) > 1 else sizes[0])
            color = _color(colors[i] if len(colors) > 1 else colors[0])
            out.append(_marker(symbol, x, y, size, color, opacity))
    if "text" in mode:
        texts = _seq(t.text)
        for (x, y), label in zip(pts, texts, strict=False):
            if x is not None and y is not None and label:
                out.append(
                    f'<text x="{_n(x)}" y="{_n(y - 10)}" text-anchor="middle" font-size="9" '
                    f'fill="#37404d">{_x(label)}</text>'
                )
    return out


def _shapes(layout: Any, ax: _Axis, ay: _Axis, top: float, bottom: float, *, below: bool) -> list[str]:
    out = []
    for s in layout.shapes or ():
        if (s.layer == "below") != below:
            continue
        x0, x1 = ax.px(s.x0), ax.px(s.x1)
        if x0 is None or x1 is None:
            continue
        paper = s.yref in ("paper", "y domain")
        y0 = bottom - float(s.y0 or 0) * (bottom - top) if paper else ay.px(s.y0)
        y1 = bottom - float(s.y1 if s.y1 is not None else 1) * (bottom - top) if paper else ay.px(s.y1)
        if y0 is None or y1 is None:
            continue
        x0, x1 = max(ax.lo_px, min(x0, x1)), min(ax.hi_px, max(x0, x1))
        if s.type == "rect" and x1 > x0:
            out.append(
                f'<rect x="{_n(x0)}" y="{_n(min(y0, y1))}" width="{_n(x1 - x0)}" height="{_n(abs(y1 - y0))}" '
                f'fill="{_color(s.fillcolor, "rgba(0,0,0,0.1)")}"/>'
            )
        elif s.type == "line":
            color = _color(s.line.color if s.line else None, "#999")
            out.append(
                f'<line x1="{_n(x0)}" y1="{_n(y0)}" x2="{_n(x1)}" y2="{_n(y1)}" stroke="{color}" '
                'stroke-dasharray="3 3"/>'
            )
    return out


def _legend(traces: list, left: float, y: float, per_row: int) -> list[str]:
    out = []
    for i, t in enumerate(traces):
        x = left + (i % per_row) * 190
        yy = y + (i // per_row) * 18
        m = t.marker
        color = _color(
            _seq(m.color)[0] if m and m.color is not None and _seq(m.color) else (t.line.color if t.line else None)
        )
        symbol = getattr(m, "symbol", None) if m else None
        symbol = symbol if isinstance(symbol, str) else "circle"
        out.append(_marker(symbol if t.type != "bar" else "square", x + 5, yy, 9, color, 1))
        name = html.unescape(str(t.name))
        out.append(
            f'<text x="{_n(x + 14)}" y="{_n(yy + 4)}" fill="#37404d">{_x(name[:30] + ("…" if len(name) > 30 else ""))}</text>'
        )
    return out
