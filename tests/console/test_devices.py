"""Devices page: scoped list with status badges and filters, and the SVG map."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.center.helpers import ok
from tests.console.conftest import Tree, sign_in
from tests.support.browser import run_in_browser, screenshot

pytestmark = pytest.mark.integration


def _rows(page: Page) -> list[str]:
    ids: list[str] = page.locator("#devices tbody tr[data-device]").evaluate_all(
        "rows => rows.map(r => r.dataset.device)")
    return ids


def _badge(page: Page, device_id: str) -> str:
    return page.locator(f'#devices tr[data-device="{device_id}"] .badge').get_attribute(
        "class") or ""


def test_devices_page_lists_and_maps_only_the_users_subtree(tree: Tree) -> None:
    api = tree.center.api
    ok(api.post("/api/v1/devices", json={"id": "loa-a3", "name": "Loa chợ", "kind": "speaker",
                                         "unit_id": tree.units["a"]["id"]}))  # no position
    fleet = tree.fleet("loa-a1", "loa-a2")
    tree.center.wait_for(
        lambda: all(ok(api.get(f"/api/v1/devices/{d}"))["online"] for d in ("loa-a1", "loa-a2")),
        what="both agents reported online")
    fleet["loa-a2"].agent.crash()  # a power cut: the broker publishes its last will
    tree.center.wait_for(lambda: not ok(api.get("/api/v1/devices/loa-a2"))["online"],
                         what="loa-a2 reported offline")
    base = tree.center.base_url

    def scenario(browser: Browser) -> None:
        page = sign_in(browser, base, "op_a")
        page.goto(f"{base}/console/devices")
        assert sorted(_rows(page)) == ["loa-a1", "loa-a2", "loa-a3"]
        assert "p-online" in _badge(page, "loa-a1")
        assert "p-offline" in _badge(page, "loa-a2")
        assert "p-never" in _badge(page, "loa-a3")
        circles = page.locator("#device-map svg g.device circle")
        expect(circles).to_have_count(2)  # loa-a3 has no position
        assert sorted(page.locator("#device-map svg g.device").evaluate_all(
            "gs => gs.map(g => g.dataset.device + ':' + g.dataset.status)")) == [
            "loa-a1:online", "loa-a2:offline"]
        expect(page.locator("#device-map svg g.device title").first).to_contain_text("Xã A")
        expect(page.locator("#unplaced")).to_contain_text("loa-a3")
        expect(page.locator('#devices tr[data-device="loa-a1"] a')).to_have_attribute(
            "href", "/monitor/devices/loa-a1")
        last_seen = page.locator('#devices tr[data-device="loa-a1"] td').nth(5).inner_text()
        assert last_seen[2] == "/" and last_seen[5] == "/"  # dd/mm/yyyy HH:MM, local time
        expect(page.locator("#f-unit_id option")).to_have_count(2)  # all + Xã A
        screenshot(page, "console-devices")
        for status, expected in (("online", ["loa-a1"]), ("offline", ["loa-a2"]),
                                 ("never", ["loa-a3"])):
            page.select_option("#f-status", status)
            page.click("form.filters button[type=submit]")
            page.wait_for_url(f"**status={status}**")
            assert _rows(page) == expected, status
            expect(page.locator("#f-status")).to_have_value(status)
        # another commune's unit id typed into the address: refused beside the field
        page.goto(f"{base}/console/devices?unit_id={tree.units['b']['id']}")
        expect(page.locator("#err-unit_id")).to_contain_text("không thuộc phạm vi")
        assert "loa-b1" not in _rows(page)

        admin = sign_in(browser, base, "admin")
        admin.goto(f"{base}/console/devices")
        assert sorted(_rows(admin)) == ["loa-a1", "loa-a2", "loa-a3", "loa-b1"]
        expect(admin.locator("#device-map svg g.device circle")).to_have_count(3)
        expect(admin.locator("#device-map svg g.legend-unit")).to_have_count(2)
        admin.select_option("#f-unit_id", str(tree.units["b"]["id"]))
        admin.click("form.filters button[type=submit]")
        admin.wait_for_url("**unit_id=**")
        assert _rows(admin) == ["loa-b1"]
        expect(admin.locator("#device-map svg g.device circle")).to_have_count(1)
        screenshot(admin, "console-devices-admin-unit")

    run_in_browser(scenario)
    r = tree.api_as("op_a").get("/api/v1/events", params={"device_id": "loa-b1"})
    assert ok(r)["count"] == 0  # another commune's device events are not op_a's to read
