"""Emergency API: refusals that save nothing, an operator's request waiting for an approver
(who sends it from the console), approved bulletins sent directly, broker down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import func, select

from control_center.models import AuditEntry, Bulletin, BulletinStatus, Distribution
from tests.center.helpers import ok, ready_media
from tests.console.conftest import Tree, sign_in
from tests.support.audio import make_tone
from tests.support.browser import run_in_browser, screenshot

pytestmark = pytest.mark.integration
WORD = "PHÁT KHẨN CẤP"


def _emergency_rows(tree: Tree) -> tuple[int, int, int]:
    """(emergency audit entries, bulletins, distributions) stored at the center."""
    with tree.center.center.read_sessions() as session:
        return (session.scalar(select(func.count()).select_from(AuditEntry).where(
                    AuditEntry.action.like("emergency%"))) or 0,
                session.scalar(select(func.count()).select_from(Bulletin)) or 0,
                session.scalar(select(func.count()).select_from(Distribution)) or 0)


def _acks(tree: Tree) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = ok(tree.center.api.get(
        "/api/v1/events", params={"type": "command_ack"}))["items"]
    return items


def test_bad_requests_are_refused_with_a_reason_and_nothing_is_saved(
        tree: Tree, tmp_path: Path) -> None:
    api = tree.api_as("appr_a")
    a, b = tree.units["a"]["id"], tree.units["b"]["id"]
    media = ready_media(tree.center.api, make_tone(tmp_path / "t.wav", 1.0))
    draft = ok(tree.center.api.post("/api/v1/bulletins", json={
        "title": "Chờ duyệt", "kind": "audio", "media_sha256": media["sha256"]}))
    with tree.center.center.sessions() as session:  # a normal bulletin still being reviewed
        row = session.get(Bulletin, draft["id"])
        assert row is not None
        row.status, row.unit_id = BulletinStatus.SUBMITTED, tree.units["a"]["id"]
        session.commit()
    before = _emergency_rows(tree)
    good = {"unit_ids": [a], "media_sha256": media["sha256"], "confirm": WORD}
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({**good, "confirm": "phat khan cap"}, 422, WORD),
        ({**good, "confirm": ""}, 422, WORD),
        ({**good, "unit_ids": []}, 422, "at least one unit"),
        ({**good, "unit_ids": [b]}, 404, f"unit {b} does not exist"),
        ({**good, "unit_ids": [999_999]}, 404, "does not exist"),
        ({"unit_ids": [a], "confirm": WORD}, 422, "pick an approved bulletin"),
        ({**good, "bulletin_id": draft["id"]}, 422, "only one of"),
        ({"unit_ids": [a], "bulletin_id": draft["id"], "confirm": WORD}, 409, "not approved"),
        ({"unit_ids": [a], "bulletin_id": 999_999, "confirm": WORD}, 404, "does not exist"),
        ({**good, "media_sha256": "0" * 64}, 422, "upload it first"),
    ]
    for body, status, words in cases:
        r = api.post("/api/v1/emergency", json=body)
        assert r.status_code == status, (body, r.text)
        assert words in r.json()["detail"], (body, r.text)
    r = tree.api_as("tech_a").post("/api/v1/emergency", json=good)
    assert r.status_code == 403 and "emergency" in r.json()["detail"]
    assert _emergency_rows(tree) == before


def test_approved_bulletin_is_sent_directly_by_an_operator_and_not_flagged(
        tree: Tree, tmp_path: Path) -> None:
    devices = tree.fleet("loa-a1", "loa-a2")
    media = ready_media(tree.center.api, make_tone(tmp_path / "t.wav", 1.0))
    approved = ok(tree.center.api.post("/api/v1/bulletins", json={
        "title": "Thông báo đã duyệt", "kind": "audio", "media_sha256": media["sha256"]}))
    with tree.center.center.sessions() as session:  # an approved bulletin of commune A
        row = session.get(Bulletin, approved["id"])
        assert row is not None and row.status == BulletinStatus.APPROVED
        row.unit_id = tree.units["a"]["id"]
        session.commit()
    # the system token's own bulletins (unit None) are not a commune's to send
    r = tree.api_as("op_b").post("/api/v1/emergency", json={
        "unit_ids": [tree.units["b"]["id"]], "bulletin_id": approved["id"], "confirm": WORD})
    assert r.status_code == 404
    api = tree.api_as("op_a")
    sent = ok(api.post("/api/v1/emergency", json={
        "unit_ids": [tree.units["a"]["id"]], "bulletin_id": approved["id"], "confirm": WORD}),
        201)
    assert (sent["state"], sent["targeted"], sent["published"]) == ("sent", 2, 2)
    status = tree.center.wait_for(
        lambda: (s := ok(api.get(sent["status_url"])))["started"] == 2 and s,
        timeout=30, what="both devices started the emergency")
    assert status["acknowledged"] == 2 and status["failed"] == 0
    assert status["flagged"] is False and status["approval_skipped"] is False
    for dev in ("loa-a1", "loa-a2"):
        assert devices[dev].sink.wait_for(
            lambda r: any(x.bulletin_id == approved["id"] and x.priority == "emergency"
                          for x in r), 20)
    # a commune operator sees only its subtree's broadcasts
    assert ok(tree.api_as("op_b").get("/api/v1/emergency"))["count"] == 0
    assert tree.api_as("op_b").get(sent["status_url"]).status_code == 404


def test_an_operators_new_message_waits_until_an_approver_sends_it_from_the_console(
        tree: Tree, tmp_path: Path) -> None:
    devices = tree.fleet("loa-a1", "loa-a2")
    op = tree.api_as("op_a")
    wav = make_tone(tmp_path / "alarm.wav", 1.5, 880)
    base = tree.center.base_url
    request_url: list[str] = []

    def submit(browser: Browser) -> None:  # the operator uploads a recording on the console
        page = sign_in(browser, base, "op_a")
        page.goto(f"{base}/console/emergency")
        page.check(f"#unit-{tree.units['a']['id']}")
        page.check("#src-upload")
        page.set_input_files("#f-recording", str(wav))
        page.fill("#f-title", "Cảnh báo sạt lở")
        page.click("#review")
        expect(page.locator("#will-wait")).to_contain_text("chờ người duyệt")
        expect(page.locator("#broadcast-now")).to_contain_text("GỬI DUYỆT KHẨN")
        expect(page.locator("#review-devices")).to_have_text("2")
        page.check("#f-confirm_check")
        page.fill("#f-confirm", "phát khẩn cấp")  # any case is accepted
        page.click("#broadcast-now")
        page.wait_for_url(f"{base}/console/emergency/*")
        expect(page.locator("#waiting")).to_be_visible()
        expect(page.locator("#approve-form")).to_have_count(0)  # not the operator's to send
        request_url.append(page.url)

    run_in_browser(submit)
    request_id = int(request_url[0].rsplit("/", 1)[1])
    waiting: dict[str, Any] = {"id": request_id,
                               "status_url": f"/api/v1/emergency/{request_id}/status"}
    listed = ok(op.get("/api/v1/emergency"))["items"]
    assert [(i["id"], i["state"], i["title"]) for i in listed] == [
        (request_id, "waiting_approval", "Cảnh báo sạt lở")]
    waiting["bulletin_id"] = listed[0]["bulletin_id"]
    status = ok(op.get(waiting["status_url"]))
    assert (status["state"], status["targeted"], status["acknowledged"]) == (
        "waiting_approval", 2, 0)
    with tree.center.center.read_sessions() as session:
        bulletin = session.get(Bulletin, waiting["bulletin_id"])
        assert bulletin is not None
        assert (bulletin.status, bulletin.approval_skipped, bulletin.priority.value,
                bulletin.unit_id) == (BulletinStatus.SUBMITTED, False, "emergency",
                                      tree.units["a"]["id"])
        sends = session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "emergency_send"))
    assert sends == 0 and _acks(tree) == []  # nothing went to the devices
    # who may send it: not the operator, not another commune's approver, not a wrong word
    path = f"/api/v1/emergency/{waiting['id']}/send"
    assert op.post(path, json={"confirm": WORD}).status_code == 403
    assert tree.api_as("appr_b").post(path, json={"confirm": WORD}).status_code == 404
    assert tree.api_as("appr_a").post(path, json={"confirm": "ok"}).status_code == 422

    def approve(browser: Browser) -> None:
        page = sign_in(browser, base, "appr_a")
        page.goto(f"{base}/console/emergency/{waiting['id']}")
        expect(page.locator("#waiting")).to_contain_text("chờ người duyệt")
        expect(page.locator("#review-units")).to_have_text("Xã A")
        screenshot(page, "console-emergency-request")
        page.click("#broadcast-now")  # neither box nor word: both refused beside the fields
        expect(page.locator("#err-confirm_check")).to_be_visible()
        expect(page.locator("#err-confirm")).to_contain_text(WORD)
        page.check("#f-confirm_check")
        page.fill("#f-confirm", WORD)
        page.click("#broadcast-now")
        page.wait_for_url(f"{base}/console/emergency/*")
        assert page.url != request_url[0]  # the live view of the send
        expect(page.locator("#started")).to_have_text("2 / 2", timeout=30_000)
        expect(page.locator("#acked")).to_have_text("2 / 2")

    run_in_browser(approve)
    for dev in ("loa-a1", "loa-a2"):
        assert devices[dev].sink.wait_for(
            lambda r: [x.bulletin_id for x in r] == [waiting["bulletin_id"]], 20)
    status = ok(op.get(waiting["status_url"]))
    assert status["state"] == "sent" and status["sent_id"] and status["started"] == 2
    with tree.center.center.read_sessions() as session:
        bulletin = session.get(Bulletin, waiting["bulletin_id"])
        assert bulletin is not None
        assert (bulletin.status, bulletin.approved_by, bulletin.approval_skipped) == (
            BulletinStatus.APPROVED, "appr_a", False)
        send = session.get(AuditEntry, status["sent_id"])
        assert send is not None and send.action == "emergency_send" and send.flagged is False
    again = tree.api_as("appr_a").post(path, json={"confirm": WORD})
    assert again.status_code == 409 and "already" in again.json()["detail"]
    assert len(_acks(tree)) == 2  # one command per device, once


def test_an_approver_may_send_a_submitted_emergency_by_its_bulletin_id(
        tree: Tree, tmp_path: Path) -> None:
    op = tree.api_as("op_a")
    media = ready_media(op, make_tone(tmp_path / "t.wav", 1.0))
    a = tree.units["a"]["id"]
    waiting = ok(op.post("/api/v1/emergency", json={
        "unit_ids": [a], "media_sha256": media["sha256"], "confirm": WORD}), 202)
    body = {"unit_ids": [a], "bulletin_id": waiting["bulletin_id"], "confirm": WORD}
    r = op.post("/api/v1/emergency", json=body)  # the operator cannot approve its own
    assert r.status_code == 409 and "not approved" in r.json()["detail"]
    sent = ok(tree.api_as("appr_a").post("/api/v1/emergency", json=body), 201)
    assert (sent["state"], sent["targeted"]) == ("sent", 2)
    status = ok(op.get(waiting["status_url"]))  # the request is answered by that send
    assert (status["state"], status["sent_id"]) == ("sent", sent["id"])
    with tree.center.center.read_sessions() as session:
        bulletin = session.get(Bulletin, waiting["bulletin_id"])
        assert bulletin is not None
        assert (bulletin.status, bulletin.approved_by, bulletin.approval_skipped) == (
            BulletinStatus.APPROVED, "appr_a", False)
        rows = list(session.scalars(select(Distribution).where(
            Distribution.bulletin_id == waiting["bulletin_id"])))
    assert [(d.unit_id, d.state.value, d.published_by) for d in rows] == [(a, "sent", "appr_a")]


def test_broker_down_refuses_before_anything_is_saved(tree: Tree, tmp_path: Path) -> None:
    media = ready_media(tree.center.api, make_tone(tmp_path / "t.wav", 1.0))
    api = tree.api_as("admin")
    before = _emergency_rows(tree)
    assert tree.broker is not None
    tree.broker.stop()
    tree.center.wait_for(lambda: not tree.center.center.bridge.connected, timeout=15,
                         what="the center noticing the broker is gone")
    r = api.post("/api/v1/emergency", json={"unit_ids": [tree.units["a"]["id"]],
                                            "media_sha256": media["sha256"], "confirm": WORD})
    assert r.status_code == 503 and "nothing was sent" in r.json()["detail"]
    assert _emergency_rows(tree) == before
    tree.broker.start()


def test_an_approver_uploads_a_recording_and_sends_it_at_once_over_the_api(
        tree: Tree, tmp_path: Path) -> None:
    """Approvers cannot write bulletins, but they may upload an emergency recording."""
    wav = make_tone(tmp_path / "canh-bao.wav", 1.0)
    appr_a = tree.api_as("appr_a")
    media = ready_media(appr_a, wav)
    sent = ok(appr_a.post("/api/v1/emergency", json={
        "unit_ids": [tree.units["a"]["id"]], "media_sha256": media["sha256"],
        "title": "Cảnh báo bão", "confirm": WORD}), 201)
    assert (sent["state"], sent["targeted"]) == ("sent", 2)
    assert ok(appr_a.get(sent["status_url"]))["approval_skipped"] is True
    assert appr_a.post("/api/v1/bulletins", json={
        "title": "x", "kind": "text", "text": "x"}).status_code == 403
    r = tree.api_as("tech_a").post("/api/v1/media", files={"file": ("x.wav", wav.read_bytes())})
    assert r.status_code == 403
