"""Schedules: one-off instants or RRULEs; every change republishes the affected manifests."""

from __future__ import annotations

from fastapi import APIRouter

from control_center.api.deps import ActorDep, CenterDep, NowDep, SessionDep, republish
from control_center.api.presenters import schedule_public
from control_center.schemas.common import ItemList
from control_center.schemas.content import ScheduleCreate, SchedulePublic, ScheduleUpdate
from control_center.services import schedules

router = APIRouter(prefix="/schedules", tags=["schedules"])


@router.post("", response_model=SchedulePublic, status_code=201)
def create_schedule(
    data: ScheduleCreate, session: SessionDep, center: CenterDep, actor: ActorDep, now: NowDep
) -> SchedulePublic:
    schedule, devices = schedules.create_schedule(
        session, data=data, default_tz=center.settings.timezone, actor=actor, now=now
    )
    report = republish(center, session, devices)
    return schedule_public(session, schedule, now=now, detailed=True, report=report)


@router.get("", response_model=ItemList[SchedulePublic])
def list_schedules(
    session: SessionDep, now: NowDep, bulletin_id: int | None = None, active: bool | None = None
) -> ItemList[SchedulePublic]:
    found = schedules.list_schedules(session, bulletin_id=bulletin_id, active=active)
    return ItemList.of([schedule_public(session, s, now=now) for s in found])


@router.get("/{schedule_id}", response_model=SchedulePublic)
def get_schedule(schedule_id: int, session: SessionDep, now: NowDep) -> SchedulePublic:
    schedule = schedules.get_schedule(session, schedule_id=schedule_id)
    return schedule_public(session, schedule, now=now, detailed=True)


@router.patch("/{schedule_id}", response_model=SchedulePublic)
def update_schedule(
    schedule_id: int, data: ScheduleUpdate, session: SessionDep, center: CenterDep,
    actor: ActorDep, now: NowDep,
) -> SchedulePublic:
    schedule, devices = schedules.update_schedule(
        session, schedule_id=schedule_id, data=data, actor=actor, now=now
    )
    report = republish(center, session, devices)
    return schedule_public(session, schedule, now=now, detailed=True, report=report)


@router.delete("/{schedule_id}", response_model=SchedulePublic)
def cancel_schedule(
    schedule_id: int, session: SessionDep, center: CenterDep, actor: ActorDep, now: NowDep
) -> SchedulePublic:
    """Cancel the schedule (kept for the record); its items leave the manifests."""
    schedule, devices = schedules.cancel_schedule(
        session, schedule_id=schedule_id, actor=actor, now=now
    )
    report = republish(center, session, devices)
    return schedule_public(session, schedule, now=now, detailed=True, report=report)
