"""An agent refuses timed plays while its clock is off from the center's, and says why."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
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


def test_timed_play_refused_by_a_wrong_clock_then_played_once_it_is_right(
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

            def publish(version: int, name: str) -> PlayItem:
                item = PlayItem(item_id=name, bulletin_id=1, title="Bản tin",
                                start_at=datetime.now(UTC) + timedelta(seconds=2), content=content)
                manifest = Manifest(device_id=DEVICE, version=version,
                                    issued_at=datetime.now(UTC), items=(item,))
                center.publish(device_topic(DEVICE, Channel.MANIFEST), signer.seal(manifest),
                               retain=True)
                return item

            refused = publish(1, "timed-1")

            def failures() -> list[PlayFailed]:
                events = [decode_event(m.payload) for m in
                          center.received_on(device_topic(DEVICE, Channel.EVENT))]
                return [e for e in events if isinstance(e, PlayFailed)]

            (failed,) = poll(failures, lambda f: len(f) == 1, 15, "the refused play")
            assert failed.item_id == refused.item_id
            assert "clock untrusted" in failed.reason and "+5.0 s" in failed.reason
            assert sink.records == []

            skew_ms["value"] = 0.0  # the clock is right again
            poll(lambda: probe.last_offset_ms, lambda v: v is not None and abs(v) < 500, 10,
                 "a measured offset near zero")
            played = publish(2, "timed-2")
            assert sink.wait_for(lambda r: len(r) == 1, 15)
            assert sink.records[0].item_id == played.item_id and sink.records[0].completed
        finally:
            agent.stop()
