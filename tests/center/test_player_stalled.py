"""The stalled-player alarm: a device that reports its health while its player loop stands
still gets a ``player_stalled`` alert, distinct from offline, resolved when the player moves."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.broker import MosquittoBroker
from protocol import codec
from protocol.events import Status
from protocol.telemetry import HealthReport, HealthSample
from protocol.topics import Channel, device_topic
from tests.center.helpers import device, ok, unit
from tests.support.center import CenterHandle, running_center
from tests.support.mqtt import MqttTestClient, connect_client

pytestmark = pytest.mark.integration

THRESHOLD_S = 60.0


@pytest.fixture
def center(tmp_path: Path, broker: MosquittoBroker) -> Iterator[CenterHandle]:
    with running_center(tmp_path / "center", mqtt_host=broker.host,
                        mqtt_port=broker.center_port, mqtt_password=broker.center_password,
                        monitor_interval_s=0.1, alert_player_stalled_s=THRESHOLD_S) as handle:
        yield handle


def _report(client: MqttTestClient, device_id: str, **readings: Any) -> None:
    sample = HealthSample(sample_id=uuid.uuid4().hex, at=datetime.now(UTC), **readings)
    report = HealthReport(device_id=device_id, samples=(sample,))
    client.publish(device_topic(device_id, Channel.TELEMETRY), codec.encode(report))


def _status(client: MqttTestClient, device_id: str, online: bool) -> None:
    status = Status(device_id=device_id, online=online, at=datetime.now(UTC))
    client.publish(device_topic(device_id, Channel.STATUS), codec.encode(status), retain=True)


def _alerts(center: CenterHandle, device_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = ok(center.api.get(
        "/api/v1/monitoring/alerts", params={"device_id": device_id}))["items"]
    return items


def _after_samples(center: CenterHandle) -> None:
    """Two monitor checks: the sample taken in was stored and judged."""
    assert center.center.telemetry.monitor.wait_ticks(2, 10)


def _wait_reports(center: CenterHandle, count: int) -> None:
    telemetry = center.center.telemetry
    center.wait_for(lambda: telemetry.counters["reports"] >= count, what=f"{count} reports")


def test_a_player_that_stops_advancing_raises_its_own_alarm(
    center: CenterHandle, broker: MosquittoBroker
) -> None:
    created = device(center.api, unit(center.api), broker)
    speaker = created["id"]
    client = connect_client(broker.host, broker.port, speaker, created["mqtt_password"])
    try:
        _status(client, speaker, online=True)
        center.wait_for(lambda: ok(center.api.get(f"/api/v1/devices/{speaker}"))["online"],
                        what="the birth")
        _report(client, speaker, heartbeats={"player": 4.0, "downloader": 1.5})
        _wait_reports(center, 1)
        _after_samples(center)
        assert _alerts(center, speaker) == []
        detail = ok(center.api.get(f"/api/v1/monitoring/devices/{speaker}"))["device"]
        assert detail["heartbeats"] == {"player": 4.0, "downloader": 1.5}
        assert detail["presence"] == "online"

        # Alive to the center (it reports), but the player loop has not gone round for 200 s.
        _report(client, speaker, heartbeats={"player": 200.0, "downloader": 1.0}, faults=2,
                outbox_rows=7)
        alert = center.wait_for(
            lambda: next((a for a in _alerts(center, speaker)
                          if a["kind"] == "player_stalled" and a["state"] == "open"), None),
            what="the player_stalled alert")
        assert alert["value"] == 200.0 and "200 s" in alert["detail"]
        assert {a["kind"] for a in _alerts(center, speaker)} == {"player_stalled"}  # not offline
        detail = ok(center.api.get(f"/api/v1/monitoring/devices/{speaker}"))["device"]
        assert (detail["faults"], detail["outbox_rows"], detail["presence"]) == (2, 7, "online")

        # The player goes round again: the alert resolves by itself.
        _report(client, speaker, heartbeats={"player": 2.0})
        center.wait_for(lambda: _alerts(center, speaker)[0]["state"] == "resolved",
                        what="the alert to resolve")

        # Offline (the will), a stale player sample is not a player alarm: offline covers it.
        _status(client, speaker, online=False)
        center.wait_for(lambda: not ok(center.api.get(f"/api/v1/devices/{speaker}"))["online"],
                        what="the will")
        _report(client, speaker, heartbeats={"player": 500.0})
        _wait_reports(center, 4)
        _after_samples(center)
        assert [a["state"] for a in _alerts(center, speaker)] == ["resolved"]
    finally:
        client.close()
