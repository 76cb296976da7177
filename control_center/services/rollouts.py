"""Rollouts: a release offered to the devices of some targets, wave after wave.

At creation the targets (unit subtrees, groups, devices, all inside the caller's subtree:
404 otherwise) are resolved to their active devices; those already running the version are
kept as ``skipped``, the others are placed in waves: by shares (``waves``, in per cent,
devices in id order, each wave's end rounded to the nearest device, at least one device per
wave while any is left) or by units (``wave_units``: a device goes
to the first wave listing its unit or a unit above it).

``step`` is the rollout's whole rule, run by ``workers.rollouts`` after every update report
and every few seconds: devices sent longer ago than ``confirm_within_s`` plus the download
allowance time out; when the rolled-back, failed and timed-out devices (beyond those accepted
by the last resume) exceed ``failure_threshold_pct`` of the devices sent so far, the rollout
halts and sends nothing more; otherwise, once every sent device has ended, the next wave is
due, and after the last one the rollout is completed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.permissions import Permission
from control_center.core.targets import TargetSpec, descendant_unit_ids, resolve_targets
from control_center.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    UnknownReference,
)
from control_center.models import (
    AdminUnit,
    AgentRelease,
    Device,
    DeviceGroupMember,
    DeviceState,
    Rollout,
    RolloutDevice,
    RolloutState,
)
from control_center.models import RolloutDeviceState as Rd
from control_center.schemas.content import Targets
from control_center.schemas.releases import (
    RolloutCreate,
    RolloutDevicePublic,
    RolloutPublic,
    WaveProgress,
)

CREATE_ACTION = "rollout_create"
HALT_ACTION = "rollout_halt"
RESUME_ACTION = "rollout_resume"


@dataclass(frozen=True, slots=True)
class Due:
    """What a step decided: the wave to send now (its devices), if any."""

    wave: int
    devices: list[RolloutDevice]


# --- creation --------------------------------------------------------------------------------

def create_rollout(session: Session, *, data: RolloutCreate, actor: Actor,
                   now: datetime) -> Rollout:
    """Validate, place every device in its wave and save (the caller nudges the worker)."""
    actor.require(Permission.RELEASES)
    if session.get(AgentRelease, data.version) is None:
        raise UnknownReference(f"release {data.version!r} does not exist: upload it first "
                               "(POST /api/v1/releases)")
    spec = TargetSpec(tuple(dict.fromkeys(data.targets.unit_ids)),
                      tuple(dict.fromkeys(data.targets.group_ids)),
                      tuple(dict.fromkeys(data.targets.device_ids)))
    if spec.empty:
        raise InvalidInput("a rollout needs at least one target (unit_ids, group_ids or "
                           "device_ids)")
    _require_inside(session, actor, spec)
    ids = resolve_targets(session, spec=spec)
    devices = sorted(session.scalars(select(Device).where(
        Device.id.in_(ids), Device.state == DeviceState.ACTIVE)), key=lambda d: d.id)
    if not devices:
        raise InvalidInput("các đích không có thiết bị đang hoạt động / the targets reach no "
                           "active device")
    todo = [d for d in devices if d.agent_version != data.version]
    if not todo:
        raise Conflict(f"cả {len(devices)} thiết bị đã chạy phiên bản {data.version} / all "
                       f"{len(devices)} targeted devices already run version {data.version}")
    _refuse_busy(session, [d.id for d in todo])
    plan = data.plan()
    waves = (_by_shares(todo, plan) if plan is not None
             else _by_units(session, actor, todo, data.wave_units or []))
    rollout = Rollout(
        version=data.version, created_at=now, created_by=actor.name[:100],
        unit_id=actor.unit_id, targets=data.targets.model_dump(), waves=plan,
        wave_units=data.wave_units, wave_count=len(plan or data.wave_units or []),
        failure_threshold_pct=data.failure_threshold_pct,
        confirm_within_s=data.confirm_within_s, state=RolloutState.RUNNING, reason="",
        current_wave=0, failures_accepted=0)
    session.add(rollout)
    session.flush()
    for device in devices:
        wave = waves.get(device.id)
        session.add(RolloutDevice(
            rollout_id=rollout.id, device_id=device.id, unit_id=device.unit_id, wave=wave,
            from_version=device.agent_version, state=Rd.WAITING if wave else Rd.SKIPPED,
            reason="" if wave else f"already on {data.version}"))
    audit.record(session, actor=actor, action=CREATE_ACTION, object_type="rollout",
                 object_id=rollout.id, at=now, detail={
                     "version": data.version, "targets": rollout.targets, "waves": plan,
                     "wave_units": data.wave_units, "devices": len(todo),
                     "skipped": len(devices) - len(todo),
                     "failure_threshold_pct": data.failure_threshold_pct,
                     "confirm_within_s": data.confirm_within_s})
    session.commit()
    return rollout


def _require_inside(session: Session, actor: Actor, spec: TargetSpec) -> None:
    """Targets outside the actor's subtree do not exist for it (404)."""
    if actor.scope is None:
        return
    outside = [f"unit {u}" for u in spec.unit_ids if u not in actor.scope]
    units = dict(session.execute(select(Device.id, Device.unit_id)
                                 .where(Device.id.in_(spec.device_ids))).all())
    outside += [f"device {d!r}" for d in spec.device_ids if units.get(d) not in actor.scope]
    for group_id in spec.group_ids:
        members = session.scalars(select(Device.unit_id).join(
            DeviceGroupMember, DeviceGroupMember.device_id == Device.id)
            .where(DeviceGroupMember.group_id == group_id))
        if not set(members) <= actor.scope:
            outside.append(f"group {group_id}")
    if outside:
        raise NotFound("; ".join(f"{name} does not exist" for name in outside))


