"""Sign-in: argon2 hashes, lock-out, expiring sessions, CSRF, and the sign-in page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser
from sqlalchemy import select

from control_center.models import AuditEntry, User, UserSession
from firmware_sim.broker import MosquittoBroker
from tests.center.helpers import ok
from tests.console.conftest import PASSWORD, Tree, sign_in
from tests.support.browser import PHONE, run_in_browser, screenshot
from tests.support.center import CenterHandle, running_center

pytestmark = pytest.mark.integration


def _login(base_url: str, username: str, password: str) -> httpx.Response:
    return httpx.post(f"{base_url}/api/v1/auth/login",
                      json={"username": username, "password": password}, timeout=30)


def test_password_is_stored_as_argon2id_and_login_gives_a_scoped_token(tree: Tree) -> None:
    center = tree.center
    with center.center.read_sessions() as session:
        stored = session.scalar(select(User.password_hash).where(User.username == "op_a"))
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored
    api = tree.api_as("op_a")
    me = ok(api.get("/api/v1/auth/me"))
    assert (me["username"], me["role"], me["unit_id"]) == ("op_a", "operator",
                                                           tree.units["a"]["id"])
    assert "approve" not in me["permissions"] and "schedule" in me["permissions"]
    # an operator cannot create users (403 names the role), an admin can only below itself
    r = api.post("/api/v1/users", json={"username": "x1", "password": PASSWORD,
                                        "role": "operator", "unit_id": tree.units["a"]["id"]})
    assert r.status_code == 403 and "operator" in r.json()["detail"]
    r = tree.api_as("admin").post("/api/v1/users", json={
        "username": "weak", "password": "short", "role": "operator",
        "unit_id": tree.units["a"]["id"]})
    assert r.status_code == 422 and "10" in r.json()["detail"]


def test_repeated_failures_lock_the_account_and_are_audited(tree: Tree) -> None:
    base = tree.center.base_url
    for _ in range(tree.center.settings.lockout_failures):
        r = _login(base, "op_b", "wrong-password-here")
        assert r.status_code == 401
    r = _login(base, "op_b", PASSWORD)  # the right password no longer opens it
    assert r.status_code == 401 and "locked" in r.json()["detail"]
    with tree.center.center.read_sessions() as session:
        actions = list(session.scalars(select(AuditEntry.action).where(
            AuditEntry.object_type == "user", AuditEntry.actor == "op_b")))
        flagged = session.scalar(select(AuditEntry.flagged).where(
            AuditEntry.action == "login_locked"))
    assert actions.count("login_failed") == tree.center.settings.lockout_failures - 1
    assert "login_locked" in actions and flagged is True
    assert _login(base, "nobody", PASSWORD).status_code == 401


class _Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture
def clocked(tmp_path: Path, broker: MosquittoBroker) -> Iterator[tuple[CenterHandle, _Clock]]:
    clock = _Clock()
    with running_center(tmp_path / "c", mqtt_host=broker.host, mqtt_port=broker.port,
                        mqtt_password=broker.center_password, clock=clock) as handle:
        yield handle, clock


def test_sessions_expire_when_idle_and_logout_ends_them(
    clocked: tuple[CenterHandle, _Clock],
) -> None:
    center, clock = clocked
    unit = ok(center.api.post("/api/v1/units", json={"code": "u1", "name": "Xã U",
                                                     "level": "commune"}))
    ok(center.api.post("/api/v1/users", json={"username": "op", "password": PASSWORD,
                                              "role": "operator", "unit_id": unit["id"]}))
    token = ok(_login(center.base_url, "op", PASSWORD), 200)["token"]
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=center.base_url, headers=auth) as api:
        assert api.get("/api/v1/auth/me").status_code == 200
        clock.offset = timedelta(minutes=center.settings.session_idle_minutes + 1)
        r = api.get("/api/v1/auth/me")
        assert r.status_code == 401 and "expired" in r.json()["detail"]
    clock.offset = timedelta()
    token = ok(_login(center.base_url, "op", PASSWORD), 200)["token"]
    with httpx.Client(base_url=center.base_url,
                      headers={"Authorization": f"Bearer {token}"}) as api:
        assert api.post("/api/v1/auth/logout").status_code == 204
        assert api.get("/api/v1/auth/me").status_code == 401


def test_cookie_session_needs_the_csrf_token_to_write(tree: Tree) -> None:
    """The console cookie works for the API's reads; writes also need X-CSRF-Token."""
    base = tree.center.base_url
    with httpx.Client(base_url=base, follow_redirects=False) as browser_like:
        r = browser_like.post("/console/login", data={"username": "admin", "password": PASSWORD})
        assert r.status_code == 303 and "tt_session" in r.cookies
        assert browser_like.get("/api/v1/auth/me").json()["username"] == "admin"
        r = browser_like.post("/api/v1/units", json={"code": "x", "name": "X", "level": "thon",
                                                     "parent_id": tree.units["a"]["id"]})
        assert r.status_code == 403 and "X-CSRF-Token" in r.json()["detail"]
        # a console form posted without the hidden csrf field is refused too
        r = browser_like.post("/console/logout", data={})
        assert r.status_code == 403


