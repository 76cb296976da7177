"""Monitoring pages and API show a signed-in user only their own subtree."""

from __future__ import annotations

import httpx
import pytest

from tests.console.conftest import PASSWORD, Tree

pytestmark = pytest.mark.integration


def test_monitoring_api_is_scoped_to_the_technicians_commune(tree: Tree) -> None:
    tech = tree.api_as("tech_a")
    overview = tech.get("/api/v1/monitoring/overview").json()
    assert {d["id"] for d in overview["devices"]} == {"loa-a1", "loa-a2"}
    assert overview["root_unit_id"] == tree.units["a"]["id"]
    assert tech.get("/api/v1/monitoring/devices/loa-b1").status_code == 404
    assert tech.get("/api/v1/monitoring/devices/loa-a1").status_code == 200
    r = tech.get("/api/v1/monitoring/overview", params={"unit_id": tree.units["b"]["id"]})
    assert r.status_code == 404
    r = tech.get("/api/v1/monitoring/reports/plays", params={"unit_id": tree.units["b"]["id"]})
    assert r.status_code == 404
    # an operator has no monitoring permission at all
    assert tree.api_as("op_a").get("/api/v1/monitoring/overview").status_code == 403


def test_monitor_pages_follow_the_console_session_scope(tree: Tree) -> None:
    with httpx.Client(base_url=tree.center.base_url, follow_redirects=True) as page:
        r = page.post("/console/login", data={"username": "op_a", "password": PASSWORD})
        assert r.status_code == 200 and r.url.path == "/console"
        html = page.get("/monitor").text
        assert "loa-a1" in html and "loa-b1" not in html
        assert page.get("/monitor/devices/loa-b1").status_code == 404
        assert page.get("/monitor/devices/loa-a1").status_code == 200
        r = page.get("/monitor/reports", params={"unit_id": tree.units["b"]["id"]})
        assert r.status_code == 404


def test_a_user_acts_only_as_their_own_officer(tree: Tree) -> None:
    api = tree.center.api
    users = {u["username"]: u for u in api.get("/api/v1/users").json()["items"]}
    forums = {}
    for code, key in (("CB-A", "a"), ("CB-B", "b")):
        r = api.post("/api/v1/training/officers", json={
            "user_id": users[f"op_{key}"]["id"], "code": code, "role": "editor"})
        assert r.status_code == 201, r.text
        r = api.post("/api/v1/forum/categories", json={
            "unit_id": tree.units[key]["id"], "name": f"Diễn đàn {key}", "description": ""})
        assert r.status_code == 201, r.text
        forums[key] = r.json()["id"]
    op_a = tree.api_as("op_a")
    for headers in ({}, {"X-Officer": "CB-B"}):  # the header names nobody any more
        seen = op_a.get("/api/v1/forum/categories", headers=headers)
        assert seen.status_code == 200
        assert [c["id"] for c in seen.json()["items"]] == [forums["a"]]
    r = tree.api_as("appr_a").get("/api/v1/forum/categories")  # no officer profile
    assert r.status_code == 403 and "training administrator" in r.json()["detail"]
