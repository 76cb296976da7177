"""Device availability: the share of the period each device was heard, from its health samples
in InfluxDB.

The period is cut into buckets of ``bucket_s`` seconds (the center's silence threshold,
``TT_SILENCE_SECONDS``: a device not heard for that long is silent), counted from the Unix
epoch; a device is available in a bucket when a health sample stamped inside it was stored.
Its share = buckets with a sample / buckets of the period from the device's registration (or
the period's start) to the period's end (or now). A unit's share pools its devices' buckets."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.effectiveness.figures import UnitFigures
from control_center.models import Device, DeviceState
from control_center.telemetry.queries import InfluxReader, InfluxUnavailable

NO_INFLUX = ("Chưa cấu hình InfluxDB (TT_INFLUX_URL): không có số liệu / InfluxDB is not "
             "configured: no data")


def buckets_between(start: datetime, end: datetime, bucket_ms: int) -> int:
    """Epoch-aligned buckets of ``bucket_ms`` that [start, end) touches (0 if empty)."""
    lo, hi = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    return 0 if hi <= lo else (hi - 1) // bucket_ms - lo // bucket_ms + 1


def add_availability(session: Session, *, own: Mapping[int, UnitFigures],
                     reader: InfluxReader | None, start: datetime, end: datetime,
                     now: datetime, bucket_s: float) -> str | None:
    """Count each unit's own active devices and their buckets (heard, expected) into ``own``;
    return None, or a note saying why there are no figures."""
    devices = session.execute(select(Device.id, Device.unit_id, Device.created_at).where(
        Device.unit_id.in_(list(own)), Device.state == DeviceState.ACTIVE))
    listed = list(devices)
    for _, unit_id, _ in listed:
        own[unit_id].devices += 1
    if reader is None:
        return NO_INFLUX
    stop = min(end, now)
    bucket_ms = max(1, int(bucket_s * 1000))
    try:
        heard = reader.reported_buckets(start=start, end=stop, bucket_ms=bucket_ms) \
            if stop > start else {}
    except InfluxUnavailable as exc:
        return f"InfluxDB không trả lời: không có số liệu / InfluxDB did not answer: {exc}"
    for device_id, unit_id, created_at in listed:
        expected = buckets_between(max(start, created_at), stop, bucket_ms)
        own[unit_id].buckets_heard += min(heard.get(device_id, 0), expected)
        own[unit_id].buckets_expected += expected
    return None
