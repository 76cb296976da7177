"""What the training pages share: the officer acting on them.

Officer identity is TEMPORARY until officers are tied to accounts: once signed in (a console
user or the API-token sign-in of ``/monitor``), the person picks who they are on
/monitor/training/officer; the choice is signed onto their sign-in cookie
(``control_center.web.shell``).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from control_center.models import Officer
from control_center.web.shell import TRAINING, PageRedirect, Viewer, ViewerDep

PREFIX = TRAINING


def officer_of(viewer: Viewer, session: Session) -> Officer | None:
    """The officer the viewer picked, if any (and still there)."""
    return session.get(Officer, viewer.officer_id) if viewer.officer_id is not None else None


def current_officer(request: Request, viewer: ViewerDep) -> Officer:
    """The dependency behind ``OfficerDep``: the officer picked on this browser, once signed
    in; without one, a redirect to the picker (``PageRedirect``)."""
    with viewer.center.read_sessions() as session:
        officer = officer_of(viewer, session)
    if officer is None:
        raise PageRedirect(pick_officer(request))
    return officer


OfficerDep = Annotated[Officer, Depends(current_officer)]


def pick_officer(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{PREFIX}/officer?" + urlencode({"next": target}), status_code=303)
