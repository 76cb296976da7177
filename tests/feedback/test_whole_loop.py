"""The two-way loop in Chromium, on real parts: a citizen reports by voice at a commune's
kiosk; the commune's officer passes it up to the province; the province's officer answers and
has the answer read on the commune's loudspeakers; the province's approver approves the
reading; the answer shows at that kiosk and the loudspeaker plays its voice; and the
province's effectiveness page shows that feedback, the bulletin's coverage and the "did you
hear it?" answers given at the kiosk."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from edge_agent.speech import SpeechModel
from firmware_sim.fleet import SimDevice
from tests.console.conftest import sign_in
from tests.feedback.rig import PASSWORD, FeedbackRig, SimKiosk
from tests.support.browser import run_in_browser, screenshot
from tests.support.speakers import start_speaker
from tests.support.waiting import poll

pytestmark = pytest.mark.integration
KIOSK_SCREEN: ViewportSize = {"width": 1280, "height": 800}
HEARD_QUESTION = "Bạn có nghe bản tin tiêm chủng trên loa không?"
SPOKEN = "물이 없어요"  # "there is no water", said to the Korean test model


def _speaker(rig: FeedbackRig, unit: dict[str, Any], device_id: str) -> SimDevice:
    return start_speaker(rig.api, rig.broker, rig.center, unit, device_id, data_root=rig.tmp,
                         fleets=rig.fleets)


def _console(browser: Browser, base: str, username: str) -> Page:
    return sign_in(browser, base, username, password=PASSWORD)


def _citizen_reports_by_voice(browser: Browser, kiosk: SimKiosk, clip: Path) -> tuple[str, str]:
    """The reference code shown and the transcript sent."""
    context = browser.new_context(locale="vi-VN", viewport=KIOSK_SCREEN, has_touch=True)
    page = context.new_page()
    page.goto(kiosk.kiosk.url + "/")
    page.locator("#start-feedback").tap()
    page.locator("[data-category='water']").tap()
    kiosk.mic.say(clip)  # what the citizen says once the microphone opens
    page.locator("#speak").tap()
    # the voice page follows the recogniser and comes back to the form with the transcript
    expect(page.locator("#text")).to_have_value(re.compile(r"[\uac00-\ud7a3]"), timeout=30_000)
    transcript = page.locator("#text").input_value()
    assert transcript == kiosk.kiosk.voice.state().text  # the recogniser's words, as heard
    page.locator("#to-review").tap()
    expect(page.locator("#review-text")).to_have_text(transcript.strip())
    page.locator("#send").tap()
    page.wait_for_url(re.compile(r".*/feedback/done/[A-Z0-9]{6}$"))
    ref = page.locator("#ref-code").inner_text()
    screenshot(page, "loop-kiosk-reference")
    context.close()
    return ref, transcript.strip()


def _passer_by_heard_it(browser: Browser, kiosk: SimKiosk) -> None:
    """Someone at the kiosk answers "Có / Yes" to the bulletin's question, by touch."""
    context = browser.new_context(locale="vi-VN", viewport=KIOSK_SCREEN, has_touch=True)
    page = context.new_page()
    page.goto(kiosk.kiosk.url + "/")
    page.locator("#start-survey").tap()
    expect(page.locator("#survey-question")).to_have_text(HEARD_QUESTION)
    page.locator("button.choice", has_text="Có").tap()
    expect(page.locator("#survey-thanks")).to_have_count(1)
    screenshot(page, "loop-kiosk-heard")
    context.close()


@pytest.fixture
def speak_clip(speak: Callable[[str], Path]) -> Path:
    return speak(SPOKEN)


@pytest.fixture
def loop_rig(rig: FeedbackRig) -> Iterator[FeedbackRig]:
    yield rig


