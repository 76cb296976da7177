""""Did you hear it?" (Bạn có nghe thấy không?): the kiosk asks passers-by about a bulletin.

The questions come in the manifest (``Manifest.surveys``) and are asked until their
``ends_at``. One passer-by answers a set (each open question once, then a thank-you): a
cookie lists the questions this browser answered in the last ``SET_S`` seconds, so the same
person is not asked again while the next one, later, is. A yes/no question can be answered
by voice with the kiosk's yes/no grammar (``POST /voice/start`` with ``mode=answer``). Each
answer is an event in the agent's outbox, durable before the next page is shown.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from edge_agent.clock import Clock
from edge_agent.outbox import Outbox
from protocol.feedback import FeedbackChannel, Survey, SurveyAnswered, SurveyKind, SurveyQuestion
from protocol.topics import Channel, device_topic

if TYPE_CHECKING:
    from edge_agent.kiosk.server import Kiosk

COOKIE = "tt_survey"
SET_S = 180  # one passer-by's set of answers: questions answered this recently are not asked


@dataclass(frozen=True, slots=True)
class OpenQuestion:
    survey: Survey
    question: SurveyQuestion


class SurveyDesk:
    """Queues answers in the agent's outbox (the center counts each event id once)."""

    def __init__(self, *, device_id: str, outbox: Outbox, clock: Clock) -> None:
        self._device_id = device_id
        self._outbox = outbox
        self._clock = clock
        self._topic = device_topic(device_id, Channel.EVENT)

    def answer(self, question_id: int, choice: int, channel: FeedbackChannel) -> SurveyAnswered:
        event = SurveyAnswered(event_id=uuid.uuid4().hex, device_id=self._device_id,
                               at=self._clock.now(), question_id=question_id, choice=choice,
                               channel=channel)
        self._outbox.add(self._topic, event)  # durable before the next page is shown
        return event


def answered(request: Request) -> set[int]:
    """The question ids this browser answered in its current set (from the cookie)."""
    raw = request.cookies.get(COOKIE, "")
    return {int(part) for part in raw.split(".") if part.isdigit() and len(part) < 12}


class SurveyPages:
    """The pages under ``/survey``, mounted by the kiosk's server."""

    def __init__(self, kiosk: Kiosk, clock: Clock) -> None:
        self._kiosk = kiosk
        self._clock = clock
        self.desk = SurveyDesk(device_id=kiosk.agent.device_id, outbox=kiosk.agent.outbox,
                               clock=clock)

    def routes(self) -> list[Route]:
        return [
            Route("/survey", self.start), Route("/survey/thanks", self.thanks),
            Route("/survey/{question_id:int}", self.question, methods=["GET", "POST"]),
            Route("/survey/{question_id:int}/listen", self.listen),
            Route("/survey/{question_id:int}/stop", self.stop, methods=["POST"]),
        ]

    def open_questions(self, request: Request) -> list[OpenQuestion]:
        """The questions asked now that this browser has not answered in its set."""
        manifest = self._kiosk.agent.manifest
        if manifest is None:
            return []
        now, done = self._clock.now(), answered(request)
        return [OpenQuestion(s, q) for s in manifest.surveys if s.ends_at > now
                for q in s.questions if q.question_id not in done]

    def _find(self, question_id: int) -> OpenQuestion | None:
        manifest = self._kiosk.agent.manifest
        now = self._clock.now()
        return next((OpenQuestion(s, q) for s in (manifest.surveys if manifest else ())
                     if s.ends_at > now for q in s.questions if q.question_id == question_id),
                    None)

    def voice_ready(self, asked: OpenQuestion) -> bool:
        kiosk = self._kiosk
        return (asked.question.kind == SurveyKind.YES_NO and kiosk.answer_grammar is not None
                and kiosk.voice.state().available)

    def _next(self, request: Request, just_answered: int) -> Response:
        """After an answer: the next open question of the set, else the thank-you."""
        done = answered(request) | {just_answered}
        following = [o for o in self.open_questions(request)
                     if o.question.question_id not in done]
        target = f"/survey/{following[0].question.question_id}" if following \
            else "/survey/thanks"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, ".".join(str(i) for i in sorted(done)), max_age=SET_S,
                            httponly=True, samesite="strict")
        return response

    def _record(self, request: Request, asked: OpenQuestion, choice: int,
                channel: FeedbackChannel) -> Response:
        question = asked.question
        if question.question_id not in answered(request):  # a double tap counts once
            self.desk.answer(question.question_id, choice, channel)
        return self._next(request, question.question_id)

    # pages ---------------------------------------------------------------------------------
    async def start(self, request: Request) -> Response:
        waiting = self.open_questions(request)
        if not waiting:
            return RedirectResponse("/", status_code=303)
        return RedirectResponse(f"/survey/{waiting[0].question.question_id}", status_code=303)

    async def question(self, request: Request) -> Response:
        asked = self._find(request.path_params["question_id"])
        if asked is None:  # ended, or never asked here
            return RedirectResponse("/", status_code=303)
        if request.method == "POST":
            form = await request.form()
            raw = str(form.get("choice", ""))
            if raw.isdigit() and int(raw) < len(asked.question.choices):
                return self._record(request, asked, int(raw), FeedbackChannel.TOUCH)
            return self._page(request, asked, status=422,
                              error="Xin chọn một câu trả lời. / Please choose an answer.")
        return self._page(request, asked)

    def _page(self, request: Request, asked: OpenQuestion, status: int = 200,
              error: str = "") -> Response:
        total = sum(len(s.questions) for s in (self._kiosk.agent.manifest.surveys
                                               if self._kiosk.agent.manifest else ()))
        return self._kiosk.page(request, "survey.html", status=status, s=asked.survey,
                                q=asked.question, voice=self.voice_ready(asked), error=error,
                                total=total)

    async def listen(self, request: Request) -> Response:
        """While the passer-by speaks: the listening page; once done, the answer heard."""
        asked = self._find(request.path_params["question_id"])
        if asked is None:
            return RedirectResponse("/", status_code=303)
        state = self._kiosk.voice.state()
        if str(state.session) != request.query_params.get("session"):
            # not this answer's recording (voice unavailable, or another one under way)
            return self._page(request, asked, status=409, error=(
                "Chưa nghe được, xin chạm vào câu trả lời. / Voice is busy: please touch an "
                "answer."))
        if state.recording or not state.done:
            return self._kiosk.page(request, "survey_listen.html", q=asked.question,
                                    voice=state)
        phrases = self._kiosk.config.answer_phrases
        heard = state.text.strip()
        if heard in phrases[:2]:
            return self._record(request, asked, phrases.index(heard), FeedbackChannel.VOICE)
        return self._page(request, asked, status=422, error=(
            "Không nghe rõ, xin nói lại hoặc chạm vào câu trả lời. / Not understood: please "
            "speak again or touch an answer."))

    async def stop(self, request: Request) -> Response:
        self._kiosk.voice.stop()
        session = self._kiosk.voice.state().session
        return RedirectResponse(
            f"/survey/{request.path_params['question_id']}/listen?session={session}",
            status_code=303)

    async def thanks(self, request: Request) -> Response:
        return self._kiosk.page(request, "survey_thanks.html",
                                pending=self._kiosk.agent.outbox.pending() > 0)
