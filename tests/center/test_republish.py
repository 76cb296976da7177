"""The center converges: it publishes a device's unchanged manifest again when the broker lost
its retained store (restarted without its persistence file) and when the device reports an
older version than the center published, at most once per device per interval."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.broker import MosquittoBroker
from protocol import codec
from protocol.events import Status
from protocol.telemetry import HealthReport, HealthSample
from protocol.topics import Channel, device_topic
from tests.center.helpers import device, in_minutes, ok, text_voice, unit
from tests.support.center import CenterHandle, running_center
from tests.support.mqtt import MqttTestClient, ReceivedMessage, connect_client

pytestmark = pytest.mark.integration


def _manifest(center: CenterHandle, device_id: str) -> dict[str, Any]:
    return ok(center.api.get(f"/api/v1/devices/{device_id}/manifest"))


def _retained(broker: MosquittoBroker, created: dict[str, Any]) -> ReceivedMessage:
    """What a device that subscribes now gets: the retained manifest on its topic."""
    topic = device_topic(created["id"], Channel.MANIFEST)
    client = connect_client(broker.host, broker.port, created["id"], created["mqtt_password"])
    try:
        client.subscribe(topic)
        return client.wait_for_message(topic)
    finally:
        client.close()


def _published_after(center: CenterHandle, device_id: str, instant: str) -> bool:
    published = _manifest(center, device_id)["published_at"]
    return published is not None and datetime.fromisoformat(published) > \
        datetime.fromisoformat(instant)


def test_a_broker_that_lost_its_store_gets_every_manifest_again(
    tmp_path: Path, broker: MosquittoBroker
) -> None:
    with running_center(tmp_path / "center", mqtt_host=broker.host,
                        mqtt_port=broker.center_port,
                        mqtt_password=broker.center_password) as center:
        api, republisher = center.api, center.center.republisher
        speakers = [device(api, unit(api), broker) for _ in range(2)]
        for created in speakers:
            center.wait_for(lambda c=created: _manifest(center, c["id"])["published_at"],
                            what="the first manifest")
        before = {c["id"]: _manifest(center, c["id"]) for c in speakers}
        for created in speakers:
            assert _retained(broker, created).payload == before[created["id"]]["envelope"].encode()

        # A plain restart keeps the store (sessions and retained messages): nothing is resent.
        everything, runs = republisher.counters["all"], center.center.refresher.runs
        broker.restart()
        center.wait_for(lambda: center.center.bridge.connected, timeout=30, what="reconnect")
        assert center.center.refresher.wait_for_runs(runs + 1, 10)  # the reconnect's sync
        assert republisher.counters["all"] == everything
        assert _manifest(center, speakers[0]["id"])["published_at"] == \
            before[speakers[0]["id"]]["published_at"]

        # Restarted without mosquitto.db: no session for the center, no retained manifests.
        broker.stop()
        (broker.data_dir / "mosquitto.db").unlink()
        broker.start()
        center.wait_for(lambda: center.center.bridge.connected, timeout=30, what="reconnect")
        for created in speakers:
            center.wait_for(
                lambda c=created: _published_after(center, c["id"],
                                                   before[c["id"]]["published_at"]),
                timeout=20, what=f"{created['id']}'s manifest to be published again")
        assert republisher.counters["all"] == everything + 1
        for created in speakers:
            again = _retained(broker, created)
            now = _manifest(center, created["id"])
            assert again.retain and again.payload == before[created["id"]]["envelope"].encode()
            assert now["version"] == before[created["id"]]["version"]  # unchanged, resent


def _status(client: MqttTestClient, device_id: str, held: int | None) -> None:
    status = Status(device_id=device_id, online=True, at=datetime.now(UTC),
                    manifest_version=held)
    client.publish(device_topic(device_id, Channel.STATUS), codec.encode(status), retain=True)


def _health(client: MqttTestClient, device_id: str, held: int | None) -> None:
    sample = HealthSample(sample_id=uuid.uuid4().hex, at=datetime.now(UTC),
                          manifest_version=held)
    client.publish(device_topic(device_id, Channel.TELEMETRY),
                   codec.encode(HealthReport(device_id=device_id, samples=(sample,))))


INTERVAL_S = 1.5


def test_a_device_behind_gets_its_manifest_again_once_per_interval(
    tmp_path: Path, broker: MosquittoBroker
) -> None:
    with running_center(tmp_path / "center", mqtt_host=broker.host,
                        mqtt_port=broker.center_port, mqtt_password=broker.center_password,
                        republish_settle_s=0, republish_interval_s=INTERVAL_S,
                        monitor_interval_s=0.1) as center:
        api, republisher = center.api, center.center.republisher
        created = device(api, unit(api), broker)
        speaker = created["id"]
        bulletin = ok(api.post("/api/v1/bulletins", json={"title": "T", "kind": "text",
                                                          "text": "Xin chào"}))
        text_voice(api, bulletin["id"])  # speakers get a text bulletin once it is spoken
        ok(api.post("/api/v1/schedules", json={"bulletin_id": bulletin["id"],
                                               "start_at": in_minutes(30),
                                               "targets": {"device_ids": [speaker]}}))
        current = center.wait_for(lambda: (m := _manifest(center, speaker))["published_at"]
                                  and m["version"] == 2 and m, what="manifest v2 published")
        topic = device_topic(speaker, Channel.MANIFEST)
        client = connect_client(broker.host, broker.port, speaker, created["mqtt_password"])
        try:
            client.subscribe(topic)
            client.wait_for_message(topic)  # the retained v2
            assert len(client.received_on(topic)) == 1

            # A birth saying "I hold v1": the center publishes v2 again (same envelope).
            _status(client, speaker, held=1)
            client.wait_for(lambda m: len(client.received_on(topic)) >= 2, "v2 again")
            first_resend = republisher.asked_at(speaker)
            assert first_resend is not None
            assert {m.payload for m in client.received_on(topic)} == \
                {current["envelope"].encode()}
            assert republisher.counters["device"] == 1

            # Its health samples keep saying v1 (it refuses v2, say): within the interval
            # each is throttled, so there is no publish loop.
            _health(client, speaker, held=1)
            center.wait_for(lambda: republisher.counters["throttled"] >= 1,
                            what="a throttled request")
            assert len(client.received_on(topic)) == 2

            # After the interval it is sent once more; each later report within the next
            # interval is throttled again.
            reported = [0.0]

            def resent() -> bool:
                if time.monotonic() - reported[0] > 0.2:  # a report every 0.2 s
                    _health(client, speaker, held=1)
                    reported[0] = time.monotonic()
                return len(client.received_on(topic)) >= 3
            center.wait_for(resent, timeout=INTERVAL_S * 6, what="the second resend")
            # decided (not seen: a busy refresher may publish the first one late) no sooner
            # than the interval after the first
            second_resend = republisher.asked_at(speaker)
            assert second_resend is not None and second_resend - first_resend >= INTERVAL_S
            assert republisher.counters["device"] == 2

            # Holding the current version is not behind: nothing more is sent.
            births = center.center.ingestor.snapshot()["status"]
            _status(client, speaker, held=2)
            _health(client, speaker, held=2)
            center.wait_for(lambda: center.center.ingestor.snapshot()["status"] > births,
                            what="the birth")
            assert center.center.telemetry.monitor.wait_ticks(3, 10)
            assert republisher.counters["device"] == 2
            assert len(client.received_on(topic)) == 3
        finally:
            client.close()
