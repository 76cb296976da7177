"""Rollouts against a real broker and center: each fake device is a small MQTT client that
reads its command topic and answers with the agent's real events (command_ack, update
reports, a new birth), so the center's side of the conversation is the real one."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from control_center.models import (
    AdminUnit,
    AgentRelease,
    Device,
    Rollout,
    RolloutDevice,
    RolloutState,
)
from control_center.models import RolloutDeviceState as Rd
from control_center.services import rollouts
from firmware_sim.broker import MosquittoBroker
from protocol.codec import encode
from protocol.events import CommandAck, CommandOutcome, Status, UpdateReport, UpdateStage
from protocol.manifest import Command, UpdateAgent
from protocol.signing import Verifier, public_key_from_b64
from protocol.topics import Channel, device_topic
from tests.center.helpers import ok
from tests.center.test_releases import upload, wheel
from tests.security.world import PASSWORD, bearer
from tests.support.center import CenterHandle
from tests.support.mqtt import MqttTestClient, connect_client
from tests.support.tree import add_device, add_unit

pytestmark = pytest.mark.integration

OLD, NEW = "0.1.0", "0.4.0"


@dataclass
class FakeAgent:
    """A device as the center sees it: a birth, and the events an agent sends."""

    device_id: str
    client: MqttTestClient
    verifier: Verifier

    def birth(self, version: str) -> None:
        self.client.publish(device_topic(self.device_id, Channel.STATUS), encode(Status(
            device_id=self.device_id, online=True, at=datetime.now(UTC),
            agent_version=version)), retain=True)

    def commands(self) -> list[Command]:
        topic = device_topic(self.device_id, Channel.CMD)
        return [self.verifier.open_command(m.payload) for m in self.client.received_on(topic)]

    def update_command(self, timeout: float = 10.0) -> Command:
        topic = device_topic(self.device_id, Channel.CMD)
        self.client.wait_for(lambda m: m.topic == topic and b'\\"update\\"' in m.payload,
                             f"the update command for {self.device_id}", timeout)
        return next(c for c in self.commands() if isinstance(c.action, UpdateAgent))

    def send(self, event: CommandAck | UpdateReport) -> None:
        self.client.publish(device_topic(self.device_id, Channel.EVENT), encode(event))

    def answer(self, command: Command, *, end: UpdateStage, reason: str = "") -> None:
        """Accept the command and report each stage up to ``end`` (and the new birth)."""
        assert isinstance(command.action, UpdateAgent)
        now = datetime.now(UTC)
        self.send(CommandAck(event_id=uuid.uuid4().hex, device_id=self.device_id, at=now,
                             command_id=command.id, outcome=CommandOutcome.ACCEPTED))
        stages = [UpdateStage.DOWNLOADED, UpdateStage.INSTALLED, UpdateStage.RESTARTING, end]
        for number, stage in enumerate(stages):
            self.send(UpdateReport(
                event_id=uuid.uuid4().hex, device_id=self.device_id, at=now,
                version=command.action.release.version, stage=stage,
                rollout_id=command.action.rollout_id, duration_ms=100 * (number + 1),
                running_version=NEW if stage == UpdateStage.CONFIRMED else OLD,
                reason=reason if stage == end else ""))
        if end == UpdateStage.CONFIRMED:
            self.birth(command.action.release.version)

    def nothing_more_sent(self, center: CenterHandle) -> None:
        """After a worker round, no update command reached the device: commands on one
        topic arrive in order, so one sent afterwards and received first proves it."""
        center.center.rollouts.run_round()
        after = ok(center.api.post(f"/api/v1/devices/{self.device_id}/commands",
                                   json={"type": "stop"}), 202)
        topic = device_topic(self.device_id, Channel.CMD)
        self.client.wait_for(lambda m: m.topic == topic and after["id"].encode() in m.payload)
        assert [c.action.type for c in self.commands()] == ["stop"]


@pytest.fixture(scope="module")
def tree(center: CenterHandle) -> dict[str, Any]:
    province = add_unit(center.api, "ro-tinh", "province")
    units = {key: add_unit(center.api, f"ro-xa-{key}", "commune", province)
             for key in ("a", "b", "c")}
    for role in ("admin", "operator"):
        ok(center.api.post("/api/v1/users", json={
            "username": f"ro_{role}_a", "password": PASSWORD, "role": role,
            "unit_id": units["a"]["id"]}))
    files = [wheel(f"thongtin_coso-{NEW}-py3-none-any.whl")]
    ok(upload(center.api, NEW, files))
    return {"province": province, **units}


@pytest.fixture(scope="module")
def agents(center: CenterHandle, module_broker: MosquittoBroker, tree: dict[str, Any]
           ) -> Iterator[dict[str, FakeAgent]]:
    """Three devices in each commune, all born on the old version (c-3 already on the new)."""
    verifier = Verifier([public_key_from_b64(center.public_key_b64)])
    made: dict[str, FakeAgent] = {}
    for key in ("a", "b", "c"):
        for number in (1, 2, 3):
            device_id = f"ro-{key}-{number}"
            created = add_device(center.api, device_id, tree[key], broker=module_broker)
            client = connect_client(module_broker.host, module_broker.port, device_id,
                                    created["mqtt_password"])
            client.subscribe(device_topic(device_id, Channel.CMD))
            made[device_id] = FakeAgent(device_id, client, verifier)
            made[device_id].birth(NEW if device_id == "ro-c-3" else OLD)
    center.wait_for(lambda: all(ok(center.api.get(f"/api/v1/devices/{d}"))["agent_version"]
                                for d in made), what="every birth stored")
    yield made
    for agent in made.values():
        agent.client.close()


def _rollout(api: httpx.Client, rollout_id: int) -> dict[str, Any]:
    return ok(api.get(f"/api/v1/rollouts/{rollout_id}"))


def _states(rollout: dict[str, Any]) -> dict[str, str]:
    return {d["device_id"]: d["state"] for d in rollout["devices"]}


def test_waves_go_out_one_after_the_other(center: CenterHandle,
                                          agents: dict[str, FakeAgent],
                                          tree: dict[str, Any]) -> None:
    created = ok(center.api.post("/api/v1/rollouts", json={
        "version": NEW, "targets": {"unit_ids": [tree["a"]["id"]]}}))
    assert created["waves"] == [10, 40, 50] and created["state"] == "running"
    assert {d["device_id"]: d["wave"] for d in created["devices"]} == {
        "ro-a-1": 1, "ro-a-2": 2, "ro-a-3": 3}
    for number, device_id in enumerate(("ro-a-1", "ro-a-2", "ro-a-3"), start=1):
        command = agents[device_id].update_command()
        assert isinstance(command.action, UpdateAgent)
        assert command.action.rollout_id == created["id"]
        assert command.action.release.version == NEW
        assert command.action.confirm_within_s == 300
        rollout = _rollout(center.api, created["id"])
        assert rollout["current_wave"] == number
        assert [s for d, s in _states(rollout).items() if d > device_id] == ["waiting"] * (
            3 - number), "a later wave went out before this one ended"
        agents[device_id].answer(command, end=UpdateStage.CONFIRMED)
    done = center.wait_for(lambda: (r := _rollout(center.api, created["id"]))["state"]
                           == "completed" and r, what="the rollout to complete")
    row = next(d for d in done["devices"] if d["device_id"] == "ro-a-2")
    assert (row["state"], row["stage"], row["from_version"]) == ("confirmed", "confirmed", OLD)
    assert (row["download_ms"], row["install_ms"], row["restart_ms"], row["confirm_ms"]) == (
        100, 200, 300, 400)
    assert [(w["wave"], w["devices"], w["confirmed"]) for w in done["progress"]] == [
        (1, 1, 1), (2, 1, 1), (3, 1, 1)]
    history = ok(center.api.get("/api/v1/devices/ro-a-2/commands"))["items"]
    assert [(h["kind"], h["result"], h["command_id"]) for h in history] == [
        ("update", "sent", row["command_id"])]
    center.wait_for(lambda: ok(center.api.get("/api/v1/devices/ro-a-1"))["agent_version"]
                    == NEW, what="the new birth")
    versions = ok(center.api.get("/api/v1/devices/versions",
                                 params={"unit_id": tree["a"]["id"]}))["items"]
    assert [(v["version"], v["devices"], v["units"]) for v in versions] == [
        (NEW, 3, [{"unit_id": tree["a"]["id"], "devices": 3}])]
    listed = ok(center.api.get("/api/v1/releases"))["items"]
    assert next(r for r in listed if r["version"] == NEW)["devices_running"] >= 3


def test_a_failure_beyond_the_threshold_halts_until_resumed(
        center: CenterHandle, agents: dict[str, FakeAgent], tree: dict[str, Any]) -> None:
    created = ok(center.api.post("/api/v1/rollouts", json={
        "version": NEW, "targets": {"unit_ids": [tree["b"]["id"]]}, "waves": [34, 33, 33]}))
    first = agents["ro-b-1"].update_command()
    agents["ro-b-1"].answer(first, end=UpdateStage.ROLLED_BACK,
                            reason="not healthy within 300 s: no manifest verified")
    halted = center.wait_for(lambda: (r := _rollout(center.api, created["id"]))["state"]
                             == "halted" and r, what="the rollout to halt")
    assert "1 of 1 devices sent failed (rolled_back 1), more than 2 %" in halted["reason"]
    row = next(d for d in halted["devices"] if d["device_id"] == "ro-b-1")
    assert (row["state"], row["reason"]) == (
        "rolled_back", "not healthy within 300 s: no manifest verified")
    agents["ro-b-2"].nothing_more_sent(center)  # the next wave is never sent
    assert _states(_rollout(center.api, created["id"]))["ro-b-2"] == "waiting"
    conflict = center.api.post(f"/api/v1/rollouts/{created['id']}/halt")
    assert conflict.status_code == 409, conflict.text

    resumed = ok(center.api.post(f"/api/v1/rollouts/{created['id']}/resume"), 200)
    assert resumed["state"] == "running" and resumed["reason"] == ""
    for device_id in ("ro-b-2", "ro-b-3"):
        command = agents[device_id].update_command()
        agents[device_id].answer(command, end=UpdateStage.CONFIRMED)
    done = center.wait_for(lambda: (r := _rollout(center.api, created["id"]))["state"]
                           == "completed" and r, what="the resumed rollout to complete")
    assert _states(done) == {"ro-b-1": "rolled_back", "ro-b-2": "confirmed",
                             "ro-b-3": "confirmed"}
    actions = [e["action"] for e in ok(center.api.get("/api/v1/audit", params={
        "object_type": "rollout", "object_id": str(created["id"])}))["items"]]
    assert actions == ["rollout_resume", "rollout_create"]


def test_devices_on_the_version_are_skipped(center: CenterHandle,
                                            agents: dict[str, FakeAgent],
                                            tree: dict[str, Any]) -> None:
    created = ok(center.api.post("/api/v1/rollouts", json={
        "version": NEW, "targets": {"device_ids": ["ro-c-1", "ro-c-3"]}, "waves": [100]}))
    assert created["skipped"] == 1
    assert {d["device_id"]: (d["wave"], d["state"]) for d in created["devices"]} == {
        "ro-c-1": (1, "waiting"), "ro-c-3": (None, "skipped")}
    command = agents["ro-c-1"].update_command()
    agents["ro-c-1"].answer(command, end=UpdateStage.CONFIRMED)
    center.wait_for(lambda: _rollout(center.api, created["id"])["state"] == "completed",
                    what="the rollout to complete")
    agents["ro-c-3"].nothing_more_sent(center)
    again = center.api.post("/api/v1/rollouts", json={
        "version": NEW, "targets": {"device_ids": ["ro-c-1", "ro-c-3"]}})
    assert again.status_code == 409 and "already run version" in again.json()["detail"]


def test_scope(center: CenterHandle, agents: dict[str, FakeAgent], tree: dict[str, Any]
               ) -> None:
    """A user of commune A sees nothing of commune B's rollouts and cannot target them."""
    in_b = ok(center.api.get("/api/v1/rollouts"))["items"]
    b_rollout = next(r for r in in_b if r["targets"]["unit_ids"] == [tree["b"]["id"]])
    with bearer(center.base_url, "ro_operator_a") as operator, \
            bearer(center.base_url, "ro_admin_a") as admin:
        r = operator.get(f"/api/v1/rollouts/{b_rollout['id']}")
        assert r.status_code == 404, r.text
        assert b_rollout["id"] not in [x["id"] for x in ok(operator.get("/api/v1/rollouts"))[
            "items"]]
        assert [v["version"] for v in ok(operator.get("/api/v1/devices/versions"))["items"]
                ] == [NEW]  # commune A's three devices only
        r = operator.post("/api/v1/rollouts", json={
            "version": NEW, "targets": {"unit_ids": [tree["a"]["id"]]}})
        assert r.status_code == 403, r.text
        r = admin.post("/api/v1/rollouts", json={
            "version": NEW, "targets": {"unit_ids": [tree["b"]["id"]]}})
        assert r.status_code == 404 and f"unit {tree['b']['id']}" in r.json()["detail"]
        r = admin.post(f"/api/v1/rollouts/{b_rollout['id']}/halt")
        assert r.status_code == 404, r.text


