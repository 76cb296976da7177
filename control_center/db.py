"""Engine, sessions and migrations (Alembic ``upgrade head`` at start-up, never create_all)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 15_000
# PostgreSQL: the API's thread pool, the ingest and the workers share one pool per process;
# a server's max_connections must cover pool_size + max_overflow for every center process.
PG_POOL_SIZE = 10
PG_MAX_OVERFLOW = 20
PG_CONNECT_TIMEOUT_S = 10
_PG_DRIVER = "postgresql+psycopg"
# The PostgreSQL advisory lock held while migrating: "tt-migr" in ASCII (the cluster's role
# locks, control_center.cluster.locks, use 64-bit hashes of their names)
MIGRATION_LOCK_KEY = 0x74742D6D696772


def normalized_url(url: str) -> str:
    """``url`` with a bare ``postgresql://`` (or ``postgres://``) given the psycopg 3 driver,
    the one the center ships with; any other URL unchanged."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return _PG_DRIVER + "://" + url[len(scheme):]
    return url


def create_db_engine(url: str, *, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and BEGIN IMMEDIATE transactions,
    PostgreSQL (psycopg 3; ``postgresql://`` means it) a pool checked before each use.

    BEGIN IMMEDIATE makes concurrent writers (API threads, the MQTT ingest thread, the
    refresher) queue on the busy timeout instead of failing when a read turns into a write.
    ``busy_timeout_ms`` is how long one statement waits for SQLite's write lock (the MQTT
    ingest uses a short one: it retries, then keeps the message as a dead letter).
    """
    parsed = make_url(normalized_url(url))
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_pre_ping=True, pool_size=PG_POOL_SIZE,
                             max_overflow=PG_MAX_OVERFLOW,
                             connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S})
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False,
                                              "timeout": busy_timeout_ms / 1000})

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        _sqlite_on_connect(dbapi_connection, busy_timeout_ms)

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, busy_timeout_ms: int) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (see below)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


READ_ONLY = "tt_read_only"


def _sqlite_on_begin(conn: Any) -> None:
    # Readers (GET requests, media downloads) must not queue behind writers for the write
    # lock: under WAL a deferred BEGIN reads a snapshot while a writer works.
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """Sessions for writers, or (``read_only``) for readers that never take the write lock."""
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    return sessionmaker(bind, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration pointing at our migrations, without an ini file."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    url = engine.url.render_as_string(hide_password=False)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_database(engine: Engine) -> None:
    """Bring the schema to the newest revision, in one transaction.

    On SQLite, foreign keys are off while migrating (SQLite's procedure for schema changes:
    recreating a table to drop a column would otherwise cascade into, or be refused by, the
    tables referencing it) and checked before the commit; its write lock (BEGIN IMMEDIATE)
    makes a second process wait. On PostgreSQL (transactional DDL) a transaction-scoped
    advisory lock does the same: of several center processes starting at once, one migrates
    and the others then find the schema at the newest revision.
    """
    cfg = alembic_config(engine)
    sqlite = engine.dialect.name == "sqlite"
    postgresql = engine.dialect.name == "postgresql"
    with engine.connect() as connection:
        if sqlite:  # a PRAGMA that only works outside a transaction
            connection.connection.dbapi_connection.execute(  # type: ignore[union-attr]
                "PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                if postgresql:
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                       {"key": MIGRATION_LOCK_KEY})
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, "head")
                if sqlite and (broken := connection.exec_driver_sql(
                        "PRAGMA foreign_key_check").fetchall()):
                    raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                connection.connection.dbapi_connection.execute(  # type: ignore[union-attr]
                    "PRAGMA foreign_keys=ON")
    log.info("database schema is up to date (%s)", engine.url.render_as_string())
