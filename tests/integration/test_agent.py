"""The edge agent against a real broker, with this test acting as the signing center.

Media is served by a real HTTP server with Range support; the agent runs with simulated
hardware whose sink records the real start instant of every play.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.staticfiles import StaticFiles

from edge_agent.agent import Agent
from edge_agent.config import AgentConfig, CacheConfig, MqttConfig
from firmware_sim.broker import MosquittoBroker
from firmware_sim.hardware import SimAudioSink, sim_hardware
from protocol.base import Priority
from protocol.codec import decode_event, encode
from protocol.events import MessageRejected, PlayCompleted, PlayInterrupted, PlayStarted
from protocol.manifest import AudioContent, Manifest, PlayItem
from protocol.signing import Signer, public_key_b64
from protocol.topics import Channel, device_topic
from tests.support.asgi_server import serve_asgi
from tests.support.audio import make_tone, sha256_of
from tests.support.mqtt import MqttClients, MqttTestClient

pytestmark = pytest.mark.integration
DEVICE = "loa-test-1"


@dataclass
class Rig:
    agent: Agent
    sink: SimAudioSink
    center: MqttTestClient
    signer: Signer
    media: dict[str, AudioContent]

    def publish_manifest(
        self, version: int, items: tuple[PlayItem, ...], signer: Signer | None = None
    ) -> None:
        manifest = Manifest(
            device_id=DEVICE, version=version, issued_at=datetime.now(UTC), items=items
        )
        payload = (signer or self.signer).seal(manifest)
        self.center.publish(device_topic(DEVICE, Channel.MANIFEST), payload, retain=True)

    def events(self) -> list[object]:
        return [
            decode_event(m.payload)
            for m in self.center.received_on(device_topic(DEVICE, Channel.EVENT))
        ]

    def wait_event(self, predicate, timeout: float = 10.0) -> object:  # type: ignore[no-untyped-def]
        topic = device_topic(DEVICE, Channel.EVENT)
        found = self.center.wait_for(
            lambda m: m.topic == topic and predicate(decode_event(m.payload)),
            "matching event", timeout,
        )
        return decode_event(found.payload)


def item(
    rig: Rig, name: str, start: datetime, priority: Priority = Priority.NORMAL, n: int = 1
) -> PlayItem:
    return PlayItem(
        item_id=f"{name}-{n}",
        bulletin_id=n,
        title=f"Bản tin {name}",
        priority=priority,
        start_at=start,
        content=rig.media[name],
    )


@pytest.fixture
def rig(tmp_path: Path, broker: MosquittoBroker, mqtt_clients: MqttClients) -> Iterator[Rig]:
    media_dir = tmp_path / "served"
    media_dir.mkdir()
    signer = Signer(Ed25519PrivateKey.generate())
    password = secrets.token_urlsafe(16)
    broker.add_user(DEVICE, password)
    center = mqtt_clients.center()
    center.subscribe(device_topic(DEVICE, Channel.EVENT))
    center.subscribe(device_topic(DEVICE, Channel.STATUS))
    files = {
        "short": make_tone(media_dir / "short.wav", 1.0, 440),
        "long": make_tone(media_dir / "long.wav", 6.0, 330),
        "alert": make_tone(media_dir / "alert.wav", 1.0, 880),
    }
    app = Starlette()
    app.mount("/media", StaticFiles(directory=media_dir))
    with serve_asgi(app) as base_url:
        media = {
            name: AudioContent(
                sha256=sha256_of(p),
                url=f"{base_url}/media/{p.name}",
                size=p.stat().st_size,
                duration_ms=1000 if name != "long" else 6000,
                mime="audio/wav",
            )
            for name, p in files.items()
        }
        hardware, sink = sim_hardware(DEVICE)
        config = AgentConfig(
            device_id=DEVICE,
            data_dir=tmp_path / "agent",
            center_public_keys=(public_key_b64(signer.public_key),),
            mqtt=MqttConfig(host=broker.host, port=broker.port, password=password, keepalive_s=5),
            cache=CacheConfig(retry_min_s=0.2, retry_max_s=1.0),
        )
        agent = Agent(config, hardware)
        agent.start()
        assert agent.link.connected_event.wait(10), "agent did not connect to the broker"
        try:
            yield Rig(agent, sink, center, signer, media)
        finally:
            agent.stop()


def test_plays_at_the_instant_and_reports_the_play(rig: Rig) -> None:
    start = datetime.now(UTC) + timedelta(seconds=2)
    rig.publish_manifest(1, (item(rig, "short", start),))
    assert rig.sink.wait_for(lambda r: len(r) == 1, timeout=10)
    record = rig.sink.records[0]
    assert abs(record.started_at - start.timestamp()) < 0.1
    assert record.completed and record.file_sha256 == rig.media["short"].sha256
    done = rig.wait_event(lambda e: isinstance(e, PlayCompleted))
    started = rig.wait_event(lambda e: isinstance(e, PlayStarted))
    assert done.item_id == started.item_id == "short-1"
    assert rig.agent.outbox.wait_drained(5)


def test_forged_manifest_is_refused_and_the_last_good_one_still_plays(rig: Rig) -> None:
    start = datetime.now(UTC) + timedelta(seconds=3)
    rig.publish_manifest(1, (item(rig, "short", start),))
    rig.wait_event(lambda e: getattr(e, "type", "") == "manifest_accepted")
    forger = Signer(Ed25519PrivateKey.generate())
    # Sent with the center's real broker credentials, but not the center's key.
    rig.publish_manifest(
        2, (item(rig, "alert", start - timedelta(seconds=1), Priority.EMERGENCY),), forger
    )
    rejected = rig.wait_event(lambda e: isinstance(e, MessageRejected))
    assert "unknown key" in rejected.reason
    assert rig.sink.wait_for(lambda r: len(r) == 1, timeout=10)
    assert rig.sink.records[0].item_id == "short-1"
    assert rig.agent.manifest is not None and rig.agent.manifest.version == 1


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x00garbage", "not JSON"),
        (b'{"v":1,"alg":"ed25519","kid":"x","body":"{}"}', "missing signature"),
    ],
)
def test_malformed_manifest_is_logged_and_dropped(rig: Rig, payload: bytes, reason: str) -> None:
    rig.publish_manifest(1, ())
    rig.wait_event(lambda e: getattr(e, "type", "") == "manifest_accepted")
    rig.center.publish(device_topic(DEVICE, Channel.MANIFEST), payload, retain=True)
    rejected = rig.wait_event(lambda e: isinstance(e, MessageRejected))
    assert reason in rejected.reason
    # still alive and still taking good manifests
    rig.publish_manifest(2, ())
    rig.wait_event(lambda e: getattr(e, "type", "") == "manifest_accepted" and e.version == 2)


def test_wrong_schema_version_and_stale_version_are_refused(rig: Rig) -> None:
    rig.publish_manifest(5, ())
    rig.wait_event(lambda e: getattr(e, "type", "") == "manifest_accepted")
    body = json.loads(encode(Manifest(device_id=DEVICE, version=6, issued_at=datetime.now(UTC))))
    body["v"] = 2
    forged_v2 = json.loads(
        rig.signer.seal(Manifest(device_id=DEVICE, version=6, issued_at=datetime.now(UTC)))
    )
    # re-sign a v2 body with the real key: the signature is good, the schema is not
    v2_body = json.dumps(body, separators=(",", ":"))
    forged_v2["body"] = v2_body
    import base64

    forged_v2["sig"] = base64.b64encode(rig.signer._key.sign(v2_body.encode())).decode()  # noqa: SLF001
    rig.center.publish(
        device_topic(DEVICE, Channel.MANIFEST), json.dumps(forged_v2).encode(), retain=True
    )
    rejected = rig.wait_event(lambda e: isinstance(e, MessageRejected))
    assert "schema version 2" in rejected.reason
    rig.publish_manifest(4, ())
    stale = rig.wait_event(lambda e: isinstance(e, MessageRejected) and "stale" in e.reason)
    assert stale.version == 4
    assert rig.agent.manifest is not None and rig.agent.manifest.version == 5


def test_emergency_interrupts_a_normal_play(rig: Rig) -> None:
    now = datetime.now(UTC)
    normal = item(rig, "long", now + timedelta(seconds=2), Priority.NORMAL, n=1)
    emergency = item(rig, "alert", now + timedelta(seconds=4), Priority.EMERGENCY, n=2)
    rig.publish_manifest(1, (normal, emergency))
    assert rig.sink.wait_for(lambda r: len(r) == 2, timeout=15)
    first, second = rig.sink.records
    assert (first.item_id, first.completed) == (normal.item_id, False)
    assert (second.item_id, second.completed) == (emergency.item_id, True)
    assert abs(second.started_at - emergency.start_at.timestamp()) < 0.1
    interrupted = rig.wait_event(lambda e: isinstance(e, PlayInterrupted))
    assert interrupted.item_id == normal.item_id and "emergency" in interrupted.reason


def test_priority_item_goes_ahead_of_a_waiting_normal_item(rig: Rig) -> None:
    now = datetime.now(UTC)
    running = item(rig, "long", now + timedelta(seconds=2), Priority.NORMAL, n=1)
    waiting_normal = item(rig, "short", now + timedelta(seconds=3), Priority.NORMAL, n=2)
    waiting_priority = item(rig, "alert", now + timedelta(seconds=4), Priority.PRIORITY, n=3)
    rig.publish_manifest(1, (running, waiting_normal, waiting_priority))
    assert rig.sink.wait_for(lambda r: len(r) == 3, timeout=20)
    assert [r.item_id for r in rig.sink.records] == ["long-1", "alert-3", "short-2"]
    assert all(r.completed for r in rig.sink.records)
