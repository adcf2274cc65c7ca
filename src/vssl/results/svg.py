"""Small SVG charts for the HTML report, with no plotting library: bars with seed dots, a heat-map, line curves."""

from __future__ import annotations

from html import escape

WIDTH, BAR_HEIGHT, LEFT = 520, 22, 170
PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")


def bar_chart(title: str, bars: list[tuple[str, float, float, list[float]]], maximum: float = 100.0) -> str:
    """Horizontal bars (label, mean, std, per-seed values) on 0 … ``maximum``, the std as a whisker, seeds as dots."""
    height = 34 + BAR_HEIGHT * len(bars)
    scale = (WIDTH - LEFT - 20) / maximum
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" role="img">',
             f'<title>{escape(title)}</title>',
             f'<text x="4" y="14" font-size="12" font-weight="bold">{escape(title)}</text>']
    for i, (label, mean, std, seeds) in enumerate(bars):
        y = 24 + i * BAR_HEIGHT
        parts.append(f'<text x="{LEFT - 6}" y="{y + 14}" text-anchor="end" font-size="12">{escape(label)} '
                     f'{mean:.1f}</text>')
        parts.append(f'<rect x="{LEFT}" y="{y + 3}" width="{max(mean, 0) * scale:.1f}" height="{BAR_HEIGHT - 6}" '
                     f'fill="{PALETTE[i % len(PALETTE)]}" opacity="0.8"/>')
        low, high = max(mean - std, 0) * scale + LEFT, min(mean + std, maximum) * scale + LEFT
        parts.append(f'<line x1="{low:.1f}" x2="{high:.1f}" y1="{y + 11}" y2="{y + 11}" stroke="black"/>')
        for value in seeds:
            parts.append(f'<circle cx="{LEFT + value * scale:.1f}" cy="{y + 11}" r="2.5" fill="black"/>')
    parts.append("</svg>")
    return "".join(parts)


def heat_map(title: str, names: list[str], values: dict[tuple[str, str], float], low: float = -1.0,
             high: float = 1.0) -> str:
    """A square grid of ``values[(row, column)]`` (blank where missing), coloured blue (low) to red (high)."""
    cell, left = 46, 120
    size = left + cell * len(names) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" role="img">',
             f'<title>{escape(title)}</title>']
    for j, name in enumerate(names):
        parts.append(f'<text x="{left + j * cell + cell / 2}" y="{left - 6}" font-size="11" text-anchor="middle">'
                     f'{escape(name[:8])}</text>')
    for i, row in enumerate(names):
        y = left + i * cell
        parts.append(f'<text x="{left - 6}" y="{y + cell / 2 + 4}" font-size="11" text-anchor="end">'
                     f'{escape(row[:16])}</text>')
        for j, column in enumerate(names):
            value = values.get((row, column))
            if value is None:
                continue
            t = (value - low) / (high - low)
            colour = f"rgb({int(255 * t)},{int(255 * (1 - abs(2 * t - 1)) * 0.8)},{int(255 * (1 - t))})"
            parts.append(f'<rect x="{left + j * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                         f'fill="{colour}"/><text x="{left + j * cell + cell / 2}" y="{y + cell / 2 + 4}" '
                         f'font-size="11" text-anchor="middle">{value:+.2f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(title: str, curves: dict[str, list[tuple[float, float]]]) -> str:
    """Lines of (x, y) points, one per curve, on shared axes, with a legend."""
    points = [p for curve in curves.values() for p in curve]
    if not points:
        return ""
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    width, height, pad = WIDTH, 220, 40
    sx = (width - 2 * pad) / ((x1 - x0) or 1)
    sy = (height - 2 * pad) / ((y1 - y0) or 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 16 * len(curves)}" '
             f'role="img"><title>{escape(title)}</title>',
             f'<text x="{pad}" y="{pad - 8}" font-size="11">{y1:.3g}</text>',
             f'<text x="{pad}" y="{height - pad + 14}" font-size="11">{y0:.3g} (steps {x0:.0f}–{x1:.0f})</text>']
    for i, (name, curve) in enumerate(curves.items()):
        colour = PALETTE[i % len(PALETTE)]
        path = " ".join(f"{pad + (x - x0) * sx:.1f},{height - pad - (y - y0) * sy:.1f}" for x, y in curve)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{path}"/>')
        parts.append(f'<text x="{pad}" y="{height + 12 + 16 * i}" font-size="11" fill="{colour}">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
