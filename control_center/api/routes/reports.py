"""Effectiveness of grassroots information: a unit's subtree over a period, rolled up the tree
(docs/effectiveness.md defines every figure)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Response

from control_center.api.deps import ActorDep, CenterDep, NowDep, SessionDep
from control_center.effectiveness.csvout import effectiveness_csv
from control_center.effectiveness.figures import EffectivenessReport
from control_center.effectiveness.period import DEFAULT_DAYS
from control_center.effectiveness.report import effectiveness_report
from control_center.errors import InvalidInput

router = APIRouter(prefix="/reports", tags=["reports"])


@router.get("/effectiveness", response_model=EffectivenessReport)
def effectiveness(
    session: SessionDep, center: CenterDep, now: NowDep, actor: ActorDep,
    unit_id: int | None = None, start: datetime | None = None, end: datetime | None = None,
    format: Literal["json", "csv"] = "json",
) -> EffectivenessReport | Response:
    """Figures per unit of the subtree over [start, end) (default: the 30 days before now)."""
    unit_id = actor.unit_or_own(unit_id)
    if unit_id is None:
        raise InvalidInput("unit_id là bắt buộc với mã truy cập hệ thống / unit_id is required "
                           "with the API token")
    end = end or now
    start = start or end - timedelta(days=DEFAULT_DAYS)
    report = effectiveness_report(session, unit_id=unit_id, start=start, end=end, now=now,
                                  reader=center.telemetry.reader,
                                  bucket_s=center.settings.silence_s)
    if format == "csv":
        name = f"hieu-qua-{unit_id}-{start:%Y%m%d}-{end:%Y%m%d}.csv"
        return Response(effectiveness_csv(report), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return report
