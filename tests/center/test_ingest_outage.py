"""Ingest never stalls on a database error: with the center's database locked by another
connection, every message is still acknowledged (spooled), the broker keeps delivering past the
session's receive maximum, and once the lock is gone each event is stored exactly once."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from control_center.workers.dead_letters import SPOOL_NAME
from firmware_sim.broker import MosquittoBroker
from protocol import codec
from protocol.events import AgentFault
from protocol.topics import Channel, device_topic
from tests.center.helpers import device, ok, unit
from tests.support.center import CenterHandle, running_center
from tests.support.mqtt import MqttTestClient, connect_client

# A SQLite write lock held by another process; PostgreSQL has no such whole-database lock.
pytestmark = [pytest.mark.integration, pytest.mark.sqlite_only]

RECEIVE_MAXIMUM = 100  # the center's MQTT session (MqttOptions.receive_maximum)
BURST = RECEIVE_MAXIMUM + 50


@contextmanager
def write_locked(database: Path) -> Iterator[None]:
    """Hold SQLite's write lock from another connection (as a long migration or a stuck
    writer would): every write of the center fails with "database is locked"."""
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        connection.execute("BEGIN EXCLUSIVE")
        yield
        connection.execute("ROLLBACK")
    finally:
        connection.close()


def _faults(client: MqttTestClient, device_id: str, count: int) -> list[str]:
    """Publish ``count`` agent_fault events (QoS 1: each acknowledged by the broker)."""
    ids = []
    for n in range(count):
        event = AgentFault(event_id=uuid.uuid4().hex, device_id=device_id, at=datetime.now(UTC),
                           component="player", error=f"OSError: disk I/O error ({n})",
                           count=n + 1, recovery="retrying in 1 s")
        client.publish(device_topic(device_id, Channel.EVENT), codec.encode(event))
        ids.append(event.event_id)
    return ids


def _stored(center: CenterHandle, device_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = ok(center.api.get("/api/v1/events", params={
        "device_id": device_id, "type": "agent_fault", "limit": 5000}))["items"]
    return items


def _dead_letter_rows(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        return int(connection.execute("SELECT count(*) FROM ingest_dead_letters").fetchone()[0])


def test_a_locked_database_neither_stalls_nor_loses_messages(
    tmp_path: Path, broker: MosquittoBroker
) -> None:
    with running_center(tmp_path / "center", mqtt_host=broker.host,
                        mqtt_port=broker.center_port, mqtt_password=broker.center_password,
                        dead_letter_replay_s=0.2) as center:
        database = center.data_dir / "center.db"
        created = device(center.api, unit(center.api), broker)
        speaker = created["id"]
        client = connect_client(broker.host, broker.port, speaker, created["mqtt_password"])
        ingestor = center.center.ingestor
        try:
            with write_locked(database):
                during = _faults(client, speaker, BURST)
                # More messages than the receive maximum were taken in, so the center
                # acknowledged them: with one left unacknowledged per failure it would stop
                # at 100 and the broker would send nothing more.
                kept = ("spooled", "dead_letter", "queued")
                assert ingestor.wait_for(lambda c: sum(c[k] for k in kept) >= BURST, 30), \
                    dict(ingestor.snapshot())
                counters = ingestor.snapshot()
                assert counters["error:database"] >= 1 and counters["spooled"] == BURST
                health = ok(center.api.get("/healthz"))
                assert health["status"] == "degraded"
                assert (health["mqtt"]["backlog"], health["mqtt"]["held"]) == (BURST, 0)
                assert (center.data_dir / SPOOL_NAME).is_file()
                assert _stored(center, speaker) == []  # readers still work; nothing stored

            # The lock is gone: the replay stores every spooled message, once.
            center.wait_for(lambda: len(_stored(center, speaker)) == BURST, timeout=30,
                            what="the spooled events to be replayed")
            assert ingestor.wait_for(lambda c: c["replayed"] >= BURST, 10)
            center.wait_for(lambda: ok(center.api.get("/healthz"))["mqtt"]["backlog"] == 0,
                            what="the backlog to drain")
            assert not (center.data_dir / SPOOL_NAME).exists()
            assert _dead_letter_rows(database) == 0
            stored = _stored(center, speaker)
            assert sorted(e["event_id"] for e in stored) == sorted(during)
            sample = next(e for e in stored if e["event_id"] == during[0])
            assert sample["payload"]["component"] == "player"
            assert sample["payload"]["recovery"] == "retrying in 1 s"

            # The broker still delivers: another burst past the receive maximum is stored
            # directly, and a redelivered event is a duplicate, not a second row.
            before = ingestor.snapshot()
            after = _faults(client, speaker, BURST)
            center.wait_for(lambda: len(_stored(center, speaker)) == 2 * BURST, timeout=30,
                            what="the second burst")
            event = codec.encode(AgentFault(event_id=during[0], device_id=speaker,
                                            at=datetime.now(UTC), component="player",
                                            error="again"))
            client.publish(device_topic(speaker, Channel.EVENT), event)
            assert ingestor.wait_for(lambda c: c["duplicate"] > before["duplicate"], 10)
            counters = ingestor.snapshot()
            assert counters["event"] - before["event"] == BURST
            assert counters["queued"] == before["queued"]  # no backlog left to queue behind
            assert {e["event_id"] for e in _stored(center, speaker)} == {*during, *after}
            assert ok(center.api.get("/healthz"))["status"] == "ok"
        finally:
            client.close()
