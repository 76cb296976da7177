"""Read model of health alerts: list, acknowledge, resolve; scoped to the caller."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.core.actor import Actor
from control_center.core.targets import descendant_unit_ids
from control_center.errors import Conflict, NotFound
from control_center.models import (
    Alert,
    AlertState,
    Device,
)
from control_center.schemas.common import OutputModel


class AlertPublic(OutputModel):
    id: int
    device_id: str
    kind: str
    state: str
    detail: str
    value: float | None
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None


def list_alerts(session: Session, *, state: AlertState | None = None,
                unit_id: int | None = None, device_id: str | None = None,
                limit: int = 500) -> list[AlertPublic]:
    query = select(Alert)
    if state is not None:
        query = query.where(Alert.state == state)
    if device_id is not None:
        query = query.where(Alert.device_id == device_id)
    if unit_id is not None:
        scope = descendant_unit_ids(session, unit_ids=[unit_id])
        query = query.where(Alert.device_id.in_(select(Device.id).where(
            Device.unit_id.in_(scope))))
    query = query.order_by(Alert.opened_at.desc(), Alert.id.desc()).limit(limit)
    return [AlertPublic.model_validate(a) for a in session.scalars(query)]


def set_alert_state(session: Session, *, alert_id: int, state: AlertState, actor: str,
                    now: datetime) -> AlertPublic:
    """Acknowledge or resolve an alert (a resolved alert stays resolved)."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist")
    if alert.state == AlertState.RESOLVED:
        raise Conflict(f"alert {alert_id} is already resolved")
    if state == AlertState.ACKNOWLEDGED and alert.state == AlertState.OPEN:
        alert.state, alert.acknowledged_at, alert.acknowledged_by = state, now, actor[:100]
    elif state == AlertState.RESOLVED:
        alert.state, alert.resolved_at = state, now
    session.commit()
    return AlertPublic.model_validate(alert)



def require_visible_alert(session: Session, *, actor: Actor, alert_id: int) -> None:
    """404 for an alert that does not exist or whose device lies outside the caller's subtree."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist")
    device = session.get(Device, alert.device_id)
    actor.require_unit(device.unit_id if device else None, what=f"alert {alert_id}")
