"""Console pages of the administrative tree (``/console/units``): the user's subtree with
indentation by depth; administrators create a unit below one they cover, rename, move and
retire (after a confirmation) one of their subtree, and with several brokers name its broker."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from control_center.broker.registry import MAIN
from control_center.core.permissions import Permission
from control_center.core.targets import descendant_unit_ids
from control_center.errors import CenterError, Conflict
from control_center.models import AdminUnit
from control_center.services import broker_moves, brokers, units
from control_center.services.calendar import subtree_units
from control_center.web.console.common import (
    PREFIX,
    ConsoleContext,
    ConsoleDep,
    FormState,
    redirect,
    render,
)
from control_center.web.console.fleet_forms import chosen_unit, explain, open_units, text_field
from control_center.web.labels import UNIT_LEVELS

router = APIRouter(prefix=PREFIX, include_in_schema=False)
FormText = Annotated[str, Form()]
FLASHES = {"created": "Đã tạo đơn vị / unit created", "renamed": "Đã đổi tên / renamed",
           "moved": "Đã chuyển đơn vị / unit moved", "retired": "Đã ngừng đơn vị / unit retired",
           "broker": "Đã đổi máy chủ MQTT; thiết bị đã ghi danh được chuyển bằng lệnh ký số / "
                     "broker assigned; enrolled devices are moved by a signed command"}


def _tree_page(ctx: ConsoleContext, form: FormState, *, status_code: int = 200,
               flash: str | None = None) -> Response:
    with ctx.center.read_sessions() as session:
        tree = subtree_units(session, actor=ctx.actor)
        counts = units.device_counts(session, unit_ids={u.id for u, _ in tree})
        parents = open_units(session, ctx.actor) if ctx.may(Permission.MANAGE_FLEET) else []
    return render(ctx, "console_units.html", status_code=status_code, tree=tree, counts=counts,
                  form=form, flash=flash, parent_options=parents, levels=UNIT_LEVELS)


@router.get("/units")
def units_page(ctx: ConsoleDep, done: str = "") -> Response:
    form = FormState(values={"parent_id": str(ctx.actor.unit_id), "level": "commune"})
    return _tree_page(ctx, form, flash=FLASHES.get(done))


@router.post("/units")
def create_unit(
    ctx: ConsoleDep, csrf: FormText = "", code: FormText = "", name: FormText = "",
    level: FormText = "", parent_id: FormText = "",
) -> Response:
    """A new unit below one of the subtree; every field checked before anything is saved."""
    ctx.check_csrf(csrf)
    form = FormState(values={"code": code, "name": name, "level": level,
                             "parent_id": parent_id})
    clean_code = text_field(form, "code", code, limit=64, vi="mã đơn vị", en="unit code")
    clean_name = text_field(form, "name", name, limit=200, vi="tên đơn vị", en="unit name")
    clean_level = text_field(form, "level", level, limit=40, vi="cấp", en="level")
    with ctx.center.read_sessions() as session:
        parent = chosen_unit(form, "parent_id", parent_id, open_units(session, ctx.actor))
    if form.ok:
        with ctx.center.sessions() as session:
            try:
                units.create_unit(session, code=clean_code, name=clean_name, level=clean_level,
                                  parent_id=parent, actor=ctx.actor, now=ctx.center.clock())
            except Conflict as exc:
                form.error("code" if "code" in str(exc) else "parent_id", explain(exc))
            except CenterError as exc:
                form.error("_form", explain(exc))
    if not form.ok:
        return _tree_page(ctx, form, status_code=422)
    return redirect(f"{PREFIX}/units?done=created")


def _unit_page(ctx: ConsoleContext, unit_id: int, *, forms: dict[str, FormState] | None = None,
               status_code: int = 200, flash: str | None = None) -> Response:
    """One unit: what it holds, and its rename, move and retire forms."""
    with ctx.center.read_sessions() as session:
        unit = units.visible_unit(session, unit_id=unit_id, actor=ctx.actor)
        below = descendant_unit_ids(session, unit_ids=[unit.id])
        parents = open_units(session, ctx.actor, leave_out=below)
        parent = session.get(AdminUnit, unit.parent_id) if unit.parent_id else None
        devices = units.device_counts(session, unit_ids={unit.id}).get(unit.id, 0)
        children = [u for u, _ in subtree_units(session, actor=ctx.actor)
                    if u.parent_id == unit.id]
        inherited = brokers.broker_for_unit(session, unit_id=unit.parent_id) if (
            unit.parent_id) else MAIN
    shown = {"rename": FormState(values={"name": unit.name, "code": unit.code}),
             "move": FormState(values={"parent_id": str(unit.parent_id or "")}),
             "retire": FormState(), "broker": FormState(values={"broker": unit.broker or ""})}
    names = ctx.center.brokers.registry.names
    broker_options = [("", f"Theo đơn vị cấp trên / inherited: {inherited}")] + [
        (name, name) for name in names]
    shown.update(forms or {})
    return render(ctx, "console_unit.html", status_code=status_code, unit=unit, parent=parent,
                  parent_options=parents, devices=devices, children=children, flash=flash,
                  open_children=sum(1 for c in children if c.retired_at is None),
                  own=unit.id == ctx.actor.unit_id, levels=UNIT_LEVELS,
                  broker_options=broker_options if len(names) > 1 else [],
                  broker_shown=unit.broker or inherited, **shown)


@router.get("/units/{unit_id}")
def unit_page(ctx: ConsoleDep, unit_id: int, done: str = "") -> Response:
    return _unit_page(ctx, unit_id, flash=FLASHES.get(done))


def _refused(ctx: ConsoleContext, unit_id: int, which: str, form: FormState,
             exc: CenterError | None = None) -> Response:
    if exc is not None:
        form.error("_form", explain(exc))
    return _unit_page(ctx, unit_id, forms={which: form},
                      status_code=exc.status_code if exc else 422)


@router.post("/units/{unit_id}/rename")
def rename_unit(ctx: ConsoleDep, unit_id: int, csrf: FormText = "", name: FormText = "",
                code: FormText = "") -> Response:
    ctx.check_csrf(csrf)
    with ctx.center.read_sessions() as session:  # outside the subtree: 404 before anything
        units.visible_unit(session, unit_id=unit_id, actor=ctx.actor)
    form = FormState(values={"name": name, "code": code})
    clean_name = text_field(form, "name", name, limit=200, vi="tên đơn vị", en="unit name")
    clean_code = text_field(form, "code", code, limit=64, vi="mã đơn vị", en="unit code")
    if not form.ok:
        return _refused(ctx, unit_id, "rename", form)
    with ctx.center.sessions() as session:
        try:
            units.update_unit(session, unit_id=unit_id, name=clean_name, code=clean_code,
                              actor=ctx.actor, now=ctx.center.clock())
        except CenterError as exc:
            return _refused(ctx, unit_id, "rename", form, exc)
    return redirect(f"{PREFIX}/units/{unit_id}?done=renamed")


@router.post("/units/{unit_id}/move")
def move_unit(ctx: ConsoleDep, unit_id: int, csrf: FormText = "",
              parent_id: FormText = "") -> Response:
    """Move below another unit of the subtree; a loop is refused with the service's words."""
    ctx.check_csrf(csrf)
    with ctx.center.read_sessions() as session:
        units.visible_unit(session, unit_id=unit_id, actor=ctx.actor)
    form = FormState(values={"parent_id": parent_id})
    if not parent_id.strip().isdigit():
        form.error("parent_id", "Chọn đơn vị cấp trên mới / choose the new parent unit")
        return _refused(ctx, unit_id, "move", form)
    with ctx.center.sessions() as session:
        try:
            units.update_unit(session, unit_id=unit_id, parent=units.NewParent(int(parent_id)),
                              actor=ctx.actor, now=ctx.center.clock())
        except CenterError as exc:  # a parent outside the subtree: 404, as if unknown
            form.error("parent_id", explain(exc))
            return _unit_page(ctx, unit_id, forms={"move": form}, status_code=exc.status_code)
    return redirect(f"{PREFIX}/units/{unit_id}?done=moved")


