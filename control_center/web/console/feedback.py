"""Console pages: the feedback officers' desk (queue, item, its workflow steps).

Officers see the feedback of their unit's subtree (another unit's item answers 404); they
triage, pass an item down their subtree or up to a unit above it ("chuyển lên cấp trên"),
note, answer (the kiosk shows it), and have the answer read on the commune's loudspeakers as a
text bulletin through the approval rules (``feedback.announcements``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.core.targets import ancestor_unit_ids
from control_center.errors import CenterError, InvalidInput, NotFound
from control_center.feedback import categories, desk, routing, service
from control_center.feedback.announcements import AnnouncementState, read_on_speakers
from control_center.models import AdminUnit, Device, FeedbackPriority, FeedbackStatus
from control_center.web.console.common import PREFIX, ConsoleDep, redirect, render

router = APIRouter(prefix=PREFIX, include_in_schema=False)
FormText = Annotated[str, Form()]

STATUS_LABELS = {FeedbackStatus.NEW: "Mới / new", FeedbackStatus.TRIAGED: "Đã phân loại / triaged",
                 FeedbackStatus.ASSIGNED: "Đã giao / assigned",
                 FeedbackStatus.ANSWERED: "Đã trả lời / answered",
                 FeedbackStatus.CLOSED: "Đã đóng / closed"}
PRIORITY_LABELS = {FeedbackPriority.NORMAL: "Thường / normal", FeedbackPriority.HIGH: "Cao / high",
                   FeedbackPriority.URGENT: "Khẩn / urgent"}
FLASH = {"triage": "Đã phân loại / triaged", "route": "Đã chuyển / passed on",
         "escalate": "Đã chuyển lên cấp trên / escalated", "assign": "Đã giao / assigned",
         "note": "Đã ghi chú / note added", "answer": "Đã trả lời / answered",
         "speakers": "Đã tạo bản tin đọc trên loa / loudspeaker bulletin made",
         "speakers-wait": "Đã tạo bản tin đọc trên loa, chờ duyệt / loudspeaker bulletin "
                          "made, waiting for approval",
         "due": "Đã lưu hạn xử lý / due days saved"}


def _scope(ctx: ConsoleDep) -> int:
    if ctx.actor.unit_id is None:
        raise InvalidInput("bàn xử lý phản ánh dành cho người dùng của một đơn vị / the feedback "
                           "desk is for users of a unit: sign in with your account")
    return ctx.actor.unit_id


def _names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    return dict(session.execute(select(AdminUnit.id, AdminUnit.name)
                                .where(AdminUnit.id.in_(wanted))).all())


def _int(raw: str, what: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit():
        raise InvalidInput(f"{what}: nhập một số / a whole number, not {raw[:20]!r}")
    return int(raw)


@router.get("/feedback")
def queue_page(ctx: ConsoleDep, status: str = "", category: str = "", unit: str = "",
               overdue: str = "", mine: str = "", sort: str = "", page: str = "1",
               done: str = "") -> Response:
    """The subtree's feedback, most urgent (or newest) first, with counts and reminders."""
    if status and status not in FeedbackStatus.__members__.values():
        raise InvalidInput(f"trạng thái không hợp lệ / unknown status {status[:20]!r}: one of "
                           + ", ".join(s.value for s in FeedbackStatus))
    filt = desk.QueueFilter(status=FeedbackStatus(status) if status else None,
                            category=category or None, unit_id=_int(unit, "unit"),
                            overdue=bool(overdue), mine=bool(mine), newest=sort == "newest",
                            page=_int(page, "page") or 1)
    now = ctx.center.clock()
    with ctx.center.read_sessions() as session:
        scope = _scope(ctx)
        found = desk.queue(session, scope_unit_id=scope, me=ctx.actor.name, filt=filt, now=now)
        units = service.scope_units(session, scope)
        names = _names(session, set(units))
        cats = categories.list_categories(session, active_only=False)
    params = {"status": status, "category": category, "unit": unit, "overdue": overdue,
              "mine": mine, "sort": sort}

    def page_url(n: int) -> str:
        return f"{PREFIX}/feedback?" + urlencode({**{k: v for k, v in params.items() if v},
                                                  "page": n})

    return render(ctx, "console_feedback.html", found=found, filt=filt, params=params,
                  names=names, categories=cats, now=now, page_url=page_url,
                  category_names={c.code: c.name_vi for c in cats},
                  status_labels=STATUS_LABELS, priority_labels=PRIORITY_LABELS,
                  flash=FLASH.get(done, ""), changeable_categories=[
                      c for c in cats if c.unit_id is not None and ctx.actor.covers(c.unit_id)])


