"""Taking in a CAP 1.2 document from a registered sender (docs/cap.md): validated, its
``<sender>`` checked against the key's, then an ``Alert`` broadcast (``cap.intake``) or an
``Update``/``Cancel`` applied to the bulletin it references (``cap.references``). Every refusal
is an audit entry ``cap_refused`` with its reason; an alert received twice (same sender,
identifier and sent) is answered with the first one's row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.cap import document, intake, references
from control_center.cap.document import Alert, CapInvalid
from control_center.core import audit
from control_center.core.actor import Actor
from control_center.errors import CenterError, Forbidden
from control_center.models import CapAlert, CapSender
from control_center.services.emergency import EmergencyDesk

log = logging.getLogger(__name__)
ACTIONABLE = ("Alert", "Update", "Cancel")


@dataclass(frozen=True, slots=True)
class Received:
    row: CapAlert
    duplicate: bool


def receive(session: Session, *, desk: EmergencyDesk, sender: CapSender,
            body: bytes, now: datetime, default_tz: str,
            source_ip: str | None) -> Received:
    """Validate, check the sender's right, then act (or answer a duplicate with its first
    row). A refusal is audited, committed, and raised as the 4xx it is."""
    actor = intake.sender_actor(session, sender, source_ip=source_ip)
    alert: Alert | None = None
    try:
        alert = document.parse(body)
        if alert.sender != sender.sender:
            raise Forbidden(f"the alert's <sender> is {alert.sender!r} but this X-CAP-Key is "
                            f"registered for {sender.sender!r}")
        first = session.scalar(select(CapAlert).where(
            CapAlert.sender == alert.sender, CapAlert.identifier == alert.identifier,
            CapAlert.sent == alert.sent))
        if first is not None:
            return Received(first, True)
        row = _act(session, desk=desk, sender=sender, actor=actor, alert=alert, now=now,
                   default_tz=default_tz)
    except CenterError as exc:
        session.rollback()
        _refused(session, sender=sender, actor=actor, alert=alert, error=exc, now=now)
        raise
    return Received(row, False)


def _refused(session: Session, *, sender: CapSender, actor: Actor, alert: Alert | None,
             error: CenterError, now: datetime) -> None:
    detail: dict[str, object] = {"sender_id": sender.id, "status_code": error.status_code,
                                 "reason": str(error)[:2000]}
    if alert is not None:
        detail.update(identifier=alert.identifier[:255], sent=alert.sent,
                      msg_type=alert.msg_type, claimed_sender=alert.sender[:255])
    audit.record(session, actor=actor, action="cap_refused", object_type="cap_sender",
                 object_id=sender.id, detail=detail, at=now,
                 flagged=isinstance(error, Forbidden))
    session.commit()
    log.warning("CAP alert from %s refused (%d): %s", sender.sender, error.status_code,
                str(error)[:300])


def _act(session: Session, *, desk: EmergencyDesk, sender: CapSender, actor: Actor,
         alert: Alert, now: datetime, default_tz: str) -> CapAlert:
    if alert.status != "Actual":
        raise CapInvalid(f"status {alert.status}: only Actual alerts are broadcast (Exercise, "
                         "System, Test and Draft are not)")
    if alert.msg_type not in ACTIONABLE:
        raise CapInvalid(f"msgType {alert.msg_type} is not acted on: send Alert, Update or "
                         "Cancel")
    if alert.msg_type == "Alert":
        return intake.broadcast(session, desk=desk, sender=sender, actor=actor, alert=alert,
                                now=now, default_tz=default_tz)
    return references.apply(session, desk=desk, sender=sender, actor=actor, alert=alert,
                            now=now, default_tz=default_tz)
