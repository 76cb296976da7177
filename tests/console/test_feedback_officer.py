"""A feedback officer signs in and works the queue of their own commune only."""

from __future__ import annotations

import httpx
import pytest

from tests.center.helpers import ok
from tests.console.conftest import PASSWORD, Tree
from tests.support.open311 import client_key

pytestmark = pytest.mark.integration


def test_feedback_officer_answers_in_their_commune_and_the_kiosk_gets_it(tree: Tree) -> None:
    api = tree.center.api
    unit_a, unit_b = tree.units["a"], tree.units["b"]
    ok(api.post("/api/v1/devices", json={"id": "kiosk-a", "name": "Ki-ốt A", "kind": "kiosk",
                                         "unit_id": unit_a["id"]}))
    ok(api.post("/api/v1/users", json={"username": "fb_a", "password": PASSWORD,
                                       "role": "feedback_officer", "unit_id": unit_a["id"]}))
    base = f"{tree.center.base_url}/api/v1/open311"
    key = client_key(api, tree.units["province"])
    for unit in (unit_a, unit_b):
        r = httpx.post(f"{base}/requests.json", data={
            "service_code": "water", "jurisdiction_id": unit["code"], "lat": "21.0",
            "long": "105.8", "description": f"Mất nước ở {unit['name']}",
            "api_key": key})
        assert r.status_code == 201, r.text
    officer = tree.api_as("fb_a")
    queue = ok(officer.get("/api/v1/feedback"))["items"]
    assert [f["text"] for f in queue] == ["Mất nước ở Xã A"]  # B's report does not exist here
    fid = queue[0]["id"]
    ok(officer.post(f"/api/v1/feedback/{fid}/triage",
                    json={"category": "water", "unit_id": unit_a["id"]}), 200)
    r = officer.post(f"/api/v1/feedback/{fid}/triage",
                     json={"category": "water", "unit_id": unit_b["id"]})
    assert r.status_code in (404, 422), r.text  # cannot route outside the commune
    answered = ok(officer.post(f"/api/v1/feedback/{fid}/answer",
                               json={"text": "Sửa xong trong chiều nay.", "announce": True}), 200)
    # the officer may not approve: the announcement waits for the commune's approver, then is
    # a text item on the commune's kiosks (answers keyed to a kiosk's own submissions travel
    # separately; this report came through Open311)
    announcement = answered["announcement"]
    assert announcement["state"] == "awaiting_approval"
    ok(tree.api_as("appr_a").post(f"/api/v1/bulletins/{announcement['bulletin_id']}/approve"),
       200)
    manifest = ok(api.get("/api/v1/devices/kiosk-a/manifest"))["manifest"]
    assert any("Sửa xong trong chiều nay." in (i["content"].get("text") or "")
               for i in manifest["items"]), manifest
    # operators have no feedback permission
    assert tree.api_as("op_a").get("/api/v1/feedback").status_code == 403
