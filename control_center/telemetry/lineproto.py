"""InfluxDB line protocol for health samples and play events (schema in docs/telemetry.md).

Tags are bounded: device id, administrative unit id, device kind, and for plays the outcome
and priority (enums). Free text (reasons, versions, ids of samples and items) goes in fields.
Each point carries the device's own instant, so a re-delivered sample or event is the same
series and timestamp again and InfluxDB overwrites it: exactly once in the database.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from control_center.telemetry.health_fields import (
    BOOL_READINGS,
    ENUM_READINGS,
    FLOAT_READINGS,
    INT_READINGS,
    MAP_READINGS,
    TEXT_READINGS,
    map_field,
)
from protocol.events import PlayCompleted, PlayEvent, PlayFailed, PlayInterrupted, PlayStarted
from protocol.telemetry import HealthSample

HEALTH = "health"
PLAY = "play"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})


def ns(at: datetime) -> int:
    """Nanoseconds since the epoch, exact to the microsecond (no float rounding)."""
    return ((at - _EPOCH) // _US) * 1000


def tag(value: str) -> str:
    return value.translate(_TAG_ESCAPES)


def string_field(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def series_tags(device_id: str, kind: str, unit_id: int) -> str:
    """``,device_id=…,kind=…,unit_id=…`` (keys sorted, as InfluxDB stores them)."""
    return f",device_id={tag(device_id)},kind={tag(kind)},unit_id={unit_id}"


def health_line(sample: HealthSample, tags: str) -> str:
    values = sample.__dict__  # plain attribute reads: this runs for every sample
    fields = [f"{name}={value!r}" for name in FLOAT_READINGS
              if (value := values[name]) is not None and math.isfinite(value)]
    fields += [f"{name}={value}i" for name in INT_READINGS if (value := values[name]) is not None]
    fields += [f"{name}={'true' if value else 'false'}" for name in BOOL_READINGS
               if (value := values[name]) is not None]
    fields += [f"{name}={string_field(value.value)}" for name in ENUM_READINGS
               if (value := values[name]) is not None]
    fields += [f"{name}={string_field(value)}" for name in TEXT_READINGS
               if (value := values[name]) is not None]
    fields += [f"{field}={float(value)!r}" for name in MAP_READINGS
               for key, value in values[name].items()
               if (field := map_field(name, key)) is not None and math.isfinite(value)]
    fields.append(f'sample_id={string_field(values["sample_id"])}')
    return f"{HEALTH}{tags} {','.join(fields)} {ns(values['at'])}"


def play_line(event: PlayEvent, tags: str) -> str:
    outcome = event.type.removeprefix("play_")
    fields = [f"item_id={string_field(event.item_id[:200])}", f"bulletin_id={event.bulletin_id}i",
              f"event_id={string_field(event.event_id)}"]
    at = event.at
    if isinstance(event, PlayStarted | PlayCompleted | PlayInterrupted):
        at = event.started_at
        late = (event.started_at - event.scheduled_at) / timedelta(milliseconds=1)
        fields.append(f"late_ms={float(late)!r}")
    if isinstance(event, PlayCompleted | PlayInterrupted):
        fields.append(f"duration_s={(event.ended_at - event.started_at).total_seconds()!r}")
    if isinstance(event, PlayInterrupted | PlayFailed):
        fields.append(f"reason={string_field(event.reason[:200])}")
    return (f"{PLAY}{tags},outcome={outcome},priority={event.priority.value} "
            f"{','.join(fields)} {ns(at)}")
