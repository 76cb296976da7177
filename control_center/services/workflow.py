"""The approval workflow: draft → submitted → approved (or rejected) → scheduled.

Only approved and scheduled bulletins are broadcast (``manifests.build_items`` skips the rest),
so a bulletin sent back to draft by an edit falls silent until it is approved again. Every
transition is audited on the bulletin (actions ``submit``, ``approve``, ``reject``,
``back_to_draft``, ``scheduled``). The system API token never needs the workflow: its bulletins
are approved when made.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, selectinload

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.changes import manifests_changed
from control_center.core.permissions import Permission
from control_center.core.targets import schedule_devices
from control_center.core.voices import voice_wanted
from control_center.errors import Conflict, Forbidden, InvalidInput, NotFound
from control_center.models import (
    AuditEntry,
    Bulletin,
    BulletinKind,
    BulletinStatus,
    Distribution,
    Schedule,
    ScheduleKind,
)

S = BulletinStatus
ON_APPROVAL_LEAD = timedelta(seconds=10)
"""A one-off schedule waiting for its bulletin's approval starts this long after it (time
for a text's voice to be made and reach the devices)."""
STATUS_LABELS: dict[BulletinStatus, str] = {
    S.DRAFT: "Bản nháp", S.SUBMITTED: "Chờ duyệt", S.APPROVED: "Đã duyệt",
    S.SCHEDULED: "Đã lập lịch", S.REJECTED: "Bị từ chối",
}
ACTION_LABELS: dict[str, str] = {
    "create": "Tạo bản tin", "update": "Sửa", "submit": "Gửi duyệt", "approve": "Duyệt",
    "reject": "Từ chối", "back_to_draft": "Trở về bản nháp", "publish": "Gửi xuống cấp dưới",
    "scheduled": "Lập lịch phát", "unscheduled": "Hết lịch phát (lịch cuối bị hủy)",
    "emergency": "Phát khẩn cấp", "emergency_send": "Phát khẩn cấp",
    "emergency_request": "Đề nghị phát khẩn cấp",
}
OWN_BULLETIN = ("không được tự duyệt bản tin do chính mình soạn hoặc gửi / you cannot approve "
                "your own bulletin: another approver must do it")


def visible_filter(actor: Actor) -> ColumnElement[bool] | None:
    """SQL condition for the bulletins the actor may see (None: all of them).

    Visible: owned by a unit of the actor's subtree, or sent down to one of its units.
    """
    if actor.scope is None:
        return None
    return or_(
        Bulletin.unit_id.in_(actor.scope),
        Bulletin.id.in_(select(Distribution.bulletin_id)
                        .where(Distribution.unit_id.in_(actor.scope))),
    )


def get_visible(session: Session, *, bulletin_id: int, actor: Actor) -> Bulletin:
    """The bulletin if the actor may see it; 404 otherwise (outside the subtree = absent)."""
    query = select(Bulletin).where(Bulletin.id == bulletin_id)
    condition = visible_filter(actor)
    if condition is not None:
        query = query.where(condition)
    bulletin = session.scalar(query)
    if bulletin is None:
        raise NotFound(f"bulletin {bulletin_id} does not exist")
    return bulletin


def owns(actor: Actor, bulletin: Bulletin) -> bool:
    """True when the bulletin belongs to a unit of the actor's subtree (not just sent to it)."""
    return actor.is_system or actor.covers(bulletin.unit_id)


def require_owner(actor: Actor, bulletin: Bulletin, *, doing: tuple[str, str]) -> None:
    """403 for a bulletin the actor sees only because it was sent down to its unit; ``doing``
    names the refused action in Vietnamese and in English."""
    if not owns(actor, bulletin):
        raise Forbidden(f"bản tin {bulletin.id} do cấp trên gửi xuống, không thể {doing[0]} / "
                        f"bulletin {bulletin.id} was sent from above: you may not {doing[1]} it")


def allowed_actions(bulletin: Bulletin, actor: Actor) -> frozenset[str]:
    """What the console offers this actor for this bulletin."""
    allowed: set[str] = set()
    own = owns(actor, bulletin)
    if own and actor.may(Permission.EDIT_BULLETINS):
        allowed.add("edit")
        if bulletin.status in (S.DRAFT, S.REJECTED):
            allowed.add("submit")
    if own and actor.may(Permission.APPROVE) and bulletin.status == S.SUBMITTED:
        allowed.add("reject")
        if actor.name not in (bulletin.created_by, bulletin.submitted_by):
            allowed.add("approve")
    if own and actor.may(Permission.SCHEDULE) and bulletin.status.broadcastable:
        allowed.add("schedule")
        if actor.unit_id is not None and bulletin.priority.value != "emergency":
            allowed.add("publish")
    return frozenset(allowed)


def _expect(bulletin: Bulletin, *allowed: BulletinStatus, doing: tuple[str, str]) -> None:
    if bulletin.status not in allowed:
        label = STATUS_LABELS[bulletin.status]
        raise Conflict(f"bản tin đang ở trạng thái «{label}», không thể {doing[0]} / bulletin "
                       f"{bulletin.id} is {bulletin.status.value}: cannot {doing[1]} it now")


def active_schedule_devices(session: Session, *, bulletin_id: int) -> set[str]:
    """Devices reached by the bulletin's schedules that are not cancelled."""
    found = list(session.scalars(
        select(Schedule)
        .where(Schedule.bulletin_id == bulletin_id, Schedule.cancelled_at.is_(None))
        .options(selectinload(Schedule.targets))
    ))
    return set().union(*schedule_devices(session, schedules=found).values())


