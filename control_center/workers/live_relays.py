"""Runs the segmenters of relay streams during their windows (an elected role of the center).

Every ``interval_s`` it reads the relay windows open now or starting within ``lead`` and makes
the running set match: a stream whose window opened gets a segmenter (a new run), one whose
windows all closed is stopped, and one whose ffmpeg died (the upstream dropped or refused) is
restarted after ``restart_s`` as a new run, for as long as its window stays open.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from control_center.live.desk import LiveDesk
from control_center.live.relays import open_relay_windows
from control_center.models import LiveState, LiveStream

log = logging.getLogger(__name__)

LEAD = timedelta(seconds=3)
"""A relay's segmenter starts this long before its window, so the first segment is there."""
SEGMENT_S = 2.0
"""A relay's segments are longer than a microphone's (0.5 s): a relay's latency to its
upstream matters little, and a quarter of the requests and their headers halves what a
speaker's link carries (relay streams play with a longer delay, ``RELAY_DELAY_MS``)."""


class RelayRunner:
    def __init__(self, *, desk: LiveDesk, sessions: sessionmaker[Session],
                 clock: Callable[[], datetime], interval_s: float = 1.0,
                 restart_s: float = 2.0) -> None:
        self._desk = desk
        self._sessions = sessions
        self._clock = clock
        self._interval_s = interval_s
        self._restart_s = restart_s
        self._mine: dict[str, float] = {}  # stream id -> monotonic instant of its last start
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.restarts = 0

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="live-relays", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for stream_id in list(self._mine):
            self._desk.stop_run(stream_id)
        self._mine.clear()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the next tick tries again; a relay must not stay silent
                log.exception("relay runner tick failed")
            self._stop.wait(self._interval_s)

    def tick(self) -> None:
        now = self._clock()
        with self._sessions() as session:
            windows = open_relay_windows(session, now=now, lead=LEAD)
        wanted = {w.stream_id: w.source_url for w in windows}
        for stream_id in [s for s in self._mine if s not in wanted]:
            self._desk.stop_run(stream_id)
            del self._mine[stream_id]
            self._set_state(stream_id, LiveState.PREPARED)
        for stream_id, url in wanted.items():
            segmenter = self._desk.segmenter(stream_id)
            if segmenter is not None and segmenter.running:
                continue
            last = self._mine.get(stream_id)
            if last is not None and time.monotonic() - last < self._restart_s:
                continue
            if segmenter is not None:
                log.warning("relay %s: segmenter ended (%s); restarting", stream_id,
                            segmenter.error() or "no message")
                self.restarts += 1
            self._desk.start_run(stream_id, source_url=url, segment_s=SEGMENT_S)
            self._mine[stream_id] = time.monotonic()
            self._set_state(stream_id, LiveState.LIVE, started=now)

    def _set_state(self, stream_id: str, state: LiveState, started: datetime | None = None
                   ) -> None:
        with self._sessions() as session:
            row = session.get(LiveStream, stream_id)
            if row is None:
                return
            row.state = state
            if started is not None:
                row.runs += 1
                row.started_at = row.started_at or started
            session.commit()
