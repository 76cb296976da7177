"""Enrolment codes, CSV import, retire/revoke and signing-key rotation through the real API
(one broker and center for the module). The device's side is tests/e2e/test_device_lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update

from control_center.api.routes.enrol import WRONG_CODES
from control_center.models import EnrolmentCode
from firmware_sim.broker import MosquittoBroker, probe_login
from tests.center.helpers import ok, uid, unit
from tests.support.center import CenterHandle


def _code(api: httpx.Client, device_id: str, **body: float) -> dict[str, str]:
    return ok(api.post(f"/api/v1/devices/{device_id}/enrolment-codes", json=body or None), 201)


def _enrol(center: CenterHandle, code: str) -> httpx.Response:
    return httpx.post(f"{center.base_url}/api/v1/enrol", json={"code": code}, timeout=30)


def _new_device(api: httpx.Client, commune: dict[str, object]) -> str:
    device_id = uid("loa")
    ok(api.post("/api/v1/devices", json={"id": device_id, "name": "Loa", "unit_id":
                                         commune["id"]}), 201)
    return device_id


def test_a_code_works_once_for_its_device_and_every_refusal_says_why(
    center: CenterHandle, module_broker: MosquittoBroker,
) -> None:
    commune = unit(center.api)
    device_id = _new_device(center.api, commune)
    first = _code(center.api, device_id)
    assert first["qr_svg"].lstrip().startswith("<?xml") and "<svg" in first["qr_svg"]
    assert first["command"].endswith(f"--code {first['code']}")
    second = _code(center.api, device_id, valid_hours=1)

    replaced = _enrol(center, first["code"])
    assert replaced.status_code == 409 and "replaced" in replaced.json()["detail"]

    answer = _enrol(center, second["code"].lower().replace("-", " "))  # as a person types it
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["device_id"] == device_id and body["mqtt"]["client_id"] == device_id
    assert body["center_public_keys"] == [center.public_key_b64]
    assert probe_login(module_broker.host, module_broker.port, device_id,
                       body["mqtt"]["password"]) == 0
    assert ok(center.api.get(f"/api/v1/devices/{device_id}"))["enrolled_at"] is not None

    used = _enrol(center, second["code"])
    assert used.status_code == 409 and "already used" in used.json()["detail"]
    unknown = _enrol(center, "ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ")
    assert unknown.status_code == 404 and "unknown enrolment code" in unknown.json()["detail"]

    third = _code(center.api, device_id)
    with center.center.sessions.begin() as session:  # its expiry passes
        session.execute(update(EnrolmentCode).where(EnrolmentCode.withdrawn_at.is_(None),
                                                    EnrolmentCode.used_at.is_(None))
                        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    expired = _enrol(center, third["code"])
    assert expired.status_code == 409 and "expired" in expired.json()["detail"]
    bad = center.api.post(f"/api/v1/devices/{device_id}/enrolment-codes",
                          json={"valid_hours": 0})
    assert bad.status_code == 422


def test_csv_import_is_all_or_nothing_and_names_the_bad_line(center: CenterHandle) -> None:
    commune = unit(center.api)
    a, b = uid("loa"), uid("loa")
    bad = center.api.post("/api/v1/devices/import", content=(
        f"id,name,kind,unit_code,lat,lon\n{a},Loa A,speaker,{commune['code']},21,105\n"
        f"{b},Loa B,radio,{commune['code']},,\n").encode(),
        headers={"Content-Type": "text/csv"})
    assert bad.status_code == 422 and "line 3" in bad.json()["detail"]
    assert center.api.get(f"/api/v1/devices/{a}").status_code == 404
    for body, words in ((b"id;name\n", "header"), (b"\xff\xfe", "UTF-8"),
                        (f"id,name,kind,unit_code,lat,lon\n{a},A,,nowhere,,\n".encode(),
                         "line 2: unknown unit code")):
        refused = center.api.post("/api/v1/devices/import", content=body,
                                  headers={"Content-Type": "text/csv"})
        assert refused.status_code == 422 and words in refused.json()["detail"], refused.text
    good = ok(center.api.post("/api/v1/devices/import", content=(
        f"id,name,kind,unit_code,lat,lon\n{a},Loa A,,{commune['code']},21,105\n"
        f"{b},Ki ốt B,kiosk,{commune['code']},,\n").encode(),
        headers={"Content-Type": "text/csv"}), 201)
    assert [i["device_id"] for i in good["items"]] == [a, b]
    assert all(len(i["code"]) == 23 for i in good["items"])
    assert ok(center.api.get(f"/api/v1/devices/{b}"))["kind"] == "kiosk"
    again = center.api.post("/api/v1/devices/import", content=(
        f"id,name,kind,unit_code,lat,lon\n{a},Loa A,,{commune['code']},,\n").encode(),
        headers={"Content-Type": "text/csv"})
    assert again.status_code == 422 and "already exists" in again.json()["detail"]


def test_retired_and_revoked_devices_leave_every_manifest_and_the_broker(
    center: CenterHandle, module_broker: MosquittoBroker,
) -> None:
    commune = unit(center.api)
    retired, revoked = _new_device(center.api, commune), _new_device(center.api, commune)
    passwords = {d: _enrol(center, _code(center.api, d)["code"]).json()["mqtt"]["password"]
                 for d in (retired, revoked)}
    no_reason = center.api.post(f"/api/v1/devices/{retired}/retire", json={"reason": " "})
    assert no_reason.status_code == 422
    assert ok(center.api.post(f"/api/v1/devices/{retired}/retire",
                              json={"reason": "thay loa mới"}), 200)["state"] == "retired"
    assert ok(center.api.post(f"/api/v1/devices/{revoked}/revoke",
                              json={"reason": "mất trộm"}), 200)["state"] == "revoked"
    for device_id in (retired, revoked):
        assert probe_login(module_broker.host, module_broker.port, device_id,
                           passwords[device_id]) in (4, 5)
        manifest = ok(center.api.get(f"/api/v1/devices/{device_id}/manifest"))
        assert manifest["manifest"]["items"] == [] and manifest["version"] >= 1
        moved = center.api.patch(f"/api/v1/devices/{device_id}", json={"name": "x"})
        assert moved.status_code == 409
    assert center.api.post(f"/api/v1/devices/{revoked}/enrolment-codes").status_code == 409
    twice = center.api.post(f"/api/v1/devices/{revoked}/retire", json={"reason": "x"})
    assert twice.status_code == 409 and "revoked" in twice.json()["detail"]
    audit = ok(center.api.get("/api/v1/audit", params={"object_type": "device",
                                                       "object_id": revoked}))
    assert any(e["action"] == "revoked" and e["flagged"] for e in audit["items"])


def test_a_key_is_activated_only_once_every_active_device_holds_it(
    center: CenterHandle,
) -> None:
    status = ok(center.api.get("/api/v1/signing-keys"))
    before = status["signing_kid"]
    announced = ok(center.api.post("/api/v1/signing-keys/rotate"), 201)
    assert {k["state"] for k in announced["keys"]} == {"current", "next"}
    assert center.api.post("/api/v1/signing-keys/rotate").status_code == 409
    if announced["waiting_devices"]:  # devices of this module that never run an agent
        refused = center.api.post("/api/v1/signing-keys/activate")
        assert refused.status_code == 409 and "do not hold the new key" in refused.text
    forced = ok(center.api.post("/api/v1/signing-keys/activate", json={"force": True}), 200)
    assert forced["signing_kid"] != before
    states = {k["kid"]: k["state"] for k in forced["keys"]}
    assert states[before] == "retired" and states[forced["signing_kid"]] == "current"
    assert center.api.post("/api/v1/signing-keys/activate").status_code == 409


def test_wrong_codes_from_one_address_are_refused_for_a_while(center: CenterHandle) -> None:
    """Last in the module: it leaves 127.0.0.1 throttled."""
    device_id = _new_device(center.api, unit(center.api))
    right = _code(center.api, device_id)["code"]
    answers = [_enrol(center, f"WRONG-{n:05d}-AAAAA-BBBBB")
               for n in range(WRONG_CODES.burst + 1)]  # an earlier test spent one already
    codes = [a.status_code for a in answers]
    assert codes[:WRONG_CODES.burst - 1] == [404] * (WRONG_CODES.burst - 1)
    assert codes[-1] == 429, codes
    refused = answers[-1]
    assert int(refused.headers["retry-after"]) >= 1
    assert "too many wrong enrolment codes" in refused.json()["detail"]
    assert _enrol(center, right).status_code == 429  # while throttled, no code is tried
