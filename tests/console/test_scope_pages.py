"""Commune A's operator and approver cannot see, schedule to or approve for commune B, in the
console pages (Chromium), even by forging the form posts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import func, select

from control_center.models import Bulletin, Schedule
from tests.center.helpers import ok
from tests.console.conftest import Tree, sign_in
from tests.support.browser import run_in_browser, screenshot

pytestmark = pytest.mark.integration


def _schedules(tree: Tree) -> int:
    with tree.center.center.read_sessions() as session:
        return session.scalar(select(func.count()).select_from(Schedule)) or 0


def _csrf(page: Page) -> str:
    return page.locator("input[name=csrf]").first.get_attribute("value") or ""


def test_commune_a_cannot_see_schedule_to_or_approve_for_commune_b(tree: Tree) -> None:
    op_b = tree.api_as("op_b")
    waiting = ok(op_b.post("/api/v1/bulletins", json={
        "title": "Tin riêng của xã B", "kind": "text", "text": "Họp dân xã B tối nay."}))["id"]
    ok(op_b.post(f"/api/v1/bulletins/{waiting}/submit"), 200)
    approved = ok(op_b.post("/api/v1/bulletins", json={
        "title": "Tin đã duyệt của xã B", "kind": "text", "text": "Lịch thu gom rác."}))["id"]
    ok(op_b.post(f"/api/v1/bulletins/{approved}/submit"), 200)
    ok(tree.api_as("appr_b").post(f"/api/v1/bulletins/{approved}/approve"), 200)
    unit_b, base = tree.units["b"]["id"], tree.center.base_url
    before = _schedules(tree)

    def scenario(browser: Browser) -> None:
        op_a = sign_in(browser, base, "op_a")
        op_a.goto(f"{base}/console/bulletins")
        assert "xã B" not in op_a.inner_text("main")
        response = op_a.goto(f"{base}/console/bulletins/{approved}")
        assert response is not None and response.status == 404
        assert "không tồn tại" in op_a.inner_text("#error-message") or \
            "does not exist" in op_a.inner_text("#error-message")
        screenshot(op_a, "console-scope-404")
        op_a.goto(f"{base}/console/schedules/new")
        assert op_a.locator(f"#unit-{unit_b}").count() == 0  # B is not offered
        assert op_a.locator("#device-loa-b1").count() == 0
        assert op_a.locator(f"#f-bulletin_id option[value='{approved}']").count() == 0
        start = (datetime.now(UTC) + timedelta(days=2)).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
        forged = op_a.request.post(f"{base}/console/schedules/new", form={
            "csrf": _csrf(op_a), "bulletin_id": str(approved), "kind": "once",
            "once_date": start.date().isoformat(), "once_time": "06:00",
            "unit_ids": str(unit_b), "action": "save"})
        assert forged.status in (404, 422), forged.status
        response = op_a.goto(f"{base}/console/calendar?unit_id={unit_b}")
        assert response is not None and response.status == 404
        op_a.context.close()

        appr_a = sign_in(browser, base, "appr_a")
        appr_a.goto(f"{base}/console/bulletins")
        forged = appr_a.request.post(f"{base}/console/bulletins/{waiting}/approve",
                                     form={"csrf": _csrf(appr_a)})
        assert forged.status == 404
        appr_a.context.close()

    run_in_browser(scenario)
    assert _schedules(tree) == before  # nothing was scheduled by the forged post
    with tree.center.center.read_sessions() as session:
        bulletin = session.get(Bulletin, waiting)
        assert bulletin is not None and bulletin.status == "submitted"
