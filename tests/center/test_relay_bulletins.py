"""Relay bulletins (tiếp sóng): refusals, the approval gate, live items in signed manifests
(window end, per-device token), windows kept while open, the relay runner's windows, and
heard_ms from the device's play events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from control_center.core.live_tokens import device_token
from control_center.live.relays import open_relay_windows
from control_center.models import LiveStream, Schedule, ScheduleKind, ScheduleTarget
from control_center.services.relay_bulletins import DELAY_MS
from firmware_sim.broker import MosquittoBroker
from protocol import codec
from protocol.base import Priority
from protocol.events import LiveSource, LiveSourceState, PlayCompleted
from protocol.live import LiveContent
from protocol.manifest import Manifest, PlayItem
from protocol.signing import Verifier, public_key_from_b64
from protocol.topics import Channel, device_topic
from tests.center.helpers import device, ok, unit
from tests.security.world import PASSWORD, bearer
from tests.support.center import CenterHandle
from tests.support.mqtt import connect_client

pytestmark = pytest.mark.integration
SOURCE = "https://radio.example.vn/vov1/playlist.m3u8"


def relay(api: Any, **fields: Any) -> dict[str, Any]:
    body = {"title": "Tiếp sóng VOV1", "kind": "relay", "source_url": SOURCE,
            "window_minutes": 30, **fields}
    return ok(api.post("/api/v1/bulletins", json=body))


def manifest(center: CenterHandle, device_id: str) -> Manifest:
    """The device's stored manifest, its signature checked."""
    shown = ok(center.api.get(f"/api/v1/devices/{device_id}/manifest"))
    verifier = Verifier([public_key_from_b64(center.public_key_b64)])
    return verifier.open_manifest(shown["envelope"].encode())


def live_items(center: CenterHandle, device_id: str, bulletin_id: int) -> list[PlayItem]:
    return [i for i in manifest(center, device_id).items if i.bulletin_id == bulletin_id]


def secret_of(center: CenterHandle, bulletin_id: int) -> tuple[str, str]:
    with center.center.read_sessions() as session:
        stream = session.scalar(select(LiveStream).where(LiveStream.bulletin_id == bulletin_id))
        assert stream is not None
        return stream.id, stream.secret


@pytest.fixture(scope="module")
def place(center: CenterHandle, module_broker: MosquittoBroker) -> dict[str, Any]:
    """A commune with two speakers."""
    commune = unit(center.api)
    return {"unit": commune, "devices": [device(center.api, commune, module_broker)
                                         for _ in range(2)]}


@pytest.mark.parametrize(("fields", "fragment"), [
    ({"source_url": None}, "needs source_url"),
    ({"window_minutes": None}, "needs window_minutes"),
    ({"source_url": "rtsp://radio.example.vn/vov1"}, "http:// or https://"),
    ({"source_url": "ftp://radio.example.vn/a.mp3"}, "http:// or https://"),
    ({"source_url": "https://"}, "names no host"),
    ({"source_url": "https://r.example.vn/" + "a" * 2000}, "at most 2000"),
    ({"window_minutes": 0}, "greater than or equal to 1"),
    ({"window_minutes": 1441}, "less than or equal to 1440"),
    ({"filler_sha256": "0" * 64}, "does not exist"),
    ({"media_sha256": "0" * 64}, "drop media_sha256"),
])
def test_relay_refusals(center: CenterHandle, fields: dict[str, Any], fragment: str) -> None:
    body = {"title": "Tiếp sóng", "kind": "relay", "source_url": SOURCE, "window_minutes": 30}
    body.update(fields)
    r = center.api.post("/api/v1/bulletins", json={k: v for k, v in body.items()
                                                   if v is not None})
    assert r.status_code == 422, r.text
    assert fragment in r.text


def test_relay_fields_refused_for_other_kinds(center: CenterHandle) -> None:
    r = center.api.post("/api/v1/bulletins", json={
        "title": "Tin", "kind": "text", "text": "Nội dung", "source_url": SOURCE,
        "window_minutes": 5})
    assert r.status_code == 422
    assert "source_url, window_minutes: only a relay bulletin" in r.json()["detail"]
    text = ok(center.api.post("/api/v1/bulletins", json={
        "title": "Tin", "kind": "text", "text": "Nội dung"}))
    assert (text["source_url"], text["window_minutes"], text["filler_sha256"]) == (
        None, None, None)
    r = center.api.patch(f"/api/v1/bulletins/{text['id']}", json={"source_url": SOURCE})
    assert r.status_code == 422 and "only a relay bulletin" in r.json()["detail"]