@router.post("/units/{unit_id}/broker")
def assign_broker(ctx: ConsoleDep, unit_id: int, csrf: FormText = "",
                  broker: FormText = "") -> Response:
    """Name the broker of the devices below (empty: the parent's); enrolled devices on
    another broker are sent a signed move command (``services.broker_moves``)."""
    ctx.check_csrf(csrf)
    with ctx.center.read_sessions() as session:
        units.visible_unit(session, unit_id=unit_id, actor=ctx.actor)
    form = FormState(values={"broker": broker})
    names = ctx.center.brokers.registry.names
    chosen = broker.strip() or None
    if chosen is not None and chosen not in names:
        form.error("broker", f"Chọn một máy chủ MQTT đã cấu hình / choose a configured broker: "
                             f"{', '.join(names)}")
        return _refused(ctx, unit_id, "broker", form)
    center, now = ctx.center, ctx.center.clock()
    with center.sessions() as session:
        try:
            broker_moves.assign_and_move(
                session, unit=units.visible_unit(session, unit_id=unit_id, actor=ctx.actor),
                broker=chosen, registry=center.brokers.registry,
                accounts=center.brokers.accounts, signer=center.signer, bridge=center.bridge,
                actor=ctx.actor, now=now, timeout_s=center.settings.publish_timeout_s)
        except CenterError as exc:
            return _refused(ctx, unit_id, "broker", form, exc)
    return redirect(f"{PREFIX}/units/{unit_id}?done=broker")


@router.post("/units/{unit_id}/retire")
def retire_unit(ctx: ConsoleDep, unit_id: int, csrf: FormText = "",
                confirm: FormText = "") -> Response:
    """Retire after the confirmation box is ticked; refused while the unit is in use."""
    ctx.check_csrf(csrf)
    with ctx.center.read_sessions() as session:
        units.visible_unit(session, unit_id=unit_id, actor=ctx.actor)
    form = FormState(values={"confirm": confirm})
    if confirm != "yes":
        form.error("confirm", "Đánh dấu ô xác nhận để ngừng đơn vị / tick the box to confirm")
        return _refused(ctx, unit_id, "retire", form)
    with ctx.center.sessions() as session:
        try:
            units.retire_unit(session, unit_id=unit_id, actor=ctx.actor, now=ctx.center.clock())
        except CenterError as exc:
            return _refused(ctx, unit_id, "retire", form, exc)
    return redirect(f"{PREFIX}/units/{unit_id}?done=retired")
