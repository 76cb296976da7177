"""The emergency page end to end: real center, broker, agents and Chromium.

An approver of commune A broadcasts typed text (spoken by the center's TTS) while both of A's
speakers play a routine bulletin: the routine play is interrupted, both start the emergency,
commune B's speaker hears nothing, and the live page counts reach 2 / 2.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from control_center.models import AuditEntry, Bulletin
from tests.center.helpers import ok, ready_media
from tests.console.conftest import Tree, sign_in
from tests.support.audio import make_tone
from tests.support.browser import PHONE, run_in_browser, screenshot
from tests.support.waiting import poll

pytestmark = pytest.mark.integration
WORD = "PHÁT KHẨN CẤP"
SPOKEN = "Cảnh báo lũ quét. Đề nghị bà con di chuyển ngay lên vùng cao."


def _events(tree: Tree, type_: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = ok(tree.center.api.get(
        "/api/v1/events", params={"type": type_}))["items"]
    return items


def _emergency_entries(tree: Tree) -> list[AuditEntry]:
    with tree.center.center.read_sessions() as session:
        return list(session.scalars(select(AuditEntry).where(
            AuditEntry.action == "emergency_send")))


def test_emergency_from_the_console_interrupts_routine_play_in_the_chosen_commune_only(
        tree: Tree, tmp_path: Path) -> None:
    devices = tree.fleet("loa-a1", "loa-a2", "loa-b1")
    api = tree.center.api
    # a long routine bulletin playing on both speakers of commune A
    media = ready_media(api, make_tone(tmp_path / "routine.wav", 60.0, 330))
    routine = ok(api.post("/api/v1/bulletins", json={
        "title": "Bản tin thường ngày", "kind": "audio", "media_sha256": media["sha256"]}))
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
    ok(api.post("/api/v1/schedules", json={
        "bulletin_id": routine["id"], "start_at": start.isoformat(),
        "targets": {"unit_ids": [tree.units["a"]["id"]]}}))
    for dev in ("loa-a1", "loa-a2"):
        poll(devices[dev].agent.player.current_item,
             lambda item: item is not None and item.bulletin_id == routine["id"], 30,
             f"{dev} playing the routine bulletin")
    assert _events(tree, "command_ack") == []
    base = tree.center.base_url

    def scenario(browser: Browser) -> None:
        page = sign_in(browser, base, "appr_a")
        page.goto(f"{base}/console/emergency")
        expect(page.locator("#units")).to_contain_text("Xã A")
        assert page.locator("#units").inner_text().count("Xã B") == 0  # not in appr_a's tree
        screenshot(page, "console-emergency")
        # step 1 with no unit and no message: errors beside both fields, the title kept
        page.fill("#f-title", "Cảnh báo lũ quét")
        page.click("#review")
        expect(page.locator("#err-unit_ids")).to_contain_text("ít nhất một đơn vị")
        expect(page.locator("#err-source")).to_contain_text("Chọn nguồn nội dung")
        expect(page.locator("#f-title")).to_have_value("Cảnh báo lũ quét")
        page.check(f"#unit-{tree.units['a']['id']}")
        page.check("#src-text")
        page.fill("#f-text", SPOKEN)
        page.click("#review")
        expect(page.locator("#review-units")).to_contain_text("Xã A")
        expect(page.locator("#review-devices")).to_have_text("2")
        expect(page.locator("#review-text")).to_contain_text("lũ quét")
        expect(page.locator("#will-wait")).to_have_count(0)  # an approver sends at once
        screenshot(page, "console-emergency-review")
        # the word without its diacritics, box not ticked: both refused, nothing sent
        page.fill("#f-confirm", "PHAT KHAN CAP")
        page.click("#broadcast-now")
        expect(page.locator("#err-confirm")).to_contain_text(WORD)
        expect(page.locator("#err-confirm_check")).to_be_visible()
        expect(page.locator("#f-confirm")).to_have_value("PHAT KHAN CAP")
        expect(page.locator("#review-devices")).to_have_text("2")  # still the review
        assert _emergency_entries(tree) == []
        assert _events(tree, "command_ack") == []
        page.check("#f-confirm_check")
        page.fill("#f-confirm", WORD)
        page.click("#broadcast-now")
        page.wait_for_url(f"{base}/console/emergency/*")
        live_url = page.url
        # the numbers move without a reload (the page polls the status JSON)
        expect(page.locator("#acked")).to_have_text("2 / 2", timeout=30_000)
        expect(page.locator("#started")).to_have_text("2 / 2", timeout=30_000)
        expect(page.locator("#flagged")).to_be_visible()
        for dev in ("loa-a1", "loa-a2"):
            expect(page.locator(f'tr[data-device="{dev}"] td.started')).not_to_have_text("—")
        assert page.url == live_url
        screenshot(page, "console-emergency-live")
        phone = sign_in(browser, base, "appr_a", viewport=PHONE)
        phone.goto(live_url)
        expect(phone.locator("#started")).to_have_text("2 / 2")
        screenshot(phone, "console-emergency-live-phone")
        # with scripts off the page still shows the current counts
        context = browser.new_context(java_script_enabled=False)
        context.add_cookies(page.context.cookies())  # type: ignore[arg-type]
        still = context.new_page()
        still.goto(live_url)
        expect(still.locator("#started")).to_have_text("2 / 2")

    run_in_browser(scenario)

    (entry,) = _emergency_entries(tree)
    detail = json.loads(entry.detail)
    assert entry.flagged is True and entry.actor == "appr_a"
    assert detail["approval_skipped"] is True and sorted(detail["device_ids"]) == [
        "loa-a1", "loa-a2"]
    with tree.center.center.read_sessions() as session:
        bulletin = session.get(Bulletin, detail["bulletin_id"])
        assert bulletin is not None
        assert (bulletin.approval_skipped, bulletin.priority.value, bulletin.text,
                bulletin.unit_id) == (True, "emergency", SPOKEN, tree.units["a"]["id"])
    # the routine play was cut short and reported interrupted; the emergency played
    for dev in ("loa-a1", "loa-a2"):
        assert devices[dev].sink.wait_for(lambda r: len(r) == 2, 30)
        first, second = devices[dev].sink.records
        assert (first.bulletin_id, first.completed) == (routine["id"], False)
        assert (second.bulletin_id, second.priority, second.completed) == (
            detail["bulletin_id"], "emergency", True)
        assert second.started_at >= first.ended_at - 0.05
    plays = poll(lambda: ok(api.get("/api/v1/plays", params={"bulletin_id": routine["id"]})),
                 lambda body: sorted(p["status"] for p in body["items"]) == ["interrupted"] * 2,
                 15, "routine plays reported interrupted")
    assert all(p["reason"].startswith("interrupted by emergency item e-")
               for p in plays["items"]), plays
    # commune B's speaker got no command and played nothing
    assert devices["loa-b1"].sink.records == []
    assert devices["loa-b1"].agent.player.current_item() is None
    assert {e["device_id"] for e in _events(tree, "command_ack")} == {"loa-a1", "loa-a2"}
