"""One broker, one center and one tree per CAP test module.

Province P (communes A and B, speakers with positions) and province Q (commune C). Sender
``dai-kttv-p@example.vn`` may alert province P and sends emergencies at once; sender
``tram-xa-a@example.vn`` may alert commune A only and its emergencies wait for an approver.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge_agent.config import AgentConfig, CacheConfig, MqttConfig
from firmware_sim.broker import MosquittoBroker, find_executable
from firmware_sim.fleet import Fleet, SimDevice
from tests.center.helpers import ok
from tests.support.center import CenterHandle, running_center
from tests.support.databases import Backend
from tests.support.tree import add_device, add_unit

DOCUMENTS = Path(__file__).parent / "documents"
PROVINCE_SENDER = "dai-kttv-p@example.vn"
COMMUNE_SENDER = "tram-xa-a@example.vn"
PASSWORD = "mat-khau-canh-bao-2026"
# device id -> (unit key, lat, lon)
SPEAKERS = {"cap-loa-a1": ("a", 21.00, 105.80), "cap-loa-a2": ("a", 21.02, 105.82),
            "cap-loa-b1": ("b", 21.50, 106.30), "cap-loa-c1": ("c", 10.77, 106.70)}


@dataclass
class CapWorld:
    center: CenterHandle
    broker: MosquittoBroker
    tmp: Path
    units: dict[str, dict[str, Any]]
    keys: dict[str, str]
    sender_ids: dict[str, int]
    passwords: dict[str, str]
    clients: list[httpx.Client] = field(default_factory=list)
    fleets: list[Fleet] = field(default_factory=list)

    def post_cap(self, name: str, sender: str = PROVINCE_SENDER, *, body: bytes | None = None,
                 content_type: str = "application/cap+xml") -> httpx.Response:
        data = body if body is not None else (DOCUMENTS / name).read_bytes()
        return httpx.post(f"{self.center.base_url}/api/v1/cap/alerts", content=data,
                          timeout=60, headers={"X-CAP-Key": self.keys[sender],
                                               "Content-Type": content_type})

    def signed_in(self, username: str, role: str, unit: str) -> httpx.Client:
        ok(self.center.api.post("/api/v1/users", json={
            "username": username, "password": PASSWORD, "role": role,
            "unit_id": self.units[unit]["id"]}))
        token = ok(httpx.post(f"{self.center.base_url}/api/v1/auth/login", timeout=30,
                              json={"username": username, "password": PASSWORD}), 200)["token"]
        client = httpx.Client(base_url=self.center.base_url, timeout=60,
                              headers={"Authorization": f"Bearer {token}"})
        self.clients.append(client)
        return client

    def fleet(self, *device_ids: str) -> dict[str, SimDevice]:
        """Real agents with simulated audio sinks for the given speakers, connected."""
        fleet = Fleet([AgentConfig(
            device_id=dev, data_dir=self.tmp / "agents" / dev,
            center_public_keys=(self.center.public_key_b64,),
            mqtt=MqttConfig(host=self.broker.host, port=self.broker.port,
                            password=self.passwords[dev], keepalive_s=5, reconnect_min_s=0.5,
                            reconnect_max_s=1),
            cache=CacheConfig(retry_min_s=0.2, retry_max_s=1.0)) for dev in device_ids])
        self.fleets.append(fleet)
        fleet.start()
        assert fleet.wait_connected(15) == []
        return fleet.devices


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, db_backend: Backend) -> Iterator[CapWorld]:
    find_executable("mosquitto")
    tmp = tmp_path_factory.mktemp("cap")
    with MosquittoBroker(tmp / "broker") as broker, running_center(
            tmp / "center", mqtt_host=broker.host, mqtt_port=broker.center_port,
            mqtt_password=broker.center_password, cap_sender="trung-tam-p@example.vn") as center:
        api = center.api
        p = add_unit(api, "cap-tinh-p", "province", name="Tỉnh P")
        units = {"p": p, "a": add_unit(api, "cap-xa-a", "commune", p, name="Xã A"),
                 "b": add_unit(api, "cap-xa-b", "commune", p, name="Xã B")}
        units["q"] = add_unit(api, "cap-tinh-q", "province", name="Tỉnh Q")
        units["c"] = add_unit(api, "cap-xa-c", "commune", units["q"], name="Xã C")
        passwords = {dev: add_device(api, dev, units[key], broker=broker, lat=lat,
                                     lon=lon)["mqtt_password"]
                     for dev, (key, lat, lon) in SPEAKERS.items()}
        keys, ids = {}, {}
        for sender, unit, rule in ((PROVINCE_SENDER, "p", "at_once"),
                                   (COMMUNE_SENDER, "a", "approval")):
            made = ok(api.post("/api/v1/cap/senders", json={
                "sender": sender, "name": f"Đơn vị {sender}", "unit_id": units[unit]["id"],
                "emergency_rule": rule}))
            keys[sender], ids[sender] = made["api_key"], made["id"]
        found = CapWorld(center, broker, tmp, units, keys, ids, passwords)
        try:
            yield found
        finally:
            for fleet in found.fleets:
                fleet.stop()
            for client in found.clients:
                client.close()
