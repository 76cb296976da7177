"""Form pieces of the bulletin and inbox pages: labels, the bulletin form, the recording
upload (through the same store and media worker as ``POST /api/v1/media``) and time slots."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from control_center.core import audit
from control_center.core.targets import descendant_unit_ids
from control_center.errors import CenterError, InvalidInput
from control_center.models import AdminUnit, BulletinKind, MediaState
from control_center.schemas.distribution import Slot
from control_center.services.relay_bulletins import MAX_WINDOW_MINUTES, check_source_url
from control_center.web.console.common import ConsoleContext, FormState
from protocol.base import Priority

PRIORITY_LABELS: dict[str, str] = {
    Priority.NORMAL.value: "Thông thường", Priority.PRIORITY.value: "Ưu tiên",
    Priority.EMERGENCY.value: "Khẩn cấp",
}
KIND_LABELS: dict[str, str] = {BulletinKind.AUDIO.value: "Ghi âm (tải tệp lên)",
                               BulletinKind.TEXT.value: "Văn bản",
                               BulletinKind.RELAY.value: "Tiếp sóng (relay)"}
PROCESS_WAIT_S = 60.0
"""How long a form post waits for its recording to be processed (about 1 s per minute)."""
_CHUNK = 1024 * 1024


def bulletin_form(values: dict[str, str], *, has_file: bool, needs_file: bool) -> FormState:
    """Check the bulletin form's fields (nothing is stored); errors are keyed by field name."""
    form = FormState(values=values)
    title = values.get("title", "").strip()
    if not title:
        form.error("title", "Nhập tiêu đề / enter a title")
    elif len(title) > 500:
        form.error("title", "Tiêu đề tối đa 500 ký tự / at most 500 characters")
    if len(values.get("category", "").strip()) > 100:
        form.error("category", "Chuyên mục tối đa 100 ký tự / at most 100 characters")
    if values.get("priority") not in PRIORITY_LABELS:
        form.error("priority", "Chọn mức ưu tiên / choose a priority")
    kind = values.get("kind")
    if kind not in KIND_LABELS:
        form.error("kind", "Chọn loại bản tin / choose the kind")
    text = values.get("text", "").strip()
    if kind == BulletinKind.TEXT.value and not text:
        form.error("text", "Nhập nội dung văn bản / enter the text to broadcast")
    elif len(text) > 20_000:
        form.error("text", "Nội dung tối đa 20000 ký tự / at most 20000 characters")
    if kind == BulletinKind.AUDIO.value and needs_file and not has_file:
        form.error("audio", "Chọn tệp ghi âm / choose the audio file to upload")
    if kind == BulletinKind.RELAY.value:
        _relay_fields(form)
    if kind == BulletinKind.TEXT.value:
        shown_window(form)
    return form


def shown_window(form: FormState) -> tuple[int | None, str | None]:
    """The "shown until" field of a text bulletin: empty (the end of the day), whole minutes,
    or a time of day HH:MM; as (shown_minutes, shown_until)."""
    raw = form.values.get("shown_until", "").strip()
    if not raw:
        return None, None
    if raw.isdigit() and 1 <= int(raw) <= 10_080:
        return int(raw), None
    match = re.fullmatch(r"([01]?[0-9]|2[0-3])[:hg]([0-5][0-9])", raw)
    if match:
        return None, f"{int(match[1]):02d}:{match[2]}"
    form.error("shown_until", "Nhập số phút (1–10080) hoặc giờ trong ngày dạng 17:30, để trống "
               "là hết ngày / enter minutes (1–10080) or a time of day such as 17:30; empty: "
               "the end of the day")
    return None, None


def _relay_fields(form: FormState) -> None:
    """A relay's source URL (http or https) and window (whole minutes, 1–1440)."""
    url = form.values.get("source_url", "").strip()
    if not url:
        form.error("source_url", "Nhập địa chỉ nguồn phát (http:// hoặc https://) / enter the "
                   "upstream stream's address")
    else:
        try:
            check_source_url(url)
        except CenterError as exc:
            form.error("source_url", f"Địa chỉ nguồn không dùng được / {exc}")
    raw = form.values.get("window_minutes", "").strip()
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_WINDOW_MINUTES:
        form.error("window_minutes", f"Nhập số phút từ 1 đến {MAX_WINDOW_MINUTES} / enter "
                   f"whole minutes from 1 to {MAX_WINDOW_MINUTES}")


