"""Store and forward: every event is written locally first, deleted only on PUBACK."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from pydantic import BaseModel

from edge_agent.store import LocalStore
from protocol.codec import encode

log = logging.getLogger(__name__)
Publisher = Callable[[str, bytes], int]
Ledger = Callable[[str, bytes], None]
"""Told of every message once it is durably in the outbox (a fault harness counts them)."""


class Outbox:
    """At-least-once delivery of events; the center de-duplicates by event id."""

    def __init__(self, store: LocalStore, *, window: int, ledger: Ledger | None = None) -> None:
        self._store = store
        self._ledger = ledger
        self._window = window
        self._lock = threading.Lock()
        self._inflight: dict[int, int] = {}  # mid -> outbox row id
        self._sent_rows: set[int] = set()  # rows sent (or refused) on this connection
        self._early_acks: dict[int, bool] = {}
        self._publish: Publisher | None = None
        self.drained = threading.Condition(self._lock)
        self._pump_lock = threading.Lock()
        self._pump_again = threading.Event()

    def add(self, topic: str, message: BaseModel) -> None:
        """Persist the message, then try to send it."""
        payload = encode(message)
        self._store.outbox_add(topic, payload)
        if self._ledger is not None:
            self._ledger(topic, payload)
        self.pump()

    def pending(self) -> int:
        return self._store.outbox_count()

    def connected(self, publish: Publisher) -> None:
        with self._lock:
            self._publish = publish
            self._inflight.clear()
            self._sent_rows.clear()
            self._early_acks.clear()
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
                self._pump_once()
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
                    self._settle(row.id, early)

    def published(self, mid: int, ok: bool) -> None:
        """PUBACK callback: delete the row on success; keep it for the next connection if not."""
        with self._lock:
            row_id = self._inflight.pop(mid, None)
            if row_id is None:
                self._early_acks[mid] = ok
                return
        self._settle(row_id, ok)
        self.pump()

    def _settle(self, row_id: int, ok: bool) -> None:
        if ok:
            self._store.outbox_delete(row_id)
        with self._lock:
            if ok:
                self._sent_rows.discard(row_id)
            self.drained.notify_all()

    def wait_drained(self, timeout: float) -> bool:
        """Block until the outbox is empty (tests and clean shutdown)."""
        with self._lock:
            return self.drained.wait_for(lambda: self._store.outbox_count() == 0, timeout)
