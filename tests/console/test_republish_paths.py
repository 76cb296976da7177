"""Every write path that changes what devices play republishes their manifests by itself.

No route calls a republish: services note the devices whose manifests changed in the unit of
work, and one after-commit step publishes them. The refresher is stopped first, so nothing
else can publish; each path must leave its devices with a new, broker-acknowledged manifest
by the time its request has answered.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser

from control_center.models import ManifestState
from tests.center.helpers import ok
from tests.console.conftest import Tree, sign_in
from tests.support.browser import run_in_browser
from tests.support.open311 import client_key
from tests.support.waiting import poll
from tests.training.helpers import folder_zip

pytestmark = pytest.mark.integration


def _manifest(tree: Tree, device_id: str) -> tuple[int, bool]:
    """(version, acknowledged by the broker) of the device's stored manifest."""
    with tree.center.center.read_sessions() as session:
        state = session.get(ManifestState, device_id)
        return (0, False) if state is None else (state.version, state.published_at is not None)


def _versions(tree: Tree, *device_ids: str) -> dict[str, int]:
    return {d: _manifest(tree, d)[0] for d in device_ids}


def _assert_republished(tree: Tree, before: dict[str, int], what: str) -> None:
    for device_id, version in before.items():
        now, acked = _manifest(tree, device_id)
        assert now > version and acked, f"{what}: {device_id} still at v{version} (now v{now})"


def _approved_text(tree: Tree, author: str, approver: str, title: str) -> int:
    api = tree.api_as(author)
    bid: int = ok(api.post("/api/v1/bulletins", json={
        "title": title, "kind": "text", "text": f"{title}: nội dung thử."}))["id"]
    ok(api.post(f"/api/v1/bulletins/{bid}/submit"), 200)
    ok(tree.api_as(approver).post(f"/api/v1/bulletins/{bid}/approve"), 200)
    poll(lambda: ok(api.get(f"/api/v1/bulletins/{bid}")), lambda b: b["voice_sha256"], 30,
         "the voice speakers play")  # until then the bulletin stays out of their manifests
    return bid


