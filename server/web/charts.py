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
