"""What every console page shares: the signed-in user, CSRF, rendering and form state.

Pages declare ``ctx: ConsoleDep``: the page shell's viewer (``control_center.web.shell``),
who must be a console user; a visitor without a valid session is redirected to the sign-in
page. Every POST form carries the session's CSRF token in a hidden ``csrf`` field, checked by
``ctx.check_csrf``; the session cookie is also ``SameSite=Strict``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi.responses import RedirectResponse

from control_center.web.shell import CONSOLE, UserDep, Viewer
from control_center.web.shell import render as render
from control_center.web.shell import safe_next as safe_next

PREFIX = CONSOLE
ConsoleContext = Viewer
ConsoleDep = UserDep


@dataclass
class FormState:
    """What the user typed and what is wrong with it, field by field (shown beside each)."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    @property
    def ok(self) -> bool:
        return not self.errors


def redirect(url: str) -> RedirectResponse:
    """After a successful POST: see the result (post/redirect/get)."""
    return RedirectResponse(url, status_code=303)
