"""Fixtures of the console suite: a real center and broker, a small tree with users per role.

The tree (any depth is allowed; this one has three levels):

    province "Tỉnh P" ── commune "Xã A" (devices loa-a1, loa-a2)
                     └─ commune "Xã B" (device loa-b1)

Users (password ``PASSWORD`` for all): ``admin`` (province admin), ``prov_op`` and
``prov_appr`` (province operator and approver), ``op_a``/``appr_a``/``tech_a`` in commune A,
``op_b``/``appr_b`` in commune B.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from edge_agent.config import AgentConfig, CacheConfig, MqttConfig
from firmware_sim.broker import MosquittoBroker
from firmware_sim.fleet import Fleet, SimDevice
from tests.center.helpers import ok, uid
from tests.support.browser import LAPTOP
from tests.support.center import CenterHandle
from tests.support.tree import add_device, add_unit

PASSWORD = "mat-khau-thu-nghiem-2026"
USERS = {
    "admin": ("admin", "province"),
    "prov_op": ("operator", "province"),
    "prov_appr": ("approver", "province"),
    "op_a": ("operator", "a"),
    "appr_a": ("approver", "a"),
    "tech_a": ("technician", "a"),
    "op_b": ("operator", "b"),
    "appr_b": ("approver", "b"),
}


@dataclass
class Tree:
    """Ids of the seeded units, devices and users, and a way to act as each user."""

    center: CenterHandle
    units: dict[str, dict[str, Any]]
    devices: dict[str, dict[str, Any]]
    passwords: dict[str, str] = field(default_factory=dict)  # device id -> broker password
    broker: MosquittoBroker | None = None
    tmp: Path | None = None
    _clients: list[httpx.Client] = field(default_factory=list)
    _fleets: list[Fleet] = field(default_factory=list)

    def fleet(self, *device_ids: str) -> dict[str, SimDevice]:
        """Start real agents (simulated audio sinks) for the given seeded devices, connected."""
        assert self.broker is not None and self.tmp is not None
        configs = [AgentConfig(
            device_id=dev, data_dir=self.tmp / "agents" / dev,
            center_public_keys=(self.center.public_key_b64,),
            mqtt=MqttConfig(host=self.broker.host, port=self.broker.port,
                            password=self.passwords[dev], keepalive_s=5, reconnect_min_s=0.5,
                            reconnect_max_s=1),
            cache=CacheConfig(retry_min_s=0.2, retry_max_s=1.0),
        ) for dev in device_ids]
        fleet = Fleet(configs)
        self._fleets.append(fleet)
        fleet.start()
        assert fleet.wait_connected(15) == []
        return fleet.devices

    def api_as(self, username: str) -> httpx.Client:
        """An httpx client signed in as ``username`` (a bearer session token)."""
        r = httpx.post(f"{self.center.base_url}/api/v1/auth/login",
                       json={"username": username, "password": PASSWORD}, timeout=30)
        body = ok(r, 200)
        client = httpx.Client(base_url=self.center.base_url, timeout=30,
                              headers={"Authorization": f"Bearer {body['token']}"})
        self._clients.append(client)
        return client

    def close(self) -> None:
        for fleet in self._fleets:
            fleet.stop()
        for client in self._clients:
            client.close()


@pytest.fixture
def tree(center: CenterHandle, broker: MosquittoBroker, tmp_path: Path) -> Iterator[Tree]:
    api = center.api
    province = add_unit(api, uid("tinh-p"), "province", name="Tỉnh P")
    units = {"province": province}
    for key, name in (("a", "Xã A"), ("b", "Xã B")):
        units[key] = add_unit(api, uid(f"xa-{key}"), "commune", province, name=name)
    devices: dict[str, dict[str, Any]] = {}
    passwords: dict[str, str] = {}
    for dev_id, key, lat, lon in (("loa-a1", "a", 21.03, 105.85), ("loa-a2", "a", 21.04, 105.86),
                                  ("loa-b1", "b", 21.10, 105.90)):
        created = add_device(api, dev_id, units[key], broker=broker, lat=lat, lon=lon)
        devices[dev_id] = created
        passwords[dev_id] = created["mqtt_password"]
    for username, (role, key) in USERS.items():
        ok(api.post("/api/v1/users", json={"username": username, "password": PASSWORD,
                                           "role": role, "unit_id": units[key]["id"],
                                           "full_name": f"Cán bộ {username}"}))
    handle = Tree(center=center, units=units, devices=devices, passwords=passwords,
                  broker=broker, tmp=tmp_path)
    yield handle
    handle.close()


def sign_in(browser: Browser, base_url: str, username: str, *,
            viewport: dict[str, int] | None = None, password: str = PASSWORD) -> Page:
    """A new browser context signed in on the console as ``username``."""
    context = browser.new_context(viewport=viewport or LAPTOP, locale="vi-VN",
                                  timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    page.goto(f"{base_url}/console/login")
    page.fill("#f-username", username)
    page.fill("#f-password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/console")
    return page
