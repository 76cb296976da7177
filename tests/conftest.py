"""Fixtures shared by every test suite: a real Mosquitto broker and MQTT clients for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_sim.broker import MosquittoBroker, MosquittoNotInstalledError, find_executable
from tests.support.center import CenterHandle, running_center
from tests.support.mqtt import MqttClients


@pytest.fixture(scope="session")
def mosquitto_installed() -> None:
    """Fail (not skip) every broker test when Mosquitto is missing, naming the install step."""
    try:
        find_executable("mosquitto")
        find_executable("mosquitto_passwd")
    except MosquittoNotInstalledError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def broker(tmp_path: Path, mosquitto_installed: None) -> Iterator[MosquittoBroker]:
    """A running broker (dev config, %u ACL, persistence) private to one test."""
    with MosquittoBroker(tmp_path / "broker") as running:
        yield running


@pytest.fixture
def mqtt_clients(broker: MosquittoBroker) -> Iterator[MqttClients]:
    """Connects test clients to ``broker``; all are disconnected at teardown."""
    clients = MqttClients(broker.host, broker.port, center_port=broker.center_port,
                          center_password=broker.center_password)
    yield clients
    clients.close_all()


@pytest.fixture
def center(tmp_path: Path, broker: MosquittoBroker) -> Iterator[CenterHandle]:
    """A real control center (uvicorn, MQTT bridge, refresher) on ``broker``, private to one
    test (``tests/center`` shares one per module instead)."""
    with running_center(tmp_path / "center", mqtt_host=broker.host, mqtt_port=broker.center_port,
                        mqtt_password=broker.center_password) as handle:
        yield handle
