"""The kiosk's local web UI with real parts (broker, center, kiosk, Chromium): it answers only to
its own names (DNS rebinding), refuses writes from other sites, and its pages run no script but
its own files, while the voice page's own script still follows the recognition."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from edge_agent.speech import SpeechModel
from protocol.web_headers import PAGE_POLICY
from tests.feedback.rig import FeedbackRig
from tests.support.browser import run_in_browser
from tests.support.csp import assert_injection_blocked

pytestmark = pytest.mark.integration

ATTACKER = "http://attacker.test"


def test_foreign_host_names_and_cross_site_writes_are_refused(rig: FeedbackRig) -> None:
    sim = rig.start_kiosk(rig.unit("xa-g1", "commune"), "kiosk-g1", None)
    port = sim.kiosk.url.rsplit(":", 1)[1]
    rebound = sim.http.get("/", headers={"Host": f"attacker.test:{port}"})
    assert rebound.status_code == 421 and "host name" in rebound.text
    assert sim.http.get("/status", headers={"Host": "evil.example"}).status_code == 421
    assert sim.http.get("/", headers={"Host": f"localhost:{port}"}).status_code == 200

    form = {"category": "water"}
    for headers in ({"Origin": ATTACKER}, {"Origin": "null"},
                    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
        refused = sim.http.post("/voice/start", data=form, headers=headers)
        assert refused.status_code == 403, headers
        assert "another site is refused" in refused.text
    same = sim.http.post("/voice/stop", data=form, headers={
        "Origin": sim.kiosk.url, "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 303

    # In Chromium: another site's page posts a form to the kiosk (microphone on): refused.
    def scenario(browser: Browser) -> None:
        page = browser.new_page()
        attack = (f'<form id="f" method="post" action="{sim.kiosk.url}/voice/start">'
                  '<input name="category" value="water"></form>'
                  '<script>document.getElementById("f").submit()</script>')
        page.route(f"{ATTACKER}/**", lambda route: route.fulfill(
            status=200, content_type="text/html", body=attack))
        with page.expect_response(f"{sim.kiosk.url}/voice/start") as answer:
            page.goto(f"{ATTACKER}/")
        assert answer.value.status == 403
        assert "Yêu cầu từ trang khác bị từ chối" in page.inner_text("body")
        page.close()

    run_in_browser(scenario)
    assert not sim.kiosk.voice.state().recording


def test_voice_page_runs_its_own_script_and_no_injected_one(
    rig: FeedbackRig, ko_model: SpeechModel, speak: Callable[[str], Path]
) -> None:
    sim = rig.start_kiosk(rig.unit("xa-g2", "commune"), "kiosk-g2", ko_model)
    sim.wait_manifest(lambda a: bool(a.manifest and a.manifest.feedback_categories), 15,
                      "categories from the center")
    home = sim.http.get("/")
    assert home.headers["content-security-policy"] == PAGE_POLICY
    assert "'unsafe-inline'" not in PAGE_POLICY.split("script-src", 1)[1].split(";")[0]
    assert (home.headers["x-content-type-options"], home.headers["x-frame-options"],
            home.headers["referrer-policy"]) == ("nosniff", "DENY", "same-origin")
    script = sim.http.get("/static/voice.js")
    assert script.status_code == 200 and "/voice/state" in script.text

    def scenario(browser: Browser) -> None:
        page: Page = browser.new_page(locale="vi-VN", viewport={"width": 1280, "height": 800})
        blocked: list[str] = []
        page.on("console", lambda m: blocked.append(m.text)
                if "Content Security Policy" in m.text else None)
        page.goto(f"{sim.kiosk.url}/feedback/describe?category=water")
        assert_injection_blocked(page)
        blocked.clear()
        sim.mic.say(speak("물이 없어요"))
        page.click("#speak")  # POST /voice/start from the kiosk's own page: accepted
        page.wait_for_url(re.compile(r".*/voice\?category=water$"))
        # voice.js polls /voice/state and reloads when recognition ends: back on the form
        page.wait_for_url(re.compile(r".*/feedback/describe\?.*channel=voice"), timeout=30_000)
        assert page.input_value("#text") == sim.kiosk.voice.state().text != ""
        assert blocked == []  # the kiosk's own pages trip no policy
        page.close()

    run_in_browser(scenario)
