"""The approval workflow over the API, with a real center, broker and agents.

draft → submitted → approved (by someone else) or rejected; a user's edit sends an approved
bulletin back to draft and its items leave the device manifests until it is approved again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from control_center.models import AuditEntry
from edge_agent.agent import Agent
from tests.center.helpers import ok, ready_media
from tests.console.conftest import Tree
from tests.support.audio import make_tone

pytestmark = pytest.mark.integration


def draft(api: httpx.Client, title: str = "Thông báo lịch tiêm chủng",
          **extra: Any) -> dict[str, Any]:
    body = {"title": title, "kind": "text", "text": "Sáng thứ Hai tiêm chủng tại trạm y tế xã.",
            **extra}
    return ok(api.post("/api/v1/bulletins", json=body))


def history(tree: Tree, bulletin_id: int) -> list[tuple[str, str]]:
    with tree.center.center.read_sessions() as session:
        rows = session.execute(
            select(AuditEntry.action, AuditEntry.actor)
            .where(AuditEntry.object_type == "bulletin",
                   AuditEntry.object_id == str(bulletin_id))
            .order_by(AuditEntry.id))
        return [(a, who) for a, who in rows]


def wait_manifest(agent: Agent, predicate: Callable[[Agent], bool], what: str) -> None:
    with agent.manifest_changed:
        assert agent.manifest_changed.wait_for(lambda: predicate(agent), 15), what


def test_draft_is_submitted_then_approved_by_someone_else(tree: Tree) -> None:
    op_a, appr_a = tree.api_as("op_a"), tree.api_as("appr_a")
    created = draft(op_a)
    assert (created["status"], created["unit_id"], created["created_by"]) == (
        "draft", tree.units["a"]["id"], "op_a")
    bid = created["id"]
    r = appr_a.post(f"/api/v1/bulletins/{bid}/approve")
    assert r.status_code == 409 and "draft" in r.json()["detail"]  # not submitted yet
    r = op_a.post(f"/api/v1/bulletins/{bid}/approve")
    assert r.status_code == 403 and "approve" in r.json()["detail"]  # operators do not approve
    r = tree.api_as("tech_a").post("/api/v1/bulletins", json={"title": "x", "kind": "text",
                                                              "text": "y"})
    assert r.status_code == 403  # a technician writes no bulletins

    submitted = ok(op_a.post(f"/api/v1/bulletins/{bid}/submit", json={"note": "Nhờ duyệt"}),
                   200)
    assert (submitted["status"], submitted["submitted_by"]) == ("submitted", "op_a")
    approved = ok(appr_a.post(f"/api/v1/bulletins/{bid}/approve", json={"note": "Đồng ý"}), 200)
    assert (approved["status"], approved["approved_by"]) == ("approved", "appr_a")
    assert approved["approved_at"] is not None and approved["review_note"] == "Đồng ý"
    assert history(tree, bid) == [("create", "op_a"), ("submit", "op_a"), ("approve", "appr_a")]
    # saving the same values changes nothing: still approved
    same = ok(op_a.patch(f"/api/v1/bulletins/{bid}", json={"title": created["title"]}))
    assert same["status"] == "approved"
    # the province sees its communes' bulletins; the status filter works
    listed = ok(tree.api_as("prov_appr").get("/api/v1/bulletins", params={"status": "approved"}))
    assert [b["id"] for b in listed["items"]] == [bid]
    assert ok(op_a.get("/api/v1/bulletins", params={"status": "draft"}))["count"] == 0


def test_nobody_approves_their_own_bulletin(tree: Tree) -> None:
    admin = tree.api_as("admin")  # holds every permission, including approve
    bid = draft(admin, "Lịch cắt điện tuần này")["id"]
    ok(admin.post(f"/api/v1/bulletins/{bid}/submit"), 200)
    r = admin.post(f"/api/v1/bulletins/{bid}/approve")
    assert r.status_code == 403
    assert "chính mình" in r.json()["detail"] and "your own bulletin" in r.json()["detail"]
    assert ok(admin.get(f"/api/v1/bulletins/{bid}"))["status"] == "submitted"
    # someone else who only submitted it cannot either
    bid2 = draft(tree.api_as("prov_op"), "Tin thứ hai")["id"]
    ok(admin.post(f"/api/v1/bulletins/{bid2}/submit"), 200)
    assert admin.post(f"/api/v1/bulletins/{bid2}/approve").status_code == 403
    approved = ok(tree.api_as("prov_appr").post(f"/api/v1/bulletins/{bid}/approve"), 200)
    assert approved["status"] == "approved"


def test_other_communes_bulletins_do_not_exist(tree: Tree) -> None:
    op_b, appr_a, op_a = tree.api_as("op_b"), tree.api_as("appr_a"), tree.api_as("op_a")
    bid = draft(op_b, "Tin của xã B")["id"]
    ok(op_b.post(f"/api/v1/bulletins/{bid}/submit"), 200)
    assert op_a.get(f"/api/v1/bulletins/{bid}").status_code == 404
    assert op_a.patch(f"/api/v1/bulletins/{bid}", json={"title": "x"}).status_code == 404
    assert op_a.post(f"/api/v1/bulletins/{bid}/submit").status_code == 404
    assert bid not in [b["id"] for b in ok(op_a.get("/api/v1/bulletins"))["items"]]
    r = appr_a.post(f"/api/v1/bulletins/{bid}/approve")
    assert r.status_code == 404 and "does not exist" in r.json()["detail"]
    assert ok(tree.api_as("op_b").get(f"/api/v1/bulletins/{bid}"))["status"] == "submitted"


def test_reject_needs_a_reason_and_the_author_resubmits(tree: Tree) -> None:
    op_a, appr_a = tree.api_as("op_a"), tree.api_as("appr_a")
    bid = draft(op_a, "Tin có lỗi chính tả")["id"]
    ok(op_a.post(f"/api/v1/bulletins/{bid}/submit"), 200)
    r = appr_a.post(f"/api/v1/bulletins/{bid}/reject", json={"note": "  "})
    assert r.status_code == 422 and "reason" in r.json()["detail"]
    rejected = ok(appr_a.post(f"/api/v1/bulletins/{bid}/reject",
                              json={"note": "Sửa lỗi chính tả ở câu hai"}), 200)
    assert (rejected["status"], rejected["review_note"]) == ("rejected",
                                                             "Sửa lỗi chính tả ở câu hai")
    ok(op_a.patch(f"/api/v1/bulletins/{bid}", json={"title": "Tin đã sửa lỗi"}))
    resubmitted = ok(op_a.post(f"/api/v1/bulletins/{bid}/submit"), 200)
    assert resubmitted["status"] == "submitted"
    assert [a for a, _ in history(tree, bid)] == ["create", "submit", "reject", "update",
                                                  "submit"]


def test_editing_an_approved_bulletin_takes_it_off_the_air_until_approved_again(
    tree: Tree, tmp_path: Path,
) -> None:
    op_a, appr_a = tree.api_as("op_a"), tree.api_as("appr_a")
    agent = tree.fleet("loa-a1")["loa-a1"].agent
    media = ready_media(op_a, make_tone(tmp_path / "tiem-chung.wav", 1.0, 523))
    bid = ok(op_a.post("/api/v1/bulletins", json={
        "title": "Tiêm chủng", "priority": "normal", "media_sha256": media["sha256"]}))["id"]
    ok(op_a.post(f"/api/v1/bulletins/{bid}/submit"), 200)
    ok(appr_a.post(f"/api/v1/bulletins/{bid}/approve"), 200)
    start = datetime.now(UTC) + timedelta(minutes=30)
    ok(tree.center.api.post("/api/v1/schedules", json={
        "bulletin_id": bid, "start_at": start.isoformat(),
        "targets": {"unit_ids": [tree.units["a"]["id"]]}}))

    def items_of(device_id: str) -> list[dict[str, Any]]:
        body = ok(tree.center.api.get(f"/api/v1/devices/{device_id}/manifest"))
        return [i for i in body["manifest"]["items"] if i["bulletin_id"] == bid]

    assert [i["title"] for i in items_of("loa-a1")] == ["Tiêm chủng"]
    wait_manifest(agent, lambda a: bool(a.manifest and a.manifest.items), "the item on loa-a1")

    edited = ok(op_a.patch(f"/api/v1/bulletins/{bid}", json={"title": "Tiêm chủng (sửa)"}))
    assert (edited["status"], edited["approved_by"]) == ("draft", None)
    assert items_of("loa-a1") == [] and items_of("loa-a2") == []
    wait_manifest(agent, lambda a: a.manifest is not None and a.manifest.items == (),
                  "loa-a1 dropping the item of the draft")
    assert ("back_to_draft", "op_a") in history(tree, bid)

    ok(op_a.post(f"/api/v1/bulletins/{bid}/submit"), 200)
    again = ok(appr_a.post(f"/api/v1/bulletins/{bid}/approve"), 200)
    assert again["status"] == "scheduled"  # its schedule is still there
    assert [i["title"] for i in items_of("loa-a1")] == ["Tiêm chủng (sửa)"]
    wait_manifest(agent, lambda a: bool(a.manifest and a.manifest.items
                                        and a.manifest.items[0].title == "Tiêm chủng (sửa)"),
                  "the approved edit on loa-a1")


def test_the_api_token_needs_no_approval(tree: Tree) -> None:
    api = tree.center.api
    created = draft(api, "Tin hệ thống")
    assert (created["status"], created["unit_id"]) == ("approved", None)
    # it belongs to no commune: a commune user does not see it
    assert tree.api_as("op_a").get(f"/api/v1/bulletins/{created['id']}").status_code == 404
    edited = ok(api.patch(f"/api/v1/bulletins/{created['id']}", json={"title": "Tin hệ thống 2"}))
    assert edited["status"] == "approved"
