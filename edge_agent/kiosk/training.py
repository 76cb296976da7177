"""Offline training modules on a kiosk: the bundles its manifest lists, fetched by hash and
verified like media, and the quizzes taken here, scored here and queued in the outbox.

Bundles live in ``<data>/kiosk/training/<sha256>`` with a cache index of their own, so the
player's media eviction never touches them.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from edge_agent.agent import Agent
from edge_agent.clock import Clock
from edge_agent.errors import DownloadError
from edge_agent.media_cache import MediaCache
from edge_agent.store import LocalStore
from protocol.quiz_scoring import score_answers
from protocol.topics import Channel, device_topic
from protocol.training import (
    BundleDocument,
    BundleQuestion,
    BundleQuiz,
    QuizAttemptSubmitted,
    TrainingBundleRef,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Module:
    """A downloaded, verified bundle and its parsed document."""

    ref: TrainingBundleRef
    doc: BundleDocument

    def quiz(self, quiz_id: int) -> BundleQuiz | None:
        return next((q for q in self.doc.quizzes if q.id == quiz_id), None)


@dataclass(frozen=True, slots=True)
class MarkedQuestion:
    question: BundleQuestion
    chosen: tuple[str, ...]
    correct: bool


@dataclass(frozen=True, slots=True)
class Scored:
    correct: int
    total: int
    score: float
    passed: bool
    marked: tuple[MarkedQuestion, ...]


def score_quiz(quiz: BundleQuiz, answers: Mapping[str, Sequence[str]]) -> Scored:
    """Scored by the center's rule (``protocol.quiz_scoring``), each mark beside its question
    for the result page."""
    result = score_answers([(q.id, q.answer) for q in quiz.questions], answers,
                           pass_mark=quiz.pass_mark)
    marked = tuple(MarkedQuestion(q, m.chosen, m.correct)
                   for q, m in zip(quiz.questions, result.marks, strict=True))
    return Scored(result.correct, result.total, result.score, result.passed, marked)


class TrainingShelf:
    """Keeps the bundles of the current manifest on disk and records attempts."""

    def __init__(self, agent: Agent, clock: Clock, *, recheck_s: float = 5.0) -> None:
        self._agent = agent
        self._clock = clock
        self._recheck_s = recheck_s
        root = agent.config.data_dir / "kiosk" / "training"
        self._store = LocalStore(root.parent / "training.sqlite3")
        self.cache = MediaCache(root, self._store, agent.config.cache)
        self._topic = device_topic(agent.device_id, Channel.EVENT)
        self._lock = threading.Lock()
        self._modules: dict[str, Module] = {}
        self.errors: dict[str, str] = {}  # sha256 -> why it is not available yet
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kiosk-training", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._agent.manifest_changed:
            self._agent.manifest_changed.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.cache.close()
        self._store.close()

    # -- bundles ----------------------------------------------------------------------------
    def listed(self) -> tuple[TrainingBundleRef, ...]:
        manifest = self._agent.manifest
        return manifest.training_bundles if manifest is not None else ()

    def modules(self) -> list[Module]:
        """The listed bundles that are on disk and verified, in manifest order."""
        with self._lock:
            return [self._modules[r.sha256] for r in self.listed() if r.sha256 in self._modules]

    def module(self, sha256: str) -> Module | None:
        with self._lock:
            return self._modules.get(sha256)

    def media(self, sha256: str, name: str) -> tuple[bytes, str] | None:
        module = self.module(sha256)
        if module is None or name not in module.doc.media:
            return None
        with zipfile.ZipFile(self.cache.path_for(sha256)) as archive:
            return archive.read(f"media/{name}"), module.doc.media[name]

    def sync_once(self) -> None:
        """Fetch and load every listed bundle not loaded yet (failures are retried later)."""
        for ref in self.listed():
            if self._stop.is_set():
                return
            if self.module(ref.sha256) is not None:
                continue
            try:
                if not self.cache.has(ref.sha256):
                    self.cache.fetch(ref, self._stop)
                module = Module(ref, self._open(ref))
            except (DownloadError, OSError, zipfile.BadZipFile, ValidationError,
                    ValueError) as exc:
                self.errors[ref.sha256] = f"{type(exc).__name__}: {exc}"
                log.warning("training bundle %s not available: %s", ref.sha256[:12], exc)
                continue
            with self._lock:
                self._modules[ref.sha256] = module
            self.errors.pop(ref.sha256, None)
            self.cache.touch(ref.sha256)
            log.info("training bundle %s (%s v%d) ready", ref.sha256[:12], ref.course_code,
                     ref.version)

    def _open(self, ref: TrainingBundleRef) -> BundleDocument:
        with zipfile.ZipFile(self.cache.path_for(ref.sha256)) as archive:
            raw = json.loads(archive.read("bundle.json"))
        return BundleDocument.model_validate(raw)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sync_once()
            with self._agent.manifest_changed:  # a new manifest, or a periodic retry
                if self._stop.is_set():
                    return
                self._agent.manifest_changed.wait(timeout=self._recheck_s)

    # -- attempts ---------------------------------------------------------------------------
    def submit(self, module: Module, quiz: BundleQuiz, answers: Mapping[str, Sequence[str]],
               officer_code: str | None) -> Scored:
        """Score here and queue the attempt (durable before the score is shown)."""
        scored = score_quiz(quiz, answers)
        event = QuizAttemptSubmitted(
            event_id=uuid.uuid4().hex, device_id=self._agent.device_id, at=self._clock.now(),
            bundle_sha256=module.ref.sha256, course_code=module.doc.course.code,
            quiz_id=quiz.id, officer_code=None if module.ref.public else officer_code,
            answers={m.question.id: m.chosen for m in scored.marked if m.chosen},
            correct=scored.correct, total=scored.total, score=scored.score,
            passed=scored.passed,
        )
        self._agent.outbox.add(self._topic, event)
        return scored
