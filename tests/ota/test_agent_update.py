"""Three real agents, each in its own managed root and started through launch.py as systemd
would, updated by the real center (release upload, rollout) to a release built in the test;
then a broken release that every agent rolls back from by itself."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.broker import MosquittoBroker, find_executable
from protocol.codec import decode_event
from protocol.events import CommandAck, CommandOutcome, UpdateReport, UpdateStage
from protocol.topics import Channel, device_topic
from tests.ota.rig import LaunchedAgent, build_release, first_install, release_files
from tests.support.center import CenterHandle, running_center
from tests.support.mqtt import MqttTestClient, connect_client
from tests.support.tree import add_device, add_unit
from tests.support.waiting import poll

pytestmark = pytest.mark.integration
DEVICES = ("loa-ota-1", "loa-ota-2", "loa-ota-3")
BASE, GOOD, BROKEN = "0.1.0", "0.1.1", "0.1.2"


@dataclass
class Fleet:
    center: CenterHandle
    unit: dict[str, Any]
    agents: list[LaunchedAgent]
    events: MqttTestClient

    def reports(self, device_id: str, version: str) -> list[UpdateReport]:
        out = []
        for message in self.events.received_on(device_topic(device_id, Channel.EVENT)):
            event = decode_event(message.payload)
            if isinstance(event, UpdateReport) and event.version == version:
                out.append(event)
        return out

    def acks(self, device_id: str) -> list[CommandAck]:
        return [e for m in self.events.received_on(device_topic(device_id, Channel.EVENT))
                if isinstance(e := decode_event(m.payload), CommandAck)]

    def versions(self) -> dict[str, str]:
        return {a.device_id: self.center.api.get(f"/api/v1/devices/{a.device_id}").json()
                ["agent_version"] for a in self.agents}

    def roll_out(self, version: str, folder: Path) -> dict[str, Any]:
        files = [("files", (name, body, "application/zip")) for name, body in
                 release_files(folder)]
        uploaded = self.center.api.post("/api/v1/releases", files=[
            ("version", (None, version)), *files])
        assert uploaded.status_code == 201, uploaded.text
        created = self.center.api.post("/api/v1/rollouts", json={
            "version": version, "targets": {"unit_ids": [self.unit["id"]]}, "waves": [100],
            "failure_threshold_pct": 100, "confirm_within_s": 60})
        assert created.status_code == 201, created.text
        return dict(created.json())

    def wait_rollout(self, rollout_id: int, end: str, timeout: float = 60) -> dict[str, Any]:
        def ended(body: dict[str, Any]) -> bool:
            return all(d["state"] == end for d in body["devices"])
        return dict(poll(lambda: self.center.api.get(f"/api/v1/rollouts/{rollout_id}").json(),
                         ended, timeout, f"every device {end}", interval=0.1,
                         describe=lambda body: f"{body['devices']}\n{self.journals()}"))

    def journals(self) -> str:
        return "\n".join(f"--- {a.device_id}\n{a.journal(15)}" for a in self.agents)


@pytest.fixture(scope="session")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The three releases, built once per session: the base, a good one, a broken one."""
    out = tmp_path_factory.mktemp("releases")
    with ThreadPoolExecutor(3) as pool:
        built = {v: pool.submit(build_release, v, out / v, "exit" if v == BROKEN else None)
                 for v in (BASE, GOOD, BROKEN)}
        return {v: f.result() for v, f in built.items()}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    find_executable("mosquitto")
    with MosquittoBroker(tmp_path_factory.mktemp("broker")) as broker:
        yield broker


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, broker: MosquittoBroker,
          releases: dict[str, Path]) -> Iterator[Fleet]:
    home = tmp_path_factory.mktemp("devices")
    agents = [LaunchedAgent(device_id, home / device_id) for device_id in DEVICES]
    installs = [first_install(agent.root, releases[BASE]) for agent in agents]
    for install in installs:  # the three first installs run while the center starts
        output = install.communicate(timeout=120)[0].decode()
        assert install.returncode == 0, output
    with running_center(tmp_path_factory.mktemp("center"), mqtt_host=broker.host,
                        mqtt_port=broker.center_port,
                        mqtt_password=broker.center_password) as center:
        events = connect_client(broker.host, broker.center_port, "center",
                                broker.center_password, client_id="ota-test-watch")
        try:
            for device_id in DEVICES:
                events.subscribe(device_topic(device_id, Channel.EVENT))
            unit = add_unit(center.api, "xa-ota", "commune")
            for agent in agents:
                created = add_device(center.api, agent.device_id, unit, broker=broker)
                agent.configure(broker_host=broker.host, broker_port=broker.port,
                                password=created["mqtt_password"],
                                public_key=center.public_key_b64)
                agent.start()
            fleet = Fleet(center, unit, agents, events)
            poll(fleet.versions, lambda v: set(v.values()) == {BASE}, 30,
                 f"every agent running {BASE}", describe=lambda v: f"{v}\n{fleet.journals()}")
            yield fleet
        finally:
            codes = [agent.stop() for agent in agents]
            events.close()
    assert codes == [0, 0, 0]  # SIGTERM reached each agent through its launcher