def test_one_off_relay_reaches_each_device_with_its_own_token(
        center: CenterHandle, place: dict[str, Any]) -> None:
    bulletin = relay(center.api, priority="priority")
    assert (bulletin["kind"], bulletin["status"]) == ("relay", "approved")
    assert (bulletin["source_url"], bulletin["window_minutes"]) == (SOURCE, 30)
    start = (datetime.now(UTC) + timedelta(minutes=20)).replace(microsecond=0)
    ok(center.api.post("/api/v1/schedules", json={
        "bulletin_id": bulletin["id"], "start_at": start.isoformat(),
        "targets": {"unit_ids": [place["unit"]["id"]]}}))
    stream_id, secret = secret_of(center, bulletin["id"])
    tokens = set()
    for dev in place["devices"]:
        (item,) = live_items(center, dev["id"], bulletin["id"])
        content = item.content
        assert isinstance(content, LiveContent)
        assert item.start_at == start and item.priority == "priority"
        assert content.stream_id == stream_id
        assert content.url == f"{center.base_url}/api/v1/live/{stream_id}"
        assert content.ends_at == start + timedelta(minutes=30)
        assert content.token == device_token(secret, dev["id"])
        assert (content.delay_ms, content.gone_after_s, content.filler) == (DELAY_MS, 10, None)
        tokens.add(content.token)
    assert len(tokens) == 2, "each device has its own token"


def test_recurring_relay_items_each_end_with_their_window(
        center: CenterHandle, place: dict[str, Any]) -> None:
    bulletin = relay(center.api, window_minutes=90)
    now = datetime.now(UTC)
    ok(center.api.post("/api/v1/schedules", json={
        "bulletin_id": bulletin["id"], "rrule": "FREQ=DAILY;BYHOUR=5,11;BYMINUTE=0;BYSECOND=0",
        "valid_from": now.isoformat(), "timezone": "Asia/Ho_Chi_Minh",
        "targets": {"device_ids": [place["devices"][0]["id"]]}}))
    items = live_items(center, place["devices"][0]["id"], bulletin["id"])
    assert len(items) >= 3  # two a day over the 48 h horizon
    for item in items:
        assert isinstance(item.content, LiveContent)
        assert item.content.ends_at - item.start_at == timedelta(minutes=90)
    assert len({i.content.ends_at for i in items if isinstance(i.content, LiveContent)}) == len(
        items)


def test_draft_relay_is_in_no_manifest_and_an_edit_keeps_the_stream(
        center: CenterHandle, place: dict[str, Any]) -> None:
    commune = place["unit"]
    for name, role in (("relay_op", "operator"), ("relay_appr", "approver")):
        ok(center.api.post("/api/v1/users", json={"username": name, "password": PASSWORD,
                                                  "role": role, "unit_id": commune["id"]}))
    dev = place["devices"][1]["id"]
    start = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    schedule = {"start_at": start.isoformat(), "targets": {"device_ids": [dev]}}
    with bearer(center.base_url, "relay_op") as op, bearer(center.base_url, "relay_appr") as appr:
        draft = relay(op, title="Tiếp sóng Đài tỉnh")
        assert draft["status"] == "draft"
        r = op.post("/api/v1/schedules", json={"bulletin_id": draft["id"], **schedule})
        assert r.status_code == 409, r.text
        ok(op.post(f"/api/v1/bulletins/{draft['id']}/submit"), 200)
        ok(appr.post(f"/api/v1/bulletins/{draft['id']}/approve"), 200)
        ok(op.post("/api/v1/schedules", json={"bulletin_id": draft["id"], **schedule}))
        (before,) = live_items(center, dev, draft["id"])
        stream = secret_of(center, draft["id"])

        edited = ok(op.patch(f"/api/v1/bulletins/{draft['id']}", json={
            "source_url": "http://dai-tinh.example.vn:8000/live", "window_minutes": 45}), 200)
        assert edited["status"] == "draft"
        assert (edited["source_url"], edited["window_minutes"]) == (
            "http://dai-tinh.example.vn:8000/live", 45)
        center.wait_for(lambda: not live_items(center, dev, draft["id"]),
                        what="the draft relay to leave the manifest")
        assert secret_of(center, draft["id"]) == stream, "the stream id and secret are kept"
        ok(op.post(f"/api/v1/bulletins/{draft['id']}/submit"), 200)
        ok(appr.post(f"/api/v1/bulletins/{draft['id']}/approve"), 200)
        (after,) = center.wait_for(lambda: live_items(center, dev, draft["id"]),
                                   what="the approved relay back in the manifest")
    assert isinstance(before.content, LiveContent) and isinstance(after.content, LiveContent)
    assert after.content.token == before.content.token
    assert after.content.ends_at == start + timedelta(minutes=45)


def _past_schedule(center: CenterHandle, bulletin_id: int, start: datetime,
                   device_id: str) -> int:
    """A one-off schedule whose instant has passed (the API refuses those: written directly)."""
    with center.center.sessions() as session:
        schedule = Schedule(bulletin_id=bulletin_id, kind=ScheduleKind.ONE_OFF, start_at=start,
                            timezone="Asia/Ho_Chi_Minh", created_at=start - timedelta(days=1),
                            updated_at=start - timedelta(days=1),
                            targets=[ScheduleTarget(device_id=device_id)])
        session.add(schedule)
        session.commit()
        return schedule.id


