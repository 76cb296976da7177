"""Training with authority (security finding 3), through the real center, broker and kiosk
credentials: administering training needs the training-admin permission inside one's own
subtree; an officer is the signed-in user (no ``X-Officer``, no picker); the center re-scores
kiosk attempts and takes them from kiosks only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from firmware_sim.broker import MosquittoBroker
from protocol.codec import encode
from protocol.topics import Channel, device_topic
from protocol.training import QuizAttemptSubmitted
from tests.support.center import CenterHandle
from tests.support.mqtt import MqttClients, MqttTestClient
from tests.support.tree import add_device
from tests.training.helpers import (
    as_officer,
    folder_zip,
    import_sample,
    officer,
    ok,
    signed_in,
    unit,
    user,
)

pytestmark = pytest.mark.integration

RIGHT = {"nam-cau-hoi": ["b"], "do-dai-cau": ["a"], "nhac-lai": ["a", "b"],
         "tin-khan-cap": ["b"]}


def _import(api: httpx.Client, headers: dict[str, str]) -> httpx.Response:
    return api.post("/api/v1/training/courses/import", headers=headers,
                    files={"file": ("course.zip", folder_zip(), "application/zip")})


def test_viewers_and_operators_cannot_import_overwrite_or_publish(
        center: CenterHandle) -> None:
    api = center.api
    province = unit(api, "province")
    commune = unit(api, "commune", province)
    operator = signed_in(user(api, province, role="operator")["token"])
    learner = signed_in(user(api, commune)["token"])
    for who in (operator, learner):
        refused = _import(api, who)  # a new course
        assert refused.status_code == 403, refused.text
        assert "training admin" in refused.json()["detail"]
    assert ok(api.get("/api/v1/training/courses"))["items"] == []

    course = import_sample(api)
    for who in (operator, learner):
        assert _import(api, who).status_code == 403  # overwriting the existing course
        r = api.post(f"/api/v1/training/courses/{course['id']}/kiosk", headers=who,
                     json={"unit_ids": [commune["id"]]})
        assert r.status_code == 403, r.text
        assert api.get(f"/api/v1/training/courses/{course['id']}/export",
                       headers=who).status_code == 403  # the answer keys stay with admins
        # still free to see and study it
        listed = ok(api.get("/api/v1/training/courses", headers=who))["items"]
        assert [c["code"] for c in listed] == [course["code"]]
    audit = ok(api.get("/api/v1/audit", params={"object_type": "course"}))["items"]
    assert [e["action"] for e in audit] == ["import"]  # only the system token's


def test_a_course_belongs_to_the_unit_that_imported_it_first(center: CenterHandle) -> None:
    api = center.api
    province = unit(api, "province")
    commune = unit(api, "commune", province)
    province_admin = signed_in(user(api, province, role="approver")["token"])
    commune_admin = signed_in(user(api, commune, role="approver")["token"])
    created = _import(api, province_admin)
    assert created.status_code == 201, created.text
    assert created.json()["course"]["owner_unit_id"] == province["id"]
    refused = _import(api, commune_admin)
    assert refused.status_code == 403 and "belongs to unit" in refused.json()["detail"]
    assert _import(api, province_admin).status_code == 200  # same folder: unchanged


def test_a_training_admin_of_commune_a_stays_in_commune_a(center: CenterHandle,
                                                          broker: MosquittoBroker) -> None:
    api = center.api
    province = unit(api, "province")
    commune_a, commune_b = unit(api, "commune", province), unit(api, "commune", province)
    add_device(api, f"kiosk-a-{uuid.uuid4().hex[:6]}", commune_a, kind="kiosk")
    kiosk_b = add_device(api, f"kiosk-b-{uuid.uuid4().hex[:6]}", commune_b, kind="kiosk")
    admin_a = signed_in(user(api, commune_a, role="approver")["token"])
    learner_b = user(api, commune_b)
    course = import_sample(api)
    quiz_id = course["quizzes"][0]["id"]
    officer_a, officer_b = officer(api, commune_a), officer(api, commune_b)
    for o in (officer_a, officer_b):
        attempt = ok(api.post(f"/api/v1/training/quizzes/{quiz_id}/attempts",
                              headers=as_officer(o)))
        ok(api.post(f"/api/v1/training/attempts/{attempt['id']}/submit",
                    headers=as_officer(o), json={"answers": RIGHT}))
    ok(api.post("/api/v1/training/assignments",
                json={"course_id": course["id"], "unit_id": province["id"]}))

    # Publishing: inside A only.
    r = api.post(f"/api/v1/training/courses/{course['id']}/kiosk", headers=admin_a,
                 json={"unit_ids": [commune_b["id"]]})
    assert r.status_code == 404, r.text
    r = api.post(f"/api/v1/training/courses/{course['id']}/kiosk", headers=admin_a,
                 json={"unit_ids": [commune_a["id"], commune_b["id"]]})
    assert r.status_code == 404, r.text
    published = ok(api.post(f"/api/v1/training/courses/{course['id']}/kiosk",
                            headers=admin_a, json={"unit_ids": [commune_a["id"]]}))
    assert kiosk_b["id"] not in published["kiosks"] and len(published["kiosks"]) == 1
    # Officers: users of A only.
    r = api.post("/api/v1/training/officers", headers=admin_a,
                 json={"user_id": learner_b["id"], "code": "CB-OUTSIDE", "role": "editor"})
    assert r.status_code == 404, r.text
    assert [o["id"] for o in ok(api.get("/api/v1/training/officers",
                                        headers=admin_a))["items"]] == [officer_a["id"]]
    # Assignments, reports, xAPI: B does not exist for them.
    r = api.post("/api/v1/training/assignments", headers=admin_a,
                 json={"course_id": course["id"], "unit_id": commune_b["id"]})
    assert r.status_code == 404, r.text
    for path in ("/api/v1/training/reports", "/api/v1/training/reports.csv",
                 "/api/v1/training/xapi/statements"):
        r = api.get(path, headers=admin_a, params={"unit_id": commune_b["id"]})
        assert r.status_code == 404, f"{path}: {r.status_code} {r.text}"
        assert api.get(path, headers=admin_a,
                       params={"unit_id": province["id"]}).status_code == 404
    rows = ok(api.get("/api/v1/training/reports", headers=admin_a,
                      params={"unit_id": commune_a["id"]}))["items"]
    assert [(r["unit_id"], r["assigned"], r["passed"]) for r in rows] == [
        (commune_a["id"], 1, 1)]
    statements = ok(api.get("/api/v1/training/xapi/statements",
                            headers=admin_a))["statements"]  # their own unit by default
    assert {s["actor"]["account"]["name"] for s in statements} == {officer_a["code"]}


def test_an_officer_is_the_signed_in_user(center: CenterHandle) -> None:
    api = center.api
    commune = unit(api, "commune")
    me, other = officer(api, commune), officer(api, commune)
    quiz_id = import_sample(api)["quizzes"][0]["id"]
    path = f"/api/v1/training/quizzes/{quiz_id}/attempts"

    # X-Officer names nobody any more: the session's own officer acts.
    started = ok(api.post(path, headers={**as_officer(me), "X-Officer": other["code"]}))
    assert started["officer_id"] == me["id"]
    assert ok(api.get(path, headers=as_officer(other)))["items"] == []
    # The system token is no officer, with or without the header.
    for headers in ({}, {"X-Officer": me["code"]}):
        r = api.post(path, headers=headers)
        assert r.status_code == 403 and "sign in as the officer" in r.json()["detail"]
    # A user without an officer profile is told whom to ask.
    stranger = signed_in(user(api, commune)["token"])
    r = api.get("/api/v1/forum/categories", headers=stranger)
    assert r.status_code == 403 and "ask your training administrator" in r.json()["detail"]

    # The pages: the session cookie is the officer; the picker is gone.
    with httpx.Client(base_url=center.base_url, cookies={"tt_session": me["token"]}) as page:
        home = page.get("/monitor/training")
        assert home.status_code == 200 and me["code"] in home.text
        assert "Đổi cán bộ" not in home.text
        assert page.get("/monitor/training/officer").status_code == 404
        assert page.post("/monitor/training/officer",
                         data={"officer_id": str(other["id"])}).status_code in (404, 405)
    with httpx.Client(base_url=center.base_url,
                      cookies={"tt_session": stranger["Authorization"].split()[1]}) as page:
        r = page.get("/monitor/training")
        assert r.status_code == 403 and "quản trị đào tạo" in r.text
        assert "training administrator" in r.text


def _attempt(device_id: str, sha: str, quiz_id: int, code: str, *,
             answers: dict[str, list[str]], claimed: tuple[int, int, float, bool]
             ) -> QuizAttemptSubmitted:
    correct, total, score, passed = claimed
    return QuizAttemptSubmitted(
        event_id=uuid.uuid4().hex, device_id=device_id, at=datetime.now(UTC),
        bundle_sha256=sha, course_code="viet-ban-tin", quiz_id=quiz_id, officer_code=code,
        answers={k: tuple(v) for k, v in answers.items()}, correct=correct, total=total,
        score=score, passed=passed)


def _kiosk_attempts(api: httpx.Client) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = ok(api.get("/api/v1/training/kiosk-attempts"))["items"]
    return items


def _kiosk_rig(center: CenterHandle, broker: MosquittoBroker, mqtt_clients: MqttClients
               ) -> tuple[dict[str, Any], int, str, MqttTestClient, dict[str, Any]]:
    """An officer, the sample quiz published to a commune's kiosk, and that kiosk's MQTT
    client: (officer, quiz id, bundle hash, client, the commune)."""
    api = center.api
    commune = unit(api, "commune")
    kiosk = add_device(api, "kiosk-forge", commune, kind="kiosk", broker=broker)
    editor = officer(api, commune)
    course = import_sample(api)
    published = ok(api.post(f"/api/v1/training/courses/{course['id']}/kiosk",
                            json={"unit_ids": [commune["id"]], "public": False}))
    client = mqtt_clients.connect(kiosk["mqtt_username"], kiosk["mqtt_password"])
    return (editor, course["quizzes"][0]["id"], published["publications"][0]["bundle_sha256"],
            client, commune)


def test_a_forged_kiosk_score_is_stored_as_the_centers(
        center: CenterHandle, broker: MosquittoBroker, mqtt_clients: MqttClients) -> None:
    api, ingestor = center.api, center.center.ingestor
    editor, quiz_id, sha, kiosk, _ = _kiosk_rig(center, broker, mqtt_clients)
    # One answer right of four, "4/4 = 100%, passed" claimed.
    forged = _attempt("kiosk-forge", sha, quiz_id, editor["code"],
                      answers={"nam-cau-hoi": ["b"], "do-dai-cau": ["b"]},
                      claimed=(4, 4, 100.0, True))
    kiosk.publish(device_topic("kiosk-forge", Channel.EVENT), encode(forged), qos=1)
    assert ingestor.wait_for(lambda c: c["kiosk_score_corrected"] >= 1, 15)
    (row,) = _kiosk_attempts(api)
    assert (row["correct"], row["total"], row["score"], row["passed"]) == (1, 4, 25.0, False)
    assert row["reported_score"] == 100.0 and "the kiosk reported 4/4" in row["flag"]
    mine = ok(api.get(f"/api/v1/training/quizzes/{quiz_id}/attempts",
                      headers=as_officer(editor)))["items"]
    assert [(a["score"], a["passed"]) for a in mine] == [(25.0, False)]

    honest = _attempt("kiosk-forge", sha, quiz_id, editor["code"], answers=RIGHT,
                      claimed=(4, 4, 100.0, True))
    kiosk.publish(device_topic("kiosk-forge", Channel.EVENT), encode(honest), qos=1)
    center.wait_for(lambda: len(_kiosk_attempts(api)) == 2, timeout=15)
    assert sorted(r["score"] for r in _kiosk_attempts(api)) == [25.0, 100.0]
    assert ingestor.snapshot()["kiosk_score_corrected"] == 1  # the honest one agreed


def test_a_quiz_attempt_from_a_loudspeaker_is_dropped(
        center: CenterHandle, broker: MosquittoBroker, mqtt_clients: MqttClients) -> None:
    api, ingestor = center.api, center.center.ingestor
    editor, quiz_id, sha, kiosk, commune = _kiosk_rig(center, broker, mqtt_clients)
    speaker = add_device(api, "loa-forge", commune, broker=broker)
    before = ingestor.snapshot()
    from_speaker = _attempt(speaker["id"], sha, quiz_id, editor["code"], answers=RIGHT,
                            claimed=(4, 4, 100.0, True))
    loud = mqtt_clients.connect(speaker["mqtt_username"], speaker["mqtt_password"])
    loud.publish(device_topic(speaker["id"], Channel.EVENT), encode(from_speaker), qos=1)
    assert ingestor.wait_for(
        lambda c: c["refused:not_a_kiosk"] > before["refused:not_a_kiosk"], 15)
    # ...and ingest goes on: the kiosk's own attempt is stored after it.
    honest = _attempt("kiosk-forge", sha, quiz_id, editor["code"], answers=RIGHT,
                      claimed=(4, 4, 100.0, True))
    kiosk.publish(device_topic("kiosk-forge", Channel.EVENT), encode(honest), qos=1)
    assert ingestor.wait_for(lambda c: c["event"] > before["event"], 15)
    center.wait_for(lambda: _kiosk_attempts(api), timeout=15)
    assert [r["device_id"] for r in _kiosk_attempts(api)] == ["kiosk-forge"]
    assert ok(api.get(f"/api/v1/training/quizzes/{quiz_id}/attempts",
                      headers=as_officer(editor)))["count"] == 1
