"""An emergency's validity window is the sender's choice (``valid_minutes``, default 30): the
signed command expires that long after it is sent; a device reached too late answers
``command_ack`` ``expired`` and the broadcast counts it as missed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from firmware_sim.broker import MosquittoBroker
from protocol import codec
from protocol.events import CommandAck, CommandOutcome
from protocol.manifest import Command
from protocol.signing import Verifier, public_key_from_b64
from protocol.topics import Channel, device_topic
from tests.center.helpers import device, ok, ready_media, uid, unit
from tests.support.center import CenterHandle
from tests.support.mqtt import MqttTestClient, connect_client

pytestmark = pytest.mark.integration
WORD = "PHÁT KHẨN CẤP"
PASSWORD = "mat-khau-hieu-luc-2026"


@pytest.fixture
def commune(center: CenterHandle, module_broker: MosquittoBroker
            ) -> Iterator[tuple[dict[str, Any], list[tuple[str, MqttTestClient]]]]:
    """A commune with two speakers, each a raw MQTT client listening to its command topic."""
    place = unit(center.api)
    speakers = []
    for _ in range(2):
        created = device(center.api, place, module_broker)
        client = connect_client(module_broker.host, module_broker.port, created["id"],
                                created["mqtt_password"])
        client.subscribe(device_topic(created["id"], Channel.CMD))
        speakers.append((created["id"], client))
    yield place, speakers
    for _, client in speakers:
        client.close()


def _command(center: CenterHandle, client: MqttTestClient, device_id: str) -> Command:
    topic = device_topic(device_id, Channel.CMD)
    message = client.wait_for(lambda m: m.topic == topic, timeout=10)
    verifier = Verifier([public_key_from_b64(center.public_key_b64)])
    return verifier.open_command(message.payload)


def _ack(client: MqttTestClient, device_id: str, command: Command, outcome: CommandOutcome,
         reason: str = "") -> None:
    ack = CommandAck(event_id=uuid.uuid4().hex, device_id=device_id, at=datetime.now(UTC),
                     command_id=command.id, outcome=outcome, reason=reason)
    client.publish(device_topic(device_id, Channel.EVENT), codec.encode(ack))


def test_the_sender_chooses_the_window_and_late_devices_count_as_missed(
    center: CenterHandle, commune: tuple[dict[str, Any], list[tuple[str, MqttTestClient]]],
    tone_wav: Path,
) -> None:
    place, ((first, first_client), (second, second_client)) = commune
    media = ready_media(center.api, tone_wav)
    body = {"unit_ids": [place["id"]], "media_sha256": media["sha256"], "confirm": WORD}

    for bad in (0, 1441, -5, "soon"):
        r = center.api.post("/api/v1/emergency", json={**body, "valid_minutes": bad})
        assert r.status_code == 422 and "valid_minutes" in r.text, r.text
    assert ok(center.api.get("/api/v1/emergency"))["count"] == 0  # nothing was sent or saved

    sent = ok(center.api.post("/api/v1/emergency", json={**body, "valid_minutes": 5}), 201)
    command = _command(center, first_client, first)
    assert command.expires_at - command.issued_at == timedelta(minutes=5)
    assert datetime.fromisoformat(sent["expires_at"]) == command.expires_at
    assert _command(center, second_client, second).id == command.id

    # One speaker accepts; the other was reached after the window and says it missed it.
    _ack(first_client, first, command, CommandOutcome.ACCEPTED)
    _ack(second_client, second, command, CommandOutcome.EXPIRED,
         "missed: arrived 7 min after it was sent, valid 5 min")
    status = center.wait_for(
        lambda: (s := ok(center.api.get(sent["status_url"])))["expired"] == 1
        and s["acknowledged"] == 1 and s, what="both acknowledgements")
    assert (status["targeted"], status["failed"], status["started"]) == (2, 1, 0)
    assert status["valid_minutes"] == 5
    assert datetime.fromisoformat(status["expires_at"]) == command.expires_at
    devices = {d["id"]: d for d in status["devices"]}
    assert devices[second]["expired_at"] is not None
    assert "missed: arrived 7 min" in devices[second]["failed"]
    assert devices[first]["expired_at"] is None and devices[first]["failed"] is None

    # The default window is 30 minutes.
    default = ok(center.api.post("/api/v1/emergency", json=body), 201)
    latest = _command_after(center, first_client, first, command.id)
    assert latest.expires_at - latest.issued_at == timedelta(minutes=30)
    assert ok(center.api.get(default["status_url"]))["valid_minutes"] == 30


def _command_after(center: CenterHandle, client: MqttTestClient, device_id: str,
                   previous: str) -> Command:
    topic = device_topic(device_id, Channel.CMD)
    verifier = Verifier([public_key_from_b64(center.public_key_b64)])
    message = client.wait_for(
        lambda m: m.topic == topic and previous.encode() not in m.payload, timeout=10)
    return verifier.open_command(message.payload)


def _user(center: CenterHandle, role: str, place: dict[str, Any]) -> httpx.Client:
    username = uid(role)
    ok(center.api.post("/api/v1/users", json={"username": username, "password": PASSWORD,
                                              "role": role, "unit_id": place["id"],
                                              "full_name": f"Cán bộ {username}"}))
    token = ok(httpx.post(f"{center.base_url}/api/v1/auth/login",
                          json={"username": username, "password": PASSWORD}), 200)["token"]
    return httpx.Client(base_url=center.base_url, timeout=30,
                        headers={"Authorization": f"Bearer {token}"})


def test_a_request_keeps_its_window_until_an_approver_sends_it(
    center: CenterHandle, commune: tuple[dict[str, Any], list[tuple[str, MqttTestClient]]],
    tone_wav: Path,
) -> None:
    place, ((first, first_client), _) = commune
    media = ready_media(center.api, tone_wav)
    operator, approver = _user(center, "operator", place), _user(center, "approver", place)
    try:
        waiting = ok(operator.post("/api/v1/emergency", json={
            "unit_ids": [place["id"]], "media_sha256": media["sha256"], "confirm": WORD,
            "valid_minutes": 45}), 202)
        assert waiting["state"] == "waiting_approval" and waiting["expires_at"] is None
        assert ok(operator.get(waiting["status_url"]))["valid_minutes"] == 45
        r = approver.post(f"/api/v1/emergency/{waiting['id']}/send",
                          json={"confirm": WORD, "valid_minutes": 2000})
        assert r.status_code == 422 and "valid_minutes" in r.text
        sent = ok(approver.post(f"/api/v1/emergency/{waiting['id']}/send",
                                json={"confirm": WORD}), 201)
        command = _command(center, first_client, first)
        assert command.expires_at - command.issued_at == timedelta(minutes=45)
        assert datetime.fromisoformat(sent["expires_at"]) == command.expires_at
    finally:
        operator.close()
        approver.close()
