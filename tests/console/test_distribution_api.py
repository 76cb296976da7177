"""Content down the tree over the API: the province publishes, communes decide, devices play.

Real center, broker and agents (simulated loudspeakers); plays are counted from the proof of
play the agents report.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from control_center.models import Schedule
from edge_agent.agent import Agent
from tests.center.helpers import ok, ready_media
from tests.console.conftest import Tree
from tests.console.test_workflow_api import wait_manifest
from tests.support.audio import make_tone
from tests.support.waiting import poll

pytestmark = pytest.mark.integration


def approved_bulletin(tree: Tree, wav: Path, *, priority: str = "normal",
                      title: str = "Thông báo của tỉnh") -> dict[str, Any]:
    """A province operator's audio bulletin, approved by the province approver."""
    prov_op = tree.api_as("prov_op")
    media = ready_media(prov_op, wav)
    bid = ok(prov_op.post("/api/v1/bulletins", json={
        "title": title, "priority": priority, "media_sha256": media["sha256"]}))["id"]
    ok(prov_op.post(f"/api/v1/bulletins/{bid}/submit"), 200)
    return ok(tree.api_as("prov_appr").post(f"/api/v1/bulletins/{bid}/approve"), 200)


def inbox(api: httpx.Client) -> list[dict[str, Any]]:
    return ok(api.get("/api/v1/distributions", params={"state": "inbox"}))["items"]


def schedule_targets(tree: Tree, bulletin_id: int) -> dict[int, list[int | None]]:
    with tree.center.center.read_sessions() as session:
        rows = session.scalars(select(Schedule).where(Schedule.bulletin_id == bulletin_id))
        return {s.id: [t.unit_id for t in s.targets] for s in rows}


