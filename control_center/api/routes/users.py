"""Users: administrators create them inside their own subtree."""

from __future__ import annotations

from fastapi import APIRouter

from control_center.accounts import service as accounts
from control_center.api.deps import ActorDep, NowDep, SessionDep
from control_center.schemas.accounts import UserCreate, UserPublic
from control_center.schemas.common import ItemList

router = APIRouter(prefix="/users", tags=["users"])


@router.post("", response_model=UserPublic, status_code=201)
def create_user(data: UserCreate, session: SessionDep, actor: ActorDep, now: NowDep) -> UserPublic:
    """422 for a weak password or bad name, 409 for a taken name, 404 for a unit outside
    your subtree."""
    user = accounts.create_user(session, username=data.username, password=data.password,
                                role=data.role, unit_id=data.unit_id, full_name=data.full_name,
                                actor=actor, now=now)
    return UserPublic.model_validate(user)


@router.get("", response_model=ItemList[UserPublic])
def list_users(session: SessionDep, actor: ActorDep) -> ItemList[UserPublic]:
    return ItemList.of([UserPublic.model_validate(u)
                        for u in accounts.list_users(session, actor=actor)])
