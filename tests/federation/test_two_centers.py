"""The central center and a province's, each with its own broker and database, linked by
signed messages over HTTP: content down by Circular 39's priorities, states back up, and
messages from a center that is not registered refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from control_center.federation.messages import Kind, new_message
from control_center.models import FederationOutbox
from protocol.signing import Signer
from tests.center.helpers import ok
from tests.federation.conftest import Site, link
from tests.support.waiting import poll

pytestmark = pytest.mark.integration


def _sent(central: Site) -> list[dict[str, Any]]:
    return list(ok(central.api.get("/api/v1/federation/bulletins",
                                   params={"direction": "out"}))["items"])


def _received(province: Site) -> list[dict[str, Any]]:
    return list(ok(province.api.get("/api/v1/federation/bulletins",
                                    params={"direction": "in"}))["items"])


def _retries(central: Site) -> int:
    with central.center.center.read_sessions() as session:
        return session.scalar(select(func.max(FederationOutbox.attempts))) or 0


def _text_bulletin(site: Site, title: str, text: str, priority: str) -> dict[str, Any]:
    return ok(site.api.post("/api/v1/bulletins", json={
        "title": title, "kind": "text", "text": text, "priority": priority}))


def test_content_down_states_up_and_strangers_refused(centers: tuple[Site, Site]) -> None:
    central, province = centers
    fed = link(central, province)
    commune = province.unit("xa-x1", "commune", fed.province_unit, name="Xã X1")
    speaker = province.speaker(commune, "loa-x1")
    peer_id = fed.peer_at_central["id"]
    assert fed.peer_at_central["fingerprint"] == ok(
        province.api.get("/api/v1/federation/identity"))["fingerprint"]

    # an emergency of the central level plays on the province's loudspeakers at once
    alarm = _text_bulletin(central, "Cảnh báo lũ quét", "Cảnh báo lũ quét tại các xã ven "
                           "sông, người dân di chuyển lên vùng cao ngay.", "emergency")
    # the province's broker is down when it arrives: the province answers "retry" and
    # stores nothing; the emergency goes out once the broker is back
    province.broker.stop()
    province.center.wait_for(lambda: not province.center.center.bridge.connected,
                             what="the province's center to lose its broker")
    sent = ok(central.api.post("/api/v1/federation/bulletins", json={
        "bulletin_id": alarm["id"], "peer_ids": [peer_id], "valid_minutes": 30}), 201)
    assert [r["state"] for r in sent["items"]] == ["sent"]
    poll(lambda: _retries(central), lambda n: n >= 2, 30,
         "the central center retrying while the province cannot send")
    assert _received(province) == [] and not speaker.sink.records
    province.broker.start()
    assert speaker.sink.wait_for(lambda r: any(x.completed for x in r), 60), \
        "the central emergency did not play on the province's loudspeaker"
    (row,) = poll(lambda: _sent(central),
                  lambda rows: bool(rows) and rows[0]["state"] == "emergency", 30,
                  "the province's report of the emergency")
    assert row["devices_targeted"] == 1
    poll(lambda: _sent(central), lambda rows: rows[0]["plays_completed"] >= 1, 60,
         "the province's report of the play")

    # a normal bulletin waits in the province's inbox until it is accepted into a slot
    notice = _text_bulletin(central, "Tuyên truyền bầu cử", "Ngày bầu cử đại biểu Quốc hội "
                            "là Chủ nhật 15 tháng 3.", "normal")
    ok(central.api.post("/api/v1/federation/bulletins", json={
        "bulletin_id": notice["id"], "peer_ids": [peer_id]}), 201)
    waiting = poll(lambda: _received(province),
                   lambda rows: any(r["state"] == "inbox" for r in rows), 30,
                   "the normal bulletin in the province's inbox")
    (inbox,) = [r for r in waiting if r["state"] == "inbox"]
    local = ok(province.api.get(f"/api/v1/bulletins/{inbox['bulletin_id']}"))
    assert (local["title"], local["status"]) == ("Tuyên truyền bầu cử", "approved")
    assert local["created_by"].endswith("central")
    at = (datetime.now(UTC) + timedelta(minutes=5)).replace(microsecond=0)
    accepted = ok(province.api.post(f"/api/v1/federation/bulletins/{inbox['id']}/accept",
                                    json={"slot": {"start_at": at.isoformat()}}), 200)
    assert (accepted["state"], accepted["devices_targeted"]) == ("scheduled", 1)
    poll(lambda: _sent(central), lambda rows: any(
        r["bulletin_id"] == notice["id"] and r["state"] == "scheduled" for r in rows), 30,
        "the acceptance reported to the central center")
    again = central.api.post("/api/v1/federation/bulletins", json={
        "bulletin_id": notice["id"], "peer_ids": [peer_id]})
    assert again.status_code == 409, again.text

    # a center nobody registered: its signed messages are refused, and the attempt is logged
    stranger = Signer(Ed25519PrivateKey.generate())
    forged = stranger.seal(new_message(sender="tinh-gia-mao", to="province-x",
                                       kind=Kind.HELLO, at=datetime.now(UTC), payload={}))
    r = httpx.post(f"{province.center.base_url}/api/v1/federation/messages",
                   json={"messages": [forged.decode()]}, timeout=10)
    assert r.status_code == 403 and "tinh-gia-mao" in r.json()["detail"], r.text
    # the same id with the registered parent's name but another key: refused as well
    impostor = stranger.seal(new_message(sender="central", to="province-x", kind=Kind.HELLO,
                                         at=datetime.now(UTC), payload={}))
    r = httpx.post(f"{province.center.base_url}/api/v1/federation/messages",
                   json={"messages": [impostor.decode()]}, timeout=10)
    assert r.status_code == 403, r.text
    audit = ok(province.api.get("/api/v1/audit", params={"object_type": "federation_message"}))
    assert {e["object_id"] for e in audit["items"]} >= {"tinh-gia-mao", "central"}
