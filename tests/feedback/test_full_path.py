"""The whole path with real parts: a voice submission at a simulated kiosk reaches the center,
is triaged and answered by the commune's official, and the answer shows on the kiosk's home
screen; a submission made while the broker is down arrives after it returns, exactly once."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from control_center.feedback import announcements
from edge_agent.speech import SpeechModel
from protocol.topics import Channel, device_topic
from tests.feedback.rig import FeedbackRig, SimKiosk
from tests.support.mqtt import MqttTestClient
from tests.support.waiting import poll

pytestmark = pytest.mark.integration


def _queue(rig: FeedbackRig, unit: dict[str, Any], **params: Any) -> list[dict[str, Any]]:
    r = rig.api.get("/api/v1/feedback", params=params, headers={"X-Unit-Id": str(unit["id"])})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def _submit(kiosk: SimKiosk, category: str, text: str, channel: str = "touch") -> str:
    form = {"category": category, "text": text, "channel": channel, "phone": "0912345678",
            "consent": "1"}
    review = kiosk.http.post("/feedback/review", data=form)
    assert review.status_code == 200 and text in review.text
    sent = kiosk.http.post("/feedback/submit", data=form)
    assert sent.status_code == 303, sent.text
    ref = str(sent.headers["location"]).rsplit("/", 1)[-1]
    done = kiosk.http.get(f"/feedback/done/{ref}")
    assert done.status_code == 200 and ref in done.text
    return ref


def test_voice_submission_is_answered_back_on_the_kiosk(
    rig: FeedbackRig, ko_model: SpeechModel, speak: Callable[[str], Path]
) -> None:
    province = rig.unit("tinh-f", "province")
    commune = rig.unit("xa-f1", "commune", province)
    other = rig.unit("xa-f2", "commune", province)
    sim = rig.start_kiosk(commune, "kiosk-f1", ko_model)
    sim.wait_manifest(lambda a: bool(a.manifest and a.manifest.feedback_categories), 15,
                      "categories from the center")
    categories = sim.http.get("/feedback")
    assert 'data-category="water"' in categories.text and "Nước sạch" in categories.text

    # The citizen presses "speak" and says "물이 없어요" (no water) into the microphone.
    sim.mic.say(speak("물이 없어요"))
    started = sim.http.post("/voice/start", data={"category": "water"})
    assert started.status_code == 303
    state = sim.kiosk.voice.wait_done(1, 20)
    assert state.done and state.ended_by == "silence" and state.text
    page = sim.http.get("/voice", params={"category": "water"})
    assert page.status_code == 303  # recognition finished: back to the form to correct it
    describe = sim.http.get(str(page.headers["location"]))
    assert state.text in describe.text and 'name="channel" value="voice"' in describe.text
    ref = _submit(sim, "water", state.text, channel="voice")

    item = poll(lambda: _queue(rig, commune), lambda q: any(f["ref_code"] == ref for f in q),
                20, f"submission {ref} at the center")[0]
    assert (item["text"], item["channel"], item["status"]) == (state.text, "voice", "new")
    assert item["device_id"] == "kiosk-f1" and item["phone"] == "0912345678"
    assert item["due_at"] > item["received_at"]

    # Another commune's official neither sees nor answers it.
    outsider = {"X-Unit-Id": str(other["id"])}
    assert _queue(rig, other) == []
    assert rig.api.get(f"/api/v1/feedback/{item['id']}", headers=outsider).status_code == 404
    refused = rig.api.post(f"/api/v1/feedback/{item['id']}/answer", json={"text": "x"},
                           headers=outsider)
    assert refused.status_code == 404
    # The province sees its whole subtree.
    assert [f["ref_code"] for f in _queue(rig, province)] == [ref]

    mine = {"X-Unit-Id": str(commune["id"])}
    fid = item["id"]
    rig.post(f"/api/v1/feedback/{fid}/triage", {"category": "water", "unit_id": commune["id"]},
             headers=mine)
    rig.post(f"/api/v1/feedback/{fid}/assign", {"assignee": "Nguyễn Văn A"}, headers=mine)
    assigned = rig.post(f"/api/v1/feedback/{fid}/assign", {"assignee": "Trần Thị B"},
                        headers=mine)
    assert assigned["assignee"] == "Trần Thị B"
    assert "reassigned from Nguyễn Văn A" in assigned["notes"][0]["text"]
    rig.post(f"/api/v1/feedback/{fid}/notes", {"text": "Đã gọi đội cấp nước"}, headers=mine)
    answer = "Đội cấp nước sẽ sửa đường ống trong hôm nay."
    answered = rig.post(f"/api/v1/feedback/{fid}/answer", {"text": answer, "announce": True},
                        headers=mine)
    assert answered["status"] == "answered" and len(answered["notes"]) == 2

    sim.wait_manifest(lambda a: bool(a.manifest and any(x.ref_code == ref
                                                        for x in a.manifest.answers)
                                     and a.manifest.items),
                      15, f"the answer to {ref}, also as a text bulletin")
    # the notice is shown from its instant (LEAD after the answer) until its window ends
    home = poll(lambda: sim.http.get("/").text,
                lambda page: f"Trả lời ý kiến {ref}" in page.split('id="bulletins"')[1],
                announcements.LEAD.total_seconds() + 15, "the answer's notice on the kiosk")
    answers, bulletins = home.split('id="bulletins"')
    assert f'data-ref="{ref}"' in answers and answer in answers
    assert answer in bulletins
    lookup = sim.http.get("/lookup", params={"ref": ref})
    assert answer in lookup.text
    closed = rig.post(f"/api/v1/feedback/{fid}/close", {}, headers=mine)
    assert closed["status"] == "closed"


def test_submission_while_the_broker_is_down_arrives_once(
    rig: FeedbackRig, mqtt_clients: Any
) -> None:
    commune = rig.unit("xa-g", "commune")
    sim = rig.start_kiosk(commune, "kiosk-g1", None)  # no model: touch still works
    describe = sim.http.get("/feedback/describe", params={"category": "other"})
    assert 'id="voice-off"' in describe.text and "no microphone" not in describe.text
    assert "no speech model configured" in sim.http.get("/status").json()["voice"]["message"]

    rig.broker.stop()
    ref = _submit(sim, "road", "Cầu tràn thôn 3 bị sạt lở")
    assert sim.agent.outbox.pending() >= 1  # stored on the kiosk, not sent
    assert "id=\"queued\"" in sim.http.get(f"/feedback/done/{ref}").text
    db = sqlite3.connect(sim.agent.config.data_dir / "agent.sqlite3")
    (payload,) = [bytes(p) for (p,) in db.execute("SELECT payload FROM outbox")
                  if b"feedback_submitted" in bytes(p)]
    db.close()
    rig.broker.start()

    poll(lambda: _queue(rig, commune), lambda q: any(f["ref_code"] == ref for f in q),
         30, f"submission {ref} after the broker returned")
    assert sim.agent.outbox.wait_drained(15)
    ingestor = rig.center.center.ingestor
    before = ingestor.snapshot()["duplicate"]
    # The same event again (an at-least-once redelivery): stored once all the same.
    # Sent on the device's topic by another client: a second connection with the device's
    # credentials is refused (its client id must be the device id).
    dup: MqttTestClient = mqtt_clients.center()
    dup.publish(device_topic("kiosk-g1", Channel.EVENT), payload, qos=1)
    assert ingestor.wait_for(lambda c: c["duplicate"] > before, 15)
    rows = [f for f in _queue(rig, commune) if f["ref_code"] == ref]
    assert len(rows) == 1 and rows[0]["text"] == "Cầu tràn thôn 3 bị sạt lở"



def test_kiosk_short_answers_use_the_checked_grammar(
    rig: FeedbackRig, ko_model: SpeechModel, speak: Callable[[str], Path]
) -> None:
    commune = rig.unit("xa-h", "commune")
    sim = rig.start_kiosk(commune, "kiosk-h1", ko_model)
    assert sim.kiosk.grammar_error == ""
    sim.mic.say(speak("아니요"))
    assert sim.http.post("/voice/start", data={"category": "other", "mode": "answer"}
                         ).status_code == 303
    state = sim.kiosk.voice.wait_done(1, 20)
    assert state.text == "아니요"  # exactly one of the phrases, not free text
    assert sim.http.get("/voice/state").json()["text"] == "아니요"

    bad = rig.start_kiosk(commune, "kiosk-h2", ko_model, answer_phrases=("네", "전기가"))
    assert bad.kiosk.answer_grammar is None
    message = bad.http.get("/status").json()["voice"]["message"]
    assert message.startswith("words missing from the speech model's vocabulary: 전기가")
