"""Fixtures of the training suite: a migrated database, and a real center with a broker."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
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


def chromium_path() -> str:
    path = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if path is None:
        pytest.fail("chromium not found: run ./run.sh test (installs it) or apt-get install "
                    "chromium", pytrace=False)
    return path


@pytest.fixture
def in_browser() -> Callable[[Callable[[Browser], None]], None]:
    """Run a scenario with Debian's Chromium driven by Playwright (never a downloaded browser).

    The scenario runs in a thread of its own: Playwright's sync API keeps an event loop per
    thread, and another suite's session-wide browser may still hold this thread's.
    Exceptions (failed asserts included) are raised here.
    """
    path = chromium_path()

    def run(scenario: Callable[[Browser], None]) -> None:
        def work() -> None:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
                try:
                    scenario(browser)
                finally:
                    browser.close()

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="playwright") as pool:
            pool.submit(work).result(timeout=120)

    return run
