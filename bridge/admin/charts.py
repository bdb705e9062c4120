"""Charts as server-side SVG: stacked bars, a line, horizontal bars and a week's heat map.

No script and no external file: each chart is markup the page embeds. Every label and
every ``<title>`` is escaped here (``markupsafe.escape``), so a tag or a page address a
patron sent cannot become markup; each chart and each mark carries a ``<title>`` that a
screen reader reads and a pointer shows. Colours are presentation attributes, which the
dashboard's CSP allows (inline ``style`` is not).
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = ["COLOURS", "hbars", "heat_map", "line", "stacked_bars"]

COLOURS = ("#1b6ca8", "#e07a1f", "#3a9e5c", "#8e5ba6", "#c23b3b", "#6b6b6b")
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def _svg(width: int, height: int, title: str, body: list[str], cls: str) -> Markup:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {cls}" role="img" '
            f'viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMin meet" '
            f'width="100%" {_FONT}><title>{escape(title)}</title>')
    return Markup(head + "".join(body) + "</svg>")


def _nice(top: float) -> float:
    """A round upper bound for an axis (1, 2, 5 x 10^n)."""
    if top <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= top:
        step *= 10
    return next(m * step for m in (1, 2, 5, 10) if m * step >= top)


def stacked_bars(labels: Sequence[str], series: Sequence[tuple[str, Sequence[int]]],
                 title: str) -> Markup:
    """One bar per label, stacked by series (e.g. days x channels), with a legend."""
    width, height, left, bottom = 720, 220, 36, 40
    top = _nice(max((sum(v[i] for _, v in series) for i in range(len(labels))), default=0))
    slot = (width - left - 4) / max(len(labels), 1)
    body = [_axis(left, width, height - bottom, top)]
    for i, label in enumerate(labels):
        y: float = height - bottom
        for k, (name, values) in enumerate(series):
            h = values[i] / top * (height - bottom - 10)
            if values[i]:
                y -= h
                body.append(
                    f'<rect x="{left + i * slot + slot * 0.1:.1f}" y="{y:.1f}" '
                    f'width="{max(slot * 0.8, 0.5):.1f}" height="{h:.1f}" '
                    f'fill="{COLOURS[k % len(COLOURS)]}"><title>{escape(label)}: '
                    f'{escape(name)} {values[i]}</title></rect>')
        if len(labels) <= 31 or i % max(len(labels) // 12, 1) == 0:
            body.append(f'<text x="{left + i * slot:.1f}" y="{height - bottom + 14}">'
                        f'{escape(_short(label, len(labels)))}</text>')
    body.append(_legend([name for name, _ in series], height - 10))
    return _svg(width, height, title, body, "bars")


def _short(label: str, count: int) -> str:
    return label[5:] if count > 1 and len(label) == 10 else label  # 2026-03-14 -> 03-14


def _axis(left: int, width: int, base: float, top: float) -> str:
    return (f'<line x1="{left}" y1="{base}" x2="{width}" y2="{base}" stroke="#999"/>'
            f'<text x="0" y="14">{escape(_number(top))}</text>'
            f'<text x="0" y="{base:.0f}">0</text>')


def _number(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def _legend(names: Sequence[str], y: int) -> str:
    parts = []
    for k, name in enumerate(names):
        x = 40 + k * 130
        parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" '
                     f'fill="{COLOURS[k % len(COLOURS)]}"/>'
                     f'<text x="{x + 14}" y="{y}">{escape(name)}</text>')
    return "".join(parts)


def line(labels: Sequence[str], values: Sequence[float | None], title: str,
         unit: str = "") -> Markup:
    """A line over labels; a None value breaks the line (no data that day)."""
    width, height, left, bottom = 720, 200, 36, 24
    top = _nice(max((v for v in values if v is not None), default=0))
    step = (width - left - 8) / max(len(labels) - 1, 1)
    body = [_axis(left, width, height - bottom, top)]
    path, dots = [], []
    for i, value in enumerate(values):
        if value is None:
            path.append("")
            continue
        x, y = left + i * step, height - bottom - value / top * (height - bottom - 10)
        path.append(f"{x:.1f},{y:.1f}")
        dots.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{COLOURS[0]}">'
                    f'<title>{escape(labels[i])}: {escape(_number(value))}{escape(unit)}'
                    f'</title></circle>')
    for run in " ".join(path).split("  "):
        if run.strip():
            body.append(f'<polyline fill="none" stroke="{COLOURS[0]}" stroke-width="1.5" '
                        f'points="{run.strip()}"/>')
    body.extend(dots)
    if labels:
        body.append(f'<text x="{left}" y="{height - 6}">{escape(labels[0])}</text>'
                    f'<text x="{width - 70}" y="{height - 6}">{escape(labels[-1])}</text>')
    return _svg(width, height, title, body, "line")


def hbars(items: Sequence[tuple[str, float]], title: str, unit: str = "") -> Markup:
    """Horizontal bars, one row per item (distributions, top tags and pages)."""
    row, label_w, width = 22, 260, 720
    height = max(row * len(items) + 6, 28)
    top = _nice(max((v for _, v in items), default=0))
    body = []
    for i, (label, value) in enumerate(items):
        y = 4 + i * row
        w = value / top * (width - label_w - 60)
        text = label if len(label) <= 40 else label[:39] + "\u2026"
        body.append(
            f'<text x="0" y="{y + 14}">{escape(text)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="14" fill="{COLOURS[0]}">'
            f'<title>{escape(label)}: {escape(_number(value))}{escape(unit)}</title></rect>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 14}">{escape(_number(value))}</text>')
    if not items:
        body.append('<text x="0" y="18">Nothing in this range.</text>')
    return _svg(width, height, title, body, "hbars")


def heat_map(cells: Sequence[Sequence[int]], title: str) -> Markup:
    """Seven rows (Monday first) of 24 hours; darker is busier."""
    size, left, top_pad = 26, 40, 18
    width, height = left + 24 * size, top_pad + 7 * size
    peak = max((n for r in cells for n in r), default=0) or 1
    body = [f'<text x="{left + h * size + 4}" y="12">{h:02d}</text>' for h in range(0, 24, 3)]
    for d, hours in enumerate(cells):
        y = top_pad + d * size
        body.append(f'<text x="0" y="{y + 17}">{_WEEKDAYS[d]}</text>')
        for h, n in enumerate(hours):
            body.append(
                f'<rect class="cell" data-day="{d}" data-hour="{h}" data-n="{n}" '
                f'x="{left + h * size}" y="{y}" width="{size - 2}" height="{size - 2}" '
                f'fill="{COLOURS[0]}" fill-opacity="{0.06 + 0.94 * n / peak:.2f}">'
                f'<title>{_WEEKDAYS[d]} {h:02d}:00\u2013{h:02d}:59: {n}</title></rect>')
    return _svg(width, height, title, body, "heat")
