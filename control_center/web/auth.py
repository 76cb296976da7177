"""Sign-in for the pages: the API token once (form or ``?token=``), then an HttpOnly cookie;
or a console user's session (``/console/login``).

The cookie holds an HMAC of the token, not the token itself; it is ``SameSite=Strict`` (a
form posted from another site carries no cookie) and limited to ``/monitor``. The token
path stays for technicians' scripts; people sign in on the console.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import RedirectResponse

from control_center.accounts import service as accounts
from control_center.api.deps import SESSION_COOKIE, CenterDep
from control_center.core.actor import Actor
from control_center.errors import NotAuthenticated
from control_center.security import token_matches
from control_center.workers.runtime import Center

COOKIE = "tt_pages"
MAX_AGE_S = 12 * 3600


def cookie_value(api_token: str) -> str:
    return hmac.new(api_token.encode(), b"tt-pages-v1", hashlib.sha256).hexdigest()


def signed_in(request: Request, api_token: str) -> bool:
    held = request.cookies.get(COOKIE, "")
    return bool(held) and hmac.compare_digest(held, cookie_value(api_token))


def token_ok(candidate: str, api_token: str) -> bool:
    return bool(candidate) and token_matches(candidate, api_token)


def sign_in(response: Response, request: Request, api_token: str) -> None:
    response.set_cookie(COOKIE, cookie_value(api_token), max_age=MAX_AGE_S, path="/monitor",
                        httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


def sign_out(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/monitor")


def console_user(request: Request, center: Center) -> Actor | None:
    """The console user behind the request's session cookie (scoped to their subtree), if any."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return accounts.signed_in(read_sessions=center.read_sessions,
                                  write_sessions=center.sessions, token=token,
                                  settings=center.settings, now=center.clock(),
                                  source_ip=request.client.host if request.client else None
                                  ).actor
    except NotAuthenticated:
        return None


class PageRedirect(Exception):
    """Answered with its redirect: sign in first, or the same page without ``?token=``."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.headers.get("location", ""))
        self.response = response


def page_viewer(request: Request, center: CenterDep) -> Actor:
    """The dependency behind ``ViewerDep``: who looks at a page. A console user is scoped to
    their subtree; the holder of the API-token cookie sees the whole tree. Anyone else is
    redirected to sign in (``PageRedirect``), and ``?token=`` signs in and is dropped."""
    user = console_user(request, center)
    if user is not None:
        return user
    api_token = center.settings.api_token
    token = request.query_params.get("token")
    if token is not None and token_ok(token, api_token):
        rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
        response = RedirectResponse(request.url.path + (f"?{urlencode(rest)}" if rest else ""),
                                    status_code=303)
        sign_in(response, request, api_token)
        raise PageRedirect(response)
    if signed_in(request, api_token):
        return Actor(name="pages", source_ip=request.client.host if request.client else None)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    raise PageRedirect(RedirectResponse("/monitor/login?" + urlencode({"next": target}),
                                        status_code=303))


ViewerDep = Annotated[Actor, Depends(page_viewer)]


def install_page_handlers(app: FastAPI) -> None:
    async def redirect(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageRedirect)
        return exc.response

    app.add_exception_handler(PageRedirect, redirect)
