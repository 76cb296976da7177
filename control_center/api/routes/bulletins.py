"""Bulletins: recorded audio or text, with a Circular 39/2020 priority."""

from __future__ import annotations

from fastapi import APIRouter

from control_center.api.deps import ActorDep, CenterDep, NowDep, SessionDep, republish
from control_center.schemas.common import ItemList
from control_center.schemas.content import BulletinCreate, BulletinPublic, BulletinUpdate
from control_center.services import bulletins

router = APIRouter(prefix="/bulletins", tags=["bulletins"])


@router.post("", response_model=BulletinPublic, status_code=201)
def create_bulletin(
    data: BulletinCreate, session: SessionDep, actor: ActorDep, now: NowDep
) -> BulletinPublic:
    bulletin = bulletins.create_bulletin(session, data=data, actor=actor, now=now)
    return BulletinPublic.model_validate(bulletin)


@router.get("", response_model=ItemList[BulletinPublic])
def list_bulletins(session: SessionDep) -> ItemList[BulletinPublic]:
    found = bulletins.list_bulletins(session)
    return ItemList.of([BulletinPublic.model_validate(b) for b in found])


@router.get("/{bulletin_id}", response_model=BulletinPublic)
def get_bulletin(bulletin_id: int, session: SessionDep) -> BulletinPublic:
    return BulletinPublic.model_validate(bulletins.get_bulletin(session, bulletin_id=bulletin_id))


@router.patch("/{bulletin_id}", response_model=BulletinPublic)
def update_bulletin(
    bulletin_id: int, data: BulletinUpdate, session: SessionDep, center: CenterDep,
    actor: ActorDep, now: NowDep,
) -> BulletinPublic:
    """Edit a bulletin; devices with active schedules of it get a new manifest."""
    bulletin, affected = bulletins.update_bulletin(
        session, bulletin_id=bulletin_id, data=data, actor=actor, now=now
    )
    if affected:
        republish(center, session, affected)
    return BulletinPublic.model_validate(bulletin)
