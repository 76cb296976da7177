"""Deliver line-protocol points to InfluxDB: bounded queue, batches, disk spill, counters.

The MQTT thread ``offer``s the lines of one message; a writer thread takes batches of up to
``batch_size`` lines and posts them with the official ``influxdb`` client (v1 HTTP API,
line protocol, so the client does no formatting of its own). When InfluxDB is down, slow
or refuses with a server error, the batch goes to the disk spill buffer; while the buffer
holds anything, new batches go behind it, and the oldest batch is replayed first, so
points reach InfluxDB in the order they arrived. Nothing is dropped without a counter.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from influxdb import InfluxDBClient  # type: ignore[import-untyped]
from influxdb.exceptions import InfluxDBClientError, InfluxDBServerError  # type: ignore[import-untyped]

from control_center.telemetry.spill import SpillBuffer, SpillFull

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WriterOptions:
    url: str
    database: str
    spill_dir: Path
    batch_size: int = 5000
    flush_interval_s: float = 0.5
    queue_max_lines: int = 50_000
    offer_timeout_s: float = 2.0
    timeout_s: float = 5.0
    retry_min_s: float = 0.5
    retry_max_s: float = 15.0
    spill_max_bytes: int = 1024**3


class _Refused(Exception):
    """InfluxDB answered 4xx: the batch itself is bad; retrying would not help."""


def make_client(url: str, database: str, timeout_s: float) -> InfluxDBClient:
    parts = urlsplit(url)
    return InfluxDBClient(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or (443 if parts.scheme == "https" else 8086),
        username=parts.username or "", password=parts.password or "",
        database=database, ssl=parts.scheme == "https", verify_ssl=parts.scheme == "https",
        timeout=timeout_s, retries=1, path=parts.path.strip("/"),
    )


class InfluxWriter:
    def __init__(self, options: WriterOptions,
                 client_factory: Callable[[], InfluxDBClient] | None = None) -> None:
        self.options = options
        self._client = (client_factory or (lambda: make_client(
            options.url, options.database, options.timeout_s)))()
        self._spill = SpillBuffer(options.spill_dir, max_bytes=options.spill_max_bytes)
        self._cond = threading.Condition()
        self._queue: deque[list[str]] = deque()
        self._queued_lines = 0
        self._stop = False
        self._thread: threading.Thread | None = None
        self._retry_at = 0.0
        self._backoff = options.retry_min_s
        self._db_ready = False
        self.counters: Counter[str] = Counter()
        self.last_error = ""
        self.influx_up: bool | None = None

    # -- producer side (MQTT thread) ------------------------------------------------------

    def offer(self, lines: list[str]) -> bool:
        """Queue the lines of one message; False (counted) if the queue stayed full."""
        if not lines:
            return True
        deadline = time.monotonic() + self.options.offer_timeout_s
        with self._cond:
            while self._queued_lines + len(lines) > self.options.queue_max_lines:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stop:
                    self.counters["refused:queue_full"] += len(lines)
                    return False
                self._cond.wait(remaining)
            self._queue.append(lines)
            self._queued_lines += len(lines)
            self.counters["received"] += len(lines)
            self._cond.notify_all()
        return True

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="influx-writer", daemon=True)
        self._thread.start()

    def stop(self, drain_timeout_s: float = 5.0) -> None:
        """Stop after one last attempt; whatever InfluxDB did not take is spilled to disk."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=drain_timeout_s + self.options.timeout_s * 2)
        self._client.close()

    def stats(self) -> dict[str, object]:
        with self._cond:
            counters = dict(self.counters)
            queued = self._queued_lines
        return {
            "influx_up": self.influx_up, "last_error": self.last_error,
            "queued_lines": queued, "queue_max_lines": self.options.queue_max_lines,
            "spill_batches": self._spill.batches, "spill_lines": self._spill.lines,
            "spill_bytes": self._spill.bytes, "counters": counters,
        }

    def wait_for(self, predicate: Callable[[dict[str, object]], bool], timeout: float) -> bool:
        """Block until ``predicate(stats())`` holds (True) or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                self._cond.release()
                try:
                    ok = predicate(self.stats())
                finally:
                    self._cond.acquire()
                if ok:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.5))

    # -- writer thread -------------------------------------------------------------------------

    def _take(self) -> list[str]:
        """Up to batch_size lines; waits until a batch is full or the flush interval passed."""
        opts = self.options
        with self._cond:
            deadline = time.monotonic() + opts.flush_interval_s
            while not self._stop and self._queued_lines < opts.batch_size:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (not self._queue and self._spill and self._due()):
                    break
                self._cond.wait(remaining)
            batch: list[str] = []
            while self._queue and len(batch) < opts.batch_size:
                chunk = self._queue.popleft()
                batch.extend(chunk)
                self._queued_lines -= len(chunk)
            self._cond.notify_all()
            return batch

    def _run(self) -> None:
        while True:
            with self._cond:
                stopping = self._stop
            batch = self._take()
            if batch:
                self._deliver(batch)
            self._replay_some()
            if stopping and not self._queue:
                return

    def _due(self) -> bool:
        return time.monotonic() >= self._retry_at

    def _deliver(self, batch: list[str]) -> None:
        if not self._spill and self._due():
            try:
                self._write(batch)
                self._count("written", len(batch))
                return
            except _Refused as exc:
                self._count("refused:influx_rejected", len(batch))
                log.error("telemetry: InfluxDB refused a batch of %d points: %s", len(batch), exc)
                return
            except OSError as exc:
                self._failed(exc)
        try:
            self._spill.append(batch)
            self._count("spilled", len(batch))
        except (SpillFull, OSError) as exc:
            self._count("dropped:spill_full", len(batch))
            log.error("telemetry: %d points dropped: %s", len(batch), exc)

    def _replay_some(self, budget_s: float = 1.0) -> None:
        """Replay the oldest spilled batches while InfluxDB takes them, within a time budget
        and while the queue has room (new points keep going behind the spilled ones)."""
        until = time.monotonic() + budget_s
        while self._spill and self._due() and time.monotonic() < until:
            with self._cond:
                if self._queued_lines > self.options.queue_max_lines // 2:
                    return
            self._replay_one()

    def _replay_one(self) -> None:
        oldest = self._spill.oldest()
        if oldest is None:
            return
        seq, text, count = oldest
        try:
            self._write([text.rstrip("\n")])
        except _Refused as exc:
            self._count("refused:influx_rejected", count)
            log.error("telemetry: InfluxDB refused spilled batch %d: %s", seq, exc)
        except OSError as exc:
            self._failed(exc)
            return
        else:
            self._count("replayed", count)
            self._count("written", count)
        self._spill.remove(seq)

    def _failed(self, exc: Exception) -> None:
        self.influx_up = False
        self.last_error = f"{type(exc).__name__}: {str(exc)[:300]}"
        if self._retry_at == 0.0 or self._backoff == self.options.retry_min_s:
            log.warning("telemetry: InfluxDB unavailable (%s); spilling to %s", self.last_error,
                        self.options.spill_dir)
        self._retry_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, self.options.retry_max_s)
        self._count("write_errors", 1)

    def _write(self, lines: list[str]) -> None:
        """Post one batch; OSError for 'try again later', _Refused for a bad batch."""
        try:
            if not self._db_ready:
                self._client.create_database(self.options.database)  # idempotent in 1.x
                self._db_ready = True
            self._client.write_points(lines, protocol="line")
        except requests.RequestException as exc:
            raise OSError(str(exc)) from exc
        except InfluxDBServerError as exc:
            raise OSError(f"server error: {exc}") from exc
        except InfluxDBClientError as exc:
            if exc.code == 404 or "database not found" in str(exc):
                self._db_ready = False
                raise OSError(f"database missing: {exc}") from exc
            if exc.code in (401, 403, 408, 429) or (exc.code or 0) >= 500:
                raise OSError(f"HTTP {exc.code}: {exc}") from exc
            raise _Refused(str(exc)[:300]) from exc
        self.influx_up = True
        self.last_error = ""
        self._backoff = self.options.retry_min_s
        self._retry_at = 0.0

    def _count(self, name: str, n: int) -> None:
        with self._cond:
            self.counters[name] += n
            self._cond.notify_all()