def start_on_approval(session: Session, *, bulletin_id: int, now: datetime) -> list[int]:
    """Give the bulletin's one-off schedules that wait for its approval (no ``start_at``:
    made by the center, e.g. an answer read on the loudspeakers) their instant,
    ``ON_APPROVAL_LEAD`` after the approval. Returns their ids."""
    waiting = list(session.scalars(select(Schedule).where(
        Schedule.bulletin_id == bulletin_id, Schedule.kind == ScheduleKind.ONE_OFF,
        Schedule.start_at.is_(None), Schedule.cancelled_at.is_(None))))
    for schedule in waiting:
        schedule.start_at, schedule.updated_at = now + ON_APPROVAL_LEAD, now
        schedule.revision += 1
    return [s.id for s in waiting]


def _record(session: Session, bulletin: Bulletin, *, actor: Actor, action: str,
            now: datetime, note: str = "", **extra: object) -> None:
    detail: dict[str, object] = {"status": bulletin.status.value, **extra}
    if note:
        detail["note"] = note
    audit.record(session, actor=actor, action=action, object_type="bulletin",
                 object_id=bulletin.id, detail=detail, at=now)


def submit(session: Session, *, bulletin_id: int, actor: Actor, now: datetime,
           note: str = "") -> Bulletin:
    """Draft or rejected → submitted (needs EDIT_BULLETINS on a bulletin of the subtree)."""
    actor.require(Permission.EDIT_BULLETINS)
    bulletin = get_visible(session, bulletin_id=bulletin_id, actor=actor)
    require_owner(actor, bulletin, doing=("gửi duyệt", "submit"))
    _expect(bulletin, S.DRAFT, S.REJECTED, doing=("gửi duyệt", "submit"))
    bulletin.status, bulletin.submitted_by = S.SUBMITTED, actor.name
    bulletin.updated_at = now
    _record(session, bulletin, actor=actor, action="submit", now=now, note=note.strip())
    session.commit()
    return bulletin


def _reviewable(session: Session, bulletin_id: int, actor: Actor) -> Bulletin:
    actor.require(Permission.APPROVE)
    bulletin = get_visible(session, bulletin_id=bulletin_id, actor=actor)
    require_owner(actor, bulletin, doing=("duyệt", "review"))
    return bulletin


def approve(session: Session, *, bulletin_id: int, actor: Actor, now: datetime,
            note: str = "") -> tuple[Bulletin, set[str]]:
    """Submitted → approved, or straight back to scheduled when it still has live schedules.

    The approver must be someone other than its author and submitter. Returns the devices
    whose manifests regain the bulletin.
    """
    bulletin = _reviewable(session, bulletin_id, actor)
    _expect(bulletin, S.SUBMITTED, doing=("duyệt", "approve"))
    if not actor.is_system and actor.name in (bulletin.created_by, bulletin.submitted_by):
        raise Forbidden(OWN_BULLETIN)
    start_on_approval(session, bulletin_id=bulletin.id, now=now)
    devices = active_schedule_devices(session, bulletin_id=bulletin.id)
    bulletin.status = S.SCHEDULED if devices else S.APPROVED
    bulletin.approved_by, bulletin.approved_at = actor.name, now
    bulletin.review_note, bulletin.updated_at = note.strip(), now
    _record(session, bulletin, actor=actor, action="approve", now=now, note=note.strip())
    if bulletin.kind == BulletinKind.TEXT and not bulletin.voice_sha256:
        bulletin.voice_error = None  # loudspeakers get it once spoken (workers.bulletin_voices)
        voice_wanted(session, bulletin.id)
    manifests_changed(session, devices)
    session.commit()
    return bulletin, devices


def reject(session: Session, *, bulletin_id: int, actor: Actor, now: datetime,
           note: str) -> Bulletin:
    """Submitted → rejected, with the reason for the author (required)."""
    bulletin = _reviewable(session, bulletin_id, actor)
    if not note.strip():
        raise InvalidInput("Nhập lý do từ chối để người soạn biết cần sửa gì / give a reason "
                           "for rejecting (note): the author needs to know what to change")
    _expect(bulletin, S.SUBMITTED, doing=("từ chối", "reject"))
    bulletin.status, bulletin.review_note, bulletin.updated_at = S.REJECTED, note.strip(), now
    _record(session, bulletin, actor=actor, action="reject", now=now, note=note.strip())
    session.commit()
    return bulletin


def back_to_draft(session: Session, *, bulletin: Bulletin, actor: Actor, now: datetime,
                  reason: str) -> set[str]:
    """An edit by a user re-opens review: submitted/approved/scheduled → draft (not committed).

    Returns the devices whose manifests must drop the bulletin's items. The system token's
    edits keep the status (it needs no approval).
    """
    if actor.is_system or bulletin.status in (S.DRAFT, S.REJECTED):
        return set()
    was = bulletin.status
    devices = active_schedule_devices(session, bulletin_id=bulletin.id) if was.broadcastable \
        else set()
    bulletin.status, bulletin.approved_by, bulletin.approved_at = S.DRAFT, None, None
    _record(session, bulletin, actor=actor, action="back_to_draft", now=now, was=was.value,
            reason=reason)
    return devices


def mark_scheduled(session: Session, *, bulletin: Bulletin, actor: Actor,
                   now: datetime) -> None:
    """Approved → scheduled once a schedule plays it (not committed; no-op otherwise)."""
    if bulletin.status == S.APPROVED:
        bulletin.status = S.SCHEDULED
        _record(session, bulletin, actor=actor, action="scheduled", now=now)


def history(session: Session, *, bulletin_id: int) -> list[AuditEntry]:
    """The bulletin's audit entries, oldest first (its status history)."""
    return list(session.scalars(
        select(AuditEntry)
        .where(AuditEntry.object_type == "bulletin", AuditEntry.object_id == str(bulletin_id))
        .order_by(AuditEntry.at, AuditEntry.id)
    ))
