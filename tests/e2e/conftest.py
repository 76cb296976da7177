"""End-to-end rig: real broker, real control center (uvicorn), real agents with simulated sinks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge_agent.config import AgentConfig, CacheConfig, MqttConfig
from firmware_sim.broker import MosquittoBroker
from firmware_sim.fleet import Fleet, SimDevice
from tests.support.audio import make_tone
from tests.support.center import running_center
from tests.support.tree import add_device, add_unit
from tests.support.waiting import poll


@dataclass
class Stack:
    tmp: Path
    broker: MosquittoBroker
    api: httpx.Client
    public_key: str
    fleets: list[Fleet] = field(default_factory=list)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.api.post(path, json=body)
        assert r.status_code < 300, f"POST {path} -> {r.status_code} {r.text}"
        return dict(r.json())

    def unit(self, code: str, level: str, parent: dict[str, Any] | None = None) -> dict[str, Any]:
        return add_unit(self.api, code, level, parent)

    def devices(self, unit: dict[str, Any], *ids: str) -> list[AgentConfig]:
        configs = []
        for device_id in ids:
            created = add_device(self.api, device_id, unit, broker=self.broker)
            configs.append(
                AgentConfig(
                    device_id=device_id,
                    data_dir=self.tmp / "agents" / device_id,
                    center_public_keys=(self.public_key,),
                    mqtt=MqttConfig(
                        host=self.broker.host,
                        port=self.broker.port,
                        password=created["mqtt_password"],
                        keepalive_s=5,
                        reconnect_min_s=0.5,
                        reconnect_max_s=1,
                    ),
                    cache=CacheConfig(retry_min_s=0.2, retry_max_s=1.0),
                )
            )
        return configs

    def audio_bulletin(
        self, seconds: float, priority: str = "normal", title: str = "Bản tin"
    ) -> dict[str, Any]:
        wav = make_tone(
            self.tmp / f"tone-{seconds}-{priority}.wav",
            seconds,
            440 if priority == "normal" else 880,
        )
        with wav.open("rb") as fh:
            r = self.api.post("/api/v1/media", files={"file": (wav.name, fh, "audio/wav")})
        assert r.status_code < 300, r.text
        sha = r.json()["sha256"]
        info = poll(
            lambda: self.api.get(f"/api/v1/media/{sha}/info").json(),
            lambda i: i["state"] != "processing",
            30,
            f"media {sha} processed",
        )
        assert info["state"] == "ready", info
        bulletin = self.post(
            "/api/v1/bulletins", {"title": title, "priority": priority, "media_sha256": sha}
        )
        bulletin["delivery"] = info["delivery"]  # the Opus rendition devices download
        return bulletin

    def fleet(self, configs: list[AgentConfig]) -> dict[str, SimDevice]:
        fleet = Fleet(configs)
        self.fleets.append(fleet)
        fleet.start()
        assert fleet.wait_connected(15) == []
        return fleet.devices

    def plays(self, **params: Any) -> list[dict[str, Any]]:
        r = self.api.get("/api/v1/plays", params=params)
        assert r.status_code == 200, r.text
        return list(r.json()["items"] if isinstance(r.json(), dict) else r.json())


@pytest.fixture
def stack(tmp_path: Path, broker: MosquittoBroker) -> Iterator[Stack]:
    with running_center(
        tmp_path / "center",
        mqtt_host=broker.host,
        mqtt_port=broker.center_port,
        mqtt_password=broker.center_password,
    ) as center:
        s = Stack(tmp_path, broker, center.api, center.public_key_b64)
        try:
            yield s
        finally:
            for fleet in s.fleets:
                fleet.stop()
