"""The names of the health readings, derived once from ``protocol.telemetry.HealthSample``.

A sample is its identity (``sample_id``, ``at``) plus readings: every other field of the
model, in the model's order. ``lineproto`` writes each reading to InfluxDB as the field type
its value type gives (schema in docs/telemetry.md), ``monitor`` keeps the latest of each in
``device_health`` and ``fleet_overview`` shows those its ``DeviceSummary`` declares, so a
reading added to the protocol needs a column (and a summary field), no list. Only the charted
readings are a choice. A map reading (``heartbeats``: loop name to seconds) is one JSON column
in SQL and one float field per entry in InfluxDB, named by its ``MAP_FIELDS`` pattern.
"""

from __future__ import annotations

import re
import types
from enum import Enum
from typing import Literal, Union, get_args, get_origin

from protocol.telemetry import HealthSample

FieldKind = Literal["bool", "enum", "int", "float", "text", "map"]
_KIND_OF: tuple[tuple[FieldKind, type], ...] = (
    # bool before int and enums before str: a bool is an int, a StrEnum is a str
    ("bool", bool), ("enum", Enum), ("int", int), ("float", float), ("text", str),
)

IDENTITY = ("sample_id", "at")
"""The fields that name the sample rather than measure the device."""

MAP_FIELDS = {"heartbeats": "hb_{key}_s"}
"""The InfluxDB field name of each entry of a map reading (a name to a float)."""
MAP_KEY = re.compile(r"[a-z][a-z0-9_]{0,31}")
"""The map keys written to InfluxDB; others are left out (field keys stay few and safe)."""


def _kind(name: str) -> FieldKind:
    """The kind of a field's value, ``| None`` set aside."""
    annotation = HealthSample.model_fields[name].annotation
    if get_origin(annotation) is dict and name in MAP_FIELDS:
        return "map"
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    for kind, base in _KIND_OF:
        if isinstance(annotation, type) and issubclass(annotation, base):
            return kind
    raise TypeError(f"HealthSample.{name}: no InfluxDB field type for {annotation!r}")


READINGS = tuple(name for name in HealthSample.model_fields if name not in IDENTITY)
"""Every reading, in the model's order."""
_KINDS = {name: _kind(name) for name in READINGS}
FLOAT_READINGS = tuple(name for name in READINGS if _KINDS[name] == "float")
INT_READINGS = tuple(name for name in READINGS if _KINDS[name] == "int")
BOOL_READINGS = tuple(name for name in READINGS if _KINDS[name] == "bool")
ENUM_READINGS = tuple(name for name in READINGS if _KINDS[name] == "enum")
"""Stored by value (a string)."""
TEXT_READINGS = tuple(name for name in READINGS if _KINDS[name] == "text")
MAP_READINGS = tuple(name for name in READINGS if _KINDS[name] == "map")
"""Name-to-float maps, one InfluxDB field per entry (``MAP_FIELDS``)."""


def map_field(reading: str, key: str) -> str | None:
    """The InfluxDB field of one map entry (``hb_player_s``), None for a key left out."""
    return MAP_FIELDS[reading].format(key=key) if MAP_KEY.fullmatch(key) else None

CHART_FIELDS = ("cpu_temp_c", "disk_free_pct", "signal_dbm", "load1", "mem_used_pct",
                "clock_offset_ms")
"""The numeric readings the device page charts, in the order it draws them (the API lists
them in this order too)."""
