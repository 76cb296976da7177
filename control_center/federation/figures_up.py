"""Reports up: a child center's day figures per unit, sent to its parent, and stored there.

The child (its ``federation-link`` role, every ``TT_FEDERATION_FIGURES_SECONDS``) computes
today's and yesterday's figures of every unit of its tree (local days in its time zone) with
the effectiveness package, and queues a ``figures`` message to each parent for a day whose
figures changed since they were last sent (kept in its ``federated_figures`` rows of that
parent): the whole tree the first time, then only the units that changed (``partial``).
Today's availability is left out until the day is over (its expected samples grow every few
minutes, which would make every unit "change" every round). The parent keeps the newest
figures of each (child, unit, day). Only aggregated counts travel
(``effectiveness.federated.DayFigures``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from control_center.effectiveness.federated import DayFigures, ReportedDay, day_figures
from control_center.effectiveness.figures import UnitFigures
from control_center.effectiveness.report import own_figures
from control_center.errors import Conflict, Forbidden, InvalidInput
from control_center.federation import outbox
from control_center.federation.content_down import top_unit
from control_center.federation.identity import Identity
from control_center.federation.messages import FederationMessage, Kind
from control_center.models import (
    Bulletin,
    FederatedFigures,
    FederationPeer,
    PeerRole,
    PeerState,
)
from control_center.telemetry.queries import InfluxReader
from protocol.base import FrozenModel

MAX_UNITS = 5000


class UnitDay(FrozenModel):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(max_length=200)
    parent_code: str | None = Field(default=None, max_length=64)  # None: the child's top
    level: str = Field(max_length=20)
    figures: DayFigures


class FiguresReport(FrozenModel):
    """The payload of a ``figures`` message: one local day of the child, every unit."""

    day: date
    tz: str = Field(max_length=64)
    units: list[UnitDay] = Field(min_length=1, max_length=MAX_UNITS)
    partial: bool = False  # only the units whose figures changed since the day's last report

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _one_tree(self) -> FiguresReport:
        codes = [u.code for u in self.units]
        if len(set(codes)) != len(codes):
            raise ValueError("a unit code appears twice")
        if self.partial:  # the tree arrived with the day's first, whole report
            return self
        if sum(u.parent_code is None for u in self.units) != 1:
            raise ValueError("exactly one unit (the top) has no parent_code")
        stray = {u.parent_code for u in self.units} - {None, *codes}
        if stray:
            raise ValueError(f"parent_code not in the report: {sorted(map(str, stray))}")
        return self


def _units(session: Session, *, root_id: int, start: datetime, end: datetime, now: datetime,
           reader: InfluxReader | None, bucket_s: float) -> list[UnitDay]:
    """Every unit's own figures for [start, end); availability only for a day that is over."""
    over = end <= now
    _, own, note = own_figures(session, unit_id=root_id, start=start, end=end, now=now,
                               reader=reader if over else None, bucket_s=bucket_s)
    wanted = {h.bulletin_id for row in own.values() for h in row.heard}
    titles = {bulletin_id: title for bulletin_id, title in session.execute(
        select(Bulletin.id, Bulletin.title).where(Bulletin.id.in_(wanted)))}

    def parent_code(row: UnitFigures) -> str | None:
        parent = own.get(row.parent_id) if row.parent_id is not None else None
        return parent.unit_code if parent is not None and row.unit_id != root_id else None

    return [UnitDay(code=row.unit_code, name=row.unit_name, parent_code=parent_code(row),
                    level=row.level, figures=day_figures(
                        row, availability=over and note is None, titles=titles))
            for row in sorted(own.values(), key=lambda r: r.unit_code)]


def _store(session: Session, *, peer_id: int, report: FiguresReport, at: datetime) -> None:
    """Replace the (peer, day) rows by the report's (a partial one: only its units' rows)."""
    day = report.day.isoformat()
    replaced = delete(FederatedFigures).where(FederatedFigures.peer_id == peer_id,
                                              FederatedFigures.day == day)
    if report.partial:
        replaced = replaced.where(FederatedFigures.unit_code.in_([u.code for u in report.units]))
    session.execute(replaced)
    session.add_all(FederatedFigures(
        peer_id=peer_id, unit_code=u.code, unit_name=u.name, parent_code=u.parent_code,
        level=u.level, day=day, received_at=at,
        figures=ReportedDay(tz=report.tz, figures=u.figures).model_dump_json())
        for u in report.units)


