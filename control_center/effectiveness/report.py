"""One effectiveness report: a unit's subtree over a period, every figure of every unit row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.core.targets import descendant_unit_ids
from control_center.effectiveness.availability import add_availability
from control_center.effectiveness.broadcast import add_broadcasts
from control_center.effectiveness.federated import add_federated
from control_center.effectiveness.figures import EffectivenessReport, UnitFigures
from control_center.effectiveness.hearing import add_heard
from control_center.effectiveness.period import check_period
from control_center.effectiveness.responses import add_feedback
from control_center.effectiveness.rollup import roll_up
from control_center.effectiveness.training import add_training
from control_center.errors import NotFound
from control_center.models import AdminUnit
from control_center.telemetry.queries import InfluxReader


def own_figures(session: Session, *, unit_id: int, start: datetime, end: datetime,
                now: datetime, reader: InfluxReader | None,
                bucket_s: float) -> tuple[AdminUnit, dict[int, UnitFigures], str | None]:
    """Each unit of ``unit_id``'s subtree with its own figures (not yet summed up the tree),
    and why availability has no figures (None when it has)."""
    check_period(start, end)
    root = session.get(AdminUnit, unit_id)
    if root is None:
        raise NotFound(f"đơn vị {unit_id} không tồn tại / unit {unit_id} does not exist")
    scope = descendant_unit_ids(session, unit_ids=[unit_id])
    own = {u.id: UnitFigures(unit_id=u.id, unit_code=u.code, unit_name=u.name, level=u.level,
                             parent_id=u.parent_id, depth=0)
           for u in session.scalars(select(AdminUnit).where(AdminUnit.id.in_(scope)))}
    add_broadcasts(session, own=own, start=start, end=end)
    note = add_availability(session, own=own, reader=reader, start=start, end=end, now=now,
                            bucket_s=bucket_s)
    add_feedback(session, own=own, start=start, end=end, now=now)
    add_heard(session, own=own, start=start, end=end)
    add_training(session, own=own)
    return root, own, note


def effectiveness_report(session: Session, *, unit_id: int, start: datetime, end: datetime,
                         now: datetime, reader: InfluxReader | None,
                         bucket_s: float) -> EffectivenessReport:
    """The report of ``unit_id`` over [start, end), with the days child centers reported for
    the units of its subtree that stand for them: scope is the caller's business (404 for a
    unit outside the caller's subtree before calling)."""
    root, own, note = own_figures(session, unit_id=unit_id, start=start, end=end, now=now,
                                  reader=reader, bucket_s=bucket_s)
    sources, reported_availability = add_federated(session, own=own, start=start, end=end)
    rows = roll_up(own, root_id=unit_id, availability=note is None or reported_availability)
    total = rows[0]
    return EffectivenessReport(
        unit_id=root.id, unit_name=root.name, start=start, end=end, generated_at=now,
        availability_note=note, broadcast_categories=list(total.minutes_by_category),
        feedback_categories=list(total.feedback_by_category), rows=rows, federated=sources)
