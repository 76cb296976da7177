"""The bridge across broker outages, center restarts and refused credentials."""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from firmware_sim.broker import MosquittoBroker
from protocol import codec
from protocol.events import ManifestAccepted
from protocol.topics import Channel, device_topic
from tests.center.helpers import device, in_minutes, ok, text_voice, unit
from tests.support.center import running_center
from tests.support.mqtt import connect_client

pytestmark = pytest.mark.integration


def test_broker_down_then_back(tmp_path: Path, broker: MosquittoBroker) -> None:
    with running_center(tmp_path / "c", mqtt_host=broker.host, mqtt_port=broker.center_port,
                        mqtt_password=broker.center_password) as center:
        api = center.api
        speaker = device(api, unit(api))["id"]
        bulletin = ok(api.post("/api/v1/bulletins", json={"title": "T", "kind": "text",
                                                          "text": "Xin chào"}))
        text_voice(api, bulletin["id"])  # speakers get a text bulletin once its voice is made
        broker.stop()
        center.wait_for(lambda: not center.center.bridge.connected, what="disconnect")
        assert ok(api.get("/healthz"))["status"] == "degraded"
        r = api.post(f"/api/v1/devices/{speaker}/commands", json={"type": "stop"})
        assert r.status_code == 503
        assert "not connected to the MQTT broker" in r.json()["detail"]
        history = ok(api.get(f"/api/v1/devices/{speaker}/commands"))["items"]
        assert [(h["kind"], h["result"], h["flagged"]) for h in history[:1]] == [
            ("stop", "undelivered", True)]
        # A schedule is accepted (the database is the truth) and its manifest waits.
        created = ok(api.post("/api/v1/schedules", json={
            "bulletin_id": bulletin["id"], "start_at": in_minutes(30),
            "targets": {"device_ids": [speaker]}}))
        assert created["delivery"]["pending_ids"] == [speaker]
        pending = ok(api.get(f"/api/v1/devices/{speaker}/manifest"))
        assert pending["version"] == 2 and pending["published_at"] is None
        broker.start()
        center.wait_for(
            lambda: ok(api.get(f"/api/v1/devices/{speaker}/manifest"))["published_at"],
            timeout=30, what="the pending manifest to be published after reconnect")


def test_events_sent_while_the_center_is_down_arrive_after_restart(
    tmp_path: Path, broker: MosquittoBroker
) -> None:
    start_center = functools.partial(running_center, tmp_path / "c", mqtt_host=broker.host,
                                     mqtt_port=broker.center_port,
                                     mqtt_password=broker.center_password)
    with start_center() as center:
        created = device(center.api, unit(center.api), broker)
    speaker = created["id"]
    client = connect_client(broker.host, broker.port, speaker, created["mqtt_password"])
    event_ids = [uuid.uuid4().hex for _ in range(5)]
    for event_id in event_ids:
        event = ManifestAccepted(event_id=event_id, device_id=speaker, at=datetime.now(UTC),
                                 version=1)
        client.publish(device_topic(speaker, Channel.EVENT), codec.encode(event))
    client.close()
    broker.restart()  # the queue survives a broker restart too (persistence)
    with start_center() as center:  # same data dir and client id: the session resumes
        found = center.wait_for(
            lambda: {e["event_id"] for e in ok(center.api.get(
                "/api/v1/events", params={"device_id": speaker}))["items"]} == set(event_ids),
            what="the queued events")
        assert found


def test_wrong_center_password_stops_retrying(tmp_path: Path, broker: MosquittoBroker) -> None:
    with pytest.raises(RuntimeError, match="auth_failed"), running_center(
        tmp_path / "c", mqtt_host=broker.host, mqtt_port=broker.center_port, mqtt_password="wrong"
    ):
        pass
