"""Console page of agent versions (``/console/versions``): what the devices of the subtree
run, the releases, the rollouts with their progress per wave (halt, resume) and a form to
start one; ``/console/versions/rollouts/{id}`` shows a rollout device by device."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from control_center.core.permissions import Permission
from control_center.errors import CenterError
from control_center.schemas.content import Targets
from control_center.schemas.releases import MAX_WAVES, RolloutCreate
from control_center.services import releases, rollouts
from control_center.services.calendar import subtree_units
from control_center.web.console.common import (
    PREFIX,
    ConsoleContext,
    ConsoleDep,
    FormState,
    redirect,
    render,
)
from control_center.web.console.fleet_forms import chosen_unit, explain, open_units

router = APIRouter(prefix=PREFIX, include_in_schema=False)
FormText = Annotated[str, Form()]
PAGE = f"{PREFIX}/versions"
ROLLOUT_STATES = {"running": "Đang chạy / running", "halted": "Đã dừng / halted",
                  "completed": "Hoàn tất / completed"}
DEVICE_STATES = {"waiting": "Chờ đợt / waiting", "sent": "Đã gửi lệnh / sent",
                 "confirmed": "Đã xác nhận / confirmed", "rolled_back": "Đã quay lui / rolled back",
                 "failed": "Lỗi / failed", "timed_out": "Quá hạn / timed out",
                 "skipped": "Đã có phiên bản / already on it"}
FLASHES = {"created": "Đã bắt đầu đợt cập nhật / rollout started",
           "halted": "Đã dừng đợt cập nhật / rollout halted",
           "resumed": "Đã tiếp tục đợt cập nhật / rollout resumed"}
DEFAULTS = {"waves": "10, 40, 50", "failure_threshold_pct": "2", "confirm_within_s": "300"}


def _versions_page(ctx: ConsoleContext, form: FormState, *, status_code: int = 200,
                   flash: str | None = None) -> Response:
    with ctx.center.read_sessions() as session:
        counts = releases.version_counts(session, actor=ctx.actor)
        running = {c.version: c.devices for c in counts}
        base = ctx.center.settings.public_base_url
        listed = [releases.release_public(r, public_base_url=base, running=running)
                  for r in releases.list_releases(session)]
        shown = [rollouts.rollout_public(session, r)
                 for r in rollouts.list_rollouts(session, actor=ctx.actor, limit=50)]
        units = open_units(session, ctx.actor) if ctx.may(Permission.RELEASES) else []
        names = {u.id: u.name for u, _ in subtree_units(session, actor=ctx.actor)}
    return render(ctx, "console_versions.html", status_code=status_code, counts=counts,
                  total=sum(c.devices for c in counts), releases=listed, rollouts=shown,
                  unit_options=[("", "—")] + units, unit_names=names, form=form, flash=flash,
                  version_options=[(r.version, r.version) for r in listed],
                  rollout_states=ROLLOUT_STATES)


@router.get("/versions")
def versions_page(ctx: ConsoleDep, done: str = "") -> Response:
    return _versions_page(ctx, FormState(values=dict(DEFAULTS)), flash=FLASHES.get(done))


@router.post("/versions/rollouts")
def start_rollout(
    ctx: ConsoleDep, csrf: FormText = "", version: FormText = "", unit_id: FormText = "",
    device_ids: FormText = "", waves: FormText = "", failure_threshold_pct: FormText = "",
    confirm_within_s: FormText = "",
) -> Response:
    """Every field checked first (errors beside them); then the service's own checks."""
    ctx.check_csrf(csrf)
    form = FormState(values={"version": version, "unit_id": unit_id, "device_ids": device_ids,
                             "waves": waves, "failure_threshold_pct": failure_threshold_pct,
                             "confirm_within_s": confirm_within_s})
    with ctx.center.read_sessions() as session:
        known = {r.version for r in releases.list_releases(session)}
        unit = (chosen_unit(form, "unit_id", unit_id, open_units(session, ctx.actor))
                if unit_id.strip() else 0)
    if version not in known:
        form.error("version", "Chọn một phiên bản đã tải lên / choose an uploaded release")
    devices = [d for d in device_ids.replace(",", " ").split() if d]
    if not unit and not devices and "unit_id" not in form.errors:
        form.error("unit_id", "Chọn một đơn vị hoặc nhập mã thiết bị / choose a unit or type "
                              "device ids")
    shares = _shares(form, waves)
    threshold = _number(form, "failure_threshold_pct", failure_threshold_pct, 0, 100)
    confirm = _number(form, "confirm_within_s", confirm_within_s, 30, 3600)
    if form.ok:
        data = RolloutCreate(
            version=version, waves=shares, failure_threshold_pct=threshold,
            confirm_within_s=int(confirm),
            targets=Targets(unit_ids=[unit] if unit else [], device_ids=devices))
        with ctx.center.sessions() as session:
            try:
                rollouts.create_rollout(session, data=data, actor=ctx.actor,
                                        now=ctx.center.clock())
            except CenterError as exc:
                form.error("_form", explain(exc))
    if not form.ok:
        return _versions_page(ctx, form, status_code=422)
    ctx.center.rollouts.nudge()
    return redirect(f"{PAGE}?done=created")


