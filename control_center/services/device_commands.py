"""One-shot commands for one device: what each may do, and the device's command history.

Nothing here lets a command step around the approval workflow or an emergency:

- A raw ``play_now`` (any URL, any priority, any start) is never signed here. Emergency
  priority has one way to the signer, ``services.emergency`` (confirmation word, approval
  rules, flagged audit, live status, an ``EmergencyBroadcast`` row); turning a raw item into
  such a request would need a second content path beside the desk's, so the request is refused
  instead: 403 for a role without Permission.EMERGENCY, else 422 naming POST /api/v1/emergency
  and ``play_bulletin``.
- ``play_bulletin`` plays an approved (or scheduled) bulletin the caller sees (404 otherwise,
  409 naming its state). An emergency-priority bulletin needs Permission.EMERGENCY and the
  typed confirmation, and goes out through the emergency desk as a broadcast to this device.
- ``stop`` and ``set_volume`` are refused (409) while an emergency is live on the device
  unless the caller may send emergencies without approval (``Actor.emergency_direct``, the
  roles of TT_EMERGENCY_ROLES): silencing one weighs as much as sending one.

Every command asked, sent or refused, is a ``DeviceCommand`` row (the device's history) and a
``command`` audit entry with its kind, priority and result, flagged when it is of emergency
priority or refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.permissions import ROLE_PERMISSIONS, Permission
from control_center.errors import BrokerUnavailable, CenterError, Conflict, Forbidden, InvalidInput
from control_center.models import (
    AdminUnit,
    Bulletin,
    CommandKind,
    CommandResult,
    Device,
    DeviceCommand,
    EmergencyBroadcast,
    EmergencyTarget,
    PlayLog,
    PlayStatus,
    Role,
)
from control_center.schemas.fleet import PlayBulletin
from control_center.services import commands, emergency, workflow
from control_center.services.emergency_checks import Plan, check_confirmation
from protocol.base import Priority
from protocol.manifest import Command, CommandAction, PlayNow, SetVolume, StopPlayback

log = logging.getLogger(__name__)

LIVE_LIMIT = timedelta(hours=1)
"""An emergency counts as live on a device for at most this long after it was sent (a device
that went silent mid-play never reports the end)."""
COMMAND_ACTION = "command"
UNDELIVERED_ACTION = "command_undelivered"
_ENDED = (PlayStatus.COMPLETED, PlayStatus.INTERRUPTED, PlayStatus.FAILED)

Request = PlayNow | StopPlayback | SetVolume | PlayBulletin


@dataclass(frozen=True, slots=True)
class Issued:
    """A command signed and handed to the broker; ``emergency_id`` names its broadcast."""

    command: Command
    emergency_id: int | None = None


def issue(
    session: Session, *, desk: emergency.EmergencyDesk, device: Device, request: Request,
    ttl: timedelta, emergency_roles: tuple[str, ...], actor: Actor, now: datetime,
) -> Issued:
    """Check, record and send one command; a refusal is recorded (and audited) before the
    error is raised. Raises BrokerUnavailable (503) when the broker took nothing."""
    row = _asked(session, device=device, request=request, actor=actor, now=now)
    try:
        checked = _check(session, desk=desk, device=device, request=request,
                         emergency_roles=emergency_roles, actor=actor, now=now)
        if isinstance(checked, Bulletin):  # the desk raises only before it saves anything
            return _broadcast(session, desk=desk, device=device, bulletin=checked, row=row,
                              request=request, actor=actor, now=now)
    except CenterError as exc:
        session.rollback()
        _finish(session, row, request, actor=actor, result=CommandResult.REFUSED,
                reason=str(exc))
        session.commit()
        log.warning("command %s for %s by %s refused: %s", row.kind, device.id, actor.name, exc)
        raise
    command = commands.new_command(device_id=device.id, action=checked, now=now, ttl=ttl)
    row.command_id, row.expires_at = command.id, command.expires_at
    _finish(session, row, request, actor=actor, result=CommandResult.SENT, action=checked)
    session.commit()
    try:
        commands.publish_command(command, signer=desk.signer, bridge=desk.bridge,
                                 timeout_s=desk.publish_timeout_s)
    except BrokerUnavailable as exc:
        _undelivered(session, row, actor=actor, reason=str(exc), now=now)
        raise
    return Issued(command)


def history(session: Session, *, device_id: str, limit: int = 500,
            offset: int = 0) -> list[DeviceCommand]:
    """The commands asked for a device, sent or refused, newest first."""
    return list(session.scalars(select(DeviceCommand).where(DeviceCommand.device_id == device_id)
                                .order_by(DeviceCommand.id.desc()).limit(limit).offset(offset)))


def live_emergency(session: Session, *, device_id: str, now: datetime
                   ) -> EmergencyBroadcast | None:
    """The emergency playing (or about to play) on the device, if any: sent within
    LIVE_LIMIT, not failed there, its command still valid or acknowledged, and no end of its
    item reported."""
    ended = select(PlayLog.item_id).where(PlayLog.device_id == device_id,
                                          PlayLog.status.in_(_ENDED))
    query = (select(EmergencyBroadcast).join(EmergencyTarget)
             .where(EmergencyTarget.device_id == device_id, EmergencyTarget.failed.is_(None),
                    EmergencyBroadcast.at >= now - LIVE_LIMIT,
                    EmergencyBroadcast.item_id.not_in(ended),
                    or_(EmergencyTarget.acked_at.is_not(None),
                        EmergencyBroadcast.expires_at > now))
             .order_by(EmergencyBroadcast.id.desc()).limit(1))
    return session.scalar(query)


def _asked(session: Session, *, device: Device, request: Request, actor: Actor,
           now: datetime) -> DeviceCommand:
    """The history row for what was asked (its result is set once it is known)."""
    row = DeviceCommand(device_id=device.id, at=now, actor=actor.name[:100],
                        actor_unit_id=actor.unit_id, kind=CommandKind(request.type))
    if isinstance(request, PlayNow):
        row.priority, row.bulletin_id = request.item.priority, request.item.bulletin_id
    elif isinstance(request, PlayBulletin):
        row.bulletin_id = request.bulletin_id
        bulletin = session.get(Bulletin, request.bulletin_id)
        row.priority = bulletin.priority if bulletin is not None else None
    elif isinstance(request, SetVolume):
        row.level = request.level
    return row


def _check(
    session: Session, *, desk: emergency.EmergencyDesk, device: Device, request: Request,
    emergency_roles: tuple[str, ...], actor: Actor, now: datetime,
) -> CommandAction | Bulletin:
    """What to sign here, or the bulletin to broadcast as an emergency; raises a refusal."""
    if isinstance(request, PlayNow):
        if not actor.may(Permission.EMERGENCY):
            raise Forbidden(f"vai trò {actor.role} không được phát nội dung tự chọn / the role "
                            f"{actor.role} may not play content of its own choosing: play an "
                            "approved bulletin with play_bulletin")
        raise InvalidInput(
            "không nhận lệnh play_now tự soạn: dùng play_bulletin với bản tin đã duyệt, hoặc "
            "POST /api/v1/emergency để phát khẩn cấp / a raw play_now is not accepted (it "
            "could name any content, priority or start): send play_bulletin with an approved "
            "bulletin, or broadcast with POST /api/v1/emergency (confirmation, audit, status)")
    actor.require(Permission.SCHEDULE)
    if isinstance(request, PlayBulletin):
        bulletin = workflow.get_visible(session, bulletin_id=request.bulletin_id, actor=actor)
        if not bulletin.status.broadcastable:
            state = bulletin.status.value
            raise Conflict(f"bản tin {bulletin.id} đang ở trạng thái "
                           f"\"{workflow.STATUS_LABELS[bulletin.status]}\", chưa được duyệt / "
                           f"bulletin {bulletin.id} is {state}, not approved: only approved "
                           "bulletins can be played; submit it for approval first")
        if bulletin.priority != Priority.EMERGENCY:
            return commands.play_now_for_bulletin(session, bulletin=bulletin, now=now,
                                                  public_base_url=desk.public_base_url)
        actor.require(Permission.EMERGENCY)
        check_confirmation(request.confirm)
        emergency.require_link(desk)
        return bulletin
    live = live_emergency(session, device_id=device.id, now=now)
    if live is not None and not (actor.may(Permission.EMERGENCY) and actor.emergency_direct):
        who = ", ".join(_stoppers(emergency_roles)) or "api-token"
        raise Conflict(
            f"thiết bị {device.id} đang phát khẩn cấp (lần phát {live.id}); chỉ vai trò "
            f"{who} mới được dừng hoặc đổi âm lượng / an emergency (broadcast {live.id}, "
            f"\"{live.title}\") is playing on device {device.id}: only the role(s) {who} may "
            "stop it or change the volume; ask one of them, or wait until it ends")
    return request


def _stoppers(emergency_roles: tuple[str, ...]) -> list[str]:
    """The roles that may send commands and emergencies without approval."""
    needed = {Permission.SCHEDULE, Permission.EMERGENCY}
    return [role.value for role in Role
            if role.value in emergency_roles and needed <= ROLE_PERMISSIONS[role]]


def _broadcast(
    session: Session, *, desk: emergency.EmergencyDesk, device: Device, bulletin: Bulletin,
    row: DeviceCommand, request: Request, actor: Actor, now: datetime,
) -> Issued:
    """An emergency bulletin for this one device, through the emergency desk."""
    unit = session.get(AdminUnit, device.unit_id)
    target = Plan((device.unit_id,), (unit.name if unit else "",), {device.id: device.unit_id})
    outcome = emergency.send(session, desk=desk, actor=actor, bulletin=bulletin, target=target,
                             now=now, approval_skipped=False)
    assert outcome.action is not None and outcome.command_id and outcome.expires_at
    row.command_id, row.expires_at = outcome.command_id, outcome.expires_at
    row.emergency_id, row.priority = outcome.id, Priority.EMERGENCY
    delivered = outcome.published == outcome.targeted
    _finish(session, row, request, actor=actor, action=outcome.action,
            result=CommandResult.SENT if delivered else CommandResult.UNDELIVERED,
            reason=None if delivered else "máy chủ MQTT không nhận lệnh / the broker did not "
                                          "accept the command")
    session.commit()
    return Issued(Command(id=outcome.command_id, device_id=device.id, issued_at=now,
                          expires_at=outcome.expires_at, action=outcome.action),
                  emergency_id=outcome.id)


def _finish(
    session: Session, row: DeviceCommand, request: Request, *, actor: Actor,
    result: CommandResult, reason: str | None = None, action: CommandAction | None = None,
) -> None:
    """Set the row's result and add it with its audit entry (flagged: emergency or refused)."""
    row.result, row.reason = result, reason[:500] if reason else None
    row.flagged = row.priority == Priority.EMERGENCY or result == CommandResult.REFUSED
    session.add(row)
    asked = request.model_dump(mode="json", exclude={"confirm"})
    audit.record(session, actor=actor, action=COMMAND_ACTION, object_type="device",
                 object_id=row.device_id, at=row.at, flagged=row.flagged, detail={
                     "kind": row.kind.value, "action": asked, "result": result.value,
                     "priority": row.priority.value if row.priority else None,
                     "bulletin_id": row.bulletin_id, "reason": row.reason,
                     "command_id": row.command_id, "emergency_id": row.emergency_id,
                     "expires_at": row.expires_at.isoformat() if row.expires_at else None,
                     "item_id": action.item.item_id if isinstance(action, PlayNow) else None})


def _undelivered(session: Session, row: DeviceCommand, *, actor: Actor, reason: str,
                 now: datetime) -> None:
    row.result, row.reason, row.flagged = CommandResult.UNDELIVERED, reason[:500], True
    audit.record(session, actor=actor, action=UNDELIVERED_ACTION, object_type="device",
                 object_id=row.device_id, at=now, flagged=True,
                 detail={"command_id": row.command_id, "reason": row.reason})
    session.commit()
