"""Console pages: the week calendar, the schedule form (check, then save), list and detail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.core.permissions import Permission
from control_center.core.targets import resolve_targets, spec_of
from control_center.errors import CenterError, Conflict, InvalidInput, NotFound
from control_center.models import AdminUnit, Bulletin, BulletinStatus, Device, MediaAsset
from control_center.services import calendar, conflicts, schedule_timing, schedules
from control_center.services.expansion import zone
from control_center.web.console.calendar_view import build_grid
from control_center.web.console.common import PREFIX, ConsoleContext, ConsoleDep, redirect, render
from control_center.web.console.schedule_form import (
    DAYS,
    QUICK_TIMES,
    TIME_PATTERN,
    Posted,
    ScheduleForm,
    describe,
    read_form,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)
BAD_DATE = "Ngày không hợp lệ, dùng dạng năm-tháng-ngày / not a date (use YYYY-MM-DD)"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What the check step found: the devices reached and the overlaps on them."""

    devices: list[Device]
    overlaps: list[conflicts.Overlap]

    @property
    def summary(self) -> list[tuple[conflicts.Overlap, int]]:
        return conflicts.summarize(self.overlaps)


def _now_and_today(ctx: ConsoleContext) -> tuple[datetime, date]:
    now = ctx.center.clock()
    return now, now.astimezone(zone(ctx.center.settings.timezone)).date()