def test_console_page(center: CenterHandle, agents: dict[str, FakeAgent],
                      tree: dict[str, Any]) -> None:
    """The page shows versions, releases and rollouts; its form starts one (after refusing
    bad shares beside the field) and its button halts it; other communes' rollouts are 404."""
    ok(center.api.post("/api/v1/users", json={"username": "ro_admin_p", "password": PASSWORD,
                                              "role": "admin",
                                              "unit_id": tree["province"]["id"]}))
    pages = {}
    for name in ("ro_admin_p", "ro_operator_a"):
        client = httpx.Client(base_url=center.base_url, timeout=30)
        r = client.post("/console/login", data={"username": name, "password": PASSWORD,
                                                "next": "/console/versions"})
        assert r.status_code == 303, r.text
        pages[name] = client
    admin = pages["ro_admin_p"]
    page = admin.get("/console/versions")
    assert page.status_code == 200 and "Phiên bản phần mềm" in page.text
    assert f'data-version="{NEW}"' in page.text and f'data-release="{NEW}"' in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    form = {"csrf": csrf.group(1), "version": NEW, "unit_id": str(tree["b"]["id"]),
            "device_ids": "", "waves": "50, 40", "failure_threshold_pct": "2",
            "confirm_within_s": "300"}
    refused = admin.post("/console/versions/rollouts", data=form)
    assert refused.status_code == 422 and "cộng lại bằng 100" in refused.text
    started = admin.post("/console/versions/rollouts", data={**form, "waves": "100"})
    assert started.status_code == 303, started.text
    newest = ok(center.api.get("/api/v1/rollouts"))["items"][0]
    assert newest["created_by"] == "ro_admin_p" and newest["state"] == "running"
    assert {d["device_id"] for d in _rollout(center.api, newest["id"])["devices"]
            if d["state"] != "skipped"} == {"ro-b-1"}  # the others run the version already
    center.wait_for(lambda: _states(_rollout(center.api, newest["id"]))["ro-b-1"] == "sent",
                    what="the first wave to go out")
    halted = admin.post(f"/console/versions/rollouts/{newest['id']}/halt",
                        data={"csrf": csrf.group(1)})
    assert halted.status_code == 303
    detail = admin.get(halted.headers["location"])
    assert 'id="rollout-state">Đã dừng / halted' in detail.text
    assert 'data-device="ro-b-1"' in detail.text
    hidden = pages["ro_operator_a"].get(f"/console/versions/rollouts/{newest['id']}")
    assert hidden.status_code == 404
    for client in pages.values():
        client.close()


