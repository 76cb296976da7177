"""Open311 client keys (security finding 4): the master API token is no api_key; a client key
made by an administrator works inside its unit's subtree only, is attributed, rate-limited and
refused once revoked; public lookups are rate-limited per address and show no position; new
reference codes are 12 symbols of a 32-symbol alphabet."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from control_center.feedback.codes import ALPHABET, ENTROPY_BITS, lookup_forms, new_ref_code
from control_center.feedback.throttle import CLIENT_RATE, LOOKUP_RATE
from tests.feedback.rig import FeedbackRig
from tests.support.open311 import client_key

pytestmark = pytest.mark.integration
CODE = re.compile(r"^[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}$")


def _form(unit: dict[str, Any], key: str, text: str = "Cống thoát nước bị tắc") -> dict[str, str]:
    return {"service_code": "water", "jurisdiction_id": unit["code"], "lat": "21.0281",
            "long": "105.8542", "address_string": "Số 12 ngõ 5 phố Tràng Tiền",
            "description": text, "api_key": key}


def _post(base: str, form: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{base}/requests.json", data=form, timeout=10)


def test_client_keys_are_scoped_attributed_and_revocable(rig: FeedbackRig) -> None:
    province = rig.unit("tinh-k", "province")
    commune = rig.unit("xa-k1", "commune", province)
    elsewhere = rig.unit("xa-k2", "commune")  # another tree
    base = f"{rig.center.base_url}/api/v1/open311"

    master = _post(base, _form(commune, rig.center.api_token))
    assert master.status_code == 403 and "api_key" in master.json()[0]["description"]

    admin = rig.user("qt_tinh_k", "admin", province)
    stranger = rig.user("qt_xa_k2", "admin", elsewhere)
    officer = rig.user("pa_xa_k1", "feedback_officer", commune)
    assert officer.post("/api/v1/open311/clients", json={
        "name": "x", "unit_id": commune["id"]}).status_code == 403  # no MANAGE_USERS
    assert stranger.post("/api/v1/open311/clients", json={
        "name": "x", "unit_id": commune["id"]}).status_code == 404  # outside their subtree

    made = admin.post("/api/v1/open311/clients", json={"name": "Ứng dụng Phố Xanh",
                                                      "unit_id": commune["id"]})
    assert made.status_code == 201, made.text
    client = made.json()
    key = client["api_key"]
    assert key.startswith(f"tt311_{client['key_prefix']}_") and len(key) >= 6 + 8 + 1 + 43
    listed = admin.get("/api/v1/open311/clients").json()["items"]
    assert [c["id"] for c in listed] == [client["id"]] and "api_key" not in listed[0]
    assert key not in str(listed)  # shown once
    assert stranger.get("/api/v1/open311/clients").json()["count"] == 0

    created = _post(base, _form(commune, key))
    assert created.status_code == 201, created.text
    (item,) = rig.api.get("/api/v1/feedback",
                          headers={"X-Unit-Id": str(commune["id"])}).json()["items"]
    assert (item["client_id"], item["channel"]) == (client["id"], "open311")
    assert admin.get("/api/v1/open311/clients").json()["items"][0]["last_used_at"]

    outside = _post(base, _form(elsewhere, key))
    assert outside.status_code == 403 and "outside" in outside.json()[0]["description"]
    above = _post(base, _form(province, key))  # the key's unit is the commune, not above it
    assert above.status_code == 403

    assert stranger.post(f"/api/v1/open311/clients/{client['id']}/revoke").status_code == 404
    revoked = admin.post(f"/api/v1/open311/clients/{client['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    refused = _post(base, _form(commune, key))
    assert refused.status_code == 403 and "revoked" in refused.json()[0]["description"]
    assert admin.post(f"/api/v1/open311/clients/{client['id']}/revoke").status_code == 409


def test_a_client_key_is_rate_limited(rig: FeedbackRig) -> None:
    commune = rig.unit("xa-r1", "commune")
    base = f"{rig.center.base_url}/api/v1/open311"
    busy, calm = client_key(rig.api, commune, "bận"), client_key(rig.api, commune, "yên")
    for _ in range(CLIENT_RATE.burst):  # refused for the missing description, still counted
        assert _post(base, _form(commune, busy, text="")).status_code == 400
    limited = _post(base, _form(commune, busy))
    assert limited.status_code == 429, limited.text
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()[0]["code"] == 429 and "api_key" in limited.json()[0]["description"]
    assert _post(base, _form(commune, calm)).status_code == 201  # each key has its own bucket


def test_public_lookup_is_rate_limited_per_address_and_shows_no_position(
        rig: FeedbackRig) -> None:
    commune = rig.unit("xa-l1", "commune")
    base = f"{rig.center.base_url}/api/v1/open311"
    created = _post(base, _form(commune, client_key(rig.api, commune)))
    ref = created.json()[0]["service_request_id"]
    assert CODE.match(ref), ref

    def from_address(address: str) -> httpx.Client:
        return httpx.Client(base_url=base, timeout=10,
                            transport=httpx.HTTPTransport(local_address=address))

    with from_address("127.0.0.7") as prober, from_address("127.0.0.8") as citizen:
        for _ in range(LOOKUP_RATE.burst):
            (status,) = prober.get(f"/requests/{ref}.json").json()
            assert (status["lat"], status["long"], status["address"]) == (None, None, None)
            assert "Tràng Tiền" not in str(status) and "105.85" not in str(status)
        limited = prober.get("/requests/AAAA-BBBB-CCCC.json")
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        # another address is not slowed down; the code may be typed without dashes
        typed = ref.replace("-", "").lower()
        assert citizen.get(f"/requests/{typed}.json").json()[0]["service_request_id"] == ref


def test_new_reference_codes_have_the_documented_length() -> None:
    assert len(ALPHABET) == len(set(ALPHABET)) == 32 and not set("01IO") & set(ALPHABET)
    assert ENTROPY_BITS == 60
    codes = {new_ref_code() for _ in range(1000)}
    assert len(codes) == 1000 and all(CODE.match(c) for c in codes)
    assert lookup_forms(" k7qm4zd2hxpa ") == ["K7QM4ZD2HXPA", "K7QM-4ZD2-HXPA"]
    assert lookup_forms("k7qm4z") == ["K7QM4Z"]  # an old short code, looked up as written
