"""Console pages of the tree and the fleet: units (create, rename, move, retire) and devices
(register, CSV import with enrolment codes, enrolment code with QR, rename/move, retire, revoke,
rotate), each scoped to the signed-in administrator's subtree.

One broker and one center for the module; pages are driven as a browser would post them
(the session cookie and the form's CSRF field), without a browser.

    Tỉnh P ── Huyện D (admin_d, op_d) ── Xã A (loa-fa1)
           │                         └─ Xã B
           └─ Huyện E ── Xã C (loa-fc1)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from firmware_sim.broker import MosquittoBroker, find_executable
from tests.center.helpers import ok
from tests.support.browser import PHONE, run_in_browser, screenshot
from tests.support.center import CenterHandle, running_center
from tests.support.tree import add_device, add_unit

pytestmark = pytest.mark.integration
PASSWORD = "mat-khau-don-vi-2026"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
CODE = re.compile(r'class="enrol-code">([0-9A-Z-]+)<')


@dataclass
class Fleet:
    center: CenterHandle
    units: dict[str, dict[str, Any]]
    pages: dict[str, tuple[httpx.Client, str]]  # user -> (cookie client, CSRF token)

    def get(self, user: str, path: str) -> httpx.Response:
        return self.pages[user][0].get(path)

    def post(self, user: str, path: str, data: dict[str, str] | None = None,
             **kwargs: Any) -> httpx.Response:
        client, csrf = self.pages[user]
        return client.post(path, data={"csrf": csrf, **(data or {})}, **kwargs)

    def unit(self, unit_id: int) -> dict[str, Any]:
        return ok(self.center.api.get(f"/api/v1/units/{unit_id}"))

    def device(self, device_id: str) -> dict[str, Any]:
        return ok(self.center.api.get(f"/api/v1/devices/{device_id}"))


def _sign_in(base_url: str, username: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base_url, timeout=30, follow_redirects=False)
    r = client.post("/console/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 303, r.text[:300]
    found = CSRF.search(client.get("/console/account").text)
    assert found
    return client, found.group(1)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    find_executable("mosquitto")
    with MosquittoBroker(tmp_path_factory.mktemp("broker")) as broker, running_center(
            tmp_path_factory.mktemp("center"), mqtt_host=broker.host,
            mqtt_port=broker.center_port, mqtt_password=broker.center_password) as center:
        api = center.api
        p = add_unit(api, "f-tinh-p", "province", name="Tỉnh P")
        d = add_unit(api, "f-huyen-d", "district", p, name="Huyện D")
        e = add_unit(api, "f-huyen-e", "district", p, name="Huyện E")
        units = {"p": p, "d": d, "e": e,
                 "a": add_unit(api, "f-xa-a", "commune", d, name="Xã A"),
                 "b": add_unit(api, "f-xa-b", "commune", d, name="Xã B"),
                 "c": add_unit(api, "f-xa-c", "commune", e, name="Xã C")}
        add_device(api, "loa-fa1", units["a"], name="Loa chợ A")
        add_device(api, "loa-fc1", units["c"], name="Loa chợ C")
        for username, role in (("admin_d", "admin"), ("op_d", "operator")):
            ok(api.post("/api/v1/users", json={"username": username, "password": PASSWORD,
                                               "role": role, "unit_id": d["id"]}))
        pages = {name: _sign_in(center.base_url, name) for name in ("admin_d", "op_d")}
        yield Fleet(center, units, pages)
        for client, _ in pages.values():
            client.close()


def _error_beside(page: str, field: str) -> str:
    found = re.search(rf'id="err-{re.escape(field)}"[^>]*>([^<]+)<', page)
    assert found, f"no error beside {field!r}"
    return found.group(1)


def test_a_district_administrator_sees_and_changes_only_its_subtree(fleet: Fleet) -> None:
    units = fleet.units
    page = fleet.get("admin_d", "/console/units")
    assert page.status_code == 200
    rows = re.findall(r'<tr data-unit="([^"]+)" data-depth="(\d)"', page.text)
    assert rows[:3] == [("f-huyen-d", "0"), ("f-xa-a", "1"), ("f-xa-b", "1")]
    assert "f-xa-c" not in page.text and "Huyện E" not in page.text
    assert fleet.get("admin_d", f"/console/units/{units['c']['id']}").status_code == 404
    assert fleet.get("admin_d", f"/console/units/{units['a']['id']}").status_code == 200
    listed = fleet.get("admin_d", "/console/devices").text
    assert 'data-device="loa-fa1"' in listed and "loa-fc1" not in listed
    assert fleet.get("admin_d", "/console/devices/loa-fc1").status_code == 404

    # moving a unit of the subtree under one outside it: as if that unit did not exist
    r = fleet.post("admin_d", f"/console/units/{units['b']['id']}/move",
                   {"parent_id": str(units["e"]["id"])})
    assert r.status_code == 404 and "does not exist" in _error_beside(r.text, "parent_id")
    assert fleet.unit(units["b"]["id"])["parent_id"] == units["d"]["id"]
    # and a unit outside, whatever the form says
    r = fleet.post("admin_d", f"/console/units/{units['c']['id']}/rename",
                   {"name": "Xã C mới", "code": "f-xa-c"})
    assert r.status_code == 404 and fleet.unit(units["c"]["id"])["name"] == "Xã C"

    # an operator sees the tree, but may not change it
    assert "unit-form" not in fleet.get("op_d", "/console/units").text
    assert fleet.get("op_d", f"/console/units/{units['a']['id']}").status_code == 403
    assert fleet.post("op_d", "/console/units", {"code": "x", "name": "X", "level": "commune",
                                                 "parent_id": str(units["d"]["id"])}
                      ).status_code == 403


def test_create_rename_and_move_units_with_every_refusal_on_the_page(fleet: Fleet) -> None:
    units, api = fleet.units, fleet.center.api
    r = fleet.post("admin_d", "/console/units", {"code": "", "name": " ", "level": "commune",
                                                 "parent_id": str(units["c"]["id"])})
    assert r.status_code == 422
    assert "Nhập mã đơn vị" in _error_beside(r.text, "code")
    assert "Nhập tên đơn vị" in _error_beside(r.text, "name")
    assert "trong phạm vi" in _error_beside(r.text, "parent_id")  # Xã C is not offered
    r = fleet.post("admin_d", "/console/units", {"code": "f-thon-1", "name": "Thôn 1",
                                                 "level": "village",
                                                 "parent_id": str(units["a"]["id"])})
    assert r.status_code == 303 and r.headers["location"] == "/console/units?done=created"
    thon = next(u for u in ok(api.get("/api/v1/units"))["items"] if u["code"] == "f-thon-1")
    assert (thon["parent_id"], thon["level"], thon["retired_at"]) == (
        units["a"]["id"], "village", None)

    # a loop: the district under its own commune's village
    r = fleet.post("admin_d", f"/console/units/{units['a']['id']}/move",
                   {"parent_id": str(thon["id"])})
    assert r.status_code == 409
    assert "loop in the tree" in _error_beside(r.text, "parent_id")
    assert "chính nó hoặc đơn vị cấp dưới" in r.text
    assert fleet.unit(units["a"]["id"])["parent_id"] == units["d"]["id"]
    r = fleet.post("admin_d", f"/console/units/{thon['id']}/rename",
                   {"name": "Thôn Một", "code": "f-xa-b"})  # Xã B's code
    assert r.status_code == 409 and "already exists" in r.text
    r = fleet.post("admin_d", f"/console/units/{thon['id']}/rename",
                   {"name": "Thôn Một", "code": "f-thon-mot"})
    assert r.status_code == 303
    r = fleet.post("admin_d", f"/console/units/{thon['id']}/move",
                   {"parent_id": str(units["b"]["id"])})
    assert r.status_code == 303
    moved = fleet.unit(thon["id"])
    assert (moved["name"], moved["code"], moved["parent_id"]) == (
        "Thôn Một", "f-thon-mot", units["b"]["id"])
    actions = [e["action"] for e in ok(api.get("/api/v1/audit", params={
        "object_type": "unit", "object_id": str(thon["id"])}))["items"]]
    assert actions == ["move", "update", "create"]
    # the API refuses the same loop
    r = api.patch(f"/api/v1/units/{units['d']['id']}", json={"parent_id": units["a"]["id"]})
    assert r.status_code == 409 and "loop" in r.json()["detail"]


def test_moving_a_unit_changes_what_its_devices_play(fleet: Fleet) -> None:
    """A schedule for Huyện E's subtree reaches a commune moved under it, and leaves it when
    the commune moves back."""
    api, units = fleet.center.api, fleet.units
    bulletin = ok(api.post("/api/v1/bulletins", json={
        "title": "Tin huyện E", "kind": "text", "text": "Thông báo của huyện E."}))
    start = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    ok(api.post("/api/v1/schedules", json={"bulletin_id": bulletin["id"], "start_at": start,
                                           "targets": {"unit_ids": [units["e"]["id"]]}}))

    def items(device_id: str) -> int:
        count: int = ok(api.get(f"/api/v1/devices/{device_id}/manifest"))["item_count"]
        return count

    fleet.center.wait_for(lambda: items("loa-fc1") == 1, what="Xã C's speaker has the item")
    assert items("loa-fa1") == 0
    ok(api.patch(f"/api/v1/units/{units['a']['id']}", json={"parent_id": units["e"]["id"]}))
    fleet.center.wait_for(lambda: items("loa-fa1") == 1, what="the moved commune's item")
    ok(api.patch(f"/api/v1/units/{units['a']['id']}", json={"parent_id": units["d"]["id"]}))
    fleet.center.wait_for(lambda: items("loa-fa1") == 0, what="the item left after moving back")


def test_retire_a_unit_only_once_it_is_empty(fleet: Fleet) -> None:
    units, api = fleet.units, fleet.center.api
    a = units["a"]["id"]
    r = fleet.post("admin_d", f"/console/units/{a}/retire", {})
    assert r.status_code == 422 and "xác nhận" in _error_beside(r.text, "confirm")
    r = fleet.post("admin_d", f"/console/units/{a}/retire", {"confirm": "yes"})
    assert r.status_code == 409
    assert "1 active device(s)" in r.text and "còn 1 thiết bị" in r.text
    assert fleet.unit(a)["retired_at"] is None

    empty = add_unit(api, "f-xa-trong", "commune", units["d"], name="Xã Trống")
    r = fleet.post("admin_d", f"/console/units/{empty['id']}/retire", {"confirm": "yes"})
    assert r.status_code == 303
    assert fleet.unit(empty["id"])["retired_at"] is not None
    page = fleet.get("admin_d", f"/console/units/{empty['id']}").text
    assert "Đã ngừng / retired" in page and 'id="rename-form"' not in page
    # a retired unit takes no new units or devices
    r = api.post("/api/v1/units", json={"code": "f-thon-moi", "name": "Thôn mới",
                                        "level": "village", "parent_id": empty["id"]})
    assert r.status_code == 409 and "retired" in r.json()["detail"]
    r = fleet.post("admin_d", "/console/devices/new", {
        "id": "loa-trong", "name": "Loa", "kind": "speaker", "unit_id": str(empty["id"]),
        "hours": "72"})
    assert r.status_code == 422 and "đang hoạt động" in _error_beside(r.text, "unit_id")
    assert api.get("/api/v1/devices/loa-trong").status_code == 404
    r = api.post(f"/api/v1/units/{empty['id']}/retire")
    assert r.status_code == 409 and "already retired" in r.json()["detail"]


def test_csv_import_is_all_or_nothing_and_shows_each_code(fleet: Fleet) -> None:
    api = fleet.center.api
    bad = ("id,name,kind,unit_code,lat,lon\n"
           "loa-csv1,Loa thôn 1,speaker,f-xa-a,21.01,105.80\n"
           "loa-csv2,Loa thôn 2,radio,f-xa-a,,\n")
    r = fleet.post("admin_d", "/console/devices/import", {"csv_hours": "72"},
                   files={"csv_file": ("loa.csv", bad.encode(), "text/csv")})
    assert r.status_code == 422
    assert _error_beside(r.text, "csv_file").startswith("Dòng 3 / line 3")
    assert api.get("/api/v1/devices/loa-csv1").status_code == 404
    outside = "id,name,kind,unit_code,lat,lon\nloa-csv1,Loa,speaker,f-xa-c,,\n"
    r = fleet.post("admin_d", "/console/devices/import", {"csv_hours": "72"},
                   files={"csv_file": ("loa.csv", outside.encode(), "text/csv")})
    assert r.status_code == 422 and "Dòng 2" in r.text  # Xã C is not in the subtree

    good = bad.replace("radio", "kiosk")
    r = fleet.post("admin_d", "/console/devices/import", {"csv_hours": "24"},
                   files={"csv_file": ("loa.csv", good.encode(), "text/csv")})
    assert r.status_code == 200, r.text[:500]
    assert "Đã nhập 2 thiết bị" in r.text
    cards = re.findall(r'<section class="code-card" data-device="([^"]+)">', r.text)
    assert cards == ["loa-csv1", "loa-csv2"]
    assert len(set(CODE.findall(r.text))) == 2 and r.text.count("<svg") == 2
    assert fleet.device("loa-csv2")["kind"] == "kiosk"


def test_register_a_device_and_issue_its_enrolment_code(fleet: Fleet) -> None:
    r = fleet.post("admin_d", "/console/devices/new", {
        "id": "Loa Sai", "name": "", "kind": "speaker", "unit_id": str(fleet.units["b"]["id"]),
        "lat": "91", "hours": "72"})
    assert r.status_code == 422
    for field in ("id", "name", "lat"):
        _error_beside(r.text, field)
    r = fleet.post("admin_d", "/console/devices/new", {
        "id": "loa-fb1", "name": "Loa đình B", "kind": "speaker",
        "unit_id": str(fleet.units["b"]["id"]), "lat": "21,05", "lon": "", "hours": "72"})
    assert r.status_code == 200 and len(CODE.findall(r.text)) == 1
    device = fleet.device("loa-fb1")
    assert (device["state"], device["lat"], device["enrolled_at"]) == ("active", 21.05, None)

    r = fleet.post("admin_d", "/console/devices/loa-fb1/enrolment-code", {"hours": "168"})
    assert r.status_code == 200
    (code,) = CODE.findall(r.text)
    assert re.fullmatch(r"[0-9A-Z]{5}(-[0-9A-Z]{5}){3}", code)
    assert re.search(r'<div class="qr"[^>]*><svg[^>]*viewBox', r.text)
    assert "<?xml" not in r.text
    command = f"python -m edge_agent enrol --center {fleet.center.base_url} --code {code}"
    assert command in r.text
    assert fleet.post("admin_d", "/console/devices/loa-fc1/enrolment-code",
                      {"hours": "72"}).status_code == 404


def test_rename_move_rotate_retire_and_revoke_a_device(fleet: Fleet) -> None:
    units = fleet.units
    add_device(fleet.center.api, "loa-fa9", units["a"], name="Loa cũ")
    page = fleet.get("admin_d", "/console/devices/loa-fa9")
    assert page.status_code == 200 and "Chưa ghi danh / not enrolled yet" in page.text
    r = fleet.post("admin_d", "/console/devices/loa-fa9/edit", {
        "name": "Loa mới", "unit_id": str(units["c"]["id"]), "lat": "", "lon": ""})
    assert r.status_code == 422 and "phạm vi" in _error_beside(r.text, "unit_id")
    r = fleet.post("admin_d", "/console/devices/loa-fa9/edit", {
        "name": "Loa mới", "unit_id": str(units["b"]["id"]), "lat": "", "lon": ""})
    assert r.status_code == 303
    assert (fleet.device("loa-fa9")["name"], fleet.device("loa-fa9")["unit_id"]) == (
        "Loa mới", units["b"]["id"])

    r = fleet.post("admin_d", "/console/devices/loa-fa9/rotate")
    assert r.status_code == 303 and r.headers["location"].endswith("done=rotating")
    assert "rotation-pending" in fleet.get("admin_d", "/console/devices/loa-fa9").text

    r = fleet.post("admin_d", "/console/devices/loa-fa9/retire", {"reason": " "})
    assert r.status_code == 422 and "lý do" in _error_beside(r.text, "reason")
    r = fleet.post("admin_d", "/console/devices/loa-fa9/retire", {"reason": "Hỏng loa"})
    assert r.status_code == 303
    page = fleet.get("admin_d", "/console/devices/loa-fa9").text
    assert "Đã ngừng / retired" in page and "Hỏng loa" in page and "edit-form" not in page
    listed = fleet.get("admin_d", f"/console/devices?state=retired&unit_id={units['b']['id']}")
    assert re.findall(r'<tr data-device="([^"]+)"', listed.text) == ["loa-fa9"]

    r = fleet.post("admin_d", "/console/devices/loa-fa9/revoke", {"revoke_reason": "Bị mất"})
    assert r.status_code == 422 and "không thể hoàn tác" in _error_beside(r.text, "confirm")
    r = fleet.post("admin_d", "/console/devices/loa-fa9/revoke",
                   {"revoke_reason": "Bị mất cắp", "confirm": "yes"})
    assert r.status_code == 303
    assert (fleet.device("loa-fa9")["state"], fleet.device("loa-fa9")["state_reason"]) == (
        "revoked", "Bị mất cắp")
    r = fleet.post("admin_d", "/console/devices/loa-fa9/enrolment-code", {"hours": "72"})
    assert r.status_code == 409 and "revoked" in r.text


def test_on_a_phone_the_enrolment_sheet_fits_and_shows_the_qr(fleet: Fleet) -> None:
    """A technician opens the device on a phone, asks for a code and reads the sheet."""
    add_device(fleet.center.api, "loa-fphone", fleet.units["b"], name="Loa cổng làng")
    base = fleet.center.base_url

    def scenario(browser: Browser) -> None:
        context = browser.new_context(viewport=PHONE, locale="vi-VN",
                                      timezone_id="Asia/Ho_Chi_Minh")
        page = context.new_page()
        page.goto(f"{base}/console/login")
        page.fill("#f-username", "admin_d")
        page.fill("#f-password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/console")
        page.goto(f"{base}/console/units")
        screenshot(page, "console-units-phone")
        page.goto(f"{base}/console/devices/loa-fphone")
        screenshot(page, "console-device-phone")
        page.select_option("#f-hours", "24")
        page.click("#issue-code")
        expect(page.locator(".enrol-code")).to_have_count(1)
        box = page.locator(".code-card .qr svg").bounding_box()
        assert box is not None and 150 <= box["width"] <= PHONE["width"]
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        expect(page.locator(".enrol-command")).to_contain_text("python -m edge_agent enrol")
        screenshot(page, "console-enrolment-sheet-phone")
        context.close()

    run_in_browser(scenario)