def test_waves_by_units(center: CenterHandle, agents: dict[str, FakeAgent],
                        tree: dict[str, Any]) -> None:
    """``wave_units``: a device goes to the first wave naming its unit or one above it."""
    body = {"version": NEW, "targets": {"unit_ids": [tree["province"]["id"]]}}
    r = center.api.post("/api/v1/rollouts", json={**body, "wave_units": [[tree["a"]["id"]]]})
    assert r.status_code == 422 and "lie in no unit of wave_units" in r.json()["detail"], r.text
    r = center.api.post("/api/v1/rollouts", json={**body, "wave_units": [[987654]]})
    assert r.status_code == 422 and "unknown unit(s) [987654]" in r.json()["detail"]
    r = center.api.post("/api/v1/rollouts", json={**body, "waves": [100], "wave_units": [[1]]})
    assert r.status_code == 422 and "not both" in r.text
    created = ok(center.api.post("/api/v1/rollouts", json={
        **body, "wave_units": [[tree["a"]["id"]], [tree["province"]["id"]]]}))
    placed = {d["device_id"]: d["wave"] for d in created["devices"] if d["wave"]}
    assert placed == {"ro-b-1": 2, "ro-c-2": 2}  # the devices not on the version yet
    assert [w["devices"] for w in created["progress"]] == [0, 2]
    ok(center.api.post(f"/api/v1/rollouts/{created['id']}/halt"), 200)


