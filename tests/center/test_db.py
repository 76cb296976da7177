"""Migrations: the first revision matches the models; SQLite runs with WAL and foreign keys."""

from __future__ import annotations

from datetime import datetime

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from control_center.db import alembic_config, upgrade_database
from control_center.models import AdminUnit


def test_models_match_the_migrations(engine: Engine) -> None:
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.check(cfg)  # raises when autogenerate would find a difference


def test_upgrade_is_idempotent(engine: Engine) -> None:
    upgrade_database(engine)
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as conn:
        assert conn.execute(text("select version_num from alembic_version")).scalar() == head


def test_sqlite_pragmas(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_foreign_keys_are_enforced(sessions: sessionmaker[Session]) -> None:
    from datetime import UTC

    with pytest.raises(IntegrityError), sessions.begin() as s:
        s.add(AdminUnit(code="x", name="x", level="commune", parent_id=999,
                        created_at=datetime.now(UTC)))


def test_naive_datetimes_are_not_stored(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(StatementError, match="naive datetime"), sessions.begin() as s:
        s.add(AdminUnit(code="y", name="y", level="commune", created_at=datetime(2026, 1, 1)))
