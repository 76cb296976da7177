"""Console pages: the commune's inbox of bulletins sent from above, and the upper level's view
of where a bulletin it sent down stands (per commune: decision, schedule, plays)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form
from fastapi.responses import Response
from sqlalchemy.orm import Session

from control_center.core.permissions import Permission
from control_center.errors import CenterError
from control_center.models import Bulletin, Distribution, MediaAsset, Schedule
from control_center.models import DistributionState as DS
from control_center.services import distribution, schedule_timing, workflow
from control_center.web.console.bulletin_forms import PRIORITY_LABELS, parse_slot
from control_center.web.console.common import PREFIX, ConsoleDep, FormState, redirect, render
from protocol.base import Priority

router = APIRouter(prefix=PREFIX, include_in_schema=False)
FormText = Annotated[str, Form()]
FLASH = {"accept": "Đã nhận và lập lịch phát / accepted and scheduled",
         "decline": "Đã từ chối phát / declined", "rank": "Đã lưu thứ tự / order saved",
         "publish": "Đã gửi xuống các xã / sent down to the communes"}


@dataclass(frozen=True, slots=True)
class InboxRow:
    """A distribution with what the inbox page shows about it."""

    row: Distribution
    bulletin: Bulletin
    from_name: str
    unit_name: str
    audio_sha: str | None
    next_at: datetime | None  # the schedule's next play


def _rows(session: Session, found: list[Distribution], now: datetime) -> list[InboxRow]:
    names = distribution.unit_names(session, {d.unit_id for d in found}
                                    | {d.from_unit_id for d in found})
    out = []
    for d in found:
        bulletin = session.get(Bulletin, d.bulletin_id)
        assert bulletin is not None  # foreign key
        asset = session.get(MediaAsset, bulletin.media_sha256) if bulletin.media_sha256 else None
        audio = asset.delivery_file()[0] if asset is not None and asset.renditions else None
        schedule = session.get(Schedule, d.schedule_id) if d.schedule_id else None
        upcoming = schedule_timing.upcoming(schedule, now=now, count=1) if schedule else []
        out.append(InboxRow(d, bulletin, names.get(d.from_unit_id, "?"),
                            names.get(d.unit_id, "?"), audio, upcoming[0] if upcoming else None))
    return out


def _inbox(ctx: ConsoleDep, *, forms: dict[tuple[int, str], FormState] | None = None,
           status_code: int = 200, done: str = "") -> Response:
    now = ctx.center.clock()
    with ctx.center.read_sessions() as session:
        found = distribution.list_distributions(session, actor=ctx.actor, limit=300)
        rows = _rows(session, found, now)
    waiting = [r for r in rows if r.row.state == DS.INBOX]
    ranked = [r for r in rows if r.row.state == DS.SCHEDULED
              and r.bulletin.priority == Priority.PRIORITY]
    ranked.sort(key=lambda r: (r.row.rank, r.row.id))
    decided = [r for r in rows if r not in waiting and r not in ranked][:30]
    today = now.astimezone(ZoneInfo(ctx.center.settings.timezone)).date().isoformat()
    return render(ctx, "console_inbox.html", status_code=status_code, waiting=waiting,
                  ranked=ranked, decided=decided, forms=forms or {}, empty=FormState(),
                  flash=FLASH.get(done, ""), today=today, priority_labels=PRIORITY_LABELS,
                  state_labels={s.value: label for s, label in distribution.STATE_LABELS.items()},
                  can_decide=ctx.may(Permission.SCHEDULE))


@router.get("/inbox")
def inbox(ctx: ConsoleDep, done: str = "") -> Response:
    """Bulletins sent down to the user's communes: to accept into a slot, decline or rank."""
    return _inbox(ctx, done=done)


def _decide(ctx: ConsoleDep, distribution_id: int, what: str, form: FormState) -> Response:
    """Run one inbox decision; on refusal re-render the inbox with the message by the field."""
    now, tz = ctx.center.clock(), ZoneInfo(ctx.center.settings.timezone)
    devices: set[str] = set()
    with ctx.center.sessions() as session:
        try:
            if what == "accept":
                slot = parse_slot(form, tz=tz, now=now)
                if slot is not None:
                    _, devices = distribution.accept(
                        session, distribution_id=distribution_id, slot=slot, actor=ctx.actor,
                        now=now, default_tz=ctx.center.settings.timezone)
            elif what == "decline":
                distribution.decline(session, distribution_id=distribution_id,
                                     note=form.values["note"], actor=ctx.actor, now=now)
            else:
                raw = form.values["rank"].strip()
                if not raw.isdigit() or int(raw) > 10_000:
                    form.error("rank", "Nhập số từ 0 đến 10000 / a whole number 0–10000")
                else:
                    _, devices = distribution.set_rank(
                        session, distribution_id=distribution_id, rank=int(raw),
                        actor=ctx.actor, now=now)
        except CenterError as exc:
            session.rollback()
            if exc.status_code in (403, 404):  # not the caller's to decide: the error page
                raise
            field = {"decline": "note", "rank": "rank"}.get(what, "_form")
            form.error(field if exc.status_code == 422 else "_form", str(exc))
        if not form.ok:
            return _inbox(ctx, forms={(distribution_id, what): form}, status_code=422)
    return redirect(f"{PREFIX}/inbox?done={what}")


@router.post("/inbox/{distribution_id}/accept")
def accept(
    ctx: ConsoleDep, distribution_id: int, csrf: FormText = "", slot_kind: FormText = "once",
    at: FormText = "", time: FormText = "", from_date: FormText = "", until_date: FormText = "",
) -> Response:
    ctx.check_csrf(csrf)
    return _decide(ctx, distribution_id, "accept", FormState(values={
        "slot_kind": slot_kind, "at": at, "time": time, "from_date": from_date,
        "until_date": until_date}))


@router.post("/inbox/{distribution_id}/decline")
def decline(ctx: ConsoleDep, distribution_id: int, csrf: FormText = "",
            note: FormText = "") -> Response:
    ctx.check_csrf(csrf)
    return _decide(ctx, distribution_id, "decline", FormState(values={"note": note}))


@router.post("/inbox/{distribution_id}/rank")
def rank(ctx: ConsoleDep, distribution_id: int, csrf: FormText = "",
         rank: FormText = "") -> Response:
    ctx.check_csrf(csrf)
    return _decide(ctx, distribution_id, "rank", FormState(values={"rank": rank}))


@router.get("/bulletins/{bulletin_id}/distribution")
def distribution_status(ctx: ConsoleDep, bulletin_id: int, done: str = "") -> Response:
    """Per commune: waiting, scheduled or declined, who decided, and the plays so far."""
    with ctx.center.read_sessions() as session:
        report = distribution.report(session, bulletin_id=bulletin_id, actor=ctx.actor)
        bulletin = workflow.get_visible(session, bulletin_id=bulletin_id, actor=ctx.actor)
    return render(ctx, "console_distribution.html", report=report, bulletin=bulletin,
                  flash=FLASH.get(done, ""), priority_labels=PRIORITY_LABELS,
                  state_labels={s.value: label for s, label in distribution.STATE_LABELS.items()})
