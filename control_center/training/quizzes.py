"""Quiz attempts: a seeded shuffle per attempt, the attempt limit, exact-match scoring.

Scoring is the rule kiosks apply offline too (``protocol.quiz_scoring``): a question scores 1
when the chosen set equals the answer key exactly (for multiple choice too: no partial credit),
else 0; the score is the percentage of questions scored and the attempt passes when the score
reaches the quiz's pass mark. Every attempt is kept.
"""

from __future__ import annotations

import json
import random
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from control_center.errors import Conflict, InvalidInput, NotFound
from control_center.models import Attempt, Officer, Quiz
from protocol.quiz_scoring import QuizScore, score_answers


@dataclass(frozen=True, slots=True)
class ShownQuestion:
    key: str
    kind: str
    text: str
    choices: list[tuple[str, str]]  # in the attempt's order


@dataclass(frozen=True, slots=True)
class Marked:
    key: str
    text: str
    chosen: list[str]
    answer: list[str]
    correct: bool
    explanation: str
    choices: dict[str, str]


def get_quiz(session: Session, *, quiz_id: int) -> Quiz:
    quiz = session.get(Quiz, quiz_id)
    if quiz is None:
        raise NotFound(f"quiz {quiz_id} does not exist")
    return quiz


def get_attempt(session: Session, *, attempt_id: int, officer: Officer) -> Attempt:
    attempt = session.get(Attempt, attempt_id)
    if attempt is None or attempt.officer_id != officer.id:
        raise NotFound(f"attempt {attempt_id} does not exist")
    return attempt


def shown_questions(quiz: Quiz, attempt: Attempt) -> list[ShownQuestion]:
    """The questions and their choices in the order fixed by the attempt's seed."""
    rng = random.Random(attempt.seed)
    questions = list(quiz.questions)
    if quiz.shuffle:
        rng.shuffle(questions)
    shown = []
    for q in questions:
        choices = [(c, t) for c, t in json.loads(q.choices_json)]
        if quiz.shuffle:
            rng.shuffle(choices)
        shown.append(ShownQuestion(key=q.key, kind=q.kind.value, text=q.text, choices=choices))
    return shown


def attempts_of(session: Session, *, quiz_id: int, officer_id: int) -> list[Attempt]:
    return list(session.scalars(select(Attempt).where(
        Attempt.quiz_id == quiz_id, Attempt.officer_id == officer_id).order_by(Attempt.number)))


def start_attempt(session: Session, *, quiz: Quiz, officer: Officer, now: datetime,
                  seed: int | None = None) -> Attempt:
    """The open (unsubmitted) attempt if there is one, else a new one within the limit."""
    previous = attempts_of(session, quiz_id=quiz.id, officer_id=officer.id)
    open_ = [a for a in previous if a.submitted_at is None]
    if open_:
        return open_[0]
    if any(a.passed for a in previous):
        raise Conflict(f"quiz {quiz.id} already passed: no further attempt")
    if quiz.attempt_limit is not None and len(previous) >= quiz.attempt_limit:
        raise Conflict(f"attempt limit reached ({quiz.attempt_limit}) for quiz {quiz.id}")
    attempt = Attempt(quiz_id=quiz.id, officer_id=officer.id, number=len(previous) + 1,
                      seed=seed if seed is not None else secrets.randbelow(2**31),
                      started_at=now, total=len(quiz.questions))
    session.add(attempt)
    session.commit()
    return attempt


def score(quiz: Quiz, answers: dict[str, list[str]]) -> tuple[QuizScore, list[Marked]]:
    """The attempt's score, and each question marked with its key and explanation."""
    keys = [json.loads(q.answer_json) for q in quiz.questions]
    result = score_answers([(q.key, key) for q, key in zip(quiz.questions, keys, strict=True)],
                           answers, pass_mark=quiz.pass_mark)
    marked = [Marked(key=q.key, text=q.text, chosen=sorted(answers.get(q.key, [])), answer=key,
                     correct=m.correct, explanation=q.explanation,
                     choices=dict(json.loads(q.choices_json)))
              for q, key, m in zip(quiz.questions, keys, result.marks, strict=True)]
    return result, marked


def marked_answers(quiz: Quiz, attempt: Attempt) -> list[Marked]:
    given: dict[str, list[str]] = json.loads(attempt.answers_json or "{}")
    return score(quiz, given)[1]


def submit(session: Session, *, attempt: Attempt, answers: dict[str, list[str]],
           now: datetime) -> list[Marked]:
    if attempt.submitted_at is not None:
        raise Conflict(f"attempt {attempt.id} was already submitted")
    quiz = session.get(Quiz, attempt.quiz_id)
    assert quiz is not None
    keys = {q.key: q for q in quiz.questions}
    unknown = sorted(set(answers) - set(keys))
    if unknown:
        raise InvalidInput(f"unknown question(s) {unknown}")
    for key, chosen in answers.items():
        q = keys[key]
        ids = {c for c, _ in json.loads(q.choices_json)}
        if set(chosen) - ids:
            raise InvalidInput(f"question {key!r}: unknown choice(s) {sorted(set(chosen) - ids)}")
        if q.kind.value == "single" and len(chosen) > 1:
            raise InvalidInput(f"question {key!r} takes one choice")
    attempt.answers_json = json.dumps({k: sorted(v) for k, v in answers.items()})
    result, marked = score(quiz, answers)
    attempt.correct, attempt.total = result.correct, result.total
    attempt.score, attempt.passed = result.score, result.passed
    attempt.submitted_at = now
    session.commit()
    return marked


def attempts_left(session: Session, *, quiz: Quiz, officer: Officer) -> int | None:
    if quiz.attempt_limit is None:
        return None
    used = session.scalar(select(func.count()).select_from(Attempt).where(
        Attempt.quiz_id == quiz.id, Attempt.officer_id == officer.id)) or 0
    return max(quiz.attempt_limit - used, 0)
