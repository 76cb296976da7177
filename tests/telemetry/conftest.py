"""Telemetry rig: real Mosquitto, real influxd (free loopback ports), the real center in-process
with telemetry on and short intervals, and real agents with simulated sensors."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from edge_agent.agent import Agent
from edge_agent.config import HealthConfig
from edge_agent.hardware import Hardware
from firmware_sim.broker import MosquittoBroker
from firmware_sim.hardware import SimAudioSink, sim_hardware
from firmware_sim.influx import InfluxNotInstalledError, InfluxServer, find_influxd
from firmware_sim.sensors import SimSensors
from tests.e2e.conftest import Stack
from tests.support.browser import CHROMIUM_ARGS, chromium_path
from tests.support.center import CenterHandle, running_center
from tests.support.waiting import poll

DB = "telemetry"
KEEPALIVE_S = 2
SILENCE_S = 1.5


@dataclass
class SimAgent:
    agent: Agent
    sensors: SimSensors
    sink: SimAudioSink


@dataclass
class TelemetryRig:
    stack: Stack
    center: CenterHandle
    influx: InfluxServer
    agents: dict[str, SimAgent] = field(default_factory=dict)

    def start_agents(self, unit: dict[str, Any], *ids: str, interval_s: float = 0.2,
                     hardware: Callable[[str], tuple[Hardware, SimAudioSink]] | None = None,
                     ) -> dict[str, SimAgent]:
        started = {}
        for config in self.stack.devices(unit, *ids):
            config = dataclasses.replace(
                config, mqtt=dataclasses.replace(config.mqtt, keepalive_s=KEEPALIVE_S),
                health=HealthConfig(interval_s=interval_s,
                                    time_url=f"{self.center.base_url}/api/v1/time"))
            hw, sink = (hardware or (lambda d: sim_hardware(d, time_scale=1.0)))(config.device_id)
            sensors = SimSensors(config.device_id)
            agent = Agent(config, hw, probe=sensors)
            agent.start()
            started[config.device_id] = SimAgent(agent, sensors, sink)
        for device_id, sim in started.items():
            assert sim.agent.link.connected_event.wait(15), f"{device_id} did not connect"
        self.agents.update(started)
        return started

    def query(self, q: str) -> list[dict[str, Any]]:
        """InfluxQL over HTTP; one dict per point, with the series tags merged in."""
        result = self.influx.query(q, DB)
        points: list[dict[str, Any]] = []
        for statement in result["results"]:  # type: ignore[union-attr]
            assert "error" not in statement, statement
            for series in statement.get("series", []):
                tags = series.get("tags") or {}
                for values in series["values"]:
                    points.append({**tags, **dict(zip(series["columns"], values, strict=True))})
        return points

    def wait_influx(self, q: str, until: Callable[[list[dict[str, Any]]], bool], timeout: float,
                    what: str) -> list[dict[str, Any]]:
        """Poll InfluxDB (another process) until the points satisfy ``until``."""
        def fetch() -> list[dict[str, Any]]:
            try:
                return self.query(q)
            except Exception:  # influxd restarting, database not created yet
                return []
        return poll(fetch, until, timeout, what, interval=0.1,
                    describe=lambda points: f"{len(points)} points")


@pytest.fixture(scope="session")
def influxd_installed() -> None:
    """Fail (not skip) when influxd is missing, naming the install step."""
    try:
        find_influxd()
    except InfluxNotInstalledError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def influx(tmp_path: Path, influxd_installed: None) -> Iterator[InfluxServer]:
    with InfluxServer(tmp_path / "influx") as server:
        yield server


@pytest.fixture
def rig(tmp_path: Path, broker: MosquittoBroker, influx: InfluxServer) -> Iterator[TelemetryRig]:
    with running_center(
        tmp_path / "center", mqtt_host=broker.host, mqtt_port=broker.center_port,
        mqtt_password=broker.center_password, influx_url=influx.url, influx_db=DB,
        monitor_interval_s=0.2, silence_s=SILENCE_S, offline_alert_s=1.0,
        alert_play_failures=1,
    ) as center:
        stack = Stack(tmp_path, broker, center.api, center.public_key_b64)
        rig = TelemetryRig(stack, center, influx)
        try:
            yield rig
        finally:
            for sim in rig.agents.values():
                if sim.agent.state.value == "running":
                    sim.agent.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    path = chromium_path()
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
