"""Sign-in: argon2 hashes, throttling per address, one message for every refusal, expiring
sessions, one-time sign-in links, CSRF on the pages' forms, and the sign-in page."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser
from sqlalchemy import select

from control_center.__main__ import main
from control_center.accounts.service import SIGN_IN_FAILED
from control_center.models import (
    Alert,
    AlertKind,
    AlertState,
    AuditEntry,
    Device,
    SignInLink,
    User,
    UserSession,
)
from firmware_sim.broker import MosquittoBroker
from tests.center.helpers import ok
from tests.console.conftest import PASSWORD, Tree, sign_in
from tests.support.browser import PHONE, run_in_browser, screenshot
from tests.support.center import CenterHandle, running_center
from tests.support.signin import sign_in_link

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


def _from(address: str, base_url: str) -> httpx.Client:
    """A client whose requests come from ``address`` (another loopback address)."""
    return httpx.Client(base_url=base_url, timeout=30,
                        transport=httpx.HTTPTransport(local_address=address))


def _try(client: httpx.Client, username: str, password: str) -> httpx.Response:
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def test_failures_from_one_address_lock_it_out_but_not_the_user_elsewhere(tree: Tree) -> None:
    """Failing on purpose from address A locks the account for A only: the real user signs in
    from B; A is throttled (429, Retry-After) once it failed too often; all of it audited."""
    settings, base = tree.center.settings, tree.center.base_url
    with _from("127.0.0.2", base) as attacker, _from("127.0.0.3", base) as real_user:
        for _ in range(settings.lockout_failures):
            assert _try(attacker, "op_b", "wrong-password-here").status_code == 401
        refused = _try(attacker, "op_b", PASSWORD)  # locked for A: the right password too
        assert refused.status_code == 401 and refused.json()["detail"] == SIGN_IN_FAILED
        assert ok(_try(real_user, "op_b", PASSWORD), 200)["username"] == "op_b"
        answers = [_try(attacker, f"user-{n}", "wrong-password-here").status_code
                   for n in range(settings.signin_address_failures)]
        assert answers.count(429) >= 1 and answers[-1] == 429
        throttled = _try(attacker, "op_b", PASSWORD)
        assert throttled.status_code == 429 and "try again in" in throttled.json()["detail"]
        assert 0 < int(throttled.headers["Retry-After"]) <= settings.lockout_minutes * 60
        assert ok(_try(real_user, "op_b", PASSWORD), 200)["username"] == "op_b"
    with tree.center.center.read_sessions() as session:
        actions = list(session.scalars(select(AuditEntry.action).where(
            AuditEntry.object_type == "user", AuditEntry.actor == "op_b")))
        locked = session.scalar(select(AuditEntry).where(AuditEntry.action == "login_locked"))
    assert actions.count("login_failed") == settings.lockout_failures - 1
    assert locked is not None and locked.flagged and locked.source_ip == "127.0.0.2"
    assert actions.count("login") == 2


def test_one_message_for_unknown_user_wrong_password_disabled_and_locked(tree: Tree) -> None:
    base = tree.center.base_url
    with tree.center.center.sessions() as session:
        disabled = session.scalar(select(User).where(User.username == "appr_b"))
        assert disabled is not None
        disabled.active = False
        session.commit()
    with _from("127.0.0.4", base) as client:
        unknown = _try(client, "nobody-here", PASSWORD)
        wrong = _try(client, "op_a", "not-the-password")
        off = _try(client, "appr_b", PASSWORD)
        for _ in range(tree.center.settings.lockout_failures):
            _try(client, "prov_op", "not-the-password")
        locked = _try(client, "prov_op", PASSWORD)
    answers = [(r.status_code, r.json()["detail"]) for r in (unknown, wrong, off, locked)]
    assert answers == [(401, SIGN_IN_FAILED)] * 4, answers
    assert "Sai tên đăng nhập hoặc mật khẩu" in SIGN_IN_FAILED and " / wrong" in SIGN_IN_FAILED


def test_the_sign_in_page_says_when_an_address_is_throttled(
    tmp_path: Path, broker: MosquittoBroker,
) -> None:
    with running_center(tmp_path / "c", mqtt_host=broker.host, mqtt_port=broker.center_port,
                        mqtt_password=broker.center_password, lockout_failures=2,
                        signin_address_failures=3) as center, \
            _from("127.0.0.5", center.base_url) as client:
        for _ in range(3):
            r = client.post("/console/login", data={"username": "x", "password": "wrong-one"})
            assert r.status_code == 401 and "Sai tên đăng nhập hoặc mật khẩu" in r.text
        r = client.post("/console/login", data={"username": "x", "password": "wrong-one"})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
        assert "Quá nhiều lần đăng nhập sai từ địa chỉ này" in r.text
        assert "too many failed sign-ins from this address" in r.text


class _Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture
def clocked(tmp_path: Path, broker: MosquittoBroker) -> Iterator[tuple[CenterHandle, _Clock]]:
    clock = _Clock()
    with running_center(tmp_path / "c", mqtt_host=broker.host, mqtt_port=broker.center_port,
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


def test_a_one_time_link_signs_in_once_expires_and_replaces_token_in_the_url(
    clocked: tuple[CenterHandle, _Clock], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    center, clock = clocked
    for name in ("TT_ENV", "TT_API_TOKEN", "TT_SIGNING_KEY_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TT_DATA_DIR", str(center.data_dir))
    monkeypatch.setenv("TT_DATABASE_URL", center.settings.database_url)  # SQLite or PostgreSQL
    monkeypatch.setenv("TT_PUBLIC_BASE_URL", center.base_url)

    def printed_link(*args: str) -> str:
        assert main(["sign-in-link", *args]) == 0
        link = capsys.readouterr().out.strip()
        assert link.startswith(f"{center.base_url}/monitor/sign-in/")
        return link

    link = printed_link("--next", "/monitor/alerts?state=open")
    code = link.rsplit("/", 1)[1].split("?")[0]
    with center.center.read_sessions() as session:
        stored = session.scalar(select(SignInLink.code_hash))
    assert stored == hashlib.sha256(code.encode()).hexdigest()  # only the hash is kept
    with httpx.Client(follow_redirects=False) as browser_like:
        r = browser_like.get(link)
        assert r.status_code == 303 and r.headers["location"] == "/monitor/alerts?state=open"
        assert "tt_pages" in r.cookies
        assert browser_like.get(f"{center.base_url}/monitor/alerts").status_code == 200
    with httpx.Client(follow_redirects=False) as second:
        r = second.get(link)  # used once already
        assert r.status_code == 401 and "đã dùng hoặc đã hết hạn" in r.text
        assert second.get(f"{center.base_url}/monitor").status_code == 303

    ok(center.api.post("/api/v1/users", json={"username": "op", "password": PASSWORD,
                                              "role": "operator", "unit_id": ok(center.api.post(
                                                  "/api/v1/units", json={
                                                      "code": "u3", "name": "Xã W",
                                                      "level": "commune"}))["id"]}))
    user_link = printed_link("--user", "op")
    clock.offset = timedelta(minutes=center.settings.sign_in_link_minutes, seconds=1)
    with httpx.Client(follow_redirects=False) as late:
        assert late.get(user_link).status_code == 401  # expired
    clock.offset = timedelta()
    with httpx.Client(follow_redirects=False) as on_time:
        r = on_time.get(printed_link("--user", "op"))
        assert r.status_code == 303 and "tt_session" in r.cookies
        assert on_time.get(f"{center.base_url}/api/v1/auth/me").json()["username"] == "op"

    with httpx.Client(follow_redirects=False) as old_style:  # ?token= signs in no more
        r = old_style.get(f"{center.base_url}/monitor", params={"token": center.api_token})
        assert r.status_code == 303 and r.headers["location"].startswith("/monitor/login")
        assert "tt_pages" not in r.cookies


def _csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)


def test_an_alert_is_acknowledged_only_with_the_forms_csrf_token(tree: Tree) -> None:
    base = tree.center.base_url
    with tree.center.center.sessions() as session:
        # loa-a1 offline for an hour: the monitor (every 10 s) holds the alert open rather than
        # resolving it while the test runs
        device = session.get(Device, "loa-a1")
        assert device is not None and not device.online
        device.status_changed_at = tree.center.center.clock() - timedelta(hours=1)
        alert = Alert(device_id="loa-a1", kind=AlertKind.OFFLINE, state=AlertState.OPEN,
                      detail="test", opened_at=tree.center.center.clock())
        session.add(alert)
        session.commit()
        alert_id = alert.id

    def state() -> AlertState:
        with tree.center.center.read_sessions() as session:
            found = session.get(Alert, alert_id)
            assert found is not None
            return found.state

    with httpx.Client(base_url=base, follow_redirects=False) as technician:
        assert technician.post("/console/login", data={
            "username": "tech_a", "password": PASSWORD}).status_code == 303
        token = _csrf_of(technician.get("/monitor/alerts"))
        for form in ({}, {"csrf": "forged-token"}):
            r = technician.post(f"/monitor/alerts/{alert_id}/acknowledge", data=form)
            assert r.status_code == 403 and "CSRF" in r.text
        assert state() is AlertState.OPEN
        r = technician.post(f"/monitor/alerts/{alert_id}/acknowledge", data={"csrf": token})
        assert r.status_code == 303 and state() is AlertState.ACKNOWLEDGED
    with httpx.Client(base_url=base, follow_redirects=False) as viewer:  # the viewer sign-in
        assert viewer.get(sign_in_link(tree.center)).status_code == 303
        token = _csrf_of(viewer.get("/monitor/alerts"))
        assert viewer.post(f"/monitor/alerts/{alert_id}/resolve").status_code == 403
        r = viewer.post(f"/monitor/alerts/{alert_id}/resolve", data={"csrf": token})
        assert r.status_code == 303 and state() is AlertState.RESOLVED
