"""Make text bulletins' voices in the background: the text spoken by the center's TTS.

Installed on the center's write-session factory: a commit that noted bulletins
(``core.voices.voice_wanted``) queues them on one speech thread, never holding the request.
The thread speaks the text (``MediaIntake.speech``), stores it like an upload and waits for the
media worker's Opus rendition; then, if the bulletin's text is still the one spoken, it stores
``voice_sha256`` (or ``voice_error``) and notes the manifests that now carry the voice. At start
it queues every broadcastable text bulletin still without a voice (a restarted center).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from control_center.core.actor import Actor
from control_center.core.changes import manifests_changed
from control_center.core.voices import take_wanted
from control_center.errors import CenterError
from control_center.models import Bulletin, BulletinKind, BulletinStatus, MediaState
from control_center.services.media_intake import MediaIntake
from control_center.services.workflow import active_schedule_devices

log = logging.getLogger(__name__)

VOICE_ACTOR = Actor(name="giọng đọc bản tin / bulletin voice")
WAIT_S = 300.0
"""How long one voice may wait for the media worker before it is recorded as failed."""


class BulletinVoices:
    """One speech thread for bulletins; ``install`` hooks it to the commits that ask."""

    def __init__(self, *, intake: MediaIntake, sessions: sessionmaker[Session],
                 clock: Callable[[], datetime]) -> None:
        self._intake, self._sessions, self._clock = intake, sessions, clock
        self._pool: ThreadPoolExecutor | None = None

    def install(self, sessions: sessionmaker[Session]) -> None:
        event.listen(sessions, "after_commit", self._after_commit)
        event.listen(sessions, "after_soft_rollback", lambda s, _t: take_wanted(s))

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="bulletin-voice")
        with self._sessions() as session:
            missing = list(session.scalars(select(Bulletin.id).where(
                Bulletin.kind == BulletinKind.TEXT, Bulletin.voice_sha256.is_(None),
                Bulletin.voice_error.is_(None),
                Bulletin.status.in_([BulletinStatus.APPROVED, BulletinStatus.SCHEDULED]))))
        self.submit(missing)

    def stop(self) -> None:
        """Drop queued voices (made again at the next start); one being spoken finishes."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def submit(self, bulletin_ids: Iterable[int]) -> None:
        pool = self._pool
        for bulletin_id in sorted(bulletin_ids):
            if pool is None:
                log.warning("bulletin %s: voice not made (the voice worker is stopped)",
                            bulletin_id)
            else:
                pool.submit(self._run, bulletin_id)

    def _after_commit(self, session: Session) -> None:
        if wanted := take_wanted(session):
            self.submit(wanted)

    def _run(self, bulletin_id: int) -> None:
        try:
            self._make(bulletin_id)
        except Exception:
            log.exception("bulletin %s: making its voice crashed", bulletin_id)

    def _make(self, bulletin_id: int) -> None:
        with self._sessions() as session:
            bulletin = session.get(Bulletin, bulletin_id)
            if bulletin is None or bulletin.kind != BulletinKind.TEXT or not bulletin.text \
                    or bulletin.voice_sha256 or not bulletin.status.broadcastable:
                return
            text = bulletin.text
        sha256, error = None, None
        try:
            sink = self._intake.speech(text)
            with self._sessions() as session:
                _, asset = self._intake.receive_and_wait(
                    session, sink=sink, name=f"giọng đọc bản tin {bulletin_id}",
                    actor=VOICE_ACTOR, now=self._clock(), timeout_s=WAIT_S)
                if asset.state == MediaState.READY:
                    sha256 = asset.sha256
                else:
                    error = asset.error or "the media worker did not finish the voice in time"
        except CenterError as exc:
            error = str(exc)
        self._store(bulletin_id, text=text, sha256=sha256, error=error)

    def _store(self, bulletin_id: int, *, text: str, sha256: str | None,
               error: str | None) -> None:
        with self._sessions() as session:
            bulletin = session.get(Bulletin, bulletin_id)
            if bulletin is None or bulletin.text != text:
                return  # edited meanwhile: that edit asked for its own voice
            bulletin.voice_sha256, bulletin.voice_error = sha256, error
            if error is not None:
                log.warning("bulletin %s: its voice could not be made: %s", bulletin_id, error)
            elif bulletin.status.broadcastable:
                manifests_changed(session, active_schedule_devices(session,
                                                                   bulletin_id=bulletin_id))
            session.commit()
        log.info("bulletin %s: voice %s", bulletin_id, sha256 or "failed")
