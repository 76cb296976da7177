"""An SVG map of device positions, drawn on the center (no internet tiles).

Positions are projected with an equirectangular projection around the middle latitude (fine
at the size of a province), fitted to the picture with margins and the same scale on both
axes. Each device is a circle filled by its status and ringed in its unit's colour, with a
``<title>`` tooltip and its id as a label. A legend of units and statuses (square swatches:
every circle is a device) and a scale bar sit under the map.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

STATUS_COLOURS = {"online": "#1a7f37", "silent": "#bf8700", "offline": "#cf222e",
                  "never": "#8c959f"}
STATUS_LABELS = {"online": "Trực tuyến / online", "silent": "Im lặng / silent",
                 "offline": "Mất kết nối / offline", "never": "Chưa kết nối / never seen"}
UNIT_COLOURS = ("#0969da", "#8250df", "#bc4c00", "#1b7c83", "#bf3989", "#4d2d00", "#116329",
                "#6e7781")
KM_PER_DEGREE = 111.32
MIN_SPAN_DEG = 0.01  # about a kilometre: one device, or devices on one spot, stay centred
_LEGEND_ROW = 20


@dataclass(frozen=True, slots=True)
class MapPoint:
    """One device with a position."""

    id: str
    name: str
    lat: float
    lon: float
    status: str  # online | silent | offline | never
    unit_id: int
    unit_name: str
    tooltip: str = ""


def project(
    points: Sequence[MapPoint], *, width: float, height: float, margin: float
) -> dict[str, tuple[float, float]]:
    """Picture coordinates (x right, y down) of each point, fitted inside the margins."""
    if not points:
        return {}
    mid_lat = math.radians((min(p.lat for p in points) + max(p.lat for p in points)) / 2)
    k = math.cos(mid_lat)
    xs = [p.lon * k for p in points]
    ys = [p.lat for p in points]
    span_x = max(max(xs) - min(xs), MIN_SPAN_DEG * k)
    span_y = max(max(ys) - min(ys), MIN_SPAN_DEG)
    scale = min((width - 2 * margin) / span_x, (height - 2 * margin) / span_y)
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    return {p.id: (width / 2 + (x - cx) * scale, height / 2 - (y - cy) * scale)
            for p, x, y in zip(points, xs, ys, strict=True)}


def _scale_bar(points: Sequence[MapPoint], coords: dict[str, tuple[float, float]],
               width: float) -> tuple[float, str] | None:
    """(length in px, label) of a round distance about a quarter of the width, if known."""
    if len(points) < 2:
        return None
    a, b = points[0], max(points, key=lambda p: abs(coords[p.id][0] - coords[points[0].id][0]))
    px = abs(coords[b.id][0] - coords[a.id][0])
    mid = math.radians((a.lat + b.lat) / 2)
    km = abs(b.lon - a.lon) * KM_PER_DEGREE * math.cos(mid)
    if px < 1 or km <= 0:
        return None
    target = km * (width / 4) / px
    nice = 10 ** math.floor(math.log10(target))
    for step in (5, 2, 1):
        if step * nice <= target:
            nice *= step
            break
    label = f"{nice:g} km" if nice >= 1 else f"{nice * 1000:g} m"
    return nice * px / km, label


def draw_map(points: Sequence[MapPoint], *, width: int = 760, height: int = 420,
             margin: int = 40) -> str:
    """The SVG markup (safe to embed: every text is escaped)."""
    coords = project(points, width=width, height=height, margin=margin)
    units = sorted({(p.unit_id, p.unit_name) for p in points})
    unit_colour = {u: UNIT_COLOURS[i % len(UNIT_COLOURS)] for i, (u, _) in enumerate(units)}
    statuses = [s for s in STATUS_COLOURS if any(p.status == s for p in points)]
    rows = max(len(units), len(statuses), 1)
    total_h = height + 16 + rows * _LEGEND_ROW
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="device-map" role="img" '
           f'viewBox="0 0 {width} {total_h}" width="100%" '
           f'aria-label="Bản đồ thiết bị / device map ({len(points)})">',
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f0f6fc" '
           'stroke="#d0d7de"/>']
    for p in sorted(points, key=lambda p: (p.status != "offline", p.id)):
        x, y = coords[p.id]
        tip = p.tooltip or f"{p.name} ({p.id}) · {p.unit_name} · {STATUS_LABELS.get(p.status)}"
        out.append(
            f'<g class="device" data-device="{escape(p.id)}" data-status="{escape(p.status)}">'
            f'<circle class="dev dev-{escape(p.status)}" cx="{x:.1f}" cy="{y:.1f}" r="7" '
            f'fill="{STATUS_COLOURS.get(p.status, "#8c959f")}" '
            f'stroke="{unit_colour[p.unit_id]}" stroke-width="3">'
            f'<title>{escape(tip)}</title></circle>'
            f'<text x="{x + 10:.1f}" y="{y + 4:.1f}" font-size="12" fill="#1f2328">'
            f'{escape(p.id)}</text></g>')
    if (bar := _scale_bar(points, coords, width)) is not None:
        length, label = bar
        y0 = height - 14
        out.append(f'<g class="scale"><line x1="12" y1="{y0}" x2="{12 + length:.1f}" '
                   f'y2="{y0}" stroke="#1f2328" stroke-width="2"/>'
                   f'<text x="12" y="{y0 - 5}" font-size="11">{escape(label)}</text></g>')
    top = height + 16
    for i, (unit_id, name) in enumerate(units):
        y = top + i * _LEGEND_ROW
        out.append(f'<g class="legend-unit"><rect x="8" y="{y - 6}" width="12" height="12" '
                   f'rx="3" fill="#fff" stroke="{unit_colour[unit_id]}" stroke-width="3"/>'
                   f'<text x="26" y="{y + 4}" font-size="12">{escape(name)}</text></g>')
    for i, status in enumerate(statuses):
        y = top + i * _LEGEND_ROW
        x = width / 2
        out.append(f'<g class="legend-status"><rect x="{x + 8:.0f}" y="{y - 6}" width="12" '
                   f'height="12" rx="6" fill="{STATUS_COLOURS[status]}"/>'
                   f'<text x="{x + 26:.0f}" y="{y + 4}" font-size="12">'
                   f'{escape(STATUS_LABELS[status])}</text></g>')
    out.append("</svg>")
    return "".join(out)
