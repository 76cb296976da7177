"""The device map: projection fitted inside the margins, north up, escaped labels."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from control_center.web.console.device_map import (
    STATUS_COLOURS,
    MapPoint,
    draw_map,
    project,
)

SVG = "{http://www.w3.org/2000/svg}"


def _point(id_: str, lat: float, lon: float, status: str = "online", unit: int = 1,
           name: str = "Loa") -> MapPoint:
    return MapPoint(id=id_, name=name, lat=lat, lon=lon, status=status, unit_id=unit,
                    unit_name=f"Xã {unit}")


def test_points_fill_the_box_inside_the_margins_with_north_up() -> None:
    points = [_point("sw", 21.00, 105.80), _point("ne", 21.10, 105.95),
              _point("mid", 21.05, 105.875)]
    xy = project(points, width=800, height=400, margin=40)
    for x, y in xy.values():
        assert 40 - 1e-6 <= x <= 760 + 1e-6 and 40 - 1e-6 <= y <= 360 + 1e-6
    assert xy["ne"][1] < xy["sw"][1]  # north is up
    assert xy["ne"][0] > xy["sw"][0]  # east is right
    # the middle point lands in the middle: same scale on both axes, centred
    assert xy["mid"] == pytest.approx((400, 200), abs=1e-6)
    # one axis touches its margins; equal scale: dx/dy matches lon*cos(lat) over lat
    dx, dy = xy["ne"][0] - xy["sw"][0], xy["sw"][1] - xy["ne"][1]
    k = math.cos(math.radians(21.05))
    assert dx / dy == pytest.approx(0.15 * k / 0.10, rel=1e-9)
    assert dy == pytest.approx(320) or dx == pytest.approx(720)


def test_a_single_device_is_centred_and_no_division_by_zero() -> None:
    xy = project([_point("only", 21.0, 105.8)], width=600, height=300, margin=20)
    assert xy["only"] == pytest.approx((300, 150))
    xy = project([_point("a", 21.0, 105.8), _point("b", 21.0, 105.8)], width=600, height=300,
                 margin=20)
    assert xy["a"] == xy["b"] == pytest.approx((300, 150))


def test_svg_has_one_circle_per_device_coloured_by_status_with_tooltips() -> None:
    points = [_point("loa-1", 21.0, 105.8, "online", 1), _point("loa-2", 21.02, 105.83,
                                                                 "offline", 2),
              _point("loa-3", 21.05, 105.9, "never", 2, name='<script>"x"</script>')]
    svg = draw_map(points)
    root = ET.fromstring(svg)  # well-formed XML: every text escaped
    circles = root.findall(f".//{SVG}circle")
    assert len(circles) == 3
    fills = {c.get("class"): c.get("fill") for c in circles}
    assert fills == {"dev dev-online": STATUS_COLOURS["online"],
                     "dev dev-offline": STATUS_COLOURS["offline"],
                     "dev dev-never": STATUS_COLOURS["never"]}
    titles = [c.find(f"{SVG}title").text for c in circles]  # type: ignore[union-attr]
    assert any(t and '<script>"x"</script>' in t and "loa-3" in t for t in titles)
    assert "<script>" not in svg
    labels = {t.text for t in root.findall(f".//{SVG}g[@class='device']/{SVG}text")}
    assert labels == {"loa-1", "loa-2", "loa-3"}
    legend = {t.text for t in root.findall(f".//{SVG}g[@class='legend-unit']/{SVG}text")}
    assert legend == {"Xã 1", "Xã 2"}
    units_stroke = {c.get("stroke") for c in circles}
    assert len(units_stroke) == 2  # ringed by unit
    scale = root.find(f".//{SVG}g[@class='scale']/{SVG}text")
    assert scale is not None and scale.text and scale.text.endswith(("km", "m"))


def test_scale_bar_measures_real_distance() -> None:
    # two points 0.1 degree of longitude apart at the equator: about 11.1 km
    points = [_point("a", 0.0, 100.0), _point("b", 0.0, 100.1)]
    root = ET.fromstring(draw_map(points, width=800, height=400, margin=40))
    line = root.find(f".//{SVG}g[@class='scale']/{SVG}line")
    label = root.find(f".//{SVG}g[@class='scale']/{SVG}text")
    assert line is not None and label is not None and label.text is not None
    length_px = float(line.get("x2", "0")) - float(line.get("x1", "0"))
    km = float(label.text.split()[0]) / (1000 if label.text.endswith(" m") else 1)
    px_per_km = 720 / 11.132
    assert length_px == pytest.approx(km * px_per_km, rel=1e-3)
    assert length_px <= 800 / 4 + 1