def test_three_agents_update_to_a_release_built_in_the_test(
        fleet: Fleet, releases: dict[str, Path]) -> None:
    rollout = fleet.roll_out(GOOD, releases[GOOD])
    done = fleet.wait_rollout(rollout["id"], "confirmed")
    poll(fleet.versions, lambda v: set(v.values()) == {GOOD}, 10, f"every birth of {GOOD}")
    rows = {row["device_id"]: row for row in done["devices"]}
    for agent in fleet.agents:
        row = rows[agent.device_id]
        reports = fleet.reports(agent.device_id, GOOD)
        stages = [r.stage for r in reports]
        assert stages == [UpdateStage.DOWNLOADED, UpdateStage.INSTALLED,
                          UpdateStage.RESTARTING, UpdateStage.CONFIRMED], stages
        assert [r.running_version for r in reports] == [BASE, BASE, BASE, GOOD]
        assert all(r.rollout_id == rollout["id"] for r in reports)
        assert all(r.duration_ms is not None for r in reports)
        assert row["download_ms"] is not None and row["install_ms"] is not None
        assert any(a.outcome == CommandOutcome.ACCEPTED and a.command_id == row["command_id"]
                   for a in fleet.acks(agent.device_id))
        layout = agent.layout
        assert layout.current_version() == GOOD and layout.previous_version() == BASE
        assert os.readlink(layout.current) == f"releases/{GOOD}"
        state = agent.state()
        assert state.trial is None and state.last is not None
        assert state.last.result == "confirmed" and state.last.reported
        # the launcher at the root is now the confirmed release's copy
        installed = layout.release_dir(GOOD) / "lib"
        copies = list(installed.glob("python3.*/site-packages/edge_agent/update/launch.py"))
        assert copies and copies[0].read_bytes() == layout.launcher.read_bytes()
        assert not (agent.home / "var-lib-tt-agent" / "updates" / GOOD).exists()


def test_a_broken_release_is_rolled_back_by_every_agent(
        fleet: Fleet, releases: dict[str, Path]) -> None:
    rollout = fleet.roll_out(BROKEN, releases[BROKEN])
    done = fleet.wait_rollout(rollout["id"], "rolled_back")
    rows = {row["device_id"]: row for row in done["devices"]}
    for agent in fleet.agents:
        row = rows[agent.device_id]
        assert "started three times and exited each time" in row["reason"], row
        assert "broken on purpose" in row["reason"], row
        reports = fleet.reports(agent.device_id, BROKEN)
        assert [r.stage for r in reports][-1] == UpdateStage.ROLLED_BACK
        back = reports[-1]
        assert back.running_version == GOOD  # sent by the old version, running again
        layout = agent.layout
        assert layout.current_version() == GOOD and layout.previous_version() is None
        state = agent.state()
        assert state.trial is None and state.last is not None
        assert state.last.result == "rolled_back" and state.last.reported
        assert agent.proc is not None and agent.proc.poll() is None  # never left stopped
    assert fleet.versions() == dict.fromkeys(DEVICES, GOOD)
