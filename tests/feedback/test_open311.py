"""Open311 GeoReport v2 as a third-party client uses it: plain HTTP, form posts, JSON and XML;
and the workflow rules that do not need a kiosk (scope, transitions, due dates)."""

from __future__ import annotations

from datetime import datetime, timedelta
from xml.etree import ElementTree as ET

import httpx
import pytest

from tests.feedback.rig import FeedbackRig
from tests.support.open311 import client_key

pytestmark = pytest.mark.integration
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type",
                  "keywords", "group"}
REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name",
                  "service_code", "description", "agency_responsible", "service_notice",
                  "requested_datetime", "updated_datetime", "expected_datetime", "address",
                  "address_id", "zipcode", "lat", "long", "media_url"}


def test_open311_create_and_status_as_a_third_party_client(rig: FeedbackRig) -> None:
    commune = rig.unit("xa-o", "commune")
    base = f"{rig.center.base_url}/api/v1/open311"
    with httpx.Client(timeout=10) as client:  # no bearer token: a civic-tech client
        services = client.get(f"{base}/services.json").json()
        assert {s["service_code"] for s in services} >= {"road", "water", "power", "other"}
        assert all(set(s) == SERVICE_FIELDS for s in services)
        xml = ET.fromstring(client.get(f"{base}/services.xml").content)
        assert xml.tag == "services" and xml.find("service/service_code") is not None
        definition = client.get(f"{base}/services/road.json").json()
        assert definition == {"service_code": "road", "attributes": []}
        assert client.get(f"{base}/services/nope.json").status_code == 404

        form = {"service_code": "road", "jurisdiction_id": "xa-o", "lat": "21.03",
                "long": "105.85", "description": "Ổ gà lớn trước trường tiểu học",
                "phone": "0987654321"}
        refused = client.post(f"{base}/requests.json", data=form)
        assert refused.status_code == 403 and refused.json()[0]["code"] == 403
        key = client_key(rig.api, commune)
        no_place = client.post(f"{base}/requests.json",
                               data={**form, "lat": "", "long": "", "api_key": key})
        assert no_place.status_code == 400 and "location" in no_place.json()[0]["description"]
        created = client.post(f"{base}/requests.json",
                              data={**form, "api_key": key})
        assert created.status_code == 201, created.text
        (answer,) = created.json()
        request_id = answer["service_request_id"]
        assert set(answer) == {"service_request_id", "service_notice", "account_id"}

        (status,) = client.get(f"{base}/requests/{request_id}.json").json()
        assert set(status) == REQUEST_FIELDS
        assert (status["status"], status["service_code"]) == ("open", "road")
        assert (status["lat"], status["long"], status["address"]) == (None, None, None)
        assert status["description"] == form["description"]
        assert "0987654321" not in str(status)  # the phone number is never published
        requested = datetime.fromisoformat(status["requested_datetime"])
        expected = datetime.fromisoformat(status["expected_datetime"])
        assert expected - requested == timedelta(days=10)  # roads: due in 10 days

        # The commune's official answers; the client sees it closed with the answer.
        fid = rig.api.get("/api/v1/feedback", headers={"X-Unit-Id": str(commune["id"])}
                          ).json()["items"][0]["id"]
        mine = {"X-Unit-Id": str(commune["id"])}
        assert rig.api.post(f"/api/v1/feedback/{fid}/answer", json={"text": "x"},
                            headers=mine).status_code == 409  # not triaged yet
        rig.post(f"/api/v1/feedback/{fid}/triage", {"category": "road",
                                                    "unit_id": commune["id"]}, headers=mine)
        rig.post(f"/api/v1/feedback/{fid}/answer", {"text": "Sẽ vá trong tuần này."},
                 headers=mine)
        xml_status = ET.fromstring(client.get(f"{base}/requests/{request_id}.xml").content)
        assert xml_status.findtext("request/status") == "closed"
        assert xml_status.findtext("request/status_notes") == "Sẽ vá trong tuần này."
        missing = client.get(f"{base}/requests/NOPE42.json")
        assert missing.status_code == 404 and missing.json()[0]["code"] == 404


def test_triage_outside_the_subtree_and_category_due_dates(rig: FeedbackRig) -> None:
    district = rig.unit("huyen-t", "district")
    commune = rig.unit("xa-t1", "commune", district)
    other = rig.unit("xa-t2", "commune")
    created = httpx.post(f"{rig.center.base_url}/api/v1/open311/requests.json", data={
        "service_code": "other", "jurisdiction_id": "xa-t1", "address_string": "Thôn 2",
        "description": "Đèn đường hỏng", "api_key": client_key(rig.api, district)}, timeout=10)
    assert created.status_code == 201
    mine = {"X-Unit-Id": str(commune["id"])}
    (item,) = rig.api.get("/api/v1/feedback", headers=mine).json()["items"]
    moved = rig.api.post(f"/api/v1/feedback/{item['id']}/triage", headers=mine,
                         json={"category": "power", "unit_id": other["id"]})
    assert moved.status_code == 422 and "outside your unit" in moved.json()["detail"]
    triaged = rig.post(f"/api/v1/feedback/{item['id']}/triage",
                       {"category": "power", "unit_id": commune["id"]},
                       headers={"X-Unit-Id": str(district["id"])})
    due = datetime.fromisoformat(triaged["due_at"]) - datetime.fromisoformat(
        triaged["received_at"])
    assert triaged["status"] == "triaged" and due == timedelta(days=3)  # power: 3 days
    assert rig.api.get("/api/v1/feedback", headers={"X-Unit-Id": str(other["id"])}
                       ).json()["count"] == 0
    assert rig.api.get("/api/v1/feedback").status_code == 422  # the scope header is required
