"""Keeping the agent's long-lived loops alive, and knowing that they are.

Every loop (player, downloader, health sampler, housekeeper) runs under ``supervise``: an
exception it did not expect is logged, reported as an ``agent_fault`` and the loop starts
again after a back-off, instead of its thread ending in silence. Each loop beats its
``Heartbeats`` entry every time it goes round; the health report carries their ages, so the
center can tell a device whose player has stopped advancing from one that is offline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

FaultSink = Callable[[str, BaseException, str], None]
"""Told (component, error, what the agent does about it) of every unexpected failure."""


class Heartbeats:
    """The monotonic instant each loop last went round."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}

    def beat(self, loop: str) -> None:
        with self._lock:
            self._last[loop] = self._monotonic()

    def age(self, loop: str) -> float | None:
        """Seconds since ``loop`` last went round (None if it never did)."""
        with self._lock:
            last = self._last.get(loop)
        return None if last is None else max(0.0, self._monotonic() - last)

    def ages(self) -> dict[str, float]:
        now = self._monotonic()
        with self._lock:
            return {loop: round(max(0.0, now - at), 3) for loop, at in self._last.items()}


class Backoff:
    """Doubling delays between ``first_s`` and ``max_s``; reset after a quiet spell."""

    def __init__(self, first_s: float = 1.0, max_s: float = 60.0) -> None:
        self._first, self._max = first_s, max_s
        self._next = first_s

    def next(self) -> float:
        delay, self._next = self._next, min(self._next * 2, self._max)
        return delay

    def reset(self) -> None:
        self._next = self._first


def supervise(component: str, body: Callable[[], None], *, stopped: Callable[[], bool],
              wait: Callable[[float], object], on_fault: FaultSink,
              backoff: Backoff | None = None, quiet_s: float = 300.0) -> None:
    """Run ``body`` until it returns (the loop was stopped) or ``stopped()`` holds.

    ``body`` is the loop itself; when it raises, the error is logged and reported, then
    ``body`` runs again after a back-off (``wait(delay)``). A loop that ran ``quiet_s``
    without failing starts the back-off again from its first delay.
    """
    backoff = backoff or Backoff()
    while not stopped():
        began = time.monotonic()
        try:
            body()
            return
        except Exception as exc:  # the loop must outlive what it did not expect
            if time.monotonic() - began > quiet_s:
                backoff.reset()
            delay = backoff.next()
            log.exception("%s loop failed; restarting in %.1f s", component, delay)
            try:
                on_fault(component, exc, f"loop restarted after {delay:.1f} s")
            except Exception:  # reporting must never end the loop either
                log.exception("reporting the %s fault failed", component)
        wait(delay)
