"""Quizzes, assignments and unit reports through the real center's API."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

import pytest

from tests.support.center import CenterHandle
from tests.training.helpers import as_officer, folder_zip, import_sample, officer, ok, unit

pytestmark = pytest.mark.integration

RIGHT = {"nam-cau-hoi": ["b"], "do-dai-cau": ["a"], "nhac-lai": ["a", "b"],
         "tin-khan-cap": ["b"]}


def _start(center: CenterHandle, quiz_id: int, o: dict[str, Any]) -> dict[str, Any]:
    return ok(center.api.post(f"/api/v1/training/quizzes/{quiz_id}/attempts",
                              headers=as_officer(o)))


def test_import_export_attempts_limits_and_report(center: CenterHandle) -> None:
    api = center.api
    course = import_sample(api)
    again = api.post("/api/v1/training/courses/import",
                     files={"file": ("c.zip", folder_zip(), "application/zip")})
    assert again.status_code == 200 and again.json()["changed"] is False
    exported = api.get(f"/api/v1/training/courses/{course['id']}/export")
    assert exported.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(exported.content)).namelist()
    assert "viet-ban-tin/quizzes/01-kiem-tra.yaml" in names
    assert "viet-ban-tin/media/so-do-ban-tin.png" in names
    bad = api.post("/api/v1/training/courses/import",
                   files={"file": ("c.zip", b"not a zip", "application/zip")})
    assert bad.status_code == 422

    province = unit(api, "province")
    commune_a, commune_b = unit(api, "commune", province), unit(api, "commune", province)
    editor_a = officer(api, commune_a)
    editor_b = officer(api, commune_b)
    officer(api, commune_a, role="technician")  # not reached by an editors' assignment
    ok(api.post("/api/v1/training/assignments", json={
        "course_id": course["id"], "unit_id": province["id"], "role": "editor",
        "due_at": "2026-12-31T10:00:00+07:00"}))
    quiz_id = course["quizzes"][0]["id"]

    first = _start(center, quiz_id, editor_a)
    assert first["number"] == 1 and len(first["questions"]) == 4
    assert _start(center, quiz_id, editor_a)["id"] == first["id"]  # the open attempt resumes
    wrong = dict(RIGHT, **{"do-dai-cau": ["b"], "nhac-lai": ["a"]})
    result = ok(api.post(f"/api/v1/training/attempts/{first['id']}/submit",
                         headers=as_officer(editor_a), json={"answers": wrong}))
    assert (result["score"], result["passed"], result["correct"]) == (50.0, False, 2)
    marked = {m["key"]: m for m in result["marked"]}
    assert marked["nhac-lai"]["correct"] is False and marked["nhac-lai"]["answer"] == ["a", "b"]
    assert marked["nhac-lai"]["explanation"].startswith("Thời gian và địa điểm")
    twice = api.post(f"/api/v1/training/attempts/{first['id']}/submit",
                     headers=as_officer(editor_a), json={"answers": RIGHT})
    assert twice.status_code == 409
    other = api.post(f"/api/v1/training/attempts/{first['id']}/submit",
                     headers=as_officer(editor_b), json={"answers": RIGHT})
    assert other.status_code == 404  # someone else's attempt does not exist for them

    second = _start(center, quiz_id, editor_a)
    assert second["number"] == 2
    result = ok(api.post(f"/api/v1/training/attempts/{second['id']}/submit",
                         headers=as_officer(editor_a), json={"answers": RIGHT}))
    assert (result["score"], result["passed"]) == (100.0, True)
    after_pass = api.post(f"/api/v1/training/quizzes/{quiz_id}/attempts",
                          headers=as_officer(editor_a))
    assert after_pass.status_code == 409

    for _ in range(3):  # editor_b uses up the attempt limit (3) failing
        attempt = _start(center, quiz_id, editor_b)
        ok(api.post(f"/api/v1/training/attempts/{attempt['id']}/submit",
                    headers=as_officer(editor_b), json={"answers": {}}))
    limit = api.post(f"/api/v1/training/quizzes/{quiz_id}/attempts",
                     headers=as_officer(editor_b))
    assert limit.status_code == 409 and "attempt limit" in limit.json()["detail"]
    kept = ok(api.get(f"/api/v1/training/quizzes/{quiz_id}/attempts",
                      headers=as_officer(editor_b)))
    assert [a["score"] for a in kept["items"]] == [0.0, 0.0, 0.0]

    rows = ok(api.get("/api/v1/training/reports", params={"unit_id": province["id"]}))["items"]
    total = rows[0]
    assert (total["unit_id"], total["assigned"], total["started"], total["completed"],
            total["passed"], total["average_score"]) == (province["id"], 2, 2, 0, 1, 50.0)
    per_unit = {r["unit_id"]: r for r in rows[1:]}
    assert per_unit[commune_a["id"]]["passed"] == 1
    assert per_unit[commune_a["id"]]["average_score"] == 100.0
    assert per_unit[commune_b["id"]]["passed"] == 0
    csv_text = api.get("/api/v1/training/reports.csv",
                       params={"unit_id": province["id"]}).text.lstrip("\ufeff")
    table = list(csv.DictReader(io.StringIO(csv_text)))
    assert table[0]["assigned"] == "2" and table[0]["passed"] == "1"
    assert table[0]["course_title"] == "Viết bản tin phát thanh cơ sở"


def test_shuffle_is_seeded_per_attempt(center: CenterHandle) -> None:
    course = import_sample(center.api)
    o = officer(center.api, unit(center.api, "commune"))
    orders = set()
    quiz_id = course["quizzes"][0]["id"]
    for _ in range(3):
        attempt = _start(center, quiz_id, o)
        order = tuple((q["key"], tuple(c["id"] for c in q["choices"]))
                      for q in attempt["questions"])
        assert _start(center, quiz_id, o)["questions"] == attempt["questions"]  # stable
        assert sorted(k for k, _ in order) == sorted(RIGHT)
        orders.add(order)
        ok(center.api.post(f"/api/v1/training/attempts/{attempt['id']}/submit",
                           headers=as_officer(o), json={"answers": {}}))
    assert len(orders) > 1  # 3 seeds drawing the same order of 4 questions: ~1 in 10^6
