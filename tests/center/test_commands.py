"""One-shot commands: signed, expiring, delivered to the device's cmd topic, audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.broker import MosquittoBroker
from protocol.manifest import PlayNow, SetVolume
from protocol.signing import Verifier, public_key_from_b64
from protocol.topics import Channel, device_topic
from tests.center.helpers import audio_bulletin, device, in_minutes, ok, unit
from tests.support.center import CenterHandle
from tests.support.mqtt import MqttTestClient, connect_client

pytestmark = pytest.mark.integration


@pytest.fixture
def listener(center: CenterHandle, module_broker: MosquittoBroker
             ) -> Iterator[tuple[str, MqttTestClient]]:
    created = device(center.api, unit(center.api), module_broker)
    client = connect_client(module_broker.host, module_broker.port, created["id"],
                            created["mqtt_password"])
    client.subscribe(device_topic(created["id"], Channel.CMD))
    yield created["id"], client
    client.close()


def _received(center: CenterHandle, client: MqttTestClient, device_id: str,
              command_id: str) -> Any:
    topic = device_topic(device_id, Channel.CMD)
    verifier = Verifier([public_key_from_b64(center.public_key_b64)])
    message = client.wait_for(lambda m: m.topic == topic and command_id.encode() in m.payload)
    assert message.retain is False and message.qos == 1
    return verifier.open_command(message.payload)


def test_set_volume(center: CenterHandle, listener: tuple[str, MqttTestClient]) -> None:
    device_id, client = listener
    r = center.api.post(f"/api/v1/devices/{device_id}/commands",
                        json={"type": "set_volume", "level": 60}, params={"ttl_seconds": 90})
    body = ok(r, 202)
    command = _received(center, client, device_id, body["id"])
    assert command.device_id == device_id and command.action == SetVolume(level=60)
    assert command.expires_at - command.issued_at == timedelta(seconds=90)
    assert datetime.fromisoformat(body["expires_at"]) == command.expires_at
    audit = ok(center.api.get("/api/v1/audit", params={"object_type": "device",
                                                       "object_id": device_id}))
    entry = next(e for e in audit["items"] if e["action"] == "command")
    assert entry["detail"]["command_id"] == body["id"]
    assert entry["detail"]["action"] == {"type": "set_volume", "level": 60}
    assert entry["detail"]["result"] == "sent"


def test_play_bulletin_becomes_play_now(center: CenterHandle,
                                        listener: tuple[str, MqttTestClient],
                                        tone_wav: Path) -> None:
    device_id, client = listener
    bulletin = audio_bulletin(center.api, tone_wav, priority="priority")
    body = ok(center.api.post(f"/api/v1/devices/{device_id}/commands",
                              json={"type": "play_bulletin", "bulletin_id": bulletin["id"]}), 202)
    command = _received(center, client, device_id, body["id"])
    assert isinstance(command.action, PlayNow)
    item = command.action.item
    assert item.priority == "priority" and item.bulletin_id == bulletin["id"]
    assert item.item_id.startswith("c-")
    assert item.content.type == "audio" and item.content.sha256 == bulletin["delivery"]["sha256"]
    assert body["action"]["type"] == "play_now" and body["emergency_id"] is None


def test_raw_play_now_is_refused_and_never_signed(
        center: CenterHandle, listener: tuple[str, MqttTestClient]) -> None:
    """Even the system token cannot sign a play_now of its own making (any URL, emergency
    priority, a later start): emergency play goes through POST /emergency only."""
    device_id, client = listener
    raw = {"type": "play_now", "item": {
        "item_id": "c-raw", "bulletin_id": 1, "title": "x", "priority": "emergency",
        "start_at": in_minutes(30),
        "content": {"type": "audio", "sha256": "a" * 64, "url": "http://elsewhere.example/x",
                    "size": 1, "duration_ms": 1000, "mime": "audio/ogg"}}}
    r = center.api.post(f"/api/v1/devices/{device_id}/commands", json=raw)
    assert r.status_code == 422, r.text
    assert "POST /api/v1/emergency" in r.json()["detail"]
    assert "play_bulletin" in r.json()["detail"]
    # commands on one topic arrive in order: the next one is the first the device sees
    after = ok(center.api.post(f"/api/v1/devices/{device_id}/commands",
                               json={"type": "stop"}), 202)
    _received(center, client, device_id, after["id"])
    topic = device_topic(device_id, Channel.CMD)
    assert [m for m in client.messages if m.topic == topic and b"elsewhere" in m.payload] == []
    history = ok(center.api.get(f"/api/v1/devices/{device_id}/commands"))["items"]
    assert [(h["kind"], h["result"], h["priority"], h["flagged"]) for h in history[:2]] == [
        ("stop", "sent", None, False), ("play_now", "refused", "emergency", True)]
    assert history[1]["command_id"] is None and "emergency" in history[1]["reason"]
    flagged = ok(center.api.get("/api/v1/audit", params={
        "object_type": "device", "object_id": device_id, "action": "command",
        "flagged": "1"}))["items"]
    assert [(e["detail"]["kind"], e["detail"]["result"], e["detail"]["priority"], e["flagged"],
             e["unit_id"]) for e in flagged] == [("play_now", "refused", "emergency", True, None)]
    assert flagged[0]["detail"]["action"]["item"]["content"]["url"] == (
        "http://elsewhere.example/x")


@pytest.mark.parametrize(
    ("path_id", "body", "status", "fragment"),
    [
        ("ghost", {"type": "stop"}, 404, "device 'ghost' does not exist"),
        (None, {"type": "set_volume", "level": 101}, 422, "body.set_volume.level"),
        (None, {"type": "reboot"}, 422, "body"),
        (None, {"type": "play_bulletin", "bulletin_id": 31337}, 404,
         "bulletin 31337 does not exist"),
    ],
)
def test_command_refusals(center: CenterHandle, listener: tuple[str, MqttTestClient],
                          path_id: str | None, body: dict[str, Any], status: int,
                          fragment: str) -> None:
    device_id = path_id or listener[0]
    r = center.api.post(f"/api/v1/devices/{device_id}/commands", json=body)
    assert r.status_code == status, r.text
    assert fragment in r.json()["detail"]
