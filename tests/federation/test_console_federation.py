"""The console's federation pages in Chromium, on two real centers: each administrator reads
their center's identity on its page and registers the other; the central administrator sends
a normal bulletin from its bulletin page; the province's administrator accepts it into a slot
on their page; the central page then shows it scheduled."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.center.helpers import ok
from tests.federation.conftest import Site
from tests.support.browser import LAPTOP, run_in_browser, screenshot
from tests.support.waiting import poll

pytestmark = pytest.mark.integration

PASSWORD = "mat-khau-lien-thong-2026"
TZ = "Asia/Ho_Chi_Minh"


def _user(site: Site, unit: dict[str, Any], username: str, role: str = "admin") -> None:
    ok(site.api.post("/api/v1/users", json={"username": username, "password": PASSWORD,
                                            "role": role, "unit_id": unit["id"],
                                            "full_name": f"Cán bộ {username}"}))


def _as(site: Site, username: str) -> httpx.Client:
    token = ok(httpx.post(f"{site.center.base_url}/api/v1/auth/login", timeout=30, json={
        "username": username, "password": PASSWORD}), 200)["token"]
    return httpx.Client(base_url=site.center.base_url, timeout=30,
                        headers={"Authorization": f"Bearer {token}"})


def _approved_notice(central: Site) -> dict[str, Any]:
    """A normal bulletin of the national unit, written by one user and approved by another."""
    with _as(central, "qt_trung_uong") as author, _as(central, "duyet_trung_uong") as approver:
        made = ok(author.post("/api/v1/bulletins", json={
            "title": "Tuyên truyền phòng chống lũ", "kind": "text", "priority": "normal",
            "text": "Người dân chủ động gia cố nhà cửa trước mùa mưa lũ."}))
        ok(author.post(f"/api/v1/bulletins/{made['id']}/submit", json={}), 200)
        ok(approver.post(f"/api/v1/bulletins/{made['id']}/approve", json={}), 200)
    return made


def _console(browser: Browser, site: Site, username: str) -> Page:
    context = browser.new_context(viewport=LAPTOP, locale="vi-VN", timezone_id=TZ)
    page = context.new_page()
    base = site.center.base_url
    page.goto(f"{base}/console/login")
    page.fill("#f-username", username)
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/console")
    return page


def _register(page: Page, other: dict[str, str], role: str, unit_id: int | None) -> None:
    page.fill("#f-center_id", other["center_id"])
    page.fill("#f-name", other["name"])
    page.fill("#f-url", other["url"])
    page.fill("#f-public_key", other["public_key"])
    page.select_option("#f-role", role)
    if unit_id is not None:
        page.select_option("#f-unit_id", str(unit_id))
    page.click("#register")
    expect(page.locator("#flash")).to_contain_text("Đã đăng ký")
    expect(page.locator(f"tr[data-center='{other['center_id']}']")).to_have_attribute(
        "data-state", "active")


def _identity(page: Page, base: str, name: str) -> dict[str, str]:
    page.goto(f"{base}/console/federation")
    return {"center_id": page.inner_text("#own-center-id"), "name": name, "url": base,
            "public_key": page.inner_text("#own-public-key"),
            "fingerprint": page.inner_text("#own-fingerprint")}


def test_register_send_accept_through_the_pages(centers: tuple[Site, Site]) -> None:
    central, province = centers
    country = central.unit("vn", "central", name="Trung ương")
    mirror = central.unit("tinh-x", "province", country, name="Tỉnh X")
    own = province.unit("tinh-x", "province", name="Tỉnh X")
    _user(central, country, "qt_trung_uong")
    _user(central, country, "duyet_trung_uong", role="approver")
    _user(province, own, "qt_tinh_x")
    notice = _approved_notice(central)
    c_base, p_base = central.center.base_url, province.center.base_url

    def scenario(browser: Browser) -> None:
        at_central = _console(browser, central, "qt_trung_uong")
        at_province = _console(browser, province, "qt_tinh_x")
        expect(at_central.locator("header a[href='/console/federation']")).to_be_visible()
        c_id = _identity(at_central, c_base, "Trung tâm trung ương")
        p_id = _identity(at_province, p_base, "Trung tâm tỉnh X")
        assert c_id["fingerprint"] == ok(central.api.get(
            "/api/v1/federation/identity"))["fingerprint"]
        _register(at_central, p_id, "child", mirror["id"])
        _register(at_province, c_id, "parent", None)
        screenshot(at_central, "federation-central-peers")

        # the central administrator sends the bulletin from its page
        at_central.goto(f"{c_base}/console/bulletins/{notice['id']}")
        at_central.check("#centers-form input[name=peer_ids]")
        screenshot(at_central, "federation-central-bulletin-send")
        at_central.click("#send-centers")
        expect(at_central.locator("#flash")).to_contain_text("Đã gửi các tỉnh")
        expect(at_central.locator(f"#sent tr[data-bulletin='{notice['id']}']")).to_have_count(1)

        # it waits in the province's page; the province's administrator accepts it
        row = poll(lambda: [r for r in ok(province.api.get(
            "/api/v1/federation/bulletins", params={"direction": "in"}))["items"]
            if r["state"] == "inbox"], bool, 30, "the bulletin at the province")[0]
        at_province.goto(f"{p_base}/console/federation")
        expect(at_province.locator(f"#fed-in-{row['id']}")).to_contain_text(
            "Tuyên truyền phòng chống lũ")
        start = datetime.now(ZoneInfo(TZ)) + timedelta(hours=2)
        at_province.fill(f"#at-fed-{row['id']}", start.strftime("%Y-%m-%dT%H:%M"))
        screenshot(at_province, "federation-province-inbox")
        at_province.click(f"#fed-accept-btn-{row['id']}")
        expect(at_province.locator("#flash")).to_contain_text("Đã nhận")
        expect(at_province.locator(f"#received-{row['id']}")).to_have_attribute(
            "data-state", "scheduled")

        # the central page shows the province's state once it is reported
        poll(lambda: [r for r in ok(central.api.get(
            "/api/v1/federation/bulletins", params={"direction": "out"}))["items"]
            if r["state"] == "scheduled"], bool, 30, "the acceptance at the central center")
        at_central.goto(f"{c_base}/console/federation")
        sent = at_central.locator(f"#sent tr[data-bulletin='{notice['id']}']")
        expect(sent).to_have_attribute("data-state", "scheduled")
        expect(sent).to_contain_text("Đã lập lịch")
        screenshot(at_central, "federation-central-states")

    run_in_browser(scenario)
