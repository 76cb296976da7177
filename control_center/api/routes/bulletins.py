"""Bulletins: recorded audio or text, with a Circular 39/2020 priority and an approval workflow.

A signed-in user's bulletin is a draft of the user's unit: submit → approve (by someone else)
or reject → ... Only approved or scheduled bulletins are broadcast. Everything outside the
caller's subtree (and not sent down to it) answers 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from control_center.api.deps import ActorDep, CenterDep, NowDep, SessionDep
from control_center.models import BulletinStatus
from control_center.schemas.common import ItemList
from control_center.schemas.content import (
    BulletinCreate,
    BulletinPublic,
    BulletinUpdate,
    ReviewNote,
)
from control_center.schemas.distribution import DistributionReport, PublishRequest
from control_center.services import bulletins, distribution, workflow

router = APIRouter(prefix="/bulletins", tags=["bulletins"])
OptionalNote = Annotated[ReviewNote | None, Body()]


@router.post("", response_model=BulletinPublic, status_code=201)
def create_bulletin(
    data: BulletinCreate, session: SessionDep, actor: ActorDep, now: NowDep
) -> BulletinPublic:
    """Users make a draft of their unit (needs edit_bulletins); the API token's is approved."""
    bulletin = bulletins.create_bulletin(session, data=data, actor=actor, now=now)
    return BulletinPublic.model_validate(bulletin)


@router.get("", response_model=ItemList[BulletinPublic])
def list_bulletins(
    session: SessionDep, actor: ActorDep, status: BulletinStatus | None = None
) -> ItemList[BulletinPublic]:
    """Bulletins of the caller's subtree and those sent down to it, newest change first."""
    found = bulletins.list_bulletins(session, actor=actor, status=status)
    return ItemList.of([BulletinPublic.model_validate(b) for b in found])


@router.get("/{bulletin_id}", response_model=BulletinPublic)
def get_bulletin(bulletin_id: int, session: SessionDep, actor: ActorDep) -> BulletinPublic:
    bulletin = workflow.get_visible(session, bulletin_id=bulletin_id, actor=actor)
    return BulletinPublic.model_validate(bulletin)


@router.patch("/{bulletin_id}", response_model=BulletinPublic)
def update_bulletin(
    bulletin_id: int, data: BulletinUpdate, session: SessionDep, center: CenterDep,
    actor: ActorDep, now: NowDep,
) -> BulletinPublic:
    """Edit a bulletin; devices with active schedules of it get a new manifest.

    A user's edit of a submitted, approved or scheduled bulletin sends it back to draft: it
    stops playing until approved again.
    """
    bulletin, affected = bulletins.update_bulletin(
        session, bulletin_id=bulletin_id, data=data, actor=actor, now=now
    )
    out = BulletinPublic.model_validate(bulletin)
    return out


@router.post("/{bulletin_id}/submit", response_model=BulletinPublic)
def submit_bulletin(
    bulletin_id: int, session: SessionDep, actor: ActorDep, now: NowDep,
    data: OptionalNote = None,
) -> BulletinPublic:
    """Draft or rejected → submitted for approval."""
    bulletin = workflow.submit(session, bulletin_id=bulletin_id, actor=actor, now=now,
                               note=data.note if data else "")
    return BulletinPublic.model_validate(bulletin)


@router.post("/{bulletin_id}/approve", response_model=BulletinPublic)
def approve_bulletin(
    bulletin_id: int, session: SessionDep, center: CenterDep, actor: ActorDep, now: NowDep,
    data: OptionalNote = None,
) -> BulletinPublic:
    """Submitted → approved (scheduled again if it still has schedules). Not by its author."""
    bulletin, devices = workflow.approve(session, bulletin_id=bulletin_id, actor=actor, now=now,
                                         note=data.note if data else "")
    out = BulletinPublic.model_validate(bulletin)
    return out


@router.post("/{bulletin_id}/reject", response_model=BulletinPublic)
def reject_bulletin(
    bulletin_id: int, data: ReviewNote, session: SessionDep, actor: ActorDep, now: NowDep,
) -> BulletinPublic:
    """Submitted → rejected; ``note`` (required) tells the author what to change."""
    bulletin = workflow.reject(session, bulletin_id=bulletin_id, actor=actor, now=now,
                               note=data.note)
    return BulletinPublic.model_validate(bulletin)


@router.post("/{bulletin_id}/publish", response_model=DistributionReport, status_code=201)
def publish_bulletin(
    bulletin_id: int, data: PublishRequest, session: SessionDep, center: CenterDep,
    actor: ActorDep, now: NowDep,
) -> DistributionReport:
    """Send an approved bulletin down to every commune below ``unit_ids`` (needs schedule).

    Normal: each commune finds it in its inbox. Priority: ``slot`` required, scheduled in
    every commune at once. Emergency: refused (use the emergency screen).
    """
    _, devices = distribution.publish(session, bulletin_id=bulletin_id, request=data,
                                      actor=actor, now=now,
                                      default_tz=center.settings.timezone)
    return distribution.report(session, bulletin_id=bulletin_id, actor=actor)


@router.get("/{bulletin_id}/distribution", response_model=DistributionReport)
def distribution_report(
    bulletin_id: int, session: SessionDep, actor: ActorDep
) -> DistributionReport:
    """Per receiving commune: accepted/scheduled/declined, who decided, and plays so far."""
    return distribution.report(session, bulletin_id=bulletin_id, actor=actor)
