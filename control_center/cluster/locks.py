"""Cluster-wide locks: PostgreSQL advisory locks, or in-process locks on SQLite.

A center of several processes shares one PostgreSQL database, so its locks are the
database's advisory locks: a lock held on a connection is released by the server the moment
that connection ends, a killed process included, which is what makes them right for electing
the process that runs a singleton role. On SQLite the center is one process (the database
refuses concurrent writers from several), so an in-process lock gives the same guarantees.

Two kinds of lock:
- ``try_acquire``/``release``: held for a long time (a role, an ingest seat) on one dedicated
  connection; ``alive`` tells whether that connection (and so every lock on it) still holds.
- ``hold(name)``: a short, blocking critical section (one manifest sync), on a pooled
  connection of its own, released at the end of the block.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for a lock name (PostgreSQL's advisory key space)."""
    digest = hashlib.sha256(f"tt-center:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class ClusterLocks(Protocol):
    """What the elector, the seats and the manifest sync need from a lock service."""

    shared: bool
    """True when several processes may share the database (PostgreSQL)."""

    def try_acquire(self, name: str) -> bool: ...

    def release(self, name: str) -> None: ...

    def alive(self) -> bool: ...

    def held(self) -> frozenset[str]: ...

    def hold(self, name: str) -> AbstractContextManager[None]: ...

    def close(self) -> None: ...


class _Names:
    """The names a lock service holds, and one thread lock per section name."""

    def __init__(self) -> None:
        self._guard = threading.RLock()
        self._held: set[str] = set()
        self._sections: dict[str, threading.Lock] = {}

    def held(self) -> frozenset[str]:
        with self._guard:
            return frozenset(self._held)

    def _thread_section(self, name: str) -> threading.Lock:
        with self._guard:
            return self._sections.setdefault(name, threading.Lock())


class LocalLocks(_Names):
    """One process on SQLite: every lock is this process's to take."""

    shared = False

    def try_acquire(self, name: str) -> bool:
        with self._guard:
            if name in self._held:
                return False
            self._held.add(name)
            return True

    def release(self, name: str) -> None:
        with self._guard:
            self._held.discard(name)

    def alive(self) -> bool:
        return True

    @contextmanager
    def hold(self, name: str) -> Iterator[None]:
        with self._thread_section(name):
            yield

    def close(self) -> None:
        with self._guard:
            self._held.clear()


class PostgresLocks(_Names):
    """Advisory locks of a PostgreSQL database shared by the center's processes (one
    dedicated connection, used by one thread at a time, holds the long-lived ones)."""

    shared = True

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._engine = engine
        self._conn: Connection | None = None

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def try_acquire(self, name: str) -> bool:
        with self._guard:
            if name in self._held:
                return False
            try:
                got = bool(self._connection().scalar(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": advisory_key(name)}))
            except SQLAlchemyError as exc:
                self._lost(exc)
                return False
            if got:
                self._held.add(name)
            return got

    def release(self, name: str) -> None:
        with self._guard:
            if name not in self._held:
                return
            self._held.discard(name)
            try:
                self._connection().execute(text("SELECT pg_advisory_unlock(:key)"),
                                           {"key": advisory_key(name)})
            except SQLAlchemyError as exc:
                self._lost(exc)

    def alive(self) -> bool:
        """Whether the lock connection still answers; False (and every lock dropped) if not."""
        with self._guard:
            if self._conn is None:
                return not self._held
            try:
                self._conn.execute(text("SELECT 1"))
            except SQLAlchemyError as exc:
                self._lost(exc)
                return False
            return True


    @contextmanager
    def hold(self, name: str) -> Iterator[None]:
        """A blocking section across processes (and threads: each waits on its own
        connection, and threads of this process also queue on a local lock first)."""
        key = advisory_key(name)
        with self._thread_section(name), self._engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})

    def close(self) -> None:
        with self._guard:
            self._held.clear()
            if self._conn is not None:
                with suppress(SQLAlchemyError):
                    self._conn.close()
                self._conn = None

    def _lost(self, exc: Exception) -> None:
        """The lock connection failed: the server dropped every lock it held."""
        if self._held:
            log.error("cluster: lost the lock connection (%s); giving up %s", exc,
                      sorted(self._held))
        self._held.clear()
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except SQLAlchemyError:
                pass
            self._conn = None


class Section:
    """A reusable ``with`` block over ``locks.hold(name)`` (one thread at a time inside)."""

    def __init__(self, locks: ClusterLocks, name: str) -> None:
        self._locks = locks
        self._name = name
        self._local = threading.local()

    def __enter__(self) -> None:
        held = self._locks.hold(self._name)
        held.__enter__()
        self._local.held = held

    def __exit__(self, *exc: object) -> None:
        held: AbstractContextManager[None] = self._local.held
        del self._local.held
        held.__exit__(*exc)  # type: ignore[arg-type]


def locks_for(engine: Engine) -> LocalLocks | PostgresLocks:
    """The lock service for the center's database."""
    return PostgresLocks(engine) if engine.dialect.name == "postgresql" else LocalLocks()
