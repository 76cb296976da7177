"""What every console page shares: the signed-in user, CSRF, rendering and form state.

Pages declare ``ctx: ConsoleDep``; a visitor without a valid session is redirected to the
sign-in page (``LoginRequired`` is turned into a 303 by ``install_console_handlers``). Every
POST form carries the session's CSRF token in a hidden ``csrf`` field, checked by
``ctx.check_csrf``; the session cookie is also ``SameSite=Strict``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from control_center.accounts import service as accounts
from control_center.api.deps import SESSION_COOKIE, CenterDep, client_ip
from control_center.api.errors import center_error_json
from control_center.core.actor import Actor
from control_center.core.permissions import ROLE_LABELS, Permission
from control_center.errors import CenterError, Forbidden, NotAuthenticated
from control_center.models import Role
from control_center.workers.runtime import Center

PREFIX = "/console"
_env = Environment(loader=FileSystemLoader(Path(__file__).parents[1] / "templates"),
                   autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


class LoginRequired(Exception):
    """No valid session: answered with a redirect to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


@dataclass(frozen=True, slots=True)
class ConsoleContext:
    """The signed-in user of a console request."""

    center: Center
    actor: Actor
    full_name: str
    csrf_token: str

    @property
    def role(self) -> Role:
        assert self.actor.role is not None  # console users are never the system token
        return self.actor.role

    def may(self, permission: Permission) -> bool:
        return self.actor.may(permission)

    def check_csrf(self, presented: str | None) -> None:
        """Refuse a form post without this session's CSRF token (403)."""
        if not presented or not hmac.compare_digest(presented, self.csrf_token):
            raise Forbidden("biểu mẫu hết hạn hoặc không hợp lệ, hãy tải lại trang / the form "
                            "is stale or forged (CSRF check failed): reload the page")


def console_user(request: Request, center: CenterDep) -> ConsoleContext:
    """The dependency behind ``ConsoleDep``: resolve the session cookie or ask to sign in."""
    token = request.cookies.get(SESSION_COOKIE)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not token:
        raise LoginRequired(target)
    try:
        signed = accounts.signed_in(read_sessions=center.read_sessions,
                                    write_sessions=center.sessions, token=token,
                                    settings=center.settings, now=center.clock(),
                                    source_ip=client_ip(request))
    except NotAuthenticated as exc:
        raise LoginRequired(target) from exc
    return ConsoleContext(center=center, actor=signed.actor, full_name=signed.full_name,
                          csrf_token=signed.csrf_token)


ConsoleDep = Annotated[ConsoleContext, Depends(console_user)]


PAGE_PREFIXES = (PREFIX, "/monitor")
ERROR_TITLES = {401: ("Cần đăng nhập", "sign-in needed"), 403: ("Không được phép", "not allowed"),
                404: ("Không tìm thấy", "not found"), 409: ("Xung đột", "conflict"),
                422: ("Dữ liệu không hợp lệ", "invalid input")}


def install_console_handlers(app: FastAPI) -> None:
    """Redirect to sign-in when needed; answer errors on pages with a page, not JSON."""

    async def to_login(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return RedirectResponse(f"{PREFIX}/login?" + urlencode({"next": exc.next_url}),
                                status_code=303)

    async def page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CenterError)
        if not request.url.path.startswith(PAGE_PREFIXES):
            return await center_error_json(request, exc)
        vi, en = ERROR_TITLES.get(exc.status_code, ("Hệ thống tạm thời lỗi", "unavailable"))
        center: Center = request.app.state.center
        return render(center, "console_error.html", status_code=exc.status_code, vi=vi, en=en,
                      message=str(exc), back=_local_referer(request))

    app.add_exception_handler(LoginRequired, to_login)
    app.add_exception_handler(CenterError, page_error)


def _local_referer(request: Request) -> str:
    """The page the user came from, when it is one of ours; else the start page."""
    referer = request.headers.get("referer", "")
    base = str(request.base_url).rstrip("/")
    return safe_next(referer[len(base):] if referer.startswith(base + "/") else None)


def safe_next(target: str | None) -> str:
    """Only local console or monitoring paths are followed after sign-in."""
    if target and target.startswith(("/console", "/monitor")) and "//" not in target:
        return target
    return PREFIX


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


def render(
    ctx: ConsoleContext | Center, name: str, *, status_code: int = 200, **context: object
) -> HTMLResponse:
    """Render a console template with the user, CSRF token and local-time helpers."""
    center = ctx.center if isinstance(ctx, ConsoleContext) else ctx
    tz = ZoneInfo(center.settings.timezone)

    def local(at: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
        return at.astimezone(tz).strftime(fmt) if at else "—"

    user = ctx if isinstance(ctx, ConsoleContext) else None
    html = _env.get_template(name).render(
        local=local, tz_name=center.settings.timezone, ctx=user, role_labels=ROLE_LABELS,
        Permission=Permission, csrf=user.csrf_token if user else "", **context)
    return HTMLResponse(html, status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    """After a successful POST: see the result (post/redirect/get)."""
    return RedirectResponse(url, status_code=303)
