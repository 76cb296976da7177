"""Administrative units and devices created through the center's API, for every test rig.

The center, training, feedback, console, end-to-end and telemetry rigs build their trees with
these two calls; each rig keeps its own codes and display names as arguments:

    province = add_unit(api, "tinh-p", "province", name="Tỉnh P")
    commune = add_unit(api, "xa-a", "commune", province)
    add_device(api, "loa-a1", commune, broker=broker, lat=21.03, lon=105.85)
"""

from __future__ import annotations

from typing import Any

import httpx

from firmware_sim.broker import MosquittoBroker


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, (
        f"POST {response.request.url.path} -> {response.status_code}: {response.text}")
    body: dict[str, Any] = response.json()
    return body


def add_unit(api: httpx.Client, code: str, level: str, parent: dict[str, Any] | None = None, *,
             name: str | None = None) -> dict[str, Any]:
    """Create unit ``code`` under ``parent`` (a root without), named ``Đơn vị <code>`` unless
    ``name``; return the unit as the API answers it."""
    return _created(api.post("/api/v1/units", json={
        "code": code, "name": name or f"Đơn vị {code}", "level": level,
        "parent_id": parent["id"] if parent else None,
    }))


def add_device(api: httpx.Client, device_id: str, unit: dict[str, Any], *,
               name: str | None = None, kind: str = "speaker",
               broker: MosquittoBroker | None = None, lat: float | None = None,
               lon: float | None = None) -> dict[str, Any]:
    """Register a device in ``unit`` (named ``Loa <id>`` unless ``name``); with ``broker``,
    also create its broker user. Returns the API's answer, with the MQTT password."""
    position = {k: v for k, v in (("lat", lat), ("lon", lon)) if v is not None}
    created = _created(api.post("/api/v1/devices", json={
        "id": device_id, "name": name or f"Loa {device_id}", "kind": kind,
        "unit_id": unit["id"], **position,
    }))
    if broker is not None:
        broker.add_user(created["mqtt_username"], created["mqtt_password"])
    return created
