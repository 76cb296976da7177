"""The one quiz-scoring rule (``protocol.quiz_scoring``) the center and kiosks both apply."""

from __future__ import annotations

import dataclasses

import pytest

from protocol.quiz_scoring import QuestionMark, QuizScore, score_answers

KEYS = [("q1", ["b"]), ("q2", ["a", "c"]), ("q3", ["d"])]


def test_a_quiz_without_questions_scores_zero_and_fails() -> None:
    result = score_answers([], {"stray": ["a"]}, pass_mark=50)
    assert result == QuizScore(marks=(), correct=0, total=0, score=0.0, passed=False)


def test_every_question_is_marked_in_the_quizs_order_and_unanswered_is_wrong() -> None:
    result = score_answers(KEYS, {"q3": ["d"], "q1": ["b"]}, pass_mark=60)
    assert result.marks == (QuestionMark("q1", ("b",), True), QuestionMark("q2", (), False),
                            QuestionMark("q3", ("d",), True))
    assert (result.correct, result.total, result.score, result.passed) == (2, 3, 66.67, True)


def test_multiple_choice_ignores_order_and_duplicates_but_gives_no_partial_credit() -> None:
    answers = {"q2": ["c", "a", "c"]}
    assert score_answers(KEYS, answers, pass_mark=50).marks[1] == QuestionMark(
        "q2", ("a", "c"), True)
    assert not score_answers(KEYS, {"q2": ["a"]}, pass_mark=50).marks[1].correct
    assert not score_answers(KEYS, {"q2": ["a", "b", "c"]}, pass_mark=50).marks[1].correct
    unsorted_key = score_answers([("q", ("c", "a"))], {"q": ["a", "c"]}, pass_mark=100)
    assert unsorted_key.passed and unsorted_key.score == 100.0


@pytest.mark.parametrize(("pass_mark", "passed"), [(66.67, True), (66.68, False), (67, False)])
def test_the_pass_mark_is_compared_with_the_rounded_score(pass_mark: float,
                                                          passed: bool) -> None:
    result = score_answers(KEYS, {"q1": ["b"], "q2": ["a", "c"]}, pass_mark=pass_mark)
    assert (result.score, result.passed) == (66.67, passed)


def test_answers_to_questions_outside_the_key_are_ignored() -> None:
    result = score_answers([("q1", ["b"])], {"q1": ["b"], "q9": ["a"]}, pass_mark=100)
    assert [m.question_id for m in result.marks] == ["q1"] and result.passed


def test_the_result_is_frozen() -> None:
    result = score_answers(KEYS, {}, pass_mark=50)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.score = 100.0  # type: ignore[misc]
