"""A simulated loudspeaker agent registered at a test's center and connected to its broker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from edge_agent.config import AgentConfig, MqttConfig
from firmware_sim.broker import MosquittoBroker
from firmware_sim.fleet import Fleet, SimDevice
from tests.support.center import CenterHandle
from tests.support.tree import add_device


def start_speaker(api: httpx.Client, broker: MosquittoBroker, center: CenterHandle,
                  unit: dict[str, Any], device_id: str, *, data_root: Path,
                  fleets: list[Fleet]) -> SimDevice:
    """Register ``device_id`` in ``unit``, start its agent (its fleet appended to ``fleets``,
    which the caller stops) and wait until it is connected."""
    created = add_device(api, device_id, unit, broker=broker)
    fleet = Fleet([AgentConfig(
        device_id=device_id, data_dir=data_root / "agents" / device_id,
        center_public_keys=(center.public_key_b64,),
        mqtt=MqttConfig(host=broker.host, port=broker.port, password=created["mqtt_password"],
                        keepalive_s=5, reconnect_min_s=0.2, reconnect_max_s=0.5))])
    fleets.append(fleet)
    fleet.start()
    assert fleet.wait_connected(15) == []
    return fleet.devices[device_id]
