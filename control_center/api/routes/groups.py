"""Device groups: named sets of devices usable as schedule targets."""

from __future__ import annotations

from fastapi import APIRouter

from control_center.api.deps import ActorDep, NowDep, SessionDep
from control_center.api.presenters import group_public
from control_center.schemas.common import ItemList
from control_center.schemas.fleet import GroupCreate, GroupPublic
from control_center.services import fleet

router = APIRouter(prefix="/groups", tags=["groups"])


@router.post("", response_model=GroupPublic, status_code=201)
def create_group(
    data: GroupCreate, session: SessionDep, actor: ActorDep, now: NowDep
) -> GroupPublic:
    group = fleet.create_group(session, name=data.name, device_ids=data.device_ids, actor=actor,
                               now=now)
    return group_public(group)


@router.get("", response_model=ItemList[GroupPublic])
def list_groups(session: SessionDep, actor: ActorDep) -> ItemList[GroupPublic]:
    """Groups whose devices all lie inside your subtree."""
    return ItemList.of([group_public(g) for g in fleet.list_groups(session, actor=actor)])


@router.get("/{group_id}", response_model=GroupPublic)
def get_group(group_id: int, session: SessionDep, actor: ActorDep) -> GroupPublic:
    """404 for a group with a device outside your subtree."""
    return group_public(fleet.get_group(session, group_id=group_id, actor=actor))
