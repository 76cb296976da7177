"""The commune's side of content sent down the tree: the inbox, accept, decline and rank."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from control_center.api.deps import ActorDep, CenterDep, NowDep, SessionDep
from control_center.models import Bulletin, Distribution, DistributionState
from control_center.schemas.common import ItemList
from control_center.schemas.distribution import (
    AcceptRequest,
    DeclineRequest,
    DistributionPublic,
    RankRequest,
)
from control_center.services import distribution

router = APIRouter(prefix="/distributions", tags=["distributions"])


def distributions_public(session: Session, rows: list[Distribution]) -> list[DistributionPublic]:
    """Rows with their bulletin's title and priority and the units' names."""
    names = distribution.unit_names(session, {r.unit_id for r in rows}
                                    | {r.from_unit_id for r in rows})
    out = []
    for row in rows:
        bulletin = session.get(Bulletin, row.bulletin_id)
        assert bulletin is not None  # foreign key
        out.append(DistributionPublic(
            id=row.id, bulletin_id=row.bulletin_id, bulletin_title=bulletin.title,
            priority=bulletin.priority, unit_id=row.unit_id,
            unit_name=names.get(row.unit_id, "?"), from_unit_id=row.from_unit_id,
            from_unit_name=names.get(row.from_unit_id, "?"), state=row.state,
            schedule_id=row.schedule_id, rank=row.rank, published_by=row.published_by,
            published_at=row.published_at, decided_by=row.decided_by,
            decided_at=row.decided_at, note=row.note))
    return out


@router.get("", response_model=ItemList[DistributionPublic])
def list_distributions(
    session: SessionDep, actor: ActorDep, state: DistributionState | None = None,
    bulletin_id: int | None = None,
) -> ItemList[DistributionPublic]:
    """What was sent down to units of the caller's subtree (``state=inbox``: to decide)."""
    rows = distribution.list_distributions(session, actor=actor, state=state,
                                           bulletin_id=bulletin_id)
    return ItemList.of(distributions_public(session, rows))


@router.get("/{distribution_id}", response_model=DistributionPublic)
def get_distribution(
    distribution_id: int, session: SessionDep, actor: ActorDep
) -> DistributionPublic:
    row = distribution.get_distribution(session, distribution_id=distribution_id, actor=actor)
    return distributions_public(session, [row])[0]


@router.post("/{distribution_id}/accept", response_model=DistributionPublic)
def accept_distribution(
    distribution_id: int, data: AcceptRequest, session: SessionDep, center: CenterDep,
    actor: ActorDep, now: NowDep,
) -> DistributionPublic:
    """Play it in the commune in ``slot``: creates the commune's schedule (needs schedule)."""
    row, devices = distribution.accept(session, distribution_id=distribution_id, slot=data.slot,
                                       actor=actor, now=now,
                                       default_tz=center.settings.timezone)
    out = distributions_public(session, [row])[0]
    return out


@router.post("/{distribution_id}/decline", response_model=DistributionPublic)
def decline_distribution(
    distribution_id: int, data: DeclineRequest, session: SessionDep, actor: ActorDep,
    now: NowDep,
) -> DistributionPublic:
    """Do not play it; ``note`` tells the upper level why."""
    row = distribution.decline(session, distribution_id=distribution_id, note=data.note,
                               actor=actor, now=now)
    return distributions_public(session, [row])[0]


@router.post("/{distribution_id}/rank", response_model=DistributionPublic)
def rank_distribution(
    distribution_id: int, data: RankRequest, session: SessionDep, center: CenterDep,
    actor: ActorDep, now: NowDep,
) -> DistributionPublic:
    """Order a scheduled priority item among clashing ones (lower plays first); the devices
    receive it as ``PlayItem.order``."""
    row, devices = distribution.set_rank(session, distribution_id=distribution_id,
                                         rank=data.rank, actor=actor, now=now)
    out = distributions_public(session, [row])[0]
    return out
