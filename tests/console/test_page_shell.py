"""One page shell: a console user's session opens the training pages too; the officer they
pick is signed onto the same ``tt_session`` cookie, which keeps working for the API and the
console; signing out on the monitoring pages ends the session."""

from __future__ import annotations

import httpx
import pytest

from tests.console.conftest import PASSWORD, Tree

pytestmark = pytest.mark.integration


def test_a_console_user_picks_an_officer_in_the_one_session_cookie(tree: Tree) -> None:
    r = tree.center.api.post("/api/v1/training/officers", json={
        "code": "CB-SHELL", "name": "Cán bộ vỏ", "unit_id": tree.units["a"]["id"],
        "role": "editor"})
    assert r.status_code == 201, r.text
    officer_id = r.json()["id"]
    with httpx.Client(base_url=tree.center.base_url, follow_redirects=True) as page:
        r = page.post("/console/login", data={"username": "op_a", "password": PASSWORD})
        assert r.status_code == 200 and r.url.path == "/console"
        r = page.get("/monitor/training")
        assert r.url.path == "/monitor/training/officer" and "Chọn cán bộ" in r.text
        r = page.post("/monitor/training/officer", data={"officer_id": str(officer_id),
                                                         "next": "/monitor/training"})
        assert r.status_code == 200 and r.url.path == "/monitor/training"
        assert "Cán bộ vỏ" in r.text
        assert [c.name for c in page.cookies.jar] == ["tt_session"]
        assert page.get("/api/v1/bulletins").status_code == 200  # the API reads it too
        assert page.get("/console").status_code == 200
        r = page.post("/monitor/logout")
        assert r.url.path == "/monitor/login"
        assert page.get("/console").url.path == "/console/login"
