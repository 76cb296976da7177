"""Dependencies shared by the routes, as Annotated shorthands."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from control_center.accounts import service as accounts
from control_center.api.id_range import check_int_params
from control_center.core.access import API as API_PREFIX
from control_center.core.access import Open, access_for
from control_center.core.actor import Actor
from control_center.core.permissions import Permission
from control_center.core.targets import is_root_unit
from control_center.errors import Forbidden, NotAuthenticated
from control_center.security import cookie_credential, token_matches
from control_center.workers.runtime import Center

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


SESSION_COOKIE = "tt_session"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def session_token(request: Request) -> str | None:
    """The session token in the ``tt_session`` cookie, if any."""
    return cookie_credential(request.cookies.get(SESSION_COOKIE, "")) or None


def require_token(
    request: Request,
    center: CenterDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """Who is calling: ``Authorization: Bearer`` with the system API token or a session token
    (``POST /api/v1/auth/login``), or the console's session cookie.

    With the cookie, a write must also carry the session's CSRF token in ``X-CSRF-Token``.
    Resolved once per request (kept on ``request.state``).
    """
    known: Actor | None = getattr(request.state, "actor", None)
    if known is not None:
        return known
    source_ip = client_ip(request)
    if credentials is not None and credentials.scheme.lower() == "bearer":
        if token_matches(credentials.credentials, center.settings.api_token):
            system = Actor(name="api-token", source_ip=source_ip)
            request.state.actor = system
            return system
        token, from_cookie = credentials.credentials, False
    elif cookie := session_token(request):
        token, from_cookie = cookie, True
    else:
        raise NotAuthenticated("missing credentials: send 'Authorization: Bearer <token>' "
                               "(API token or a session token from POST /api/v1/auth/login)")
    signed = accounts.signed_in(read_sessions=center.read_sessions,
                                write_sessions=center.sessions, token=token,
                                settings=center.settings, now=center.clock(),
                                source_ip=source_ip)
    if from_cookie and request.method in UNSAFE_METHODS and not hmac.compare_digest(
            request.headers.get(CSRF_HEADER, ""), signed.csrf_token):
        raise Forbidden(f"missing or wrong {CSRF_HEADER} header for a cookie session")
    request.state.actor = signed.actor
    return signed.actor


def route_access(
    request: Request,
    center: CenterDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Every API route's gate: the caller must hold what ``core.access.ROUTES`` says for it
    (401 without credentials, 403 without the permission). Public routes skip sign-in."""
    access = access_for(request.method, API_PREFIX + request.scope["route"].path_format)
    if access.need is not Open.PUBLIC:
        actor = require_token(request, center, credentials)
        if isinstance(access.need, Permission):
            actor.require(access.need)
        if access.center_wide and not actor.is_system:
            require_root_unit(center, actor)
    check_int_params(request)


def require_root_unit(center: Center, actor: Actor) -> None:
    """403 unless the actor is a user of a root unit (center-wide routes and pages)."""
    with center.read_sessions() as session:
        if not is_root_unit(session, actor.unit_id):
            raise Forbidden("chỉ người dùng của đơn vị cấp cao nhất / only users of the top unit "
                            "(or the API token) may change the whole center")


ActorDep = Annotated[Actor, Depends(require_token)]