def test_sign_in_page_shows_errors_beside_the_field_and_works_on_a_phone(tree: Tree) -> None:
    base = tree.center.base_url

    def scenario(browser: Browser) -> None:
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        page = context.new_page()
        page.goto(f"{base}/console?x=1")
        page.wait_for_url(f"{base}/console/login?next=%2Fconsole%3Fx%3D1")
        screenshot(page, "console-login")
        page.fill("#f-username", "op_a")
        page.fill("#f-password", "not-the-password")
        page.click("button[type=submit]")
        error = page.locator("#err-password")
        assert "Sai tên đăng nhập hoặc mật khẩu" in error.inner_text()
        assert page.input_value("#f-username") == "op_a"  # what was typed is kept
        screenshot(page, "console-login-error")
        page.fill("#f-password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/console?x=1")
        context.close()
        phone = sign_in(browser, base, "appr_a", viewport=PHONE)
        assert phone.locator("text=Duyệt tin / approver").count() == 1
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the start page scrolls sideways on a phone ({width}px)"
        screenshot(phone, "console-home-phone")
        phone.context.close()

    run_in_browser(scenario)


def test_a_session_in_use_stays_open_and_its_last_use_is_recorded(
    clocked: tuple[CenterHandle, _Clock],
) -> None:
    """Idle expiry slides with use (refreshed by a short write, at most once a minute), while
    the absolute lifetime still ends the session."""
    center, clock = clocked
    unit = ok(center.api.post("/api/v1/units", json={"code": "u2", "name": "Xã V",
                                                     "level": "commune"}))
    ok(center.api.post("/api/v1/users", json={"username": "op2", "password": PASSWORD,
                                              "role": "operator", "unit_id": unit["id"]}))
    token = ok(_login(center.base_url, "op2", PASSWORD), 200)["token"]
    idle = timedelta(minutes=center.settings.session_idle_minutes)
    with httpx.Client(base_url=center.base_url,
                      headers={"Authorization": f"Bearer {token}"}) as api:
        lifetime = timedelta(hours=center.settings.session_hours)
        step = 1
        while idle * 0.8 * step < lifetime:  # used every 0.8 × idle: never idle too long
            clock.offset = idle * 0.8 * step
            assert api.get("/api/v1/auth/me").status_code == 200, clock.offset
            step += 1
        with center.center.read_sessions() as session:
            last = session.scalar(select(UserSession.last_seen_at))
        assert last is not None and abs((last - clock()).total_seconds()) < 5
        clock.offset = lifetime + timedelta(minutes=1)  # in use, but past its lifetime
        assert clock() - last < idle
        r = api.get("/api/v1/auth/me")
        assert r.status_code == 401 and "expired" in r.json()["detail"]
