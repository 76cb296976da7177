"""Bulletin, inbox and distribution pages in a real Chromium against a real center and broker.

Refused forms show the message beside the field, keep what was typed and store nothing;
screenshots of every page go to test-artifacts/screenshots.
"""

from __future__ import annotations

import re
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import func, select

from control_center.models import Bulletin, Distribution, MediaAsset, Schedule
from tests.center.helpers import ok
from tests.console.conftest import Tree, sign_in
from tests.support.audio import make_tone
from tests.support.browser import PHONE, run_in_browser, screenshot
from tests.support.waiting import poll

pytestmark = pytest.mark.integration
DONE = re.compile(r"[?&]done=")


def count(tree: Tree, model: type[Any]) -> int:
    with tree.center.center.read_sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def silent_wav(path: Path, seconds: float = 2.0) -> Path:
    """A well-formed WAV of digital silence (the pipeline refuses it while processing)."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(b"\x00\x00" * int(16_000 * seconds))
    return path


def post_form(page: Page, button: str, url_part: str) -> int:
    """Click a submit button; the status of the POST answer (422 = refused, 303 = saved)."""
    with page.expect_response(lambda r: url_part in r.url and r.request.method == "POST") as info:
        page.click(button)
    status = info.value.status
    if status == 303:  # every page answers a saved form with a redirect to "...?done=<what>"
        page.wait_for_url(DONE)
    page.wait_for_load_state()
    return status


def test_new_bulletin_form_refuses_bad_input_beside_the_field_then_review_in_the_browser(
    tree: Tree, tmp_path: Path,
) -> None:
    base = tree.center.base_url
    not_audio = tmp_path / "x.wav"
    not_audio.write_text("đây không phải là âm thanh", encoding="utf-8")
    silent = silent_wav(tmp_path / "im-lang.wav")
    tone = make_tone(tmp_path / "ban-tin-sang.wav", 2.0, 500)
    media_before = count(tree, MediaAsset)

    def scenario(browser: Browser) -> None:
        page = sign_in(browser, base, "op_a")
        page.goto(f"{base}/console/bulletins")
        assert page.locator("#no-bulletins").count() == 1
        page.click("#new-bulletin")
        page.wait_for_url(f"{base}/console/bulletins/new")
        screenshot(page, "console-bulletin-new")

        # 1. no title: the message is beside the title, the typed text is kept
        page.select_option("#f-kind", "text")
        page.fill("#f-text", "Mời bà con đi tiêm chủng sáng thứ Hai.")
        page.select_option("#f-priority", "priority")
        assert post_form(page, "#save", "/console/bulletins/new") == 422
        assert "Nhập tiêu đề / enter a title" in page.inner_text(".field:has(#f-title)")
        assert page.input_value("#f-text") == "Mời bà con đi tiêm chủng sáng thứ Hai."
        assert page.input_value("#f-priority") == "priority"
        screenshot(page, "console-bulletin-new-no-title")

        # 2. text bulletin without text
        page.fill("#f-title", "Tiêm chủng mở rộng")
        page.fill("#f-text", "")
        assert post_form(page, "#save", "/console/bulletins/new") == 422
        assert "enter the text" in page.inner_text(".field:has(#f-text)")
        assert page.input_value("#f-title") == "Tiêm chủng mở rộng"

        # 3. a text file named .wav: refused by the media check, beside the file field
        page.select_option("#f-kind", "audio")
        page.set_input_files("#f-audio", str(not_audio))
        assert post_form(page, "#save", "/console/bulletins/new") == 422
        message = page.inner_text("#err-audio")
        assert "cannot be read as media" in message and "Tệp không dùng được" in message
        assert page.input_value("#f-title") == "Tiêm chủng mở rộng"
        screenshot(page, "console-bulletin-new-not-audio")

        # 4. a silent recording: stored, refused by the worker, then removed again
        page.set_input_files("#f-audio", str(silent))
        assert post_form(page, "#save", "/console/bulletins/new") == 422
        assert "silent" in page.inner_text("#err-audio")
        assert page.input_value("#f-title") == "Tiêm chủng mở rộng"
        screenshot(page, "console-bulletin-new-silent")
        assert count(tree, Bulletin) == 0 and count(tree, MediaAsset) == media_before

        # 5. a real recording: saved as a draft of commune A
        page.set_input_files("#f-audio", str(tone))
        assert post_form(page, "#save", "/console/bulletins/new") == 303
        assert "?done=created" in page.url
        assert "Bản nháp" in page.inner_text("#status")
        page.wait_for_function(
            "document.querySelector('#waveform').complete"
            " && document.querySelector('#waveform').naturalWidth > 0")
        page.wait_for_function("document.querySelector('#preview-audio').readyState >= 1")
        duration = page.evaluate("document.querySelector('#preview-audio').duration")
        assert 1.5 < duration < 2.5, duration
        screenshot(page, "console-bulletin-detail-draft")
        assert post_form(page, "#submit", "/submit") == 303
        assert "Chờ duyệt" in page.inner_text("#status")
        assert page.locator("#approve").count() == 0  # operators do not approve

        page.goto(f"{base}/console/bulletins")
        row = page.locator("#bulletins tbody tr")
        assert row.count() == 1
        assert row.locator(".pr-priority").count() == 1 and row.locator(".st-submitted").count()
        assert "Xã A" in row.inner_text()
        screenshot(page, "console-bulletins-list")
        page.context.close()

        approver = sign_in(browser, base, "appr_a")
        approver.goto(f"{base}/console/bulletins?status=submitted")
        approver.click("#bulletins a")
        assert approver.locator("#approve").count() == 1
        screenshot(approver, "console-bulletin-detail-review")
        assert post_form(approver, "#approve", "/approve") == 303
        assert "Đã duyệt" in approver.inner_text("#status")
        actions = approver.locator("#history tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.action)")
        assert actions == ["create", "submit", "approve"]
        approver.context.close()

    run_in_browser(scenario)
    with tree.center.center.read_sessions() as session:
        (bulletin,) = session.scalars(select(Bulletin))
        assert (bulletin.status.value, bulletin.unit_id, bulletin.created_by,
                bulletin.approved_by) == ("approved", tree.units["a"]["id"], "op_a", "appr_a")
        assert bulletin.priority.value == "priority" and bulletin.media_sha256 is not None


def test_reject_with_a_reason_and_editing_an_approved_bulletin(tree: Tree) -> None:
    base = tree.center.base_url
    op_a, appr_a = tree.api_as("op_a"), tree.api_as("appr_a")
    bid = ok(op_a.post("/api/v1/bulletins", json={
        "title": "Lịch thu gom rác", "kind": "text", "text": "Thứ Ba và thứ Sáu hằng tuần."}))["id"]
    ok(op_a.post(f"/api/v1/bulletins/{bid}/submit"), 200)

    def scenario(browser: Browser) -> None:
        page = sign_in(browser, base, "appr_a")
        page.goto(f"{base}/console/bulletins/{bid}")
        assert post_form(page, "#reject", "/reject") == 422
        assert "give a reason" in page.inner_text(".field:has(#f-note)")
        page.fill("#f-note", "Ghi rõ giờ thu gom")
        assert post_form(page, "#reject", "/reject") == 303
        assert "Bị từ chối" in page.inner_text("#status")
        assert page.inner_text("#review-note") == "Ghi rõ giờ thu gom"
        page.context.close()

        author = sign_in(browser, base, "op_a")
        author.goto(f"{base}/console/bulletins/{bid}")
        author.click("#edit")
        author.fill("#f-text", "Thứ Ba và thứ Sáu hằng tuần, từ 17 giờ.")
        screenshot(author, "console-bulletin-edit")
        assert post_form(author, "#save", "/edit") == 303
        assert post_form(author, "#submit", "/submit") == 303
        author.context.close()

    run_in_browser(scenario)
    approved = ok(appr_a.post(f"/api/v1/bulletins/{bid}/approve"), 200)
    assert approved["text"] == "Thứ Ba và thứ Sáu hằng tuần, từ 17 giờ."

    def edit_approved(browser: Browser) -> None:
        page = sign_in(browser, base, "op_a")
        page.goto(f"{base}/console/bulletins/{bid}/edit")
        assert page.locator("#back-to-draft-warning").count() == 1
        page.fill("#f-title", "")
        assert post_form(page, "#save", "/edit") == 422  # nothing saved: still approved
        assert ok(op_a.get(f"/api/v1/bulletins/{bid}"))["status"] == "approved"
        page.fill("#f-title", "Lịch thu gom rác (mới)")
        assert post_form(page, "#save", "/edit") == 303
        assert "Bản nháp" in page.inner_text("#status")
        page.context.close()

    run_in_browser(edit_approved)
    assert ok(op_a.get(f"/api/v1/bulletins/{bid}"))["status"] == "draft"


def _approved(tree: Tree, title: str, priority: str) -> int:
    prov_op = tree.api_as("prov_op")
    bid: int = ok(prov_op.post("/api/v1/bulletins", json={
        "title": title, "kind": "text", "text": f"{title}: nội dung gửi các xã.",
        "priority": priority}))["id"]
    ok(prov_op.post(f"/api/v1/bulletins/{bid}/submit"), 200)
    ok(tree.api_as("prov_appr").post(f"/api/v1/bulletins/{bid}/approve"), 200)
    return bid


def test_publish_inbox_decisions_and_distribution_status_in_the_browser(tree: Tree) -> None:
    base = tree.center.base_url
    normal = _approved(tree, "Hướng dẫn phòng chống sốt xuất huyết", "normal")
    urgent = _approved(tree, "Cảnh báo nắng nóng", "priority")
    province = tree.units["province"]["id"]
    slot_at = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    ok(tree.api_as("prov_op").post(f"/api/v1/bulletins/{urgent}/publish", json={
        "unit_ids": [province], "slot": {"start_at": slot_at.isoformat()}}))

    def scenario(browser: Browser) -> None:
        page = sign_in(browser, base, "prov_op")
        page.goto(f"{base}/console/bulletins/{normal}")
        assert post_form(page, "#publish", "/publish") == 422  # no unit ticked
        assert "tick at least one unit" in page.inner_text("#publish-form")
        page.check(f"#publish-form input[value='{province}']")
        screenshot(page, "console-bulletin-detail-publish")
        assert post_form(page, "#publish", "/publish") == 303
        page.wait_for_url(f"{base}/console/bulletins/{normal}/distribution?done=publish")
        states = page.locator("#distribution tbody tr").evaluate_all(
            "rows => rows.map(r => [r.dataset.unit, r.dataset.state])")
        assert sorted(states) == [["Xã A", "inbox"], ["Xã B", "inbox"]]
        page.context.close()

        op_a = sign_in(browser, base, "op_a")
        op_a.goto(f"{base}/console/inbox")
        card = op_a.locator(f"section[data-bulletin='{normal}']")
        assert card.count() == 1
        screenshot(op_a, "console-inbox")
        dist_id = card.get_attribute("id").removeprefix("inbox-")  # type: ignore[union-attr]
        assert post_form(op_a, f"#accept-btn-{dist_id}", "/accept") == 422  # no time chosen
        assert "choose the date and time" in op_a.inner_text(f"#err-at-{dist_id}")
        op_a.check(f"#kind-daily-{dist_id}")
        op_a.fill(f"#time-{dist_id}", "06:30")
        assert post_form(op_a, f"#accept-btn-{dist_id}", "/accept") == 303
        assert "accepted and scheduled" in op_a.inner_text("#flash")
        assert op_a.locator("#inbox-empty").count() == 1
        (ranked,) = op_a.locator("#ranked tbody tr").evaluate_all("rs => rs.map(r => r.id)")
        rank_id = ranked.removeprefix("ranked-")
        op_a.fill(f"#rank-{rank_id}", "3")
        assert post_form(op_a, f"#rank-btn-{rank_id}", "/rank") == 303
        assert op_a.input_value(f"#rank-{rank_id}") == "3"
        screenshot(op_a, "console-inbox-decided")
        op_a.context.close()

        op_b = sign_in(browser, base, "op_b", viewport=PHONE)
        op_b.goto(f"{base}/console/inbox")
        card = op_b.locator(f"section[data-bulletin='{normal}']")
        b_id = card.get_attribute("id").removeprefix("inbox-")  # type: ignore[union-attr]
        assert post_form(op_b, f"#decline-btn-{b_id}", "/decline") == 422
        assert "reason for declining" in op_b.inner_text(f"#decline-{b_id}")
        width = op_b.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the inbox scrolls sideways on a phone ({width}px)"
        screenshot(op_b, "console-inbox-phone")
        op_b.fill(f"#note-{b_id}", "Xã đang phát tin phòng chống lũ")
        assert post_form(op_b, f"#decline-btn-{b_id}", "/decline") == 303
        op_b.context.close()

        upper = sign_in(browser, base, "prov_op")
        upper.goto(f"{base}/console/bulletins/{normal}")
        upper.click("#distribution-link")
        rows = upper.locator("#distribution tbody tr").evaluate_all(
            "rows => rows.map(r => [r.dataset.unit, r.dataset.state])")
        assert sorted(rows) == [["Xã A", "scheduled"], ["Xã B", "declined"]]
        assert "Xã đang phát tin phòng chống lũ" in upper.inner_text("#distribution")
        screenshot(upper, "console-distribution-status")
        upper.context.close()

    run_in_browser(scenario)
    with tree.center.center.read_sessions() as session:
        accepted = session.scalar(select(Distribution).where(
            Distribution.bulletin_id == normal, Distribution.unit_id == tree.units["a"]["id"]))
        assert accepted is not None and accepted.schedule_id is not None
        schedule = session.get(Schedule, accepted.schedule_id)
        assert schedule is not None
        assert schedule.rrule == "FREQ=DAILY;BYHOUR=6;BYMINUTE=30;BYSECOND=0"
        assert [t.unit_id for t in schedule.targets] == [tree.units["a"]["id"]]
        ranked_row = session.scalar(select(Distribution).where(
            Distribution.bulletin_id == urgent, Distribution.unit_id == tree.units["a"]["id"]))
        assert ranked_row is not None and ranked_row.rank == 3
    items = ok(tree.center.api.get("/api/v1/devices/loa-a1/manifest"))["manifest"]["items"]
    assert {i["bulletin_id"]: i.get("order", 0) for i in items if i["bulletin_id"] == urgent} \
        == {urgent: 3}


def test_relay_bulletin_form_refuses_a_bad_source_then_shows_the_window(tree: Tree) -> None:
    base = tree.center.base_url
    source = "https://radio.example.vn/vov1/playlist.m3u8"

    def scenario(browser: Browser) -> None:
        page = sign_in(browser, base, "op_a")
        page.goto(f"{base}/console/bulletins/new")
        page.select_option("#f-kind", "relay")
        page.fill("#f-title", "Tiếp sóng VOV1 buổi sáng")
        page.fill("#f-source_url", "rtsp://radio.example.vn/vov1")
        page.fill("#f-window_minutes", "0")
        assert post_form(page, "#save", "/console/bulletins/new") == 422
        assert "http:// or https://" in page.inner_text(".field:has(#f-source_url)")
        assert "từ 1 đến 1440" in page.inner_text(".field:has(#f-window_minutes)")
        assert page.input_value("#f-source_url") == "rtsp://radio.example.vn/vov1"
        assert page.input_value("#f-kind") == "relay"
        page.fill("#f-source_url", source)
        page.fill("#f-window_minutes", "45")
        assert post_form(page, "#save", "/console/bulletins/new") == 303
        assert page.inner_text("#relay-source") == source
        assert "45 phút" in page.inner_text("#relay-window")
        assert "Im lặng" in page.inner_text("#relay-filler")
        screenshot(page, "console-bulletin-relay")
        page.click("#edit")
        assert page.input_value("#f-window_minutes") == "45"
        assert page.locator("#f-text").count() == 0  # a relay has no text to read
        page.fill("#f-window_minutes", "60")
        assert post_form(page, "#save", "/edit") == 303
        assert "60 phút" in page.inner_text("#relay-window")
        page.context.close()

    run_in_browser(scenario)
    found = [b for b in ok(tree.api_as("op_a").get("/api/v1/bulletins"))["items"]
             if b["kind"] == "relay"]
    assert [(b["source_url"], b["window_minutes"], b["status"]) for b in found] == [
        (source, 60, "draft")]


def test_a_text_bulletin_shows_its_text_and_a_player_for_its_voice(tree: Tree) -> None:
    base = tree.center.base_url
    op_a, appr_a = tree.api_as("op_a"), tree.api_as("appr_a")
    bid = ok(op_a.post("/api/v1/bulletins", json={
        "title": "Họp dân", "kind": "text", "shown_until": "17:30",
        "text": "Tối nay họp dân tại nhà văn hóa thôn lúc bảy giờ."}))["id"]
    ok(op_a.post(f"/api/v1/bulletins/{bid}/submit"), 200)

    def before(browser: Browser) -> None:
        page = sign_in(browser, base, "op_a")
        page.goto(f"{base}/console/bulletins/{bid}")
        assert page.locator("#voice-later").count() == 1  # made once it is approved
        assert "17:30" in page.inner_text("#shown-until")
        page.goto(f"{base}/console/bulletins/{bid}/edit")
        page.fill("#f-shown_until", "mai")
        assert post_form(page, "#save", "/edit") == 422
        assert "17:30" in page.inner_text("#err-shown_until")  # the form's hint, by the field
        page.context.close()

    run_in_browser(before)
    ok(appr_a.post(f"/api/v1/bulletins/{bid}/approve"), 200)
    made = poll(lambda: ok(op_a.get(f"/api/v1/bulletins/{bid}")),
                lambda b: b["voice_sha256"] or b["voice_error"], 30, "the voice made")
    assert made["voice_error"] is None and made["status"] == "approved"

    def after(browser: Browser) -> None:
        page = sign_in(browser, base, "op_a")
        page.goto(f"{base}/console/bulletins/{bid}")
        assert "họp dân tại nhà văn hóa" in page.inner_text("#preview-text")
        page.wait_for_function("document.querySelector('#voice-audio').readyState >= 1")
        assert page.evaluate("document.querySelector('#voice-audio').duration") > 1.0
        screenshot(page, "console-bulletin-text-voice")
        page.context.close()

    run_in_browser(after)
