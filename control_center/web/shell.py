"""The shell of every page (console, monitoring, training): templates, rendering, who is
looking, sign-in cookies, redirects and the error page.

Who is looking is resolved once per request (``ViewerDep``), from one of two cookies, both
``HttpOnly`` and ``SameSite=Strict`` (a form posted from another site carries neither):

- ``tt_session`` (path ``/``): a console user's server-side session (``/console/login``), the
  same cookie the API reads; the user is scoped to their subtree.
- ``tt_pages`` (path ``/monitor``): the viewer sign-in of the monitoring and training pages
  (the API token in the ``/monitor/login`` form, or a one-time link ``/monitor/sign-in/<code>``
  printed by ``python -m control_center sign-in-link``). It holds a random nonce and its HMAC
  keyed with the API token, never the token, and sees the whole tree.

Every state-changing form carries the sign-in's CSRF token (``csrf_input()`` in the templates,
checked by the ``form_csrf`` dependency): the console session's, or for ``tt_pages`` an HMAC of
its nonce.

The training pages act as the signed-in user's own officer profile (no cookie of their own).
Without a sign-in, a page redirects to the
sign-in page of its part (console or monitoring) with ``next``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup

from control_center.accounts import service as accounts
from control_center.api.deps import SESSION_COOKIE, CenterDep, client_ip, session_token
from control_center.api.errors import center_error_json
from control_center.core.actor import Actor
from control_center.core.permissions import ROLE_LABELS, Permission
from control_center.core.targets import is_root_unit
from control_center.errors import CenterError, Forbidden, NotAuthenticated
from control_center.models import Role
from control_center.security import cookie_credential, token_matches
from control_center.web import labels
from control_center.workers.runtime import Center

CONSOLE = "/console"
MONITOR = "/monitor"
TRAINING = "/monitor/training"
PAGES_COOKIE = "tt_pages"
PAGES_MAX_AGE_S = 12 * 3600
ERROR_TITLES = {401: ("Cần đăng nhập", "sign-in needed"), 403: ("Không được phép", "not allowed"),
                404: ("Không tìm thấy", "not found"), 409: ("Xung đột", "conflict"),
                422: ("Dữ liệu không hợp lệ", "invalid input")}


@pass_context
def csrf_input(context: Context) -> Markup:
    """The hidden CSRF field of a form, with the token of whoever the page was rendered for."""
    return Markup('<input type="hidden" name="csrf" value="{}">').format(context.get("csrf", ""))


@cache
def environment() -> Environment:
    """The pages' one Jinja environment, built at its first use."""
    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.globals.update(role_labels=ROLE_LABELS, Permission=Permission, presence=labels.PRESENCE,
                       alert_kinds=labels.ALERT_KINDS, alert_states=labels.ALERT_STATES,
                       play_states=labels.PLAY_STATES, roles=labels.OFFICER_ROLES,
                       prefix=TRAINING, csrf_input=csrf_input)
    return env


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who looks at a page: a console user or the holder of the API-token sign-in."""

    center: Center
    actor: Actor
    cookie: str  # the cookie that signed in: SESSION_COOKIE or PAGES_COOKIE
    credential: str  # the cookie's sign-in credential
    full_name: str = ""
    csrf_token: str = ""  # the console session's, or derived from the tt_pages nonce

    @property
    def role(self) -> Role:
        assert self.actor.role is not None  # console users are never the system token
        return self.actor.role

    def may(self, permission: Permission) -> bool:
        return self.actor.may(permission)

    @property
    def at_root(self) -> bool:
        """A user of a root unit: sees the center-wide pages (the links between centers)."""
        with self.center.read_sessions() as session:
            return is_root_unit(session, self.actor.unit_id)

    def check_csrf(self, presented: str | None) -> None:
        """Refuse a form post without this session's CSRF token (403)."""
        if not presented or not self.csrf_token or not hmac.compare_digest(
                presented.encode(), self.csrf_token.encode()):
            raise Forbidden("biểu mẫu hết hạn hoặc không hợp lệ, hãy tải lại trang / the form "
                            "is stale or forged (CSRF check failed): reload the page")


def render(
    who: Viewer | Center, name: str, *, status_code: int = 200, **context: object
) -> HTMLResponse:
    """Render a page with the viewer, their CSRF token and local-time helpers.

    ``local(at)`` shows a time in the center's zone to the minute (``seconds=True`` to the
    second, as the monitoring pages do).
    """
    center = who.center if isinstance(who, Viewer) else who
    tz = ZoneInfo(center.settings.timezone)

    def local(at: datetime | None, fmt: str = "%d/%m/%Y %H:%M", seconds: bool = False) -> str:
        return at.astimezone(tz).strftime(fmt + (":%S" if seconds else "")) if at else "—"

    viewer = who if isinstance(who, Viewer) else None
    html = environment().get_template(name).render(
        local=local, tz_name=center.settings.timezone, ctx=viewer,
        csrf=viewer.csrf_token if viewer else "", **context)
    return HTMLResponse(html, status_code=status_code)


def safe_next(target: str | None, *, fallback: str = CONSOLE) -> str:
    """Only local console or monitoring paths are followed after a sign-in or a choice."""
    if target and target.startswith((CONSOLE, MONITOR)) and "//" not in target:
        return target
    return fallback


