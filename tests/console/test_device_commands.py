"""Device commands never bypass approval or an emergency: a raw play_now is refused for every
role, play_bulletin plays only approved bulletins of the caller's subtree (an emergency one as
an emergency broadcast), stop and set_volume wait while an emergency plays, and every command,
sent or refused, is in the device's history, the audit log and the device page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.center.helpers import in_minutes, ok, ready_media
from tests.console.conftest import Tree, sign_in
from tests.support.audio import make_tone
from tests.support.browser import run_in_browser

pytestmark = pytest.mark.integration
WORD = "PHÁT KHẨN CẤP"
RAW_ITEM: dict[str, Any] = {
    "item_id": "c-raw", "bulletin_id": 1, "title": "Nội dung tự chọn", "priority": "emergency",
    "start_at": "2030-01-01T00:00:00Z",
    "content": {"type": "audio", "sha256": "b" * 64, "url": "http://elsewhere.example/x.ogg",
                "size": 1, "duration_ms": 1000, "mime": "audio/ogg"}}
RAW_PLAY_NOW: dict[str, Any] = {"type": "play_now", "item": RAW_ITEM}


def _command(api: httpx.Client, device_id: str, body: dict[str, Any]) -> httpx.Response:
    return api.post(f"/api/v1/devices/{device_id}/commands", json=body)


def _history(api: httpx.Client, device_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = ok(api.get(f"/api/v1/devices/{device_id}/commands"))["items"]
    return items


def _acks(tree: Tree, device_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = ok(tree.center.api.get("/api/v1/events", params={
        "type": "command_ack", "device_id": device_id}))["items"]
    return items


def _bulletin(tree: Tree, wav: Path, *, author: str, approver: str | None,
              priority: str = "normal", reject: bool = False) -> dict[str, Any]:
    """A bulletin of the author's unit, taken through the workflow: a draft (no approver),
    rejected, or approved."""
    api = tree.api_as(author)
    media = ready_media(api, wav)
    bulletin = ok(api.post("/api/v1/bulletins", json={
        "title": f"Bản tin {priority}", "priority": priority, "media_sha256": media["sha256"]}))
    if approver is None:
        return bulletin
    path = f"/api/v1/bulletins/{bulletin['id']}"
    ok(api.post(f"{path}/submit"), 200)
    if reject:
        return ok(tree.api_as(approver).post(f"{path}/reject", json={"note": "Sai nội dung"}),
                  200)
    return ok(tree.api_as(approver).post(f"{path}/approve"), 200)


def test_a_raw_play_now_is_refused_for_every_role_and_never_reaches_the_device(
        tree: Tree) -> None:
    devices = tree.fleet("loa-a1")
    op = tree.api_as("op_a")
    r = _command(op, "loa-a1", RAW_PLAY_NOW)
    assert r.status_code == 422, r.text
    assert "POST /api/v1/emergency" in r.json()["detail"]
    r = _command(tree.center.api, "loa-a1", RAW_PLAY_NOW)  # not even the system token
    assert r.status_code == 422 and "play_bulletin" in r.json()["detail"]
    assert _command(tree.api_as("tech_a"), "loa-a1", RAW_PLAY_NOW).status_code == 403
    sent = ok(_command(op, "loa-a1", {"type": "set_volume", "level": 40}), 202)
    acks = tree.center.wait_for(lambda: _acks(tree, "loa-a1"), timeout=20,
                                what="loa-a1 acknowledged the set_volume")
    # commands reach a device in order: the only one it ever received is the set_volume
    assert [a["payload"]["command_id"] for a in acks] == [sent["id"]]
    assert devices["loa-a1"].sink.records == []
    history = [h for h in _history(op, "loa-a1") if h["actor"] != "tech_a"]
    assert [(h["kind"], h["actor"], h["result"], h["flagged"]) for h in history] == [
        ("set_volume", "op_a", "sent", False), ("play_now", "api-token", "refused", True),
        ("play_now", "op_a", "refused", True)]
    assert all(h["command_id"] is None and h["priority"] == "emergency" for h in history[1:])


def test_play_bulletin_plays_only_approved_bulletins_of_the_callers_subtree(
        tree: Tree, tmp_path: Path) -> None:
    devices = tree.fleet("loa-a1")
    wav = make_tone(tmp_path / "t.wav", 1.0)
    op = tree.api_as("op_a")
    draft = _bulletin(tree, wav, author="op_a", approver=None)
    rejected = _bulletin(tree, wav, author="op_a", approver="appr_a", reject=True)
    foreign = _bulletin(tree, wav, author="op_b", approver="appr_b")
    approved = _bulletin(tree, wav, author="op_a", approver="appr_a")
    assert (draft["status"], rejected["status"], foreign["status"]) == (
        "draft", "rejected", "approved")
    for bulletin, status, words in ((draft, 409, "is draft, not approved"),
                                    (rejected, 409, "is rejected, not approved"),
                                    (foreign, 404, f"bulletin {foreign['id']} does not exist")):
        r = _command(op, "loa-a1", {"type": "play_bulletin", "bulletin_id": bulletin["id"]})
        assert r.status_code == status, r.text
        assert words in r.json()["detail"]
    body = ok(_command(op, "loa-a1", {"type": "play_bulletin", "bulletin_id": approved["id"]}),
              202)
    assert devices["loa-a1"].sink.wait_for(lambda records: records != [], 20)
    assert [(p.bulletin_id, p.priority) for p in devices["loa-a1"].sink.records] == [
        (approved["id"], "normal")]
    history = _history(op, "loa-a1")
    assert [(h["bulletin_id"], h["result"], h["flagged"]) for h in history] == [
        (approved["id"], "sent", False), (foreign["id"], "refused", True),
        (rejected["id"], "refused", True), (draft["id"], "refused", True)]
    assert history[0]["command_id"] == body["id"] and "draft" in history[3]["reason"]


def test_an_emergency_bulletin_is_played_on_a_device_only_as_an_emergency_broadcast(
        tree: Tree, tmp_path: Path) -> None:
    devices = tree.fleet("loa-a1")
    op = tree.api_as("op_a")
    bulletin = _bulletin(tree, make_tone(tmp_path / "t.wav", 1.0), author="op_a",
                         approver="appr_a", priority="emergency")
    asked = {"type": "play_bulletin", "bulletin_id": bulletin["id"]}
    r = _command(op, "loa-a1", asked)
    assert r.status_code == 422 and WORD in r.json()["detail"], r.text
    body = ok(_command(op, "loa-a1", {**asked, "confirm": WORD}), 202)
    assert body["emergency_id"] and body["status_url"] == (
        f"/api/v1/emergency/{body['emergency_id']}/status")
    item = body["action"]["item"]
    assert item["priority"] == "emergency" and item["item_id"].startswith("e-")
    status = tree.center.wait_for(lambda: (s := ok(op.get(body["status_url"])))["started"] and s,
                                  timeout=30, what="loa-a1 started the emergency")
    assert (status["kind"], status["targeted"], status["acknowledged"]) == ("send", 1, 1)
    assert [d["id"] for d in status["devices"]] == ["loa-a1"]
    assert devices["loa-a1"].sink.wait_for(
        lambda records: [(p.item_id, p.priority) for p in records] == [
            (item["item_id"], "emergency")], 20)
    send = ok(tree.center.api.get("/api/v1/audit", params={"action": "emergency_send"}))
    assert [e["id"] for e in send["items"]] == [body["emergency_id"]]
    history = _history(op, "loa-a1")
    assert [(h["result"], h["priority"], h["flagged"], h["emergency_id"]) for h in history] == [
        ("sent", "emergency", True, body["emergency_id"]), ("refused", "emergency", True, None)]


def test_stop_and_volume_are_refused_while_an_emergency_plays_unless_the_caller_may_send_one(
        tree: Tree, tmp_path: Path) -> None:
    devices = tree.fleet("loa-a1")
    admin, op = tree.api_as("admin"), tree.api_as("op_a")
    media = ready_media(admin, make_tone(tmp_path / "long.wav", 60.0))
    sent = ok(admin.post("/api/v1/emergency", json={
        "unit_ids": [tree.units["a"]["id"]], "media_sha256": media["sha256"],
        "title": "Cảnh báo lũ", "confirm": WORD}), 201)
    tree.center.wait_for(
        lambda: any(d["id"] == "loa-a1" and d["started_at"]
                    for d in ok(admin.get(sent["status_url"]))["devices"]),
        timeout=30, what="loa-a1 started the emergency")
    for body in ({"type": "stop"}, {"type": "set_volume", "level": 0}):
        r = _command(op, "loa-a1", body)
        assert r.status_code == 409, r.text
        detail = r.json()["detail"]
        assert f"an emergency (broadcast {sent['id']}" in detail and "admin" in detail
    assert devices["loa-a1"].sink.records == []  # still playing: nothing has ended
    ok(_command(admin, "loa-a1", {"type": "stop"}), 202)
    assert devices["loa-a1"].sink.wait_for(
        lambda records: [p.completed for p in records] == [False], 20)
    tree.center.wait_for(
        lambda: [p["status"] for p in ok(admin.get("/api/v1/plays", params={
            "device_id": "loa-a1"}))["items"]] == ["interrupted"],
        timeout=20, what="the center heard the emergency was interrupted")
    ok(_command(op, "loa-a1", {"type": "set_volume", "level": 50}), 202)  # over: allowed again
    history = _history(op, "loa-a1")
    assert [(h["kind"], h["actor"], h["result"]) for h in history] == [
        ("set_volume", "op_a", "sent"), ("stop", "admin", "sent"),
        ("set_volume", "op_a", "refused"), ("stop", "op_a", "refused")]


def test_every_command_is_in_the_device_history_the_audit_log_and_the_device_page(
        tree: Tree) -> None:
    op = tree.api_as("op_a")
    ok(_command(op, "loa-a2", {"type": "set_volume", "level": 30}), 202)
    normal = {**RAW_ITEM, "priority": "normal", "start_at": in_minutes(5)}
    assert _command(op, "loa-a2", {**RAW_PLAY_NOW, "item": normal}).status_code == 422
    assert tree.api_as("op_b").get("/api/v1/devices/loa-a2/commands").status_code == 404
    history = _history(op, "loa-a2")
    assert [(h["kind"], h["level"], h["result"], h["flagged"]) for h in history] == [
        ("play_now", None, "refused", True), ("set_volume", 30, "sent", False)]
    audit_as = tree.api_as("appr_a")
    query = {"object_type": "device", "object_id": "loa-a2", "action": "command"}
    audit = ok(audit_as.get("/api/v1/audit", params=query))["items"]
    assert [(e["detail"]["kind"], e["detail"]["priority"], e["detail"]["result"])
            for e in audit] == [("play_now", "normal", "refused"), ("set_volume", None, "sent")]
    assert audit[1]["detail"]["command_id"] == history[1]["command_id"]
    flagged = ok(audit_as.get("/api/v1/audit", params={**query, "flagged": "1"}))["items"]
    assert [e["id"] for e in flagged] == [audit[0]["id"]]
    base = tree.center.base_url

    def scenario(browser: Browser) -> None:
        page = sign_in(browser, base, "op_a")
        page.goto(f"{base}/monitor/devices/loa-a2")
        rows = page.locator("#commands tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.nth(0)).to_have_attribute("data-result", "refused")
        expect(rows.nth(0)).to_have_attribute("data-flagged", "1")
        expect(rows.nth(0)).to_contain_text("Bị từ chối")
        expect(rows.nth(1)).to_contain_text("Đổi âm lượng")
        expect(rows.nth(1)).to_contain_text("Đã gửi")

    run_in_browser(scenario)
