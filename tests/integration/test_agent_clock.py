"""An agent whose clock is off from the center's plays by the center's time (measured against
``GET /api/v1/time`` and carried on the monotonic clock), and by its own once it is right."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from edge_agent.agent import Agent
from edge_agent.config import AgentConfig, HealthConfig, MqttConfig
from firmware_sim.broker import MosquittoBroker
from firmware_sim.hardware import sim_hardware
from firmware_sim.sensors import SimSensors
from protocol.codec import decode_event
from protocol.events import PlayFailed
from protocol.manifest import AudioContent, Manifest, PlayItem
from protocol.signing import Signer, public_key_b64
from protocol.topics import Channel, device_topic
from tests.support.asgi_server import serve_asgi
from tests.support.audio import make_tone, sha256_of
from tests.support.mqtt import MqttClients
from tests.support.waiting import poll

pytestmark = pytest.mark.integration
DEVICE = "loa-clock-1"


def test_a_wrong_clock_plays_on_the_center_instant_then_the_right_clock_is_used(
    tmp_path: Path, broker: MosquittoBroker, mqtt_clients: MqttClients
) -> None:
    skew_ms = {"value": 5000.0}  # the center's clock is 5 s ahead of this device

    async def center_time(request: Request) -> JSONResponse:
        return JSONResponse({"epoch_ms": time.time() * 1000 + skew_ms["value"]})

    served = tmp_path / "served"
    served.mkdir()
    wav = make_tone(served / "tone.wav", 1.0)
    app = Starlette(routes=[Route("/api/v1/time", center_time),
                            Mount("/media", StaticFiles(directory=served))])
    signer = Signer(Ed25519PrivateKey.generate())
    password = secrets.token_urlsafe(12)
    broker.add_user(DEVICE, password)
    center = mqtt_clients.center()
    center.subscribe(device_topic(DEVICE, Channel.EVENT))
    with serve_asgi(app) as base:
        content = AudioContent(sha256=sha256_of(wav), url=f"{base}/media/tone.wav",
                               size=wav.stat().st_size, duration_ms=1000, mime="audio/wav")
        hardware, sink = sim_hardware(DEVICE)
        agent = Agent(AgentConfig(
            device_id=DEVICE, data_dir=tmp_path / "agent",
            center_public_keys=(public_key_b64(signer.public_key),),
            mqtt=MqttConfig(host=broker.host, port=broker.port, password=password),
            health=HealthConfig(interval_s=0.2, time_url=f"{base}/api/v1/time"),
        ), hardware, probe=SimSensors(DEVICE))
        agent.start()
        try:
            probe = agent._clock_probe  # noqa: SLF001 - the measurement the player trusts
            assert probe is not None
            poll(lambda: probe.last_offset_ms, lambda v: v is not None and v > 4000, 10,
                 "a measured offset of about +5 s")

            def publish(version: int, name: str, ahead_s: float) -> PlayItem:
                """An item due ``ahead_s`` from now by the center's clock."""
                center_now = time.time() + skew_ms["value"] / 1000
                item = PlayItem(item_id=name, bulletin_id=1, title="Bản tin",
                                start_at=datetime.fromtimestamp(center_now + ahead_s, UTC),
                                content=content)
                manifest = Manifest(device_id=DEVICE, version=version,
                                    issued_at=datetime.now(UTC), items=(item,))
                center.publish(device_topic(DEVICE, Channel.MANIFEST), signer.seal(manifest),
                               retain=True)
                return item

            sink.clock = lambda: agent.clock.now().timestamp()
            early = publish(1, "timed-1", ahead_s=3.0)
            assert sink.wait_for(lambda r: len(r) == 1, 15)
            real_end = time.time()
            record = sink.records[0]
            assert record.item_id == early.item_id and record.completed
            # stamped by the center's time, it started on its instant ...
            assert abs(record.started_at - early.start_at.timestamp()) < 0.3
            # ... which the device's own clock, 5 s behind, had not reached yet
            assert real_end < early.start_at.timestamp() - 3.0
            assert agent.clock.corrected
            events = [decode_event(m.payload) for m in
                      center.received_on(device_topic(DEVICE, Channel.EVENT))]
            assert not [e for e in events if isinstance(e, PlayFailed)]

            skew_ms["value"] = 0.0  # the clock is right again: the device clock is used
            poll(lambda: probe.last_offset_ms, lambda v: v is not None and abs(v) < 500, 10,
                 "a measured offset near zero")
            played = publish(2, "timed-2", ahead_s=2.0)
            assert sink.wait_for(lambda r: len(r) == 2, 15)
            assert sink.records[1].item_id == played.item_id and sink.records[1].completed
            assert abs(sink.records[1].started_at - played.start_at.timestamp()) < 0.3
            assert not agent.clock.corrected
        finally:
            agent.stop()
