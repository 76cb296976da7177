"""A child center's figures in this center's report (docs/effectiveness.md, "Provinces").

A province's center sends, per local day, each unit's own figures in the portable form
``DayFigures``: aggregated counts only (no ids of devices, no people, no citizens' text). This
center keeps the last report of each (child, unit, day) in ``federated_figures`` (its
``figures`` column holds a ``ReportedDay``), and a report of a unit whose subtree holds a
child's mirror unit (``federation_peers.unit_id``) adds the reported days of its period: the
child's top unit into the mirror unit, the others below it, so the roll-up sums them like
local units. Summed over days: minutes, devices targeted and played (device-days), availability
buckets, feedback, answers; from the unit's latest reported day: its active devices and its
training (as it stood then)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, MutableMapping
from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import Field, NonNegativeFloat, NonNegativeInt, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.effectiveness.figures import (
    FederatedSource,
    FeedbackCounts,
    HeardFigure,
    UnitFigures,
)
from control_center.models import FederatedFigures, FederationPeer, PeerRole
from protocol.base import FrozenModel, Priority

Code = Annotated[str, Field(max_length=100)]
MINUTES_DIGITS = 4  # per unit and day: rounded only once the rows are summed


class Counts(FrozenModel):
    received: NonNegativeInt = 0
    answered: NonNegativeInt = 0
    answered_on_time: NonNegativeInt = 0
    overdue: NonNegativeInt = 0


class HeardDay(FrozenModel):
    """One "did you hear it?" question's answers per choice (ids: the child's own)."""

    bulletin_id: NonNegativeInt
    question_id: NonNegativeInt
    bulletin: str = Field(max_length=500)  # its bulletin's title
    question: str = Field(max_length=1000)
    choices: list[Annotated[str, Field(max_length=200)]] = Field(max_length=20)
    counts: list[NonNegativeInt] = Field(max_length=20)

    @model_validator(mode="after")
    def _one_count_per_choice(self) -> HeardDay:
        if len(self.counts) != len(self.choices):
            raise ValueError("one count per choice")
        return self


class DayFigures(FrozenModel):
    """One unit's own figures (not its subtree's) for one local day of its center."""

    minutes_by_category: dict[Code, NonNegativeFloat] = Field(default_factory=dict,
                                                              max_length=200)
    minutes_by_priority: dict[Priority, NonNegativeFloat] = Field(default_factory=dict)
    targeted_devices: NonNegativeInt = 0
    devices_played: NonNegativeInt = 0
    devices: NonNegativeInt = 0
    availability: bool = False  # False: the child had no availability data (no InfluxDB)
    buckets_heard: NonNegativeInt = 0
    buckets_expected: NonNegativeInt = 0
    feedback: Counts = Field(default_factory=Counts)
    feedback_by_category: dict[Code, Counts] = Field(default_factory=dict, max_length=200)
    heard: list[HeardDay] = Field(default_factory=list, max_length=500)
    training_assigned: NonNegativeInt = 0
    training_completed: NonNegativeInt = 0
    training_passed: NonNegativeInt = 0


class ReportedDay(FrozenModel):
    """What ``federated_figures.figures`` holds: the day's figures and the child's zone."""

    tz: str
    figures: DayFigures


def _counts(counts: FeedbackCounts) -> Counts:
    return Counts.model_validate(counts.model_dump())


def day_figures(row: UnitFigures, *, availability: bool,
                titles: Mapping[int, str]) -> DayFigures:
    """The portable form of a unit's own figures (``report.own_figures``'s rows)."""
    return DayFigures(
        minutes_by_category={k: round(v, MINUTES_DIGITS)
                             for k, v in sorted(row.minutes_by_category.items())},
        minutes_by_priority={Priority(k): round(v, MINUTES_DIGITS)
                             for k, v in sorted(row.minutes_by_priority.items())},
        targeted_devices=row.targeted_devices, devices_played=row.devices_played,
        devices=row.devices, availability=availability, buckets_heard=row.buckets_heard,
        buckets_expected=row.buckets_expected, feedback=_counts(row.feedback),
        feedback_by_category={k: _counts(v) for k, v in sorted(row.feedback_by_category.items())},
        heard=[HeardDay(bulletin_id=h.bulletin_id, question_id=h.question_id,
                        bulletin=titles.get(h.bulletin_id, ""), question=h.question,
                        choices=h.choices, counts=h.counts) for h in row.heard],
        training_assigned=row.training_assigned, training_completed=row.training_completed,
        training_passed=row.training_passed)


def _add_day(row: UnitFigures, day: DayFigures, *, center_id: str, latest: bool) -> None:
    for key, value in day.minutes_by_category.items():
        row.minutes += value
        row.minutes_by_category[key] = row.minutes_by_category.get(key, 0.0) + value
    for level, value in day.minutes_by_priority.items():
        row.minutes_by_priority[level.value] = row.minutes_by_priority.get(level.value,
                                                                           0.0) + value
    row.targeted_devices += day.targeted_devices
    row.devices_played += day.devices_played
    row.buckets_heard += day.buckets_heard
    row.buckets_expected += day.buckets_expected
    row.feedback.add(FeedbackCounts.model_validate(day.feedback.model_dump()))
    for key, counts in day.feedback_by_category.items():
        row.feedback_by_category.setdefault(key, FeedbackCounts()).add(
            FeedbackCounts.model_validate(counts.model_dump()))
    mine = {(h.center_id, h.bulletin_id, h.question_id): h for h in row.heard}
    for h in day.heard:
        row.heard_answers += sum(h.counts)
        found = mine.get((center_id, h.bulletin_id, h.question_id))
        if found is not None and len(found.counts) == len(h.counts):
            found.counts = [a + b for a, b in zip(found.counts, h.counts, strict=True)]
            continue
        row.heard.append(HeardFigure(
            bulletin_id=h.bulletin_id, question_id=h.question_id, question=h.question,
            choices=list(h.choices), counts=list(h.counts), center_id=center_id,
            bulletin_title=h.bulletin))
    if latest:  # as it stood on the unit's latest reported day
        row.devices += day.devices
        row.training_assigned += day.training_assigned
        row.training_completed += day.training_completed
        row.training_passed += day.training_passed


def _in_period(stored: FederatedFigures, start: datetime, end: datetime) -> ReportedDay | None:
    reported = ReportedDay.model_validate_json(stored.figures)
    midnight = datetime.combine(date.fromisoformat(stored.day), time(), ZoneInfo(reported.tz))
    return reported if start <= midnight < end else None


def add_federated(session: Session, *, own: MutableMapping[int, UnitFigures], start: datetime,
                  end: datetime) -> tuple[list[FederatedSource], bool]:
    """Add the reported days of every child center whose mirror unit is in ``own`` (rows below
    it get negative ids); returns the sources and whether any had availability data."""
    fresh_ids: Iterator[int] = itertools.count(-1, -1)
    sources: list[FederatedSource] = []
    availability = False
    lo, hi = (start - timedelta(days=1)).date(), (end + timedelta(days=1)).date()
    peers = session.scalars(select(FederationPeer).where(
        FederationPeer.role == PeerRole.CHILD, FederationPeer.unit_id.in_(list(own)))
        .order_by(FederationPeer.id))
    for peer in list(peers):
        stored = session.scalars(select(FederatedFigures).where(
            FederatedFigures.peer_id == peer.id, FederatedFigures.day >= lo.isoformat(),
            FederatedFigures.day <= hi.isoformat()).order_by(FederatedFigures.day.desc()))
        days = [(s, d) for s in stored if (d := _in_period(s, start, end)) is not None]
        if not days:
            continue
        assert peer.unit_id is not None
        _add_peer(own, peer=peer, days=days, fresh_ids=fresh_ids)
        availability = availability or any(d.figures.availability for _, d in days)
        sources.append(FederatedSource(
            center_id=peer.center_id, name=peer.name, unit_id=peer.unit_id,
            days=sorted({s.day for s, _ in days}),
            reported_at=max(s.received_at for s, _ in days)))
    return sources, availability


def _add_peer(own: MutableMapping[int, UnitFigures], *, peer: FederationPeer,
              days: list[tuple[FederatedFigures, ReportedDay]], fresh_ids: Iterator[int]) -> None:
    """``days`` newest first: a unit's first row is its latest (its name, level, parent)."""
    assert peer.unit_id is not None
    latest: dict[str, FederatedFigures] = {}
    for stored, _ in days:
        latest.setdefault(stored.unit_code, stored)
    ids = {code: peer.unit_id if s.parent_code is None else next(fresh_ids)
           for code, s in latest.items()}
    for code, s in latest.items():
        if ids[code] != peer.unit_id:
            own[ids[code]] = UnitFigures(
                unit_id=ids[code], unit_code=code, unit_name=s.unit_name, level=s.level,
                parent_id=ids.get(s.parent_code or "", peer.unit_id), depth=0,
                center_id=peer.center_id)
    for stored, reported in days:
        _add_day(own[ids[stored.unit_code]], reported.figures, center_id=peer.center_id,
                 latest=latest[stored.unit_code] is stored)
