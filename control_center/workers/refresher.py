"""Background re-expansion: keeps recurring schedules covering the horizon."""

from __future__ import annotations

import logging
import threading

from control_center.workers.manifest_sync import ManifestSync

log = logging.getLogger(__name__)


class Refresher:
    """Runs a full manifest sync at start, every ``interval_s``, and whenever kicked.

    Kicked after each MQTT (re)connect so manifests built while the broker was away go out.
    """

    def __init__(self, *, sync: ManifestSync, interval_s: float) -> None:
        self._sync = sync
        self._interval = interval_s
        self._stop = threading.Event()
        self._kick = threading.Event()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.runs = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="manifest-refresher", daemon=True)
        self._thread.start()

    def kick(self) -> None:
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
        while not self._stop.is_set():
            self._kick.clear()
            try:
                self._sync.sync()
            except Exception:
                log.exception("manifest refresh failed; retrying in %.0f s", self._interval)
            with self._cond:
                self.runs += 1
                self._cond.notify_all()
            self._kick.wait(self._interval)
