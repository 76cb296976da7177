"""Offline training modules on kiosks, with real parts (broker, center, simulated kiosk): the
kiosk receives the course's bundle, a quiz taken there while the link is down is scored at
once and counted at the center once the link returns, exactly once."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from edge_agent.kiosk.training import score_quiz
from firmware_sim.broker import MosquittoBroker
from protocol.codec import decode_event, encode
from protocol.manifest import Manifest
from protocol.topics import Channel, device_topic
from protocol.training import BundleDocument, QuizAttemptSubmitted, TrainingBundleRef
from tests.feedback.rig import FeedbackRig
from tests.support.center import running_center
from tests.support.mqtt import MqttTestClient
from tests.support.waiting import poll
from tests.training.helpers import as_officer, import_sample, officer, ok

SHA = "ab" * 32


@pytest.fixture
def rig(tmp_path: Path, broker: MosquittoBroker) -> Iterator[FeedbackRig]:
    with running_center(tmp_path / "center", mqtt_host=broker.host, mqtt_port=broker.center_port,
                        mqtt_password=broker.center_password) as center:
        r = FeedbackRig(tmp_path, broker, center)
        try:
            yield r
        finally:
            r.close()


def test_protocol_round_trip_of_bundles_and_kiosk_attempts() -> None:
    ref = TrainingBundleRef(sha256=SHA, url=f"http://c/api/v1/media/{SHA}", size=10,
                            course_code="ban-tin", version=2, title="Bản tin", public=False)
    manifest = Manifest(device_id="k1", version=3, issued_at=datetime(2026, 1, 1, tzinfo=UTC),
                        training_bundles=(ref,))
    assert Manifest.model_validate_json(manifest.model_dump_json()) == manifest
    older = json.loads(manifest.model_dump_json())
    del older["training_bundles"]  # a manifest from before the field: still valid, no bundles
    assert Manifest.model_validate(older).training_bundles == ()
    event = QuizAttemptSubmitted(
        event_id="e" * 32, device_id="k1", at=datetime(2026, 1, 1, tzinfo=UTC),
        bundle_sha256=SHA, course_code="ban-tin", quiz_id=4, officer_code="CB-0001",
        answers={"q1": ("b",), "q2": ("a", "c")}, correct=1, total=2, score=50.0, passed=False)
    decoded = decode_event(encode(event))
    assert isinstance(decoded, QuizAttemptSubmitted) and decoded == event
    anonymous = event.model_copy(update={"officer_code": None})
    assert decode_event(encode(anonymous)) == anonymous
    with pytest.raises(ValueError):
        QuizAttemptSubmitted.model_validate({**event.model_dump(), "officer_code": "a b"})


def _form(doc: BundleDocument, quiz_id: int, wrong: int = 0) -> dict[str, Any]:
    quiz = next(q for q in doc.quizzes if q.id == quiz_id)
    form: dict[str, Any] = {}
    for i, q in enumerate(quiz.questions):
        form[f"q:{q.id}"] = list(q.answer)
        if i < wrong:  # a choice outside the key
            form[f"q:{q.id}"] = [next(c for c, _ in q.choices if c not in q.answer)]
    return form


def test_quiz_taken_offline_at_a_kiosk_is_counted_once(rig: FeedbackRig,
                                                       mqtt_clients: Any) -> None:
    api = rig.api
    province = rig.unit("tinh-k", "province")
    commune = rig.unit("xa-k1", "commune", province)
    editor = officer(api, commune)
    course = import_sample(api)
    quiz_id = course["quizzes"][0]["id"]
    ok(api.post("/api/v1/training/assignments",
                json={"course_id": course["id"], "unit_id": commune["id"]}))
    sim = rig.start_kiosk(commune, "kiosk-k1", None)

    published = ok(api.post(f"/api/v1/training/courses/{course['id']}/kiosk",
                            json={"unit_ids": [province["id"]], "public": False}))
    sha = published["publications"][0]["bundle_sha256"]
    assert published["kiosks"] == ["kiosk-k1"]
    again = ok(api.post(f"/api/v1/training/courses/{course['id']}/kiosk",
                        json={"unit_ids": [province["id"]], "public": False}))
    assert again["publications"][0]["bundle_sha256"] == sha  # deterministic: same course, same hash

    sim.wait_manifest(lambda a: bool(a.manifest and a.manifest.training_bundles), 15,
                      "the bundle listed in the kiosk's manifest")
    assert sim.agent.manifest is not None
    (ref,) = sim.agent.manifest.training_bundles
    assert (ref.sha256, ref.course_code, ref.public) == (sha, course["code"], False)
    poll(lambda: sim.kiosk.training.module(sha), lambda m: m is not None, 15,
         "the bundle downloaded and verified on the kiosk")
    on_disk = sim.kiosk.training.cache.path_for(sha).read_bytes()
    assert hashlib.sha256(on_disk).hexdigest() == sha and len(on_disk) == ref.size
    served = api.get(f"/api/v1/media/{sha}", headers={"Range": "bytes=0-9"})
    assert served.status_code == 206 and served.content == on_disk[:10]
    assert served.headers["content-disposition"] == f'attachment; filename="{sha}.zip"'
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"].endswith("; sandbox")
    with zipfile.ZipFile(io.BytesIO(on_disk)) as archive:
        doc = BundleDocument.model_validate(json.loads(archive.read("bundle.json")))
        assert all(f"media/{m}" in archive.namelist() for m in doc.media)
    assert doc.quizzes[0].questions[0].answer  # the key travels: scoring is offline
    assert doc.media, "the sample's picture and sound travel inside the bundle"

    # The kiosk UI: modules, a lesson with its picture, the quiz.
    listing = sim.http.get("/training")
    assert f'href="/training/{sha}"' in listing.text and course["title"] in listing.text
    lesson = sim.http.get(f"/training/{sha}/lesson/1")
    assert lesson.status_code == 200 and doc.lessons[0].title in lesson.text
    media_sha = next(m for m, kind in doc.media.items() if kind == "image/png")
    assert f"media/{media_sha}" in "".join(x.html for x in doc.lessons)
    # the lesson's relative media/<sha256> resolved to the kiosk's media route
    assert f'<img src="/training/{sha}/media/{media_sha}"' in lesson.text
    picture = sim.http.get(f"/training/{sha}/media/{media_sha}")
    assert picture.status_code == 200
    assert picture.headers["content-disposition"] == f'inline; filename="{media_sha}"'
    assert picture.headers["x-content-type-options"] == "nosniff"
    assert picture.headers["content-security-policy"].endswith("; sandbox")
    assert hashlib.sha256(picture.content).hexdigest() == media_sha

    # The link goes down; the officer takes the quiz at the kiosk.
    rig.broker.stop()
    page = sim.http.get(f"/training/{sha}/quiz/{quiz_id}")
    assert page.status_code == 200 and 'name="officer_code"' in page.text
    form = _form(doc, quiz_id, wrong=1)
    refused = sim.http.post(f"/training/{sha}/quiz/{quiz_id}", data=form)
    assert refused.status_code == 422 and 'id="code-error"' in refused.text
    expected = score_quiz(doc.quizzes[0], {k[2:]: v for k, v in form.items()})
    assert expected.correct == expected.total - 1
    result = sim.http.post(f"/training/{sha}/quiz/{quiz_id}",
                           data={**form, "officer_code": editor["code"]})
    assert result.status_code == 200, result.text
    assert f'id="score">{expected.score:g}%' in result.text and 'id="queued"' in result.text
    db = sqlite3.connect(sim.agent.config.data_dir / "agent.sqlite3")
    (payload,) = [bytes(p) for (p,) in db.execute("SELECT payload FROM outbox")
                  if b"quiz_attempt_submitted" in bytes(p)]
    db.close()
    event = decode_event(payload)
    assert isinstance(event, QuizAttemptSubmitted) and event.officer_code == editor["code"]

    # The link returns: the attempt reaches the center once, as the officer's.
    rig.broker.start()
    rows = poll(lambda: ok(api.get("/api/v1/training/kiosk-attempts"))["items"],
                lambda items: len(items) == 1, 30, "the kiosk attempt at the center")
    assert rows[0]["event_id"] == event.event_id and rows[0]["anonymous"] is False
    assert rows[0]["officer_id"] == editor["id"] and rows[0]["flag"] is None
    assert (rows[0]["score"], rows[0]["passed"]) == (expected.score, expected.passed)
    mine = ok(api.get(f"/api/v1/training/quizzes/{quiz_id}/attempts",
                      headers=as_officer(editor)))["items"]
    assert [a["score"] for a in mine] == [expected.score]

    def report() -> dict[str, Any]:
        rows = ok(api.get("/api/v1/training/reports", params={"unit_id": commune["id"]}))
        return dict(rows["items"][0])

    counted = report()
    assert (counted["assigned"], counted["started"]) == (1, 1)
    assert counted["average_score"] == expected.score
    assert counted["passed"] == (1 if expected.passed else 0)

    # The same event again (an at-least-once redelivery): still one attempt.
    assert sim.agent.outbox.wait_drained(15)
    ingestor = rig.center.center.ingestor
    before = ingestor.snapshot()["duplicate"]
    # Sent on the device's topic by another client: a second connection with the device's
    # credentials is refused (its client id must be the device id).
    dup: MqttTestClient = mqtt_clients.center()
    dup.publish(device_topic("kiosk-k1", Channel.EVENT), payload, qos=1)
    assert ingestor.wait_for(lambda c: c["duplicate"] > before, 15)
    assert len(ok(api.get("/api/v1/training/kiosk-attempts"))["items"]) == 1
    assert len(ok(api.get(f"/api/v1/training/quizzes/{quiz_id}/attempts",
                          headers=as_officer(editor)))["items"]) == 1
    assert report() == counted


def test_unknown_codes_and_public_modules_are_anonymous(rig: FeedbackRig) -> None:
    api = rig.api
    commune = rig.unit("xa-k2", "commune")
    course = import_sample(api)
    quiz_id = course["quizzes"][0]["id"]
    sim = rig.start_kiosk(commune, "kiosk-k2", None)
    published = ok(api.post(f"/api/v1/training/courses/{course['id']}/kiosk",
                            json={"unit_ids": [commune["id"]], "public": True}))
    sha = published["publications"][0]["bundle_sha256"]
    module = poll(lambda: sim.kiosk.training.module(sha), lambda m: m is not None, 15,
                  "the public bundle on the kiosk")
    page = sim.http.get(f"/training/{sha}/quiz/{quiz_id}")
    assert 'name="officer_code"' not in page.text  # citizens take public modules anonymously
    done = sim.http.post(f"/training/{sha}/quiz/{quiz_id}", data=_form(module.doc, quiz_id))
    assert done.status_code == 200 and 'id="score">100%' in done.text

    # A non-public bundle with a code the center does not know: kept, anonymous, flagged.
    private = ok(api.post(f"/api/v1/training/courses/{course['id']}/kiosk",
                          json={"unit_ids": [commune["id"]], "public": False}))
    private_sha = private["publications"][0]["bundle_sha256"]
    assert private_sha != sha
    poll(lambda: sim.kiosk.training.module(private_sha), lambda m: m is not None, 15,
         "the replaced (non-public) bundle on the kiosk")
    sim.http.post(f"/training/{private_sha}/quiz/{quiz_id}",
                  data={**_form(module.doc, quiz_id), "officer_code": "NO-SUCH-CODE"})
    rows = poll(lambda: ok(api.get("/api/v1/training/kiosk-attempts",
                                   params={"device_id": "kiosk-k2"}))["items"],
                lambda items: len(items) == 2, 20, "both kiosk attempts at the center")
    by_sha = {r["bundle_sha256"]: r for r in rows}
    assert by_sha[sha]["anonymous"] and by_sha[sha]["flag"] is None
    assert by_sha[private_sha]["anonymous"] and by_sha[private_sha]["attempt_id"] is None
    assert "unknown officer code 'NO-SUCH-CODE'" in by_sha[private_sha]["flag"]
    assert all(r["score"] == 100.0 and r["quiz_id"] == quiz_id for r in rows)