def _detail(ctx: ConsoleDep, feedback_id: int, *, error: str = "", done: str = "",
            status_code: int = 200) -> Response:
    now = ctx.center.clock()
    with ctx.center.read_sessions() as session:
        scope = _scope(ctx)
        row = service.get_feedback(session, feedback_id=feedback_id, scope_unit_id=scope)
        device = session.get(Device, row.device_id) if row.device_id else None
        targets = routing.targets(session, feedback=row, scope_unit_id=scope)
        above = set(ancestor_unit_ids(session, unit_id=row.unit_id)[1:])
        names = _names(session, {row.unit_id, row.origin_unit_id, *targets})
        history = desk.history(session, feedback=row)
        cats = categories.list_categories(session, active_only=False)
        return render(ctx, "console_feedback_item.html", status_code=status_code, item=row,
                      device=device, targets=targets, above=above, names=names,
                      history=history, categories=cats, now=now, error=error,
                      category_names={c.code: c.name_vi for c in cats},
                      flash=FLASH.get(done, ""), status_labels=STATUS_LABELS,
                      priority_labels=PRIORITY_LABELS, open_statuses=routing.OPEN,
                      priorities=list(FeedbackPriority))


@router.get("/feedback/{feedback_id}")
def item_page(ctx: ConsoleDep, feedback_id: int, done: str = "") -> Response:
    """One item: text or transcript, kiosk and place, category, due date, history, actions."""
    return _detail(ctx, feedback_id, done=done)


def _step(ctx: ConsoleDep, feedback_id: int, csrf: str,
          run: Callable[[Session, int], str]) -> Response:
    """Run one workflow step; a refusal (4xx other than 403/404) re-renders the item."""
    ctx.check_csrf(csrf)
    with ctx.center.sessions() as session:
        try:
            scope = _scope(ctx)
            service.get_feedback(session, feedback_id=feedback_id, scope_unit_id=scope)
            done = run(session, scope)  # (another unit's item: 404 before any input check)
        except CenterError as exc:
            session.rollback()
            if exc.status_code in (403, 404):
                raise
            return _detail(ctx, feedback_id, error=str(exc), status_code=exc.status_code)
    if done == "escalate-away":  # it left the officer's subtree: back to the queue
        return redirect(f"{PREFIX}/feedback?done=escalate")
    return redirect(f"{PREFIX}/feedback/{feedback_id}?done={done}")


@router.post("/feedback/{feedback_id}/triage")
def triage(ctx: ConsoleDep, feedback_id: int, csrf: FormText = "", category: FormText = "",
           priority: FormText = "normal") -> Response:
    def run(session: Session, scope: int) -> str:
        if priority not in FeedbackPriority.__members__.values():
            raise InvalidInput(f"mức ưu tiên không hợp lệ / unknown priority {priority[:20]!r}")
        row = service.get_feedback(session, feedback_id=feedback_id, scope_unit_id=scope)
        service.triage(session, feedback_id=feedback_id, scope_unit_id=scope,
                       category=category or row.category, unit_id=row.unit_id,
                       priority=FeedbackPriority(priority), actor=ctx.actor,
                       now=ctx.center.clock())
        return "triage"
    return _step(ctx, feedback_id, csrf, run)


@router.post("/feedback/{feedback_id}/route")
def route(ctx: ConsoleDep, feedback_id: int, csrf: FormText = "", unit_id: FormText = "",
          note: FormText = "") -> Response:
    def run(session: Session, scope: int) -> str:
        target = _int(unit_id, "unit")
        if target is None:
            raise InvalidInput("chọn đơn vị nhận / choose the unit to pass it to")
        row = routing.route(session, feedback_id=feedback_id, scope_unit_id=scope,
                            unit_id=target, note=note.strip()[:1000] or None, actor=ctx.actor,
                            now=ctx.center.clock())
        mine = row.unit_id in service.scope_units(session, scope)
        return "route" if mine else "escalate-away"
    return _step(ctx, feedback_id, csrf, run)


