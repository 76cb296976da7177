"""The health readings derived from the protocol's HealthSample: none left out anywhere."""

from __future__ import annotations

from sqlalchemy import inspect

from control_center.models import DeviceHealth
from control_center.telemetry import health_fields as hf
from protocol.telemetry import HealthSample


def test_every_field_is_the_identity_or_a_reading_of_one_kind() -> None:
    by_kind = (hf.FLOAT_READINGS, hf.INT_READINGS, hf.BOOL_READINGS, hf.ENUM_READINGS,
               hf.TEXT_READINGS, hf.MAP_READINGS)
    assert sorted(name for kind in by_kind for name in kind) == sorted(hf.READINGS)
    assert (*hf.IDENTITY, *hf.READINGS) == tuple(HealthSample.model_fields)


def test_every_reading_has_a_device_health_column() -> None:
    columns = set(inspect(DeviceHealth).columns.keys())
    assert set(hf.READINGS) <= columns, set(hf.READINGS) - columns


def test_charts_draw_numeric_readings() -> None:
    assert set(hf.CHART_FIELDS) <= {*hf.FLOAT_READINGS, *hf.INT_READINGS}
