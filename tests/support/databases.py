"""The center suite's two databases: SQLite (the embedded default) and PostgreSQL (production).

One :class:`Databases` per test session (so per xdist worker) hands out database URLs for a
center's data directory. PostgreSQL is started on first use only, in the session's temporary
directory (:class:`firmware_sim.postgres.PostgresServer`, non-durable), and stopped at the end.

A PostgreSQL database is named after the data directory, so a second ``running_center`` on the
same directory finds the same database again, as it finds the same SQLite file (a restart).
New databases are copied from a template migrated once per session (``CREATE DATABASE ...
TEMPLATE``, a file copy): the center's own ``upgrade_database`` then finds nothing to do.
Tests that exercise the migrations themselves ask for an empty database (``migrated=False``).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from control_center.db import create_db_engine, upgrade_database
from firmware_sim.postgres import PostgresServer

Backend = Literal["sqlite", "postgresql"]
BACKENDS: tuple[Backend, ...] = ("sqlite", "postgresql")
SQLITE_FILE = "center.db"  # what control_center.config uses inside the data directory
# The backend of every test outside the both-databases list: sqlite, or postgresql to run the
# whole suite on PostgreSQL once in a while (TT_TEST_DATABASE=postgresql ./run.sh test).
DEFAULT_ENV = "TT_TEST_DATABASE"
_TEMPLATE = "tt_migrated"


class Databases:
    """Database URLs by backend; :attr:`backend` is the one a test without a choice gets."""

    def __init__(self, work_dir: Path) -> None:
        self._work_dir = work_dir
        self._server: PostgresServer | None = None
        self._created: set[str] = set()
        self._lock = threading.Lock()
        self.backend: Backend = "sqlite"

    @contextmanager
    def selected(self, backend: Backend) -> Iterator[Backend]:
        """Make ``backend`` the default for the duration (one module's tests, say); the
        PostgreSQL databases made meanwhile are dropped at the end (the cluster stays small)."""
        before, self.backend = self.backend, backend
        existing = set(self._created)
        try:
            yield backend
        finally:
            self.backend = before
            with self._lock:
                for name in sorted(self._created - existing - {_TEMPLATE}):
                    assert self._server is not None
                    self._server.drop_database(name)
                    self._created.discard(name)

    def url_for(self, data_dir: Path, backend: Backend | None = None, *,
                migrated: bool = True) -> str:
        """The database of the center whose data lives in ``data_dir`` (made if new)."""
        backend = backend or self.backend
        if backend == "sqlite":
            return f"sqlite:///{Path(data_dir) / SQLITE_FILE}"
        name = "tt_" + hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:24]
        if not migrated:
            name += "_empty"
        with self._lock:
            server = self._postgres()
            if name not in self._created:
                template = self._template(server) if migrated else "template0"
                server.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" '
                               "STRATEGY FILE_COPY")
                self._created.add(name)
        return server.database_url(name)

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def _postgres(self) -> PostgresServer:
        if self._server is None:
            server = PostgresServer(self._work_dir / "postgres")
            server.start()
            self._server = server
        return self._server

    def _template(self, server: PostgresServer) -> str:
        if _TEMPLATE not in self._created:
            engine = create_db_engine(server.create_database(_TEMPLATE))
            try:
                upgrade_database(engine)
            finally:
                engine.dispose()  # a template must have no connections when it is copied
            self._created.add(_TEMPLATE)
        return _TEMPLATE


def default_backend(environ: Mapping[str, str] = os.environ) -> Backend:
    """The backend named by ``TT_TEST_DATABASE`` (default sqlite); a typo is an error."""
    name = environ.get(DEFAULT_ENV, "sqlite").strip().lower() or "sqlite"
    for backend in BACKENDS:
        if name == backend:
            return backend
    raise ValueError(f"{DEFAULT_ENV}={name!r}: use one of {', '.join(BACKENDS)}")


_active: Databases | None = None


def activate(databases: Databases | None) -> None:
    """Make ``databases`` the one :func:`default_url` asks (``None``: plain SQLite)."""
    global _active
    _active = databases


def default_url(data_dir: Path) -> str | None:
    """The database URL a center in ``data_dir`` gets when a test names none: the session's
    selected backend's; ``None`` for SQLite (the center's own default, its data directory's
    file)."""
    if _active is None or _active.backend == "sqlite":
        return None
    return _active.url_for(data_dir)