@router.post("/feedback/{feedback_id}/assign")
def assign(ctx: ConsoleDep, feedback_id: int, csrf: FormText = "",
           assignee: FormText = "") -> Response:
    def run(session: Session, scope: int) -> str:
        who = assignee.strip()[:100] or ctx.actor.name
        service.assign(session, feedback_id=feedback_id, scope_unit_id=scope, assignee=who,
                       actor=ctx.actor, now=ctx.center.clock())
        return "assign"
    return _step(ctx, feedback_id, csrf, run)


@router.post("/feedback/{feedback_id}/notes")
def note(ctx: ConsoleDep, feedback_id: int, csrf: FormText = "",
         text: FormText = "") -> Response:
    def run(session: Session, scope: int) -> str:
        if not text.strip():
            raise InvalidInput("ghi chú trống / the note is empty")
        service.add_note(session, feedback_id=feedback_id, scope_unit_id=scope,
                         text=text.strip()[:4000], author=None, actor=ctx.actor,
                         now=ctx.center.clock())
        return "note"
    return _step(ctx, feedback_id, csrf, run)


@router.post("/feedback/{feedback_id}/answer")
def answer(ctx: ConsoleDep, feedback_id: int, csrf: FormText = "",
           text: FormText = "") -> Response:
    def run(session: Session, scope: int) -> str:
        if not text.strip():
            raise InvalidInput("câu trả lời trống / the answer is empty")
        service.answer(session, feedback_id=feedback_id, scope_unit_id=scope,
                       text=text.strip()[:4000], answered_by=ctx.full_name or ctx.actor.name,
                       actor=ctx.actor, now=ctx.center.clock())
        return "answer"
    return _step(ctx, feedback_id, csrf, run)


@router.post("/feedback/{feedback_id}/speakers")
def speakers(ctx: ConsoleDep, feedback_id: int, csrf: FormText = "") -> Response:
    """Read the answer on the loudspeakers of the commune it came from (approval rules)."""
    def run(session: Session, scope: int) -> str:
        row = service.get_feedback(session, feedback_id=feedback_id, scope_unit_id=scope)
        if not row.answer:
            raise InvalidInput("chưa có câu trả lời để đọc / answer it first, then read the "
                               "answer on the loudspeakers")
        made = read_on_speakers(session, feedback=row, actor=ctx.actor, now=ctx.center.clock(),
                                default_tz=ctx.center.settings.timezone)
        if made is None:
            raise InvalidInput("xã này không có loa nào / the commune it came from has no "
                               "loudspeaker")
        return "speakers-wait" if made.state == AnnouncementState.AWAITING_APPROVAL \
            else "speakers"
    return _step(ctx, feedback_id, csrf, run)


@router.post("/feedback/categories/{code}/due")
def category_due(ctx: ConsoleDep, code: str, csrf: FormText = "",
                 due_days: FormText = "") -> Response:
    """Change a category's due days (categories of the caller's subtree only)."""
    ctx.check_csrf(csrf)
    days = _int(due_days.strip(), "due days")
    if days is None or not 1 <= days <= 365:
        raise InvalidInput("hạn xử lý từ 1 đến 365 ngày / due days: 1 to 365")
    with ctx.center.sessions() as session:
        row = next((c for c in categories.list_categories(session, active_only=False)
                    if c.code == code), None)
        if row is None or not ctx.actor.covers(row.unit_id):
            raise NotFound(f"danh mục {code[:40]!r} không có trong đơn vị của bạn / category "
                           f"{code[:40]!r} does not exist in your unit")
        categories.upsert_category(session, code=code, name_vi=row.name_vi,
                                   name_en=row.name_en, due_days=days, active=row.active,
                                   unit_id=None, actor=ctx.actor, now=ctx.center.clock())
    return redirect(f"{PREFIX}/feedback?done=due")

