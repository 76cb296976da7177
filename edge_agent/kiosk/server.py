"""The kiosk's local web UI (Starlette + Jinja2), served by uvicorn in a thread.

Server-rendered pages with large touch targets, Vietnamese first with English below; no
script or font comes from the internet. The only script, ``static/voice.js``, polls the local
partial transcript on the voice page (the page also refreshes itself without it). One guard
(``web_guard.WebGuard``) checks the Host and the origin of POSTs and sets the security headers.
"""

from __future__ import annotations

import logging
import random
import re
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from edge_agent.agent import Agent
from edge_agent.clock import Clock, SystemClock
from edge_agent.hardware import Microphone
from edge_agent.housekeeper import DAY_S
from edge_agent.kiosk.config import KioskConfig
from edge_agent.kiosk.desk import FeedbackDesk, RateLimited
from edge_agent.kiosk.lesson_html import clean_lesson_html
from edge_agent.kiosk.notices import current_notices
from edge_agent.kiosk.surveys import SurveyPages
from edge_agent.kiosk.training import TrainingShelf
from edge_agent.kiosk.voice import VoiceInput
from edge_agent.kiosk.web_guard import WebGuard, allowed_names
from edge_agent.speech.config import SpeechConfig
from edge_agent.speech.errors import OutOfVocabulary
from edge_agent.speech.model import Grammar, SpeechModel
from edge_agent.speech.status import model_status
from protocol.feedback import FeedbackCategory, FeedbackChannel
from protocol.lesson_content import is_lesson_media
from protocol.training import OFFICER_CODE_PATTERN
from protocol.web_headers import FILE_POLICY

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"

# Offered until the center's first manifest arrives (a kiosk must work from first boot).
FALLBACK_CATEGORIES = (
    FeedbackCategory(code="road", name_vi="Đường sá, cầu cống", name_en="Roads and bridges"),
    FeedbackCategory(code="power", name_vi="Điện", name_en="Electricity"),
    FeedbackCategory(code="water", name_vi="Nước sạch", name_en="Clean water"),
    FeedbackCategory(code="other", name_vi="Khác", name_en="Other"),
)


