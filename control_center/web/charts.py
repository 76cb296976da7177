"""SVG charts drawn on the server: a line chart of a health field, a timeline of plays."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from html import escape

from markupsafe import Markup

W, H = 640, 180
PAD_L, PAD_R, PAD_T, PAD_B = 52, 12, 24, 30
PLAY_COLOURS = {"completed": "#1a7f37", "interrupted": "#bf8700", "failed": "#cf222e",
                "started": "#0969da", "scheduled": "#8c959f", "cancelled": "#d0d7de",
                "shown": "#8250df"}  # a kiosk's text notice


def _fmt(value: float, span: float = 10.0) -> str:
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.2f}" if span < 2 else f"{value:.1f}"


def _time_label(at: datetime, tz: tzinfo) -> str:
    return at.astimezone(tz).strftime("%H:%M %d/%m")


def line_chart(points: Sequence[tuple[datetime, float]], *, title: str, unit: str, tz: tzinfo,
               key: str, threshold: float | None = None) -> Markup:
    """A polyline of (instant, value); y axis from the data (and the threshold, if any)."""
    label = escape(f"{title} ({unit})" if unit else title)
    head = (f'<svg class="chart" data-field="{escape(key)}" data-points="{len(points)}" '
            f'role="img" aria-label="{label}" viewBox="0 0 {W} {H}" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{label}</title>'
            f'<text x="{PAD_L}" y="15" class="chart-title">{label}</text>')
    if not points:
        return Markup(head + f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" '
                      'class="chart-empty">Chưa có số liệu / no data</text></svg>')
    t0, t1 = points[0][0].timestamp(), points[-1][0].timestamp()
    values = [v for _, v in points] + ([threshold] if threshold is not None else [])
    lo, hi = min(values), max(values)
    if hi - lo < 1e-9:
        lo, hi = lo - 1.0, hi + 1.0
    span = hi - lo
    lo, hi = lo - span * 0.08, hi + span * 0.08
    plot_w, plot_h = W - PAD_L - PAD_R, H - PAD_T - PAD_B

    def x(t: float) -> float:
        return PAD_L + (plot_w * (t - t0) / (t1 - t0) if t1 > t0 else plot_w / 2)

    def y(v: float) -> float:
        return PAD_T + plot_h * (hi - v) / (hi - lo)

    parts = [head,
             f'<rect x="{PAD_L}" y="{PAD_T}" width="{plot_w}" height="{plot_h}" class="plot"/>']
    for v in (lo + (hi - lo) * k / 4 for k in range(5)):
        parts.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                     f'class="grid"/><text x="{PAD_L - 4}" y="{y(v) + 4:.1f}" '
                     f'text-anchor="end" class="tick">{_fmt(v, hi - lo)}</text>')
    if threshold is not None:
        parts.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y(threshold):.1f}" '
                     f'y2="{y(threshold):.1f}" class="threshold"/>')
    coords = " ".join(f"{x(at.timestamp()):.1f},{y(v):.1f}" for at, v in points)
    parts.append(f'<polyline points="{coords}" class="line"/>')
    if len(points) == 1:
        parts.append(f'<circle cx="{x(t0):.1f}" cy="{y(points[0][1]):.1f}" r="3" class="dot"/>')
    last = points[-1][1]
    parts.append(f'<text x="{W - PAD_R}" y="15" text-anchor="end" class="chart-last">'
                 f'{escape(_fmt(last))} {escape(unit)}</text>')
    parts.append(f'<text x="{PAD_L}" y="{H - 8}" class="tick">'
                 f'{escape(_time_label(points[0][0], tz))}</text>')
    parts.append(f'<text x="{W - PAD_R}" y="{H - 8}" text-anchor="end" class="tick">'
                 f'{escape(_time_label(points[-1][0], tz))}</text></svg>')
    return Markup("".join(parts))


def plays_chart(plays: Sequence[tuple[datetime, str, str]], *, start: datetime, end: datetime,
                tz: tzinfo) -> Markup:
    """One bar per play at its scheduled instant, coloured by outcome: (at, status, label)."""
    label = "Lượt phát / plays"
    h = 90
    parts = [f'<svg class="chart plays" data-points="{len(plays)}" role="img" '
             f'aria-label="{label}" viewBox="0 0 {W} {h}" xmlns="http://www.w3.org/2000/svg">'
             f'<title>{label}</title><text x="{PAD_L}" y="15" class="chart-title">{label}</text>',
             f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="55" y2="55" class="grid"/>']
    t0, t1 = start.timestamp(), end.timestamp()
    plot_w = W - PAD_L - PAD_R
    for at, status, text in plays:
        t = min(max(at.timestamp(), t0), t1)
        px = PAD_L + plot_w * (t - t0) / (t1 - t0 if t1 > t0 else 1)
        colour = PLAY_COLOURS.get(status, "#57606a")
        parts.append(f'<rect x="{px - 2:.1f}" y="30" width="4" height="25" fill="{colour}" '
                     f'class="play play-{escape(status)}"><title>{escape(text)}</title></rect>')
    legend_x = PAD_L
    for status, name in (("completed", "hoàn thành"), ("failed", "lỗi"),
                         ("interrupted", "bị ngắt"), ("scheduled", "chưa báo cáo")):
        parts.append(f'<rect x="{legend_x}" y="68" width="10" height="10" '
                     f'fill="{PLAY_COLOURS[status]}"/><text x="{legend_x + 14}" y="77" '
                     f'class="tick">{name}</text>')
        legend_x += 120
    parts.append(f'<text x="{PAD_L}" y="{h - 1}" class="tick">{escape(_time_label(start, tz))}'
                 f'</text><text x="{W - PAD_R}" y="{h - 1}" text-anchor="end" class="tick">'
                 f'{escape(_time_label(end, tz))}</text></svg>')
    return Markup("".join(parts))


def bar_chart(bars: Sequence[tuple[str, float]], *, title: str, unit: str, key: str,
              top: float | None = None, colours: Sequence[str] = ()) -> Markup:
    """Horizontal bars, one per (label, value), scaled to ``top`` (default the largest)."""
    label = escape(f"{title} ({unit})" if unit else title)
    row_h, label_w = 22, 200
    h = PAD_T + 8 + row_h * max(len(bars), 1)
    parts = [f'<svg class="chart bars" data-field="{escape(key)}" data-points="{len(bars)}" '
             f'role="img" aria-label="{label}" viewBox="0 0 {W} {h}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{label}</title>'
             f'<text x="{PAD_L}" y="15" class="chart-title">{label}</text>']
    if not bars:
        parts.append(f'<text x="{W / 2}" y="{PAD_T + 18}" text-anchor="middle" '
                     'class="chart-empty">Chưa có số liệu / no data</text></svg>')
        return Markup("".join(parts))
    scale = top if top is not None else max(v for _, v in bars)
    plot_w = W - label_w - PAD_R - 60
    for n, (name, value) in enumerate(bars):
        y = PAD_T + 8 + n * row_h
        width = plot_w * value / scale if scale > 0 else 0.0
        colour = colours[n % len(colours)] if colours else "#0969da"
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" class="tick">'
                     f'{escape(name[:32])}</text><rect x="{label_w}" y="{y + 3}" '
                     f'width="{max(width, 0.0):.1f}" height="{row_h - 6}" fill="{colour}" '
                     f'class="bar"><title>{escape(name)}: {escape(_fmt(value))}</title></rect>'
                     f'<text x="{label_w + max(width, 0.0) + 4:.1f}" y="{y + 14}" class="tick">'
                     f'{escape(_fmt(value))} {escape(unit)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
