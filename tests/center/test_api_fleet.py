"""Auth, clock, health, units, devices and groups over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from tests.center.helpers import device, ok, uid, unit
from tests.support.center import CenterHandle

pytestmark = pytest.mark.integration


def test_token_is_required_except_for_public_endpoints(center: CenterHandle) -> None:
    with httpx.Client(base_url=center.base_url) as anon:
        r = anon.get("/api/v1/units")
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer" in r.json()["detail"]
        r = anon.get("/api/v1/units", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
        assert "sign in again" in r.json()["detail"]
        assert anon.get("/api/v1/time").status_code == 200
        assert anon.get("/healthz").status_code == 200
        assert anon.get("/api/v1/openapi.json").status_code == 200


def test_time_and_health(center: CenterHandle) -> None:
    body = ok(center.api.get("/api/v1/time"))
    now = datetime.fromisoformat(body["now"])
    assert now.utcoffset() is not None
    assert abs((now - datetime.now(UTC)).total_seconds()) < 5
    assert abs(body["epoch_ms"] / 1000 - now.timestamp()) < 0.01
    health = ok(center.api.get("/healthz"))
    assert health["status"] == "ok"
    assert health["mqtt"]["connected"] is True


def test_units_any_depth_and_recursive_device_listing(center: CenterHandle) -> None:
    api = center.api
    province = unit(api, "province")
    district = unit(api, "district", province)
    commune = unit(api, "commune", district)
    d1 = device(api, commune)
    d2 = device(api, district)
    assert ok(api.get(f"/api/v1/units/{commune['id']}"))["parent_id"] == district["id"]
    children = ok(api.get("/api/v1/units", params={"parent_id": province["id"]}))
    assert [u["id"] for u in children["items"]] == [district["id"]]
    below = ok(api.get(f"/api/v1/units/{province['id']}/devices", params={"recursive": True}))
    assert {d["id"] for d in below["items"]} == {d1["id"], d2["id"]}
    direct = ok(api.get(f"/api/v1/units/{district['id']}/devices", params={"recursive": False}))
    assert [d["id"] for d in direct["items"]] == [d2["id"]]
    listed = ok(api.get("/api/v1/devices", params={"unit_id": province["id"], "recursive": True}))
    assert listed["count"] == 2


def test_devices_page_by_id(center: CenterHandle) -> None:
    api = center.api
    commune = unit(api, "commune")
    made = sorted(device(api, commune)["id"] for _ in range(5))
    where = {"unit_id": commune["id"]}
    pages, after = [], None
    while True:
        page = ok(api.get("/api/v1/devices", params={**where, "limit": 2,
                                                      **({"after": after} if after else {})}))
        pages.append([d["id"] for d in page["items"]])
        if page["count"] < 2:
            break
        after = pages[-1][-1]
    assert pages == [made[0:2], made[2:4], made[4:5]]
    assert api.get("/api/v1/devices", params={"limit": 0}).status_code == 422
    assert api.get("/api/v1/devices", params={"limit": 1001}).status_code == 422


def test_unit_refusals(center: CenterHandle) -> None:
    api = center.api
    r = api.post("/api/v1/units", json={"code": uid("x"), "name": "X", "level": "commune",
                                        "parent_id": 98765})
    assert (r.status_code, r.json()["detail"]) == (422, "parent unit 98765 does not exist")
    r = api.post("/api/v1/units", json={"code": uid("x"), "name": "X", "level": "  "})
    assert r.status_code == 422
    assert "level" in r.json()["detail"]
    # PostgreSQL refuses a NUL in text, SQLite would keep it: the API refuses it on both
    r = api.post("/api/v1/units", json={"code": uid("x"), "name": "X\u0000Y", "level": "commune"})
    assert r.status_code == 422 and "NUL" in r.json()["detail"], r.text
    code = uid("dup")
    unit(api, code=code)
    r = api.post("/api/v1/units", json={"code": code, "name": "X", "level": "commune"})
    assert (r.status_code, r.json()["detail"]) == (409, f"a unit with code '{code}' already exists")
    r = api.get("/api/v1/units/424242")
    assert (r.status_code, r.json()["detail"]) == (404, "unit 424242 does not exist")


def test_device_registration_returns_the_password_once(center: CenterHandle) -> None:
    api = center.api
    commune = unit(api)
    created = device(api, commune, device_id=uid("loa-xa"))
    assert created["mqtt_username"] == created["id"]
    assert len(created["mqtt_password"]) >= 24
    assert created["online"] is False
    assert created["delivery"]["devices"] == 1
    shown = ok(api.get(f"/api/v1/devices/{created['id']}"))
    assert "mqtt_password" not in shown
    manifest = ok(api.get(f"/api/v1/devices/{created['id']}/manifest"))
    assert manifest["version"] == 1
    assert manifest["manifest"]["items"] == []
    assert manifest["published_at"] is not None


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"id": "Loa 1", "name": "x", "unit_id": 1}, 422, "invalid device id 'Loa 1'"),
        ({"id": "loa-1\n", "name": "x", "unit_id": 1}, 422, "invalid device id 'loa-1\\n'"),
        ({"id": "loa-unknown-unit", "name": "x", "unit_id": 99999}, 422,
         "unit 99999 does not exist"),
        ({"id": "loa-bad-kind", "name": "x", "unit_id": 1, "kind": "radio"}, 422, "body.kind"),
        ({"id": "loa-extra", "name": "x", "unit_id": 1, "colour": "red"}, 422, "body.colour"),
    ],
)
def test_device_refusals(center: CenterHandle, body: dict[str, object], status: int,
                         fragment: str) -> None:
    unit(center.api)  # makes sure unit 1 exists
    r = center.api.post("/api/v1/devices", json=body)
    assert r.status_code == status, r.text
    assert fragment in r.json()["detail"]


def test_unknown_device_is_named(center: CenterHandle) -> None:
    r = center.api.get("/api/v1/devices/khong-co")
    assert (r.status_code, r.json()["detail"]) == (404, "device 'khong-co' does not exist")
    r = center.api.get("/api/v1/devices/khong-co/manifest")
    assert r.status_code == 404


def test_groups(center: CenterHandle) -> None:
    api = center.api
    commune = unit(api)
    a, b = device(api, commune), device(api, commune)
    name = uid("nhóm chợ")
    group = ok(api.post("/api/v1/groups", json={"name": name, "device_ids": [b["id"], a["id"]]}))
    assert group["device_ids"] == sorted([a["id"], b["id"]])
    assert ok(api.get(f"/api/v1/groups/{group['id']}"))["name"] == name
    assert group["id"] in [g["id"] for g in ok(api.get("/api/v1/groups"))["items"]]
    r = api.post("/api/v1/groups", json={"name": uid("g"), "device_ids": ["ma-1", a["id"]]})
    assert (r.status_code, r.json()["detail"]) == (422, "unknown device(s): 'ma-1'")


def test_creations_are_audited(center: CenterHandle) -> None:
    commune = unit(center.api)
    audit = ok(center.api.get("/api/v1/audit", params={"object_type": "unit",
                                                       "object_id": commune["id"]}))
    assert audit["count"] == 1
    entry = audit["items"][0]
    assert (entry["actor"], entry["action"], entry["source_ip"]) == ("api-token", "create",
                                                                     "127.0.0.1")
    assert entry["detail"]["code"] == commune["code"]
