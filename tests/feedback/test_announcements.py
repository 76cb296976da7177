"""Announcing an answer follows the caller's approval rights (security finding 5): a feedback
officer's announcement waits for an approver and reaches the kiosks only once approved; an
administrator's goes out at once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from edge_agent.agent import Agent
from protocol.manifest import TextContent
from tests.feedback.rig import FeedbackRig
from tests.support.open311 import client_key

pytestmark = pytest.mark.integration


def _texts(agent: Agent) -> list[str]:
    if agent.manifest is None:
        return []
    return [i.content.text for i in agent.manifest.items if isinstance(i.content, TextContent)]


def _answered(rig: FeedbackRig, who: httpx.Client, unit: dict[str, Any], key: str,
              text: str) -> dict[str, Any]:
    created = httpx.post(f"{rig.center.base_url}/api/v1/open311/requests.json", timeout=10,
                         data={"service_code": "road", "jurisdiction_id": unit["code"],
                               "address_string": "Thôn 3", "description": f"Hỏi: {text}",
                               "api_key": key})
    assert created.status_code == 201, created.text
    ref = created.json()[0]["service_request_id"]
    (item,) = [f for f in who.get("/api/v1/feedback").json()["items"] if f["ref_code"] == ref]
    assert who.post(f"/api/v1/feedback/{item['id']}/triage",
                    json={"category": "road", "unit_id": unit["id"]}).status_code == 200
    r = who.post(f"/api/v1/feedback/{item['id']}/answer", json={"text": text, "announce": True})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_an_officers_announcement_waits_for_approval_an_admins_goes_out(
        rig: FeedbackRig) -> None:
    province = rig.unit("tinh-a", "province")
    commune = rig.unit("xa-a1", "commune", province)
    kiosk = rig.start_kiosk(commune, "kiosk-a1", None)
    key = client_key(rig.api, commune)
    officer = rig.user("pa_xa_a1", "feedback_officer", commune)
    approver = rig.user("duyet_xa_a1", "approver", commune)
    admin = rig.user("qt_tinh_a", "admin", province)

    waiting = _answered(rig, officer, commune, key, "Đường sẽ được sửa vào thứ Hai.")
    announcement = waiting["announcement"]
    assert announcement["state"] == "awaiting_approval", waiting
    assert announcement["kiosks"] == ["kiosk-a1"]
    bulletin = approver.get(f"/api/v1/bulletins/{announcement['bulletin_id']}").json()
    assert (bulletin["status"], bulletin["created_by"]) == ("submitted", "pa_xa_a1")
    manifest = rig.api.get("/api/v1/devices/kiosk-a1/manifest").json()["manifest"]
    assert not any("thứ Hai" in (i["content"].get("text") or "") for i in manifest["items"])

    approved = approver.post(f"/api/v1/bulletins/{announcement['bulletin_id']}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "scheduled", approved.text
    kiosk.wait_manifest(lambda a: any("thứ Hai" in t for t in _texts(a)), 20,
                        "the approved announcement")

    direct = _answered(rig, admin, commune, key, "Đèn đã được thay sáng nay.")
    assert direct["announcement"]["state"] == "scheduled", direct
    kiosk.wait_manifest(lambda a: any("sáng nay" in t for t in _texts(a)), 20,
                        "the administrator's announcement")
