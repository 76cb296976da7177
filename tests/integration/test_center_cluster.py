"""A center of two processes on one PostgreSQL: one killed during a burst of play events.

Two real ``python -m control_center serve`` processes share a real PostgreSQL database, a
data directory and a real Mosquitto; each takes an ingest seat (a shared subscription) and
the first to start runs every singleton role. Twenty devices publish a burst of play events;
the process running the roles is killed (SIGKILL) while most of the burst is still on its way.
Every event is then stored exactly once, the survivor runs every role and has drained the
dead process's seat, and the dead process, started again, takes a free seat.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from firmware_sim.broker import MosquittoBroker
from firmware_sim.center_process import REPO, CenterProcess
from firmware_sim.local_server import free_port
from firmware_sim.postgres import PostgresServer
from protocol import codec
from protocol.base import Priority
from protocol.events import PlayCompleted, PlayStarted
from protocol.topics import Channel, device_topic
from tests.support.mqtt import MqttTestClient
from tests.support.waiting import wait_until

DEVICES = 20
ITEMS = 40  # per device; each item sends a start and a completion: 1,600 events in all
STARTUP_S = 120.0  # a loaded 2-core machine imports the app slowly; ready is an event
ROLES = ["broker-accounts", "federation-link", "feedback-overdue", "live-relays", "manifests",
         "media-resume", "monitor", "rollouts"]


@dataclass
class Cluster:
    broker: MosquittoBroker
    database_url: str
    first: _Process
    second: _Process


class _Process(CenterProcess):
    """A center process whose output goes to a file of its own in the shared data dir."""

    def __init__(self, data_dir: Path, log_name: str, **kwargs: Any) -> None:
        super().__init__(data_dir, **kwargs)
        self.output_file = log_name  # type: ignore[misc]

    def kill(self) -> None:
        """SIGKILL: no clean disconnect, no lock released by the process itself."""
        assert self.pid is not None
        os.kill(self.pid, signal.SIGKILL)
        assert self._proc is not None
        self._proc.wait(timeout=10)


def _health(process: CenterProcess) -> dict[str, Any]:
    reply = httpx.get(f"{process.base_url}/healthz", timeout=5)
    body: dict[str, Any] = reply.json()
    return body


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    with PostgresServer(root / "postgres") as postgres, \
            MosquittoBroker(root / "broker") as broker:
        url = postgres.create_database("center")
        env = {"TT_DATABASE_URL": url, "TT_INGEST_SEATS": "2",
               "TT_CLUSTER_CHECK_SECONDS": "0.2"}
        data = root / "center"
        common = {"mqtt_port": broker.center_port, "mqtt_password": broker.center_password,
                  "extra_env": env}
        first = _Process(data, "center-1.log", port=free_port(), **common)
        second = _Process(data, "center-2.log", port=free_port(), **common)
        first.start(timeout=STARTUP_S)
        wait_until(lambda: _health(first)["cluster"]["roles"] == ROLES, 20,
                   "the first process to run every role")
        second.start(timeout=STARTUP_S)
        try:
            yield Cluster(broker, url, first, second)
        finally:
            second.stop()
            first.stop()


def _devices(process: CenterProcess) -> list[tuple[str, str]]:
    """Register a commune and its devices; (device id, broker password) for each."""
    with process.client() as api:
        unit = api.post("/api/v1/units", json={"code": "CL-01", "name": "Xã Cụm",
                                               "level": "commune"})
        assert unit.status_code == 201, unit.text
        made = []
        for n in range(DEVICES):
            reply = api.post("/api/v1/devices", json={
                "id": f"cl-{n:03d}", "name": f"Loa {n}", "kind": "speaker",
                "unit_id": unit.json()["id"]})
            assert reply.status_code == 201, reply.text
            made.append((reply.json()["id"], reply.json()["mqtt_password"]))
        return made


def _burst(device_id: str) -> list[bytes]:
    start = datetime.now(UTC).replace(microsecond=0)
    payloads = []
    for item in range(ITEMS):
        at = start + timedelta(seconds=item)
        common = {"device_id": device_id, "item_id": f"s1r{item}-{at:%Y%m%dT%H%M%SZ}",
                  "bulletin_id": 1, "priority": Priority.NORMAL, "scheduled_at": at}
        payloads.append(codec.encode(PlayStarted(event_id=uuid.uuid4().hex, at=at,
                                                 started_at=at, **common)))
        payloads.append(codec.encode(PlayCompleted(
            event_id=uuid.uuid4().hex, at=at, started_at=at,
            ended_at=at + timedelta(milliseconds=500), **common)))
    return payloads


def _stored(engine: Any, device_ids: list[str]) -> tuple[int, int]:
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT count(*), count(DISTINCT event_id) FROM device_events "
            "WHERE device_id = ANY(:ids)"), {"ids": device_ids}).one()
    return int(row[0]), int(row[1])


def test_killing_a_process_mid_burst_loses_and_duplicates_nothing(cluster: Cluster) -> None:
    first, second = cluster.first, cluster.second
    assert _health(first)["cluster"]["seat"] == 0
    assert _health(second)["cluster"] == {"seat": 1, "roles": [], "drained": {}}
    devices = _devices(second)
    ids = [d for d, _ in devices]
    bursts = {d: _burst(d) for d in ids}
    total = sum(len(b) for b in bursts.values())
    clients = [MqttTestClient(cluster.broker.host, cluster.broker.port, username=d,
                              password=pw, client_id=d) for d, pw in devices]
    engine = create_engine(cluster.database_url)
    try:
        for client in clients:
            client.connect()
        go = threading.Event()

        def publish(client: MqttTestClient) -> None:
            go.wait()
            topic = device_topic(client.username, Channel.EVENT)
            for payload in bursts[client.username]:
                client.publish(topic, payload, qos=1)  # PUBACK: the broker has it

        threads = [threading.Thread(target=publish, args=(c,)) for c in clients]
        for thread in threads:
            thread.start()
        go.set()
        wait_until(lambda: _stored(engine, ids)[0] >= total // 10, 30,
                   "a tenth of the burst stored")
        first.kill()  # it runs every role and still has its share of the burst to store
        for thread in threads:
            thread.join(timeout=30)

        wait_until(lambda: _stored(engine, ids) == (total, total), 60,
                   f"all {total} events stored once")
        health = wait_until(lambda: (h := _health(second))["cluster"]["roles"] == ROLES and h,
                            20, "the survivor to run every role")
        assert sum(health["cluster"]["drained"].values()) > 0, health["cluster"]
        with engine.connect() as conn:
            plays = conn.execute(text(
                "SELECT status, count(*) FROM play_logs WHERE device_id = ANY(:ids) "
                "GROUP BY status"), {"ids": ids}).all()
        assert dict(plays) == {"completed": DEVICES * ITEMS}

        first.start(timeout=STARTUP_S)  # its supervisor starts it again: the drained seat is free
        assert _health(first)["cluster"] == {"seat": 0, "roles": [], "drained": {}}
        assert _stored(engine, ids) == (total, total)
    finally:
        for client in clients:
            client.close()
        engine.dispose()


class _Workers(CenterProcess):
    """``serve --workers N``: one address, N API worker processes."""

    def __init__(self, data_dir: Path, workers: int, **kwargs: Any) -> None:
        super().__init__(data_dir, **kwargs)
        self.workers = workers

    def _launch(self) -> Any:
        return self._spawn([sys.executable, "-m", "control_center", "serve", "--host",
                            self.host, "--port", str(self.port), "--workers",
                            str(self.workers)], env=self.env, cwd=REPO, detached=False)


def test_serve_with_workers_answers_from_every_seat(
        cluster: Cluster, tmp_path: Path) -> None:
    postgres_url = cluster.database_url.rsplit("/", 1)[0]
    admin = create_engine(f"{postgres_url}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE workers"))
    admin.dispose()
    env = {"TT_DATABASE_URL": f"{postgres_url}/workers", "TT_MQTT_CLIENT_ID": "workers"}
    server = _Workers(tmp_path / "center", 2, port=free_port(),
                      mqtt_port=cluster.broker.center_port,
                      mqtt_password=cluster.broker.center_password, extra_env=env)
    server.start(timeout=STARTUP_S)
    try:
        seen: set[int] = set()

        def both_seats() -> bool:
            seen.add(_health(server)["cluster"]["seat"])
            return seen == {0, 1}

        wait_until(both_seats, 30, "both workers to answer /healthz")
    finally:
        server.stop()

    sqlite = subprocess.run(
        [sys.executable, "-m", "control_center", "serve", "--workers", "2"],
        env={**server.env, "TT_DATABASE_URL": f"sqlite:///{tmp_path / 'center.db'}"},
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert sqlite.returncode != 0
    assert "needs PostgreSQL" in sqlite.stderr, sqlite.stderr[-500:]
