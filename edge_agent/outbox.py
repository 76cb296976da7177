"""Store and forward: every event is written locally first, deleted only on PUBACK.

The outbox is bounded: past ``max_rows`` it drops the lowest rank first (telemetry, then
ordinary events, play events and acknowledgements last), oldest first, and counts the drop.
A row the broker refuses (a failure reason code in its PUBACK) is moved to the dead letters
instead of being retried forever. When the disk refuses a write (full, failing), the message
is held in memory (bounded) and written once the disk takes it again.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Callable

from pydantic import BaseModel

from edge_agent.store import LocalStore
from protocol.codec import encode

log = logging.getLogger(__name__)
Publisher = Callable[[str, bytes], int]
FaultSink = Callable[[str, BaseException, str], None]
TELEMETRY, EVENT, FACT = 0, 1, 2
"""Outbox ranks: what a full outbox drops first (telemetry) and last (facts: plays, acks,
citizens' feedback, quiz attempts)."""
_FACTS = frozenset({"play_started", "play_completed", "play_interrupted", "play_failed",
                    "command_ack", "feedback_submitted", "survey_answered",
                    "quiz_attempt_submitted", "update"})
HELD_IN_MEMORY = 5000
Ledger = Callable[[str, bytes], None]
"""Told of every message once it is durably in the outbox (a fault harness counts them)."""


class Outbox:
    """At-least-once delivery of events; the center de-duplicates by event id."""

    def __init__(self, store: LocalStore, *, window: int, max_rows: int = 50_000,
                 ledger: Ledger | None = None, on_fault: FaultSink | None = None) -> None:
        self._store = store
        self._ledger = ledger
        self._max_rows = max_rows
        self._on_fault = on_fault
        self._rows = store.outbox_count()
        self._held: deque[tuple[str, bytes, int]] = deque()
        self._disk_failing = False
        self.dropped = 0
        """Rows dropped to keep under the cap (or lost from a full memory hold) since start."""
        self._window = window
        self._lock = threading.Lock()
        self._inflight: dict[int, int] = {}  # mid -> outbox row id
        self._sent_rows: set[int] = set()  # rows sent (or refused) on this connection
        self._early_acks: dict[int, bool] = {}
        self._early_reasons: dict[int, str] = {}
        self._publish: Publisher | None = None
        self.drained = threading.Condition(self._lock)
        self._pump_lock = threading.Lock()
        self._pump_again = threading.Event()

    def add(self, topic: str, message: BaseModel) -> None:
        """Persist the message, then try to send it. Never raises for the disk."""
        payload = encode(message)
        kind = getattr(message, "type", "")
        rank = TELEMETRY if kind == "health" else FACT if kind in _FACTS else EVENT
        if self._held:
            self.flush_held()
        if self._held or not self._save(topic, payload, rank):
            self._hold(topic, payload, rank)
            return
        self.pump()

    def _save(self, topic: str, payload: bytes, rank: int) -> bool:
        try:
            self._store.outbox_add(topic, payload, rank)
        except sqlite3.Error as exc:
            first = not self._disk_failing
            self._disk_failing = True
            log.error("outbox write failed (%s): holding messages in memory", exc)
            if first and self._on_fault is not None:
                self._on_fault("outbox", exc, "messages held in memory until the disk takes "
                                              "them again")
            return False
        self._disk_failing = False
        if self._ledger is not None:
            self._ledger(topic, payload)
        with self._lock:
            self._rows += 1
            over = self._rows > self._max_rows
        if over:
            self._trim()
        return True

    def _hold(self, topic: str, payload: bytes, rank: int) -> None:
        with self._lock:
            if len(self._held) >= HELD_IN_MEMORY:
                lowest = min(range(len(self._held)), key=lambda i: self._held[i][2])
                if self._held[lowest][2] > rank:
                    self.dropped += 1  # the new message is the least valuable one
                    return
                del self._held[lowest]
                self.dropped += 1
            self._held.append((topic, payload, rank))

    def flush_held(self) -> int:
        """Write the messages held in memory while the disk refused them; returns how many
        are still held."""
        while True:
            with self._lock:
                if not self._held:
                    return 0
                topic, payload, rank = self._held[0]
            if not self._save(topic, payload, rank):
                with self._lock:
                    return len(self._held)
            with self._lock:
                self._held.popleft()
            self.pump()

    def held(self) -> int:
        with self._lock:
            return len(self._held)

    def _trim(self) -> None:
        keep = int(self._max_rows * 0.9)
        with self._lock:
            spare = set(self._inflight.values())
        try:
            dropped = self._store.outbox_trim(keep, spare=spare)
            count = self._store.outbox_count()
        except sqlite3.Error as exc:
            log.error("outbox trim failed: %s", exc)
            return
        with self._lock:
            self.dropped += dropped
            self._rows = count
        log.warning("outbox over %d rows: dropped %d (lowest rank first)", self._max_rows,
                    dropped)

    def pending(self) -> int:
        return self._store.outbox_count() + self.held()

    def connected(self, publish: Publisher) -> None:
        with self._lock:
            self._publish = publish
            self._inflight.clear()
            self._sent_rows.clear()
            self._early_acks.clear()
            self._early_reasons.clear()
        self.pump()

    def disconnected(self) -> None:
        with self._lock:
            self._publish = None

    def pump(self) -> None:
        """Send pending rows up to the in-flight window.

        Only one thread pumps at a time; a caller that finds the pump busy (for example
        paho's network thread delivering a PUBACK) asks the busy pump to go round again
        instead of blocking, which could deadlock against paho's own locks.
        """
        self._pump_again.set()
        while self._pump_again.is_set():
            if not self._pump_lock.acquire(blocking=False):
                return
            try:
                self._pump_again.clear()
                try:
                    self._pump_once()
                except sqlite3.Error as exc:  # unreadable now; the next add or ack retries
                    log.error("outbox read failed: %s", exc)
                    return
            finally:
                self._pump_lock.release()

    def _pump_once(self) -> None:
        while True:
            with self._lock:
                publish = self._publish
                room = self._window - len(self._inflight)
                if publish is None or room <= 0:
                    self._early_acks.clear()
                    return
                rows = self._store.outbox_pending(room, exclude=self._sent_rows)
                if not rows:
                    self._early_acks.clear()
                    return
                self._sent_rows.update(r.id for r in rows)
            for row in rows:
                mid = publish(row.topic, row.payload)
                with self._lock:
                    early = self._early_acks.pop(mid, None)
                    if early is None:
                        self._inflight[mid] = row.id
                if early is not None:
                    with self._lock:
                        reason = self._early_reasons.pop(mid, "")
                    self._settle(row.id, early, reason)

    def published(self, mid: int, ok: bool, reason: str = "") -> None:
        """PUBACK callback: delete the row on success; dead-letter it if the broker refused."""
        with self._lock:
            row_id = self._inflight.pop(mid, None)
            if row_id is None:
                self._early_acks[mid] = ok
                self._early_reasons[mid] = reason
                return
        self._settle(row_id, ok, reason)
        self.pump()

    def _settle(self, row_id: int, ok: bool, reason: str = "") -> None:
        try:
            if ok:
                self._store.outbox_delete(row_id)
            else:
                self._store.outbox_dead_letter(row_id, reason or "refused by the broker")
        except sqlite3.Error as exc:  # the row stays and is sent again on the next connection
            log.error("outbox settle of row %d failed: %s", row_id, exc)
            with self._lock:
                self._sent_rows.discard(row_id)
                self.drained.notify_all()
            return
        with self._lock:
            self._rows = max(0, self._rows - 1)
            self._sent_rows.discard(row_id)
            self.drained.notify_all()

    def wait_drained(self, timeout: float) -> bool:
        """Block until the outbox is empty (tests and clean shutdown)."""
        with self._lock:
            return self.drained.wait_for(
                lambda: not self._held and self._store.outbox_count() == 0, timeout)