def test_voice_report_escalated_answered_read_aloud_and_measured(
    loop_rig: FeedbackRig, ko_model: SpeechModel, speak_clip: Path,
) -> None:
    rig = loop_rig
    province = rig.unit("tinh-v", "province", name="Tỉnh V")
    district = rig.unit("huyen-v", "district", province, name="Huyện V")
    commune = rig.unit("xa-v1", "commune", district, name="Xã V1")
    kiosk = rig.start_kiosk(commune, "kiosk-v1", ko_model)
    speaker = _speaker(rig, commune, "loa-v1")
    for username, role, unit in (("canbo_xa", "feedback_officer", commune),
                                 ("canbo_tinh", "feedback_officer", province),
                                 ("duyet_tinh", "approver", province),
                                 ("lanhdao_tinh", "admin", province)):
        rig.post("/api/v1/users", {"username": username, "password": PASSWORD, "role": role,
                                   "unit_id": unit["id"]})
    kiosk.wait_manifest(lambda a: bool(a.manifest and a.manifest.feedback_categories), 15,
                        "categories from the center")
    # a bulletin of the province plays on the commune's loudspeaker (coverage)
    bulletin = rig.post("/api/v1/bulletins", {
        "title": "Lịch tiêm chủng", "kind": "text",
        "text": "Tiêm chủng cho trẻ em lúc 8 giờ sáng thứ Bảy tại trạm y tế xã."})
    poll(lambda: rig.api.get(f"/api/v1/bulletins/{bulletin['id']}").json(),
         lambda b: b["voice_sha256"] or b["voice_error"], 30, "the bulletin's voice")
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    rig.post("/api/v1/schedules", {"bulletin_id": bulletin["id"], "start_at": at.isoformat(),
                                   "targets": {"unit_ids": [commune["id"]]}})
    assert speaker.sink.wait_for(lambda r: len(r) >= 1 and r[0].completed, 40)
    survey = rig.api.put(f"/api/v1/bulletins/{bulletin['id']}/survey", json={
        "days": 3, "questions": [{"text": HEARD_QUESTION, "kind": "yes_no"}]})
    assert survey.status_code == 200, survey.text
    kiosk.wait_manifest(lambda a: bool(a.manifest and a.manifest.surveys), 60,
                        "the kiosk asking whether people heard the bulletin")
    base = rig.center.base_url
    state: dict[str, Any] = {}

    def scenario(browser: Browser) -> None:
        _passer_by_heard_it(browser, kiosk)
        ref, transcript = _citizen_reports_by_voice(browser, kiosk, speak_clip)
        state["ref"] = ref
        item = poll(lambda: rig.api.get("/api/v1/feedback",
                                        headers={"X-Unit-Id": str(commune["id"])}).json(),
                    lambda body: any(i["ref_code"] == ref for i in body["items"]), 20,
                    f"submission {ref} at the center")
        (found,) = [i for i in item["items"] if i["ref_code"] == ref]
        assert (found["channel"], found["text"]) == ("voice", transcript)
        feedback_id = found["id"]

        page = _console(browser, base, "canbo_xa")
        page.goto(f"{base}/console/feedback/{feedback_id}")
        expect(page.locator("#citizen-text")).to_have_text(transcript)
        page.select_option("#r-unit", str(province["id"]))
        page.fill("#r-note", "Vượt thẩm quyền xã: đề nghị tỉnh xử lý nguồn nước")
        page.click("#route")
        expect(page.locator(".flash")).to_contain_text("chuyển lên cấp trên")
        page.context.close()

        page = _console(browser, base, "canbo_tinh")
        page.goto(f"{base}/console/feedback/{feedback_id}")
        expect(page.locator("#handling-unit")).to_have_text(province["name"])
        page.fill("#an-text", "Tỉnh đã cử đoàn kiểm tra giếng nước của xã trong tuần này.")
        page.click("#answer-submit")
        expect(page.locator("#answer")).to_contain_text("Tỉnh đã cử đoàn kiểm tra")
        page.click("#read-on-speakers")
        expect(page.locator("#flash")).to_contain_text("chờ duyệt")
        screenshot(page, "loop-province-answer")
        page.context.close()

        reading = poll(lambda: rig.api.get("/api/v1/bulletins",
                                           params={"status": "submitted"}).json(),
                       lambda body: bool(body), 10, "the reading awaiting approval")
        state["reading"] = reading
        page = _console(browser, base, "duyet_tinh")
        (waiting,) = [b for b in _items(reading) if f"{ref}" in b["title"]]
        state["reading_id"] = waiting["id"]
        page.goto(f"{base}/console/bulletins/{waiting['id']}")
        page.click("#approve")
        page.context.close()

        context = browser.new_context(locale="vi-VN", viewport=KIOSK_SCREEN, has_touch=True)
        page = context.new_page()
        kiosk.wait_manifest(lambda a: bool(a.manifest and any(
            x.ref_code == ref for x in a.manifest.answers)), 20, "the answer on the kiosk")
        page.goto(kiosk.kiosk.url + "/")
        expect(page.locator("#answers")).to_contain_text("Tỉnh đã cử đoàn kiểm tra")
        screenshot(page, "loop-kiosk-answer")
        context.close()

        poll(lambda: rig.api.get(f"/api/v1/bulletins/{bulletin['id']}/survey").json(),
             lambda body: any(sum(c["counts"]) for c in body["counts"]), 30,
             "the kiosk's answer counted at the center")
        page = _console(browser, base, "lanhdao_tinh")
        page.goto(f"{base}/monitor/effectiveness?unit_id={province['id']}")
        row = page.locator("#effectiveness tr[data-unit='xa-v1']")
        expect(row.locator(".received")).to_have_text("1")  # the voice report, escalated
        expect(row.locator(".answered")).to_have_text("1")  # and answered by the province
        expect(row.locator(".on-time")).to_have_text("1")
        expect(row.locator(".overdue")).to_have_text("0")
        expect(row.locator(".heard")).to_have_text("1")
        # coverage: the loudspeaker played the bulletin, the kiosk showed it
        expect(row.locator(".played")).to_have_text("2/2")
        expect(row.locator(".coverage")).to_have_text("100.0 %")
        total = page.locator("#effectiveness tr.total")
        expect(total.locator(".received")).to_have_text("1")  # the province's own total
        expect(page.locator("#heard")).to_contain_text(HEARD_QUESTION)
        expect(page.locator("#heard .shares")).to_contain_text("Có / Yes: 1 (100.0 %)")
        screenshot(page, "loop-province-effectiveness")
        page.context.close()

    run_in_browser(scenario)
    reading = poll(lambda: rig.api.get(f"/api/v1/bulletins/{state['reading_id']}").json(),
                   lambda b: b["voice_sha256"] or b["voice_error"], 30, "the reading's voice")
    assert reading["status"] == "scheduled" and reading["voice_error"] is None
    info = rig.api.get(f"/api/v1/media/{reading['voice_sha256']}/info").json()
    assert speaker.sink.wait_for(
        lambda r: any(x.completed and x.file_sha256 == info["delivery"]["sha256"] for x in r),
        40), "the answer's reading was not played on the commune's loudspeaker"


def _items(body: Any) -> list[dict[str, Any]]:
    return list(body["items"] if isinstance(body, dict) else body)
