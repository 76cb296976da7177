"""Fixtures of the control-center suite: one broker and one center per test module."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from control_center.db import create_db_engine, session_factory, upgrade_database
from firmware_sim.broker import MosquittoBroker, find_executable
from tests.support.center import CenterHandle, running_center
from tests.support.databases import Backend, Databases


@pytest.fixture(scope="module")
def module_broker(tmp_path_factory: pytest.TempPathFactory,
                  db_backend: Backend) -> Iterator[MosquittoBroker]:
    """A real Mosquitto (project dev config: passwords, %u ACL, persistence) for one module
    and database backend (so one backend's retained manifests never meet the other's)."""
    find_executable("mosquitto")
    with MosquittoBroker(tmp_path_factory.mktemp("broker")) as broker:
        yield broker


@pytest.fixture(scope="module")
def center(
    tmp_path_factory: pytest.TempPathFactory, module_broker: MosquittoBroker, db_backend: Backend
) -> Iterator[CenterHandle]:
    """A real center (uvicorn + MQTT bridge) with a 1 MB upload cap, shared by one module."""
    with running_center(
        tmp_path_factory.mktemp("center"), mqtt_host=module_broker.host,
        mqtt_port=module_broker.center_port, mqtt_password=module_broker.center_password,
        max_upload_bytes=1_000_000,
    ) as handle:
        yield handle


@pytest.fixture
def engine(tmp_path: Path, databases: Databases, db_backend: Backend) -> Iterator[Engine]:
    """A migrated database private to one test, on the module's backend."""
    eng = create_db_engine(databases.url_for(tmp_path, db_backend))
    upgrade_database(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture(scope="session")
def tone_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 1 s mono WAV made by ffmpeg."""
    path = tmp_path_factory.mktemp("audio") / "tone.wav"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
         "-i", "sine=frequency=440:duration=1:sample_rate=16000", "-ac", "1", str(path)],
        check=True, timeout=60,
    )
    return path
