"""Migrations: from an empty database, on SQLite and on PostgreSQL, they give the models' schema;
SQLite runs with WAL and foreign keys."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DataError, IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from control_center.api.errors import database_value_error
from control_center.db import alembic_config, create_db_engine, normalized_url, upgrade_database
from control_center.models import AdminUnit, Base
from tests.support.databases import Backend, Databases


@pytest.fixture
def empty_engine(tmp_path: Path, databases: Databases, db_backend: Backend) -> Iterator[Engine]:
    """An empty database (no template, no migration) on the module's backend."""
    eng = create_db_engine(databases.url_for(tmp_path, db_backend, migrated=False))
    yield eng
    eng.dispose()


def test_the_migrations_from_empty_give_the_models_schema(empty_engine: Engine) -> None:
    with empty_engine.connect() as connection:
        assert "alembic_version" not in inspect(connection).get_table_names()
    upgrade_database(empty_engine)
    with empty_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    cfg = alembic_config(empty_engine)
    with empty_engine.begin() as connection:  # what `alembic check` says, through env.py
        cfg.attributes["connection"] = connection
        command.check(cfg)


def test_processes_starting_at_once_migrate_once(empty_engine: Engine) -> None:
    """Two center processes on one empty database (two engines and threads here; the lock is
    taken before Alembic starts): one migrates, the other waits, then finds the newest
    revision. On PostgreSQL, without the advisory lock, both would create the tables."""
    second = create_db_engine(empty_engine.url.render_as_string(hide_password=False))
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            started = [pool.submit(upgrade_database, eng) for eng in (empty_engine, second)]
            for each in started:
                each.result(timeout=120)
    finally:
        second.dispose()
    head = ScriptDirectory.from_config(alembic_config(empty_engine)).get_current_head()
    with empty_engine.connect() as conn:
        assert conn.execute(text("select version_num from alembic_version")).scalars().all() \
            == [head]


def test_a_bare_postgresql_url_gets_the_psycopg_driver() -> None:
    assert normalized_url("postgresql://u:p@db:5432/tt") == "postgresql+psycopg://u:p@db:5432/tt"
    assert normalized_url("postgres://db/tt") == "postgresql+psycopg://db/tt"
    assert normalized_url("postgresql+psycopg://db/tt") == "postgresql+psycopg://db/tt"
    assert normalized_url("sqlite:///x/center.db") == "sqlite:///x/center.db"


def test_upgrade_is_idempotent(engine: Engine) -> None:
    upgrade_database(engine)
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as conn:
        assert conn.execute(text("select version_num from alembic_version")).scalar() == head


@pytest.mark.sqlite_only
def test_sqlite_pragmas(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_foreign_keys_are_enforced(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(IntegrityError), sessions.begin() as s:
        s.add(AdminUnit(code="x", name="x", level="commune", parent_id=999,
                        created_at=datetime.now(UTC)))


def test_naive_datetimes_are_not_stored(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(StatementError, match="naive datetime"), sessions.begin() as s:
        s.add(AdminUnit(code="y", name="y", level="commune", created_at=datetime(2026, 1, 1)))


def test_text_longer_than_its_column_is_the_requests_fault(
    sessions: sessionmaker[Session], db_backend: Backend
) -> None:
    """PostgreSQL enforces VARCHAR(n) (SQLite does not): the API answers 422 saying so."""
    unit = AdminUnit(code="c" * 65, name="x", level="commune", created_at=datetime.now(UTC))
    if db_backend == "sqlite":
        with sessions.begin() as s:
            s.add(unit)
        return
    with pytest.raises(DataError) as refused, sessions.begin() as s:
        s.add(unit)
    answer = asyncio.run(database_value_error(refused.value))
    assert answer.status_code == 422 and b"longer than the database keeps" in answer.body
