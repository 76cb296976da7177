"""Console pages for people: administrators manage the accounts of their subtree
(``/console/users``); everyone changes their own password (``/console/account``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from control_center.accounts import passwords
from control_center.accounts import service as accounts
from control_center.api.deps import session_token
from control_center.core.permissions import ROLE_LABELS
from control_center.errors import CenterError, Conflict, InvalidInput, NotAuthenticated
from control_center.models import AdminUnit, Role
from control_center.services.calendar import subtree_units
from control_center.web.console.common import (
    PREFIX,
    ConsoleContext,
    ConsoleDep,
    FormState,
    redirect,
    render,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)
FormText = Annotated[str, Form()]


def _users_page(ctx: ConsoleContext, form: FormState, *, status_code: int = 200,
                flash: str | None = None) -> Response:
    with ctx.center.read_sessions() as session:
        users = accounts.list_users(session, actor=ctx.actor)
        units = subtree_units(session, actor=ctx.actor)
        names = {u.id: u.name for u, _ in units}
    return render(ctx, "console_users.html", status_code=status_code, users=users, units=units,
                  unit_names=names, form=form, flash=flash, now=ctx.center.clock(),
                  role_options=[(r.value, ROLE_LABELS[r]) for r in Role],
                  unit_options=[(str(u.id), "— " * depth + u.name) for u, depth in units])


@router.get("/users")
def users_page(ctx: ConsoleDep, done: str = "") -> Response:
    flash = {"created": "Đã tạo tài khoản / account created",
             "changed": "Đã cập nhật / updated"}.get(done)
    form = FormState(values={"role": Role.OPERATOR.value, "unit_id": str(ctx.actor.unit_id)})
    return _users_page(ctx, form, flash=flash)


@router.post("/users")
def create_user(
    ctx: ConsoleDep, csrf: FormText = "", username: FormText = "", full_name: FormText = "",
    role: FormText = "", unit_id: FormText = "", password: FormText = "",
    password2: FormText = "",
) -> Response:
    """Validate every field first; a mistake is shown beside its field and nothing is saved."""
    ctx.check_csrf(csrf)
    form = FormState(values={"username": username, "full_name": full_name, "role": role,
                             "unit_id": unit_id})
    name = username.strip().lower()
    if not accounts.USERNAME.fullmatch(name):
        form.error("username", "Tên đăng nhập gồm a-z, 0-9, . _ - (2–64 ký tự) / 2-64 "
                               "characters: a-z, 0-9, '.', '_', '-'")
    if role not in {r.value for r in Role}:
        form.error("role", "Chọn vai trò / choose a role")
    if not unit_id.isdigit() or not ctx.actor.covers(int(unit_id)):
        form.error("unit_id", "Chọn đơn vị trong phạm vi của bạn / choose a unit of your "
                              "subtree")
    try:
        passwords.check_policy(password)
    except InvalidInput as exc:
        form.error("password", str(exc))
    if password != password2:
        form.error("password2", "Hai mật khẩu không khớp / the passwords differ")
    if form.ok:
        with ctx.center.sessions() as session:
            try:
                accounts.create_user(session, username=name, password=password,
                                     role=Role(role), unit_id=int(unit_id),
                                     full_name=full_name, actor=ctx.actor,
                                     now=ctx.center.clock())
            except Conflict as exc:
                form.error("username", str(exc))
            except CenterError as exc:
                form.error("_form", str(exc))
    if not form.ok:
        return _users_page(ctx, form, status_code=422)
    return redirect(f"{PREFIX}/users?done=created")


@router.post("/users/{user_id}/{action}")
def user_action(ctx: ConsoleDep, user_id: int, action: str, csrf: FormText = "") -> Response:
    """Enable, disable or unlock an account of the subtree."""
    ctx.check_csrf(csrf)
    now = ctx.center.clock()
    with ctx.center.sessions() as session:
        try:
            if action in ("enable", "disable"):
                accounts.set_active(session, user_id=user_id, active=action == "enable",
                                    actor=ctx.actor, now=now)
            elif action == "unlock":
                accounts.unlock(session, user_id=user_id, actor=ctx.actor, now=now)
            else:
                raise InvalidInput(f"unknown action {action!r}")
        except Conflict as exc:
            form = FormState()
            form.error("_form", str(exc))
            return _users_page(ctx, form, status_code=409)
    return redirect(f"{PREFIX}/users?done=changed")


def _account_page(ctx: ConsoleContext, form: FormState, *, status_code: int = 200,
                  flash: str | None = None) -> Response:
    with ctx.center.read_sessions() as session:
        unit = session.get(AdminUnit, ctx.actor.unit_id)
    return render(ctx, "console_account.html", status_code=status_code, form=form,
                  flash=flash, unit_name=unit.name if unit else "—")


@router.get("/account")
def account_page(ctx: ConsoleDep, done: str = "") -> Response:
    flash = "Đã đổi mật khẩu / password changed" if done == "password" else None
    return _account_page(ctx, FormState(), flash=flash)


@router.post("/account/password")
def change_password(
    request: Request, ctx: ConsoleDep, csrf: FormText = "", current: FormText = "",
    new: FormText = "", new2: FormText = "",
) -> Response:
    """Change one's own password; every other session of the account ends."""
    ctx.check_csrf(csrf)
    form = FormState()
    if not current:
        form.error("current", "Nhập mật khẩu hiện tại / enter your current password")
    try:
        passwords.check_policy(new)
    except InvalidInput as exc:
        form.error("new", str(exc))
    if new != new2:
        form.error("new2", "Hai mật khẩu không khớp / the passwords differ")
    if form.ok:
        assert ctx.actor.user_id is not None
        with ctx.center.sessions() as session:
            try:
                accounts.change_password(
                    session, user_id=ctx.actor.user_id, current=current, new=new,
                    keep_token=session_token(request), actor=ctx.actor,
                    now=ctx.center.clock())
            except NotAuthenticated as exc:
                form.error("current", str(exc))
            except InvalidInput as exc:
                form.error("new", str(exc))
    if not form.ok:
        return _account_page(ctx, form, status_code=422)
    return redirect(f"{PREFIX}/account?done=password")
