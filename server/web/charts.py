"""Charts drawn on the server as SVG: no script, no library, crisp at any size."""

from __future__ import annotations

from markupsafe import Markup, escape

STAGE_COLOURS = {
    "new": "#9aa5b1",
    "raw": "#8d6e63",
    "component": "#7e57c2",
    "wip": "#f9a825",
    "finished": "#2e7d32",
    "shipped": "#1565c0",
    "supplies": "#00897b",
    "consumed": "#616161",
    "scrapped": "#c62828",
}


def bar_chart(rows: list[tuple[str, str, int]], *, title: str, width: int = 640) -> Markup:
    """A horizontal bar chart: one bar per (key, label, value), the value at the bar's end."""
    bar_h, gap, label_w, top = 34, 10, 130, 8
    height = top * 2 + len(rows) * (bar_h + gap)
    biggest = max((v for _k, _l, v in rows), default=0) or 1
    room = width - label_w - 90
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (key, label, value) in enumerate(rows):
        y = top + i * (bar_h + gap)
        w = max(round(room * value / biggest), 2 if value else 0)
        colour = STAGE_COLOURS.get(key, "#546e7a")
        parts.append(
            f'<g data-stage="{escape(key)}">'
            f'<text x="{label_w - 10}" y="{y + bar_h * 0.68:.1f}" text-anchor="end" '
            f'class="chart-label">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" rx="4" '
            f'fill="{colour}"/>'
            f'<text x="{label_w + w + 8}" y="{y + bar_h * 0.68:.1f}" class="chart-value">'
            f"{value:,}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


OEE_COLOURS = {
    "availability": "#1565c0",
    "performance": "#f9a825",
    "quality": "#2e7d32",
    "oee": "#37474f",
}


def oee_chart(rows: list[dict], *, title: str, words: dict[str, str], width: int = 720) -> Markup:
    """OEE by station: per station (a `server.core.oee.station_oee` answer) four bars -
    availability, performance, quality and OEE in percent; a part without its input (no
    rate, no output) is drawn as an empty bar marked "—". Performance may pass 100 %."""
    keys = ("availability", "performance", "quality", "oee")
    bar_h, group_gap, label_w, top, legend = 14, 14, 90, 30, 24
    group_h = len(keys) * bar_h
    height = top + legend + max(len(rows), 1) * (group_h + group_gap)
    values = [r[k] for r in rows for k in keys if r.get(k) is not None]
    scale = max(1.0, max(values, default=0))
    room = width - label_w - 70
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, k in enumerate(keys):
        x = label_w + i * 150
        parts.append(
            f'<rect x="{x}" y="6" width="12" height="12" fill="{OEE_COLOURS[k]}"/>'
            f'<text x="{x + 16}" y="16" class="chart-label">{escape(words[k])}</text>'
        )
    x100 = label_w + room / scale
    parts.append(
        f'<line x1="{x100:.1f}" y1="{top}" x2="{x100:.1f}" y2="{height}" stroke="#9aa5b1" '
        f'stroke-dasharray="4 3"/><text x="{x100:.1f}" y="{top - 2}" text-anchor="middle" '
        f'class="chart-label">100%</text>'
    )
    for n, r in enumerate(rows):
        y0 = top + legend / 2 + n * (group_h + group_gap)
        parts.append(
            f'<g data-station="{escape(r["station"])}">'
            f'<text x="{label_w - 10}" y="{y0 + group_h / 2 + 4:.1f}" text-anchor="end" '
            f'class="chart-label">{escape(r["station"])}</text>'
        )
        for i, k in enumerate(keys):
            y = y0 + i * bar_h
            v = r.get(k)
            w = round(room * v / scale) if v else 0
            text = "—" if v is None else f"{v * 100:.1f}%"
            parts.append(
                f'<rect data-part="{k}" x="{label_w}" y="{y:.1f}" width="{w}" '
                f'height="{bar_h - 2}" fill="{OEE_COLOURS[k]}"/>'
                f'<text x="{label_w + w + 6}" y="{y + bar_h - 4:.1f}" class="chart-value">'
                f"{text}</text>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))
