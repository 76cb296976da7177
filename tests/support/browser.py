"""Debian's Chromium driven by Playwright, and page screenshots kept as test artifacts."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--lang=vi-VN",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str:
    """The system Chromium; fails (never skips) naming the install step when it is missing."""
    path = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if path is None:
        pytest.fail("chromium not found: run ./run.sh test (installs it) or apt-get install "
                    "chromium", pytrace=False)
    return path


def run_in_browser(scenario: Callable[[Browser], None], *, timeout: float = 240.0) -> None:
    """Run ``scenario`` with a fresh Chromium in a thread of its own.

    Playwright's sync API keeps an event loop per thread, and another suite's browser may still
    hold this thread's. Exceptions (failed asserts included) are raised here.
    """
    path = chromium_path()

    def work() -> None:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
            try:
                scenario(browser)
            finally:
                browser.close()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="playwright") as pool:
        pool.submit(work).result(timeout=timeout)


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG as ``test-artifacts/screenshots/<name>.png`` and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")
    path = SCREENSHOTS / f"{safe}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000, f"screenshot {path} is empty"
    return path