def _refuse_busy(session: Session, device_ids: list[str]) -> None:
    """A device still updating in another running rollout gets no second update (409)."""
    busy = session.execute(
        select(RolloutDevice.device_id, RolloutDevice.rollout_id).join(Rollout)
        .where(Rollout.state == RolloutState.RUNNING, RolloutDevice.device_id.in_(device_ids),
               RolloutDevice.state.in_((Rd.WAITING, Rd.SENT)))).all()
    if busy:
        named = ", ".join(f"{d} (rollout {r})" for d, r in busy[:5])
        raise Conflict(f"{len(busy)} thiết bị đang được cập nhật / {len(busy)} device(s) are "
                       f"still in a running rollout: {named}; halt it or wait until it ends")


def _by_shares(devices: Sequence[Device], shares: list[int]) -> dict[str, int]:
    """Device id -> wave (1-based): each wave ends at its cumulative share of the devices,
    rounded to the nearest, and takes at least one device while any is left."""
    waves: dict[str, int] = {}
    start, total = 0, 0
    for number, share in enumerate(shares, start=1):
        total += share
        end = min(len(devices), max(start + 1, math.floor(len(devices) * total / 100 + 0.5)))
        waves.update((d.id, number) for d in devices[start:end])
        start = end
    return waves


def _by_units(session: Session, actor: Actor, devices: Sequence[Device],
              wave_units: list[list[int]]) -> dict[str, int]:
    """Device id -> the first wave naming its unit or a unit above it (422 for devices in
    none, 404 for units outside the subtree, 422 for unknown ones)."""
    named = {u for wave in wave_units for u in wave}
    outside = sorted(u for u in named if not actor.covers(u))
    if outside:
        raise NotFound("; ".join(f"unit {u} does not exist" for u in outside))
    known = set(session.scalars(select(AdminUnit.id).where(AdminUnit.id.in_(named))))
    if unknown := sorted(named - known):
        raise UnknownReference(f"wave_units: unknown unit(s) {unknown}")
    waves: dict[str, int] = {}
    for number, units in enumerate(wave_units, start=1):
        below = descendant_unit_ids(session, unit_ids=units)
        waves.update((d.id, number) for d in devices
                     if d.id not in waves and d.unit_id in below)
    left = [d.id for d in devices if d.id not in waves]
    if left:
        raise InvalidInput(f"{len(left)} thiết bị không thuộc đợt nào / {len(left)} targeted "
                           f"device(s) lie in no unit of wave_units (e.g. {left[:5]}): add "
                           "their units to a wave or leave them out of the targets")
    return waves


# --- reading ---------------------------------------------------------------------------------

