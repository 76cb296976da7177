"""The schedule form: what the operator typed, checked field by field, turned into a request.

Two kinds: a daily slot (a time of day on chosen weekdays between two dates, stored as an
RRULE in local time) or a one-off local date and time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from control_center.models import Schedule, ScheduleKind
from control_center.schemas.content import ScheduleCreate, Targets
from control_center.services.expansion import Recurrence, next_recurring, zone
from control_center.web.console.common import FormState

DAYS = (("MO", "Thứ 2", "Mon"), ("TU", "Thứ 3", "Tue"), ("WE", "Thứ 4", "Wed"),
        ("TH", "Thứ 5", "Thu"), ("FR", "Thứ 6", "Fri"), ("SA", "Thứ 7", "Sat"),
        ("SU", "Chủ nhật", "Sun"))
DAY_CODES = tuple(code for code, _, _ in DAYS)
QUICK_TIMES = ("06:00", "11:00", "17:00")
DAILY, ONCE = "daily", "once"
PAST = "Thời điểm đã qua / this time is in the past"
TIME_PATTERN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(:[0-5]\d)?$")


@dataclass
class ScheduleForm:
    """The form's fields: single values in ``state``, the checkbox lists beside them."""

    state: FormState = field(default_factory=FormState)
    unit_ids: list[int] = field(default_factory=list)
    device_ids: list[str] = field(default_factory=list)
    days: list[str] = field(default_factory=lambda: list(DAY_CODES))
    force: bool = False

    @classmethod
    def blank(cls, *, bulletin_id: str, day: date, at: str) -> ScheduleForm:
        """A new form for ``bulletin_id`` starting on ``day`` (``at``: HH:MM or empty)."""
        values = {"bulletin_id": bulletin_id, "kind": DAILY, "time": at,
                  "valid_from": day.isoformat(), "valid_until": "",
                  "once_date": day.isoformat(), "once_time": at}
        return cls(state=FormState(values=values))


@dataclass(frozen=True, slots=True)
class Posted:
    """The raw fields of a POST."""

    bulletin_id: str = ""
    kind: str = DAILY
    time: str = ""
    days: tuple[str, ...] = ()
    valid_from: str = ""
    valid_until: str = ""
    once_date: str = ""
    once_time: str = ""
    unit_ids: tuple[str, ...] = ()
    device_ids: tuple[str, ...] = ()
    force: bool = False


def _date(form: FormState, name: str, raw: str, missing: str | None) -> date | None:
    if not raw.strip():
        if missing:
            form.error(name, missing)
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        form.error(name, "Ngày không hợp lệ, dùng dạng năm-tháng-ngày / not a date "
                         "(use YYYY-MM-DD)")
        return None


def _time(form: FormState, name: str, raw: str) -> time | None:
    match = TIME_PATTERN.match(raw.strip())
    if match is None:
        form.error(name, "Nhập giờ dạng HH:MM, ví dụ 06:00 / enter the time as HH:MM, "
                         "e.g. 06:00" if not raw.strip() else
                         "Giờ không hợp lệ, dùng dạng HH:MM / not a time (use HH:MM)")
        return None
    return time(int(match.group(1)), int(match.group(2)))


def build_rrule(at: time, days: list[str]) -> str:
    """FREQ=DAILY on every day, else FREQ=WEEKLY;BYDAY=…, at ``at`` (local wall time)."""
    clock = f"BYHOUR={at.hour};BYMINUTE={at.minute};BYSECOND=0"
    if set(days) >= set(DAY_CODES):
        return f"FREQ=DAILY;{clock}"
    ordered = [code for code in DAY_CODES if code in days]
    return f"FREQ=WEEKLY;BYDAY={','.join(ordered)};{clock}"


