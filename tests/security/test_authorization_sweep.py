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
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from control_center.core.access import ROUTES, Access, Open, Scope
from control_center.core.permissions import ROLE_PERMISSIONS, Permission
from control_center.models import Role
from firmware_sim.broker import MosquittoBroker
from tests.security.world import MARK, PASSWORD, Objects, bearer, build_world
from tests.support.center import CenterHandle

LAST = ("/logout",)  # these end the caller's session: called after everything else
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


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


@pytest.fixture
def world(center: CenterHandle, broker: MosquittoBroker) -> Iterator[tuple[Objects, list[Caller]]]:
    api = center.api
    objects = build_world(center, broker)
    callers = [Caller("anonymous", frozenset(), httpx.Client(base_url=center.base_url, timeout=60),
                      httpx.Client(base_url=center.base_url, timeout=60), signed_in=False)]
    for role in Role:
        pages, csrf = _sign_in_pages(center.base_url, f"{role.value}_a")
        callers.append(Caller(role.value, ROLE_PERMISSIONS[role],
                              bearer(center.base_url, f"{role.value}_a"), pages, csrf))
    # last: the API token's scope is the whole tree, so what it changes in commune B (say, a
    # bulletin of B approved and sent down to A) must not count as a leak to A's users
    callers.append(Caller("api-token", None, api, httpx.Client(base_url=center.base_url,
                                                               timeout=60)))
    yield objects, callers
    for caller in callers:
        if caller.api is not api:
            caller.api.close()
        caller.pages.close()


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
    if access.center_wide and caller.permissions is not None:
        return "forbidden"  # every sweep user belongs to commune A, not a root unit
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
                if where == "outside" and not scoped:
                    continue  # the same call as inside (a list filters by the caller's subtree)
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
    print(f"authorization sweep: {len(ROUTES)} routes × {len(callers)} callers, inside and "
          f"(for the {sum(objects.scoped(k.split(' ', 1)[1]) for k in ROUTES)} routes naming an "
          f"object) outside the subtree: {calls} calls, {leaks} leaks, {len(problems)} "
          "mismatches")
    assert not unfilled, f"routes with a path parameter the sweep has no object for: {unfilled}"
    assert not problems, "\n".join(problems)
