"""Administrators manage their subtree's accounts; everyone changes their own password."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from control_center.models import User
from tests.console.conftest import PASSWORD, Tree, sign_in
from tests.support.browser import run_in_browser, screenshot

pytestmark = pytest.mark.integration
NEW_PASSWORD = "mat-khau-moi-cua-toi-2026"


def _users(tree: Tree) -> int:
    with tree.center.center.read_sessions() as session:
        return session.scalar(select(func.count()).select_from(User)) or 0


def _login(tree: Tree, username: str, password: str) -> httpx.Response:
    return httpx.post(f"{tree.center.base_url}/api/v1/auth/login",
                      json={"username": username, "password": password}, timeout=30)


def _post(page: Page, button: str) -> int:
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click(button)
    return answer.value.status


def test_admin_creates_disables_and_unlocks_accounts_of_the_subtree(tree: Tree) -> None:
    base, unit_a = tree.center.base_url, tree.units["a"]["id"]
    before = _users(tree)
    for _ in range(tree.center.settings.lockout_failures):
        assert _login(tree, "op_b", "not-the-password").status_code == 401

    def scenario(browser: Browser) -> None:
        admin = sign_in(browser, base, "admin")
        admin.click("text=Người dùng")
        expect(admin.locator("tr[data-user='op_b']")).to_contain_text("Tạm khóa")
        admin.fill("#f-username", "Bad Name!")
        admin.fill("#f-full_name", "Cán bộ mới")
        admin.select_option("#f-unit_id", str(unit_a))
        admin.fill("#f-password", "short")
        admin.fill("#f-password2", "other")
        assert _post(admin, "#create-user") == 422
        for field in ("username", "password", "password2"):
            expect(admin.locator(f"#err-{field}")).to_be_visible()
        assert admin.input_value("#f-full_name") == "Cán bộ mới"  # kept
        screenshot(admin, "console-users-errors")
        admin.fill("#f-username", "op_a")  # taken
        admin.fill("#f-password", PASSWORD)
        admin.fill("#f-password2", PASSWORD)
        assert _post(admin, "#create-user") == 422
        expect(admin.locator("#err-username")).to_contain_text("taken")
        assert _users(tree) == before
        assert admin.input_value("#f-password") == ""  # passwords are never sent back
        admin.fill("#f-username", "canbo.moi")
        admin.fill("#f-password", PASSWORD)
        admin.fill("#f-password2", PASSWORD)
        admin.select_option("#f-role", "technician")
        assert _post(admin, "#create-user") == 303
        expect(admin.locator("#flash")).to_be_visible()
        expect(admin.locator("tr[data-user='canbo.moi']")).to_contain_text("Kỹ thuật")
        screenshot(admin, "console-users")

        newcomer = sign_in(browser, base, "canbo.moi")
        admin.locator("tr[data-user='canbo.moi'] button.danger").click()
        expect(admin.locator("tr[data-user='canbo.moi']")).to_contain_text("Đã khóa")
        newcomer.goto(f"{base}/console")  # the disabled account's session is over
        assert "/console/login" in newcomer.url
        admin.locator("tr[data-user='op_b'] button", has_text="Mở khóa").click()
        expect(admin.locator("tr[data-user='op_b']")).to_contain_text("Hoạt động")
        newcomer.context.close()
        admin.context.close()

        operator = sign_in(browser, base, "op_a")
        assert operator.locator("text=Người dùng").count() == 0
        response = operator.goto(f"{base}/console/users")
        assert response is not None and response.status == 403
        operator.context.close()

    run_in_browser(scenario)
    assert _users(tree) == before + 1
    assert _login(tree, "op_b", PASSWORD).status_code == 200  # unlocked
    assert _login(tree, "canbo.moi", PASSWORD).status_code == 401  # disabled


def test_changing_ones_password_ends_the_other_sessions(tree: Tree) -> None:
    base = tree.center.base_url
    other = tree.api_as("appr_a")  # a second session of the same person
    assert other.get("/api/v1/auth/me").status_code == 200

    def scenario(browser: Browser) -> None:
        page = sign_in(browser, base, "appr_a")
        page.click("#account-link")
        page.fill("#f-current", "wrong-current-password")
        page.fill("#f-new", NEW_PASSWORD)
        page.fill("#f-new2", NEW_PASSWORD)
        assert _post(page, "#change-password") == 422
        expect(page.locator("#err-current")).to_contain_text("current password is wrong")
        page.fill("#f-current", PASSWORD)
        page.fill("#f-new", NEW_PASSWORD)
        page.fill("#f-new2", NEW_PASSWORD)
        assert _post(page, "#change-password") == 303
        expect(page.locator("#flash")).to_be_visible()
        screenshot(page, "console-account")
        page.goto(f"{base}/console")  # this session stays signed in
        assert page.url.endswith("/console")
        page.context.close()

    run_in_browser(scenario)
    assert other.get("/api/v1/auth/me").status_code == 401
    assert _login(tree, "appr_a", PASSWORD).status_code == 401
    assert _login(tree, "appr_a", NEW_PASSWORD).status_code == 200
