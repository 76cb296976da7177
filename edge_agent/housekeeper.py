"""Keeps the agent's storage bounded over years on one SD card.

Every ``housekeeping.interval_s`` it prunes the play journal and the dead letters by age,
writes the outbox messages held in memory while the disk was full, and keeps the media cache
under its cap by next need. Each round beats the ``housekeeper`` heartbeat.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from edge_agent.config import HousekeepingConfig
from edge_agent.supervision import FaultSink, Heartbeats, supervise

log = logging.getLogger(__name__)
DAY_S = 86_400.0


class Housekeeper:
    def __init__(self, *, config: HousekeepingConfig, heartbeats: Heartbeats,
                 on_fault: FaultSink, chores: list[tuple[str, Callable[[], object]]]) -> None:
        """``chores`` are (name, work) pairs run in order each round; one that fails is
        reported and the others still run."""
        self._config = config
        self._heartbeats = heartbeats
        self._on_fault = on_fault
        self._chores = chores
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="housekeeper", daemon=True)

    def add_chore(self, name: str, work: Callable[[], object]) -> None:
        """Add a chore to every round (e.g. the kiosk's recordings)."""
        self._chores.append((name, work))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def kick(self) -> None:
        """Run a round now (e.g. the disk refused a write)."""
        self._wake.set()

    def _run(self) -> None:
        supervise("housekeeper", self._loop, stopped=self._stop.is_set, wait=self._stop.wait,
                  on_fault=self._on_fault)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._heartbeats.beat("housekeeper")
            self.round()
            self._wake.wait(self._config.interval_s)
            self._wake.clear()

    def round(self) -> None:
        for name, work in self._chores:
            try:
                work()
            except Exception as exc:
                log.exception("housekeeping chore %s failed", name)
                self._on_fault("housekeeper", exc, f"chore {name} retried next round")
