"""An answer announced as a text bulletin on the kiosks of the submission's unit subtree,
or read on the loudspeakers of the commune it came from.

The announcement follows the caller's approval rights: a caller who may approve bulletins
(administrator, system token) puts it on the air at once; anyone else (a feedback officer)
makes a bulletin waiting for approval, with its schedule already made, so it reaches the
kiosks only when an approver approves it (``services.workflow.approve``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.permissions import Permission
from control_center.core.targets import descendant_unit_ids
from control_center.models import (
    BulletinKind,
    BulletinStatus,
    Device,
    Feedback,
    Schedule,
    ScheduleKind,
    ScheduleTarget,
)
from control_center.schemas.content import BulletinCreate, ScheduleCreate, Targets
from control_center.services import bulletins, schedules
from protocol.events import DeviceKind

LEAD = timedelta(seconds=10)
"""An approved announcement is a one-off text item this far ahead (kiosks show a notice from
its instant on)."""
AWAITING_FOR = timedelta(hours=24)
"""How long the kiosks show an answer's notice (``shown_minutes``): one that waits for
approval is shown from its approval until then; approved later, it has expired."""


class AnnouncementState(StrEnum):
    SCHEDULED = "scheduled"                         # on the kiosks' manifests now
    AWAITING_APPROVAL = "awaiting_approval"         # a submitted bulletin; kiosks get it once
                                                    # an approver approves it


@dataclass(frozen=True, slots=True)
class Announcement:
    bulletin_id: int
    state: AnnouncementState
    kiosks: tuple[str, ...]


def _devices(session: Session, unit_id: int, kind: DeviceKind) -> list[str]:
    units = descendant_unit_ids(session, unit_ids=[unit_id])
    return sorted(session.scalars(select(Device.id).where(
        Device.kind == kind, Device.unit_id.in_(units))))


def announce_answer(
    session: Session, *, feedback: Feedback, actor: Actor, now: datetime, default_tz: str,
) -> Announcement | None:
    """Queue the answer as a text bulletin for the kiosks of the submission's unit of origin
    (None when there is no kiosk or no answer)."""
    kiosks = _devices(session, feedback.origin_unit_id or feedback.unit_id, DeviceKind.KIOSK)
    if not kiosks or not feedback.answer:
        return None
    content = BulletinCreate(
        title=f"Trả lời ý kiến {feedback.ref_code}", category="feedback",
        kind=BulletinKind.TEXT, text=f"{feedback.text[:300]}\n— {feedback.answer}"[:4000],
        shown_minutes=int(AWAITING_FOR.total_seconds() // 60))
    return _announce(session, content=content, devices=kiosks, actor=actor, now=now,
                     default_tz=default_tz)


def read_on_speakers(
    session: Session, *, feedback: Feedback, actor: Actor, now: datetime, default_tz: str,
) -> Announcement | None:
    """Queue the answer as a text bulletin read on the loudspeakers of the commune where it
    was submitted (its unit of origin), through the same approval rules as on the kiosks
    (None when that commune has no loudspeaker or there is no answer yet)."""
    speakers = _devices(session, feedback.origin_unit_id or feedback.unit_id,
                        DeviceKind.SPEAKER)
    if not speakers or not feedback.answer:
        return None
    content = BulletinCreate(
        title=f"Trả lời ý kiến {feedback.ref_code} (loa)", category="feedback",
        kind=BulletinKind.TEXT,
        text=f"Trả lời ý kiến của người dân: {feedback.answer}"[:4000])
    made = _announce(session, content=content, devices=speakers, actor=actor, now=now,
                     default_tz=default_tz)
    audit.record(session, actor=actor, action="read_on_speakers", object_type="feedback",
                 object_id=feedback.id, detail={"bulletin_id": made.bulletin_id,
                                                "state": made.state.value}, at=now)
    session.commit()
    return made


def _announce(
    session: Session, *, content: BulletinCreate, devices: list[str], actor: Actor,
    now: datetime, default_tz: str,
) -> Announcement:
    if not actor.may(Permission.APPROVE):
        return _awaiting(session, content=content, kiosks=devices, actor=actor, now=now,
                         default_tz=default_tz)
    system = actor.for_system_task("feedback answer")  # targets are the feedback's own devices
    bulletin = bulletins.create_bulletin(session, data=content, actor=system, now=now)
    _, targeted = schedules.create_schedule(session, data=ScheduleCreate(
        bulletin_id=bulletin.id, start_at=now + LEAD, targets=Targets(device_ids=devices),
    ), default_tz=default_tz, actor=system, now=now)
    return Announcement(bulletin.id, AnnouncementState.SCHEDULED, tuple(sorted(targeted)))


def _awaiting(
    session: Session, *, content: BulletinCreate, kiosks: list[str], actor: Actor,
    now: datetime, default_tz: str,
) -> Announcement:
    """A submitted bulletin of the actor's unit with its schedule to the kiosks."""
    bulletin = bulletins.create_bulletin(session, data=content, actor=actor, now=now,
                                         status=BulletinStatus.SUBMITTED)
    bulletin.submitted_by = actor.name
    audit.record(session, actor=actor, action="submit", object_type="bulletin",
                 object_id=bulletin.id, detail={"status": bulletin.status.value,
                                                "note": "feedback answer announcement"}, at=now)
    schedule = Schedule(
        # a kiosk notice is shown from its approval on (its window); a loudspeakers' reading
        # has no instant yet: the approval gives it one (``workflow.start_on_approval``)
        bulletin_id=bulletin.id, kind=ScheduleKind.ONE_OFF,
        start_at=now + LEAD if content.shown_minutes else None,
        timezone=default_tz, revision=1, created_at=now, updated_at=now,
        unit_id=actor.unit_id, created_by=actor.name,
        targets=[ScheduleTarget(device_id=d) for d in kiosks])
    session.add(schedule)
    session.flush()
    audit.record(session, actor=actor, action="create", object_type="schedule",
                 object_id=schedule.id, detail={"bulletin_id": bulletin.id,
                                                "device_ids": kiosks}, at=now)
    session.commit()  # nothing to publish: the bulletin is not broadcastable yet
    return Announcement(bulletin.id, AnnouncementState.AWAITING_APPROVAL, tuple(kiosks))
