"""Debian's Chromium, driven by Playwright, goes through the kiosk's touch flow."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from tests.feedback.rig import FeedbackRig
from tests.support.waiting import poll

pytestmark = pytest.mark.integration
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if path is None:
        pytest.fail("chromium not found: run ./run.sh test (installs it) or apt-get install "
                    "chromium", pytrace=False)
    pw: Playwright
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def test_touch_flow_ends_on_a_confirmation_with_a_reference_code(
    rig: FeedbackRig, browser: Browser
) -> None:
    commune = rig.unit("xa-b", "commune")
    sim = rig.start_kiosk(commune, "kiosk-b1", None)
    bulletin = rig.post("/api/v1/bulletins", {
        "title": "Lịch tiêm chủng", "kind": "text",
        "text": "Tiêm chủng cho trẻ em lúc 8 giờ sáng thứ Bảy tại trạm y tế xã."})
    start_at = datetime.now(UTC) + timedelta(seconds=3)
    rig.post("/api/v1/schedules", {"bulletin_id": bulletin["id"],
                                   "start_at": start_at.isoformat(),
                                   "targets": {"device_ids": ["kiosk-b1"]}})
    sim.wait_manifest(lambda a: bool(a.manifest and a.manifest.feedback_categories
                                     and a.manifest.items), 15,
                      "categories and the text bulletin from the center")
    context = browser.new_context(locale="vi-VN", viewport={"width": 1280, "height": 800},
                                  has_touch=True)
    page = context.new_page()
    page.goto(sim.kiosk.url + "/")
    assert page.locator("html").get_attribute("lang") == "vi"
    if datetime.now(UTC) < start_at:  # the notice is not shown before it is due
        assert page.locator("#bulletins .bulletin").count() == 0
    poll(lambda: datetime.now(UTC), lambda now: now >= start_at, 10, "the notice's instant")
    page.goto(sim.kiosk.url + "/")
    assert "Tiêm chủng cho trẻ em" in page.locator("#bulletins .bulletin").inner_text()
    assert page.locator("script[src], link[rel=stylesheet]").count() == 0  # nothing fetched
    start = page.locator("#start-feedback")
    box = start.bounding_box()
    assert box is not None and box["height"] >= 88  # a finger-sized target
    start.tap()
    page.locator("[data-category='power']").tap()
    page.fill("#text", "Mất điện cả xóm 4 từ tối qua")
    page.fill("#phone", "0912000111")
    page.locator("#to-review").tap()
    # a phone number without consent: the form comes back asking to tick the box
    assert page.locator("#error").inner_text().startswith("Xin đánh dấu đồng ý")
    assert page.url.endswith("/feedback/review")
    page.fill("#text", "Mất điện cả xóm 4 từ tối qua")
    page.fill("#phone", "0912000111")
    page.locator("#consent").check()
    page.locator("#to-review").tap()
    assert page.locator("#review-text").inner_text() == "Mất điện cả xóm 4 từ tối qua"
    page.locator("#send").tap()
    page.wait_for_url(re.compile(r".*/feedback/done/[A-Z0-9]{6}$"))
    ref = page.locator("#ref-code").inner_text()
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{6}", ref)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "kiosk-confirmation.png"), full_page=True)
    context.close()

    items = poll(lambda: rig.api.get("/api/v1/feedback",
                                     headers={"X-Unit-Id": str(commune["id"])}).json()["items"],
                 lambda items: any(i["ref_code"] == ref for i in items), 20,
                 f"submission {ref} at the center")
    (item,) = [i for i in items if i["ref_code"] == ref]
    assert (item["category"], item["channel"], item["phone"]) == ("power", "touch", "0912000111")
