"""One page shell: a console user's session opens the training pages as their own officer
(no picker, no officer cookie) in the same ``tt_session`` cookie, which keeps working for the
API and the console; signing out on the monitoring pages ends the session."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.console.conftest import PASSWORD, Tree

pytestmark = pytest.mark.integration


def test_a_console_user_is_their_own_officer_in_the_one_session_cookie(tree: Tree) -> None:
    users = {u["username"]: u for u in tree.center.api.get("/api/v1/users").json()["items"]}
    r = tree.center.api.post("/api/v1/training/officers", json={
        "user_id": users["op_a"]["id"], "code": "CB-SHELL", "role": "editor"})
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "Cán bộ op_a"  # the user's name and unit
    assert r.json()["unit_id"] == tree.units["a"]["id"]
    with httpx.Client(base_url=tree.center.base_url, follow_redirects=True) as page:
        r = page.post("/console/login", data={"username": "op_a", "password": PASSWORD})
        assert r.status_code == 200 and r.url.path == "/console"
        home = page.get("/monitor/training")
        assert home.status_code == 200 and home.url.path == "/monitor/training"
        assert "Cán bộ op_a" in home.text and "CB-SHELL" in home.text
        assert page.get("/monitor/training/officer").status_code == 404  # no picker
        assert [c.name for c in page.cookies.jar] == ["tt_session"]
        assert page.get("/api/v1/bulletins").status_code == 200  # the API reads it too
        assert page.get("/console").status_code == 200
        csrf = re.search(r'name="csrf" value="([^"]+)"', home.text)
        assert csrf is not None
        r = page.post("/monitor/logout", data={"csrf": csrf.group(1)})
        assert r.url.path == "/monitor/login"
        assert page.get("/console").url.path == "/console/login"
