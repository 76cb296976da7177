"""Cluster locks and the elector on a real PostgreSQL: two lock services stand for two
center processes (each its own engine and connections, as separate processes have)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from control_center.cluster.elector import Elector, Role
from control_center.cluster.locks import LocalLocks, PostgresLocks, Section, locks_for
from control_center.db import create_db_engine
from tests.support.databases import Databases
from tests.support.waiting import wait_until


@pytest.fixture
def engines(databases: Databases, tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    url = databases.url_for(tmp_path, "postgresql", migrated=False)
    first, second = create_db_engine(url), create_db_engine(url)
    yield first, second
    first.dispose()
    second.dispose()


def _terminate_others(engine: Engine) -> int:
    """What a crashed process does to its connections: the server ends them."""
    with engine.connect() as conn:
        ended = conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
    return int(ended)


def test_one_holder_at_a_time_and_a_lost_connection_frees_its_locks(
        engines: tuple[Engine, Engine]) -> None:
    first, second = PostgresLocks(engines[0]), PostgresLocks(engines[1])
    assert isinstance(locks_for(engines[0]), PostgresLocks)
    try:
        assert first.try_acquire("role:manifests")
        assert not second.try_acquire("role:manifests")
        assert not first.try_acquire("role:manifests")  # not re-entrant: one holder per name
        assert second.try_acquire("seat:1")
        first.release("role:manifests")
        assert second.try_acquire("role:manifests")
        assert first.try_acquire("seat:0")

        spare = create_db_engine(str(engines[0].url.render_as_string(hide_password=False)))
        try:
            assert _terminate_others(spare) >= 2  # both lock connections at least
        finally:
            spare.dispose()
        assert not first.alive() and first.held() == frozenset()
        assert not second.alive() and second.held() == frozenset()
        assert first.try_acquire("role:manifests")  # a new lock connection, a new holder
        assert first.alive()
    finally:
        first.close()
        second.close()


def test_a_section_admits_one_process_at_a_time(engines: tuple[Engine, Engine]) -> None:
    sections = [Section(PostgresLocks(e), "manifests") for e in engines]
    inside = threading.Event()
    leave = threading.Event()
    order: list[str] = []

    def hold_first() -> None:
        with sections[0]:
            order.append("first in")
            inside.set()
            leave.wait(10)
            order.append("first out")

    def then_second() -> None:
        inside.wait(10)
        with sections[1]:
            order.append("second in")

    threads = [threading.Thread(target=hold_first), threading.Thread(target=then_second)]
    for thread in threads:
        thread.start()
    assert inside.wait(10)
    with engines[1].connect() as conn:  # the second waits on the server for the lock
        wait_until(lambda: conn.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"))
            .scalar_one() == 1, 10, "the second process to wait for the lock")
        assert order == ["first in"]
    leave.set()
    for thread in threads:
        thread.join(10)
    assert order == ["first in", "first out", "second in"]


def test_the_elector_hands_a_role_over_when_its_holder_goes(
        engines: tuple[Engine, Engine]) -> None:
    started: dict[str, int] = {"first": 0, "second": 0}
    stopped: dict[str, int] = {"first": 0, "second": 0}

    services: list[PostgresLocks] = []

    def elector(name: str, engine: Engine) -> Elector:
        services.append(PostgresLocks(engine))
        return Elector(locks=services[-1], interval_s=0.05, roles=[Role(
            "rollouts", start=lambda: started.__setitem__(name, started[name] + 1),
            stop=lambda: stopped.__setitem__(name, stopped[name] + 1))])

    first, second = elector("first", engines[0]), elector("second", engines[1])
    first.start()  # the first election runs in start(): it wins at once
    second.start()
    try:
        assert first.leads("rollouts") and not second.leads("rollouts")
        assert second.wait_ticks(3, 10) and not second.leads("rollouts")
        first.stop()  # a clean stop releases the lock; a crash frees it the same way
        assert stopped["first"] == 1
        assert second.wait_ticks(second.ticks + 2, 10)
        assert second.leads("rollouts") and started == {"first": 1, "second": 1}
    finally:
        first.stop()
        second.stop()
        for service in services:
            service.close()


def test_on_sqlite_the_one_process_holds_everything() -> None:
    locks = LocalLocks()
    assert locks.try_acquire("role:x") and not locks.try_acquire("role:x")
    assert locks.alive() and locks.held() == frozenset({"role:x"})
    locks.release("role:x")
    assert locks.try_acquire("role:x")
