""""Did you hear it?": a bulletin marked at the center is asked at the kiosks of the communes
where it played (and nowhere else), answered by touch and by voice, counted per unit once per
event, and no longer asked once stopped. Real broker, center, kiosks and Korean speech model."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser

from control_center.feedback.hearing import heard_counts
from control_center.models import Bulletin
from edge_agent.speech import load_model
from firmware_sim.broker import MosquittoBroker
from protocol.feedback import FeedbackChannel, SurveyAnswered
from protocol.topics import Channel, device_topic
from tests.feedback.conftest import ko_model_path
from tests.feedback.rig import PASSWORD, FeedbackRig, SimKiosk
from tests.support.browser import run_in_browser, screenshot
from tests.support.center import running_center
from tests.support.tree import add_device
from tests.support.waiting import poll

pytestmark = pytest.mark.integration
QUESTIONS: list[dict[str, Any]] = [{"text": "Bạn có nghe bản tin tiêm chủng không?"},
             {"text": "Bạn nghe ở đâu?", "kind": "choice",
              "choices": ["Loa xã", "Ki-ốt", "Người khác kể"]}]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory,
        mosquitto_installed: None) -> Iterator[FeedbackRig]:
    tmp = tmp_path_factory.mktemp("hearing")
    with MosquittoBroker(tmp / "broker") as broker, running_center(
            tmp / "center", mqtt_host=broker.host, mqtt_port=broker.center_port,
            mqtt_password=broker.center_password, refresh_seconds=1.0) as center:
        made = FeedbackRig(tmp, broker, center)
        try:
            yield made
        finally:
            made.close()


@pytest.fixture(scope="module")
def place(rig: FeedbackRig) -> dict[str, Any]:
    """A province with two communes, each with a kiosk; a loudspeaker in commune A only; a
    text bulletin scheduled on that loudspeaker and marked for asking."""
    province = rig.unit("tinh-h", "province")
    commune_a = rig.unit("xa-ha", "commune", province)
    commune_b = rig.unit("xa-hb", "commune", province)
    kiosk_a = rig.start_kiosk(commune_a, "kiosk-ha", load_model(ko_model_path()))
    kiosk_b = rig.start_kiosk(commune_b, "kiosk-hb", None)
    add_device(rig.api, "loa-ha", commune_a)
    bulletin = rig.post("/api/v1/bulletins", {
        "title": "Tiêm chủng", "kind": "text",
        "text": "Tiêm chủng cho trẻ em lúc 8 giờ sáng thứ Bảy tại trạm y tế xã."})
    rig.post("/api/v1/schedules", {
        "bulletin_id": bulletin["id"],
        "start_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
        "targets": {"device_ids": ["loa-ha"]}})
    r = rig.api.put(f"/api/v1/bulletins/{bulletin['id']}/survey",
                    json={"questions": QUESTIONS})
    assert r.status_code == 200, r.text
    survey = r.json()
    assert survey["asking"] and [q["choices"] for q in survey["questions"]] == [
        ["Có / Yes", "Không / No"], ["Loa xã", "Ki-ốt", "Người khác kể"]]
    period = datetime.fromisoformat(survey["ends_at"]) - datetime.fromisoformat(
        survey["starts_at"])
    assert period == timedelta(days=7)  # the default period
    # the loudspeaker's play rows appear once the bulletin's voice is made; the refresher
    # then gives commune A's kiosk the survey
    kiosk_a.wait_manifest(lambda a: bool(a.manifest and a.manifest.surveys), 60,
                          "the survey on commune A's kiosk")
    return {"province": province, "a": commune_a, "b": commune_b, "kiosk_a": kiosk_a,
            "kiosk_b": kiosk_b, "bulletin": bulletin, "survey": survey}


def _survey(rig: FeedbackRig, bulletin_id: int) -> dict[str, Any]:
    r = rig.api.get(f"/api/v1/bulletins/{bulletin_id}/survey")
    assert r.status_code == 200, r.text
    return dict(r.json())


def _counts(rig: FeedbackRig, bulletin_id: int, unit_id: int) -> dict[int, list[int]]:
    return {c["question_id"]: c["counts"] for c in _survey(rig, bulletin_id)["counts"]
            if c["unit_id"] == unit_id}


def _wait_counts(rig: FeedbackRig, place: dict[str, Any], want: dict[int, list[int]]
                 ) -> None:
    poll(lambda: _counts(rig, place["bulletin"]["id"], place["a"]["id"]),
         lambda got: got == want, 20, f"counts {want} at the center")


def test_only_the_commune_where_it_played_asks(rig: FeedbackRig, place: dict[str, Any]) -> None:
    kiosk_a: SimKiosk = place["kiosk_a"]
    kiosk_b: SimKiosk = place["kiosk_b"]
    assert kiosk_a.agent.manifest is not None
    (asked,) = kiosk_a.agent.manifest.surveys
    assert asked.bulletin_id == place["bulletin"]["id"] and asked.title == "Tiêm chủng"
    assert [q.text for q in asked.questions] == [q["text"] for q in QUESTIONS]
    assert _survey(rig, place["bulletin"]["id"])["asking_unit_ids"] == [place["a"]["id"]]
    assert kiosk_b.agent.manifest is not None and kiosk_b.agent.manifest.surveys == ()
    assert 'id="start-survey"' not in kiosk_b.http.get("/").text
    assert kiosk_b.http.get("/survey").headers["location"] == "/"


def test_a_passer_by_answers_the_set_by_touch(rig: FeedbackRig, place: dict[str, Any]) -> None:
    """In Chromium, by touch: the home page's button, finger-sized answers, the next question,
    the thank-you; the same passer-by is not asked again, a refused form asks again."""
    q1, q2 = (q["id"] for q in place["survey"]["questions"])
    url = place["kiosk_a"].kiosk.url
    with httpx.Client(base_url=url, timeout=30) as browser:  # a form without a choice
        assert browser.post(f"/survey/{q1}", data={"choice": "7"}).status_code == 422

    def scenario(browser: Browser) -> None:
        context = browser.new_context(locale="vi-VN", viewport={"width": 1280, "height": 800},
                                      has_touch=True)
        page = context.new_page()
        fetched: list[str] = []
        page.on("request", lambda r: fetched.append(r.url))
        page.goto(url + "/")
        page.locator("#start-survey").tap()
        page.wait_for_url(f"{url}/survey/{q1}")
        assert page.locator("#survey-question").inner_text() == QUESTIONS[0]["text"]
        assert page.locator("#survey-voice").count() == 1  # a model is loaded: voice offered
        for button in page.locator("button.choice").all():
            box = button.bounding_box()
            assert box is not None and box["height"] >= 88  # finger-sized
        screenshot(page, "kiosk-survey-question")
        page.locator("button.choice").first.tap()  # "Có / Yes"
        page.wait_for_url(f"{url}/survey/{q2}")
        assert page.locator("#survey-voice").count() == 0  # a choice: touch only
        page.locator("button.choice", has_text="Người khác kể").tap()
        page.wait_for_url(f"{url}/survey/thanks")
        assert page.locator("#survey-thanks").count() == 1
        page.goto(url + "/")  # the same passer-by is not asked again
        assert page.locator("#start-survey").count() == 0
        assert all(u.startswith(url) for u in fetched)  # nothing from elsewhere
        context.close()

    run_in_browser(scenario)
    _wait_counts(rig, place, {q1: [1, 0], q2: [0, 0, 1]})


def test_a_passer_by_answers_by_voice(rig: FeedbackRig, place: dict[str, Any],
                                      speak: Callable[[str], Path]) -> None:
    q1, q2 = (q["id"] for q in place["survey"]["questions"])
    before = _counts(rig, place["bulletin"]["id"], place["a"]["id"])
    sim: SimKiosk = place["kiosk_a"]
    session = sim.kiosk.voice.state().session + 1
    sim.mic.say(speak("아니요"))  # "no", in the Korean test model's yes/no grammar
    with httpx.Client(base_url=sim.kiosk.url, timeout=30) as browser:
        started = browser.post("/voice/start", data={"mode": "answer", "question": str(q1)})
        listen = f"/survey/{q1}/listen?session={session}"
        assert started.headers["location"] == listen
        state = sim.kiosk.voice.wait_done(session, 20)
        assert state.done and state.text == "아니요"
        # another recording's result is never taken for this answer
        assert browser.get(f"/survey/{q1}/listen?session={session - 1}").status_code == 409
        heard = browser.get(listen)
        assert heard.status_code == 303 and heard.headers["location"] == f"/survey/{q2}"
    _wait_counts(rig, place, {q1: [before[q1][0], before[q1][1] + 1], q2: before[q2]})


def test_duplicates_count_once_and_bad_answers_are_dropped(
    rig: FeedbackRig, place: dict[str, Any]
) -> None:
    q1, q2 = (q["id"] for q in place["survey"]["questions"])
    before = _counts(rig, place["bulletin"]["id"], place["a"]["id"])
    ingestor = rig.center.center.ingestor
    dropped = ingestor.snapshot()["survey_answer_dropped"]
    agent = place["kiosk_a"].agent
    topic = device_topic(agent.device_id, Channel.EVENT)

    def answer(question_id: int, choice: int) -> SurveyAnswered:
        return SurveyAnswered(event_id=uuid.uuid4().hex, device_id=agent.device_id,
                              at=datetime.now(UTC), question_id=question_id, choice=choice,
                              channel=FeedbackChannel.TOUCH)

    twice = answer(q2, 1)
    agent.outbox.add(topic, twice)
    agent.outbox.add(topic, twice)  # redelivered: the center keeps the first
    agent.outbox.add(topic, answer(q1, 3))  # no fourth choice to a yes/no question
    agent.outbox.add(topic, answer(999_999, 0))  # no such question
    assert ingestor.wait_for(lambda c: c["survey_answer_dropped"] >= dropped + 2, 20)
    want = {q1: before[q1], q2: [before[q2][0], before[q2][1] + 1, before[q2][2]]}
    _wait_counts(rig, place, want)
    assert ingestor.wait_for(lambda c: c["duplicate"] >= 1, 20)
    # what the effectiveness pages read: the same counts, for the province's units
    units = [place["province"]["id"], place["a"]["id"], place["b"]["id"]]
    with rig.center.center.read_sessions() as session:
        heard = heard_counts(session, unit_ids=units, start=datetime.now(UTC) - timedelta(hours=1),
                             end=datetime.now(UTC) + timedelta(minutes=1))
    assert {h.question_id: list(h.counts) for h in heard} == want
    assert {(h.bulletin_id, h.unit_id) for h in heard} == {(place["bulletin"]["id"],
                                                            place["a"]["id"])}
    assert heard[0].choices == ("Có / Yes", "Không / No")


def test_refusals(rig: FeedbackRig, place: dict[str, Any]) -> None:
    bid = place["bulletin"]["id"]
    url = f"/api/v1/bulletins/{bid}/survey"
    four = rig.api.put(url, json={"questions": [{"text": f"Câu {i}"} for i in range(4)]})
    assert four.status_code == 422 and "3" in four.text
    one = rig.api.put(url, json={"questions": [{"text": "Ở đâu?", "kind": "choice",
                                                "choices": ["Loa"]}]})
    assert one.status_code == 422 and "2 to 4" in one.text
    changed = rig.api.put(url, json={"questions": [{"text": "Câu khác?"}]})
    assert changed.status_code == 409 and "only the period can change" in changed.text
    operator = rig.user("bien-tap-ha", "operator", place["a"])
    draft = operator.post("/api/v1/bulletins", json={"title": "Nháp", "kind": "text",
                                                      "text": "Chưa duyệt."})
    assert draft.status_code == 201, draft.text
    unapproved = operator.put(f"/api/v1/bulletins/{draft.json()['id']}/survey",
                              json={"questions": QUESTIONS[:1]})
    assert unapproved.status_code == 409 and "approved" in unapproved.text
    outsider = rig.user("bien-tap-hb", "operator", place["b"])
    hidden = outsider.put(f"/api/v1/bulletins/{draft.json()['id']}/survey",
                          json={"questions": QUESTIONS[:1]})
    assert hidden.status_code == 404
    assert outsider.get(f"/api/v1/bulletins/{draft.json()['id']}/survey").status_code == 404


def test_the_console_shows_counts_and_changes_the_period(
    rig: FeedbackRig, place: dict[str, Any]
) -> None:
    bid = place["bulletin"]["id"]
    with rig.center.center.sessions() as session:  # the province's own bulletin
        bulletin = session.get(Bulletin, bid)
        assert bulletin is not None
        bulletin.unit_id = place["province"]["id"]
        session.commit()
    rig.user("bien-tap-tinh", "operator", place["province"])
    with httpx.Client(base_url=rig.center.base_url, follow_redirects=False) as browser:
        assert browser.post("/console/login", data={
            "username": "bien-tap-tinh", "password": PASSWORD}).status_code == 303
        page = browser.get(f"/console/bulletins/{bid}")
        assert page.status_code == 200 and "Did you hear it?" in page.text
        q1 = place["survey"]["questions"][0]["id"]
        row = re.search(rf'data-question="{q1}".*?data-unit="{place["a"]["id"]}">(.*?)</tr>',
                        page.text, re.S)
        assert row is not None and "Xã xa-ha" in row.group(1)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        form = {"csrf": csrf.group(1), "q1": QUESTIONS[0]["text"], "q2": QUESTIONS[1]["text"],
                "kind2": "choice", "choices2": "; ".join(QUESTIONS[1]["choices"]), "days": "3"}
        bad = browser.post(f"/console/bulletins/{bid}/survey",
                           data={**form, "kind2": "choice", "choices2": "Loa xã"})
        assert bad.status_code == 422 and "2 to 4" in bad.text
        saved = browser.post(f"/console/bulletins/{bid}/survey", data=form)
        assert saved.status_code == 303, saved.text
    survey = _survey(rig, bid)
    assert [q["id"] for q in survey["questions"]] == [q["id"] for q in place["survey"]["questions"]]
    period = datetime.fromisoformat(survey["ends_at"]) - datetime.fromisoformat(
        survey["starts_at"])
    assert period == timedelta(days=3)


def test_stopped_survey_is_no_longer_asked(rig: FeedbackRig, place: dict[str, Any]) -> None:
    bid = place["bulletin"]["id"]
    sim: SimKiosk = place["kiosk_a"]
    ends = datetime.now(UTC) + timedelta(seconds=3)
    soon = rig.api.put(f"/api/v1/bulletins/{bid}/survey",
                       json={"ends_at": ends.isoformat(), "questions": QUESTIONS})
    assert soon.status_code == 200, soon.text
    sim.wait_manifest(lambda a: a.manifest is not None and bool(a.manifest.surveys) and
                      a.manifest.surveys[0].ends_at == ends, 20, "the shorter period")
    poll(lambda: sim.http.get("/").text, lambda home: 'id="start-survey"' not in home, 10,
         "the kiosk to stop asking once the period ended")
    assert datetime.now(UTC) >= ends
    counted = _survey(rig, bid)["counts"]
    stopped = rig.api.delete(f"/api/v1/bulletins/{bid}/survey")
    assert stopped.status_code == 200 and stopped.json()["asking"] is False
    assert stopped.json()["counts"] == counted  # the answers stay counted
    sim.wait_manifest(lambda a: a.manifest is not None and a.manifest.surveys == (), 20,
                      "the survey gone from the kiosk")
    with httpx.Client(base_url=sim.kiosk.url, timeout=30) as browser:
        assert 'id="start-survey"' not in browser.get("/").text
        q1 = place["survey"]["questions"][0]["id"]
        assert browser.get(f"/survey/{q1}").headers["location"] == "/"