def _shares(form: FormState, raw: str) -> list[int]:
    """"10, 40, 50": whole per cents, each above 0, summing to 100."""
    parts = [p for p in raw.replace(";", ",").replace(" ", ",").split(",") if p]
    if not parts or len(parts) > MAX_WAVES or not all(p.isdigit() for p in parts):
        form.error("waves", f"Nhập tỉ lệ từng đợt, ví dụ 10, 40, 50 / the share of each wave in "
                            f"per cent, e.g. 10, 40, 50 (at most {MAX_WAVES} waves)")
        return []
    shares = [int(p) for p in parts]
    if min(shares) < 1 or sum(shares) != 100:
        form.error("waves", f"Các tỉ lệ phải lớn hơn 0 và cộng lại bằng 100 (đang là "
                            f"{sum(shares)}) / the shares must be above 0 and sum to 100")
    return shares


def _number(form: FormState, name: str, raw: str, low: float, high: float) -> float:
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        form.error(name, f"Nhập số từ {low:g} đến {high:g} / a number from {low:g} to "
                         f"{high:g}")
    return value


@router.get("/versions/rollouts/{rollout_id}")
def rollout_page(ctx: ConsoleDep, rollout_id: int, done: str = "") -> Response:
    with ctx.center.read_sessions() as session:
        rollout = rollouts.get_rollout(session, rollout_id=rollout_id, actor=ctx.actor)
        shown = rollouts.rollout_public(session, rollout, detailed=True)
        names = {u.id: u.name for u, _ in subtree_units(session, actor=ctx.actor)}
    return render(ctx, "console_rollout.html", rollout=shown, unit_names=names,
                  flash=FLASHES.get(done), rollout_states=ROLLOUT_STATES,
                  device_states=DEVICE_STATES)


@router.post("/versions/rollouts/{rollout_id}/halt")
def halt_rollout(ctx: ConsoleDep, rollout_id: int, csrf: FormText = "") -> Response:
    ctx.check_csrf(csrf)
    with ctx.center.sessions() as session:
        rollouts.halt(session, rollout_id=rollout_id, actor=ctx.actor, now=ctx.center.clock())
    return redirect(f"{PAGE}/rollouts/{rollout_id}?done=halted")


@router.post("/versions/rollouts/{rollout_id}/resume")
def resume_rollout(ctx: ConsoleDep, rollout_id: int, csrf: FormText = "") -> Response:
    ctx.check_csrf(csrf)
    with ctx.center.sessions() as session:
        rollouts.resume(session, rollout_id=rollout_id, actor=ctx.actor,
                        now=ctx.center.clock())
    ctx.center.rollouts.nudge()
    return redirect(f"{PAGE}/rollouts/{rollout_id}?done=resumed")