def store_recording(ctx: ConsoleContext, upload: UploadFile, *, now: datetime) -> str:
    """Store and process an uploaded recording the way the media API does; its SHA-256.

    Waits for the media worker (short clips). Raises a CenterError with the pipeline's reason
    when the file is refused or its processing fails; a recording first stored by this call
    is then removed again, so a refused form leaves no media behind.
    """
    intake = ctx.center.intake
    sink = intake.sink()
    try:
        while chunk := upload.file.read(_CHUNK):
            sink.write(chunk)
    except BaseException:
        sink.discard()
        raise
    with ctx.center.sessions() as session:
        received, asset = intake.receive_and_wait(
            session, sink=sink, name=upload.filename or "", actor=ctx.actor, now=now,
            timeout_s=PROCESS_WAIT_S)
        sha = received.sha256
        if asset.state == MediaState.FAILED:
            reason = asset.error or "processing failed"
            if received.created:
                session.delete(asset)
                audit.record(session, actor=ctx.actor, action="discard", object_type="media",
                             object_id=sha, detail={"reason": reason}, at=now)
                session.commit()
            raise InvalidInput(f"Tệp ghi âm không dùng được / not a usable audio file: {reason}")
        if asset.state == MediaState.PROCESSING:
            raise InvalidInput("Tệp ghi âm vẫn đang được xử lý, hãy gửi lại sau ít phút / the "
                               "recording is still being processed: submit again in a minute")
    return sha


def upload_error(exc: CenterError) -> str:
    """A refused upload's message for the file field (Vietnamese first)."""
    text = str(exc)
    return text if "/" in text.split(":")[0] else f"Tệp không dùng được / {text}"


def subtree_units(session: Session, *, unit_id: int) -> list[tuple[AdminUnit, int, bool]]:
    """``unit_id`` and the units below it in tree order: (unit, depth from it, is a leaf)."""
    ids = descendant_unit_ids(session, unit_ids=[unit_id])
    units = list(session.scalars(select(AdminUnit).where(AdminUnit.id.in_(ids))
                                 .order_by(AdminUnit.name)))
    children: dict[int | None, list[AdminUnit]] = {}
    for unit in units:
        children.setdefault(unit.parent_id, []).append(unit)
    out: list[tuple[AdminUnit, int, bool]] = []

    def walk(parent: int, depth: int) -> None:
        for unit in children.get(parent, []):
            out.append((unit, depth, unit.id not in children))
            walk(unit.id, depth + 1)

    root = next((u for u in units if u.id == unit_id), None)
    if root is not None:
        out.append((root, 0, root.id not in children))
    walk(unit_id, 1)
    return out


def parse_slot(form: FormState, *, tz: ZoneInfo, now: datetime) -> Slot | None:
    """A time slot from the slot fields (local time), or None with errors set on ``form``.

    ``slot_kind`` once: ``at`` (datetime-local). daily: ``time`` (HH:MM) every day from
    ``from_date`` (default today) until ``until_date`` (optional, inclusive).
    """
    values = form.values
    if values.get("slot_kind", "once") == "daily":
        return _daily(form, tz=tz, now=now)
    raw = values.get("at", "").strip()
    if not raw:
        form.error("at", "Chọn ngày giờ phát / choose the date and time to play")
        return None
    try:
        at = datetime.fromisoformat(raw).replace(tzinfo=tz)
    except ValueError:
        form.error("at", "Ngày giờ không hợp lệ / not a date and time (dd/mm/yyyy hh:mm)")
        return None
    if at <= now:
        form.error("at", "Thời điểm này đã qua / that time has already passed")
        return None
    return Slot(start_at=at)


def _daily(form: FormState, *, tz: ZoneInfo, now: datetime) -> Slot | None:
    values = form.values
    try:
        at = time.fromisoformat(values.get("time", "").strip())
    except ValueError:
        form.error("time", "Chọn giờ phát hằng ngày / choose the daily time (hh:mm)")
        return None
    today = now.astimezone(tz).date()
    first, last = _date(form, "from_date", today), _date(form, "until_date", None)
    if not form.ok or first is None:
        return None
    if last is not None and last < first:
        form.error("until_date", "Ngày kết thúc phải sau ngày bắt đầu / the last day must not "
                   "be before the first")
        return None
    valid_from = datetime.combine(first, time(0, 0), tz)
    valid_until = (datetime.combine(last + timedelta(days=1), time(0, 0), tz)
                   if last is not None else None)
    if valid_until is not None and valid_until <= now:
        form.error("until_date", "Khoảng thời gian này đã qua / that period is over")
        return None
    return Slot(rrule=f"FREQ=DAILY;BYHOUR={at.hour};BYMINUTE={at.minute};BYSECOND=0",
                valid_from=valid_from, valid_until=valid_until)


def _date(form: FormState, name: str, default: date | None) -> date | None:
    raw = form.values.get(name, "").strip()
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        form.error(name, "Ngày không hợp lệ / not a date")
        return None
