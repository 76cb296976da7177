"""Sign in for API clients: a session token used as ``Authorization: Bearer``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from control_center.accounts import service as accounts
from control_center.api.deps import ActorDep, CenterDep, NowDep, SessionDep, client_ip
from control_center.core.permissions import Permission
from control_center.schemas.accounts import LoginPublic, LoginRequest, MePublic

router = APIRouter(prefix="/auth", tags=["auth"])
me_router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=LoginPublic)
def login(data: LoginRequest, request: Request, session: SessionDep, center: CenterDep,
          now: NowDep) -> LoginPublic:
    """401 with one message for a wrong name or password, a disabled account and an account
    locked for this address; 429 (``Retry-After``) for an address that failed too often."""
    signed = accounts.authenticate(session, username=data.username, password=data.password,
                                   settings=center.settings, now=now,
                                   source_ip=client_ip(request))
    user = signed.user
    return LoginPublic(token=signed.token, expires_at=signed.expires_at, username=user.username,
                       role=user.role, unit_id=user.unit_id)


@router.post("/logout", status_code=204)
def logout(request: Request, session: SessionDep) -> Response:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        accounts.end_session(session, token=header[7:].strip())
    return Response(status_code=204)


@me_router.get("/me", response_model=MePublic)
def me(actor: ActorDep) -> MePublic:
    return MePublic(username=actor.name, role=actor.role, unit_id=actor.unit_id,
                    permissions=sorted(p.value for p in Permission if actor.may(p)))