class Kiosk:
    """The UI of one kiosk agent; ``start()`` returns once the port accepts connections."""

    def __init__(self, agent: Agent, config: KioskConfig, speech: SpeechConfig,
                 microphone: Microphone | None = None, *, model: SpeechModel | None = None,
                 clock: Clock | None = None) -> None:
        self.agent = agent
        self.config = config
        self.speech = speech
        self.desk = FeedbackDesk(
            device_id=agent.device_id, data_dir=agent.config.data_dir / "kiosk",
            outbox=agent.outbox, clock=clock or SystemClock(),
            max_per_hour=config.max_submissions_per_hour,
        )
        agent.housekeeper.add_chore("recordings", lambda: self.desk.prune_recordings(
            config.keep_recordings_days * DAY_S))
        self.training = TrainingShelf(agent, clock or SystemClock())
        self._clock = clock or SystemClock()
        self.voice = VoiceInput(speech, microphone, model)
        if speech.model_path is not None:
            failed = None if self.voice.model else self.voice.state().message
            agent.speech_model = model_status(speech.model_path, load_error=failed)
        self.grammar_error = ""
        self.answer_grammar: Grammar | None = None
        if self.voice.model is not None:
            try:  # checked at configuration time: a missing word is reported, never dropped
                self.answer_grammar = self.voice.model.grammar(config.answer_phrases)
            except OutOfVocabulary as exc:
                self.grammar_error = str(exc)
                log.error("kiosk answer phrases: %s", exc)
        self._templates = Jinja2Templates(directory=str(TEMPLATES))
        self.surveys = SurveyPages(self, self._clock)
        self.app = Starlette(routes=[
            Route("/", self.home), Route("/status", self.status),
            Route("/feedback", self.categories), Route("/feedback/describe", self.describe),
            Route("/feedback/review", self.review, methods=["POST"]),
            Route("/feedback/submit", self.submit, methods=["POST"]),
            Route("/feedback/done/{ref}", self.done), Route("/lookup", self.lookup),
            Route("/voice", self.voice_page), Route("/voice/start", self.voice_start,
                                                    methods=["POST"]),
            Route("/voice/stop", self.voice_stop, methods=["POST"]),
            Route("/voice/state", self.voice_state), *self.surveys.routes(),
            Route("/training", self.training_list), Route("/training/{sha}", self.course),
            Route("/training/{sha}/lesson/{n:int}", self.lesson),
            Route("/training/{sha}/media/{name}", self.training_media),
            Route("/training/{sha}/quiz/{quiz_id:int}", self.quiz, methods=["GET", "POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ], middleware=[Middleware(WebGuard, names=allowed_names(config.host,
                                                                config.server_names))])
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.url = ""

    # lifecycle -----------------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> None:
        self.training.start()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.config.host, self.config.port))
        self._sock = sock
        self.url = f"http://{self.config.host}:{sock.getsockname()[1]}"
        server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", access_log=False,
                                               lifespan="off"))
        self._server = server
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                        name="kiosk-ui", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the kiosk UI did not start on {self.url}")
            time.sleep(0.02)
        log.info("kiosk UI on %s", self.url)

    def stop(self) -> None:
        self.voice.stop()
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()
        self.desk.close()
        self.training.stop()

    # helpers -------------------------------------------------------------------------------
    def _categories(self) -> tuple[FeedbackCategory, ...]:
        manifest = self.agent.manifest
        if manifest is not None and manifest.feedback_categories:
            return manifest.feedback_categories
        return FALLBACK_CATEGORIES

    def _category(self, code: str) -> FeedbackCategory | None:
        return next((c for c in self._categories() if c.code == code), None)

    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        return self._templates.TemplateResponse(request, name, context, status_code=status)

    # pages ---------------------------------------------------------------------------------
    async def home(self, request: Request) -> Response:
        manifest = self.agent.manifest
        lateness = timedelta(seconds=self.agent.config.player.max_lateness_s)
        bulletins = current_notices(manifest.items, now=self._clock.now(),
                                    lateness=lateness) if manifest else []
        answers = list(manifest.answers) if manifest else []
        names = {c.code: c for c in self._categories()}
        return self.page(request, "home.html", bulletins=bulletins, answers=answers,
                         names=names, asking=self.surveys.open_questions(request)[:1])

    async def categories(self, request: Request) -> Response:
        return self.page(request, "categories.html", categories=self._categories())

    async def describe(self, request: Request) -> Response:
        q = request.query_params
        category = self._category(q.get("category", ""))
        if category is None:
            return RedirectResponse("/feedback", status_code=303)
        return self.page(request, "describe.html", category=category, text=q.get("text", ""),
                          channel=q.get("channel", "touch"), voice=self.voice.state(),
                          voice_error=self.grammar_error)

    async def review(self, request: Request) -> Response:
        form = await request.form()
        values = {k: str(form.get(k, "")) for k in ("category", "text", "channel", "phone")}
        values["consent"] = "1" if form.get("consent") else ""
        values["audio_consent"] = "1" if form.get("audio_consent") else ""
        category = self._category(values["category"])
        if category is None:
            return RedirectResponse("/feedback", status_code=303)
        error = ""
        if not values["text"].strip():
            error = "Xin nhập nội dung. / Please describe the problem."
        elif values["phone"] and not values["consent"]:
            error = ("Xin đánh dấu đồng ý để chúng tôi gọi lại, hoặc xoá số điện thoại. / "
                     "Tick the consent box or remove the phone number.")
        if error:
            return self.page(request, "describe.html", status=422, category=category,
                              text=values["text"], channel=values["channel"],
                              voice=self.voice.state(), voice_error=error)
        return self.page(request, "review.html", category=category, v=values,
                          back="/feedback/describe?" + urlencode(
                              {"category": category.code, "text": values["text"],
                               "channel": values["channel"]}))

    async def submit(self, request: Request) -> Response:
        form = await request.form()
        category = self._category(str(form.get("category", "")))
        text = str(form.get("text", "")).strip()
        if category is None or not text:
            return RedirectResponse("/feedback", status_code=303)
        voice = str(form.get("channel", "")) == FeedbackChannel.VOICE.value
        try:
            code = self.desk.submit(
                category=category.code, text=text,
                channel=FeedbackChannel.VOICE if voice else FeedbackChannel.TOUCH,
                phone=str(form.get("phone", "")).strip() or None,
                contact_consent=bool(form.get("consent")),
                audio=self.voice.audio if voice else None,
                audio_consent=bool(form.get("audio_consent")),
                sample_rate=self.speech.sample_rate,
            )
        except RateLimited:
            return self.page(request, "busy.html", status=429)
        finally:
            self.voice.audio = None  # the recording is dropped unless it was kept with consent
        return RedirectResponse(f"/feedback/done/{code}", status_code=303)

    async def done(self, request: Request) -> Response:
        ref = request.path_params["ref"]
        return self.page(request, "done.html", ref=ref,
                          pending=self.agent.outbox.pending() > 0)

    async def lookup(self, request: Request) -> Response:
        ref = request.query_params.get("ref", "").strip().upper()
        submission = self.desk.find(ref) if ref else None
        manifest = self.agent.manifest
        # the center suffixes a code two kiosks happened to draw alike ("ABC234-1F2E")
        answer = next((a for a in manifest.answers
                       if a.ref_code == ref or a.ref_code.startswith(ref + "-")), None) \
            if manifest and ref else None
        return self.page(request, "lookup.html", ref=ref, submission=submission, answer=answer)

    async def voice_page(self, request: Request) -> Response:
        category = self._category(request.query_params.get("category", ""))
        if category is None:
            return RedirectResponse("/feedback", status_code=303)
        state = self.voice.state()
        if state.done and not state.recording:
            return RedirectResponse("/feedback/describe?" + urlencode(
                {"category": category.code, "text": state.text, "channel": "voice"}),
                status_code=303)
        return self.page(request, "voice.html", category=category, voice=state)

    async def voice_start(self, request: Request) -> Response:
        form = await request.form()
        category = str(form.get("category", ""))
        # mode=answer: a short answer restricted to the configured phrases (yes/no)
        answer = form.get("mode") == "answer" and self.answer_grammar is not None
        session = self.voice.start(self.answer_grammar if answer else None)
        question = str(form.get("question", ""))
        if answer and question.isdigit():  # a "Did you hear it?" question answered by voice
            return RedirectResponse(f"/survey/{question}/listen?session={session}",
                                    status_code=303)
        return RedirectResponse("/voice?" + urlencode({"category": category}), status_code=303)

    async def voice_stop(self, request: Request) -> Response:
        form = await request.form()
        self.voice.stop()
        return RedirectResponse("/voice?" + urlencode({"category": str(form.get("category"))}),
                                status_code=303)

    async def voice_state(self, request: Request) -> Response:
        s = self.voice.state()
        return JSONResponse({"available": s.available, "message": s.message,
                             "recording": s.recording, "partial": s.partial, "text": s.text,
                             "done": s.done, "ended_by": s.ended_by, "session": s.session})

    async def status(self, request: Request) -> Response:
        """For the agent's operators: manifest, outbox and whether voice works (and why not)."""
        manifest = self.agent.manifest
        s = self.voice.state()
        return JSONResponse({
            "device_id": self.agent.device_id,
            "manifest_version": manifest.version if manifest else None,
            "outbox_pending": self.agent.outbox.pending(),
            "training": {"ready": [m.ref.sha256 for m in self.training.modules()],
                         "errors": dict(self.training.errors)},
            "voice": {"available": s.available, "message": s.message or self.grammar_error},
        })

    # training ------------------------------------------------------------------------------
    async def training_list(self, request: Request) -> Response:
        ready = {m.ref.sha256 for m in self.training.modules()}
        return self.page(request, "training_list.html", listed=self.training.listed(),
                          ready=ready)

    async def course(self, request: Request) -> Response:
        module = self.training.module(request.path_params["sha"])
        if module is None:
            return self.page(request, "training_missing.html", status=404)
        return self.page(request, "training_course.html", m=module)

    async def lesson(self, request: Request) -> Response:
        module = self.training.module(request.path_params["sha"])
        n = request.path_params["n"]
        lesson = next((x for x in module.doc.lessons if x.n == n), None) if module else None
        if module is None or lesson is None:
            return self.page(request, "training_missing.html", status=404)
        following = next((x for x in module.doc.lessons if x.n == n + 1), None)
        body = clean_lesson_html(lesson.html, base=f"/training/{module.ref.sha256}/")
        return self.page(request, "training_lesson.html", m=module, lesson=lesson, body=body,
                          following=following)

    async def training_media(self, request: Request) -> Response:
        name = request.path_params["name"]
        found = self.training.media(request.path_params["sha"], name)
        if found is None:
            return Response("not found", status_code=404)
        data, mime = found
        if not is_lesson_media(mime, data):  # pictures and sounds only, never SVG or HTML
            return Response("Không phải ảnh hay âm thanh. / Not a picture or sound.",
                            status_code=415)
        return Response(data, media_type=mime, headers={
            "Cache-Control": "max-age=31536000, immutable",
            "Content-Disposition": f'inline; filename="{name}"',
            "Content-Security-Policy": FILE_POLICY})

    async def quiz(self, request: Request) -> Response:
        module = self.training.module(request.path_params["sha"])
        quiz = module.quiz(request.path_params["quiz_id"]) if module else None
        if module is None or quiz is None:
            return self.page(request, "training_missing.html", status=404)
        questions = list(quiz.questions)
        if request.method == "GET":
            order = random.Random()
            if quiz.shuffle:
                order.shuffle(questions)
            shown = [(q, order.sample(q.choices, len(q.choices)) if quiz.shuffle
                      else list(q.choices)) for q in questions]
            return self.page(request, "training_quiz.html", m=module, quiz=quiz, shown=shown,
                              code="", error="")
        form = await request.form()
        code = str(form.get("officer_code", "")).strip()
        answers: dict[str, list[str]] = {}
        for q in questions:
            ids = {c for c, _ in q.choices}
            chosen = [str(v) for v in form.getlist(f"q:{q.id}") if str(v) in ids]
            answers[q.id] = chosen[:1] if q.kind == "single" else chosen
        if not module.ref.public and not re.fullmatch(OFFICER_CODE_PATTERN, code):
            shown = [(q, list(q.choices)) for q in questions]
            return self.page(request, "training_quiz.html", status=422, m=module, quiz=quiz,
                              shown=shown, code=code, answers=answers,
                              error="Hãy nhập mã cán bộ (3–32 chữ, số, dấu -).")
        scored = self.training.submit(module, quiz, answers, code or None)
        return self.page(request, "training_result.html", m=module, quiz=quiz, scored=scored,
                          pending=self.agent.outbox.pending() > 0)