def _parse_day(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        return None


@router.get("/calendar")
def calendar_page(ctx: ConsoleDep, week: str = "", unit_id: str = "") -> Response:
    """The week (Monday to Sunday, local time) of the chosen unit subtree's devices."""
    tz = ctx.center.settings.timezone
    _, today = _now_and_today(ctx)
    errors: list[str] = []
    day = _parse_day(week) if week else today
    if day is None:
        errors.append(BAD_DATE)
    monday = calendar.monday_of(day or today)
    chosen = ctx.actor.unit_id
    if unit_id.strip():
        if unit_id.strip().isdigit():
            chosen = int(unit_id)
        else:
            errors.append("Đơn vị không hợp lệ / not a unit id")
    with ctx.center.read_sessions() as session:
        entries = calendar.week_entries(session, actor=ctx.actor, unit_id=chosen,
                                        monday=monday, local_tz=tz)
        side = calendar.unscheduled_bulletins(session, actor=ctx.actor)
        units = calendar.subtree_units(session, actor=ctx.actor)
    grid = build_grid(entries, monday=monday, today=today)
    return render(ctx, "console_calendar.html", status_code=422 if errors else 200,
                  grid=grid, errors=errors, units=units, unit_id=chosen, side=side,
                  form_day=max(monday, today), can_schedule=ctx.may(Permission.SCHEDULE))


@router.get("/schedules")
def schedule_list(ctx: ConsoleDep, show: str = "active") -> Response:
    """The schedules visible to the user, newest first, with their next occurrence."""
    now, _ = _now_and_today(ctx)
    tz = ctx.center.settings.timezone
    with ctx.center.read_sessions() as session:
        found = schedules.list_schedules(session, active=True if show == "active" else None,
                                         actor=ctx.actor, limit=300)
        titles = _bulletins(session, {s.bulletin_id for s in found})
        rows = [(s, titles.get(s.bulletin_id), describe(s, local_tz=tz),
                 next(iter(schedule_timing.upcoming(s, now=now, count=1)), None),
                 len(resolve_targets(session, spec=spec_of(s), check=False))) for s in found]
    return render(ctx, "console_schedules.html", rows=rows, show=show)


def _bulletins(session: Session, ids: set[int]) -> dict[int, Bulletin]:
    return {b.id: b for b in session.scalars(select(Bulletin).where(Bulletin.id.in_(ids)))}


@router.get("/schedules/new")
def new_schedule(
    ctx: ConsoleDep, bulletin_id: str = "", date: str = "", time: str = ""
) -> Response:
    """The empty form; ``date`` (YYYY-MM-DD) and ``time`` (HH:MM) come from the calendar."""
    _, today = _now_and_today(ctx)
    day = _parse_day(date) or today
    form = ScheduleForm.blank(bulletin_id=bulletin_id.strip(), day=day,
                              at=time if TIME_PATTERN.match(time) else "")
    return _render_form(ctx, form)


@router.post("/schedules/new")
def save_schedule(
    ctx: ConsoleDep,
    csrf: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "check",
    bulletin_id: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "daily",
    time: Annotated[str, Form()] = "",
    days: Annotated[list[str] | None, Form()] = None,
    valid_from: Annotated[str, Form()] = "",
    valid_until: Annotated[str, Form()] = "",
    once_date: Annotated[str, Form()] = "",
    once_time: Annotated[str, Form()] = "",
    unit_ids: Annotated[list[str] | None, Form()] = None,
    device_ids: Annotated[list[str] | None, Form()] = None,
    force: Annotated[str, Form()] = "",
) -> Response:
    """``action=check`` lists devices and overlaps; ``action=save`` stores the schedule (with
    overlaps only when ``force`` is ticked) and shows it."""
    ctx.check_csrf(csrf)
    now, _ = _now_and_today(ctx)
    tz = ctx.center.settings.timezone
    posted = Posted(bulletin_id=bulletin_id, kind=kind, time=time, days=tuple(days or ()),
                    valid_from=valid_from, valid_until=valid_until, once_date=once_date,
                    once_time=once_time, unit_ids=tuple(unit_ids or ()),
                    device_ids=tuple(device_ids or ()), force=bool(force))
    form, request = read_form(posted, local_tz=tz, now=now)
    if request is None:
        return _render_form(ctx, form, status_code=422)
    with ctx.center.sessions() as session:
        try:
            proposal = schedules.prepare_schedule(session, data=request, default_tz=tz,
                                                  actor=ctx.actor, now=now)
        except (InvalidInput, Conflict, NotFound) as exc:
            session.rollback()
            return _render_form(ctx, form, status_code=_place_error(form, exc))
        found = conflicts.find_conflicts(session, timing=proposal.timing,
                                         bulletin=proposal.bulletin, device_ids=proposal.devices,
                                         now=now, local_tz=tz)
        check = CheckResult(list(session.scalars(select(Device).where(
            Device.id.in_(proposal.devices)).order_by(Device.id))), found)
        session.rollback()
        if action != "save":
            return _render_form(ctx, form, check=check)
        if found and not form.force:
            form.state.error("force", f"Lịch trùng giờ với lịch khác trên "
                             f"{len({o.device_id for o in found})} thiết bị; xem danh sách, đổi "
                             "giờ hoặc đánh dấu ô này để vẫn lưu / it overlaps other schedules: "
                             "change the time or tick this box to save anyway")
            return _render_form(ctx, form, status_code=409, check=check)
        schedule, devices = schedules.create_schedule(session, data=request, default_tz=tz,
                                                      actor=ctx.actor, now=now)
        schedule_id = schedule.id
    return redirect(f"{PREFIX}/schedules/{schedule_id}?saved=1")


def _place_error(form: ScheduleForm, exc: CenterError) -> int:
    """Show a service refusal beside the field it is about; the HTTP status to answer."""
    message = str(exc)
    if isinstance(exc, Conflict) or message.startswith("bulletin"):
        form.state.error("bulletin_id", message if isinstance(exc, Conflict) else
                         f"Không tìm thấy bản tin / {message}")
    elif isinstance(exc, NotFound):
        form.state.error("targets", f"Không tìm thấy / not found: {message}")
    else:
        form.state.error("_form", message)
    return 422 if isinstance(exc, (InvalidInput, Conflict)) else exc.status_code


def _render_form(
    ctx: ConsoleContext, form: ScheduleForm, *, status_code: int = 200,
    check: CheckResult | None = None,
) -> Response:
    actor = ctx.actor
    clause = schedules.visible_bulletin_clause(actor)
    selected = form.state.values.get("bulletin_id", "")
    with ctx.center.read_sessions() as session:
        query = select(Bulletin).order_by(Bulletin.id.desc()).limit(300)
        if clause is not None:
            query = query.where(clause)
        bulletins = [b for b in session.scalars(query)
                     if b.status.broadcastable or str(b.id) == selected]
        shas = {b.media_sha256 for b in bulletins if b.media_sha256}
        assets = {a.sha256: a for a in session.scalars(
            select(MediaAsset).where(MediaAsset.sha256.in_(shas)))}
        units = calendar.subtree_units(session, actor=actor)
        device_query = select(Device).order_by(Device.unit_id, Device.id)
        if actor.scope is not None:
            device_query = device_query.where(Device.unit_id.in_(actor.scope))
        devices = list(session.scalars(device_query))
    options = [("", "— Chọn bản tin / choose a bulletin —")] + [
        (str(b.id), f"#{b.id} {b.title}" + ("" if b.status.broadcastable else
                                            f" (chưa duyệt / not approved: {b.status.value})"))
        for b in bulletins]
    return render(ctx, "console_schedule_form.html", status_code=status_code, form=form.state,
                  sched=form, options=options, bulletins=bulletins, assets=assets,
                  units=units, devices=devices, days=DAYS, quick_times=QUICK_TIMES,
                  check=check, BulletinStatus=BulletinStatus)


@router.get("/schedules/{schedule_id}")
def schedule_detail(
    schedule_id: int, ctx: ConsoleDep, saved: str = "", cancelled: str = ""
) -> Response:
    """Timing in local time, the next occurrences, targets and devices; cancel button."""
    now, _ = _now_and_today(ctx)
    tz = ctx.center.settings.timezone
    with ctx.center.read_sessions() as session:
        schedule = schedules.get_schedule(session, schedule_id=schedule_id, actor=ctx.actor)
        spec = spec_of(schedule)
        bulletin = session.get(Bulletin, schedule.bulletin_id)
        reached = resolve_targets(session, spec=spec, check=False)
        devices = list(session.scalars(select(Device).where(Device.id.in_(reached))
                                       .order_by(Device.id)))
        unit_ids = set(spec.unit_ids) | {d.unit_id for d in devices}
        if schedule.unit_id is not None:
            unit_ids.add(schedule.unit_id)
        unit_names = {u.id: u.name for u in session.scalars(
            select(AdminUnit).where(AdminUnit.id.in_(unit_ids)))}
        upcoming = schedule_timing.upcoming(schedule, now=now, count=10)
    return render(ctx, "console_schedule_detail.html", schedule=schedule, bulletin=bulletin,
                  spec=spec, devices=devices, unit_names=unit_names, upcoming=upcoming,
                  timing=describe(schedule, local_tz=tz), saved=bool(saved),
                  cancelled=bool(cancelled),
                  can_change=ctx.may(Permission.SCHEDULE) and ctx.actor.covers(schedule.unit_id))


@router.post("/schedules/{schedule_id}/cancel")
def cancel_schedule(
    schedule_id: int, ctx: ConsoleDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    """Cancel (kept for the record); the devices drop its items."""
    ctx.check_csrf(csrf)
    now, _ = _now_and_today(ctx)
    with ctx.center.sessions() as session:
        _, devices = schedules.cancel_schedule(session, schedule_id=schedule_id,
                                               actor=ctx.actor, now=now)
    return redirect(f"{PREFIX}/schedules/{schedule_id}?cancelled=1")
