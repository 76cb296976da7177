"""The feedback officers' desk in Chromium: a commune officer filters the queue, opens an item
and escalates it to the district; the district's officer answers it and has it read on the
commune's loudspeakers (a bulletin waits for approval); another commune's officer gets 404.
And the overdue job escalates to the parent unit once, by an injected clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from control_center.models import (
    AuditEntry,
    Bulletin,
    BulletinStatus,
    Feedback,
    FeedbackStatus,
    Schedule,
)
from control_center.workers.feedback_overdue import OverdueEscalator
from tests.center.helpers import ok, uid
from tests.console.conftest import PASSWORD, Tree, sign_in
from tests.support.browser import run_in_browser, screenshot
from tests.support.open311 import client_key
from tests.support.tree import add_device, add_unit

pytestmark = pytest.mark.integration


def _district(tree: Tree) -> tuple[dict[str, Any], dict[str, Any]]:
    """Huyện D under the province, with commune Xã C and its loudspeaker loa-c1."""
    api = tree.center.api
    district = add_unit(api, uid("huyen-d"), "district", tree.units["province"], name="Huyện D")
    commune = add_unit(api, uid("xa-c"), "commune", district, name="Xã C")
    add_device(api, "loa-c1", commune)
    return district, commune


def _officer(tree: Tree, username: str, unit: dict[str, Any]) -> None:
    ok(tree.center.api.post("/api/v1/users", json={
        "username": username, "password": PASSWORD, "role": "feedback_officer",
        "unit_id": unit["id"], "full_name": f"Cán bộ {username}"}))


def _report(tree: Tree, unit: dict[str, Any], category: str, text: str) -> int:
    key = client_key(tree.center.api, tree.units["province"])
    r = httpx.post(f"{tree.center.base_url}/api/v1/open311/requests.json", data={
        "service_code": category, "jurisdiction_id": unit["code"], "lat": "21.01234",
        "long": "105.81234", "description": text, "api_key": key}, timeout=30)
    assert r.status_code == 201, r.text
    listed = ok(tree.center.api.get("/api/v1/feedback", headers={"X-Unit-Id": str(unit["id"])}))
    (found,) = [f for f in listed["items"] if f["text"] == text]
    return int(found["id"])


def test_commune_escalates_district_answers_and_reads_it_on_the_loudspeakers(
        tree: Tree) -> None:
    district, commune = _district(tree)
    for username, unit in (("fb_c", commune), ("fb_d", district), ("fb_a", tree.units["a"])):
        _officer(tree, username, unit)
    water = _report(tree, commune, "water", "Nước giếng khoan xóm 3 có mùi lạ")
    _report(tree, commune, "road", "Cầu tràn thôn 2 bị sạt")
    _report(tree, commune, "security", "Tụ tập gây rối ở chợ")  # due in 2 days: a reminder
    base = tree.center.base_url

    def scenario(browser: Browser) -> None:
        page = sign_in(browser, base, "fb_c")
        expect(page.locator("#fig-due-soon")).to_have_text("1")  # the first page reminds
        expect(page.locator("#fig-overdue")).to_have_text("0")
        page.click("header a[href='/console/feedback']")
        expect(page.locator("#counts [data-status=new] .value")).to_have_text("3")
        expect(page.locator("#feedback tbody tr[data-id]")).to_have_count(3)
        page.select_option("#f-category", "water")
        page.click("#filter")
        rows = page.locator("#feedback tbody tr[data-id]")
        expect(rows).to_have_count(1)
        rows.first.locator("a").click()
        expect(page.locator("#citizen-text")).to_have_text("Nước giếng khoan xóm 3 có mùi lạ")
        expect(page.locator("#handling-unit")).to_have_text("Xã C")
        page.select_option("#t-priority", "high")
        page.click("#triage")
        expect(page.locator("#priority")).to_contain_text("Cao")
        page.select_option("#r-unit", str(district["id"]))
        page.fill("#r-note", "Vượt thẩm quyền xã: cần huyện kiểm tra nguồn nước")
        page.click("#route")
        expect(page.locator(".flash")).to_contain_text("chuyển lên cấp trên")
        expect(page.locator(f"#feedback tr[data-id='{water}']")).to_have_count(0)  # gone up
        page.context.close()

        page = sign_in(browser, base, "fb_d")
        page.goto(f"{base}/console/feedback?overdue=&sort=newest")
        page.locator(f"#feedback tr[data-id='{water}'] a").click()
        expect(page.locator("#handling-unit")).to_have_text("Huyện D")
        expect(page.locator("#history")).to_contain_text("Vượt thẩm quyền xã")
        page.fill("#an-text", "Huyện đã lấy mẫu nước; kết quả báo lại trong tuần.")
        page.click("#answer-submit")
        expect(page.locator("#answer")).to_contain_text("Huyện đã lấy mẫu nước")
        page.click("#read-on-speakers")
        expect(page.locator("#flash")).to_contain_text("chờ duyệt")
        screenshot(page, "console-feedback-item")
        page.context.close()

        page = sign_in(browser, base, "fb_a")
        response = page.goto(f"{base}/console/feedback/{water}")
        assert response is not None and response.status == 404
        page.context.close()

    run_in_browser(scenario)
    with tree.center.center.read_sessions() as session:
        row = session.get(Feedback, water)
        assert row is not None and row.unit_id == district["id"]
        assert row.status == FeedbackStatus.ANSWERED and row.origin_unit_id == commune["id"]
        bulletin = session.scalar(select(Bulletin).where(Bulletin.title.like(
            f"Trả lời ý kiến {row.ref_code} (loa)")))
        assert bulletin is not None and bulletin.status == BulletinStatus.SUBMITTED
        assert bulletin.text is not None and "Huyện đã lấy mẫu nước" in bulletin.text
        schedule = session.scalar(select(Schedule).where(Schedule.bulletin_id == bulletin.id))
        assert schedule is not None and [t.device_id for t in schedule.targets] == ["loa-c1"]
        assert schedule.start_at is None  # no instant until it is approved
        bulletin_id, schedule_id = bulletin.id, schedule.id
    # the system token approves (as an approver of the district would): the reading is given
    # its instant 10 s after the approval, not a day later
    approved = ok(tree.center.api.post(f"/api/v1/bulletins/{bulletin_id}/approve"), 200)
    assert approved["status"] == "scheduled"
    with tree.center.center.read_sessions() as session:
        schedule = session.get(Schedule, schedule_id)
        bulletin = session.get(Bulletin, bulletin_id)
        assert schedule is not None and bulletin is not None and bulletin.approved_at
        assert schedule.start_at == bulletin.approved_at + timedelta(seconds=10)


def test_overdue_feedback_goes_to_the_parent_unit_once(tree: Tree) -> None:
    district, commune = _district(tree)
    late = _report(tree, commune, "security", "Tụ tập gây rối đêm qua")  # due in 2 days
    top = _report(tree, tree.units["province"], "security", "Ở cấp tỉnh")
    center = tree.center.center
    with center.read_sessions() as session:
        row = session.get(Feedback, late)
        assert row is not None
        due = row.due_at
    early = OverdueEscalator(sessions=center.sessions, clock=lambda: due - timedelta(minutes=1))
    assert early.tick() == []
    job = OverdueEscalator(sessions=center.sessions, clock=lambda: due + timedelta(minutes=1))
    assert job.tick() == [late]  # the province's own item has no unit above: it stays
    assert job.tick() == []  # once
    with center.read_sessions() as session:
        row = session.get(Feedback, late)
        assert row is not None and row.unit_id == district["id"]
        assert row.escalated_at == due + timedelta(minutes=1)
        assert "tự động chuyển lên cấp trên" in row.notes[-1].text
        top_row = session.get(Feedback, top)
        assert top_row is not None and top_row.unit_id == tree.units["province"]["id"]
        audited = session.scalar(select(AuditEntry).where(
            AuditEntry.object_type == "feedback", AuditEntry.object_id == str(late),
            AuditEntry.action == "escalate"))
        assert audited is not None and str(district["id"]) in audited.detail