def test_a_silent_device_times_out_and_halts_the_rollout(
        sessions: sessionmaker[Session]) -> None:
    """No end reported ``confirm_within_s`` + the allowance after the command: timed out,
    and one failure of three sent devices is beyond 2 %."""
    start = datetime(2026, 12, 1, 8, tzinfo=UTC)
    with sessions() as session:
        unit_ = AdminUnit(code="to-xa", name="Xã", level="commune", created_at=start)
        session.add(unit_)
        session.flush()
        session.add(AgentRelease(version=NEW, created_at=start, created_by="t", notes="",
                                 envelope="{}", manifest_sha256="0" * 64, file_count=1,
                                 total_bytes=1))
        rollout = Rollout(version=NEW, created_at=start, created_by="t", unit_id=unit_.id,
                          targets={}, wave_count=2, failure_threshold_pct=2,
                          confirm_within_s=60, state=RolloutState.RUNNING, reason="",
                          current_wave=1, failures_accepted=0)
        session.add(rollout)
        session.flush()
        for number, state in enumerate((Rd.SENT, Rd.CONFIRMED, Rd.CONFIRMED, Rd.WAITING)):
            session.add(Device(id=f"to-{number}", name="Loa", kind="speaker", unit_id=unit_.id,
                               mqtt_password_hash="x", created_at=start))
            session.flush()
            session.add(RolloutDevice(
                rollout_id=rollout.id, device_id=f"to-{number}", unit_id=unit_.id,
                wave=1 if state != Rd.WAITING else 2, state=state, reason="",
                sent_at=start if state != Rd.WAITING else None))
        allowance = timedelta(minutes=15)
        deadline = start + timedelta(seconds=60) + allowance
        assert rollouts.step(session, rollout=rollout, now=deadline, allowance=allowance) is None
        assert rollout.state == RolloutState.RUNNING  # still waiting for to-0, not yet late
        late = deadline + timedelta(seconds=1)
        assert rollouts.step(session, rollout=rollout, now=late, allowance=allowance) is None
        row = session.scalar(select(RolloutDevice).where(RolloutDevice.device_id == "to-0"))
        assert row is not None and row.state == Rd.TIMED_OUT and row.ended_at == late
        assert "no end reported within 960 s (last stage: none)" in row.reason
        assert rollout.state == RolloutState.HALTED
        assert "1 of 3 devices sent failed (timed_out 1)" in rollout.reason
