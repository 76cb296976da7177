"""What a kiosk's manifest carries besides play items: recent answers, the categories and
the "Did you hear it?" surveys it asks."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_center.feedback.categories import for_kiosk_units
from control_center.feedback.surveys import kiosk_surveys
from control_center.models import AdminUnit, Device, Feedback, FeedbackStatus
from protocol.events import DeviceKind
from protocol.feedback import FeedbackAnswer, FeedbackCategory, Survey
from protocol.training import TrainingBundleRef

ANSWER_DAYS = 30  # answers stay on the kiosk's home screen this long
MAX_ANSWERS = 20
ANSWER_CHARS = 1500  # an answer's text in the manifest (the full one is at the center)


@dataclass(frozen=True, slots=True)
class KioskExtras:
    answers: tuple[FeedbackAnswer, ...]
    categories: tuple[FeedbackCategory, ...]
    bundles: tuple[TrainingBundleRef, ...] = ()  # training modules (control_center.training)
    surveys: tuple[Survey, ...] = ()  # "Did you hear it?" questions asked now

    def fold(self, items_digest: str) -> str:
        """The manifest's content hash with the answers, categories, bundles and surveys
        folded in."""
        data: dict[str, object] = {
            "items": items_digest,
            "answers": [a.model_dump(mode="json") for a in self.answers],
            "categories": [c.model_dump(mode="json") for c in self.categories]}
        if self.bundles:  # absent when empty: kiosks without modules keep their hash
            data["bundles"] = [b.model_dump(mode="json") for b in self.bundles]
        if self.surveys:  # the same: kiosks asking nothing keep their hash
            data["surveys"] = [s.model_dump(mode="json") for s in self.surveys]
        raw = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(raw.encode()).hexdigest()


def kiosk_extras(session: Session, *, now: datetime) -> dict[str, KioskExtras]:
    """For every kiosk: its recent answers (newest first), the active categories of its
    unit and the units above (``categories.for_kiosk_units``) and the surveys it asks now."""
    kiosks: dict[str, int] = {device_id: unit_id for device_id, unit_id in session.execute(
        select(Device.id, Device.unit_id).where(Device.kind == DeviceKind.KIOSK))}
    if not kiosks:
        return {}
    offered = {unit: tuple(FeedbackCategory(code=c.code, name_vi=c.name_vi, name_en=c.name_en)
                           for c in rows)
               for unit, rows in for_kiosk_units(session, unit_ids=kiosks.values()).items()}
    rows = session.execute(
        select(Feedback, AdminUnit.name).join(AdminUnit, AdminUnit.id == Feedback.unit_id)
        .where(Feedback.device_id.in_(kiosks),
               Feedback.status.in_([FeedbackStatus.ANSWERED, FeedbackStatus.CLOSED]),
               Feedback.answer.is_not(None),
               Feedback.answered_at >= now - timedelta(days=ANSWER_DAYS))
        .order_by(Feedback.answered_at.desc(), Feedback.id.desc())
    ).all()
    answers: dict[str, list[FeedbackAnswer]] = {}
    for row, unit_name in rows:
        assert row.device_id is not None  # the query asks for the kiosks' feedback only
        mine = answers.setdefault(row.device_id, [])
        if len(mine) < MAX_ANSWERS and row.answer and row.answered_at:
            mine.append(FeedbackAnswer(
                ref_code=row.ref_code, category=row.category, question=row.text[:300],
                answer=row.answer[:ANSWER_CHARS], answered_at=row.answered_at,
                unit_name=unit_name[:200],
            ))
    surveys = kiosk_surveys(session, kiosks=kiosks, now=now)
    return {k: KioskExtras(tuple(answers.get(k, ())), offered[unit],
                           surveys=surveys.get(k, ()))
            for k, unit in kiosks.items()}
