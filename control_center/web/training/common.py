"""What the training pages share: the officer acting on them, who is the signed-in user's own
officer profile (there is no picker and no officer cookie).

The API-token sign-in of ``/monitor`` is no officer: its holder is sent to sign in on the
console. A user without an officer profile gets a bilingual page saying to ask the training
administrator (403).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.models import Officer
from control_center.training import officers
from control_center.web.shell import CONSOLE, TRAINING, PageRedirect, Viewer, ViewerDep

PREFIX = TRAINING


def officer_of(viewer: Viewer, session: Session) -> Officer | None:
    """The viewer's own officer profile, if they have one."""
    if viewer.actor.user_id is None:
        return None
    return session.scalar(select(Officer).where(Officer.user_id == viewer.actor.user_id))


def current_officer(request: Request, viewer: ViewerDep) -> Officer:
    """The dependency behind ``OfficerDep``: the signed-in user's officer profile."""
    if viewer.actor.user_id is None:  # the token sign-in: sign in as the officer first
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise PageRedirect(RedirectResponse(
            f"{CONSOLE}/login?" + urlencode({"next": target}), status_code=303))
    with viewer.center.read_sessions() as session:
        return officers.of_user(session, actor=viewer.actor)


OfficerDep = Annotated[Officer, Depends(current_officer)]
