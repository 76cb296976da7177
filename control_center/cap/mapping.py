"""From a CAP info block to this center's terms: Circular 39's priority, the units its area
covers, and the bulletin's title and spoken text (docs/cap.md has the tables)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.cap.document import Area, Circle, Info
from control_center.errors import InvalidInput
from control_center.models import AdminUnit, Device, DeviceState
from protocol.base import Priority

GEOCODE_NAMES = frozenset({"unit_code", "ma_dvhc"})
"""The geocode valueNames read as an administrative unit's code (``AdminUnit.code``): this
center's own ``unit_code``, and ``ma_dvhc`` (mã đơn vị hành chính, the national code) for
centers whose unit codes are the national ones. Other geocodes are ignored."""
CONFIDENT = frozenset({"Observed", "Likely"})
TITLE_MAX = 500
EARTH_RADIUS_KM = 6371.0088


def priority_of(info: Info) -> Priority:
    """Extreme + Immediate, Observed or Likely: emergency. Extreme or Severe otherwise:
    priority. Everything else (Moderate, Minor, Unknown): normal."""
    if info.severity == "Extreme" and info.urgency == "Immediate" \
            and info.certainty in CONFIDENT:
        return Priority.EMERGENCY
    if info.severity in ("Extreme", "Severe"):
        return Priority.PRIORITY
    return Priority.NORMAL


def title_of(info: Info) -> str:
    return " ".join((info.headline or info.event).split())[:TITLE_MAX]


def text_of(info: Info, *, limit: int) -> str:
    """What the loudspeakers say: the headline, the description, then the instruction."""
    parts = [" ".join(p.split()) for p in (info.headline or info.event, info.description,
                                           info.instruction) if p.strip()]
    return " ".join(p if p.endswith((".", "!", "?")) else p + "." for p in parts)[:limit]


def inside_polygon(lat: float, lon: float, polygon: tuple[tuple[float, float], ...]) -> bool:
    """Ray casting on (lat, lon) treated as plane coordinates (areas of a province or less)."""
    inside = False
    for (lat1, lon1), (lat2, lon2) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if (lon1 > lon) != (lon2 > lon):
            crossing = lat1 + (lon - lon1) * (lat2 - lat1) / (lon2 - lon1)
            if lat < crossing:
                inside = not inside
    return inside


def inside_circle(lat: float, lon: float, circle: Circle) -> bool:
    """Great-circle (haversine) distance to the centre within the radius."""
    p1, p2 = math.radians(lat), math.radians(circle.lat)
    dp, dl = p2 - p1, math.radians(circle.lon - lon)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a)) <= circle.radius_km


def _covers(area: Area, lat: float, lon: float) -> bool:
    return any(inside_polygon(lat, lon, p) for p in area.polygons) \
        or any(inside_circle(lat, lon, c) for c in area.circles)


def units_of(session: Session, areas: Iterable[Area]) -> set[int]:
    """The units an alert's areas hit: a unit whose code a geocode names; a unit one of whose
    active, located devices lies inside a polygon or circle. 422 for an unknown unit code and
    for an area that hits nothing."""
    areas = list(areas)
    hit: set[int] = set()
    codes = {value for area in areas for name, value in area.geocodes if name in GEOCODE_NAMES}
    if codes:
        found = {code: unit_id for code, unit_id in session.execute(
            select(AdminUnit.code, AdminUnit.id).where(AdminUnit.code.in_(codes)))}
        unknown = sorted(codes - found.keys())
        if unknown:
            raise InvalidInput(f"the area names unit codes this center does not know: "
                               f"{', '.join(unknown)} (geocode valueName unit_code or ma_dvhc)")
        hit |= set(found.values())
    shaped = [a for a in areas if a.polygons or a.circles]
    if shaped:
        located = session.execute(select(Device.lat, Device.lon, Device.unit_id).where(
            Device.state == DeviceState.ACTIVE, Device.lat.is_not(None),
            Device.lon.is_not(None)))
        for lat, lon, unit_id in located:
            if lat is not None and lon is not None and any(_covers(a, lat, lon)
                                                           for a in shaped):
                hit.add(unit_id)
    if not hit:
        raise InvalidInput("the alert's area reaches no unit of this center: no device lies "
                           "inside its polygons or circles and no geocode names a unit "
                           "(valueName unit_code or ma_dvhc)")
    return hit
