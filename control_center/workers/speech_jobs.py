"""Speech synthesis as a job, never inside a request.

``POST /media/speech`` answers at once with a job; a worker thread speaks the text with the
center's TTS and stores the speech through ``MediaIntake`` (which queues it on the media
worker). A job is ``pending`` until its media is ready (``done``, with the sha256) or it fails
(``failed``, with the reason). Jobs live in memory for ``KEEP``: a restarted center forgets
them (post the text again: the same text gives the same media).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from control_center.core.actor import Actor
from control_center.errors import CenterError, Conflict, NotFound
from control_center.models import MediaAsset, MediaState
from control_center.schemas.content import SpeechState
from control_center.services.media_intake import MediaIntake

log = logging.getLogger(__name__)

KEEP = timedelta(hours=1)
"""How long a finished job can still be read."""
MAX_SPEAKING = 5
"""Jobs one caller may have waiting for synthesis at once (more answers 409)."""


@dataclass(frozen=True, slots=True)
class SpeechJob:
    """One text to speak: whose, and what came of it so far."""

    id: str
    owner: str
    created_at: datetime
    sha256: str | None = None  # the stored speech (still processing until the asset is ready)
    error: str | None = None  # synthesis or storing failed

    @property
    def speaking(self) -> bool:
        return self.sha256 is None and self.error is None

    def state(self, asset: MediaAsset | None) -> tuple[SpeechState, str | None]:
        """(state, reason) given the job's asset as it is now."""
        if self.error is not None:
            return SpeechState.FAILED, self.error
        if self.sha256 is None or asset is None or asset.state == MediaState.PROCESSING:
            return SpeechState.PENDING, None
        if asset.state == MediaState.FAILED:
            return SpeechState.FAILED, asset.error
        return SpeechState.DONE, None


class SpeechJobs:
    """A synthesis thread and the jobs of the last ``KEEP``; ``submit`` queues a text."""

    def __init__(
        self, *, intake: MediaIntake, sessions: sessionmaker[Session],
        clock: Callable[[], datetime], threads: int = 1,
    ) -> None:
        self._intake, self._sessions, self._clock = intake, sessions, clock
        self._threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self._jobs: dict[str, SpeechJob] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="speech")

    def stop(self) -> None:
        """Drop queued texts; a synthesis under way finishes."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def submit(self, *, text: str, name: str, actor: Actor) -> SpeechJob:
        """Queue ``text`` (stored as media named ``name``) for ``actor``; the new job."""
        if self._pool is None:
            raise RuntimeError("the speech worker is not running")
        now = self._clock()
        job = SpeechJob(id=uuid.uuid4().hex, owner=actor.name, created_at=now)
        with self._lock:
            self._forget_before(now - KEEP)
            speaking = sum(1 for j in self._jobs.values() if j.owner == actor.name and j.speaking)
            if speaking >= MAX_SPEAKING:
                raise Conflict(f"{speaking} speech jobs of yours are still being spoken: poll "
                               "them (GET /media/speech/{job}) and try again when they are done")
            self._jobs[job.id] = job
        self._pool.submit(self._run, job.id, text, name, actor)
        return job

    def get(self, job_id: str, *, actor: Actor) -> SpeechJob:
        """The job (404 when unknown, forgotten, or another caller's)."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.owner != actor.name:
            raise NotFound(f"speech job {job_id} does not exist (jobs are kept "
                           f"{int(KEEP.total_seconds() // 60)} minutes)")
        return job

    def _run(self, job_id: str, text: str, name: str, actor: Actor) -> None:
        try:
            sink = self._intake.speech(text)
            with self._sessions() as session:
                received = self._intake.receive(session, sink=sink, name=name, actor=actor,
                                                now=self._clock())
        except CenterError as exc:
            log.warning("speech job %s failed: %s", job_id, exc)
            self._update(job_id, error=str(exc))
        except Exception as exc:
            log.exception("speech job %s crashed", job_id)
            self._update(job_id, error=f"internal error while speaking: {exc}")
        else:
            self._update(job_id, sha256=received.sha256)

    def _update(self, job_id: str, *, sha256: str | None = None,
                error: str | None = None) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                self._jobs[job_id] = replace(job, sha256=sha256, error=error)

    def _forget_before(self, cutoff: datetime) -> None:
        for job_id in [j.id for j in self._jobs.values()
                       if j.created_at < cutoff and not j.speaking]:
            del self._jobs[job_id]
