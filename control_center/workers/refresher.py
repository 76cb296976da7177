"""Background re-expansion: keeps recurring schedules covering the horizon."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from control_center.workers.manifest_sync import ManifestSync
from control_center.workers.republish import Republisher

log = logging.getLogger(__name__)


class Refresher:
    """Runs a full manifest sync at start, every ``interval_s``, and whenever kicked;
    publishes what is pending (nothing rebuilt) whenever nudged.

    Kicked after each MQTT (re)connect so manifests built while the broker was away go out;
    nudged by the republisher, whose requests it applies first on every run.
    """

    def __init__(self, *, sync: ManifestSync, interval_s: float,
                 republisher: Republisher | None = None,
                 leading: Callable[[], bool] = lambda: True) -> None:
        """``leading()``: whether this process runs the periodic full sync (in a center of
        several processes one does; every process publishes what it was asked to)."""
        self._leading = leading
        self._sync = sync
        self._interval = interval_s
        self._republisher = republisher
        self._stop = threading.Event()
        self._kick = threading.Event()
        self._full = False
        self._flags = threading.Lock()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.runs = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="manifest-refresher", daemon=True)
        self._thread.start()

    def kick(self) -> None:
        """A full sync soon."""
        with self._flags:
            self._full = True
        self._kick.set()

    def nudge(self) -> None:
        """Publish the pending manifests soon (the republisher's requests)."""
        self._kick.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._kick.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("refresher did not stop within %.0f s", timeout)

    def wait_for_runs(self, count: int, timeout: float) -> bool:
        """Block until at least ``count`` syncs have completed (tests use this)."""
        with self._cond:
            return self._cond.wait_for(lambda: self.runs >= count, timeout)

    def _run(self) -> None:
        full = self._leading()
        while not self._stop.is_set():
            self._kick.clear()
            with self._flags:
                full, self._full = full or self._full, False
            try:
                if self._republisher is not None:
                    self._republisher.apply(self._sync)
                if full:
                    self._sync.sync()
                else:
                    self._sync.publish_pending()
                failed = False
            except Exception:
                log.exception("manifest refresh failed; retrying in %.0f s", self._interval)
                failed = True
            with self._cond:
                self.runs += 1
                self._cond.notify_all()
            timed_out = not self._kick.wait(self._interval)
            full = (timed_out or failed) and self._leading()  # else publish what is pending
