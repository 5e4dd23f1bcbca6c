"""Small SVG charts (no JavaScript, no CDN): the report embeds each as an `<img>` data URI so it stays
one self-contained file that any browser, mail client or CI artifact viewer can open offline."""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from html import escape

TIER_COLORS = {"light": "#4caf50", "medium": "#ff9800", "heavy": "#e53935", None: "#9e9e9e"}
PALETTE = ("#1e88e5", "#43a047", "#fb8c00", "#8e24aa", "#e53935", "#00897b", "#6d4c41", "#757575")
FONT = "font-family='sans-serif' font-size='11'"


def as_img(svg: str, alt: str) -> str:
    data = base64.b64encode(svg.encode()).decode()
    return f'<img class="chart" alt="{escape(alt)}" src="data:image/svg+xml;base64,{data}">'


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}'><rect width='100%' height='100%' fill='white'/>"
        f"<text x='{width / 2}' y='16' text-anchor='middle' font-family='sans-serif' font-size='13' "
        f"font-weight='bold'>{escape(title)}</text>" + "".join(body) + "</svg>"
    )


def _empty(title: str, why: str, width: int = 640) -> str:
    return _svg(width, 60, [f"<text x='{width / 2}' y='42' text-anchor='middle' {FONT} fill='#777'>"
                            f"{escape(why)}</text>"], title)


def fmt(v: float) -> str:
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.3g}G"
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e3:
        return f"{v / 1e3:.3g}K"
    return f"{v:.3g}"


class _Scale:
    """Maps values to [0, length]; log scale over decades when asked and every value is positive."""

    def __init__(self, values: Sequence[float], length: float, *, log: bool) -> None:
        pos = [v for v in values if v > 0]
        self.log = log and bool(pos)
        if self.log:
            self.lo = 10 ** math.floor(math.log10(min(pos)))
            self.hi = 10 ** math.ceil(math.log10(max(pos)))
            if self.hi <= self.lo:
                self.hi = self.lo * 10
        else:
            self.lo = min(0.0, min(values, default=0.0))
            self.hi = max(values, default=1.0) or 1.0
            if self.hi <= self.lo:
                self.hi = self.lo + 1
        self.length = length

    def __call__(self, v: float) -> float:
        if self.log:
            v = max(v, self.lo)
            return (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo)) * self.length
        return (v - self.lo) / (self.hi - self.lo) * self.length

    def ticks(self) -> list[float]:
        if self.log:
            n = round(math.log10(self.hi / self.lo))
            return [self.lo * 10**i for i in range(n + 1)]
        return [self.lo + (self.hi - self.lo) * i / 4 for i in range(5)]


def hbar(items: Sequence[tuple[str, float, str]], title: str, *, log: bool = False, unit: str = "",
         legend: dict[str, str] | None = None, width: int = 720) -> str:
    """Horizontal bars: (label, value, colour)."""
    items = [(lbl, v, c) for lbl, v, c in items if v is not None]
    if not items:
        return _empty(title, "no data measured")
    left, right, row = 190, 70, 20
    top = 30 + (18 if legend else 0)
    height = top + row * len(items) + 34
    scale = _Scale([v for _, v, _ in items], width - left - right, log=log)
    body = []
    if legend:
        x = left
        for name, color in legend.items():
            body.append(f"<rect x='{x}' y='26' width='10' height='10' fill='{color}'/>"
                        f"<text x='{x + 14}' y='35' {FONT}>{escape(name)}</text>")
            x += 20 + 7 * len(name)
    for t in scale.ticks():
        x = left + scale(t)
        body.append(f"<line x1='{x:.1f}' y1='{top}' x2='{x:.1f}' y2='{top + row * len(items)}' stroke='#ddd'/>"
                    f"<text x='{x:.1f}' y='{top + row * len(items) + 14}' text-anchor='middle' {FONT}>"
                    f"{fmt(t)}</text>")
    for i, (label, value, color) in enumerate(items):
        y = top + i * row
        w = max(scale(value), 1.0)
        body.append(f"<text x='{left - 6}' y='{y + 14}' text-anchor='end' {FONT}>{escape(label)}</text>"
                    f"<rect x='{left}' y='{y + 3}' width='{w:.1f}' height='{row - 6}' fill='{color}'>"
                    f"<title>{escape(label)}: {value:,.0f}{unit}</title></rect>"
                    f"<text x='{left + w + 4:.1f}' y='{y + 14}' {FONT}>{fmt(value)}{unit}</text>")
    axis = "log scale" if scale.log else "linear scale"
    body.append(f"<text x='{left + (width - left - right) / 2}' y='{height - 4}' text-anchor='middle' "
                f"{FONT} fill='#555'>{escape(axis)}</text>")
    return _svg(width, height, body, title)


