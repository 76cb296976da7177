"""API schemas of "Did you hear it?" (a bulletin's survey and its counts per unit)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from control_center.models import SurveyQuestionKind
from control_center.schemas.common import InputModel, OutputModel

Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
YES_NO_CHOICES = ("Có / Yes", "Không / No")


class QuestionIn(InputModel):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    kind: SurveyQuestionKind = SurveyQuestionKind.YES_NO
    choices: list[Label] | None = Field(
        default=None, description="choice: 2-4 labels; yes_no: left out (Có / Yes, Không / No)")

    @model_validator(mode="after")
    def _choices_fit_kind(self) -> QuestionIn:
        if self.kind == SurveyQuestionKind.YES_NO:
            if self.choices is not None:
                raise ValueError("câu hỏi có/không không nhận 'choices' / a yes_no question "
                                 "takes no 'choices' (they are Có / Yes, Không / No)")
        elif self.choices is None or not 2 <= len(self.choices) <= 4:
            raise ValueError("câu hỏi lựa chọn cần 2 đến 4 lựa chọn / a choice question needs "
                             "2 to 4 'choices'")
        return self

    def labels(self) -> tuple[str, ...]:
        return YES_NO_CHOICES if self.choices is None else tuple(self.choices)


class SurveyIn(InputModel):
    """Mark a bulletin: kiosks where it played ask these questions in the period."""

    starts_at: AwareDatetime | None = Field(default=None, description="default: now")
    days: int | None = Field(default=None, ge=1, le=90,
                             description="the period's length (default 7) when no ends_at")
    ends_at: AwareDatetime | None = None
    questions: list[QuestionIn] = Field(min_length=1, max_length=3)

    @model_validator(mode="after")
    def _one_end(self) -> SurveyIn:
        if self.days is not None and self.ends_at is not None:
            raise ValueError("chỉ một trong 'days' hoặc 'ends_at' / give 'days' or 'ends_at', "
                             "not both")
        return self


class QuestionOut(OutputModel):
    id: int
    position: int
    text: str
    kind: SurveyQuestionKind
    choices: list[str]


class UnitCount(OutputModel):
    """One question's answers at the kiosks of one unit, per choice in order."""

    unit_id: int
    unit_name: str
    question_id: int
    counts: list[int]
    total: int


class SurveyOut(OutputModel):
    bulletin_id: int
    starts_at: datetime
    ends_at: datetime
    asking: bool  # now is within the period
    created_by: str
    created_at: datetime
    questions: list[QuestionOut]
    asking_unit_ids: list[int]  # units (in the caller's subtree) whose kiosks ask
    counts: list[UnitCount]  # units in the caller's subtree with answers
