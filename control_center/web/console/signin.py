"""Console sign-in and sign-out, and the start page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from control_center.accounts import service as accounts
from control_center.api.deps import CenterDep, client_ip
from control_center.core.permissions import Permission
from control_center.errors import NotAuthenticated, TooManyAttempts
from control_center.feedback import desk
from control_center.models import Bulletin, BulletinStatus, Device, Distribution
from control_center.models import DistributionState as DS
from control_center.web.console.common import (
    PREFIX,
    ConsoleDep,
    FormState,
    redirect,
    render,
    safe_next,
)
from control_center.web.shell import sign_in_user, sign_out

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/login")
def login_form(center: CenterDep, next: str = PREFIX) -> Response:
    return render(center, "console_login.html", next=safe_next(next), form=FormState())


@router.post("/login")
def login(
    request: Request, center: CenterDep, username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = PREFIX,
) -> Response:
    form = FormState(values={"username": username})
    retry_after: int | None = None
    if not username.strip():
        form.error("username", "Nhập tên đăng nhập / enter your user name")
    if not password:
        form.error("password", "Nhập mật khẩu / enter your password")
    if form.ok:
        with center.sessions() as session:
            try:
                signed = accounts.authenticate(
                    session, username=username, password=password, settings=center.settings,
                    now=center.clock(), source_ip=client_ip(request))
            except NotAuthenticated as exc:
                form.error("password", str(exc))
            except TooManyAttempts as exc:
                form.error("password", str(exc))
                retry_after = exc.retry_after_s
    if not form.ok:
        status = 429 if retry_after is not None else 401 if password else 422
        page = render(center, "console_login.html", status_code=status, next=safe_next(next),
                      form=form)
        if retry_after is not None:
            page.headers["Retry-After"] = str(retry_after)
        return page
    response = redirect(safe_next(next))
    sign_in_user(response, request, center, signed.token)
    return response


@router.post("/logout")
def logout(request: Request, ctx: ConsoleDep, csrf: Annotated[str, Form()] = "") -> Response:
    ctx.check_csrf(csrf)
    response = redirect(f"{PREFIX}/login")
    sign_out(response, request, ctx.center)
    return response


@router.get("")
def home(ctx: ConsoleDep) -> Response:
    """What waits for this user: bulletins to approve, the inbox, devices offline."""
    scope = ctx.actor.scope
    with ctx.center.read_sessions() as session:
        def count_bulletins(status: BulletinStatus) -> int:
            q = select(func.count()).select_from(Bulletin).where(Bulletin.status == status)
            if scope is not None:
                q = q.where(Bulletin.unit_id.in_(scope))
            return session.scalar(q) or 0

        inbox_q = select(func.count()).select_from(Distribution).where(
            Distribution.state == DS.INBOX)
        dev_q = select(Device.online, func.count()).group_by(Device.online)
        if scope is not None:
            inbox_q = inbox_q.where(Distribution.unit_id.in_(scope))
            dev_q = dev_q.where(Device.unit_id.in_(scope))
        devices = {bool(online): int(n) for online, n in session.execute(dev_q)}
        due_soon = overdue = None  # shown to those who handle feedback
        if ctx.actor.may(Permission.FEEDBACK) and ctx.actor.unit_id is not None:
            due_soon, overdue = desk.reminders(session, scope_unit_id=ctx.actor.unit_id,
                                               now=ctx.center.clock())
        figures = {
            "due_soon": due_soon, "overdue": overdue,
            "submitted": count_bulletins(BulletinStatus.SUBMITTED),
            "drafts": count_bulletins(BulletinStatus.DRAFT),
            "inbox": session.scalar(inbox_q) or 0,
            "online": devices.get(True, 0),
            "offline": devices.get(False, 0),
        }
    return render(ctx, "console_home.html", figures=figures)
