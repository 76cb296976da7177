"""The operator's day, end to end in Chromium with real agents.

op_a writes an audio bulletin and submits it; appr_a approves it; op_a schedules it into a
daily slot for commune A; the simulated speakers of A (not B) play it at the slot; the week
calendar and the proof-of-play report show it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from control_center.models import AuditEntry, Bulletin
from tests.console.conftest import Tree, sign_in
from tests.support.audio import make_tone
from tests.support.browser import run_in_browser, screenshot
from tests.support.waiting import poll

pytestmark = pytest.mark.integration
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
MIN_LEAD_S = 35  # agents fetch media not due within 20 s after a jitter of at most slack/4


def next_slot(now: datetime) -> datetime:
    """The next whole local minute at least MIN_LEAD_S ahead (daily slots are to the minute)."""
    slot = (now + timedelta(seconds=MIN_LEAD_S)).replace(second=0, microsecond=0)
    return slot + timedelta(minutes=1)


def test_write_submit_approve_schedule_play_and_see_it(tree: Tree, tmp_path: Path) -> None:
    base = tree.center.base_url
    wav = make_tone(tmp_path / "ban-tin-sang.wav", 2.0, 440)
    speakers = tree.fleet("loa-a1", "loa-a2", "loa-b1")
    state: dict[str, object] = {}

    def scenario(browser: Browser) -> None:
        operator = sign_in(browser, base, "op_a")
        operator.goto(f"{base}/console/bulletins/new")
        operator.fill("#f-title", "Lịch tiêm chủng tháng 12")
        operator.fill("#f-category", "y tế")
        operator.select_option("#f-kind", "audio")
        operator.set_input_files("#f-audio", str(wav))
        screenshot(operator, "day-1-new-bulletin")
        operator.click("#save")
        operator.wait_for_url(f"{base}/console/bulletins/*")
        expect(operator.locator("#status")).to_contain_text("draft")
        bulletin_url = operator.url.split("?", 1)[0]
        state["bulletin_id"] = int(bulletin_url.rsplit("/", 1)[1])
        operator.click("#submit")
        expect(operator.locator("#status")).to_contain_text("submitted")
        assert operator.locator("#approve").count() == 0  # an operator never approves
        screenshot(operator, "day-2-submitted")

        approver = sign_in(browser, base, "appr_a")
        approver.goto(bulletin_url)
        expect(approver.locator("#waveform")).to_be_visible()
        approver.click("#approve")
        expect(approver.locator("#status")).to_contain_text("approved")
        screenshot(approver, "day-3-approved")

        operator.goto(bulletin_url)
        operator.click("#schedule")
        slot = next_slot(datetime.now(LOCAL))
        state["slot"] = slot
        operator.locator("#kind-daily").check()
        operator.fill("#f-time", slot.strftime("%H:%M"))
        operator.fill("#f-valid_from", slot.date().isoformat())
        operator.locator(f"#unit-{tree.units['a']['id']}").check()
        operator.click("button[name=action][value=check]")
        expect(operator.locator("#check-devices li")).to_have_count(2)
        screenshot(operator, "day-4-schedule-check")
        operator.click("button[name=action][value=save]")
        operator.wait_for_url(f"{base}/console/schedules/*")
        screenshot(operator, "day-5-schedule-detail")

        played = [speakers[d].sink.wait_for(
            lambda records: any(r.bulletin_id == state["bulletin_id"] and r.completed
                                for r in records), timeout=MIN_LEAD_S + 90)
            for d in ("loa-a1", "loa-a2")]
        assert played == [True, True], "commune A's speakers did not play the slot"

        operator.goto(f"{base}/console/calendar")
        entry = operator.locator(f"#calendar a.entry[data-day='{slot.date().isoformat()}']")
        expect(entry.first).to_contain_text("Lịch tiêm chủng tháng 12")
        expect(entry.first).to_contain_text(slot.strftime("%H:%M"))
        screenshot(operator, "day-6-calendar")

        # a speaker hears the end before its report travels through outbox, broker and ingest:
        # wait until the center has stored both completions, then read the report page
        api = tree.center.api
        poll(lambda: api.get("/api/v1/plays", params={"bulletin_id": state["bulletin_id"],
                                                      "status": "completed"}).json()["count"],
             lambda n: n == 2, 30, "the center to store both completed plays")
        day = slot.date().isoformat()
        operator.goto(f"{base}/monitor/reports?unit_id={tree.units['a']['id']}"
                      f"&start={day}&end={day}")
        row = operator.locator("tr", has_text="Lịch tiêm chủng tháng 12").first
        expect(row.locator("td.completed")).to_have_text("2")
        screenshot(operator, "day-7-proof-of-play")

    run_in_browser(scenario, timeout=300)

    slot = state["slot"]
    assert isinstance(slot, datetime)
    for device_id in ("loa-a1", "loa-a2"):
        (record,) = [r for r in speakers[device_id].sink.records
                     if r.bulletin_id == state["bulletin_id"]]
        assert abs(record.started_at - slot.timestamp()) < 1.0  # at the local slot instant
    assert not [r for r in speakers["loa-b1"].sink.records
                if r.bulletin_id == state["bulletin_id"]]  # commune B never heard it
    with tree.center.center.read_sessions() as session:
        bulletin = session.get(Bulletin, state["bulletin_id"])
        assert bulletin is not None
        assert (bulletin.status, bulletin.created_by, bulletin.approved_by) == (
            "scheduled", "op_a", "appr_a")
        trail = [(a.actor, a.action) for a in session.scalars(
            select(AuditEntry).where(AuditEntry.object_type == "bulletin",
                                     AuditEntry.object_id == str(bulletin.id))
            .order_by(AuditEntry.id))]
    assert ("op_a", "submit") in trail and ("appr_a", "approve") in trail
