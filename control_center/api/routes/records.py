"""Read-only records: proof of play, device events, the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from control_center.api.deps import SessionDep
from control_center.api.presenters import audit_public, event_public
from control_center.models import PlayStatus
from control_center.schemas.common import ItemList
from control_center.schemas.records import AuditPublic, EventPublic, PlayPublic
from control_center.services import audit, events, plays

router = APIRouter(tags=["records"])

Limit = Annotated[int, Query(ge=1, le=5000)]
Offset = Annotated[int, Query(ge=0)]


@router.get("/plays", response_model=ItemList[PlayPublic])
def list_plays(
    session: SessionDep, device_id: str | None = None, schedule_id: int | None = None,
    bulletin_id: int | None = None, status: PlayStatus | None = None,
    limit: Limit = 500, offset: Offset = 0,
) -> ItemList[PlayPublic]:
    """Play log rows ordered by scheduled time."""
    rows = plays.list_plays(session, device_id=device_id, schedule_id=schedule_id,
                            bulletin_id=bulletin_id, status=status, limit=limit, offset=offset)
    return ItemList.of([PlayPublic.model_validate(r) for r in rows])


@router.get("/events", response_model=ItemList[EventPublic])
def list_events(
    session: SessionDep, device_id: str | None = None, type: str | None = None,
    limit: Limit = 500, offset: Offset = 0,
) -> ItemList[EventPublic]:
    """Device events, newest first, each stored once (keyed by event_id)."""
    rows = events.list_events(session, device_id=device_id, type=type, limit=limit,
                              offset=offset)
    return ItemList.of([event_public(r) for r in rows])


@router.get("/audit", response_model=ItemList[AuditPublic])
def list_audit(
    session: SessionDep, object_type: str | None = None, actor: str | None = None,
    object_id: str | None = None, limit: Limit = 500, offset: Offset = 0,
) -> ItemList[AuditPublic]:
    """The append-only audit log, newest first."""
    rows = audit.list_entries(session, object_type=object_type, actor=actor,
                              object_id=object_id, limit=limit, offset=offset)
    return ItemList.of([audit_public(r) for r in rows])
