"""Events and status from a real device connection: de-duplication, play logs, refusals."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.broker import MosquittoBroker
from protocol import codec
from protocol.base import Priority
from protocol.events import (
    ManifestAccepted,
    PlayCompleted,
    PlayFailed,
    PlayInterrupted,
    PlayStarted,
    Status,
)
from protocol.topics import Channel, device_topic
from tests.center.helpers import audio_bulletin, device, ok, unit
from tests.support.center import CenterHandle
from tests.support.mqtt import MqttTestClient, connect_client

pytestmark = pytest.mark.integration


@pytest.fixture
def speaker(center: CenterHandle, module_broker: MosquittoBroker
            ) -> Iterator[tuple[dict[str, Any], MqttTestClient]]:
    created = device(center.api, unit(center.api), module_broker)
    client = connect_client(module_broker.host, module_broker.port, created["id"],
                            created["mqtt_password"])
    yield created, client
    client.close()


def _counts(center: CenterHandle) -> Counter[str]:
    """Take this before publishing; pass it to ``_wait``."""
    return center.center.ingestor.snapshot()


def _wait(center: CenterHandle, base: Counter[str], **expected: int) -> None:
    """Wait until the ingestor counted at least ``expected`` more of each outcome than ``base``."""
    ingestor = center.center.ingestor

    def done(c: Counter[str]) -> bool:
        return all(c[k] - base[k] >= n for k, n in expected.items())

    assert ingestor.wait_for(done, timeout=10), f"ingestor counters: {dict(ingestor.counters)}"


def _eid() -> str:
    return uuid.uuid4().hex


def test_status_birth_and_will(center: CenterHandle, speaker: tuple[dict[str, Any],
                                                                       MqttTestClient]) -> None:
    created, client = speaker
    topic = device_topic(created["id"], Channel.STATUS)
    now = datetime.now(UTC)
    base = _counts(center)
    birth = Status(device_id=created["id"], online=True, at=now, agent_version="0.3.1",
                   manifest_version=1)
    assert client.publish(topic, codec.encode(birth), retain=True) == 0
    _wait(center, base, status=1)
    shown = ok(center.api.get(f"/api/v1/devices/{created['id']}"))
    assert shown["online"] is True and shown["agent_version"] == "0.3.1"
    assert shown["manifest_version_acked"] == 1 and shown["last_seen_at"]
    changed_at = shown["status_changed_at"]
    will = Status(device_id=created["id"], online=False, at=now - timedelta(seconds=5))
    base = _counts(center)
    client.publish(topic, codec.encode(will), retain=True)
    _wait(center, base, status=1)
    shown = ok(center.api.get(f"/api/v1/devices/{created['id']}"))
    assert shown["online"] is False and shown["status_changed_at"] >= changed_at


def test_play_events_are_stored_once_and_move_the_play_log(
    center: CenterHandle, speaker: tuple[dict[str, Any], MqttTestClient], tone_wav: Path
) -> None:
    created, client = speaker
    api = center.api
    device_id = created["id"]
    bulletin = audio_bulletin(api, tone_wav)
    start = (datetime.now(UTC) + timedelta(minutes=5)).replace(microsecond=0)
    schedule = ok(api.post("/api/v1/schedules", json={
        "bulletin_id": bulletin["id"], "start_at": start.isoformat(),
        "targets": {"device_ids": [device_id]}}))
    item_id = f"s{schedule['id']}r1-{start:%Y%m%dT%H%M%SZ}"
    topic = device_topic(device_id, Channel.EVENT)
    common = {"device_id": device_id, "item_id": item_id, "bulletin_id": bulletin["id"],
              "priority": Priority.NORMAL, "scheduled_at": start}
    accepted = ManifestAccepted(event_id=_eid(), device_id=device_id, at=start, version=2)
    started = PlayStarted(event_id=_eid(), at=start, started_at=start, **common)
    done = PlayCompleted(event_id=_eid(), at=start, started_at=start,
                         ended_at=start + timedelta(seconds=1), **common)
    base = _counts(center)
    for event in (accepted, started, started, done, done):  # redeliveries included
        client.publish(topic, codec.encode(event))
    _wait(center, base, event=3, duplicate=2)
    events = ok(api.get("/api/v1/events", params={"device_id": device_id}))
    assert sorted(e["type"] for e in events["items"]) == [
        "manifest_accepted", "play_completed", "play_started"]
    assert events["items"][0]["payload"]["device_id"] == device_id
    (play,) = ok(api.get("/api/v1/plays", params={"device_id": device_id}))["items"]
    assert play["status"] == "completed"
    assert play["schedule_id"] == schedule["id"] and play["bulletin_id"] == bulletin["id"]
    assert datetime.fromisoformat(play["ended_at"]) == start + timedelta(seconds=1)
    shown = ok(api.get(f"/api/v1/devices/{device_id}"))
    assert shown["manifest_version_acked"] == 2
    # A late play_started never moves a finished play back.
    base = _counts(center)
    client.publish(topic, codec.encode(started.model_copy(update={"event_id": _eid()})))
    _wait(center, base, event=1)
    assert ok(api.get("/api/v1/plays", params={"device_id": device_id}))["items"][0][
        "status"] == "completed"
    completed = ok(api.get("/api/v1/plays", params={"status": "completed",
                                                    "schedule_id": schedule["id"]}))
    assert completed["count"] == 1


def test_unlisted_items_get_a_row(center: CenterHandle,
                                  speaker: tuple[dict[str, Any], MqttTestClient]) -> None:
    created, client = speaker
    device_id = created["id"]
    now = datetime.now(UTC).replace(microsecond=0)
    common = {"device_id": device_id, "item_id": "c-play-now-1", "bulletin_id": 1,
              "priority": Priority.EMERGENCY, "scheduled_at": now}
    topic = device_topic(device_id, Channel.EVENT)
    base = _counts(center)
    client.publish(topic, codec.encode(PlayInterrupted(
        event_id=_eid(), at=now, started_at=now, ended_at=now, reason="stopped", **common)))
    client.publish(topic, codec.encode(PlayFailed(
        event_id=_eid(), at=now, reason="media missing",
        **{**common, "item_id": "c-play-now-2"})))
    _wait(center, base, event=2)
    plays = ok(center.api.get("/api/v1/plays", params={"device_id": device_id}))["items"]
    assert [(p["item_id"], p["status"], p["reason"], p["schedule_id"]) for p in plays] == [
        ("c-play-now-1", "interrupted", "stopped", None),
        ("c-play-now-2", "failed", "media missing", None),
    ]


def test_bad_messages_are_counted_and_dropped(
    center: CenterHandle, speaker: tuple[dict[str, Any], MqttTestClient]
) -> None:
    created, client = speaker
    device_id = created["id"]
    topic = device_topic(device_id, Channel.EVENT)
    now = datetime.now(UTC)
    base = _counts(center)
    client.publish(topic, b"{not json")
    client.publish(topic, b'{"v": 9, "type": "play_started"}')
    client.publish(topic, b'{"v": 1, "type": "teleport", "event_id": "abcdefgh"}')
    impostor = ManifestAccepted(event_id=_eid(), device_id="someone-else", at=now, version=1)
    client.publish(topic, codec.encode(impostor))
    _wait(center, base, **{"refused:malformed": 2, "refused:unsupported_version": 1,
                     "refused:device_mismatch": 1})
    # The loop survived: a good event still goes through.
    base = _counts(center)
    client.publish(topic, codec.encode(
        ManifestAccepted(event_id=_eid(), device_id=device_id, at=now, version=1)))
    _wait(center, base, event=1)
    health = ok(center.api.get("/healthz"))
    assert health["mqtt"]["ingest"]["refused:device_mismatch"] >= 1
    events = ok(center.api.get("/api/v1/events", params={"device_id": device_id,
                                                         "type": "manifest_accepted"}))
    assert events["count"] == 1


def test_a_burst_is_stored_in_one_batch_once_and_in_order(
    center: CenterHandle, speaker: tuple[dict[str, Any], MqttTestClient]
) -> None:
    """``Ingestor.handle_many`` (what the bridge calls with every message waiting): births,
    acknowledgements and plays of a burst in one transaction, each event once, in arrival
    order; anything else, or refused, through the single path, counted as before."""
    created, _client = speaker
    device_id = created["id"]
    now = datetime.now(UTC).replace(microsecond=0)
    events, status = device_topic(device_id, Channel.EVENT), device_topic(device_id,
                                                                          Channel.STATUS)
    common = {"device_id": device_id, "item_id": "c-burst-1", "bulletin_id": 1,
              "priority": Priority.NORMAL, "scheduled_at": now}
    started = PlayStarted(event_id=_eid(), at=now, started_at=now, **common)
    done = PlayCompleted(event_id=_eid(), at=now, started_at=now, ended_at=now, **common)
    stranger = ManifestAccepted(event_id=_eid(), device_id="nobody-here", at=now, version=1)
    base = _counts(center)
    center.center.ingestor.handle_many([
        (status, codec.encode(Status(device_id=device_id, online=True, at=now,
                                     manifest_version=3))),
        (events, codec.encode(ManifestAccepted(event_id=_eid(), device_id=device_id, at=now,
                                               version=3))),
        (events, codec.encode(started)), (events, codec.encode(started)),  # a redelivery
        (events, b"{not json"),  # the single path, between two batches
        (events, codec.encode(done)),
        (device_topic("nobody-here", Channel.EVENT), codec.encode(stranger)),
    ])
    after = center.center.ingestor.snapshot()
    assert {k: after[k] - base[k] for k in ("status", "event", "duplicate", "refused:malformed",
                                            "refused:unknown_device")} == {
        "status": 1, "event": 3, "duplicate": 1, "refused:malformed": 1,
        "refused:unknown_device": 1}
    (play,) = [p for p in ok(center.api.get("/api/v1/plays", params={"device_id": device_id}))[
        "items"] if p["item_id"] == "c-burst-1"]
    assert play["status"] == "completed"  # started, then completed: in arrival order
    shown = ok(center.api.get(f"/api/v1/devices/{device_id}"))
    assert shown["online"] is True and shown["manifest_version_acked"] == 3
    stored = ok(center.api.get("/api/v1/events", params={"device_id": device_id}))["items"]
    assert sorted(e["type"] for e in stored) == ["manifest_accepted", "play_completed",
                                                 "play_started"]
