"""The figures of one unit row, and the report that lists them (see docs/effectiveness.md)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from control_center.schemas.common import OutputModel

NO_CATEGORY = ""  # a bulletin without a category, a play-now or a live item


class FeedbackCounts(OutputModel):
    received: int = 0
    answered: int = 0
    answered_on_time: int = 0
    overdue: int = 0  # answered after its due date, or still open past it

    def add(self, other: FeedbackCounts) -> None:
        self.received += other.received
        self.answered += other.answered
        self.answered_on_time += other.answered_on_time
        self.overdue += other.overdue


class HeardFigure(OutputModel):
    """One "did you hear it?" question of one bulletin: answers per choice, and their shares."""

    bulletin_id: int  # at a province's center (``center_id``): that center's ids
    question_id: int
    question: str
    choices: list[str]
    counts: list[int]
    shares_pct: list[float] = Field(default_factory=list)
    center_id: str | None = None  # a child center's question (None: this center's)
    bulletin_title: str | None = None  # its bulletin's title, as that center reported it

    @property
    def answers(self) -> int:
        return sum(self.counts)


class UnitFigures(OutputModel):
    """One unit's figures over its whole subtree (the unit itself and every unit below)."""

    unit_id: int
    unit_code: str
    unit_name: str
    level: str
    parent_id: int | None
    depth: int  # 0: the chosen unit (the total), 1: its children, ...
    center_id: str | None = None  # a unit of a child center's tree (ids < 0: none here)
    minutes: float = 0.0
    minutes_by_category: dict[str, float] = Field(default_factory=dict)
    minutes_by_priority: dict[str, float] = Field(default_factory=dict)
    targeted_devices: int = 0
    devices_played: int = 0
    coverage_pct: float | None = None
    devices: int = 0  # active devices, the denominator of availability
    buckets_heard: int = 0  # availability: buckets with a health sample, over the devices
    buckets_expected: int = 0  # ... and buckets of the period, over the devices
    availability_pct: float | None = None  # None: no data (InfluxDB off or not answering)
    feedback: FeedbackCounts = Field(default_factory=FeedbackCounts)
    feedback_by_category: dict[str, FeedbackCounts] = Field(default_factory=dict)
    heard_answers: int = 0
    heard: list[HeardFigure] = Field(default_factory=list)
    training_assigned: int = 0
    training_completed: int = 0
    training_passed: int = 0
    training_completion_pct: float | None = None
    training_pass_pct: float | None = None


class FederatedSource(OutputModel):
    """A child center whose reported days are in the report, and how fresh they are."""

    center_id: str
    name: str
    unit_id: int  # its mirror unit in this center's tree
    days: list[str]  # its reported local days in the period
    reported_at: datetime | None  # when the newest of those reports was made


class EffectivenessReport(OutputModel):
    unit_id: int
    unit_name: str
    start: datetime
    end: datetime
    generated_at: datetime
    availability_note: str | None  # why availability has no figures, when it has none
    broadcast_categories: list[str]
    feedback_categories: list[str]
    rows: list[UnitFigures]  # the chosen unit first, then its subtree depth first
    federated: list[FederatedSource] = Field(default_factory=list)  # child centers' figures

    @property
    def total(self) -> UnitFigures:
        return self.rows[0]


def pct(part: int | float, whole: int | float) -> float | None:
    """``part`` as a percentage of ``whole`` to one decimal; None when ``whole`` is 0."""
    return round(100.0 * part / whole, 1) if whole else None