class PageRedirect(Exception):
    """Answered with its redirect: sign in first, or the same page without ``?token=``."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.headers.get("location", ""))
        self.response = response


def _sign_in_first(request: Request) -> PageRedirect:
    login = f"{CONSOLE}/login" if request.url.path.startswith(CONSOLE) else f"{MONITOR}/login"
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return PageRedirect(RedirectResponse(f"{login}?" + urlencode({"next": target}),
                                         status_code=303))


def _pages_mac(api_token: str, purpose: str, nonce: str) -> str:
    message = f"tt-pages-v2:{purpose}:{nonce}".encode()
    return hmac.new(api_token.encode(), message, hashlib.sha256).hexdigest()


def _pages_credential(api_token: str, nonce: str) -> str:
    """``<nonce>-<HMAC>``: a fresh nonce at each sign-in, so each has its own CSRF token."""
    return f"{nonce}-{_pages_mac(api_token, 'sign-in', nonce)}"


def _user(request: Request, center: Center) -> Viewer | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    credential = cookie_credential(raw)
    try:
        signed = accounts.signed_in(read_sessions=center.read_sessions,
                                    write_sessions=center.sessions, token=credential,
                                    settings=center.settings, now=center.clock(),
                                    source_ip=client_ip(request))
    except NotAuthenticated:
        return None
    return Viewer(center=center, actor=signed.actor, cookie=SESSION_COOKIE, credential=credential,
                  full_name=signed.full_name, csrf_token=signed.csrf_token)


def _token_holder(request: Request, center: Center) -> Viewer | None:
    key = center.settings.api_token
    credential = cookie_credential(request.cookies.get(PAGES_COOKIE, ""))
    nonce = credential.partition("-")[0]
    if not nonce or not hmac.compare_digest(credential.encode(),
                                            _pages_credential(key, nonce).encode()):
        return None
    return Viewer(center=center, actor=Actor(name="pages", source_ip=client_ip(request)),
                  cookie=PAGES_COOKIE, credential=credential,
                  csrf_token=_pages_mac(key, "csrf", nonce))


def page_viewer(request: Request, center: CenterDep) -> Viewer:
    """The dependency behind ``ViewerDep``: a console user first, else the viewer sign-in
    (``tt_pages``); anyone else is sent to sign in (``PageRedirect``). Resolved once per request
    (kept on ``request.state``: the page gate and the handler share it)."""
    known: Viewer | None = getattr(request.state, "viewer", None)
    if known is not None:
        return known
    user = _user(request, center)
    if user is not None:
        request.state.viewer = user
        return user
    holder = _token_holder(request, center)
    if holder is not None:
        request.state.viewer = holder
        return holder
    raise _sign_in_first(request)


ViewerDep = Annotated[Viewer, Depends(page_viewer)]


def form_csrf(viewer: ViewerDep, csrf: Annotated[str, Form()] = "") -> None:
    """The one CSRF check of the pages' forms (``dependencies=[FORM_CSRF]`` on each POST):
    the hidden ``csrf`` field must hold the sign-in's token (403 otherwise)."""
    viewer.check_csrf(csrf)


FORM_CSRF = Depends(form_csrf)


def console_user(request: Request, viewer: ViewerDep) -> Viewer:
    """The dependency behind ``UserDep``: a console user (the token sign-in is not one)."""
    if viewer.actor.role is None:
        raise _sign_in_first(request)
    return viewer


UserDep = Annotated[Viewer, Depends(console_user)]


def token_ok(candidate: str, api_token: str) -> bool:
    return bool(candidate) and token_matches(candidate, api_token)


def _set_cookie(response: Response, request: Request, center: Center, name: str,
                value: str) -> None:
    if name == SESSION_COOKIE:
        max_age, path = int(center.settings.session_hours * 3600), "/"
    else:
        max_age, path = PAGES_MAX_AGE_S, MONITOR
    response.set_cookie(name, value, max_age=max_age,
                        path=path, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


def sign_in_user(response: Response, request: Request, center: Center, token: str) -> None:
    """After a console sign-in: the session token in ``tt_session``."""
    _set_cookie(response, request, center, SESSION_COOKIE, token)


def sign_in_token(response: Response, request: Request, center: Center) -> None:
    """After the API token was shown or a viewer link opened: ``tt_pages`` with a new
    nonce."""
    credential = _pages_credential(center.settings.api_token, secrets.token_hex(16))
    _set_cookie(response, request, center, PAGES_COOKIE, credential)


def sign_out(response: Response, request: Request, center: Center) -> None:
    """End the console session, if any, and drop both sign-in cookies."""
    if token := session_token(request):
        with center.sessions() as session:
            accounts.end_session(session, token=token)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(PAGES_COOKIE, path=MONITOR)


def install_page_handlers(app: FastAPI) -> None:
    """Answer ``PageRedirect`` with its redirect, and errors on pages with the bilingual error
    page, not JSON (elsewhere, the API's JSON)."""

    async def redirect(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageRedirect)
        return exc.response

    async def page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CenterError)
        if not request.url.path.startswith((CONSOLE, MONITOR)):
            return await center_error_json(request, exc)
        vi, en = ERROR_TITLES.get(exc.status_code, ("Hệ thống tạm thời lỗi", "unavailable"))
        center: Center = request.app.state.center
        return render(center, "console_error.html", status_code=exc.status_code, vi=vi, en=en,
                      message=str(exc), back=_local_referer(request))

    app.add_exception_handler(PageRedirect, redirect)
    app.add_exception_handler(CenterError, page_error)


def _local_referer(request: Request) -> str:
    """The page the user came from, when it is one of ours; else the console's start page."""
    referer = request.headers.get("referer", "")
    base = str(request.base_url).rstrip("/")
    return safe_next(referer[len(base):] if referer.startswith(base + "/") else None)
