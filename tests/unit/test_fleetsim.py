"""The fleet simulator's device logic runs the agent's checks and speaks the center's format."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.store import LocalStore
from firmware_sim.fleetsim.device import DeviceLogic, Outcome
from firmware_sim.fleetsim.mqtt import MqttConnection, connect_packet, publish_packet
from protocol.codec import decode_event
from protocol.events import ManifestAccepted, MessageRejected, PlayCompleted, PlayStarted
from protocol.manifest import AudioContent, Manifest, PlayItem
from protocol.signing import Signer, Verifier

DEVICE = "loa-00001"


@pytest.fixture()
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


@pytest.fixture()
def logic(tmp_path: Path, signer: Signer) -> DeviceLogic:
    return DeviceLogic(DEVICE, verifier=Verifier([signer.public_key]),
                       store=LocalStore(tmp_path / "store.db"))


def _item(start: datetime) -> PlayItem:
    return PlayItem(item_id="s7r1-20260101T000000Z", bulletin_id=3, title="Bản tin",
                    start_at=start, content=AudioContent(
                        sha256="a" * 64, url="http://c/m", size=10, duration_ms=3000))


def _manifest(version: int, *, device: str = DEVICE, items: tuple[PlayItem, ...] = ()
              ) -> Manifest:
    return Manifest(device_id=device, version=version, issued_at=datetime.now(UTC),
                    items=items)


def test_a_signed_manifest_is_verified_stored_and_acknowledged(
        logic: DeviceLogic, signer: Signer) -> None:
    start = datetime.now(UTC) + timedelta(minutes=5)
    raw = signer.seal(_manifest(2, items=(_item(start),)))
    result = logic.handle_manifest(raw)
    assert result.outcome is Outcome.ACCEPTED and result.version == 2
    assert result.cpu_s > 0
    assert logic.store.load_manifest() == (2, raw)
    [queued] = result.queued
    event = decode_event(queued.payload)  # what the center's ingest decodes
    assert isinstance(event, ManifestAccepted)
    assert (event.device_id, event.version) == (DEVICE, 2)
    assert queued.topic == f"tt/v1/dev/{DEVICE}/event"
    assert [r.id for r in logic.store.outbox_pending(10, set())] == [queued.row_id]
    assert [i.item_id for i in logic.upcoming(datetime.now(UTC))] == [_item(start).item_id]
    # the retained copy again (a reconnect): a replay, nothing sent
    again = logic.handle_manifest(raw)
    assert again.outcome is Outcome.REPLAY and again.queued == ()


def test_a_tampered_or_foreign_manifest_is_refused(logic: DeviceLogic, signer: Signer) -> None:
    envelope = json.loads(signer.seal(_manifest(5)))
    envelope["body"] = envelope["body"].replace('"version":5', '"version":6')
    result = logic.handle_manifest(json.dumps(envelope).encode())
    assert result.outcome is Outcome.REFUSED
    rejected = decode_event(result.queued[0].payload)
    assert isinstance(rejected, MessageRejected) and "SignatureInvalid" in rejected.reason
    foreign = logic.handle_manifest(signer.seal(_manifest(5, device="loa-00002")))
    assert foreign.outcome is Outcome.REFUSED
    assert logic.store.load_manifest() is None and logic.version == 0
    # an older version than the one held is stale
    logic.handle_manifest(signer.seal(_manifest(4)))
    assert logic.handle_manifest(signer.seal(_manifest(3))).outcome is Outcome.STALE


def test_a_play_sends_started_then_completed_with_unique_ids(logic: DeviceLogic) -> None:
    item = _item(datetime.now(UTC))
    started, completed = (decode_event(q.payload) for q in logic.play(item))
    assert isinstance(started, PlayStarted) and isinstance(completed, PlayCompleted)
    assert started.item_id == completed.item_id == item.item_id
    assert started.event_id != completed.event_id
    assert logic.upcoming(datetime.now(UTC) - timedelta(hours=1)) == []  # played once


def test_the_mqtt_framing_parses_packets_split_anywhere() -> None:
    received: list[tuple[str, bytes, bool]] = []
    conn = MqttConnection.__new__(MqttConnection)
    conn._buffer = bytearray()  # noqa: SLF001 - only the parser, without a loop
    conn._on_message = lambda t, p, r: received.append((t, p, r))  # noqa: SLF001
    conn._write = lambda data: None  # type: ignore[method-assign]  # noqa: SLF001
    big = b"x" * 300  # a two-byte remaining length
    stream = (publish_packet("a/b", b"hi", qos=0, retain=True, pid=0)
              + publish_packet("c", big, qos=1, retain=False, pid=9))
    for i in range(len(stream)):
        conn.data_received(stream[i:i + 1])
    assert received == [("a/b", b"hi", True), ("c", big, False)]
    assert connect_packet("d", "u", "p", clean=False, keepalive=60)[0] == 0x10
