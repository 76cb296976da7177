"""Console: mark a bulletin for "Bạn có nghe thấy không? / Did you hear it?" and stop it.

The form takes up to three questions (yes/no, or a choice of 2-4 labels separated by ";")
and the period in days; the same service as the API (``feedback.surveys``) checks the rest.
The counts per unit show on the bulletin's page (``survey_view``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response
from pydantic import ValidationError

from control_center.errors import CenterError
from control_center.feedback import surveys
from control_center.feedback.survey_schemas import SurveyIn
from control_center.web.console.bulletins import detail_page
from control_center.web.console.common import PREFIX, ConsoleDep, FormState, redirect

router = APIRouter(prefix=PREFIX, include_in_schema=False)
FormText = Annotated[str, Form()]
SLOTS = (1, 2, 3)


def _questions(form: FormState) -> list[dict[str, Any]]:
    """The filled question rows of the form, as the API takes them."""
    found: list[dict[str, Any]] = []
    for n in SLOTS:
        text = form.values.get(f"q{n}", "").strip()
        if not text:
            continue
        question: dict[str, Any] = {"text": text, "kind": form.values.get(f"kind{n}", "yes_no")}
        if question["kind"] == "choice":
            question["choices"] = [c.strip() for c in form.values.get(f"choices{n}", "")
                                   .split(";") if c.strip()]
        found.append(question)
    return found


def _message(exc: ValidationError) -> str:
    return "; ".join(str(e.get("msg", "")).removeprefix("Value error, ")
                     for e in exc.errors()) or str(exc)


@router.post("/bulletins/{bulletin_id}/survey")
def mark_survey(
    ctx: ConsoleDep, bulletin_id: int, csrf: FormText = "", q1: FormText = "",
    kind1: FormText = "yes_no", choices1: FormText = "", q2: FormText = "",
    kind2: FormText = "yes_no", choices2: FormText = "", q3: FormText = "",
    kind3: FormText = "yes_no", choices3: FormText = "", days: FormText = "7",
) -> Response:
    """Ask (or change) the questions; 1-3 questions, for ``days`` from now."""
    ctx.check_csrf(csrf)
    form = FormState(values={"q1": q1, "kind1": kind1, "choices1": choices1, "q2": q2,
                             "kind2": kind2, "choices2": choices2, "q3": q3, "kind3": kind3,
                             "choices3": choices3, "days": days})
    try:
        data = SurveyIn.model_validate({"days": int(days) if days.strip().isdigit() else 0,
                                        "questions": _questions(form)})
    except ValidationError as exc:
        form.error("_form", "Câu hỏi chưa hợp lệ / the questions are not valid: "
                   + _message(exc))
        return detail_page(ctx, bulletin_id, forms={"survey": form}, status_code=422)
    with ctx.center.sessions() as session:
        try:
            surveys.set_survey(session, bulletin_id=bulletin_id, data=data, actor=ctx.actor,
                               now=ctx.center.clock())
        except CenterError as exc:
            session.rollback()
            form.error("_form", str(exc))
            return detail_page(ctx, bulletin_id, forms={"survey": form},
                               status_code=exc.status_code)
    return redirect(f"{PREFIX}/bulletins/{bulletin_id}?done=survey")


@router.post("/bulletins/{bulletin_id}/survey/stop")
def stop_survey(ctx: ConsoleDep, bulletin_id: int, csrf: FormText = "") -> Response:
    """Stop asking now; the answers stay counted."""
    ctx.check_csrf(csrf)
    with ctx.center.sessions() as session:
        try:
            surveys.stop_survey(session, bulletin_id=bulletin_id, actor=ctx.actor,
                                now=ctx.center.clock())
        except CenterError as exc:
            session.rollback()
            form = FormState()
            form.error("_form", str(exc))
            return detail_page(ctx, bulletin_id, forms={"survey": form},
                               status_code=exc.status_code)
    return redirect(f"{PREFIX}/bulletins/{bulletin_id}?done=survey_stopped")
