"""Bulletins: what is broadcast (recorded audio or text) and how urgently."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from control_center.errors import InvalidInput, NotFound
from control_center.models import Bulletin, BulletinKind, Schedule
from control_center.schemas.content import BulletinCreate, BulletinUpdate
from control_center.services import audit, media_store
from control_center.services.targets import schedule_devices


def get_bulletin(session: Session, *, bulletin_id: int) -> Bulletin:
    bulletin = session.get(Bulletin, bulletin_id)
    if bulletin is None:
        raise NotFound(f"bulletin {bulletin_id} does not exist")
    return bulletin


def list_bulletins(session: Session, *, limit: int = 500, offset: int = 0) -> list[Bulletin]:
    query = select(Bulletin).order_by(Bulletin.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(query))


def _check_content(
    session: Session, *, kind: BulletinKind, media_sha256: str | None, text: str | None
) -> None:
    if kind == BulletinKind.AUDIO:
        if not media_sha256:
            raise InvalidInput("an audio bulletin needs media_sha256 (upload with POST /media)")
        media_store.require_ready(session, sha256=media_sha256)
    elif kind == BulletinKind.TEXT and not text:
        raise InvalidInput("a text bulletin needs a non-empty text")


def create_bulletin(
    session: Session, *, data: BulletinCreate, actor: audit.Actor, now: datetime
) -> Bulletin:
    _check_content(session, kind=data.kind, media_sha256=data.media_sha256, text=data.text)
    bulletin = Bulletin(
        title=data.title, category=data.category, priority=data.priority, kind=data.kind,
        media_sha256=data.media_sha256, text=data.text, created_at=now, updated_at=now,
    )
    session.add(bulletin)
    session.flush()
    audit.record(session, actor=actor, action="create", object_type="bulletin",
                 object_id=bulletin.id, detail=data.model_dump(mode="json"), at=now)
    session.commit()
    return bulletin


def update_bulletin(
    session: Session, *, bulletin_id: int, data: BulletinUpdate, actor: audit.Actor,
    now: datetime,
) -> tuple[Bulletin, set[str]]:
    """Apply the given fields; returns the bulletin and the devices whose manifests change."""
    bulletin = get_bulletin(session, bulletin_id=bulletin_id)
    changes = data.model_dump(exclude_unset=True)
    for name in ("title", "category", "priority"):
        if changes.get(name) is None and name in changes:
            raise InvalidInput(f"{name} cannot be null")
    for name, value in changes.items():
        setattr(bulletin, name, value)
    _check_content(session, kind=bulletin.kind, media_sha256=bulletin.media_sha256,
                   text=bulletin.text)
    bulletin.updated_at = now
    audit.record(session, actor=actor, action="update", object_type="bulletin",
                 object_id=bulletin.id, detail=data.model_dump(mode="json", exclude_unset=True),
                 at=now)
    schedules = list(session.scalars(
        select(Schedule)
        .where(Schedule.bulletin_id == bulletin_id, Schedule.cancelled_at.is_(None))
        .options(selectinload(Schedule.targets))
    ))
    affected = set().union(*schedule_devices(session, schedules=schedules).values())
    session.commit()
    return bulletin, affected