def scatter(points: Sequence[tuple[float, float, str, str]], title: str, x_label: str, y_label: str, *,
            log_y: bool = True, width: int = 640, height: int = 380) -> str:
    """(x, y, label, colour) points."""
    pts = [p for p in points if p[0] is not None and p[1] is not None]
    if not pts:
        return _empty(title, "no step has both a static metric and a runtime measure", width)
    left, bottom, top, right = 70, 50, 30, 30
    sx = _Scale([p[0] for p in pts], width - left - right, log=False)
    sy = _Scale([p[1] for p in pts], height - top - bottom, log=log_y)
    body = [f"<line x1='{left}' y1='{height - bottom}' x2='{width - right}' y2='{height - bottom}' stroke='#333'/>"
            f"<line x1='{left}' y1='{top}' x2='{left}' y2='{height - bottom}' stroke='#333'/>"]
    for t in sx.ticks():
        x = left + sx(t)
        body.append(f"<text x='{x:.1f}' y='{height - bottom + 14}' text-anchor='middle' {FONT}>{fmt(t)}</text>")
    for t in sy.ticks():
        y = height - bottom - sy(t)
        body.append(f"<line x1='{left}' y1='{y:.1f}' x2='{width - right}' y2='{y:.1f}' stroke='#eee'/>"
                    f"<text x='{left - 4}' y='{y + 4:.1f}' text-anchor='end' {FONT}>{fmt(t)}</text>")
    for x, y, label, color in pts:
        cx, cy = left + sx(x), height - bottom - sy(y)
        # Labels of points near the right edge go to the left of the point, so they are not cut off.
        lx, anchor = (cx - 7, "end") if cx > width - right - 140 else (cx + 7, "start")
        body.append(f"<circle cx='{cx:.1f}' cy='{cy:.1f}' r='5' fill='{color}' fill-opacity='0.8'>"
                    f"<title>{escape(label)}: {x:,.0f}, {y:,.0f}</title></circle>"
                    f"<text x='{lx:.1f}' y='{cy + 4:.1f}' text-anchor='{anchor}' font-family='sans-serif' "
                    f"font-size='9' fill='#555'>{escape(label)}</text>")
    body.append(f"<text x='{left + (width - left - right) / 2}' y='{height - 12}' text-anchor='middle' "
                f"{FONT}>{escape(x_label)}</text>"
                f"<text x='14' y='{top + (height - top - bottom) / 2}' text-anchor='middle' {FONT} "
                f"transform='rotate(-90 14 {top + (height - top - bottom) / 2})'>"
                f"{escape(y_label)}{' (log)' if sy.log else ''}</text>")
    return _svg(width, height, body, title)


def boxplot(rows: Sequence[tuple[str, float, float, float, float, float, int]], title: str, *,
            unit: str = " ms", width: int = 720) -> str:
    """(label, p5, p25, p50, p75, p95, n) per row, horizontal, log scale."""
    if not rows:
        return _empty(title, "no workflow traces")
    left, right, row = 170, 80, 24
    top = 30
    height = top + row * len(rows) + 34
    values = [v for r in rows for v in r[1:6] if v is not None]
    scale = _Scale(values, width - left - right, log=True)
    body = []
    for t in scale.ticks():
        x = left + scale(t)
        body.append(f"<line x1='{x:.1f}' y1='{top}' x2='{x:.1f}' y2='{top + row * len(rows)}' stroke='#eee'/>"
                    f"<text x='{x:.1f}' y='{top + row * len(rows) + 14}' text-anchor='middle' {FONT}>"
                    f"{fmt(t)}</text>")
    for i, (label, p5, p25, p50, p75, p95, n) in enumerate(rows):
        y = top + i * row + row / 2
        x5, x25, x50, x75, x95 = (left + scale(v or 0) for v in (p5, p25, p50, p75, p95))
        body.append(
            f"<text x='{left - 6}' y='{y + 4}' text-anchor='end' {FONT}>{escape(label)}</text>"
            f"<line x1='{x5:.1f}' y1='{y}' x2='{x95:.1f}' y2='{y}' stroke='#555'/>"
            f"<rect x='{x25:.1f}' y='{y - 7}' width='{max(x75 - x25, 1):.1f}' height='14' fill='#90caf9' "
            f"stroke='#1e88e5'><title>{escape(label)}: p5 {p5:,.1f}, p25 {p25:,.1f}, median {p50:,.1f}, "
            f"p75 {p75:,.1f}, p95 {p95:,.1f}{unit} (n = {n:,})</title></rect>"
            f"<line x1='{x50:.1f}' y1='{y - 7}' x2='{x50:.1f}' y2='{y + 7}' stroke='#0d47a1' stroke-width='2'/>"
            f"<text x='{x95 + 4:.1f}' y='{y + 4}' {FONT} fill='#555'>n={fmt(n)}</text>"
        )
    body.append(f"<text x='{left + (width - left - right) / 2}' y='{height - 4}' text-anchor='middle' {FONT} "
                f"fill='#555'>duration{escape(unit)}, log scale (whiskers p5–p95, box p25–p75)</text>")
    return _svg(width, height, body, title)


def stacked_shares(rows: Sequence[tuple[str, dict[str, float]]], title: str, *, width: int = 720) -> str:
    """One 100 % bar per row: label → {category: share}."""
    rows = [(lbl, s) for lbl, s in rows if s]
    if not rows:
        return _empty(title, "no data measured")
    categories: list[str] = []
    for _, shares in rows:
        categories += [c for c in shares if c not in categories]
    colors = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(categories)}
    left, right, row = 190, 20, 22
    top = 48
    height = top + row * len(rows) + 16
    inner = width - left - right
    body = []
    x = left
    for c in categories:
        body.append(f"<rect x='{x}' y='26' width='10' height='10' fill='{colors[c]}'/>"
                    f"<text x='{x + 14}' y='35' {FONT}>{escape(c)}</text>")
        x += 24 + 7 * len(c)
    for i, (label, shares) in enumerate(rows):
        y = top + i * row
        body.append(f"<text x='{left - 6}' y='{y + 14}' text-anchor='end' {FONT}>{escape(label)}</text>")
        x = float(left)
        for c in categories:
            s = shares.get(c) or 0.0
            w = s * inner
            if w <= 0:
                continue
            body.append(f"<rect x='{x:.1f}' y='{y + 3}' width='{w:.1f}' height='{row - 6}' fill='{colors[c]}'>"
                        f"<title>{escape(label)} · {escape(c)}: {s:.1%}</title></rect>")
            if w > 34:
                body.append(f"<text x='{x + w / 2:.1f}' y='{y + 14}' text-anchor='middle' {FONT} fill='white'>"
                            f"{s:.0%}</text>")
            x += w
    return _svg(width, height, body, title)
