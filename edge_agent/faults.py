"""The agent's unexpected failures: counted per component and reported as ``agent_fault``
events. A store SQLite finds corrupt while running asks for a restart (which replaces it)."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Callable

from pydantic import BaseModel

from edge_agent.events import EventFactory
from edge_agent.store import CORRUPT_ERRORS


class FaultReporter:
    """``reporter(component, exc, recovery)`` is the agent's ``FaultSink``."""

    def __init__(self, *, events: EventFactory, emit: Callable[[BaseModel], None],
                 restart_needed: threading.Event,
                 request_restart: Callable[[str], None]) -> None:
        self.counts: Counter[str] = Counter()
        """Unexpected failures since start, per component."""
        self._events = events
        self._emit = emit
        self._restart_needed = restart_needed
        self._request_restart = request_restart

    def __call__(self, component: str, exc: BaseException, recovery: str) -> None:
        if (isinstance(exc, sqlite3.DatabaseError)
                and getattr(exc, "sqlite_errorname", "") in CORRUPT_ERRORS
                and not self._restart_needed.is_set()):
            self._request_restart(f"store corrupt while running: {exc}")
            recovery += "; the agent restarts to replace the store"
        self.counts[component] += 1
        error = f"{type(exc).__name__}: {exc}"
        self._emit(self._events.fault(component, error, self.counts[component], recovery))

    def store_recovered(self, why: str, reindexed: int) -> None:
        """The local store was found unusable at start and made afresh."""
        self.counts["store"] += 1
        self._emit(self._events.fault(
            "store", why, self.counts["store"],
            f"fresh store created; manifest read again from the broker; {reindexed} cached "
            "file(s) re-indexed; items due before now are not played late"))