def test_an_open_window_stays_in_the_manifest_and_an_ended_one_leaves(
        center: CenterHandle, place: dict[str, Any]) -> None:
    dev = place["devices"][0]["id"]
    now = datetime.now(UTC).replace(microsecond=0)
    open_relay, ended_relay = relay(center.api, window_minutes=60), relay(
        center.api, window_minutes=20)
    _past_schedule(center, open_relay["id"], now - timedelta(minutes=40), dev)
    _past_schedule(center, ended_relay["id"], now - timedelta(minutes=35), dev)
    center.center.manifests.sync([dev])
    (joined,) = live_items(center, dev, open_relay["id"])
    assert isinstance(joined.content, LiveContent)
    assert joined.content.ends_at == now + timedelta(minutes=20)
    assert live_items(center, dev, ended_relay["id"]) == []


def test_open_relay_windows(center: CenterHandle, place: dict[str, Any]) -> None:
    dev = place["devices"][1]["id"]
    bulletin = relay(center.api, window_minutes=30, priority="priority")
    start = (datetime.now(UTC) + timedelta(hours=30)).replace(microsecond=0)
    # two overlapping one-offs of one stream and a later one
    ids = [ok(center.api.post("/api/v1/schedules", json={
        "bulletin_id": bulletin["id"], "start_at": (start + offset).isoformat(),
        "targets": {"device_ids": [dev]}}))["id"]
        for offset in (timedelta(0), timedelta(minutes=20), timedelta(hours=3))]
    stream_id, _ = secret_of(center, bulletin["id"])

    def windows(now: datetime, lead: timedelta = timedelta(minutes=2)) -> list[Any]:
        with center.center.read_sessions() as session:
            return [w for w in open_relay_windows(session, now=now, lead=lead)
                    if w.bulletin_id == bulletin["id"]]

    (merged,) = windows(start + timedelta(minutes=25))  # both open: one window
    assert (merged.stream_id, merged.source_url) == (stream_id, SOURCE)
    assert (merged.start, merged.end) == (start, start + timedelta(minutes=50))
    assert merged.priority == Priority.PRIORITY
    (upcoming,) = windows(start - timedelta(minutes=1))
    assert upcoming.start == start
    assert windows(start - timedelta(minutes=10)) == []  # beyond the lead
    assert windows(start + timedelta(minutes=51)) == []  # ended
    assert len(windows(start, lead=timedelta(hours=4))) == 2
    ok(center.api.delete(f"/api/v1/schedules/{ids[2]}"), 200)
    assert len(windows(start, lead=timedelta(hours=4))) == 1  # a cancelled schedule: gone


def test_heard_ms_and_live_source_events_are_stored(
        center: CenterHandle, module_broker: MosquittoBroker, place: dict[str, Any]) -> None:
    created = place["devices"][0]
    client = connect_client(module_broker.host, module_broker.port, created["id"],
                            created["mqtt_password"])
    bulletin = relay(center.api)
    start = (datetime.now(UTC) + timedelta(minutes=5)).replace(microsecond=0)
    schedule = ok(center.api.post("/api/v1/schedules", json={
        "bulletin_id": bulletin["id"], "start_at": start.isoformat(),
        "targets": {"device_ids": [created["id"]]}}))
    item_id = f"s{schedule['id']}r1-{start:%Y%m%dT%H%M%SZ}"
    stream_id, _ = secret_of(center, bulletin["id"])
    common: dict[str, Any] = {"device_id": created["id"], "item_id": item_id,
                              "bulletin_id": bulletin["id"], "priority": Priority.NORMAL,
                              "scheduled_at": start}
    lost = LiveSource(event_id=uuid.uuid4().hex, device_id=created["id"], at=start,
                      item_id=item_id, stream_id=stream_id, state=LiveSourceState.LOST,
                      reason="no segment for 10 s")
    done = PlayCompleted(event_id=uuid.uuid4().hex, at=start, started_at=start,
                         ended_at=start + timedelta(minutes=30), heard_ms=1_500_000, **common)
    ingestor = center.center.ingestor
    base = ingestor.snapshot()
    try:
        topic = device_topic(created["id"], Channel.EVENT)
        for event in (lost, done):
            client.publish(topic, codec.encode(event))
        assert ingestor.wait_for(lambda c: c["event"] - base["event"] >= 2, timeout=10), (
            dict(ingestor.counters))
    finally:
        client.close()
    assert ingestor.snapshot()["malformed"] == base["malformed"]
    (play,) = ok(center.api.get("/api/v1/plays", params={"schedule_id": schedule["id"]}))[
        "items"]
    assert play["status"] == "completed"
    assert play["heard_ms"] == 1_500_000
    (event,) = ok(center.api.get("/api/v1/events", params={
        "device_id": created["id"], "type": "live_source"}))["items"]
    assert event["payload"]["state"] == "lost"
