"""CAP ``Update`` and ``Cancel``: acting on the bulletin of the alert they reference.

``references`` name earlier alerts (sender, identifier, sent); the newest one this sender sent
and this center accepted is the one acted on (409 when none is known). An update of an
emergency, or one that makes an alert an emergency, is broadcast as a new alert (an emergency
already played cannot be changed); any other update changes the bulletin's title, text and
priority, cancels its schedules and submits it again with a schedule to the new area. A cancel
cancels the bulletin's schedules through the schedules service and, while it still waits for
approval, rejects it; an emergency already sent has nothing left to cancel (said in
``reason``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.cap import intake, mapping
from control_center.cap.document import Alert
from control_center.core.actor import Actor
from control_center.errors import Conflict
from control_center.models import (
    Bulletin,
    BulletinStatus,
    CapAlert,
    CapOutcome,
    CapSender,
    Schedule,
)
from control_center.schemas.content import BulletinUpdate
from control_center.services import bulletins, schedules, workflow
from control_center.services.emergency import EmergencyDesk
from control_center.services.emergency_media import TEXT_MAX
from protocol.base import Priority

EMERGENCIES = (CapOutcome.EMERGENCY_SENT, CapOutcome.EMERGENCY_WAITING)


def referenced(session: Session, *, sender: CapSender, alert: Alert) -> CapAlert:
    """The newest accepted alert of this sender among ``alert.references`` (409 if none)."""
    if not alert.references:
        raise Conflict(f"a {alert.msg_type} "
                       "must name the alert it changes in <references>")
    found: CapAlert | None = None
    for ref_sender, identifier, sent in alert.references:
        row = session.scalar(select(CapAlert).where(
            CapAlert.sender == ref_sender, CapAlert.identifier == identifier,
            CapAlert.sent == sent, CapAlert.sender_id == sender.id))
        if row is not None and row.bulletin_id is not None \
                and (found is None or row.id > found.id):
            found = row
    if found is None:
        named = " ".join(",".join(ref) for ref in alert.references)
        raise Conflict(f"<references> {named} name no alert this center accepted from "
                       f"{sender.sender!r}: nothing to {alert.msg_type.lower()}")
    return found


def _cancel_schedules(session: Session, *, bulletin_id: int, actor: Actor,
                      now: datetime) -> int:
    live = list(session.scalars(select(Schedule.id).where(
        Schedule.bulletin_id == bulletin_id, Schedule.cancelled_at.is_(None))))
    for schedule_id in live:
        schedules.cancel_schedule(session, schedule_id=schedule_id, actor=actor, now=now)
    return len(live)


def apply(session: Session, *, desk: EmergencyDesk, sender: CapSender, actor: Actor,
          alert: Alert, now: datetime, default_tz: str) -> CapAlert:
    """An Update or a Cancel (``alert.msg_type``), on the bulletin its references name."""
    target = referenced(session, sender=sender, alert=alert)
    assert target.bulletin_id is not None
    if alert.msg_type == "Cancel":
        return _cancel(session, sender=sender, actor=actor, alert=alert, target=target,
                       now=now)
    info = intake.info_of(alert)
    priority = mapping.priority_of(info)
    if target.outcome in EMERGENCIES or priority == Priority.EMERGENCY:
        if target.outcome not in EMERGENCIES:
            _cancel_schedules(session, bulletin_id=target.bulletin_id, actor=actor, now=now)
        return intake.broadcast(
            session, desk=desk, sender=sender, actor=actor, alert=alert, now=now,
            default_tz=default_tz, reason=f"update of {target.identifier}: broadcast as a new "
                                          f"emergency (bulletin {target.bulletin_id} before)")
    units = intake.area_units(session, sender=sender, actor=actor, info=info)
    _cancel_schedules(session, bulletin_id=target.bulletin_id, actor=actor, now=now)
    bulletin, _ = bulletins.update_bulletin(
        session, bulletin_id=target.bulletin_id, actor=actor, now=now,
        data=BulletinUpdate(title=mapping.title_of(info), priority=priority,
                            text=mapping.text_of(info, limit=TEXT_MAX)))
    intake.submit_for_approval(session, bulletin=bulletin, actor=actor, units=units, now=now,
                               default_tz=default_tz,
                               note=f"CAP update {alert.identifier}"[:200])
    return intake.record(session, sender=sender, alert=alert, priority=priority, units=units,
                         bulletin_id=bulletin.id, outcome=CapOutcome.UPDATED, now=now,
                         reason=f"update of {target.identifier}: bulletin {bulletin.id} "
                                "changed and submitted for approval again")


def _cancel(session: Session, *, sender: CapSender, actor: Actor, alert: Alert,
            target: CapAlert, now: datetime) -> CapAlert:
    assert target.bulletin_id is not None
    bulletin = session.get_one(Bulletin, target.bulletin_id)
    if target.outcome == CapOutcome.EMERGENCY_SENT:
        reason = (f"cancel of {target.identifier}: emergency broadcast {target.broadcast_id} "
                  "was already sent; nothing is left to cancel on the devices")
    else:
        cancelled = _cancel_schedules(session, bulletin_id=bulletin.id, actor=actor, now=now)
        reason = f"cancel of {target.identifier}: {cancelled} schedule(s) cancelled"
        if bulletin.status == BulletinStatus.SUBMITTED:
            workflow.reject(session, bulletin_id=bulletin.id, actor=actor, now=now,
                            note=f"hủy theo cảnh báo CAP / cancelled by CAP {alert.identifier}")
            reason += ", the bulletin rejected (it was waiting for approval)"
    return intake.record(session, sender=sender, alert=alert, priority=bulletin.priority,
                         units=[int(u) for u in target.unit_ids.split(",") if u],
                         bulletin_id=bulletin.id, outcome=CapOutcome.CANCELLED, now=now,
                         reason=reason)
