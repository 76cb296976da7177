"""Content down the tree: an upper level publishes an approved bulletin to the communes below.

Normal bulletins wait in each commune's inbox until its operator accepts them into a slot (a
schedule of the commune) or declines them. Priority bulletins come with a slot: a schedule is
placed in every commune at once, and the commune only ranks clashing priority items (the rank
reaches the loudspeaker as ``PlayItem.order``). Emergencies go through the emergency screen.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.changes import manifests_changed
from control_center.core.permissions import Permission
from control_center.core.targets import descendant_unit_ids, resolve_targets, spec_of
from control_center.errors import Conflict, InvalidInput, NotFound
from control_center.models import (
    AdminUnit,
    Bulletin,
    Device,
    Distribution,
    DistributionState,
    PlayLog,
    Schedule,
)
from control_center.schemas.content import ScheduleCreate, Targets
from control_center.schemas.distribution import (
    DistributionReport,
    DistributionStatus,
    PlayCounts,
    PublishRequest,
    Slot,
)
from control_center.services import schedules, workflow
from protocol.base import Priority

DS = DistributionState
STATE_LABELS: dict[DistributionState, str] = {
    DS.INBOX: "Chờ xã quyết định", DS.SCHEDULED: "Đã lập lịch", DS.DECLINED: "Xã từ chối",
    DS.SENT: "Đã phát khẩn cấp",
}


def receivers(session: Session, *, unit_ids: list[int], actor: Actor) -> list[int]:
    """Every leaf unit (commune) in the subtrees of ``unit_ids``, the actor's own unit excepted.

    Each given unit must lie inside the actor's subtree (404 otherwise).
    """
    for unit_id in unit_ids:
        actor.require_unit(unit_id, what=f"đơn vị {unit_id} / unit {unit_id}")
    found = set(session.scalars(select(AdminUnit.id).where(AdminUnit.id.in_(unit_ids))))
    missing = [u for u in unit_ids if u not in found]
    if missing:
        raise NotFound(f"đơn vị {missing} không tồn tại / unit(s) {missing} do not exist")
    below = descendant_unit_ids(session, unit_ids=unit_ids)
    parents = set(session.scalars(
        select(AdminUnit.parent_id).where(AdminUnit.parent_id.in_(below))))
    return sorted(u for u in below if u not in parents and u != actor.unit_id)


def _schedule_for(session: Session, *, bulletin_id: int, unit_id: int, slot: Slot,
                  actor: Actor, now: datetime, default_tz: str) -> tuple[Schedule, set[str]]:
    data = ScheduleCreate(bulletin_id=bulletin_id, start_at=slot.start_at, rrule=slot.rrule,
                          valid_from=slot.valid_from, valid_until=slot.valid_until,
                          targets=Targets(unit_ids=[unit_id]))
    return schedules.add_schedule(session, data=data, default_tz=default_tz, actor=actor,
                                  now=now)


def publish(
    session: Session, *, bulletin_id: int, request: PublishRequest, actor: Actor,
    now: datetime, default_tz: str,
) -> tuple[list[Distribution], set[str]]:
    """Send the bulletin to every commune below ``request.unit_ids``.

    Returns the new distributions and the devices to republish (priority: the schedules').
    Communes that already received it are skipped; 409 when none is left.
    """
    actor.require(Permission.SCHEDULE)
    bulletin = workflow.get_visible(session, bulletin_id=bulletin_id, actor=actor)
    workflow.require_owner(actor, bulletin, doing=("gửi xuống", "publish"))
    if bulletin.priority == Priority.EMERGENCY:
        raise InvalidInput("bản tin khẩn cấp phải phát từ màn hình Khẩn cấp / use the emergency "
                           "screen (/console/emergency) for emergency bulletins")
    if not bulletin.status.broadcastable:
        raise Conflict(f"bản tin chưa được duyệt ({workflow.STATUS_LABELS[bulletin.status]}) / "
                       f"bulletin {bulletin.id} is {bulletin.status.value}: only approved "
                       "bulletins can be sent down")
    priority = bulletin.priority == Priority.PRIORITY
    if priority and request.slot is None:
        raise InvalidInput("bản tin ưu tiên cần khung giờ phát / a priority bulletin needs a "
                           "slot (start_at, or rrule with valid_from): it is scheduled in every "
                           "commune at once")
    if not priority and request.slot is not None:
        raise InvalidInput("bản tin thông thường vào hộp thư của xã, xã tự chọn giờ phát / a "
                           "normal bulletin goes to each commune's inbox without a slot: the "
                           "commune chooses when it plays")
    communes = receivers(session, unit_ids=request.unit_ids, actor=actor)
    already = set(session.scalars(select(Distribution.unit_id).where(
        Distribution.bulletin_id == bulletin.id, Distribution.unit_id.in_(communes))))
    fresh = [u for u in communes if u not in already]
    if not fresh:
        raise Conflict("không có xã nào mới để gửi / no commune left to send it to: "
                       + ("every commune below already received it" if communes
                          else "there is no commune below the chosen units"))
    from_unit = actor.unit_id if actor.unit_id is not None else request.unit_ids[0]
    created: list[Distribution] = []
    devices: set[str] = set()
    for unit_id in fresh:
        row = Distribution(bulletin_id=bulletin.id, unit_id=unit_id, from_unit_id=from_unit,
                           state=DS.INBOX, rank=0, published_by=actor.name, published_at=now)
        if request.slot is not None:
            schedule, reached = _schedule_for(session, bulletin_id=bulletin.id, unit_id=unit_id,
                                              slot=request.slot, actor=actor, now=now,
                                              default_tz=default_tz)
            row.state, row.schedule_id = DS.SCHEDULED, schedule.id
            row.decided_by, row.decided_at = actor.name, now
            devices |= reached
        session.add(row)
        created.append(row)
    if request.slot is not None:
        workflow.mark_scheduled(session, bulletin=bulletin, actor=actor, now=now)
    session.flush()
    audit.record(session, actor=actor, action="publish", object_type="bulletin",
                 object_id=bulletin.id,
                 detail={"unit_ids": request.unit_ids, "communes": fresh,
                         "slot": request.slot.model_dump(mode="json") if request.slot else None},
                 at=now)
    manifests_changed(session, devices)
    session.commit()
    return created, devices


def list_distributions(
    session: Session, *, actor: Actor, state: DistributionState | None = None,
    bulletin_id: int | None = None, limit: int = 500,
) -> list[Distribution]:
    """Distributions received by units of the actor's subtree, newest first."""
    query = select(Distribution)
    if actor.scope is not None:
        query = query.where(Distribution.unit_id.in_(actor.scope))
    if state is not None:
        query = query.where(Distribution.state == state)
    if bulletin_id is not None:
        query = query.where(Distribution.bulletin_id == bulletin_id)
    query = query.order_by(Distribution.published_at.desc(), Distribution.id.desc())
    return list(session.scalars(query.limit(limit)))


def get_distribution(session: Session, *, distribution_id: int,
                     actor: Actor) -> Distribution:
    """A distribution received inside the actor's subtree (404 otherwise)."""
    row = session.get(Distribution, distribution_id)
    if row is None or not actor.covers(row.unit_id):
        raise NotFound(f"tin gửi xuống {distribution_id} không tồn tại / distribution "
                       f"{distribution_id} does not exist")
    return row


def _decidable(session: Session, distribution_id: int, actor: Actor) -> Distribution:
    actor.require(Permission.SCHEDULE)
    row = get_distribution(session, distribution_id=distribution_id, actor=actor)
    if row.state != DS.INBOX:
        raise Conflict(f"tin này đã được xử lý ({STATE_LABELS[row.state]}) / distribution "
                       f"{row.id} is {row.state.value}, no longer in the inbox")
    return row


def _decided(session: Session, row: Distribution, *, actor: Actor, action: str,
             now: datetime, **detail: object) -> None:
    row.decided_by, row.decided_at = actor.name, now
    audit.record(session, actor=actor, action=action, object_type="distribution",
                 object_id=row.id, detail={"bulletin_id": row.bulletin_id,
                                           "unit_id": row.unit_id, **detail}, at=now)


def accept(
    session: Session, *, distribution_id: int, slot: Slot, actor: Actor, now: datetime,
    default_tz: str,
) -> tuple[Distribution, set[str]]:
    """The commune plays it in ``slot``: a schedule of the commune targeting the commune."""
    row = _decidable(session, distribution_id, actor)
    bulletin = session.get(Bulletin, row.bulletin_id)
    assert bulletin is not None  # foreign key
    if not bulletin.status.broadcastable:
        raise Conflict("cấp trên đang sửa lại bản tin này, hãy chờ bản đã duyệt / the upper "
                       f"level is revising this bulletin ({bulletin.status.value}): wait until "
                       "it is approved again")
    schedule, devices = _schedule_for(session, bulletin_id=row.bulletin_id, unit_id=row.unit_id,
                                      slot=slot, actor=actor, now=now, default_tz=default_tz)
    row.state, row.schedule_id = DS.SCHEDULED, schedule.id
    _decided(session, row, actor=actor, action="accept", now=now, schedule_id=schedule.id)
    workflow.mark_scheduled(session, bulletin=bulletin, actor=actor, now=now)
    manifests_changed(session, devices)
    session.commit()
    return row, devices


def decline(session: Session, *, distribution_id: int, note: str, actor: Actor,
            now: datetime) -> Distribution:
    """The commune will not play it; the note tells the upper level why."""
    if not note.strip():
        raise InvalidInput("Nhập lý do không phát / give the reason for declining (note)")
    row = _decidable(session, distribution_id, actor)
    row.state, row.note = DS.DECLINED, note.strip()[:500]
    _decided(session, row, actor=actor, action="decline", now=now, note=row.note)
    session.commit()
    return row


def set_rank(session: Session, *, distribution_id: int, rank: int, actor: Actor,
             now: datetime) -> tuple[Distribution, set[str]]:
    """Order a scheduled priority item among the commune's clashing ones (lower first).

    Returns the devices of its schedule, whose manifests carry the rank as ``order``.
    """
    actor.require(Permission.SCHEDULE)
    row = get_distribution(session, distribution_id=distribution_id, actor=actor)
    bulletin = session.get(Bulletin, row.bulletin_id)
    assert bulletin is not None
    if bulletin.priority != Priority.PRIORITY or row.state != DS.SCHEDULED:
        raise InvalidInput("chỉ xếp thứ tự được các tin ưu tiên đã lập lịch / only scheduled "
                           "priority items are ranked")
    if not 0 <= rank <= 10_000:
        raise InvalidInput("thứ tự phải từ 0 đến 10000 / rank must be between 0 and 10000")
    was, row.rank = row.rank, rank
    audit.record(session, actor=actor, action="rank", object_type="distribution",
                 object_id=row.id, detail={"bulletin_id": row.bulletin_id, "rank": rank,
                                           "was": was}, at=now)
    devices: set[str] = set()
    schedule = session.get(Schedule, row.schedule_id) if row.schedule_id is not None else None
    if schedule is not None and schedule.cancelled_at is None:
        devices = resolve_targets(session, spec=spec_of(schedule), check=False)
    manifests_changed(session, devices)
    session.commit()
    return row, devices


def unit_names(session: Session, unit_ids: set[int]) -> dict[int, str]:
    """Names of the given units."""
    if not unit_ids:
        return {}
    rows = session.execute(select(AdminUnit.id, AdminUnit.name)
                           .where(AdminUnit.id.in_(unit_ids)))
    return {uid: name for uid, name in rows}


def play_counts(session: Session, *, bulletin_id: int,
                unit_ids: list[int]) -> dict[int, tuple[int, PlayCounts]]:
    """Per unit: its number of devices and the bulletin's plays on them, by status."""
    devices: dict[int, int] = Counter()
    counts: dict[int, Counter[str]] = {u: Counter() for u in unit_ids}
    if unit_ids:
        for unit_id, n in session.execute(
                select(Device.unit_id, func.count()).where(Device.unit_id.in_(unit_ids))
                .group_by(Device.unit_id)):
            devices[unit_id] = int(n)
        rows = session.execute(
            select(Device.unit_id, PlayLog.status, func.count())
            .join(Device, Device.id == PlayLog.device_id)
            .where(PlayLog.bulletin_id == bulletin_id, Device.unit_id.in_(unit_ids))
            .group_by(Device.unit_id, PlayLog.status))
        for unit_id, status, n in rows:
            counts[unit_id][str(status)] += int(n)
    fields = set(PlayCounts.model_fields)
    return {u: (devices.get(u, 0),
                PlayCounts(**{k: v for k, v in counts[u].items() if k in fields}))
            for u in unit_ids}


def report(session: Session, *, bulletin_id: int, actor: Actor) -> DistributionReport:
    """Per receiving commune: its decision, schedule and the plays on its devices.

    The owner's subtree sees every commune; a commune that received it sees only itself.
    """
    bulletin = workflow.get_visible(session, bulletin_id=bulletin_id, actor=actor)
    query = select(Distribution).where(Distribution.bulletin_id == bulletin.id)
    if not workflow.owns(actor, bulletin) and actor.scope is not None:
        query = query.where(Distribution.unit_id.in_(actor.scope))
    rows = list(session.scalars(query.order_by(Distribution.id)))
    names = unit_names(session, {r.unit_id for r in rows})
    plays = play_counts(session, bulletin_id=bulletin.id, unit_ids=[r.unit_id for r in rows])
    communes = [
        DistributionStatus(
            distribution_id=r.id, unit_id=r.unit_id, unit_name=names.get(r.unit_id, "?"),
            state=r.state, schedule_id=r.schedule_id, rank=r.rank, decided_by=r.decided_by,
            decided_at=r.decided_at, note=r.note, devices=plays[r.unit_id][0],
            plays=plays[r.unit_id][1])
        for r in rows
    ]
    return DistributionReport(bulletin_id=bulletin.id, title=bulletin.title,
                              priority=bulletin.priority, communes=communes)
