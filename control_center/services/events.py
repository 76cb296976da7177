"""Queries over stored device events."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.models import DeviceEventRecord


def list_events(
    session: Session, *, device_id: str | None = None, type: str | None = None,
    limit: int = 500, offset: int = 0,
) -> list[DeviceEventRecord]:
    query = select(DeviceEventRecord)
    if device_id is not None:
        query = query.where(DeviceEventRecord.device_id == device_id)
    if type is not None:
        query = query.where(DeviceEventRecord.type == type)
    query = query.order_by(DeviceEventRecord.received_at.desc(), DeviceEventRecord.event_id)
    return list(session.scalars(query.limit(limit).offset(offset)))
