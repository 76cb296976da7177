"""The agent rig fixture shared by the agent's integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_sim.broker import MosquittoBroker
from tests.integration.agent_rig import Rig, agent_rig
from tests.support.mqtt import MqttClients


@pytest.fixture
def rig(tmp_path: Path, broker: MosquittoBroker, mqtt_clients: MqttClients) -> Iterator[Rig]:
    """One agent on a real broker, with this test as the signing center."""
    yield from agent_rig(tmp_path, broker, mqtt_clients)
