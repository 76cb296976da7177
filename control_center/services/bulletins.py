"""Bulletins: what is broadcast (recorded audio or text) and how urgently.

A signed-in user's bulletin starts as a draft of the user's unit and goes through the approval
workflow (``services.workflow``); the system API token's bulletins are approved at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.changes import manifests_changed
from control_center.core.permissions import Permission
from control_center.core.voices import voice_wanted
from control_center.errors import InvalidInput, NotFound
from control_center.models import Bulletin, BulletinKind, BulletinStatus
from control_center.schemas.content import BulletinCreate, BulletinUpdate
from control_center.services import media_store, relay_bulletins, text_bulletins, workflow


def get_bulletin(session: Session, *, bulletin_id: int) -> Bulletin:
    """Any bulletin by id, whoever asks (use ``workflow.get_visible`` for a user's view)."""
    bulletin = session.get(Bulletin, bulletin_id)
    if bulletin is None:
        raise NotFound(f"bulletin {bulletin_id} does not exist")
    return bulletin


def list_bulletins(
    session: Session, *, actor: Actor | None = None, status: BulletinStatus | None = None,
    limit: int = 500, offset: int = 0,
) -> list[Bulletin]:
    """Newest first; only those the actor may see (all without an actor), optionally by status."""
    query = select(Bulletin)
    condition = workflow.visible_filter(actor) if actor is not None else None
    if condition is not None:
        query = query.where(condition)
    if status is not None:
        query = query.where(Bulletin.status == status)
    query = query.order_by(Bulletin.updated_at.desc(), Bulletin.id.desc())
    return list(session.scalars(query.limit(limit).offset(offset)))


def _check_content(
    session: Session, *, kind: BulletinKind, media_sha256: str | None, text: str | None,
    relay: tuple[str | None, int | None, str | None] = (None, None, None),
) -> None:
    """Audio: ready media (a text beside it is its transcript). Text: a text and no media.
    Relay: ``relay`` = (source URL, window minutes, filler), no media; only relays take those."""
    source_url, window_minutes, filler_sha256 = relay
    relay_bulletins.check_relay_fields(session, kind=kind, source_url=source_url,
                                       window_minutes=window_minutes, filler_sha256=filler_sha256)
    if kind == BulletinKind.RELAY and media_sha256:
        raise InvalidInput("a relay bulletin plays its source_url and has no media: drop "
                           "media_sha256 (a filler for when the source is gone is "
                           "filler_sha256)")
    if kind == BulletinKind.AUDIO:
        if not media_sha256:
            raise InvalidInput("an audio bulletin needs media_sha256 (upload with POST /media)")
        media_store.require_ready(session, sha256=media_sha256)
    elif kind == BulletinKind.TEXT:
        if media_sha256:
            raise InvalidInput("a text bulletin is spoken from its text and has no media: drop "
                               "media_sha256, or make an audio bulletin (kind=audio) to play "
                               "the recording")
        if not text:
            raise InvalidInput("a text bulletin needs a non-empty text")


def create_bulletin(
    session: Session, *, data: BulletinCreate, actor: Actor, now: datetime,
    status: BulletinStatus | None = None,
) -> Bulletin:
    """Store a bulletin owned by the actor's unit.

    ``status`` None: approved for the system token, a draft for a user. Callers check the
    permission to write bulletins (routes require EDIT_BULLETINS).
    """
    _check_content(session, kind=data.kind, media_sha256=data.media_sha256, text=data.text,
                   relay=(data.source_url, data.window_minutes, data.filler_sha256))
    text_bulletins.check_display(kind=data.kind, shown_minutes=data.shown_minutes,
                                 shown_until=data.shown_until)
    if status is None:
        status = BulletinStatus.APPROVED if actor.is_system else BulletinStatus.DRAFT
    bulletin = Bulletin(
        title=data.title, category=data.category, priority=data.priority, kind=data.kind,
        media_sha256=data.media_sha256, text=data.text, created_at=now, updated_at=now,
        status=status, unit_id=actor.unit_id, created_by=actor.name,
        shown_minutes=data.shown_minutes, shown_until=data.shown_until,
    )
    session.add(bulletin)
    session.flush()
    if bulletin.kind == BulletinKind.TEXT and status.broadcastable:
        voice_wanted(session, bulletin.id)  # spoken once committed (workers.bulletin_voices)
    if data.kind == BulletinKind.RELAY and data.source_url and data.window_minutes:
        relay_bulletins.create_stream(
            session, bulletin=bulletin, source_url=data.source_url,
            window_minutes=data.window_minutes, filler_sha256=data.filler_sha256, now=now)
    audit.record(session, actor=actor, action="create", object_type="bulletin",
                 object_id=bulletin.id, detail=data.model_dump(mode="json"), at=now)
    session.commit()
    return bulletin


def update_bulletin(
    session: Session, *, bulletin_id: int, data: BulletinUpdate, actor: Actor,
    now: datetime,
) -> tuple[Bulletin, set[str]]:
    """Apply the given fields; returns the bulletin and the devices whose manifests change.

    A user's change sends a submitted, approved or scheduled bulletin back to draft (audited
    ``back_to_draft``): its schedules stay but play nothing until it is approved again.
    Fields given with their current value change nothing.
    """
    if actor.is_system:
        bulletin = get_bulletin(session, bulletin_id=bulletin_id)
    else:
        actor.require(Permission.EDIT_BULLETINS)
        bulletin = workflow.get_visible(session, bulletin_id=bulletin_id, actor=actor)
        workflow.require_owner(actor, bulletin, doing=("sửa", "edit"))
    changes = data.model_dump(exclude_unset=True)
    for name in ("title", "category", "priority"):
        if changes.get(name) is None and name in changes:
            raise InvalidInput(f"{name} cannot be null")
    _check_content(session, kind=bulletin.kind,  # checked before anything is changed
                   media_sha256=changes.get("media_sha256", bulletin.media_sha256),
                   text=changes.get("text", bulletin.text),
                   relay=(changes.get("source_url", bulletin.source_url),
                          changes.get("window_minutes", bulletin.window_minutes),
                          changes.get("filler_sha256", bulletin.filler_sha256)))
    minutes = changes.get("shown_minutes", bulletin.shown_minutes)
    until = changes.get("shown_until", bulletin.shown_until)
    if changes.get("shown_minutes") is not None and "shown_until" not in changes:
        until = None  # one form of the display window replaces the other
    if changes.get("shown_until") is not None and "shown_minutes" not in changes:
        minutes = None
    text_bulletins.check_display(kind=bulletin.kind, shown_minutes=minutes, shown_until=until)
    if "shown_minutes" in changes or "shown_until" in changes:
        changes["shown_minutes"], changes["shown_until"] = minutes, until
    changed = {name for name, value in changes.items() if getattr(bulletin, name) != value}
    for name, value in changes.items():
        if name not in relay_bulletins.RELAY_FIELDS:
            setattr(bulletin, name, value)
    if bulletin.kind == BulletinKind.RELAY:
        relay_bulletins.update_stream(session, bulletin=bulletin, changes=changes)
    bulletin.updated_at = now
    audit.record(session, actor=actor, action="update", object_type="bulletin",
                 object_id=bulletin.id, detail=data.model_dump(mode="json", exclude_unset=True),
                 at=now)
    affected = workflow.active_schedule_devices(session, bulletin_id=bulletin_id)
    if changed:  # saving an unchanged form keeps an approved bulletin on the air
        workflow.back_to_draft(session, bulletin=bulletin, actor=actor, now=now,
                               reason="edited: " + ", ".join(sorted(changed)))
    if "text" in changed and bulletin.kind == BulletinKind.TEXT:  # a new text, a new voice
        bulletin.voice_sha256 = bulletin.voice_error = None
        if bulletin.status.broadcastable:  # the system token's edits stay on the air
            voice_wanted(session, bulletin.id)
    manifests_changed(session, affected)
    session.commit()
    return bulletin, affected
