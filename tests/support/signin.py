"""One-time sign-in links for tests that open the pages (what ``python -m control_center
sign-in-link`` prints)."""

from __future__ import annotations

from urllib.parse import urlencode

from control_center.accounts import links
from control_center.core.actor import Actor
from tests.support.center import CenterHandle


def sign_in_link(center: CenterHandle, *, user: str | None = None, next: str | None = None) -> str:
    """A fresh link for the monitoring viewer (or ``user``), going on to ``next``."""
    with center.center.sessions() as session:
        code = links.create_link(session, username=user,
                                 minutes=center.settings.sign_in_link_minutes,
                                 actor=Actor("test"), now=center.center.clock())
    query = f"?{urlencode({'next': next})}" if next else ""
    return f"{center.base_url}{links.LINK_PATH}/{code}{query}"
