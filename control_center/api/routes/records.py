"""Read-only records: proof of play, device events, the audit log.

Each answers only what lies inside the caller's subtree: plays and events of its devices, and
the audit entries it may read (``services.audit.visible_to``). The audit log is append-only:
there is no route to change or delete an entry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import Select, select

from control_center.api.deps import ActorDep, CenterDep, NowDep, SessionDep
from control_center.api.presenters import audit_public, event_public
from control_center.core import audit
from control_center.core.actor import Actor
from control_center.errors import InvalidInput
from control_center.models import Device, PlayStatus
from control_center.schemas.common import ItemList
from control_center.schemas.records import AuditPublic, EventPublic, PlayPublic
from control_center.services import audit_export, events, plays

router = APIRouter(tags=["records"])

Limit = Annotated[int, Query(ge=1, le=5000)]
Offset = Annotated[int, Query(ge=0)]


def _scoped_devices(actor: Actor, device_id: str | None) -> Select[str] | None:
    """The device ids the caller may read about (one, when ``device_id`` is given); None: all."""
    if actor.scope is None and device_id is None:
        return None
    query = select(Device.id)
    if actor.scope is not None:
        query = query.where(Device.unit_id.in_(sorted(actor.scope)))
    if device_id is not None:
        query = query.where(Device.id == device_id)
    return query


@router.get("/plays", response_model=ItemList[PlayPublic])
def list_plays(
    session: SessionDep, actor: ActorDep, device_id: str | None = None,
    schedule_id: int | None = None, bulletin_id: int | None = None,
    status: PlayStatus | None = None, limit: Limit = 500, offset: Offset = 0,
) -> ItemList[PlayPublic]:
    """Play log rows of your subtree's devices, ordered by scheduled time."""
    rows = plays.list_plays(session, devices=_scoped_devices(actor, device_id),
                            schedule_id=schedule_id, bulletin_id=bulletin_id, status=status,
                            limit=limit, offset=offset)
    return ItemList.of([PlayPublic.model_validate(r) for r in rows])


@router.get("/events", response_model=ItemList[EventPublic])
def list_events(
    session: SessionDep, actor: ActorDep, device_id: str | None = None,
    type: str | None = None, limit: Limit = 500, offset: Offset = 0,
) -> ItemList[EventPublic]:
    """Events of your subtree's devices, newest first, each stored once (keyed by event_id)."""
    rows = events.list_events(session, devices=_scoped_devices(actor, device_id), type=type,
                              limit=limit, offset=offset)
    return ItemList.of([event_public(r) for r in rows])


@router.get("/audit", response_model=ItemList[AuditPublic],
            responses={200: {"content": {"text/csv": {}},
                             "description": "with format=csv: the same rows as CSV"}})
def list_audit(
    session: SessionDep, center: CenterDep, actor: ActorDep, now: NowDep,
    object_type: str | None = None,
    actor_name: Annotated[str | None, Query(alias="actor")] = None,
    object_id: str | None = None, action: str | None = None,
    date_from: Annotated[str | None, Query(description="local day YYYY-MM-DD")] = None,
    date_to: Annotated[str | None, Query(description="local day YYYY-MM-DD, included")] = None,
    since: Annotated[datetime | None, Query(description="UTC instant, included")] = None,
    until: Annotated[datetime | None, Query(description="UTC instant, excluded")] = None,
    flagged: bool = False, format: Literal["json", "csv"] = "json",
    limit: Limit = 500, offset: Offset = 0,
) -> ItemList[AuditPublic] | Response:
    """The append-only audit log, newest first, limited to entries you may read (needs the
    audit permission). ``format=csv`` answers a CSV file of the same rows (up to 50,000)."""
    flt, errors = audit_export.parse_filter(
        actor=actor_name, action=action, object_type=object_type, object_id=object_id,
        date_from=date_from, date_to=date_to, flagged="1" if flagged else None)
    if errors:
        raise InvalidInput("; ".join(f"{k}: {v}" for k, v in errors.items()))
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{name} needs a time zone, e.g. 2026-01-31T00:00:00Z")
    tz = ZoneInfo(center.settings.timezone)
    start, end = audit_export.utc_range(flt, tz)
    start = max(filter(None, (start, since)), default=None)
    end = min(filter(None, (end, until)), default=None)
    csv_out = format == "csv"
    rows = audit.list_entries(
        session, actor=flt.actor, action=flt.action, object_type=flt.object_type,
        object_id=flt.object_id, since=start, until=end, flagged_only=flt.flagged_only,
        viewer=actor, limit=audit_export.EXPORT_LIMIT if csv_out else limit, offset=offset)
    if csv_out:
        name = audit_export.filename(now, tz)
        return Response(audit_export.to_csv(rows, tz), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return ItemList.of([audit_public(r) for r in rows])
