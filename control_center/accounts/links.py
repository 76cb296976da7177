"""One-time sign-in links for the pages (``/monitor/sign-in/<code>``): made on the center's
command line, valid for minutes, usable once; only the SHA-256 of the code is stored."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from control_center.accounts.service import token_hash
from control_center.core import audit
from control_center.core.actor import Actor
from control_center.errors import NotAuthenticated, NotFound
from control_center.models import SignInLink, User

LINK_PATH = "/monitor/sign-in"  # + "/<code>"
LINK_REFUSED = ("Liên kết đăng nhập không đúng, đã dùng hoặc đã hết hạn: hãy xin liên kết mới / "
                "the sign-in link is wrong, used or expired: ask for a new one")


def create_link(
    session: Session, *, username: str | None, minutes: float, actor: Actor, now: datetime,
) -> str:
    """A new link code: for the user ``username`` (a session of theirs), or with None for the
    monitoring viewer (the whole tree, as the API token)."""
    user: User | None = None
    if username is not None:
        user = session.scalar(select(User).where(User.username == username.strip().lower()))
        if user is None or not user.active:
            raise NotFound(f"no active user {username!r}")
    code = secrets.token_urlsafe(24)
    session.execute(delete(SignInLink).where(SignInLink.expires_at <= now))
    session.add(SignInLink(code_hash=token_hash(code), user_id=user.id if user else None,
                           created_at=now, expires_at=now + timedelta(minutes=minutes)))
    audit.record(session, actor=actor, action="sign_in_link",
                 object_type="user" if user else "pages", object_id=user.id if user else "",
                 detail={"minutes": minutes}, at=now)
    session.commit()
    return code


def redeem_link(
    session: Session, *, code: str, now: datetime, source_ip: str | None,
) -> User | None:
    """Use a link once: the user it signs in (None: the monitoring viewer, audited here; a
    user's session is audited when it is opened).

    ``NotAuthenticated`` for a wrong, used or expired code or a since disabled user.
    """
    digest = token_hash(code)
    used = session.execute(
        update(SignInLink)
        .where(SignInLink.code_hash == digest, SignInLink.used_at.is_(None),
               SignInLink.expires_at > now)
        .values(used_at=now))
    link = session.get(SignInLink, digest) if used.rowcount == 1 else None  # type: ignore[attr-defined]
    session.commit()
    if link is None:
        raise NotAuthenticated(LINK_REFUSED)
    if link.user_id is None:
        audit.record(session, actor=Actor("pages", source_ip), action="login",
                     object_type="pages", object_id="", detail={"link": True}, at=now)
        session.commit()
        return None
    user = session.get(User, link.user_id)
    if user is None or not user.active:
        raise NotAuthenticated(LINK_REFUSED)
    return user
