"""Fixtures of the training suite: a migrated database, and a real center with a broker."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from control_center.db import create_db_engine, session_factory, upgrade_database
from firmware_sim.broker import MosquittoBroker
from tests.support.center import CenterHandle, running_center

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "sample_course"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = create_db_engine(f"sqlite:///{tmp_path / 'center.db'}")
    upgrade_database(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def center(tmp_path: Path, broker: MosquittoBroker) -> Iterator[CenterHandle]:
    with running_center(tmp_path / "center", mqtt_host=broker.host, mqtt_port=broker.port,
                        mqtt_password=broker.center_password) as handle:
        yield handle


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    path = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if path is None:
        pytest.fail("chromium not found: run ./run.sh test (installs it) or apt-get install "
                    "chromium", pytrace=False)
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
