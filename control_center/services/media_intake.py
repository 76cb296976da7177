"""The one way media enters the center: an upload or synthesised speech is stored by its
SHA-256 and handed to the media worker. The API, the console's bulletin form and emergencies
all go through ``MediaIntake``; each decides only how long it waits and what it says."""

from __future__ import annotations

import contextlib
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy.orm import Session

from control_center.core.actor import Actor
from control_center.models import MediaAsset
from control_center.services import media_store
from media import PipelineConfig
from media.tts import TtsEngine


@dataclass(frozen=True, slots=True)
class Received:
    """A stored upload: its hash, whether this call created the asset, and the worker's job
    (the one already under way for the same bytes; None when they were processed before)."""

    sha256: str
    created: bool
    job: Future[None] | None


class MediaJobs(Protocol):
    """The media worker as the intake sees it: its current settings and its queue."""

    config: PipelineConfig
    tts: TtsEngine

    def submit(self, sha256: str) -> Future[None]: ...

    def running(self, sha256: str) -> Future[None] | None: ...


@dataclass(frozen=True, slots=True)
class MediaIntake:
    """What the upload paths use, built once by the runtime: where files go, the size cap and
    the media worker (whose pipeline settings and TTS engine apply)."""

    media_dir: Path
    max_upload_bytes: int
    jobs: MediaJobs

    def sink(self) -> media_store.UploadSink:
        """An empty upload, to be written chunk by chunk."""
        return media_store.UploadSink(media_dir=self.media_dir, max_bytes=self.max_upload_bytes)

    def speech(self, text: str) -> media_store.UploadSink:
        """``text`` spoken by the center's TTS, as a finished upload."""
        return media_store.synthesize(text=text, engine=self.jobs.tts, media_dir=self.media_dir,
                                      max_bytes=self.max_upload_bytes)

    def receive(
        self, session: Session, *, sink: media_store.UploadSink, name: str, actor: Actor,
        now: datetime,
    ) -> Received:
        """Store the finished upload (committed) and queue it when it needs processing."""
        stored = media_store.store_upload(
            session, sink=sink, original_name=name, media_dir=self.media_dir,
            config=self.jobs.config, actor=actor, now=now)
        sha = stored.asset.sha256
        # the same bytes already queued (e.g. the same text spoken twice): that job
        job = self.jobs.submit(sha) if stored.queued else self.jobs.running(sha)
        return Received(sha, stored.created, job)

    def receive_and_wait(
        self, session: Session, *, sink: media_store.UploadSink, name: str, actor: Actor,
        now: datetime, timeout_s: float,
    ) -> tuple[Received, MediaAsset]:
        """``receive``, then wait up to ``timeout_s`` for the worker; the asset as it is then
        (ready, failed, or still processing when the wait ran out)."""
        received = self.receive(session, sink=sink, name=name, actor=actor, now=now)
        if received.job is not None:
            session.commit()  # never wait inside a transaction: the worker writes the result
            with contextlib.suppress(TimeoutError):  # still processing: the caller says so
                received.job.result(timeout=timeout_s)
        session.expire_all()
        return received, media_store.get_asset(session, sha256=received.sha256)
