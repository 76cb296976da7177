"""Queries over stored device events."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from control_center.models import DeviceEventRecord


def list_events(
    session: Session, *, devices: Select[str] | None = None, type: str | None = None,
    limit: int = 500, offset: int = 0,
) -> list[DeviceEventRecord]:
    """Events newest first; ``devices`` selects the device ids to include."""
    query = select(DeviceEventRecord)
    if devices is not None:
        query = query.where(DeviceEventRecord.device_id.in_(devices))
    if type is not None:
        query = query.where(DeviceEventRecord.type == type)
    query = query.order_by(DeviceEventRecord.received_at.desc(), DeviceEventRecord.event_id)
    return list(session.scalars(query.limit(limit).offset(offset)))