def _soon(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def test_every_write_path_republishes_without_the_refresher(tree: Tree) -> None:
    center = tree.center.center
    center.refresher.stop()
    admin, unit_a = tree.center.api, tree.units["a"]["id"]

    # a device registered over the API gets its first manifest at once
    ok(admin.post("/api/v1/devices", json={"id": "kiosk-a1", "name": "Ki-ốt xã A",
                                           "kind": "kiosk", "unit_id": unit_a}), 201)
    assert _manifest(tree, "kiosk-a1") == (1, True)

    # API: a schedule
    bid = _approved_text(tree, "op_a", "appr_a", "Lịch qua API")
    before = _versions(tree, "loa-a1")
    created = ok(tree.api_as("op_a").post("/api/v1/schedules", json={
        "bulletin_id": bid, "start_at": _soon(2), "targets": {"device_ids": ["loa-a1"]}}), 201)
    _assert_republished(tree, before, "POST /api/v1/schedules")
    assert created["delivery"]["published"] == 1  # the response still reports the delivery

    # console form: a schedule saved from the schedule page (cookie session, CSRF)
    bid = _approved_text(tree, "op_a", "appr_a", "Lịch qua bảng điều khiển")
    before = _versions(tree, "loa-a1", "loa-a2", "kiosk-a1")
    # the form's date and time are the center's zone's: tomorrow there, whatever the hour here
    start = (datetime.now(UTC) + timedelta(days=1)).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))

    def console(browser: Browser) -> None:
        page = sign_in(browser, tree.center.base_url, "op_a")
        page.goto(f"{tree.center.base_url}/console/schedules/new")
        csrf = page.locator("input[name=csrf]").first.get_attribute("value") or ""
        saved = page.request.post(f"{tree.center.base_url}/console/schedules/new", form={
            "csrf": csrf, "bulletin_id": str(bid), "kind": "once",
            "once_date": start.date().isoformat(), "once_time": "06:00",
            "unit_ids": str(unit_a), "action": "save"})
        assert saved.ok, saved.status
        page.context.close()

    run_in_browser(console)
    _assert_republished(tree, before, "console schedule form")

    # inbox accept: a province notice accepted by the commune with a slot
    bid = _approved_text(tree, "prov_op", "prov_appr", "Thông báo của tỉnh")
    ok(tree.api_as("prov_op").post(f"/api/v1/bulletins/{bid}/publish", json={
        "unit_ids": [unit_a]}), 201)
    op_a = tree.api_as("op_a")
    (waiting,) = [d for d in ok(op_a.get("/api/v1/distributions",
                                         params={"state": "inbox"}))["items"]
                  if d["bulletin_id"] == bid]
    before = _versions(tree, "loa-a1", "loa-a2", "kiosk-a1")
    ok(op_a.post(f"/api/v1/distributions/{waiting['id']}/accept",
                 json={"slot": {"start_at": _soon(3)}}), 200)
    _assert_republished(tree, before, "inbox accept")

    # feedback answer, announced on the kiosks of the unit
    key, code = client_key(admin, tree.units["a"]), tree.units["a"]["code"]
    with httpx.Client(base_url=tree.center.base_url, timeout=30) as citizen:
        created311 = citizen.post("/api/v1/open311/requests.json", data={
            "api_key": key, "service_code": "road", "jurisdiction_id": code,
            "address_string": "Thôn 1", "description": "Đèn đường hỏng"})
    assert created311.status_code == 201, created311.text
    scope = {"X-Unit-Id": str(unit_a)}
    (item,) = ok(admin.get("/api/v1/feedback", headers=scope))["items"]
    ok(admin.post(f"/api/v1/feedback/{item['id']}/triage", headers=scope,
                  json={"category": "road", "unit_id": unit_a}), 200)
    before = _versions(tree, "kiosk-a1")
    ok(admin.post(f"/api/v1/feedback/{item['id']}/answer", headers=scope,
                  json={"text": "Đã thay bóng đèn.", "announce": True}), 200)
    _assert_republished(tree, before, "feedback answer")

    # training: a course published to the commune's kiosks
    course = ok(admin.post("/api/v1/training/courses/import", files={
        "file": ("course.zip", folder_zip(), "application/zip")}), 201)["course"]
    before = _versions(tree, "kiosk-a1")
    ok(admin.post(f"/api/v1/training/courses/{course['id']}/kiosk",
                  json={"unit_ids": [unit_a]}), 201)
    _assert_republished(tree, before, "training publish")

    # a rolled-back change publishes nothing: a schedule refused for its target
    before = _versions(tree, "loa-a1", "loa-b1")
    refused = op_a.post("/api/v1/schedules", json={
        "bulletin_id": bid, "start_at": _soon(4), "targets": {"device_ids": ["loa-b1"]}})
    assert refused.status_code == 404
    assert _versions(tree, "loa-a1", "loa-b1") == before


def test_a_cancelled_schedule_leaves_the_manifest_at_once(tree: Tree, tmp_path: Path) -> None:
    tree.center.center.refresher.stop()
    bid = _approved_text(tree, "op_a", "appr_a", "Lịch sẽ huỷ")
    op_a = tree.api_as("op_a")
    schedule = ok(op_a.post("/api/v1/schedules", json={
        "bulletin_id": bid, "start_at": _soon(2), "targets": {"device_ids": ["loa-a2"]}}), 201)
    before = _versions(tree, "loa-a2")
    cancelled = ok(op_a.delete(f"/api/v1/schedules/{schedule['id']}"), 200)
    assert cancelled["delivery"]["changed"] == 1
    _assert_republished(tree, before, "DELETE /api/v1/schedules/{id}")