def rollout_visible(session: Session, *, actor: Actor, rollout: Rollout) -> bool:
    """Visible when started inside the actor's subtree or when all its devices lie in it."""
    if actor.scope is None or (rollout.unit_id is not None and rollout.unit_id in actor.scope):
        return True
    units = set(session.scalars(select(RolloutDevice.unit_id)
                                .where(RolloutDevice.rollout_id == rollout.id)))
    return units <= actor.scope


def get_rollout(session: Session, *, rollout_id: int, actor: Actor) -> Rollout:
    rollout = session.get(Rollout, rollout_id)
    if rollout is None or not rollout_visible(session, actor=actor, rollout=rollout):
        raise NotFound(f"rollout {rollout_id} does not exist")
    return rollout


def list_rollouts(session: Session, *, actor: Actor, limit: int = 100,
                  offset: int = 0) -> list[Rollout]:
    """Newest first, those visible to the actor."""
    query = select(Rollout).order_by(Rollout.id.desc())
    if actor.scope is None:
        return list(session.scalars(query.limit(limit).offset(offset)))
    found = [r for r in session.scalars(query)
             if rollout_visible(session, actor=actor, rollout=r)]
    return found[offset:offset + limit]


def rollout_devices(session: Session, *, rollout_id: int) -> list[RolloutDevice]:
    """Wave by wave (skipped last), by device id."""
    rows = session.scalars(select(RolloutDevice).where(RolloutDevice.rollout_id == rollout_id))
    return sorted(rows, key=lambda r: (r.wave is None, r.wave or 0, r.device_id))


def progress(session: Session, rollout: Rollout) -> tuple[list[WaveProgress], int]:
    """Per wave: devices, sent, confirmed, failed, pending; and the skipped count (counted
    by the database: a rollout may hold thousands of devices)."""
    counts: dict[int, Counter[str]] = {n: Counter() for n in range(1, rollout.wave_count + 1)}
    skipped = 0
    query = (select(RolloutDevice.wave, RolloutDevice.state, func.count(),
                    func.count(RolloutDevice.sent_at))
             .where(RolloutDevice.rollout_id == rollout.id)
             .group_by(RolloutDevice.wave, RolloutDevice.state))
    for wave, state, devices, sent in session.execute(query):
        if wave is None:
            skipped += devices
            continue
        count = counts.setdefault(wave, Counter())
        count["devices"] += devices
        count["sent"] += sent
        count["confirmed"] += devices if state == Rd.CONFIRMED else 0
        count["failed"] += devices if state.failure else 0
        count["pending"] += devices if state == Rd.SENT else 0
    return [WaveProgress(wave=n, devices=c["devices"], sent=c["sent"],
                         confirmed=c["confirmed"], failed=c["failed"], pending=c["pending"])
            for n, c in sorted(counts.items())], skipped


# --- halt and resume -------------------------------------------------------------------------

def halt(session: Session, *, rollout_id: int, actor: Actor, now: datetime) -> Rollout:
    """Stop sending (devices already sent finish their update); 409 unless running."""
    actor.require(Permission.RELEASES)
    rollout = get_rollout(session, rollout_id=rollout_id, actor=actor)
    if rollout.state != RolloutState.RUNNING:
        raise Conflict(f"rollout {rollout_id} is {rollout.state.value}, not running")
    _halt(rollout, reason=f"dừng bởi {actor.name} / halted by {actor.name}", now=now)
    audit.record(session, actor=actor, action=HALT_ACTION, object_type="rollout",
                 object_id=rollout.id, at=now, detail={"version": rollout.version})
    session.commit()
    return rollout


def resume(session: Session, *, rollout_id: int, actor: Actor, now: datetime) -> Rollout:
    """Send the remaining waves again; the failures so far count as accepted. 409 unless
    halted; 403 for a rollout started by an upper level."""
    actor.require(Permission.RELEASES)
    rollout = get_rollout(session, rollout_id=rollout_id, actor=actor)
    if not actor.is_system and not actor.covers(rollout.unit_id):
        raise Forbidden(f"đợt cập nhật {rollout_id} do cấp trên tạo / rollout {rollout_id} "
                        "was started by an upper level: only it may resume it")
    if rollout.state != RolloutState.HALTED:
        raise Conflict(f"rollout {rollout_id} is {rollout.state.value}, not halted")
    failures = _failures(session, rollout.id)
    rollout.state, rollout.reason, rollout.halted_at = RolloutState.RUNNING, "", None
    rollout.failures_accepted = failures
    audit.record(session, actor=actor, action=RESUME_ACTION, object_type="rollout",
                 object_id=rollout.id, at=now,
                 detail={"version": rollout.version, "failures_accepted": failures})
    session.commit()
    return rollout