def read_form(
    posted: Posted, *, local_tz: str, now: datetime
) -> tuple[ScheduleForm, ScheduleCreate | None]:
    """Check every field; the request when all are right, else None (errors in the form)."""
    tz = zone(local_tz)
    values = {"bulletin_id": posted.bulletin_id, "kind": posted.kind, "time": posted.time,
              "valid_from": posted.valid_from, "valid_until": posted.valid_until,
              "once_date": posted.once_date, "once_time": posted.once_time}
    form = ScheduleForm(state=FormState(values=values),
                        days=[d for d in posted.days if d in DAY_CODES],
                        device_ids=[d for d in posted.device_ids if d], force=posted.force)
    state = form.state
    form.unit_ids = [int(u) for u in posted.unit_ids if u.strip().isdigit()]
    if not posted.bulletin_id.strip().isdigit():
        state.error("bulletin_id", "Chọn một bản tin / choose a bulletin")
    if not form.unit_ids and not form.device_ids:
        state.error("targets", "Chọn ít nhất một đơn vị hoặc thiết bị / choose at least one "
                               "unit or device")
    start_at = rrule = valid_from = valid_until = None
    if posted.kind == ONCE:
        day = _date(state, "once_date", posted.once_date, "Chọn ngày phát / choose the day")
        at = _time(state, "once_time", posted.once_time)
        if day is not None and at is not None:
            start_at = datetime.combine(day, at, tzinfo=tz)
            if start_at < now:
                state.error("once_time", PAST)
    elif posted.kind == DAILY:
        at = _time(state, "time", posted.time)
        if not form.days:
            state.error("days", "Chọn ít nhất một ngày trong tuần / choose at least one day "
                                "of the week")
        first = _date(state, "valid_from", posted.valid_from,
                      "Chọn ngày bắt đầu / choose the first day")
        last = _date(state, "valid_until", posted.valid_until, None)
        today = now.astimezone(tz).date()
        if first is not None and last is not None and last < first:
            state.error("valid_until", "Ngày kết thúc trước ngày bắt đầu / the last day is "
                                       "before the first day")
        elif last is not None and last < today:
            state.error("valid_until", "Ngày kết thúc đã qua / the last day is in the past")
        if state.ok and at is not None and first is not None:
            rrule = build_rrule(at, form.days)
            valid_from = datetime.combine(first, time(0), tzinfo=tz)
            if last is not None:
                valid_until = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz) \
                    - timedelta(seconds=1)
            rec = Recurrence(rrule, valid_from, valid_until, local_tz)
            if not next_recurring(rec, after=now, count=1):
                state.error("time", PAST)
    else:
        state.error("kind", "Chọn kiểu lịch / choose the kind of schedule")
    if not state.ok:
        return form, None
    request = ScheduleCreate(
        bulletin_id=int(posted.bulletin_id), start_at=start_at, rrule=rrule,
        valid_from=valid_from, valid_until=valid_until, timezone=local_tz,
        targets=Targets(unit_ids=form.unit_ids, device_ids=form.device_ids))
    return form, request


def _rule_parts(rule: str) -> dict[str, str]:
    parts = {}
    for piece in rule.upper().removeprefix("RRULE:").split(";"):
        key, _, value = piece.partition("=")
        parts[key.strip()] = value.strip()
    return parts


def describe(schedule: Schedule, *, local_tz: str) -> str:
    """The timing in words, local time: 'Hằng ngày lúc 06:00 / daily at 06:00'."""
    if schedule.kind == ScheduleKind.ONE_OFF:
        at = schedule.start_at
        text = at.astimezone(zone(local_tz)).strftime("%H:%M %d/%m/%Y") if at else "—"
        return f"Một lần lúc {text} / once at {text}"
    parts = _rule_parts(schedule.rrule or "")
    hours, minutes = parts.get("BYHOUR", ""), parts.get("BYMINUTE", "0")
    known = {"FREQ", "BYDAY", "BYHOUR", "BYMINUTE", "BYSECOND"}
    simple = (set(parts) <= known and hours.isdigit() and minutes.isdigit()
              and schedule.timezone == local_tz and parts.get("BYSECOND", "0") == "0")
    if not simple or parts.get("FREQ") not in ("DAILY", "WEEKLY"):
        return f"RRULE {schedule.rrule} ({schedule.timezone})"
    clock = f"{int(hours):02d}:{int(minutes):02d}"
    days = [d for d in parts.get("BYDAY", "").split(",") if d]
    if parts["FREQ"] == "DAILY" and not days:
        return f"Hằng ngày lúc {clock} / daily at {clock}"
    names = [(vi, en) for code, vi, en in DAYS if code in days]
    if len(names) != len(days) or not names:
        return f"RRULE {schedule.rrule} ({schedule.timezone})"
    return (f"{', '.join(vi for vi, _ in names)} lúc {clock} / "
            f"{', '.join(en for _, en in names)} at {clock}")
