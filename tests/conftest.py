"""Fixtures shared by every test suite: a real Mosquitto broker and MQTT clients for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_sim.broker import MosquittoBroker, MosquittoNotInstalledError, find_executable
from tests.support.center import CenterHandle, running_center
from tests.support.mqtt import MqttClients

# Modules that take a minute or more each. Under pytest-xdist (``./run.sh test``: one module
# per worker at a time, in collection order) they are handed out first, so that none of them
# starts near the end and keeps one worker busy long after the others are done.
LONG_MODULES = (
    "tests/security/test_api_fuzz.py",
    "tests/security/test_authorization_sweep.py",
    "tests/console/test_operator_day.py",
    "tests/console/test_crawl.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker, move :data:`LONG_MODULES` to the front (a stable sort: every
    module's tests stay together and in order; a serial run keeps the plain order)."""
    if not hasattr(config, "workerinput"):
        return
    rank = {module: n for n, module in enumerate(LONG_MODULES)}
    items.sort(key=lambda item: rank.get(item.nodeid.partition("::")[0], len(rank)))


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
