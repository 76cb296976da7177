"""The authorization sweep: every API route and console page of ``core.access.ROUTES``, called
as every role (and anonymously, and with the API token), on an object inside the caller's
subtree and on one outside it, answers what the table says.

The tree is a province with communes A and B. Every role has one user in commune A; the
objects named "outside" belong to commune B and carry the marker ``NGOAI-B`` in their names,
titles and texts, so a leak shows as the marker in any answer given to a user of A. Expected:

- anonymous: 401 on the API, a redirect to sign in on pages (public routes: anything but those);
- a role without the route's permission: 403;
- a role with it: never 401/403 on the inside object, and 403/404 (not found, as if it did not
  exist) on the outside one when the route is scoped to the subtree;
- nobody signed in at A ever receives the marker.

A route added to the app but not to the table fails earlier: ``create_app`` refuses to start.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from control_center.core.access import ROUTES, Access, Open, Scope
from control_center.core.permissions import ROLE_PERMISSIONS, Permission
from control_center.models import Role
from control_center.services.emergency_checks import CONFIRM_WORD
from firmware_sim.broker import MosquittoBroker
from tests.center.helpers import ok
from tests.support.center import CenterHandle
from tests.support.tree import add_device, add_unit
from tests.training.helpers import import_sample

MARK = "NGOAI-B"
PASSWORD = "mat-khau-quet-quyen-2026"
LAST = ("/logout",)  # these end the caller's session: called after everything else
PARAM = re.compile(r"{(\w+)}")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Objects:
    """Path parameter values: (inside commune A, outside in commune B)."""

    values: dict[str, tuple[str, str]] = field(default_factory=dict)
    bodies: dict[str, Any] = field(default_factory=dict)  # valid bodies, so scope is reached

    def fill(self, path: str, where: str) -> str | None:
        """The path with its parameters filled for ``where``; None if a parameter is unknown."""
        def value(match: re.Match[str]) -> str:
            inside, outside = self.values[match.group(1)]
            return inside if where == "inside" else outside
        try:
            return PARAM.sub(value, path)
        except KeyError:
            return None

    def scoped(self, path: str) -> bool:
        """Whether the path names an object whose inside and outside values differ."""
        return any(self.values[name][0] != self.values[name][1]
                   for name in PARAM.findall(path) if name in self.values)


@dataclass
class Caller:
    name: str
    permissions: frozenset[Permission] | None  # None: the API token (everything)
    api: httpx.Client
    pages: httpx.Client
    csrf: str = ""
    signed_in: bool = True


def _sign_in_pages(base_url: str, username: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base_url, timeout=60, follow_redirects=False)
    r = client.post("/console/login", data={"username": username, "password": PASSWORD,
                                            "next": "/console"})
    assert r.status_code == 303, f"console sign-in of {username}: {r.status_code} {r.text[:300]}"
    account = client.get("/console/account")
    found = CSRF.search(account.text)
    assert found, f"no CSRF field on /console/account for {username}"
    return client, found.group(1)


def _bearer(base_url: str, username: str) -> httpx.Client:
    r = httpx.post(f"{base_url}/api/v1/auth/login",
                   json={"username": username, "password": PASSWORD}, timeout=60)
    token = ok(r, 200)["token"]
    return httpx.Client(base_url=base_url, timeout=60,
                        headers={"Authorization": f"Bearer {token}"})


def _pair(make: Any) -> tuple[str, str]:
    """(inside, outside) ids made by ``make("a")`` and ``make("b")``."""
    return str(make("a")), str(make("b"))


def _seed_objects(center: CenterHandle, a: dict[str, Any], b: dict[str, Any],
                  op_a: httpx.Client, op_b: httpx.Client) -> Objects:
    """One object of every kind a route names, in commune A and (marked) in commune B."""
    api, base = center.api, center.base_url
    units, ops = {"a": a, "b": b}, {"a": op_a, "b": op_b}
    mark = {"a": "", "b": f" {MARK}"}
    approvers = {key: _bearer(base, f"approver_{key}") for key in units}

    def bulletin(key: str) -> int:
        made = ok(ops[key].post("/api/v1/bulletins", json={
            "title": f"Tin {key}{mark[key]}", "kind": "text", "text": f"Nội dung{mark[key]}"}))
        ok(ops[key].post(f"/api/v1/bulletins/{made['id']}/submit", json={}), 200)
        ok(approvers[key].post(f"/api/v1/bulletins/{made['id']}/approve", json={}), 200)
        return int(made["id"])

    bulletins = _pair(bulletin)

    def schedule(key: str) -> int:
        return int(ok(ops[key].post("/api/v1/schedules", json={
            "bulletin_id": int(bulletins[key == "b"]),
            "targets": {"device_ids": [f"quet-loa-{key}"]},
            "start_at": "2099-01-01T01:00:00Z"}))["id"])

    down = ok(api.post("/api/v1/bulletins", json={
        "title": "Tin tỉnh", "kind": "text", "text": "Tin của tỉnh gửi xuống"}))
    ok(api.post(f"/api/v1/bulletins/{down['id']}/publish",
                json={"unit_ids": [a["id"], b["id"]]}))
    sent_down = ok(api.get("/api/v1/distributions"))["items"]

    def distribution(key: str) -> int:
        return next(int(d["id"]) for d in sent_down if d["unit_id"] == units[key]["id"])

    def emergency(key: str) -> int:
        return int(ok(api.post("/api/v1/emergency", json={
            "unit_ids": [units[key]["id"]], "bulletin_id": int(bulletins[key == "b"]),
            "confirm": CONFIRM_WORD}))["id"])

    def group(key: str) -> int:
        return int(ok(api.post("/api/v1/groups", json={
            "name": f"Nhóm {key}{mark[key]}", "device_ids": [f"quet-loa-{key}"]}))["id"])

    def client(key: str) -> int:
        return int(ok(api.post("/api/v1/open311/clients", json={
            "name": f"Ứng dụng {key}{mark[key]}", "unit_id": units[key]["id"]}))["id"])

    keys = {key: ok(api.post("/api/v1/open311/clients", json={
        "name": f"Gửi phản ánh {key}", "unit_id": units[key]["id"]}))["api_key"]
        for key in units}
    ok(api.put("/api/v1/feedback/categories", json={
        "code": "quet-nuoc", "name_vi": "Cấp thoát nước", "unit_id": a["id"]}), 200)
    codes: dict[str, str] = {}

    def feedback(key: str) -> int:
        r = httpx.post(f"{base}/api/v1/open311/requests.json", timeout=60, data={
            "service_code": "quet-nuoc", "jurisdiction_id": units[key]["code"],
            "description": f"Cống tắc{mark[key]}", "api_key": keys[key],
            "address_string": f"Ngõ 5{mark[key]}"})
        assert r.status_code == 201, r.text
        codes[key] = r.json()[0]["service_request_id"]
        listed = ok(api.get("/api/v1/feedback", headers={"X-Unit-Id": str(units[key]["id"])}))
        return int(listed["items"][0]["id"])

    course = import_sample(api)
    lesson, quiz = course["lessons"][0]["id"], course["quizzes"][0]["id"]

    def attempt(key: str) -> int:
        return int(ok(ops[key].post(f"/api/v1/training/quizzes/{quiz}/attempts",
                                    json={}))["id"])

    threads: dict[str, int] = {}

    def forum(key: str) -> int:
        category = ok(api.post("/api/v1/forum/categories", json={
            "unit_id": units[key]["id"], "name": f"Diễn đàn {key}{mark[key]}"}))
        threads[key] = int(ok(ops[key].post(
            f"/api/v1/forum/categories/{category['id']}/threads",
            json={"title": f"Hỏi {key}{mark[key]}", "body": f"Câu hỏi{mark[key]}"}))["id"])
        return int(category["id"])

    def post(key: str) -> int:
        return int(ok(ops[key].post(f"/api/v1/forum/threads/{threads[key]}/posts",
                                    json={"body": f"Trả lời{mark[key]}"}))["id"])

    def speech(key: str) -> str:
        return str(ok(ops[key].post("/api/v1/media/speech", json={"text": "Xin chào"}),
                      202)["id"])

    objects = Objects({
        "bulletin_id": bulletins,
        "schedule_id": _pair(schedule),
        "distribution_id": _pair(distribution),
        "broadcast_id": _pair(emergency),
        "group_id": _pair(group),
        "client_id": _pair(client),
        "feedback_id": _pair(feedback),
        "ref_code": (codes["a"], codes["b"]),
        "category_id": _pair(forum),
        "thread_id": (str(threads["a"]), str(threads["b"])),
        "post_id": _pair(post),
        "attempt_id": _pair(attempt),
        "job_id": _pair(speech),
        "course_id": (str(course["id"]), str(course["id"])),
        "lesson_id": (str(lesson), str(lesson)),
        "quiz_id": (str(quiz), str(quiz)),
        "code": ("quet-nuoc", "quet-nuoc"),
        "alert_id": ("987654", "987654"),  # none raised on this quiet fleet: permission only
        "fmt": ("json", "json"),
        "sha256": ("0" * 64, "0" * 64),
    })
    for client_ in approvers.values():
        client_.close()
    return objects


@pytest.fixture
def world(center: CenterHandle, broker: MosquittoBroker) -> Iterator[tuple[Objects, list[Caller]]]:
    api = center.api
    province = add_unit(api, "quet-tinh", "province", name="Tỉnh quét")
    a = add_unit(api, "quet-xa-a", "commune", province, name="Xã A quét")
    b = add_unit(api, "quet-xa-b", "commune", province, name=f"Xã B {MARK}")
    add_device(api, "quet-loa-a", a, broker=broker, name="Loa A")
    add_device(api, "quet-loa-b", b, broker=broker, name=f"Loa {MARK}")
    users: dict[str, dict[str, Any]] = {}
    for role in Role:
        for key, unit in (("a", a), ("b", b)):
            name = f"{role.value}_{key}"
            users[name] = ok(api.post("/api/v1/users", json={
                "username": name, "password": PASSWORD, "role": role.value, "unit_id": unit["id"],
                "full_name": f"Cán bộ {name}" + (f" {MARK}" if key == "b" else "")}))
            ok(api.post("/api/v1/training/officers", json={  # every user studies too
                "user_id": users[name]["id"], "code": f"cb-{name}".replace("_", "-")[:32],
                "role": "editor"}))
    op_a, op_b = _bearer(center.base_url, "operator_a"), _bearer(center.base_url, "operator_b")

    objects = _seed_objects(center, a, b, op_a, op_b)
    objects.values.update({
        "unit_id": (str(a["id"]), str(b["id"])),
        "device_id": ("quet-loa-a", "quet-loa-b"),
        "user_id": (str(users["technician_a"]["id"]), str(users["technician_b"]["id"])),
        "action": ("enable", "enable"),
    })
    objects.bodies = {  # valid bodies where the subtree is checked after the body is read
        "POST /api/v1/devices/{device_id}/commands": {"type": "set_volume", "level": 60},
        "POST /api/v1/bulletins/{bulletin_id}/publish": {"unit_ids": [a["id"]]},
        "POST /api/v1/distributions/{distribution_id}/accept": {
            "slot": {"start_at": "2099-02-01T01:00:00Z"}},
        "POST /api/v1/distributions/{distribution_id}/decline": {"note": "không phù hợp"},
        "POST /api/v1/distributions/{distribution_id}/rank": {"rank": 1},
        "POST /api/v1/emergency/{broadcast_id}/send": {"confirm": CONFIRM_WORD},
        "POST /api/v1/feedback/{feedback_id}/triage": {"category": "quet-nuoc",
                                                       "unit_id": a["id"]},
        "POST /api/v1/feedback/{feedback_id}/assign": {"assignee": "Cán bộ A"},
        "POST /api/v1/feedback/{feedback_id}/notes": {"text": "ghi chú"},
        "POST /api/v1/feedback/{feedback_id}/answer": {"text": "đã xử lý"},
        "POST /api/v1/forum/categories/{category_id}/threads": {"title": "Hỏi", "body": "?"},
        "POST /api/v1/forum/threads/{thread_id}/posts": {"body": "trả lời"},
        "POST /api/v1/forum/threads/{thread_id}/moderate": {"action": "lock"},
        # page forms (with the session's CSRF token added)
        "POST /console/inbox/{distribution_id}/accept": {"slot_kind": "once",
                                                         "at": "2099-02-01T08:00"},
        "POST /console/inbox/{distribution_id}/decline": {"note": "không phù hợp"},
        "POST /console/inbox/{distribution_id}/rank": {"rank": "1"},
        "POST /monitor/training/forum/{category_id}/threads": {"title": "Hỏi", "body": "?"},
        "POST /monitor/training/forum/threads/{thread_id}/reply": {"body": "trả lời"},
        "POST /monitor/training/forum/threads/{thread_id}/moderate": {"action": "lock"},
    }
    callers = [Caller("anonymous", frozenset(), httpx.Client(base_url=center.base_url, timeout=60),
                      httpx.Client(base_url=center.base_url, timeout=60), signed_in=False)]
    for role in Role:
        pages, csrf = _sign_in_pages(center.base_url, f"{role.value}_a")
        callers.append(Caller(role.value, ROLE_PERMISSIONS[role],
                              _bearer(center.base_url, f"{role.value}_a"), pages, csrf))
    # last: the API token's scope is the whole tree, so what it changes in commune B (say, a
    # bulletin of B approved and sent down to A) must not count as a leak to A's users
    callers.append(Caller("api-token", None, api, httpx.Client(base_url=center.base_url,
                                                               timeout=60)))
    yield objects, callers
    for caller in callers:
        if caller.api is not api:
            caller.api.close()
        caller.pages.close()
    op_a.close()
    op_b.close()


def _expectation(access: Access, caller: Caller, *, page: bool, where: str,
                 scoped: bool) -> str:
    if access.need is Open.PUBLIC:
        return "open"
    if not caller.signed_in:
        return "sign-in"
    if caller.name == "api-token" and page:
        return "sign-in"  # the API token opens no page by itself
    if not access.allows(caller.permissions):
        return "forbidden"
    if access.officer and caller.permissions is None:
        return "forbidden"  # the API token is nobody's officer profile
    if where == "outside" and scoped and access.scope is Scope.TREE:
        return "hidden"
    return "allowed"


def _mismatch(expect: str, r: httpx.Response, *, page: bool) -> str | None:
    code = r.status_code
    if code >= 500 and not (code == 503 and "telemetry is disabled" in r.text):
        return f"server error {code}: {r.text[:160]}"
    if expect == "sign-in":
        good = (code in (303, 307) and "login" in r.headers.get("location", "")) if page \
            else code == 401
        return None if good else f"expected sign-in, got {code}"
    if expect == "forbidden":
        return None if code == 403 else f"expected 403, got {code}"
    if expect == "hidden":
        return None if code in (403, 404) else f"expected 404 (outside), got {code}"
    if expect == "allowed" and code in (401, 403):
        return f"expected allowed, got {code}: {r.text[:120].splitlines()[0]}"
    return None


def _call(caller: Caller, key: str, path: str, bodies: dict[str, Any], *,
          page: bool) -> httpx.Response:
    method = key.split(" ", 1)[0]
    if page:
        data = {"csrf": caller.csrf, **bodies.get(key, {})} if method == "POST" else None
        return caller.pages.request(method, path, data=data)
    body = bodies.get(key, {}) if method in ("POST", "PUT", "PATCH") else None
    return caller.api.request(method, path, json=body)


def test_every_route_answers_what_the_permission_table_says(
        world: tuple[Objects, list[Caller]]) -> None:
    objects, callers = world
    order = sorted(ROUTES.items(), key=lambda kv: kv[0].endswith(LAST))
    calls = leaks = 0
    problems: list[str] = []
    unfilled: set[str] = set()
    for caller in callers:
        for key, access in order:
            method, template = key.split(" ", 1)
            page = not template.startswith("/api/")
            for where in ("inside", "outside"):
                if where == "outside" and caller.permissions is None:
                    continue  # the API token has no outside
                path = objects.fill(template, where)
                if path is None:
                    unfilled.add(key)
                    continue
                scoped = objects.scoped(template)
                r = _call(caller, key, path, objects.bodies, page=page)
                calls += 1
                expect = _expectation(access, caller, page=page, where=where, scoped=scoped)
                wrong = _mismatch(expect, r, page=page)
                if wrong:
                    problems.append(f"{caller.name:16} {where:7} {key}: {wrong}")
                if caller.name != "api-token" and access.need is not Open.PUBLIC \
                        and MARK in r.text:  # a public route's answer is public by design
                    leaks += 1
                    problems.append(f"{caller.name:16} {where:7} {key}: LEAK of commune B")
    print(f"authorization sweep: {len(ROUTES)} routes × {len(callers)} callers × 2 scopes, "
          f"{calls} calls, {leaks} leaks, {len(problems)} mismatches")
    assert not unfilled, f"routes with a path parameter the sweep has no object for: {unfilled}"
    assert not problems, "\n".join(problems)