def test_normal_bulletin_waits_in_each_inbox_and_the_province_sees_the_decisions(
    tree: Tree, tmp_path: Path,
) -> None:
    devices = tree.fleet("loa-a1", "loa-a2", "loa-b1")
    bulletin = approved_bulletin(tree, make_tone(tmp_path / "tinh.wav", 1.0, 440))
    bid, prov_op = bulletin["id"], tree.api_as("prov_op")
    op_a, op_b = tree.api_as("op_a"), tree.api_as("op_b")
    assert op_a.get(f"/api/v1/bulletins/{bid}").status_code == 404  # not sent yet

    r = prov_op.post(f"/api/v1/bulletins/{bid}/publish", json={
        "unit_ids": [tree.units["province"]["id"]],
        "slot": {"start_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}})
    assert r.status_code == 422 and "inbox" in r.json()["detail"]  # normal: no slot
    published = ok(prov_op.post(f"/api/v1/bulletins/{bid}/publish",
                                json={"unit_ids": [tree.units["province"]["id"]]}))
    assert sorted(c["unit_name"] for c in published["communes"]) == ["Xã A", "Xã B"]
    assert {c["state"] for c in published["communes"]} == {"inbox"}
    assert schedule_targets(tree, bid) == {}  # nothing scheduled: the communes decide
    r = prov_op.post(f"/api/v1/bulletins/{bid}/publish",
                     json={"unit_ids": [tree.units["province"]["id"]]})
    assert r.status_code == 409  # every commune already has it

    (item_a,) = inbox(op_a)
    (item_b,) = inbox(op_b)
    assert (item_a["bulletin_id"], item_a["unit_name"], item_a["from_unit_name"]) == (
        bid, "Xã A", "Tỉnh P")
    assert item_b["unit_name"] == "Xã B"
    # the commune now sees the bulletin (sent to it) but may not edit it
    assert ok(op_a.get(f"/api/v1/bulletins/{bid}"))["title"] == "Thông báo của tỉnh"
    assert op_a.patch(f"/api/v1/bulletins/{bid}", json={"title": "x"}).status_code == 403
    # a commune cannot decide for the other one
    assert op_a.post(f"/api/v1/distributions/{item_b['id']}/decline",
                     json={"note": "x"}).status_code == 404

    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
    accepted = ok(op_a.post(f"/api/v1/distributions/{item_a['id']}/accept",
                            json={"slot": {"start_at": start.isoformat()}}), 200)
    assert (accepted["state"], accepted["decided_by"]) == ("scheduled", "op_a")
    assert schedule_targets(tree, bid) == {accepted["schedule_id"]: [tree.units["a"]["id"]]}
    r = op_b.post(f"/api/v1/distributions/{item_b['id']}/decline", json={"note": ""})
    assert r.status_code == 422
    declined = ok(op_b.post(f"/api/v1/distributions/{item_b['id']}/decline",
                            json={"note": "Xã đang có tin khẩn về lũ"}), 200)
    assert declined["state"] == "declined"
    assert inbox(op_a) == [] and inbox(op_b) == []
    assert ok(prov_op.get(f"/api/v1/bulletins/{bid}"))["status"] == "scheduled"

    # commune A's speakers play it, commune B's do not
    for device_id in ("loa-a1", "loa-a2"):
        assert devices[device_id].sink.wait_for(lambda r: len(r) == 1 and r[0].completed, 20)
    assert devices["loa-b1"].sink.records == []

    def status() -> dict[str, dict[str, Any]]:
        report = ok(prov_op.get(f"/api/v1/bulletins/{bid}/distribution"))
        return {c["unit_name"]: c for c in report["communes"]}

    rows = poll(status, lambda s: s["Xã A"]["plays"]["completed"] == 2, 15,
                "two completed plays in commune A")
    assert (rows["Xã A"]["state"], rows["Xã A"]["schedule_id"], rows["Xã A"]["devices"]) == (
        "scheduled", accepted["schedule_id"], 2)
    assert rows["Xã A"]["decided_by"] == "op_a" and rows["Xã A"]["plays"]["failed"] == 0
    assert (rows["Xã B"]["state"], rows["Xã B"]["note"]) == ("declined",
                                                             "Xã đang có tin khẩn về lũ")
    assert rows["Xã B"]["plays"] == {"scheduled": 0, "started": 0, "completed": 0,
                                     "interrupted": 0, "failed": 0}
    # a commune sees only its own row
    own = ok(op_b.get(f"/api/v1/bulletins/{bid}/distribution"))
    assert [c["unit_name"] for c in own["communes"]] == ["Xã B"]


def test_priority_bulletin_is_scheduled_everywhere_and_the_commune_ranks_it(
    tree: Tree, tmp_path: Path,
) -> None:
    agent: Agent = tree.fleet("loa-a1")["loa-a1"].agent
    first = approved_bulletin(tree, make_tone(tmp_path / "p1.wav", 1.0, 600),
                              priority="priority", title="Cảnh báo nắng nóng")
    second = approved_bulletin(tree, make_tone(tmp_path / "p2.wav", 1.0, 700),
                               priority="priority", title="Phòng chống dịch")
    prov_op, op_a = tree.api_as("prov_op"), tree.api_as("op_a")
    province = tree.units["province"]["id"]
    r = prov_op.post(f"/api/v1/bulletins/{first['id']}/publish", json={"unit_ids": [province]})
    assert r.status_code == 422 and "slot" in r.json()["detail"]
    slot = {"start_at": (datetime.now(UTC) + timedelta(hours=2)).replace(
        microsecond=0).isoformat()}
    for bulletin in (first, second):
        report = ok(prov_op.post(f"/api/v1/bulletins/{bulletin['id']}/publish",
                                 json={"unit_ids": [province], "slot": slot}))
        assert {c["unit_name"]: c["state"] for c in report["communes"]} == {
            "Xã A": "scheduled", "Xã B": "scheduled"}
        targets = sorted(t for ts in schedule_targets(tree, bulletin["id"]).values() for t in ts)
        assert targets == sorted([tree.units["a"]["id"], tree.units["b"]["id"]])
    assert inbox(op_a) == []  # nothing to decide, only to rank
    mine = {d["bulletin_id"]: d for d in ok(op_a.get("/api/v1/distributions"))["items"]}
    assert set(mine) == {first["id"], second["id"]}

    ranked = ok(op_a.post(f"/api/v1/distributions/{mine[second['id']]['id']}/rank",
                          json={"rank": 1}), 200)
    ok(op_a.post(f"/api/v1/distributions/{mine[first['id']]['id']}/rank", json={"rank": 2}), 200)
    assert ranked["rank"] == 1
    orders = {i["bulletin_id"]: i.get("order", 0) for i in ok(tree.center.api.get(
        "/api/v1/devices/loa-a1/manifest"))["manifest"]["items"]}
    assert orders == {second["id"]: 1, first["id"]: 2}
    wait_manifest(agent, lambda a: a.manifest is not None and sorted(
        (i.order, i.bulletin_id) for i in a.manifest.items) == [(1, second["id"]),
                                                                (2, first["id"])],
        "the ranks on loa-a1")
    # commune B's manifest is untouched by A's ranking
    b_items = ok(tree.center.api.get("/api/v1/devices/loa-b1/manifest"))["manifest"]["items"]
    assert all("order" not in i for i in b_items) and len(b_items) == 2
    r = op_a.post(f"/api/v1/distributions/{mine[first['id']]['id']}/rank",
                  json={"rank": 10_001})
    assert r.status_code == 422


def test_emergencies_and_unapproved_bulletins_are_not_sent_down(tree: Tree) -> None:
    prov_op = tree.api_as("prov_op")
    province = tree.units["province"]["id"]
    draft = ok(prov_op.post("/api/v1/bulletins", json={"title": "Nháp", "kind": "text",
                                                       "text": "Chưa duyệt"}))
    r = prov_op.post(f"/api/v1/bulletins/{draft['id']}/publish", json={"unit_ids": [province]})
    assert r.status_code == 409 and "approved" in r.json()["detail"]
    urgent = ok(tree.center.api.post("/api/v1/bulletins", json={
        "title": "Bão số 3", "kind": "text", "text": "Sơ tán ngay", "priority": "emergency"}))
    r = tree.center.api.post(f"/api/v1/bulletins/{urgent['id']}/publish",
                             json={"unit_ids": [province]})
    assert r.status_code == 422 and "emergency screen" in r.json()["detail"]
    # an operator of commune A cannot publish to commune B (outside its subtree)
    op_a = tree.api_as("op_a")
    own = ok(op_a.post("/api/v1/bulletins", json={"title": "Tin", "kind": "text",
                                                  "text": "Nội dung"}))
    ok(op_a.post(f"/api/v1/bulletins/{own['id']}/submit"), 200)
    ok(tree.api_as("appr_a").post(f"/api/v1/bulletins/{own['id']}/approve"), 200)
    r = op_a.post(f"/api/v1/bulletins/{own['id']}/publish",
                  json={"unit_ids": [tree.units["b"]["id"]]})
    assert r.status_code == 404 and "unit" in r.json()["detail"]
    # its own commune has no commune below it
    r = op_a.post(f"/api/v1/bulletins/{own['id']}/publish",
                  json={"unit_ids": [tree.units["a"]["id"]]})
    assert r.status_code == 409 and "no commune below" in r.json()["detail"]
    # approvers may look but not publish (no schedule permission)
    r = tree.api_as("prov_appr").post(f"/api/v1/bulletins/{draft['id']}/publish",
                                      json={"unit_ids": [province]})
    assert r.status_code == 403
