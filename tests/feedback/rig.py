"""A real broker, a real center and a simulated kiosk (agent + kiosk UI + WAV microphone)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from edge_agent.agent import Agent
from edge_agent.config import AgentConfig, MqttConfig
from edge_agent.kiosk import Kiosk, KioskConfig
from edge_agent.speech import SpeechModel
from edge_agent.speech.config import SpeechConfig
from firmware_sim.broker import MosquittoBroker
from firmware_sim.fleet import Fleet
from firmware_sim.microphone import WavMicrophone
from protocol.events import DeviceKind
from tests.support.center import CenterHandle
from tests.support.tree import add_device, add_unit

PASSWORD = "mat-khau-phan-anh-2026"


@dataclass
class SimKiosk:
    agent: Agent
    kiosk: Kiosk
    mic: WavMicrophone
    http: httpx.Client

    def wait_manifest(self, predicate: Callable[[Agent], bool], timeout: float,
                      what: str) -> None:
        with self.agent.manifest_changed:
            ok = self.agent.manifest_changed.wait_for(lambda: predicate(self.agent), timeout)
        assert ok, f"timed out after {timeout}s waiting for the kiosk's manifest: {what}"


@dataclass
class FeedbackRig:
    tmp: Path
    broker: MosquittoBroker
    center: CenterHandle
    fleets: list[Fleet] = field(default_factory=list)
    kiosks: list[SimKiosk] = field(default_factory=list)
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def api(self) -> httpx.Client:
        return self.center.api

    def post(self, path: str, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
        r = self.api.post(path, json=body, **kw)
        assert r.status_code < 300, f"POST {path} -> {r.status_code} {r.text}"
        return dict(r.json())

    def unit(self, code: str, level: str, parent: dict[str, Any] | None = None,
             name: str | None = None) -> dict[str, Any]:
        return add_unit(self.api, code, level, parent, name=name or f"Xã {code}")

    def user(self, username: str, role: str, unit: dict[str, Any]) -> httpx.Client:
        """A new user of ``unit`` with ``role``, signed in (a bearer session token)."""
        self.post("/api/v1/users", {"username": username, "password": PASSWORD, "role": role,
                                    "unit_id": unit["id"]})
        r = httpx.post(f"{self.center.base_url}/api/v1/auth/login",
                       json={"username": username, "password": PASSWORD}, timeout=30)
        assert r.status_code == 200, f"login {username} -> {r.status_code} {r.text}"
        client = httpx.Client(base_url=self.center.base_url, timeout=30,
                              headers={"Authorization": f"Bearer {r.json()['token']}"})
        self.clients.append(client)
        return client

    def start_kiosk(self, unit: dict[str, Any], device_id: str, model: SpeechModel | None,
                    answer_phrases: tuple[str, ...] = ("네", "아니요")) -> SimKiosk:
        created = add_device(self.api, device_id, unit, name=f"Ki-ốt {device_id}", kind="kiosk",
                             broker=self.broker)
        config = AgentConfig(
            device_id=device_id, kind=DeviceKind.KIOSK, data_dir=self.tmp / "agents" / device_id,
            center_public_keys=(self.center.public_key_b64,),
            mqtt=MqttConfig(host=self.broker.host, port=self.broker.port,
                            password=created["mqtt_password"], keepalive_s=5,
                            reconnect_min_s=0.2, reconnect_max_s=0.5),
        )
        fleet = Fleet([config])
        self.fleets.append(fleet)
        fleet.start()
        assert fleet.wait_connected(15) == []
        agent = fleet.devices[device_id].agent
        mic = WavMicrophone(trailing_silence_s=1.5)
        kiosk = Kiosk(agent, KioskConfig(port=0, answer_phrases=answer_phrases),
                      SpeechConfig(model_path=model.path if model else None, silence_s=0.8,
                                   energy_threshold=300),
                      mic, model=model)
        kiosk.start()
        sim = SimKiosk(agent, kiosk, mic, httpx.Client(base_url=kiosk.url, timeout=30))
        self.kiosks.append(sim)
        return sim

    def close(self) -> None:
        for client in self.clients:
            client.close()
        for sim in self.kiosks:
            sim.http.close()
            sim.kiosk.stop()
        for fleet in self.fleets:
            fleet.stop()
