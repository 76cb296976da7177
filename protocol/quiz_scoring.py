"""The one quiz-scoring rule, shared by the center and by kiosks (which score offline).

A question counts when the set of chosen choice ids equals its answer key exactly: multiple
choice too (no partial credit), an unanswered question is wrong, a choice given twice counts
once and the order of the choices does not matter. The score is the percentage of questions
right rounded to 2 decimals (0 for a quiz without questions); the attempt passes when the score
reaches the pass mark. Answers to questions not in the key are ignored here (the center
refuses them before scoring).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class QuestionMark:
    """One question of a scored attempt."""

    question_id: str
    chosen: tuple[str, ...]  # the choice ids given, de-duplicated and sorted
    correct: bool


@dataclass(frozen=True, slots=True)
class QuizScore:
    """A scored attempt: one mark per question, in the quiz's order, and the totals."""

    marks: tuple[QuestionMark, ...]
    correct: int
    total: int
    score: float  # percent, 2 decimals
    passed: bool


def score_answers(
    keys: Iterable[tuple[str, Iterable[str]]],
    answers: Mapping[str, Iterable[str]],
    *,
    pass_mark: float,
) -> QuizScore:
    """Score ``answers`` (question id -> chosen choice ids) against ``keys``: (question id,
    correct choice ids) for every question of the quiz, in its order."""
    marks = []
    for question_id, key in keys:
        chosen = tuple(sorted(set(answers.get(question_id, ()))))
        marks.append(QuestionMark(question_id, chosen, chosen == tuple(sorted(key))))
    correct = sum(m.correct for m in marks)
    total = len(marks)
    score = round(100.0 * correct / total, 2) if total else 0.0
    return QuizScore(tuple(marks), correct, total, score, score >= pass_mark)
