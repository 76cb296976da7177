"""Two real brokers, one center: a province whose district B is on broker "b2".

Devices land on their unit's broker (their accounts exist only there, their enrolment answer
names it), a schedule to the province plays on both brokers' devices and their play events are
ingested from both; a device of B cannot log in to the main broker; revoking it disconnects it
from b2. When a unit moves to b2, its enrolled device is moved by a signed command (it restarts
onto b2 and keeps playing), and a device registered but not enrolled moves at its enrolment.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from edge_agent.config import AgentConfig, CacheConfig, MqttConfig
from firmware_sim.broker import MosquittoBroker, find_executable, probe_login
from firmware_sim.fleet import Fleet, SimDevice
from tests.e2e.conftest import Stack
from tests.support.center import CenterHandle, running_center
from tests.support.tree import add_device, add_unit
from tests.support.waiting import poll

REFUSED = (4, 5)  # CONNACK codes of MQTT 3.1.1 for a refused login
PASSWORD = "mat-khau-tinh-2026"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Province:
    center: CenterHandle
    main: MosquittoBroker
    b2: MosquittoBroker
    stack: Stack
    units: dict[str, dict[str, Any]]
    fleets: dict[str, Fleet]

    def enrol(self, device_id: str) -> dict[str, Any]:
        code = self.center.api.post(f"/api/v1/devices/{device_id}/enrolment-codes")
        assert code.status_code == 201, code.text
        answer = self.center.api.post("/api/v1/enrol", json={"code": code.json()["code"]})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def run(self, answer: dict[str, Any]) -> SimDevice:
        """A real agent with the credential and broker of its enrolment answer."""
        device_id, mqtt = answer["device_id"], answer["mqtt"]
        if (old := self.fleets.pop(device_id, None)) is not None:
            old.stop()
        fleet = Fleet([AgentConfig(
            device_id=device_id, data_dir=self.stack.tmp / "agents" / device_id,
            center_public_keys=tuple(answer["center_public_keys"]),
            mqtt=MqttConfig(host=mqtt["host"], port=mqtt["port"], password=mqtt["password"],
                            keepalive_s=5, reconnect_min_s=0.2, reconnect_max_s=1),
            cache=CacheConfig(retry_min_s=0.2, retry_max_s=1.0))])
        self.fleets[device_id] = fleet
        fleet.start()
        assert fleet.wait_connected(15) == [], f"{device_id} did not connect to {mqtt['url']}"
        return fleet.devices[device_id]

    def brokers(self) -> dict[str, dict[str, Any]]:
        listed = self.center.api.get("/api/v1/brokers")
        assert listed.status_code == 200, listed.text
        return {b["name"]: b for b in listed.json()["items"]}


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Province]:
    find_executable("mosquitto")
    tmp = tmp_path_factory.mktemp("two-brokers")
    with MosquittoBroker(tmp / "main") as main, MosquittoBroker(tmp / "b2") as b2:
        brokers_file = tmp / "brokers.toml"
        (tmp / "b2.pass").write_text(b2.center_password + "\n")
        brokers_file.write_text(
            f'[[broker]]\nname = "b2"\nhost = "{b2.host}"\nport = {b2.center_port}\n'
            f'username = "{b2.center_username}"\npassword_file = "b2.pass"\n'
            f'device_url = "{b2.url}"\n')
        with running_center(tmp / "center", mqtt_host=main.host, mqtt_port=main.center_port,
                            mqtt_password=main.center_password, device_mqtt_url=main.url,
                            brokers_file=brokers_file) as center:
            stack = Stack(tmp, main, center.api, center.public_key_b64)
            top = add_unit(center.api, "tinh-q", "province")
            units = {"top": top, "a": add_unit(center.api, "huyen-a", "district", top),
                     "b": add_unit(center.api, "huyen-b", "district", top)}
            fleets: dict[str, Fleet] = {}
            try:
                yield Province(center, main, b2, stack, units, fleets)
            finally:
                for fleet in fleets.values():
                    fleet.stop()


def _schedule(province: Province, bulletin: dict[str, Any], seconds_ahead: float) -> float:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds_ahead)
    province.stack.post("/api/v1/schedules", {
        "bulletin_id": bulletin["id"], "start_at": start.isoformat(),
        "targets": {"unit_ids": [province.units["top"]["id"]]}})
    return start.timestamp()


def test_devices_live_on_their_units_broker_and_play_from_both(province: Province) -> None:
    api, main, b2 = province.center.api, province.main, province.b2
    assert set(province.brokers()) == {"main", "b2"}
    assert all(b["connected"] for b in province.brokers().values())
    unknown = api.patch(f"/api/v1/units/{province.units['b']['id']}", json={"broker": "b3"})
    assert unknown.status_code == 422 and "known: main, b2" in unknown.text
    assigned = api.patch(f"/api/v1/units/{province.units['b']['id']}", json={"broker": "b2"})
    assert assigned.status_code == 200 and assigned.json()["broker"] == "b2", assigned.text

    on_a = add_device(api, "loa-a1", province.units["a"])
    on_b = add_device(api, "loa-b1", province.units["b"])
    assert (on_a["broker"], on_b["broker"]) == ("main", "b2")
    assert "loa-b1" in b2.users() and "loa-b1" not in main.users()
    assert "loa-a1" in main.users() and "loa-a1" not in b2.users()

    answers = {d: province.enrol(d) for d in ("loa-a1", "loa-b1")}
    assert answers["loa-a1"]["mqtt"]["url"] == main.url
    assert answers["loa-b1"]["mqtt"]["url"] == b2.url
    password_b = answers["loa-b1"]["mqtt"]["password"]
    assert probe_login(main.host, main.port, "loa-b1", password_b) in REFUSED
    devices = {d: province.run(answer) for d, answer in answers.items()}
    poll(lambda: [d.agent.manifest for d in devices.values()],
         lambda held: None not in held, 15, "both hold their first manifest")

    bulletin = province.stack.audio_bulletin(0.5)
    instant = _schedule(province, bulletin, 4)
    for device_id, device in devices.items():
        assert device.sink.wait_for(lambda r: len(r) == 1 and r[0].completed, 20), device_id
        assert abs(device.sink.records[0].started_at - instant) < 0.3
    plays = poll(lambda: province.stack.plays(bulletin_id=bulletin["id"]),
                 lambda p: {x["device_id"] for x in p if x["status"] == "completed"}
                 == {"loa-a1", "loa-b1"}, 15, "completed plays ingested from both brokers")
    assert sorted(p["device_id"] for p in plays) == ["loa-a1", "loa-b1"]
    listed = province.brokers()
    assert (listed["main"]["devices"], listed["b2"]["devices"]) == (1, 1)

    revoked = api.post("/api/v1/devices/loa-b1/revoke", json={"reason": "mất trộm / stolen"})
    assert revoked.status_code == 200, revoked.text
    link = devices["loa-b1"].agent.link
    poll(lambda: link.connected_event.is_set(), lambda c: not c, 5, "loa-b1 disconnected")
    assert probe_login(b2.host, b2.port, "loa-b1", password_b) in REFUSED
    assert devices["loa-a1"].agent.link.connected_event.is_set()


def test_an_enrolled_device_moves_with_its_unit_and_keeps_playing(province: Province) -> None:
    api, main, b2 = province.center.api, province.main, province.b2
    district = add_unit(api, "huyen-c", "district", province.units["top"])
    assert add_device(api, "loa-c1", district)["broker"] == "main"
    answer = province.enrol("loa-c1")
    device = province.run(answer)
    poll(lambda: device.agent.manifest, lambda m: m is not None, 15, "manifest held from main")

    moved = api.patch(f"/api/v1/units/{district['id']}", json={"broker": "b2"})
    assert moved.status_code == 200, moved.text
    assert "loa-c1" in b2.users()  # its account there before the command went out
    assert device.agent.restart_needed.wait(10), "the agent did not take the move command"
    assert b2.url in device.agent.restart_reason
    device = province.run(answer)  # as the launcher would start it again: onto b2
    poll(lambda: api.get("/api/v1/devices/loa-c1").json()["broker"], lambda b: b == "b2", 10,
         "the move acknowledged and recorded")
    poll(lambda: main.users(), lambda users: "loa-c1" not in users, 10,
         "the account on main removed")
    assert probe_login(main.host, main.port, "loa-c1", answer["mqtt"]["password"]) in REFUSED
    history = api.get("/api/v1/devices/loa-c1/commands").json()["items"]
    assert history[0]["kind"] == "move_broker" and history[0]["result"] == "sent"

    bulletin = province.stack.audio_bulletin(0.4, title="Sau khi chuyển")
    instant = _schedule(province, bulletin, 4)
    assert device.sink.wait_for(lambda r: any(x.completed and abs(x.started_at - instant) < 0.3
                                              for x in r), 20), "no play after the move"
    poll(lambda: province.stack.plays(bulletin_id=bulletin["id"], device_id="loa-c1"),
         lambda p: [x["status"] for x in p] == ["completed"], 15, "its play ingested from b2")
    assert province.brokers()["main"]["waiting"] == 0


def test_a_registered_device_moves_at_its_enrolment(province: Province) -> None:
    api, main, b2 = province.center.api, province.main, province.b2
    district = add_unit(api, "huyen-d", "district", province.units["top"])
    assert add_device(api, "loa-d1", district)["broker"] == "main"  # account on main, unused
    moved = api.patch(f"/api/v1/units/{district['id']}", json={"broker": "b2"})
    assert moved.status_code == 200, moved.text
    assert province.brokers()["main"]["waiting"] == 1  # not enrolled: nothing to command

    answer = province.enrol("loa-d1")
    assert answer["mqtt"]["url"] == b2.url
    assert api.get("/api/v1/devices/loa-d1").json()["broker"] == "b2"
    assert "loa-d1" in b2.users() and "loa-d1" not in main.users()
    assert province.brokers()["main"]["waiting"] == 0


def test_an_administrator_names_a_units_broker_on_its_console_page(province: Province) -> None:
    api, top = province.center.api, province.units["top"]
    district = add_unit(api, "huyen-e", "district", top)
    created = api.post("/api/v1/users", json={"username": "admin_tinh", "password": PASSWORD,
                                              "role": "admin", "unit_id": top["id"]})
    assert created.status_code == 201, created.text
    with httpx.Client(base_url=province.center.base_url, timeout=30) as browser:
        signed = browser.post("/console/login", data={"username": "admin_tinh",
                                                      "password": PASSWORD})
        assert signed.status_code == 303, signed.text[:300]
        page = browser.get(f"/console/units/{district['id']}").text
        assert 'id="broker-form"' in page and "<strong>main</strong>" in page
        csrf = CSRF.search(page)
        assert csrf is not None
        path = f"/console/units/{district['id']}/broker"
        refused = browser.post(path, data={"csrf": csrf.group(1), "broker": "b9"})
        assert refused.status_code == 422 and "main, b2" in refused.text
        saved = browser.post(path, data={"csrf": csrf.group(1), "broker": "b2"})
        assert saved.status_code == 303, saved.text[:300]
        assert "<strong>b2</strong>" in browser.get(saved.headers["location"]).text
    assert api.get(f"/api/v1/units/{district['id']}").json()["broker"] == "b2"


def test_the_brokers_file_names_what_the_healthz_shows(province: Province) -> None:
    health = province.center.api.get("/healthz").json()
    assert health["status"] == "ok"
    assert {b["name"]: b["state"] for b in health["mqtt"]["brokers"]} == {
        "main": "connected", "b2": "connected"}

