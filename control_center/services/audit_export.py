"""Audit log filters as people type them (local dates) and the CSV export."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from control_center.core import audit
from control_center.core.actor import Actor
from control_center.core.csv_export import csv_text
from control_center.models import AuditEntry

EXPORT_LIMIT = 50_000
CSV_COLUMNS = ("id", "at_local", "at_utc", "actor", "source_ip", "unit_id", "action",
               "object_type", "object_id", "flagged", "detail")


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What to show; ``date_from``/``date_to`` are local calendar days, both included."""

    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    flagged_only: bool = False

    def params(self) -> dict[str, str]:
        """The filter as query parameters (for links: the CSV export, the next page)."""
        out = {k: v for k, v in (("actor", self.actor), ("action", self.action),
                                 ("object_type", self.object_type),
                                 ("object_id", self.object_id)) if v}
        if self.date_from:
            out["date_from"] = self.date_from.isoformat()
        if self.date_to:
            out["date_to"] = self.date_to.isoformat()
        if self.flagged_only:
            out["flagged"] = "1"
        return out


def parse_filter(
    *, actor: str | None, action: str | None, object_type: str | None,
    object_id: str | None, date_from: str | None, date_to: str | None, flagged: str | None,
) -> tuple[AuditFilter, dict[str, str]]:
    """The filter and, per field, what is wrong with it (empty when all is well)."""
    errors: dict[str, str] = {}

    def day(name: str, raw: str | None) -> date | None:
        if not raw or not raw.strip():
            return None
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            errors[name] = "Ngày không hợp lệ, dùng dạng YYYY-MM-DD / not a date: use YYYY-MM-DD"
            return None

    start, end = day("date_from", date_from), day("date_to", date_to)
    if start and end and start > end:
        errors["date_to"] = "Ngày kết thúc trước ngày bắt đầu / 'to' is before 'from'"

    def text(raw: str | None) -> str | None:
        return raw.strip()[:100] if raw and raw.strip() else None

    return AuditFilter(
        actor=text(actor), action=text(action), object_type=text(object_type),
        object_id=text(object_id), date_from=start, date_to=end,
        flagged_only=(flagged or "").strip().lower() in ("1", "true", "on", "yes"),
    ), errors


def utc_range(flt: AuditFilter, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """[since, until) in UTC covering the local days of the filter."""
    since = datetime.combine(flt.date_from, time(), tz) if flt.date_from else None
    until = (datetime.combine(flt.date_to + timedelta(days=1), time(), tz)
             if flt.date_to else None)
    return since, until


def entries(
    session: Session, *, flt: AuditFilter, viewer: Actor, tz: ZoneInfo,
    limit: int = 500, offset: int = 0,
) -> list[AuditEntry]:
    """The entries ``viewer`` may read that match ``flt``, newest first."""
    since, until = utc_range(flt, tz)
    return audit.list_entries(
        session, actor=flt.actor, action=flt.action, object_type=flt.object_type,
        object_id=flt.object_id, since=since, until=until, flagged_only=flt.flagged_only,
        viewer=viewer, limit=limit, offset=offset)


def to_csv(rows: Iterable[AuditEntry], tz: ZoneInfo) -> str:
    """UTF-8 CSV text, formula-safe (see ``core.csv_export``)."""
    return csv_text(CSV_COLUMNS, ((
        e.id, e.at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"), e.at.isoformat(), e.actor,
        e.source_ip, e.unit_id, e.action, e.object_type, e.object_id,
        "1" if e.flagged else "0",
        json.dumps(json.loads(e.detail or "{}"), ensure_ascii=False, sort_keys=True),
    ) for e in rows))


def filename(now: datetime, tz: ZoneInfo) -> str:
    return f"nhat-ky-audit-{now.astimezone(tz):%Y%m%d-%H%M}.csv"