def _last_sent(session: Session, *, peer_id: int, day: date) -> FiguresReport | None:
    rows = list(session.scalars(select(FederatedFigures).where(
        FederatedFigures.peer_id == peer_id, FederatedFigures.day == day.isoformat())))
    if not rows:
        return None
    tz = ReportedDay.model_validate_json(rows[0].figures).tz
    return FiguresReport.model_construct(day=day, tz=tz, units=sorted((UnitDay(
        code=r.unit_code, name=r.unit_name, parent_code=r.parent_code, level=r.level,
        figures=ReportedDay.model_validate_json(r.figures).figures) for r in rows),
        key=lambda u: u.code))


def _changes(last: FiguresReport | None, report: FiguresReport) -> FiguresReport | None:
    """What to send after ``last``: nothing, the units that changed, or (a new day, or units
    added or removed) the whole report."""
    if last is None or {u.code for u in last.units} != {u.code for u in report.units}:
        return report
    before = {u.code: u.model_dump(mode="json") for u in last.units}
    changed = [u for u in report.units if u.model_dump(mode="json") != before[u.code]]
    if not changed:
        return None
    return FiguresReport(day=report.day, tz=report.tz, units=changed, partial=True)


@dataclass(frozen=True, slots=True)
class FiguresReporter:
    """The child's side, run by the link: queue the days whose figures changed."""

    identity: Identity
    reader: InfluxReader | None
    bucket_s: float
    timezone: str

    def __call__(self, session: Session, now: datetime) -> int:
        """Queue a ``figures`` message per parent and changed day; returns how many."""
        parents = list(session.scalars(select(FederationPeer).where(
            FederationPeer.role == PeerRole.PARENT, FederationPeer.state == PeerState.ACTIVE)))
        if not parents:
            return 0
        try:
            root = top_unit(session)
        except Conflict:  # no tree yet: nothing to report
            return 0
        tz = ZoneInfo(self.timezone)
        today = now.astimezone(tz).date()
        queued = 0
        for day in (today - timedelta(days=1), today):
            start = datetime.combine(day, time(), tz)
            units = _units(session, root_id=root.id, start=start,
                           end=datetime.combine(day + timedelta(days=1), time(), tz), now=now,
                           reader=self.reader, bucket_s=self.bucket_s)
            report = FiguresReport(day=day, tz=self.timezone, units=units)
            for peer in parents:
                sent = _changes(_last_sent(session, peer_id=peer.id, day=day), report)
                if sent is None:
                    continue
                _store(session, peer_id=peer.id, report=report, at=now)  # what the parent has
                outbox.enqueue(session, identity=self.identity, peer=peer, kind=Kind.FIGURES,
                               payload=sent.model_dump(mode="json", exclude_defaults=True),
                               now=now)  # zeros left out: most units are quiet most days
                queued += 1
        session.commit()
        return queued


def take(session: Session, *, peer: FederationPeer, message: FederationMessage) -> str:
    """The parent's side: store a child's day report unless a newer one of the day is kept."""
    if peer.role != PeerRole.CHILD:
        raise Forbidden(f"chỉ trung tâm cấp dưới gửi số liệu lên / only a child center sends "
                        f"figures up; '{peer.center_id}' is not a child here")
    try:
        report = FiguresReport.model_validate(message.payload)
    except ValidationError as exc:
        raise InvalidInput(f"số liệu không hợp lệ / invalid figures: {exc}") from exc
    kept = session.scalar(select(func.max(FederatedFigures.received_at)).where(
        FederatedFigures.peer_id == peer.id, FederatedFigures.day == report.day.isoformat()))
    if not report.partial and kept is not None and kept > message.at:  # both aware
        return f"figures {report.day}: a newer report of the day is kept"
    _store(session, peer_id=peer.id, report=report, at=message.at)
    return f"figures {report.day}: {len(report.units)} unit(s)"
