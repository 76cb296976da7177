"""Fixtures of the training suite: a migrated database, and a real center with a broker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from control_center.db import create_db_engine, session_factory, upgrade_database
from tests.support.browser import run_in_browser
from tests.support.databases import Backend, Databases

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "sample_course"


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


@pytest.fixture
def in_browser() -> Callable[[Callable[[Browser], None]], None]:
    """Run a scenario with Debian's Chromium driven by Playwright (``run_in_browser``)."""
    return run_in_browser
