"""Dependencies shared by the routes, as Annotated shorthands."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from control_center.errors import NotAuthenticated
from control_center.runtime import Center
from control_center.security import token_matches
from control_center.services.audit import Actor
from control_center.services.manifest_sync import SyncReport

_bearer = HTTPBearer(auto_error=False, description="TT_API_TOKEN")


def get_center(request: Request) -> Center:
    center: Center = request.app.state.center
    return center


CenterDep = Annotated[Center, Depends(get_center)]


def get_session(request: Request, center: CenterDep) -> Iterator[Session]:
    """One session per request; services commit their own writes.

    GET and HEAD requests read a snapshot without taking SQLite's write lock, so hundreds of
    agents downloading media never queue behind (or time out on) a schedule being saved.
    """
    factory = center.read_sessions if request.method in ("GET", "HEAD") else center.sessions
    with factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_now(center: CenterDep) -> datetime:
    return center.clock()


NowDep = Annotated[datetime, Depends(get_now)]


def require_token(
    request: Request,
    center: CenterDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """Accept the request only with ``Authorization: Bearer <TT_API_TOKEN>``."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("missing bearer token: send 'Authorization: Bearer <API token>'")
    if not token_matches(credentials.credentials, center.settings.api_token):
        raise NotAuthenticated("wrong API token")
    source_ip = request.client.host if request.client else None
    return Actor(name="api-token", source_ip=source_ip)


ActorDep = Annotated[Actor, Depends(require_token)]


def republish(center: Center, session: Session, device_ids: Iterable[str]) -> SyncReport:
    """End the request's transaction (it may hold SQLite's write lock), then sync manifests."""
    session.commit()
    return center.manifests.sync(device_ids)
