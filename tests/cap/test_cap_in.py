"""CAP 1.2 in: documents written for these tests posted by registered senders. Refusals carry
their reason and are audited; accepted alerts map to priority, units and a spoken text, go
out as emergencies or wait for approval; Update and Cancel act on the referenced bulletin; a
repeated alert answers with its first outcome."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from control_center.models import AuditEntry, Bulletin, CapAlert, Schedule
from tests.cap.conftest import COMMUNE_SENDER, DOCUMENTS, CapWorld
from tests.center.helpers import ok

pytestmark = pytest.mark.integration


def _bulletin(world: CapWorld, bulletin_id: int) -> tuple[Bulletin, list[Schedule]]:
    with world.center.center.read_sessions() as session:
        bulletin = session.get_one(Bulletin, bulletin_id)
        schedules = list(session.scalars(select(Schedule).where(
            Schedule.bulletin_id == bulletin_id).order_by(Schedule.id)))
        for schedule in schedules:
            _ = schedule.targets  # loaded while the session is open
        return bulletin, schedules


def _accepted(r: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    return body


def test_refused_documents_say_why_and_are_audited(world: CapWorld) -> None:
    cases = [("malformed.xml", 422, "malformed XML"),
             ("schema_invalid.xml", 422, "CAP 1.2 schema: line 14"),
             ("doctype_entities.xml", 422, "DOCTYPE is not allowed"),
             ("wrong_sender.xml", 403, "registered for 'dai-kttv-p@example.vn'"),
             ("outside_area.xml", 403, "outside the sender's area: Xã C"),
             ("update_unknown_reference.xml", 409, "name no alert this center accepted")]
    for name, status, reason in cases:
        r = world.post_cap(name)
        assert r.status_code == status, (name, r.text)
        assert reason in r.json()["detail"], (name, r.text)
    oversize = (DOCUMENTS / "alert_geocode_minor.xml").read_bytes().replace(
        b"</alert>", b"<!--" + b"x" * 300_000 + b"--></alert>")
    r = world.post_cap("", body=oversize)
    assert r.status_code == 413 and "at most 256 KB" in r.json()["detail"]
    r = world.post_cap("alert_geocode_minor.xml", content_type="application/json")
    assert r.status_code == 415 and "application/cap+xml" in r.json()["detail"]
    r = httpx.post(f"{world.center.base_url}/api/v1/cap/alerts", timeout=30,
                   content=(DOCUMENTS / "alert_geocode_minor.xml").read_bytes(),
                   headers={"Content-Type": "application/cap+xml", "X-CAP-Key": "ttcap_x_y"})
    assert r.status_code == 403 and "X-CAP-Key" in r.json()["detail"]
    # the commune's station may not alert its neighbour B
    r = world.post_cap("alert_circle_moderate.xml", COMMUNE_SENDER, body=(
        DOCUMENTS / "alert_circle_moderate.xml").read_bytes().replace(
        b"dai-kttv-p@example.vn", COMMUNE_SENDER.encode()))
    assert r.status_code == 403 and "Xã B" in r.json()["detail"]
    with world.center.center.read_sessions() as session:
        refused = list(session.scalars(select(AuditEntry).where(
            AuditEntry.action == "cap_refused")))
        assert session.scalars(select(CapAlert)).first() is None  # nothing was accepted
    assert len(refused) == len(cases) + 1  # oversize and wrong type never reach a sender
    reasons = " | ".join(str(e.detail) for e in refused)
    assert "outside the sender's area" in reasons and "malformed XML" in reasons
    assert all(e.flagged for e in refused if "403" in str(e.detail))


def test_alerts_map_to_priority_units_text_and_approval(world: CapWorld) -> None:
    a, b = world.units["a"]["id"], world.units["b"]["id"]
    expected = {"alert_polygon_severe.xml": ("priority", [a]),
                "alert_circle_moderate.xml": ("normal", [b]),
                "alert_geocode_minor.xml": ("normal", [a]),
                "alert_circle_unknown.xml": ("normal", [a])}
    for name, (priority, units) in expected.items():
        got = _accepted(world.post_cap(name))
        assert (got["outcome"], got["priority"], got["unit_ids"]) == ("submitted", priority,
                                                                      units), name
        bulletin, schedules = _bulletin(world, got["bulletin_id"])
        assert (bulletin.status.value, bulletin.kind.value) == ("submitted", "text")
        assert bulletin.unit_id == world.units["p"]["id"]  # the sender's unit owns it
        (schedule,) = schedules
        assert schedule.start_at is None  # its approval gives it its instant
        assert sorted(t.unit_id for t in schedule.targets if t.unit_id) == units
    first = ok(world.center.api.get("/api/v1/cap/alerts"))["items"][-1]
    bulletin, _ = _bulletin(world, first["bulletin_id"])
    assert bulletin.title == "Cảnh báo mưa lớn"  # the vi-VN block, not the first (en-US)
    assert bulletin.text == ("Cảnh báo mưa lớn. Dự báo mưa lớn 100 mm trong đêm nay. "
                             "Không đi qua suối, ngầm tràn.")
    again = _accepted(world.post_cap("alert_polygon_severe.xml"), 200)
    assert again["duplicate"] is True and again["id"] == first["id"]

    # Extreme + Immediate: the commune's station waits for an approver (its rule) ...
    waiting = _accepted(world.post_cap("alert_extreme_approval.xml", COMMUNE_SENDER))
    assert (waiting["outcome"], waiting["priority"]) == ("emergency_waiting", "emergency")
    approver = world.signed_in("duyet-cap-a", "approver", "a")
    request = ok(approver.get(f"/api/v1/emergency/{waiting['broadcast_id']}/status"), 200)
    assert request["bulletin_id"] == waiting["bulletin_id"]
    # ... the province's station sends at once
    sent = _accepted(world.post_cap("alert_extreme_geocode.xml"))
    assert (sent["outcome"], sent["unit_ids"]) == ("emergency_sent", [a])
    bulletin, _ = _bulletin(world, sent["bulletin_id"])
    assert bulletin.approval_skipped and bulletin.status.broadcastable

    # administrators see their subtree's alerts only
    admin_a = world.signed_in("quan-tri-cap-a", "admin", "a")
    mine = ok(admin_a.get("/api/v1/cap/alerts"), 200)["items"]
    assert {m["sender"] for m in mine} == {COMMUNE_SENDER}
    assert ok(admin_a.get("/api/v1/cap/senders"), 200)["count"] == 1
    operator = world.signed_in("van-hanh-cap", "operator", "p")
    assert operator.get("/api/v1/cap/alerts").status_code == 403


def test_update_and_cancel_act_on_the_referenced_bulletin(world: CapWorld) -> None:
    b = world.units["b"]["id"]
    alert = _accepted(world.post_cap("alert_polygon_severe.xml"), 200)  # the first one above
    approver = world.signed_in("duyet-cap-p", "approver", "p")
    updated = _accepted(world.post_cap("update_polygon.xml"))
    assert (updated["outcome"], updated["bulletin_id"], updated["unit_ids"]) == (
        "updated", alert["bulletin_id"], [b])
    bulletin, schedules = _bulletin(world, alert["bulletin_id"])
    assert bulletin.status.value == "submitted" and bulletin.title == "Cập nhật cảnh báo mưa lớn"
    assert [s.cancelled_at is not None for s in schedules] == [True, False]
    assert [t.unit_id for t in schedules[1].targets] == [b]
    ok(approver.post(f"/api/v1/bulletins/{bulletin.id}/approve", json={}), 200)
    bulletin, schedules = _bulletin(world, alert["bulletin_id"])
    assert bulletin.status.value == "scheduled" and schedules[1].start_at is not None

    cancelled = _accepted(world.post_cap("cancel.xml"))
    assert (cancelled["outcome"], cancelled["bulletin_id"]) == ("cancelled", bulletin.id)
    assert "1 schedule(s) cancelled" in cancelled["reason"]
    bulletin, schedules = _bulletin(world, alert["bulletin_id"])
    assert all(s.cancelled_at is not None for s in schedules)
    assert bulletin.status.value == "approved"  # approved, but nothing plays it any more

    # a cancel of a bulletin still waiting for approval rejects it
    minor = _accepted(world.post_cap("alert_geocode_minor.xml"), 200)
    body = (DOCUMENTS / "cancel.xml").read_bytes().replace(b"P-2026-001-C1", b"P-2026-003-C1")
    body = body.replace(b"P-2026-001-U1", b"P-2026-003")
    gone = _accepted(world.post_cap("", body=body))
    assert "rejected" in gone["reason"]
    assert _bulletin(world, minor["bulletin_id"])[0].status.value == "rejected"


def test_senders_are_managed_by_administrators_of_their_subtree(world: CapWorld) -> None:
    admin_b = world.signed_in("quan-tri-cap-b", "admin", "b")
    r = admin_b.post("/api/v1/cap/senders", json={
        "sender": "x@example.vn", "name": "X", "unit_id": world.units["a"]["id"]})
    assert r.status_code == 404  # commune A lies outside B's subtree
    r = world.center.api.post("/api/v1/cap/senders", json={
        "sender": COMMUNE_SENDER, "name": "again", "unit_id": world.units["a"]["id"]})
    assert r.status_code == 409 and "already registered" in r.json()["detail"]
    made = ok(admin_b.post("/api/v1/cap/senders", json={
        "sender": "tram-xa-b@example.vn", "name": "Trạm B", "unit_id": world.units["b"]["id"]}))
    assert made["emergency_rule"] == "approval" and made["api_key"].startswith("ttcap_")
    changed = ok(admin_b.patch(f"/api/v1/cap/senders/{made['id']}",
                               json={"emergency_rule": "at_once"}), 200)
    assert changed["emergency_rule"] == "at_once"
    ok(admin_b.post(f"/api/v1/cap/senders/{made['id']}/revoke"), 200)
    r = httpx.post(f"{world.center.base_url}/api/v1/cap/alerts", timeout=30,
                   content=b"<alert/>", headers={"Content-Type": "application/xml",
                                                 "X-CAP-Key": made["api_key"]})
    assert r.status_code == 403 and "revoked" in r.json()["detail"]
