"""Audit log page and API: scoped to the reader's subtree, filters, CSV export, append-only."""

from __future__ import annotations

import csv
import importlib
import io
import pkgutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from control_center.api import routes as api_routes
from control_center.models import AuditEntry
from control_center.web import console
from tests.center.helpers import ok, ready_media
from tests.console.conftest import Tree, sign_in
from tests.support.audio import make_tone
from tests.support.browser import run_in_browser, screenshot

pytestmark = pytest.mark.integration
WORD = "PHÁT KHẨN CẤP"


def _ids(page: Page) -> list[int]:
    return [int(i) for i in page.locator("#audit tbody tr[data-id]").evaluate_all(
        "rows => rows.map(r => r.dataset.id)")]


def _actors(page: Page) -> set[str]:
    return set(page.locator("#audit tbody tr[data-id] td:nth-child(2)").all_inner_texts())


def _csv_rows(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def _count(tree: Tree) -> int:
    with tree.center.center.read_sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def test_audit_page_filters_exports_and_stays_inside_the_readers_subtree(
        tree: Tree, tmp_path: Path) -> None:
    media = ready_media(tree.center.api, make_tone(tmp_path / "t.wav", 1.0))
    appr_a = tree.api_as("appr_a")
    sent = ok(appr_a.post("/api/v1/emergency", json={
        "unit_ids": [tree.units["a"]["id"]], "media_sha256": media["sha256"],
        "title": "Báo động cháy rừng", "confirm": WORD}), 201)
    for user in ("op_a", "prov_op", "appr_b", "op_b"):
        tree.api_as(user)  # a sign-in each, recorded with the user's unit
    tz = ZoneInfo(tree.center.settings.timezone)
    today = datetime.now(tz).date().isoformat()
    base = tree.center.base_url

    # the API: same filters, CSV with a header row, scoped, audit permission needed
    r = appr_a.get("/api/v1/audit", params={"action": "emergency_send", "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    (row,) = _csv_rows(r.text)
    assert (int(row["id"]), row["actor"], row["flagged"], row["object_type"]) == (
        sent["id"], "appr_a", "1", "bulletin")
    assert '"approval_skipped": true' in row["detail"] and "Báo động cháy rừng" in row["detail"]
    flagged = ok(appr_a.get("/api/v1/audit", params={"flagged": "true"}))["items"]
    assert flagged and all(e["actor"] == "appr_a" for e in flagged)
    assert {e["action"] for e in flagged} == {"emergency_send", "approve"}
    assert ok(tree.api_as("appr_b").get("/api/v1/audit", params={"actor": "appr_a"}))[
        "count"] == 0
    assert tree.api_as("op_b").get("/api/v1/audit").status_code == 403
    r = appr_a.get("/api/v1/audit", params={"date_from": "2026-13-01"})
    assert r.status_code == 422 and "YYYY-MM-DD" in r.json()["detail"]

    def scenario(browser: Browser) -> None:
        page = sign_in(browser, base, "appr_a")
        page.goto(f"{base}/console/audit")
        actors = _actors(page)
        assert {"appr_a", "op_a"} <= actors
        assert not actors & {"api-token", "prov_op", "appr_b", "op_b"}
        flagged_row = page.locator(f'#audit tr[data-id="{sent["id"]}"]')
        expect(flagged_row).to_have_class("flagged")
        expect(flagged_row).to_contain_text("⚑")
        screenshot(page, "console-audit")
        page.check("#f-flagged")
        page.click("#audit-filters button[type=submit]")
        page.wait_for_url("**flagged=1**")
        assert sent["id"] in _ids(page)
        assert page.locator("#audit tbody tr.flagged").count() == len(_ids(page))
        page.fill("#f-action", "emergency_send")
        page.fill("#f-date_from", today)
        page.fill("#f-date_to", today)
        page.click("#audit-filters button[type=submit]")
        page.wait_for_url("**action=emergency_send**")
        assert _ids(page) == [sent["id"]]
        with page.expect_download() as info:
            page.click("#csv-export")
        download = Path(info.value.path())
        rows = _csv_rows(download.read_text(encoding="utf-8"))
        assert [int(r["id"]) for r in rows] == [sent["id"]]
        assert list(rows[0]) == ["id", "at_local", "at_utc", "actor", "source_ip", "unit_id",
                                 "action", "object_type", "object_id", "flagged", "detail"]
        assert rows[0]["at_local"].startswith(today)
        href = page.locator("#csv-export").get_attribute("href") or ""
        assert "action=emergency_send" in href and "flagged=1" in href
        export = page.request.get(f"{base}{href}")
        assert export.headers["content-type"].startswith("text/csv")
        # a period that ends before it starts: the error beside 'to', the typed dates kept
        page.goto(f"{base}/console/audit?date_from=2026-05-02&date_to=2026-05-01&actor=op_a")
        expect(page.locator("#err-date_to")).to_contain_text("trước ngày bắt đầu")
        expect(page.locator("#f-date_from")).to_have_value("2026-05-02")
        expect(page.locator("#f-actor")).to_have_value("op_a")
        expect(page.locator("#csv-export")).to_have_count(0)

        admin = sign_in(browser, base, "admin")  # administrator of the root unit
        admin.goto(f"{base}/console/audit?actor=api-token")
        assert _ids(admin) and _actors(admin) == {"api-token"}
        admin.goto(f"{base}/console/audit")
        assert {"prov_op", "appr_a", "appr_b"} <= _actors(admin)

        other = sign_in(browser, base, "appr_b")
        other.goto(f"{base}/console/audit")
        assert _actors(other) <= {"appr_b", "op_b"} and "appr_b" in _actors(other)
        other.goto(f"{base}/console/audit?actor=appr_a")
        assert _ids(other) == []
        export_b = other.request.get(f"{base}/console/audit.csv?actor=appr_a")
        assert export_b.status == 200 and _csv_rows(export_b.text()) == []  # header only

        operator = sign_in(browser, base, "op_b")
        response = operator.goto(f"{base}/console/audit")
        assert response is not None and response.status == 403
        expect(operator.locator(".error-box")).to_contain_text("không được xem nhật ký")
        assert operator.request.get(f"{base}/console/audit.csv").status == 403

    run_in_browser(scenario)


def _all_routes() -> list[APIRoute]:
    """Every route of the API and console routers (as declared, before mounting)."""
    routes: list[APIRoute] = []
    for package in (api_routes, console):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for name in ("router", "public_router", "me_router"):
                router = getattr(module, name, None)
                if isinstance(router, APIRouter):
                    routes += [r for r in router.routes if isinstance(r, APIRoute)]
    return routes


def test_the_audit_log_has_no_route_that_changes_or_deletes_entries(tree: Tree) -> None:
    audit_routes = [r for r in _all_routes() if "audit" in r.path]
    assert {r.path for r in audit_routes} >= {"/audit", "/console/audit", "/console/audit.csv"}
    for route in audit_routes:
        assert (route.methods or set()) <= {"GET", "HEAD"}, (route.path, route.methods)
    api = tree.center.api  # the system token, which may do anything that exists
    entry_id = ok(api.get("/api/v1/audit", params={"limit": 1}))["items"][0]["id"]
    before = _count(tree)
    for method, path in (("DELETE", "/api/v1/audit"), ("PUT", "/api/v1/audit"),
                         ("PATCH", "/api/v1/audit"), ("POST", "/api/v1/audit"),
                         ("DELETE", f"/api/v1/audit/{entry_id}"),
                         ("PATCH", f"/api/v1/audit/{entry_id}")):
        r = api.request(method, path, json={"action": "tampered"})
        assert r.status_code in (404, 405), (method, path, r.status_code)
    assert _count(tree) == before
    assert ok(api.get("/api/v1/audit", params={"limit": 1}))["items"][0]["id"] == entry_id
