"""An officer, signed in as their own user, studies and takes the sample quiz in Debian's
Chromium (Playwright): fails the first attempt, passes the second, and the unit report (for the
province's training administrator, not for the learner) counts it."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import ARTIFACTS
from tests.support.center import CenterHandle
from tests.training.helpers import PASSWORD, import_sample, officer, ok, unit, user
from tests.training.test_xapi import validate_statement

pytestmark = pytest.mark.integration

RIGHT = {"nam-cau-hoi": ["b"], "do-dai-cau": ["a"], "nhac-lai": ["a", "b"],
         "tin-khan-cap": ["b"]}
WRONG = dict(RIGHT, **{"nam-cau-hoi": ["c"], "nhac-lai": ["a", "c"]})


def _answer(page: Page, answers: dict[str, list[str]]) -> None:
    expect(page.locator("#quiz fieldset.question")).to_have_count(len(answers))
    for key, chosen in answers.items():
        for choice in chosen:
            page.check(f"#quiz input[name='q_{key}'][value='{choice}']")
    page.click("#submit")


def _sign_in(page: Page, base: str, username: str, next: str = "/monitor/training") -> None:
    """Sign in on the console's form, landing on ``next``."""
    page.goto(f"{base}/console/login?{urlencode({'next': next})}")
    page.fill("#f-username", username)
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{next}")


def test_officer_fails_then_passes_and_the_report_counts_it(
        center: CenterHandle, in_browser: Callable[[Callable[[Browser], None]], None]) -> None:
    api, base = center.api, center.base_url
    province = unit(api, "province")
    commune = unit(api, "commune", province)
    me = officer(api, commune, name="Nguyễn Thị Hương")
    officer(api, commune, name="Trần Văn Bình")  # assigned too, never starts
    admin = user(api, province, role="approver")  # the province's training administrator
    course = import_sample(api)
    ok(api.post("/api/v1/training/assignments", json={
        "course_id": course["id"], "unit_id": province["id"], "role": "editor",
        "due_at": "2026-12-31T17:00:00Z"}))
    ARTIFACTS.mkdir(exist_ok=True)

    def scenario(browser: Browser) -> None:
        context = browser.new_context(locale="vi-VN", viewport={"width": 1100, "height": 900})
        context.set_default_timeout(10_000)
        page = context.new_page()
        _sign_in(page, base, me["username"])  # the officer is the signed-in user
        assert me["name"] in page.locator("nav .who").inner_text()
        expect(page.locator("nav a[href$='/reports']")).to_have_count(0)  # no training admin
        row = page.locator("#courses tr[data-course='viet-ban-tin']")
        assert "Chưa bắt đầu" in row.locator("td.status").inner_text()
        assert "01/01/2027 00:00" in row.inner_text()  # the due date in Asia/Ho_Chi_Minh

        row.locator("a").click()
        page.locator("#lessons a").first.click()
        assert page.locator("#lesson h2").inner_text() == "Cấu trúc một bản tin"
        image = page.locator("#lesson img")
        expect(image).to_have_count(1)
        assert image.evaluate("img => img.decode().then(() => img.naturalWidth)") == 8  # served
        page.click("#next")
        expect(page.locator("#lesson audio")).to_have_count(1)
        page.locator("a.quiz").first.click()

        page.click("#start")
        _answer(page, WRONG)
        score = page.locator("#score")
        assert score.get_attribute("data-passed") == "no"
        assert score.get_attribute("data-score") == "50.0"
        expect(page.locator(".question[data-correct='no']")).to_have_count(2)
        assert "năm câu hỏi" in page.locator(".question[data-key='nam-cau-hoi'] .explanation"
                                             ).inner_text()
        page.click("#back")
        expect(page.locator("#history tr[data-number='1']")).to_have_count(1)
        page.click("#start")  # "Làm lại / try again"
        assert "Lần làm thứ 2" in page.locator("#quiz h2").inner_text()
        _answer(page, RIGHT)
        assert page.locator("#score").get_attribute("data-passed") == "yes"
        assert page.locator("#score").get_attribute("data-score") == "100.0"
        page.screenshot(path=str(ARTIFACTS / "training-quiz-passed.png"), full_page=True)
        page.click("#back")
        expect(page.locator("#state")).to_contain_text("Bạn đã đạt")
        assert page.locator("script").count() == 0

        page.goto(f"{base}/monitor/training/reports?unit_id={province['id']}")
        assert "Không được phép" in page.locator("body").inner_text()  # a learner's view
        context.close()

        context = browser.new_context(locale="vi-VN", viewport={"width": 1100, "height": 900})
        context.set_default_timeout(10_000)
        page = context.new_page()
        _sign_in(page, base, admin["username"], next="/monitor/training/reports")
        page.goto(f"{base}/monitor/training/reports?unit_id={province['id']}")
        total = page.locator(f"#report tr[data-unit='{province['id']}']")
        assert total.locator("td.assigned").inner_text() == "2"
        assert total.locator("td.started").inner_text() == "1"
        assert total.locator("td.completed").inner_text() == "1"
        assert total.locator("td.passed").inner_text() == "1"
        assert total.locator("td.average").inner_text() == "100.0"
        page.screenshot(path=str(ARTIFACTS / "training-report.png"), full_page=True)
        csv_text = page.request.get(f"{base}{page.locator('#csv').get_attribute('href')}").text()
        assert csv_text.lstrip("\ufeff").splitlines()[1].endswith(",2,1,1,1,100.00")
        context.close()

    in_browser(scenario)

    # The same learning record, as xAPI: two lessons experienced, one failed, one passed.
    statements = ok(api.get("/api/v1/training/xapi/statements",
                            params={"unit_id": province["id"]}))["statements"]
    assert [s["verb"]["display"]["en-US"] for s in statements] == [
        "experienced", "experienced", "failed", "passed"]
    for statement in statements:
        validate_statement(statement)
