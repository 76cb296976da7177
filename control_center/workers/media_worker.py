"""Runs the media pipeline on uploads in worker threads, never in a request thread.

An upload is stored as ``processing``; the worker normalises and encodes it, records the
renditions and marks the asset ``ready``, or ``failed`` with the pipeline's message (the
original file is then removed: nothing half-made stays). Assets left ``processing`` by a
stopped center are queued again on start. Progress lives in memory (a fraction per asset).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from control_center.models import MediaAsset, MediaRendition, MediaState
from control_center.services.media_store import media_path, waveform_path
from media import MediaError, PipelineConfig
from media.pipeline import ProcessResult, process
from media.tts import TtsEngine, engine_from_env

log = logging.getLogger(__name__)


class _Stopped(Exception):
    """Raised from the progress callback to abandon a job when the center stops."""


class MediaWorker:
    """A small thread pool that owns the pipeline runs; ``submit`` queues an asset."""

    def __init__(
        self, *, sessions: sessionmaker[Session], media_dir: Path, config: PipelineConfig,
        clock: Callable[[], datetime], threads: int = 1, tts: TtsEngine | None = None,
    ) -> None:
        self._sessions, self._media_dir = sessions, media_dir
        self.tts = tts or engine_from_env()
        self.config, self._clock, self._threads = config, clock, threads
        self._pool: ThreadPoolExecutor | None = None
        self._progress: dict[str, float] = {}
        self._jobs: dict[str, Future[None]] = {}  # queued or running here, by asset
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def start(self, *, resume: bool = True) -> None:
        """Start the threads and (``resume``) queue whatever a previous run left processing."""
        self._stopping.clear()
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="media")
        if resume:
            self.resume()

    def resume(self) -> None:
        """Queue every asset left processing (by a stopped run, or a center process that
        died: in a center of several processes, the one elected for it does this)."""
        with self._sessions() as session:
            pending = list(session.scalars(
                select(MediaAsset.sha256).where(MediaAsset.state == MediaState.PROCESSING)))
        with self._lock:
            pending = [sha for sha in pending if sha not in self._progress]  # not ours now
        for sha in pending:
            log.info("media: resuming %s", sha)
            self.submit(sha)

    def stop(self) -> None:
        """Abandon running jobs (they stay ``processing`` and resume on the next start)."""
        self._stopping.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def submit(self, sha256: str) -> Future[None]:
        if self._pool is None:
            raise RuntimeError("the media worker is not running")
        with self._lock:
            self._progress[sha256] = 0.0
            job = self._jobs[sha256] = self._pool.submit(self._run, sha256)
        return job

    def running(self, sha256: str) -> Future[None] | None:
        """The job of an asset queued or being processed by this worker, else None."""
        with self._lock:
            return self._jobs.get(sha256)

    def progress(self, sha256: str) -> float | None:
        """The fraction done of an asset being processed by this worker, else None."""
        with self._lock:
            return self._progress.get(sha256)

    def _run(self, sha256: str) -> None:
        source = media_path(self._media_dir, sha256)
        try:
            result = process(source, self._media_dir, config=self.config,
                             waveform=waveform_path(self._media_dir, sha256),
                             progress=lambda f: self._report(sha256, f))
        except _Stopped:
            log.info("media: %s abandoned (center stopping)", sha256)
            return
        except MediaError as exc:
            self._fail(sha256, str(exc))
        except Exception as exc:
            log.exception("media: processing %s crashed", sha256)
            self._fail(sha256, f"internal error while processing: {exc}")
        else:
            self._ready(sha256, result)
        finally:
            with self._lock:
                self._progress.pop(sha256, None)
                self._jobs.pop(sha256, None)

    def _report(self, sha256: str, fraction: float) -> None:
        if self._stopping.is_set():
            raise _Stopped()
        with self._lock:
            self._progress[sha256] = round(fraction, 3)

    def _ready(self, sha256: str, result: ProcessResult) -> None:
        now = self._clock()
        with self._sessions() as session:
            asset = session.get(MediaAsset, sha256)
            if asset is None:
                return
            asset.renditions.clear()
            session.flush()
            for r in result.renditions:
                asset.renditions.append(MediaRendition(
                    format=r.format, sha256=r.sha256, size=r.size, mime=r.mime, codec=r.codec,
                    bitrate=r.bitrate, duration_ms=r.duration_ms,
                    loudness_lufs=r.loudness.integrated, true_peak_dbtp=r.loudness.true_peak,
                    created_at=now,
                ))
            asset.source_lufs = result.source_loudness.integrated
            asset.source_true_peak = result.source_loudness.true_peak
            asset.state, asset.error, asset.processed_at = MediaState.READY, None, now
            session.commit()
        d = result.delivery
        log.info("media: %s ready: delivery %s (%d bytes, %.1f LUFS, %.1f dBTP)", sha256,
                 d.sha256, d.size, d.loudness.integrated, d.loudness.true_peak)

    def _fail(self, sha256: str, message: str) -> None:
        log.warning("media: %s failed: %s", sha256, message)
        media_path(self._media_dir, sha256).unlink(missing_ok=True)
        with self._sessions() as session:
            asset = session.get(MediaAsset, sha256)
            if asset is None:
                return
            asset.state, asset.error, asset.processed_at = MediaState.FAILED, message, self._clock()
            session.commit()
