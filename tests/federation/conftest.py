"""Two centers, each with its own broker and database: the central one and a province's."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from firmware_sim.broker import MosquittoBroker
from firmware_sim.fleet import Fleet, SimDevice
from tests.center.helpers import ok
from tests.support.center import CenterHandle, running_center
from tests.support.netns import Namespace, isolated_namespace
from tests.support.speakers import start_speaker
from tests.support.tree import add_unit

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Site:
    """One center with its broker, tree and simulated devices."""

    name: str
    tmp: Path
    broker: MosquittoBroker
    center: CenterHandle
    fleets: list[Fleet] = field(default_factory=list)

    @property
    def api(self) -> Any:
        return self.center.api

    def identity(self) -> dict[str, Any]:
        return ok(self.api.get("/api/v1/federation/identity"))

    def unit(self, code: str, level: str, parent: dict[str, Any] | None = None,
             name: str | None = None) -> dict[str, Any]:
        return add_unit(self.api, code, level, parent, name=name or code)

    def speaker(self, unit: dict[str, Any], device_id: str) -> SimDevice:
        return start_speaker(self.api, self.broker, self.center, unit, device_id,
                             data_root=self.tmp, fleets=self.fleets)


def _site(stack: ExitStack, tmp: Path, name: str, extra_hosts: tuple[str, ...] = (),
          **settings: Any) -> Site:
    broker = stack.enter_context(MosquittoBroker(tmp / name / "broker"))
    center = stack.enter_context(running_center(
        tmp / name / "center", mqtt_host=broker.host, mqtt_port=broker.center_port,
        mqtt_password=broker.center_password, center_id=name, extra_hosts=extra_hosts,
        **settings))
    site = Site(name, tmp / name, broker, center)

    def stop_fleets() -> None:
        for fleet in site.fleets:
            fleet.stop()

    stack.callback(stop_fleets)
    return site


@dataclass
class Federation:
    central: Site
    province: Site
    central_unit: dict[str, Any]
    province_unit_at_central: dict[str, Any]
    province_unit: dict[str, Any]
    peer_at_central: dict[str, Any]
    peer_at_province: dict[str, Any]


def link(central: Site, province: Site, province_url: str | None = None,
         central_url: str | None = None) -> Federation:
    """The national tree at the central center, the province's own tree, and each center
    registering the other with the public key it publishes."""
    country = central.unit("vn", "central", name="Trung ương")
    mirror = central.unit("tinh-x", "province", country, name="Tỉnh X")
    own = province.unit("tinh-x", "province", name="Tỉnh X")
    c_id, p_id = central.identity(), province.identity()
    at_central = ok(central.api.post("/api/v1/federation/peers", json={
        "center_id": p_id["center_id"], "name": "Trung tâm tỉnh X",
        "url": province_url or province.center.base_url, "public_key": p_id["public_key"],
        "role": "child", "unit_id": mirror["id"]}))
    at_province = ok(province.api.post("/api/v1/federation/peers", json={
        "center_id": c_id["center_id"], "name": "Trung tâm trung ương",
        "url": central_url or central.center.base_url, "public_key": c_id["public_key"],
        "role": "parent"}))
    return Federation(central, province, country, mirror, own, at_central, at_province)


@pytest.fixture
def centers(tmp_path: Path, mosquitto_installed: None) -> Iterator[tuple[Site, Site]]:
    with ExitStack() as stack:
        yield _site(stack, tmp_path, "central"), _site(stack, tmp_path, "province-x")


@dataclass
class Partitioned:
    central: Site
    province: Site
    ns: Namespace
    central_via: str  # the central center's URL through the namespace's link
    province_via: str


def _relay(stack: ExitStack, ns: Namespace, port: int, target: str) -> str:
    """A relay inside the namespace to ``target`` (a center's URL); returns the URL to use."""
    target_port = urlsplit(target).port
    proc = subprocess.Popen(ns.command([
        sys.executable, "-m", "tests.support.tcp_relay", ns.agent_ip, str(port), ns.host_ip,
        str(target_port)]), cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    stack.callback(proc.stdout.close)
    stack.callback(proc.wait, 10)
    stack.callback(proc.terminate)
    assert proc.stdout.readline().strip() == "ready"
    return f"http://{ns.agent_ip}:{port}"


@pytest.fixture
def partitioned(tmp_path: Path, mosquitto_installed: None) -> Iterator[Partitioned]:
    """Two centers that reach each other only through a namespace's link (cut it to
    partition them)."""
    with ExitStack() as stack:
        ns = stack.enter_context(isolated_namespace("ttfed"))
        central = _site(stack, tmp_path, "central", (ns.host_ip,))
        province = _site(stack, tmp_path, "province-x", (ns.host_ip,))
        yield Partitioned(central, province, ns,
                          _relay(stack, ns, 18081, central.center.base_url),
                          _relay(stack, ns, 18080, province.center.base_url))
