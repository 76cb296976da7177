"""Moving enrolled devices to the broker their unit now names (docs/devices.md, "Several
brokers").

For each enrolled active device below a unit whose recorded broker is not its unit's: an
account with a fresh password is created on the new broker (confirmed by it), then a signed
``move_broker`` command with the new broker's address and that password goes out through the
device's current broker, and a ``broker_moves`` row waits for the acknowledgement. On it
(``complete_move``, in whichever center process stored the ack) the device is recorded on the
new broker, its manifest is published there, and its account on the old broker is removed. A
refusal, or a command that expired, removes the new account instead: the device stays where it
was and is still counted as waiting (assigning the same broker again retries). A device moves
once at a time: while its command is valid, another assignment waits for it to complete.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.broker.accounts import BrokerAccounts
from control_center.broker.registry import MAIN, BrokerRegistry
from control_center.broker.routing import Publisher
from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.changes import manifests_changed
from control_center.core.targets import descendant_unit_ids
from control_center.errors import CenterError
from control_center.models import (
    AdminUnit,
    BrokerMove,
    CommandKind,
    CommandResult,
    Device,
    DeviceCommand,
    DeviceState,
)
from control_center.security import generate_password, mosquitto_hash
from control_center.services import commands
from control_center.services.brokers import assign_unit, unit_brokers
from protocol.manifest import MoveBroker
from protocol.signing import Signer

log = logging.getLogger(__name__)
MOVE_TTL = timedelta(days=7)  # a device offline longer is moved at its next enrolment


class AccountsOn(Protocol):
    """Each broker's accounts by name (``AccountsRouter`` has it)."""

    def on(self, broker: str) -> BrokerAccounts: ...


@dataclass(frozen=True, slots=True)
class MoveReport:
    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # device -> why it was not moved


def assign_and_move(
    session: Session, *, unit: AdminUnit, broker: str | None, registry: BrokerRegistry,
    accounts: AccountsOn, signer: Signer, bridge: Publisher, actor: Actor, now: datetime,
    timeout_s: float,
) -> MoveReport:
    """Name the unit's broker (``services.brokers.assign_unit``), then start moving its
    enrolled devices on another broker (again for those still waiting)."""
    assign_unit(session, unit=unit, broker=broker, known=registry.names, actor=actor, now=now)
    return move_devices(session, unit_id=unit.id, accounts=accounts, signer=signer,
                        device_urls={b.name: b.device_url for b in registry}, bridge=bridge,
                        actor=actor, now=now, timeout_s=timeout_s)


def move_devices(
    session: Session, *, unit_id: int, device_urls: Mapping[str, str], accounts: AccountsOn,
    signer: Signer, bridge: Publisher, actor: Actor, now: datetime, timeout_s: float,
) -> MoveReport:
    """Start moving every enrolled active device below ``unit_id`` to its unit's broker."""
    assigned = unit_brokers(session)
    below = descendant_unit_ids(session, unit_ids=[unit_id])
    devices = session.scalars(select(Device).where(
        Device.unit_id.in_(below), Device.state == DeviceState.ACTIVE,
        Device.enrolled_at.is_not(None)).order_by(Device.id))
    report = MoveReport()
    outgoing: list[tuple[Device, str, str, str]] = []  # device, target, password, command id
    messages: list[tuple[str, bytes]] = []
    for device in devices:
        target = assigned.get(device.unit_id, MAIN)
        pending = session.get(BrokerMove, device.id)
        if pending is not None and pending.expires_at > now:
            if pending.to_broker != target:  # one move at a time: the next one after it
                report.failed[device.id] = f"still moving to broker {pending.to_broker!r}"
            continue
        if target == device.broker:
            continue
        if target not in device_urls:
            report.failed[device.id] = f"broker {target!r} is not configured"
            continue
        password = generate_password()
        try:
            accounts.on(target).create(device.id, password)
        except CenterError as exc:
            report.failed[device.id] = str(exc)
            continue
        command = commands.new_command(device_id=device.id, now=now, ttl=MOVE_TTL, action=(
            MoveBroker(url=device_urls[target], password=password)))
        messages.append(commands.command_messages(
            signer, command_id=command.id, device_ids=[device.id], action=command.action,
            now=now, expires_at=command.expires_at)[0])
        outgoing.append((device, target, password, command.id))
    if not outgoing:
        return report
    acked = bridge.wait_many(bridge.send_many(messages, qos=1, retain=False), timeout=timeout_s)
    for (device, target, password, command_id), ok in zip(outgoing, acked, strict=True):
        if (expired := session.get(BrokerMove, device.id)) is not None:
            session.delete(expired)  # its command can no longer be acknowledged as accepted
            session.flush()
        session.add(BrokerMove(device_id=device.id, command_id=command_id,
                               from_broker=device.broker, to_broker=target,
                               password_hash=mosquitto_hash(password), sent_at=now,
                               expires_at=now + MOVE_TTL))
        session.add(DeviceCommand(
            device_id=device.id, at=now, actor=actor.name[:100], actor_unit_id=actor.unit_id,
            kind=CommandKind.MOVE_BROKER, command_id=command_id, expires_at=now + MOVE_TTL,
            result=CommandResult.SENT if ok else CommandResult.UNDELIVERED,
            reason=None if ok else (bridge.last_error or "no PUBACK")[:500]))
        audit.record(session, actor=actor, action="move_broker", object_type="device",
                     object_id=device.id, at=now, detail={
                         "from": device.broker, "to": target, "command_id": command_id,
                         "delivered": ok})
        report.sent.append(device.id)
    session.commit()
    log.info("moving %d device(s) to their unit's broker (%d not moved)", len(report.sent),
             len(report.failed))
    return report


def complete_move(session: Session, accounts: AccountsOn, *, command_id: str, accepted: bool,
                  now: datetime) -> bool:
    """A device answered its ``move_broker`` command (True when it is now on the new broker)."""
    move = session.scalar(select(BrokerMove).where(BrokerMove.command_id == command_id))
    if move is None:
        return False
    device = session.get(Device, move.device_id)
    moved = accepted and device is not None and device.state == DeviceState.ACTIVE
    left = move.from_broker if moved else move.to_broker
    if moved and device is not None:
        device.broker = move.to_broker
        device.mqtt_password_hash, device.pending_password_hash = move.password_hash, None
        manifests_changed(session, [device.id])  # the new broker holds none of its messages
    audit.record(session, actor=Actor(name=f"device {move.device_id}"), at=now,
                 action="broker_moved" if moved else "broker_move_refused",
                 object_type="device", object_id=move.device_id,
                 detail={"from": move.from_broker, "to": move.to_broker,
                         "command_id": command_id})
    session.delete(move)
    session.commit()
    try:
        accounts.on(left).delete(move.device_id)
    except (CenterError, KeyError) as exc:  # that broker's reconciler disables it later
        log.warning("account of %s on broker %s not removed: %s", move.device_id, left, exc)
    log.info("device %s %s broker %s", move.device_id,
             "moved to" if moved else "did not move to", move.to_broker)
    return moved
