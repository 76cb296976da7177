"""Live from the console: the API's permissions and refusals, then an operator speaking from
Chromium (a fake microphone fed from a Vietnamese espeak-ng clip) to a commune of three real
agents, whose simulated live sinks must play that speech (checked by correlating loudness
envelopes with the clip), the page counting them, and the recording kept as media."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from firmware_sim.broker import MosquittoBroker, find_executable
from firmware_sim.live_sink import SimPcmSink
from tests.center.helpers import ok
from tests.e2e.conftest import Stack
from tests.live.correlate import decode, loop_correlation, reversed_pcm, spoken_source
from tests.support.center import running_center
from tests.support.tree import add_device, add_unit
from tests.support.waiting import poll, wait_until

pytestmark = pytest.mark.integration
PASSWORD = "mat-khau-truc-tiep-2026"
SESSIONS = "/api/v1/live/sessions"
CHROMIUM = "/usr/bin/chromium"
AGENTS = ("loa-tt1", "loa-tt2", "loa-tt3")
MATCH = 0.6


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    find_executable("mosquitto")
    tmp = tmp_path_factory.mktemp("live-console")
    with MosquittoBroker(tmp / "broker") as broker, running_center(
            tmp / "center", mqtt_host=broker.host, mqtt_port=broker.center_port,
            mqtt_password=broker.center_password) as center:
        s = Stack(tmp, broker, center.api, center.public_key_b64)
        try:
            yield s
        finally:
            for fleet in s.fleets:
                fleet.stop()


def _user(stack: Stack, name: str, role: str, unit: dict[str, Any]) -> httpx.Client:
    ok(stack.api.post("/api/v1/users", json={"username": name, "password": PASSWORD,
                                              "role": role, "unit_id": unit["id"]}))
    token = ok(stack.api.post("/api/v1/auth/login", json={"username": name,
                                                          "password": PASSWORD}), 200)["token"]
    return httpx.Client(base_url=str(stack.api.base_url).rstrip("/"), timeout=30,
                        headers={"Authorization": f"Bearer {token}"})


def test_sessions_answer_permissions_scope_and_order(stack: Stack) -> None:
    province = add_unit(stack.api, "tt-tinh", "province")
    a = add_unit(stack.api, "tt-xa-a", "commune", province)
    b = add_unit(stack.api, "tt-xa-b", "commune", province)
    add_device(stack.api, "loa-tt-a", a, broker=stack.broker)
    add_device(stack.api, "loa-tt-b", b, broker=stack.broker)
    operator, learner = _user(stack, "ph-a", "operator", a), _user(stack, "hv-a", "learner", a)
    approver = _user(stack, "duyet-a", "approver", a)
    body = {"title": "Thông báo họp xóm", "target_unit_id": a["id"]}

    r = learner.post(SESSIONS, json=body)
    assert r.status_code == 403 and "phát trực tiếp" in r.json()["detail"]
    assert approver.post(SESSIONS, json=body).status_code == 403  # emergency, not live
    assert learner.get(SESSIONS).status_code == 403
    r = operator.post(SESSIONS, json={**body, "target_unit_id": b["id"]})
    assert r.status_code == 404, r.text
    assert operator.post(SESSIONS, json={**body, "title": " "}).status_code == 422
    outside = ok(stack.api.post(SESSIONS, json={**body, "target_unit_id": b["id"]}))
    assert operator.get(f"{SESSIONS}/{outside['id']}").status_code == 404
    assert operator.post(f"{SESSIONS}/{outside['id']}/stop").status_code == 404

    made = ok(operator.post(SESSIONS, json=body))
    assert (made["state"], made["targeted"], made["playing"]) == ("prepared", 1, 0)
    assert [s["id"] for s in ok(operator.get(SESSIONS), 200)["items"]] == [made["id"]]
    one = f"{SESSIONS}/{made['id']}"
    r = operator.post(f"{one}/audio", params={"seq": 0}, content=b"\x1aE\xdf\xa3",
                      headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 409 and "start it first" in r.json()["detail"], r.text
    assert learner.post(f"{one}/start").status_code == 403

    live = ok(operator.post(f"{one}/start"), 200)
    assert (live["state"], live["targeted"]) == ("live", 1)
    assert operator.post(f"{one}/start").status_code == 409
    r = operator.post(f"{one}/audio", params={"seq": 3}, content=b"x",
                      headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 409 and "seq=0" in r.json()["detail"], r.text
    assert operator.post(f"{one}/audio", params={"seq": -1}, content=b"x").status_code == 422

    ended = ok(operator.post(f"{one}/stop"), 200)
    assert ended["state"] == "ended" and ended["recording_sha256"] is None  # no audio came
    again = ok(operator.post(f"{one}/stop"), 200)
    assert again["ended_at"] == ended["ended_at"]
    r = operator.post(f"{one}/audio", params={"seq": 0}, content=b"x")
    assert r.status_code == 409
    audit = ok(stack.api.get("/api/v1/audit", params={"object_type": "live_session",
                                                     "object_id": made["id"]}), 200)
    assert [e["action"] for e in audit["items"]] == ["live_stop", "live_start", "live_create"]
    for client in (operator, learner, approver):
        client.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Browser, Path]]:
    path = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if path is None:
        pytest.fail("chromium not found: apt-get install chromium", pytrace=False)
    source = spoken_source(tmp_path_factory.mktemp("mic") / "loa.wav")
    args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={source}",
            "--autoplay-policy=no-user-gesture-required"]
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=path, args=args)
        yield launched, source
        launched.close()


def test_an_operator_speaks_from_chromium_to_three_speakers(
        stack: Stack, browser: tuple[Browser, Path]) -> None:
    chromium, source = browser
    commune = add_unit(stack.api, "tt-xa-c", "commune", name="Xã Trực Tiếp")
    devices = stack.fleet(stack.devices(commune, *AGENTS))
    sinks: dict[str, SimPcmSink] = {}
    for d, dev in devices.items():
        sink = dev.agent._hw.live
        assert isinstance(sink, SimPcmSink)
        sinks[d] = sink
    ok(stack.api.post("/api/v1/users", json={"username": "ph-c", "password": PASSWORD,
                                              "role": "operator", "unit_id": commune["id"]}))
    base = str(stack.api.base_url).rstrip("/")
    page = chromium.new_context(locale="vi-VN").new_page()
    page.goto(f"{base}/console/login")
    page.fill("#f-username", "ph-c")
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]")
    page.click("header a[href='/console/live']")  # in the navigation for LIVE holders

    page.fill("#f-title", "Thông báo khẩn của xã")
    page.select_option("#f-target_unit_id", str(commune["id"]))
    page.select_option("#f-priority", "priority")
    page.click("#prepare")
    assert page.inner_text("#review-devices") == "3"  # step 2: who it will reach
    session_id = page.url.rsplit("/", 1)[1]
    page.click("#go-live")
    page.wait_for_selector("#on-air[data-recording='1']", timeout=10_000)
    # the page's count shows every speaker playing
    expect(page.locator("#playing")).to_have_text("3", timeout=20_000)

    def heard_enough() -> bool:
        return all(sum(len(p) for _, p in s.samples()) >= 48_000 * 2 * 7
                   for s in sinks.values())
    wait_until(heard_enough, 30, "seven seconds of live audio on every speaker")
    page.click("#stop")
    page.wait_for_selector("#summary", timeout=20_000)

    item = f"live-{session_id}"
    plays = poll(lambda: [p for p in stack.plays(status="completed") if p["item_id"] == item],
                 lambda ps: len(ps) == 3, 20, "every speaker completed the live item")
    assert {p["device_id"] for p in plays} == set(AGENTS)
    clip = decode(source)
    backwards = reversed_pcm(clip)
    for d, sink in sinks.items():
        played = max(sink.samples(), key=lambda b: len(b[1]))[1]
        score = loop_correlation(played, clip)
        assert score >= MATCH, (d, score)
        other = loop_correlation(played, backwards)  # the same sounds, not the same speech
        assert other < MATCH <= score, (d, other, score)
    state = ok(stack.api.get(f"{SESSIONS}/{session_id}"), 200)
    assert (state["state"], state["started"], state["playing"]) == ("ended", 3, 0)
    sha = state["recording_sha256"]
    assert sha
    expect(page.locator(f"#recording a[href='/api/v1/media/{sha}']")).to_have_count(1)
    recording = stack.tmp / "recording.ogg"
    recording.write_bytes(stack.api.get(f"/api/v1/media/{sha}").content)
    assert loop_correlation(decode(recording), clip) >= MATCH
    audit = ok(stack.api.get("/api/v1/audit", params={"object_type": "live_session",
                                                     "object_id": session_id}), 200)
    stop = next(e for e in audit["items"] if e["action"] == "live_stop")
    detail = stop["detail"]
    assert (detail["spoken_by"], detail["target_unit_name"], detail["recording_sha256"]) == (
        "ph-c", "Xã Trực Tiếp", sha)
    assert detail["duration_s"] >= 7

