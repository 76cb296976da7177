"""A CAP 1.2 ``Alert`` from a registered sender, broadcast (docs/cap.md).

An alert becomes a text bulletin of the sender's unit targeted at the units its area hits:
an emergency (Extreme + Immediate) goes through the emergency path (``services.emergency``),
sent at once or waiting for an approver by the sender's rule; anything else enters the
approval workflow as submitted, with a schedule that starts once it is approved
(``workflow.start_on_approval``).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.cap import mapping
from control_center.cap.document import Alert, CapInvalid, Info
from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.targets import descendant_unit_ids
from control_center.errors import Forbidden
from control_center.models import (
    AdminUnit,
    Bulletin,
    BulletinKind,
    BulletinStatus,
    CapAlert,
    CapOutcome,
    CapSender,
    EmergencyRule,
    Schedule,
    ScheduleKind,
    ScheduleTarget,
)
from control_center.schemas.content import BulletinCreate
from control_center.services import bulletins, emergency
from control_center.services.emergency_checks import CONFIRM_WORD, Message
from control_center.services.emergency_media import TEXT_MAX
from protocol.base import Priority

log = logging.getLogger(__name__)


def sender_actor(session: Session, sender: CapSender, *, source_ip: str | None) -> Actor:
    """The sender acting inside its area: every permission there (as the API token has on
    the whole tree), its emergencies sent at once or not by its rule."""
    scope = frozenset(descendant_unit_ids(session, unit_ids=[sender.unit_id]))
    return Actor(name=f"cap:{sender.sender}"[:100], source_ip=source_ip,
                 unit_id=sender.unit_id, scope=scope,
                 emergency_direct=sender.emergency_rule == EmergencyRule.AT_ONCE)


def info_of(alert: Alert) -> Info:
    info = alert.info_vi()
    if info is None:
        raise CapInvalid("the alert has no <info> block: nothing to say on the loudspeakers")
    return info


def area_units(session: Session, *, sender: CapSender, actor: Actor, info: Info) -> list[int]:
    """The units the area hits, all inside the sender's area (403 naming those outside)."""
    units = mapping.units_of(session, info.areas)
    outside = sorted(u for u in units if not actor.covers(u))
    if outside:
        names = session.scalars(select(AdminUnit.name).where(AdminUnit.id.in_(outside)))
        area = session.get_one(AdminUnit, sender.unit_id)
        raise Forbidden(f"the alert's area reaches units outside the sender's area: "
                        f"{', '.join(names)}; sender {sender.sender!r} may alert "
                        f"{area.name} and the units below it only")
    return sorted(units)


def record(session: Session, *, sender: CapSender, alert: Alert, priority: Priority,
           units: list[int], bulletin_id: int | None, outcome: CapOutcome, now: datetime,
           broadcast_id: int | None = None, reason: str = "") -> CapAlert:
    """The accepted alert's row, committed."""
    row = CapAlert(
        sender_id=sender.id, sender=alert.sender, identifier=alert.identifier,
        sent=alert.sent, sent_at=alert.sent_at, msg_type=alert.msg_type, status=alert.status,
        refs=" ".join(",".join(ref) for ref in alert.references), priority=priority,
        unit_ids=",".join(str(u) for u in units), bulletin_id=bulletin_id,
        broadcast_id=broadcast_id, outcome=outcome, reason=reason, received_at=now)
    session.add(row)
    session.commit()
    log.info("CAP %s %s from %s: %s (bulletin %s)", alert.msg_type, alert.identifier,
             alert.sender, outcome.value, bulletin_id)
    return row


def valid_minutes(info: Info, now: datetime) -> int:
    """An emergency stays valid until the alert expires (1 to 1440 minutes), else 30."""
    if info.expires is None:
        return emergency.DEFAULT_VALID_MINUTES
    left = int((info.expires - now).total_seconds() // 60)
    return max(1, min(emergency.MAX_VALID_MINUTES, left))


def broadcast(session: Session, *, desk: emergency.EmergencyDesk, sender: CapSender,
              actor: Actor, alert: Alert, now: datetime, default_tz: str,
              reason: str = "") -> CapAlert:
    """An alert's info as an emergency or as a bulletin waiting for approval."""
    info = info_of(alert)
    units = area_units(session, sender=sender, actor=actor, info=info)
    priority = mapping.priority_of(info)
    title = mapping.title_of(info)
    if priority == Priority.EMERGENCY:
        outcome = emergency.submit(
            session, desk=desk, actor=actor, unit_ids=units, now=now,
            message=Message(text=mapping.text_of(info, limit=TEXT_MAX), title=title),
            confirm=CONFIRM_WORD, valid_minutes=valid_minutes(info, now))
        state = CapOutcome.EMERGENCY_SENT if outcome.state == emergency.OutcomeState.SENT \
            else CapOutcome.EMERGENCY_WAITING
        return record(session, sender=sender, alert=alert, priority=priority, units=units,
                      bulletin_id=outcome.bulletin_id, broadcast_id=outcome.id,
                      outcome=state, now=now, reason=reason)
    bulletin = bulletins.create_bulletin(session, data=BulletinCreate(
        title=title, category=info.event[:100], priority=priority, kind=BulletinKind.TEXT,
        text=mapping.text_of(info, limit=TEXT_MAX)), actor=actor, now=now,
        status=BulletinStatus.SUBMITTED)
    submit_for_approval(session, bulletin=bulletin, actor=actor, units=units, now=now,
                        default_tz=default_tz, note=f"CAP {alert.identifier}"[:200])
    return record(session, sender=sender, alert=alert, priority=priority, units=units,
                  bulletin_id=bulletin.id, outcome=CapOutcome.SUBMITTED, now=now, reason=reason)


def submit_for_approval(session: Session, *, bulletin: Bulletin, actor: Actor,
                        units: list[int], now: datetime, default_tz: str, note: str) -> None:
    """The bulletin submitted, with a one-off schedule to ``units`` that the approval starts
    (not committed)."""
    bulletin.status, bulletin.submitted_by, bulletin.updated_at = (
        BulletinStatus.SUBMITTED, actor.name, now)
    audit.record(session, actor=actor, action="submit", object_type="bulletin",
                 object_id=bulletin.id, detail={"status": bulletin.status.value, "note": note},
                 at=now)
    schedule = Schedule(
        bulletin_id=bulletin.id, kind=ScheduleKind.ONE_OFF, start_at=None,
        timezone=default_tz, revision=1, created_at=now, updated_at=now,
        unit_id=actor.unit_id, created_by=actor.name,
        targets=[ScheduleTarget(unit_id=u) for u in units])
    session.add(schedule)
    session.flush()
    audit.record(session, actor=actor, action="create", object_type="schedule",
                 object_id=schedule.id, detail={"bulletin_id": bulletin.id, "unit_ids": units,
                                                "start": "on approval"}, at=now)
