"""Citizens' "did you hear it?" answers per unit: ``feedback.hearing.heard_counts`` (answers
given in the period at the kiosks of each unit), kept per bulletin and question."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from control_center.effectiveness.figures import HeardFigure, UnitFigures
from control_center.feedback.hearing import heard_counts


def add_heard(session: Session, *, own: Mapping[int, UnitFigures], start: datetime,
              end: datetime) -> None:
    """Add each unit's own answers, per bulletin and question, to ``own``."""
    for count in heard_counts(session, unit_ids=list(own), start=start, end=end):
        row = own[count.unit_id]
        row.heard_answers += sum(count.counts)
        row.heard.append(HeardFigure(
            bulletin_id=count.bulletin_id, question_id=count.question_id,
            question=count.question, choices=list(count.choices), counts=list(count.counts)))