def _halt(rollout: Rollout, *, reason: str, now: datetime) -> None:
    rollout.state, rollout.reason, rollout.halted_at = RolloutState.HALTED, reason[:500], now


def _failures(session: Session, rollout_id: int) -> int:
    rows = session.scalars(select(RolloutDevice.state)
                           .where(RolloutDevice.rollout_id == rollout_id))
    return sum(state.failure for state in rows)


# --- the rule the worker runs ----------------------------------------------------------------

def running_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Rollout.id).where(Rollout.state == RolloutState.RUNNING)
                                .order_by(Rollout.id)))


def step(session: Session, *, rollout: Rollout, now: datetime,
         allowance: timedelta) -> Due | None:
    """Time out, halt, complete or pick the next wave (changes are left to the caller's
    commit); the wave to send, if one is due."""
    if rollout.state != RolloutState.RUNNING:
        return None
    rows = list(session.scalars(select(RolloutDevice)
                                .where(RolloutDevice.rollout_id == rollout.id)))
    deadline = timedelta(seconds=rollout.confirm_within_s) + allowance
    for row in rows:
        if row.state == Rd.SENT and row.sent_at is not None and now - row.sent_at > deadline:
            row.state, row.ended_at = Rd.TIMED_OUT, now
            row.reason = (f"không xác nhận trong {int(deadline.total_seconds())} s / no end "
                          f"reported within {int(deadline.total_seconds())} s "
                          f"(last stage: {row.stage.value if row.stage else 'none'})")
    failed = Counter(r.state.value for r in rows if r.state.failure)
    sent = sum(r.sent_at is not None for r in rows)
    beyond = sum(failed.values()) - rollout.failures_accepted
    if beyond > 0 and beyond > sent * rollout.failure_threshold_pct / 100:
        detail = ", ".join(f"{state} {n}" for state, n in sorted(failed.items()))
        _halt(rollout, now=now, reason=(
            f"dừng tự động: {sum(failed.values())}/{sent} thiết bị lỗi / halted: "
            f"{sum(failed.values())} of {sent} devices sent failed ({detail}), more than "
            f"{rollout.failure_threshold_pct:g} %"))
        return None
    if any(r.state == Rd.SENT for r in rows):
        return None  # the current wave is still going
    waiting = [r for r in rows if r.state == Rd.WAITING and r.wave is not None]
    if not waiting:
        rollout.state, rollout.completed_at = RolloutState.COMPLETED, now
        return None
    wave = min(r.wave for r in waiting if r.wave is not None)
    rollout.current_wave = max(rollout.current_wave, wave)
    return Due(wave, sorted((r for r in waiting if r.wave == wave), key=lambda r: r.device_id))


def rollout_public(session: Session, rollout: Rollout, *, detailed: bool = False
                   ) -> RolloutPublic:
    """The rollout with its progress per wave (and each device's row when ``detailed``)."""
    waves, skipped = progress(session, rollout)
    rows = rollout_devices(session, rollout_id=rollout.id) if detailed else []
    return RolloutPublic(
        id=rollout.id, version=rollout.version, state=rollout.state, reason=rollout.reason,
        created_at=rollout.created_at, created_by=rollout.created_by, unit_id=rollout.unit_id,
        targets=Targets.model_validate(rollout.targets), waves=rollout.waves,
        wave_units=rollout.wave_units, failure_threshold_pct=rollout.failure_threshold_pct,
        confirm_within_s=rollout.confirm_within_s, current_wave=rollout.current_wave,
        halted_at=rollout.halted_at, completed_at=rollout.completed_at, progress=waves,
        skipped=skipped,
        devices=[RolloutDevicePublic.model_validate(r) for r in rows] if detailed else None)
