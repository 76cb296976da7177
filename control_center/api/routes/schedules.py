"""Schedules: one-off instants or RRULEs; every change republishes the affected manifests.

Signed-in users see and change only the schedules of their unit subtree (see
``services.schedules``); ``POST /schedules/check`` previews a schedule without saving it.
"""

from __future__ import annotations

from fastapi import APIRouter

from control_center.api.deps import ActorDep, CenterDep, NowDep, SessionDep
from control_center.api.presenters import schedule_public
from control_center.schemas.common import ItemList
from control_center.schemas.content import ScheduleCreate, SchedulePublic, ScheduleUpdate
from control_center.schemas.scheduling import OverlapPublic, ScheduleCheck
from control_center.services import conflicts, schedules
from control_center.workers.publisher import last_sync

router = APIRouter(prefix="/schedules", tags=["schedules"])


@router.post("", response_model=SchedulePublic, status_code=201)
def create_schedule(
    data: ScheduleCreate, session: SessionDep, center: CenterDep, actor: ActorDep, now: NowDep
) -> SchedulePublic:
    """Needs the schedule permission; targets and bulletin inside the caller's subtree (404
    otherwise) and the bulletin approved (409 otherwise)."""
    schedule, devices = schedules.create_schedule(
        session, data=data, default_tz=center.settings.timezone, actor=actor, now=now
    )
    report = last_sync(session)
    return schedule_public(session, schedule, now=now, detailed=True, report=report)


@router.post("/check", response_model=ScheduleCheck)
def check_schedule(
    data: ScheduleCreate, session: SessionDep, center: CenterDep, actor: ActorDep, now: NowDep
) -> ScheduleCheck:
    """Validate like ``POST /schedules`` and list the devices it would reach and, per device,
    the occurrences that overlap another active schedule in the next 14 days. Writes nothing.
    """
    tz = center.settings.timezone
    proposal = schedules.prepare_schedule(session, data=data, default_tz=tz, actor=actor,
                                          now=now)
    found = conflicts.find_conflicts(session, timing=proposal.timing, bulletin=proposal.bulletin,
                                     device_ids=proposal.devices, now=now, local_tz=tz)
    session.rollback()
    return ScheduleCheck(
        devices=sorted(proposal.devices),
        conflicts=[OverlapPublic(
            device_id=o.device_id, start=o.start, other_schedule_id=o.other_schedule_id,
            other_bulletin_id=o.other_bulletin_id, other_title=o.other_title,
            other_start=o.other_start, overlap_s=o.overlap_s) for o in found],
    )


@router.get("", response_model=ItemList[SchedulePublic])
def list_schedules(
    session: SessionDep, now: NowDep, actor: ActorDep, bulletin_id: int | None = None,
    active: bool | None = None,
) -> ItemList[SchedulePublic]:
    """The schedules visible to the caller, newest first."""
    found = schedules.list_schedules(session, bulletin_id=bulletin_id, active=active,
                                     actor=actor)
    return ItemList.of([schedule_public(session, s, now=now) for s in found])


@router.get("/{schedule_id}", response_model=SchedulePublic)
def get_schedule(
    schedule_id: int, session: SessionDep, now: NowDep, actor: ActorDep
) -> SchedulePublic:
    schedule = schedules.get_schedule(session, schedule_id=schedule_id, actor=actor)
    return schedule_public(session, schedule, now=now, detailed=True)


@router.patch("/{schedule_id}", response_model=SchedulePublic)
def update_schedule(
    schedule_id: int, data: ScheduleUpdate, session: SessionDep, center: CenterDep,
    actor: ActorDep, now: NowDep,
) -> SchedulePublic:
    schedule, devices = schedules.update_schedule(
        session, schedule_id=schedule_id, data=data, actor=actor, now=now
    )
    report = last_sync(session)
    return schedule_public(session, schedule, now=now, detailed=True, report=report)


@router.delete("/{schedule_id}", response_model=SchedulePublic)
def cancel_schedule(
    schedule_id: int, session: SessionDep, center: CenterDep, actor: ActorDep, now: NowDep
) -> SchedulePublic:
    """Cancel the schedule (kept for the record); its items leave the manifests."""
    schedule, devices = schedules.cancel_schedule(
        session, schedule_id=schedule_id, actor=actor, now=now
    )
    report = last_sync(session)
    return schedule_public(session, schedule, now=now, detailed=True, report=report)
