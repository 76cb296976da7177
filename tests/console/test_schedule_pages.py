"""The schedule screens in Chromium: the form (errors beside the fields, check, save despite
overlaps), the detail page, the week calendar on a laptop and a phone, drag and drop."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.center.helpers import ok
from tests.console.conftest import Tree, sign_in
from tests.console.schedule_support import LOCAL, approved_audio, daily, schedule_count
from tests.support.browser import PHONE, run_in_browser, screenshot

pytestmark = pytest.mark.integration

FORM = "/console/schedules/new"


def _submit(page: Page, button: str) -> int:
    """Click a submit button of the form; the status of the page answered."""
    with page.expect_response(lambda r: r.request.method == "POST" and FORM in r.url) as resp:
        page.click(button)
    status = resp.value.status
    page.wait_for_load_state()
    return status


def test_schedule_form_check_save_and_week_calendar(tree: Tree, tmp_path: Path) -> None:
    base = tree.center.base_url
    op_a = tree.api_as("op_a")
    ten_s = approved_audio(tree, tmp_path, author="op_a", approver="appr_a",
                           title="Thông báo lịch tiêm chủng", seconds=10)
    three_s = approved_audio(tree, tmp_path, author="op_a", approver="appr_a",
                             title="Nhắc nộp thuế đất", seconds=3, freq=550)
    waiting = approved_audio(tree, tmp_path, author="op_a", approver="appr_a",
                             title="Lịch cắt điện tuần sau", seconds=1, freq=700)
    draft = ok(op_a.post("/api/v1/bulletins", json={
        "title": "Bản nháp chưa duyệt", "kind": "text", "text": "Nội dung nháp."}))
    first = ok(op_a.post("/api/v1/schedules", json=daily(ten_s["id"], 6, 0,
                                                         device_ids=["loa-a1"])))
    unit_a = tree.units["a"]["id"]
    today = datetime.now(LOCAL).date()
    saved: dict[str, int] = {}

    def scenario(browser: Browser) -> None:
        page = sign_in(browser, base, "op_a")
        page.goto(f"{base}{FORM}?bulletin_id={three_s['id']}")
        assert page.input_value("#f-bulletin_id") == str(three_s["id"])
        preview = page.locator(f"#preview-{three_s['id']}")
        assert preview.is_visible() and preview.locator("audio").count() == 1
        assert preview.locator("img").get_attribute("src", timeout=5000) == \
            f"/api/v1/media/{three_s['media_sha256']}/waveform.png"
        screenshot(page, "console-schedule-new")

        # a one-off time in the past: the message beside the time, what was typed is kept
        before = schedule_count(tree)
        page.check("#kind-once")
        yesterday = (today - timedelta(days=1)).isoformat()
        page.fill("#f-once_date", yesterday)
        page.fill("#f-once_time", "06:00")
        page.check(f"#unit-{unit_a}")
        assert _submit(page, "#btn-save") == 422
        assert "Thời điểm đã qua / this time is in the past" in \
            page.inner_text("#f-once_time >> xpath=.. >> .field-error")
        assert page.locator("#err-once_time").count() == 1
        assert (page.input_value("#f-once_date"), page.input_value("#f-once_time")) == (
            yesterday, "06:00")
        assert page.is_checked("#kind-once") and page.is_checked(f"#unit-{unit_a}")
        assert page.input_value("#f-bulletin_id") == str(three_s["id"])
        assert schedule_count(tree) == before
        screenshot(page, "console-schedule-past-error")

        # several mistakes at once, each beside its field
        page.check("#kind-daily")
        page.fill("#f-time", "06:00")
        for code in ("MO", "TU", "WE", "TH", "FR", "SA", "SU"):
            page.uncheck(f"#day-{code}")
        page.fill("#f-valid_from", (today + timedelta(days=3)).isoformat())
        page.fill("#f-valid_until", (today + timedelta(days=1)).isoformat())
        page.uncheck(f"#unit-{unit_a}")
        assert _submit(page, "#btn-save") == 422
        assert "ít nhất một ngày" in page.inner_text("#err-days")
        assert "trước ngày bắt đầu" in page.inner_text("#err-valid_until")
        assert "ít nhất một đơn vị" in page.inner_text("#err-targets")
        assert page.input_value("#f-time") == "06:00"
        assert schedule_count(tree) == before
        screenshot(page, "console-schedule-field-errors")

        # the quick button sets the time; check lists the devices and the clash on loa-a1
        page.fill("#f-time", "")
        page.click("button[data-time='06:00']")
        assert page.input_value("#f-time") == "06:00"
        page.check("#day-MO")
        for code in ("TU", "WE", "TH", "FR", "SA", "SU"):
            page.check(f"#day-{code}")
        page.fill("#f-valid_from", today.isoformat())
        page.fill("#f-valid_until", "")
        page.check(f"#unit-{unit_a}")
        assert _submit(page, "#btn-check") == 200
        devices = page.locator("#check-devices li").evaluate_all(
            "els => els.map(e => e.dataset.device)")
        assert devices == ["loa-a1", "loa-a2"]
        clash = page.locator("#conflicts tbody tr")
        assert clash.count() == 1
        assert clash.get_attribute("data-device") == "loa-a1"
        assert clash.get_attribute("data-other") == str(first["id"])
        assert "Thông báo lịch tiêm chủng" in clash.inner_text()
        assert schedule_count(tree) == before
        screenshot(page, "console-schedule-check")

        # saving with overlaps needs the explicit box
        assert _submit(page, "#btn-save") == 409
        assert "vẫn lưu" in page.inner_text("#err-force")
        assert schedule_count(tree) == before
        page.check("#f-force")
        with page.expect_navigation(url=lambda u: "/console/schedules/" in u and "saved=1" in u):
            page.click("#btn-save")
        assert schedule_count(tree) == before + 1
        saved["id"] = int(page.url.split("/console/schedules/")[1].split("?")[0])
        assert "Hằng ngày lúc 06:00 / daily at 06:00" in page.inner_text("#timing")
        assert page.locator("#upcoming li").count() == 10
        assert page.locator("#devices tbody tr").count() == 2
        screenshot(page, "console-schedule-detail")

        # the week calendar shows it on the day and at the local time of its next occurrence
        body = ok(op_a.get(f"/api/v1/schedules/{saved['id']}"))
        next_local = datetime.fromisoformat(body["next_instants"][0]).astimezone(LOCAL)
        page.click("text=Xem trên lịch tuần")
        page.wait_for_url(lambda u: "/console/calendar" in u)
        cell = page.locator(f"td[data-date='{next_local.date().isoformat()}'][data-hour='6']")
        entry = cell.locator(f"a.entry[data-schedule='{saved['id']}']")
        assert entry.count() == 1
        assert entry.locator("time").inner_text() == "06:00"
        assert "Nhắc nộp thuế đất" in entry.inner_text() and "2 thiết bị" in entry.inner_text()
        screenshot(page, "console-calendar")

        # an approved, unscheduled bulletin dragged onto Friday's 11:00 lands on the form
        item = page.locator(f"#bulletin-{waiting['id']}")
        assert item.get_attribute("draggable") == "true"
        link = item.locator("a").get_attribute("href")
        assert link is not None and f"bulletin_id={waiting['id']}" in link
        friday = page.locator("th[data-date]").nth(4).get_attribute("data-date")
        item.drag_to(page.locator(f"td[data-date='{friday}'][data-hour='11']"))
        page.wait_for_url(lambda u: FORM in u and f"date={friday}" in u)
        assert page.input_value("#f-bulletin_id") == str(waiting["id"])
        assert (page.input_value("#f-valid_from"), page.input_value("#f-once_date"),
                page.input_value("#f-time")) == (friday, friday, "11:00")
        screenshot(page, "console-schedule-new-from-drop")

        # a draft is refused beside the bulletin field
        page.goto(f"{base}{FORM}?bulletin_id={draft['id']}&date={today.isoformat()}&time=17:00")
        page.check(f"#unit-{unit_a}")
        assert _submit(page, "#btn-save") == 422
        assert "chưa được duyệt" in page.inner_text("#err-bulletin_id")
        assert schedule_count(tree) == before + 1

        page.goto(f"{base}/console/schedules")
        assert page.locator(f"#schedules tr[data-schedule='{saved['id']}']").count() == 1
        screenshot(page, "console-schedules")
        page.context.close()

        phone = sign_in(browser, base, "op_a", viewport=PHONE)
        phone.goto(f"{base}/console/calendar?week={next_local.date().isoformat()}")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the calendar page scrolls sideways ({width}px)"
        scroller = phone.locator("#calendar-scroll")
        assert scroller.evaluate("e => e.scrollWidth > e.clientWidth")  # the grid scrolls
        assert phone.locator(f"a.entry[data-schedule='{saved['id']}']").count() >= 1
        screenshot(phone, "console-calendar-phone")

        # cancelling from the detail page (CSRF form) ends it
        phone.goto(f"{base}/console/schedules/{saved['id']}")
        phone.click("#btn-cancel")
        phone.wait_for_url(lambda u: "cancelled=1" in u)
        assert "Đã hủy" in phone.inner_text("#state")
        screenshot(phone, "console-schedule-cancelled-phone")
        phone.context.close()

    run_in_browser(scenario)
    assert ok(op_a.get(f"/api/v1/schedules/{saved['id']}"))["cancelled_at"] is not None
