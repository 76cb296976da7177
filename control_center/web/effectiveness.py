"""The effectiveness pages (Hiệu quả thông tin cơ sở): a unit's subtree over whole local days,
a table with a subtotal per unit, SVG charts and the same table as CSV."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy import select

from control_center.api.deps import CenterDep
from control_center.effectiveness.csvout import effectiveness_csv
from control_center.effectiveness.figures import NO_CATEGORY, EffectivenessReport
from control_center.effectiveness.period import day_period
from control_center.effectiveness.report import effectiveness_report
from control_center.models import Bulletin, FeedbackCategoryRow
from control_center.telemetry.fleet_overview import fleet_overview
from control_center.web.charts import bar_chart
from control_center.web.labels import PRIORITIES
from control_center.web.shell import MONITOR, Viewer, ViewerDep, render
from control_center.workers.runtime import Center

router = APIRouter(prefix=MONITOR, include_in_schema=False)
UNCATEGORISED = "(không phân loại / uncategorised)"
FEEDBACK_COLOURS = ("#0969da", "#1a7f37", "#cf222e")


def _report(center: Center, viewer: Viewer, unit_id: int, start: date | None,
            end: date | None) -> tuple[EffectivenessReport, date, date]:
    tz = ZoneInfo(center.settings.timezone)
    now = center.clock()
    t0, t1, d0, d1 = day_period(start, end, today=now.astimezone(tz).date(), tz=tz)
    viewer.actor.require_unit(unit_id, what=f"unit {unit_id}")
    with center.read_sessions() as session:
        report = effectiveness_report(session, unit_id=unit_id, start=t0, end=t1, now=now,
                                      reader=center.telemetry.reader,
                                      bucket_s=center.settings.silence_s)
    return report, d0, d1


def _charts(report: EffectivenessReport, names: dict[str, str]) -> list[Markup]:
    total = report.total
    children = [r for r in report.rows if r.depth == 1]
    return [
        bar_chart([(UNCATEGORISED if c == NO_CATEGORY else c, v)
                   for c, v in total.minutes_by_category.items()],
                  title="Số phút phát theo lĩnh vực / minutes by category", unit="phút",
                  key="minutes_by_category"),
        bar_chart([(r.unit_name, r.coverage_pct) for r in children if r.coverage_pct is not None],
                  title="Độ phủ theo đơn vị / coverage per unit", unit="%", key="coverage",
                  top=100.0),
        bar_chart([("Đã nhận / received", total.feedback.received),
                   ("Trả lời đúng hạn / on time", total.feedback.answered_on_time),
                   ("Quá hạn / overdue", total.feedback.overdue)],
                  title="Phản ánh / feedback", unit="", key="feedback",
                  colours=FEEDBACK_COLOURS),
        bar_chart([(names.get(c, c), n.received) for c, n in total.feedback_by_category.items()],
                  title="Phản ánh theo lĩnh vực / feedback by category", unit="",
                  key="feedback_by_category"),
    ]


@router.get("/effectiveness")
def effectiveness(center: CenterDep, viewer: ViewerDep, unit_id: int | None = None,
                  start: date | None = None, end: date | None = None) -> Response:
    with center.read_sessions() as session:
        units = fleet_overview(session, unit_id=viewer.actor.unit_id).units
        names = {c.code: f"{c.name_vi} / {c.name_en}" if c.name_en else c.name_vi
                 for c in session.scalars(select(FeedbackCategoryRow))}
    chosen = viewer.actor.unit_or_own(unit_id) or (units[0].unit_id if units else None)
    if chosen is None:
        return render(viewer, "effectiveness.html", units=units, report=None, unit_id=None,
                      start=start, end=end, charts=[], names=names, priorities=PRIORITIES,
                      csv_url="", uncategorised=UNCATEGORISED, titles={})
    report, d0, d1 = _report(center, viewer, chosen, start, end)
    with center.read_sessions() as session:
        titles = {bulletin_id: title for bulletin_id, title in session.execute(
            select(Bulletin.id, Bulletin.title).where(
                Bulletin.id.in_({h.bulletin_id for h in report.total.heard})))}
    query = urlencode({"unit_id": chosen, "start": d0.isoformat(), "end": d1.isoformat()})
    return render(viewer, "effectiveness.html", units=units, report=report, unit_id=chosen,
                  start=d0, end=d1, charts=_charts(report, names), names=names,
                  priorities=PRIORITIES, csv_url=f"{MONITOR}/effectiveness.csv?{query}",
                  uncategorised=UNCATEGORISED, titles=titles)


@router.get("/effectiveness.csv")
def effectiveness_csv_page(center: CenterDep, viewer: ViewerDep, unit_id: int,
                           start: date | None = None, end: date | None = None) -> Response:
    report, d0, d1 = _report(center, viewer, unit_id, start, end)
    name = f"hieu-qua-{unit_id}-{d0:%Y%m%d}-{d1:%Y%m%d}.csv"
    return Response(effectiveness_csv(report), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
