"""Escalates overdue feedback to the parent unit (an elected role of the center).

Every ``interval_s`` it passes each open submission past its due date to the unit above,
once, with a note and an audit entry (``control_center.feedback.routing.escalate_overdue``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from control_center.feedback.routing import escalate_overdue

log = logging.getLogger(__name__)

INTERVAL_S = 300.0


class OverdueEscalator:
    def __init__(self, *, sessions: sessionmaker[Session], clock: Callable[[], datetime],
                 interval_s: float = INTERVAL_S) -> None:
        self._sessions = sessions
        self._clock = clock
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="feedback-overdue", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the next tick tries again
                log.exception("feedback overdue tick failed")
            self._stop.wait(self._interval_s)

    def tick(self) -> list[int]:
        """One pass at the clock's now; returns the ids escalated."""
        with self._sessions() as session:
            moved = escalate_overdue(session, now=self._clock())
        if moved:
            log.info("escalated %d overdue feedback item(s) to the parent unit: %s",
                     len(moved), moved[:20])
        return moved
