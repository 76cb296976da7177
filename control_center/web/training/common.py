"""Rendering, the sign-in gate and the temporary officer cookie of the training pages.

Officer identity is TEMPORARY until accounts (issue 7): after the usual token sign-in of the
pages, the person picks who they are on /monitor/training/officer; the choice is kept in the
``tt_officer`` cookie (HMAC-signed with the API token so it cannot be edited by hand).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from control_center.api.deps import CenterDep
from control_center.models import Officer
from control_center.web import auth
from control_center.workers.runtime import Center

PREFIX = "/monitor/training"
OFFICER_COOKIE = "tt_officer"
ROLES = {"editor": "Biên tập viên / editor", "technician": "Kỹ thuật viên / technician",
         "leader": "Lãnh đạo / leader", "moderator": "Điều phối diễn đàn / moderator"}
_env = Environment(loader=FileSystemLoader(Path(__file__).parents[1] / "templates"),
                   autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def render(center: Center, name: str, status_code: int = 200, **context: object) -> Response:
    tz = ZoneInfo(center.settings.timezone)

    def local(at: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
        return at.astimezone(tz).strftime(fmt) if at else "—"

    html = _env.get_template(name).render(local=local, tz_name=center.settings.timezone,
                                          roles=ROLES, prefix=PREFIX, **context)
    return HTMLResponse(html, status_code=status_code)


def current_officer(request: Request, center: CenterDep, _viewer: auth.ViewerDep) -> Officer:
    """The dependency behind ``OfficerDep``: the officer picked on this browser, once signed
    in; without one, a redirect to the picker (``auth.PageRedirect``)."""
    with center.read_sessions() as session:
        officer = officer_of(request, center, session)
    if officer is None:
        raise auth.PageRedirect(pick_officer(request))
    return officer


OfficerDep = Annotated[Officer, Depends(current_officer)]


def _signature(officer_id: int, api_token: str) -> str:
    return hmac.new(api_token.encode(), f"tt-officer-v1:{officer_id}".encode(),
                    hashlib.sha256).hexdigest()[:32]


def set_officer(response: Response, request: Request, center: Center, officer_id: int) -> None:
    value = f"{officer_id}.{_signature(officer_id, center.settings.api_token)}"
    response.set_cookie(OFFICER_COOKIE, value, max_age=auth.MAX_AGE_S, path="/monitor",
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")


def officer_of(request: Request, center: Center, session: Session) -> Officer | None:
    raw = request.cookies.get(OFFICER_COOKIE, "")
    officer_id, _, signature = raw.partition(".")
    if not officer_id.isdigit() or not hmac.compare_digest(
            signature, _signature(int(officer_id), center.settings.api_token)):
        return None
    return session.get(Officer, int(officer_id))


def pick_officer(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{PREFIX}/officer?" + urlencode({"next": target}), status_code=303)


def safe_next(target: str) -> str:
    return target if target.startswith(PREFIX) and "//" not in target else PREFIX
