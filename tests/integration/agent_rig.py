"""A real broker, a test acting as the signing center, a real HTTP media server and one agent
with simulated hardware whose sink records the real start instant of every play."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

from edge_agent.agent import Agent
from edge_agent.clock import Clock
from edge_agent.config import AgentConfig, CacheConfig, HealthConfig, MqttConfig
from edge_agent.hardware import Hardware
from firmware_sim.broker import MosquittoBroker
from firmware_sim.hardware import SimAudioSink, sim_hardware
from firmware_sim.live_sink import SimPcmSink
from protocol.base import Priority
from protocol.codec import decode_event
from protocol.manifest import AudioContent, Manifest, PlayItem
from protocol.signing import Signer, public_key_b64
from protocol.topics import Channel, device_topic
from tests.support.asgi_server import serve_asgi
from tests.support.audio import make_tone, sha256_of
from tests.support.mqtt import MqttClients, MqttTestClient

DEVICE = "loa-test-1"


@dataclass
class Rig:
    agent: Agent
    sink: SimAudioSink
    center: MqttTestClient
    signer: Signer
    media: dict[str, AudioContent]
    media_dir: Path

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


def agent_rig(tmp_path: Path, broker: MosquittoBroker, mqtt_clients: MqttClients, *,
              clock: Clock | None = None, hardware: Hardware | None = None,
              time_probe_s: float | None = None, **config: object) -> Iterator[Rig]:
    """The rig, torn down at the end; ``config`` overrides AgentConfig fields. The media
    server also answers ``GET /api/v1/time`` with the true time; with ``time_probe_s`` the
    agent measures its clock against it that often."""
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
    async def center_time(request: Request) -> JSONResponse:
        return JSONResponse({"epoch_ms": time.time() * 1000})

    app = Starlette(routes=[Route("/api/v1/time", center_time)])
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
        sim, sink = sim_hardware(DEVICE)
        config = AgentConfig(
            device_id=DEVICE,
            data_dir=tmp_path / "agent",
            center_public_keys=(public_key_b64(signer.public_key),),
            mqtt=MqttConfig(host=broker.host, port=broker.port, password=password, keepalive_s=5),
            cache=CacheConfig(retry_min_s=0.2, retry_max_s=1.0),
            **({"health": HealthConfig(interval_s=time_probe_s,
                                       time_url=f"{base_url}/api/v1/time")}
               if time_probe_s else {}),
            **config,  # type: ignore[arg-type]
        )
        agent = Agent(config, hardware or sim, clock=clock)
        sink.clock = lambda: agent.clock.now().timestamp()
        if isinstance((hardware or sim).live, SimPcmSink):
            (hardware or sim).live.clock = sink.clock  # type: ignore[union-attr]
        agent.start()
        assert agent.link.connected_event.wait(10), "agent did not connect to the broker"
        # its birth follows its SUBSCRIBE on the same connection: once the birth is here, the
        # broker has the subscription, and a command sent now cannot arrive before it
        status = device_topic(DEVICE, Channel.STATUS)
        center.wait_for(lambda m: m.topic == status, "the agent's birth message", timeout=10)
        try:
            yield Rig(agent, sink, center, signer, media, media_dir)
        finally:
            agent.stop()
