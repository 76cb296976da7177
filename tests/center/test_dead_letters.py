"""The receiver's dead-letter queue on a real SQLite database: arrival order kept across the
table and the spool, a message that keeps failing held for a person, a torn spool line dropped
alone."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from control_center.db import create_db_engine, session_factory, upgrade_database
from control_center.models import IngestDeadLetter
from control_center.workers.dead_letters import GIVE_UP_AFTER, SPOOL_NAME, DeadLetters
from control_center.workers.receiver import Receiver

pytestmark = pytest.mark.sqlite_only  # the database is made busy by SQLite's file lock


@pytest.fixture
def quick_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated database whose writers wait only 200 ms for the lock."""
    engine = create_db_engine(f"sqlite:///{tmp_path / 'center.db'}", busy_timeout_ms=200)
    upgrade_database(engine)
    yield engine
    engine.dispose()


def _now() -> datetime:
    return datetime.now(UTC)


class Rig:
    def __init__(self, sessions: sessionmaker[Session], spool: Path) -> None:
        self.handled: list[str] = []
        self.counts: Counter[str] = Counter()
        self.letters = DeadLetters(sessions=sessions, spool_path=spool, clock=_now)
        self.letters.load()
        self.receiver = Receiver(ingest=self._ingest, telemetry=self._ingest,
                                 letters=self.letters, count=self._count, replay_s=60)

    def _count(self, name: str) -> None:
        self.counts[name] += 1

    def _ingest(self, topic: str, payload: bytes) -> bool:
        if "poison" in topic:
            raise ValueError(f"cannot handle {payload!r}")
        self.handled.append(topic)
        return True


def _locked(database: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("BEGIN EXCLUSIVE")
    return connection


def test_order_is_kept_and_a_poison_message_is_held(quick_engine: Engine, tmp_path: Path) -> None:
    sessions = session_factory(quick_engine)
    rig = Rig(sessions, tmp_path / SPOOL_NAME)
    receiver, letters = rig.receiver, rig.letters

    assert receiver.handle("tt/v1/dev/a/event", b"1")
    assert receiver.handle("tt/v1/dev/poison/event", b"p")  # fails: a dead letter, acked
    assert receiver.handle("tt/v1/dev/a/status", b"2")  # waits behind it, in the table
    assert (letters.backlog, rig.counts["dead_letter"], rig.counts["queued"]) == (2, 1, 1)

    lock = _locked(tmp_path / "center.db")
    try:
        assert receiver.handle("tt/v1/dev/b/event", b"3")  # the table is locked: spooled
        assert receiver.handle("tt/v1/dev/c/event", b"4")
        assert rig.counts["spooled"] == 2 and letters.backlog == 4
        assert receiver.replay() == 0  # the database does not take writes: nothing moves
    finally:
        lock.execute("ROLLBACK")
        lock.close()

    # Replayed in arrival order (table first, then the spool); the poison one fails again.
    assert receiver.replay() == 4
    assert rig.handled == ["tt/v1/dev/a/event", "tt/v1/dev/a/status", "tt/v1/dev/b/event",
                           "tt/v1/dev/c/event"]
    assert not (tmp_path / SPOOL_NAME).exists()
    assert (rig.counts["replayed"], rig.counts["replay_failed"], letters.backlog) == (3, 1, 1)

    assert receiver.handle("tt/v1/dev/d/event", b"5")  # still behind the poison one
    assert rig.handled[-1] != "tt/v1/dev/d/event"
    while letters.backlog:
        receiver.replay()
    assert rig.handled[-1] == "tt/v1/dev/d/event"
    assert (letters.backlog, letters.held, rig.counts["replay_failed"]) == (0, 1,
                                                                           GIVE_UP_AFTER - 1)
    with sessions() as session:
        (held,) = session.scalars(select(IngestDeadLetter)).all()
    assert (held.topic, held.payload, held.attempts) == ("tt/v1/dev/poison/event", b"p",
                                                         GIVE_UP_AFTER)
    assert "ValueError: cannot handle" in held.error

    assert receiver.handle("tt/v1/dev/e/event", b"6")  # held letters do not hold others up
    assert rig.handled[-1] == "tt/v1/dev/e/event"

    restarted = Rig(sessions, tmp_path / SPOOL_NAME)  # a restart counts what is left
    assert (restarted.letters.backlog, restarted.letters.held) == (0, 1)


def test_a_torn_spool_line_is_dropped_alone(quick_engine: Engine, tmp_path: Path) -> None:
    sessions = session_factory(quick_engine)
    spool = tmp_path / SPOOL_NAME
    rig = Rig(sessions, spool)
    lock = _locked(tmp_path / "center.db")
    try:
        assert rig.receiver.handle("tt/v1/dev/poison/event", b"x")  # fails, spooled
        assert rig.receiver.handle("tt/v1/dev/a/event", b"1")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    with spool.open("a", encoding="utf-8") as fh:
        fh.write('{"topic": "tt/v1/dev/torn/ev')  # a power cut in the middle of a write

    restarted = Rig(sessions, spool)
    assert restarted.letters.backlog == 3  # counted as lines; the torn one is found unreadable
    lock = _locked(tmp_path / "center.db")
    try:
        assert restarted.receiver.handle("tt/v1/dev/b/event", b"2")  # spooled after it
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert restarted.receiver.replay() == 3
    assert restarted.handled == ["tt/v1/dev/a/event", "tt/v1/dev/b/event"]
    assert restarted.letters.backlog == 1  # the poison one, failing (not yet held)
