"""The elector: each singleton role runs in exactly one center process, and orphaned ingest
seats are drained by a survivor.

One thread per process ticks every ``interval_s``: it checks that its lock connection still
holds (if not, every role it ran is stopped at once: another process may take them), tries
to take the lock of each role it does not run, starts the roles it won, drains the seats
whose process is gone (``cluster.seats``) and runs the ``on_tick`` hooks (e.g. reloading the
signing key another process rotated). On SQLite the one process wins every role.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from control_center.cluster.locks import ClusterLocks
from control_center.cluster.seats import SeatDrain, seat_lock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Role:
    """A piece of background work that must run in one process at a time."""

    name: str
    start: Callable[[], None]
    stop: Callable[[], None]


def role_lock(name: str) -> str:
    return f"role:{name}"


class Elector:
    def __init__(self, *, locks: ClusterLocks, roles: Sequence[Role], interval_s: float,
                 seats: int = 1, my_seat: int | None = None, drain: SeatDrain | None = None,
                 on_tick: Sequence[Callable[[], None]] = ()) -> None:
        self._locks = locks
        self._roles = {r.name: r for r in roles}
        self._interval = interval_s
        self._seats = seats
        self._my_seat = my_seat
        self._drain = drain
        self._on_tick = tuple(on_tick)
        self._running: set[str] = set()
        self._watch: set[int] = set(range(seats)) - {my_seat} if drain else set()
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._ticked = threading.Condition()
        self._thread: threading.Thread | None = None
        self.ticks = 0
        self.drained: dict[int, int] = {}
        """Seat -> messages taken from it by this process's drains (tests, /healthz)."""

    def start(self) -> None:
        """Run the first election now (so a lone process starts its roles at once), then
        keep electing in the background."""
        self._stop.clear()
        self._tick()
        self._thread = threading.Thread(target=self._run, name="cluster-elector", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._guard:
            running, self._running = self._running, set()
        for name in sorted(running):
            self._stop_role(name)
            self._locks.release(role_lock(name))

    def leads(self, name: str) -> bool:
        """Whether this process runs role ``name`` now."""
        with self._guard:
            return name in self._running

    def running(self) -> frozenset[str]:
        with self._guard:
            return frozenset(self._running)

    def wait_ticks(self, count: int, timeout: float) -> bool:
        """Block until ``count`` ticks have run (tests)."""
        with self._ticked:
            return self._ticked.wait_for(lambda: self.ticks >= count, timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._tick()
            except Exception:
                log.exception("cluster: election tick failed")

    def _tick(self) -> None:
        if not self._locks.alive():
            self._abdicate()
        held = self._locks.held()
        if self._my_seat is not None and seat_lock(self._my_seat) not in held:
            # The lock connection was lost and came back: take our own seat's lock again
            # (its session is ours; a drainer that got there first has ended it already).
            self._locks.try_acquire(seat_lock(self._my_seat))
        for name in sorted(self._roles):
            lock = role_lock(name)
            with self._guard:
                mine = name in self._running
            if mine and lock not in held:
                self._abdicate_one(name)
            elif not mine and self._locks.try_acquire(lock):
                log.info("cluster: this process now runs %s", name)
                with self._guard:
                    self._running.add(name)
                try:
                    self._roles[name].start()
                except Exception:
                    log.exception("cluster: %s failed to start; giving it up", name)
                    with self._guard:
                        self._running.discard(name)
                    self._locks.release(lock)
        self._drain_orphans()
        for hook in self._on_tick:
            try:
                hook()
            except Exception:
                log.exception("cluster: tick hook failed")
        with self._ticked:
            self.ticks += 1
            self._ticked.notify_all()

    def _drain_orphans(self) -> None:
        """Drain each watched seat whose lock is free (its process is gone), once; watch it
        again after someone else has held it."""
        if self._drain is None:
            return
        for seat in range(self._seats):
            if seat == self._my_seat:
                continue
            lock = seat_lock(seat)
            if not self._locks.try_acquire(lock):
                self._watch.add(seat)  # in use: drain it if it is ever left
                continue
            try:
                if seat in self._watch:
                    count = self._drain.drain(seat)
                    self.drained[seat] = self.drained.get(seat, 0) + count
                    self._watch.discard(seat)
            except Exception as exc:
                log.warning("cluster: draining seat %d failed (%s); retrying", seat, exc)
            finally:
                self._locks.release(lock)

    def _abdicate(self) -> None:
        with self._guard:
            running = sorted(self._running)
        for name in running:
            self._abdicate_one(name)

    def _abdicate_one(self, name: str) -> None:
        log.warning("cluster: lost the lock of %s; stopping it here", name)
        with self._guard:
            self._running.discard(name)
        self._stop_role(name)

    def _stop_role(self, name: str) -> None:
        try:
            self._roles[name].stop()
        except Exception:
            log.exception("cluster: %s failed to stop", name)
