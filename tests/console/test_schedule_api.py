"""Scheduling over the API with scope: a real center and broker, users of the seeded tree."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from control_center.models import AuditEntry, Distribution, Schedule
from tests.center.helpers import ok, ready_media
from tests.console.conftest import Tree
from tests.console.schedule_support import approved_audio, daily, schedule_count, today_local
from tests.support.audio import make_tone

pytestmark = pytest.mark.integration


def _ids(api_items: dict[str, object]) -> set[int]:
    items = api_items["items"]
    assert isinstance(items, list)
    return {item["id"] for item in items}


def test_commune_operator_schedules_only_inside_the_commune(tree: Tree, tmp_path: Path) -> None:
    op_a, op_b, prov_op = tree.api_as("op_a"), tree.api_as("op_b"), tree.api_as("prov_op")
    unit_a, unit_b = tree.units["a"]["id"], tree.units["b"]["id"]
    bulletin = approved_audio(tree, tmp_path, author="op_a", approver="appr_a",
                              title="Lịch tiêm chủng xã A", seconds=1)
    bid = bulletin["id"]
    before = schedule_count(tree)
    r = op_a.post("/api/v1/schedules", json=daily(bid, 6, 0, unit_ids=[unit_b]))
    assert (r.status_code, r.json()["detail"]) == (404, f"unit {unit_b} does not exist")
    r = op_a.post("/api/v1/schedules", json=daily(bid, 6, 0, device_ids=["loa-b1"]))
    assert (r.status_code, r.json()["detail"]) == (404, "device 'loa-b1' does not exist")
    r = op_a.post("/api/v1/schedules",
                  json=daily(bid, 6, 0, unit_ids=[tree.units["province"]["id"]]))
    assert r.status_code == 404
    r = tree.api_as("tech_a").post("/api/v1/schedules", json=daily(bid, 6, 0, unit_ids=[unit_a]))
    assert r.status_code == 403 and "schedule" in r.json()["detail"]
    assert schedule_count(tree) == before  # nothing half-saved

    mine = ok(op_a.post("/api/v1/schedules", json=daily(bid, 6, 0, unit_ids=[unit_a])))
    assert mine["device_ids"] == ["loa-a1", "loa-a2"] and mine["next_instants"]
    with tree.center.center.read_sessions() as session:
        row = session.get(Schedule, mine["id"])
        assert row is not None and (row.unit_id, row.created_by) == (unit_a, "op_a")
        assert session.scalar(select(AuditEntry.actor).where(
            AuditEntry.object_type == "schedule", AuditEntry.object_id == str(mine["id"]),
            AuditEntry.action == "create")) == "op_a"
    assert ok(op_a.get(f"/api/v1/bulletins/{bid}"))["status"] == "scheduled"

    # commune B's bulletin and schedule do not exist for commune A
    theirs_b = approved_audio(tree, tmp_path, author="op_b", approver="appr_b",
                              title="Tin xã B", seconds=1, freq=660)
    r = op_a.post("/api/v1/schedules", json=daily(theirs_b["id"], 7, 0, unit_ids=[unit_a]))
    assert (r.status_code, r.json()["detail"]) == (
        404, f"bulletin {theirs_b['id']} does not exist")
    sched_b = ok(op_b.post("/api/v1/schedules",
                           json=daily(theirs_b["id"], 7, 0, device_ids=["loa-b1"])))
    r = op_a.get(f"/api/v1/schedules/{sched_b['id']}")
    assert (r.status_code, r.json()["detail"]) == (404, f"schedule {sched_b['id']} does not exist")
    assert op_a.delete(f"/api/v1/schedules/{sched_b['id']}").status_code == 404
    assert op_a.patch(f"/api/v1/schedules/{sched_b['id']}",
                      json={"rrule": "FREQ=DAILY;BYHOUR=8"}).status_code == 404
    assert _ids(ok(op_a.get("/api/v1/schedules"))) == {mine["id"]}
    assert _ids(ok(op_b.get("/api/v1/schedules"))) == {sched_b["id"]}
    assert _ids(ok(prov_op.get("/api/v1/schedules"))) >= {mine["id"], sched_b["id"]}

    # a province schedule placed on commune A only: A sees it but may not cancel it
    prov = approved_audio(tree, tmp_path, author="prov_op", approver="prov_appr",
                          title="Tin của tỉnh", seconds=1, freq=880)
    placed = ok(prov_op.post("/api/v1/schedules",
                             json=daily(prov["id"], 9, 0, unit_ids=[unit_a])))
    assert ok(op_a.get(f"/api/v1/schedules/{placed['id']}"))["id"] == placed["id"]
    r = op_a.delete(f"/api/v1/schedules/{placed['id']}")
    assert r.status_code == 403 and "upper level" in r.json()["detail"]
    assert op_b.get(f"/api/v1/schedules/{placed['id']}").status_code == 404

    # cancelling its only schedule returns the bulletin to "approved"
    cancelled = ok(op_a.delete(f"/api/v1/schedules/{mine['id']}"))
    assert cancelled["cancelled_at"] is not None
    assert ok(op_a.get(f"/api/v1/bulletins/{bid}"))["status"] == "approved"


def test_a_draft_bulletin_cannot_be_scheduled(tree: Tree, tmp_path: Path) -> None:
    op_a = tree.api_as("op_a")
    draft = ok(op_a.post("/api/v1/bulletins", json={
        "title": "Bản nháp", "kind": "text", "text": "Chiều nay họp thôn lúc 14 giờ."}))
    body = daily(draft["id"], 6, 0, unit_ids=[tree.units["a"]["id"]])
    before = schedule_count(tree)
    r = op_a.post("/api/v1/schedules", json=body)
    assert (r.status_code, r.json()["detail"]) == (
        409, "bản tin chưa được duyệt / the bulletin is not approved yet (status: draft)")
    r = op_a.post("/api/v1/schedules/check", json=body)
    assert r.status_code == 409
    ok(op_a.post(f"/api/v1/bulletins/{draft['id']}/submit"), 200)
    r = op_a.post("/api/v1/schedules", json=body)
    assert r.status_code == 409 and "status: submitted" in r.json()["detail"]
    assert schedule_count(tree) == before
    ok(tree.api_as("appr_a").post(f"/api/v1/bulletins/{draft['id']}/approve"), 200)
    ok(op_a.post("/api/v1/schedules", json=body))
    assert schedule_count(tree) == before + 1


def test_check_finds_the_0600_clash_on_loa_a1_and_none_at_0630(
    tree: Tree, tmp_path: Path,
) -> None:
    op_a = tree.api_as("op_a")
    ten_s = approved_audio(tree, tmp_path, author="op_a", approver="appr_a",
                           title="Tin 10 giây", seconds=10)
    three_s = approved_audio(tree, tmp_path, author="op_a", approver="appr_a",
                             title="Tin 3 giây", seconds=3, freq=550)
    assert 9_900 <= ten_s["delivery"]["duration_ms"] <= 10_100
    first = ok(op_a.post("/api/v1/schedules",
                         json=daily(ten_s["id"], 6, 0, device_ids=["loa-a1"])))
    before = schedule_count(tree)
    unit_a = [tree.units["a"]["id"]]
    clash = ok(op_a.post("/api/v1/schedules/check",
                         json=daily(three_s["id"], 6, 0, unit_ids=unit_a)), 200)
    assert clash["devices"] == ["loa-a1", "loa-a2"]
    conflicts = clash["conflicts"]
    assert len(conflicts) == 14  # every day of the next two weeks
    assert {c["device_id"] for c in conflicts} == {"loa-a1"}
    assert {(c["other_schedule_id"], c["other_title"]) for c in conflicts} == {
        (first["id"], "Tin 10 giây")}
    assert all(c["start"].endswith("T06:00:00+07:00") for c in conflicts)
    assert all(2.9 <= c["overlap_s"] <= 3.1 for c in conflicts)  # the 3 s bulletin, inside
    later = ok(op_a.post("/api/v1/schedules/check",
                         json=daily(three_s["id"], 6, 30, unit_ids=unit_a)), 200)
    assert later == {"devices": ["loa-a1", "loa-a2"], "conflicts": []}
    assert schedule_count(tree) == before  # the check writes nothing
    r = op_a.post("/api/v1/schedules/check",
                  json=daily(three_s["id"], 6, 0, device_ids=["loa-b1"]))
    assert r.status_code == 404  # same scope rules as saving


def test_commune_schedules_a_bulletin_sent_down_to_it(tree: Tree, tmp_path: Path) -> None:
    prov_op, op_a, op_b = tree.api_as("prov_op"), tree.api_as("op_a"), tree.api_as("op_b")
    unit_a = tree.units["a"]["id"]
    prov = approved_audio(tree, tmp_path, author="prov_op", approver="prov_appr",
                          title="Thông báo của tỉnh", seconds=1)
    body = daily(prov["id"], 17, 0, unit_ids=[unit_a])
    r = op_a.post("/api/v1/schedules", json=body)
    assert r.status_code == 404  # not sent to commune A yet
    ok(prov_op.post(f"/api/v1/bulletins/{prov['id']}/publish", json={"unit_ids": [unit_a]}))
    created = ok(op_a.post("/api/v1/schedules", json=body))
    assert created["device_ids"] == ["loa-a1", "loa-a2"]
    with tree.center.center.read_sessions() as session:
        row = session.scalar(select(Distribution).where(
            Distribution.bulletin_id == prov["id"], Distribution.unit_id == unit_a))
        assert row is not None
        assert (row.state.value, row.schedule_id, row.decided_by) == (
            "scheduled", created["id"], "op_a")
    r = op_b.post("/api/v1/schedules", json=daily(prov["id"], 17, 0,
                                                   unit_ids=[tree.units["b"]["id"]]))
    assert r.status_code == 404  # never sent to commune B


def test_too_dense_rules_are_refused_on_every_path_that_makes_a_schedule(
    tree: Tree, tmp_path: Path,
) -> None:
    """Sending down with a slot and accepting from the inbox make schedules too: the same
    spacing rule (at least a minute, at least the bulletin's length) refuses them."""
    prov_op, prov_appr, op_a = (tree.api_as(n) for n in ("prov_op", "prov_appr", "op_a"))
    province, unit_a = tree.units["province"]["id"], tree.units["a"]["id"]
    media = ready_media(prov_op, make_tone(tmp_path / "dense.wav", 3, 610))
    dense = {"rrule": "FREQ=MINUTELY;BYSECOND=0,15,30,45",
             "valid_from": today_local().isoformat()}
    before = schedule_count(tree)

    urgent = ok(prov_op.post("/api/v1/bulletins", json={
        "title": "Cảnh báo lũ", "priority": "priority", "media_sha256": media["sha256"]}))
    ok(prov_op.post(f"/api/v1/bulletins/{urgent['id']}/submit"), 200)
    ok(prov_appr.post(f"/api/v1/bulletins/{urgent['id']}/approve"), 200)
    r = prov_op.post(f"/api/v1/bulletins/{urgent['id']}/publish",
                     json={"unit_ids": [province], "slot": dense})
    assert r.status_code == 422, r.text
    assert "lịch lặp quá dày" in r.json()["detail"]
    assert "occurrences 15 s apart" in r.json()["detail"]
    assert ok(prov_op.get(f"/api/v1/bulletins/{urgent['id']}/distribution"))["communes"] == []

    normal = approved_audio(tree, tmp_path, author="prov_op", approver="prov_appr",
                            title="Tin thường của tỉnh", seconds=3, freq=620)
    ok(prov_op.post(f"/api/v1/bulletins/{normal['id']}/publish", json={"unit_ids": [unit_a]}))
    (item,) = [d for d in ok(op_a.get("/api/v1/distributions", params={
        "state": "inbox", "bulletin_id": normal["id"]}))["items"]]
    r = op_a.post(f"/api/v1/distributions/{item['id']}/accept", json={"slot": dense})
    assert r.status_code == 422 and "occurrences 15 s apart" in r.json()["detail"]
    assert schedule_count(tree) == before
    ok(op_a.post(f"/api/v1/distributions/{item['id']}/accept", json={"slot": {
        "rrule": "FREQ=DAILY;BYHOUR=7;BYMINUTE=0;BYSECOND=0",
        "valid_from": today_local().isoformat()}}), 200)
    assert schedule_count(tree) == before + 1
