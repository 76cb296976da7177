"""Bulletins and schedules: refusals, manifests published to a real device, plays, audit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.broker import MosquittoBroker
from protocol.manifest import Manifest
from protocol.signing import Verifier, public_key_from_b64
from protocol.topics import Channel, device_topic
from tests.center.helpers import audio_bulletin, device, in_minutes, ok, text_voice, unit
from tests.support.audio import make_tone
from tests.support.center import CenterHandle
from tests.support.mqtt import MqttTestClient, connect_client

pytestmark = pytest.mark.integration


class DeviceView:
    """A real MQTT client logged in as the device, reading its retained manifest."""

    def __init__(self, center: CenterHandle, broker: MosquittoBroker,
                 created: dict[str, Any]) -> None:
        self.id = created["id"]
        self.topic = device_topic(self.id, Channel.MANIFEST)
        self._verifier = Verifier([public_key_from_b64(center.public_key_b64)])
        self.client: MqttTestClient = connect_client(broker.host, broker.port, self.id,
                                                     created["mqtt_password"])
        self.client.subscribe(self.topic)

    def manifest(self, version: int) -> Manifest:
        """Wait for (at least) ``version`` and return the newest verified manifest."""
        def newest() -> Manifest | None:
            found = [self._verifier.open_manifest(m.payload)
                     for m in self.client.received_on(self.topic)]
            return max(found, key=lambda m: m.version) if found else None

        self.client.wait_for(lambda m: m.topic == self.topic and
                             (newest() or _EMPTY).version >= version,
                             f"manifest v{version} of {self.id}")
        found = newest()
        assert found is not None
        return found


_EMPTY = Manifest(device_id="x", version=1, issued_at=datetime(2026, 1, 1, tzinfo=UTC))


@pytest.fixture
def commune(center: CenterHandle) -> dict[str, Any]:
    return unit(center.api)


@pytest.fixture
def speaker(center: CenterHandle, module_broker: MosquittoBroker,
            commune: dict[str, Any]) -> Iterator[DeviceView]:
    view = DeviceView(center, module_broker, device(center.api, commune, module_broker))
    yield view
    view.client.close()


def test_bulletin_refusals(center: CenterHandle) -> None:
    api = center.api
    r = api.post("/api/v1/bulletins", json={"title": "A", "media_sha256": "ab" * 32})
    assert (r.status_code, r.json()["detail"]) == (
        422, f"media {'ab' * 32} does not exist: upload it first")
    r = api.post("/api/v1/bulletins", json={"title": "A", "kind": "audio"})
    assert r.status_code == 422 and "needs media_sha256" in r.json()["detail"]
    r = api.post("/api/v1/bulletins", json={"title": "A", "kind": "text"})
    assert r.status_code == 422 and "non-empty text" in r.json()["detail"]
    r = api.post("/api/v1/bulletins", json={"title": "A", "kind": "text", "text": "x",
                                            "priority": "urgent"})
    assert r.status_code == 422 and "body.priority" in r.json()["detail"]
    r = api.get("/api/v1/bulletins/99999")
    assert (r.status_code, r.json()["detail"]) == (404, "bulletin 99999 does not exist")


TEXT_WITH_MEDIA = ("a text bulletin is spoken from its text and has no media: drop "
                   "media_sha256, or make an audio bulletin (kind=audio) to play the recording")


def test_text_bulletin_with_media_is_refused_on_create_and_patch(
    center: CenterHandle, tone_wav: Path
) -> None:
    api = center.api
    audio = audio_bulletin(api, tone_wav)
    sha = audio["media_sha256"]
    for media in (sha, "cd" * 32):  # ready media, and media that does not exist
        r = api.post("/api/v1/bulletins", json={"title": "Tin", "kind": "text", "text": "Họp.",
                                                "media_sha256": media})
        assert (r.status_code, r.json()["detail"]) == (422, TEXT_WITH_MEDIA)
    text = ok(api.post("/api/v1/bulletins", json={"title": "Tin", "kind": "text",
                                                  "text": "Họp lúc 19h."}))
    for media in (sha, "cd" * 32):
        r = api.patch(f"/api/v1/bulletins/{text['id']}", json={"media_sha256": media})
        assert (r.status_code, r.json()["detail"]) == (422, TEXT_WITH_MEDIA)
    assert ok(api.get(f"/api/v1/bulletins/{text['id']}"))["media_sha256"] is None
    # an audio bulletin keeps ready media: dropped or unknown media is refused, not a 500
    r = api.patch(f"/api/v1/bulletins/{audio['id']}", json={"media_sha256": None})
    assert r.status_code == 422 and "needs media_sha256" in r.json()["detail"]
    r = api.patch(f"/api/v1/bulletins/{audio['id']}", json={"media_sha256": "cd" * 32})
    assert (r.status_code, r.json()["detail"]) == (
        422, f"media {'cd' * 32} does not exist: upload it first")
    assert ok(api.get(f"/api/v1/bulletins/{audio['id']}"))["media_sha256"] == sha


def test_text_bulletin_crud(center: CenterHandle) -> None:
    api = center.api
    b = ok(api.post("/api/v1/bulletins", json={"title": "Lịch cắt điện", "kind": "text",
                                               "text": "Thứ Bảy cắt điện 7h-11h.",
                                               "priority": "priority", "category": "điện"}))
    assert (b["kind"], b["priority"], b["media_sha256"]) == ("text", "priority", None)
    patched = ok(api.patch(f"/api/v1/bulletins/{b['id']}", json={"title": "Lịch cắt điện (sửa)"}))
    assert patched["title"] == "Lịch cắt điện (sửa)" and patched["text"] == b["text"]
    assert b["id"] in [x["id"] for x in ok(api.get("/api/v1/bulletins"))["items"]]
    r = api.patch(f"/api/v1/bulletins/{b['id']}", json={"title": None})
    assert r.status_code == 422


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"start_at": "2020-01-01T06:00:00+07:00"}, "start_at is in the past"),
        ({"start_at": "2030-01-01T06:00:00"}, "body.start_at: Input should have timezone info"),
        ({"start_at": None, "rrule": "FREQ=SOMETIMES", "valid_from": "2026-01-01T00:00:00Z"},
         "invalid rrule 'FREQ=SOMETIMES': invalid 'FREQ': SOMETIMES"),
        ({"start_at": None, "rrule": "FREQ=DAILY;BYHOUR=6", "valid_from": None},
         "needs rrule and valid_from"),
        ({"start_at": None, "rrule": "FREQ=DAILY", "valid_from": "2026-01-01T00:00:00Z",
          "valid_until": "2026-01-02T00:00:00Z"}, "has no occurrence after now"),
        ({"start_at": None}, "give either start_at"),
        ({"timezone": "Asia/Hanoi-City"}, "unknown time zone 'Asia/Hanoi-City'"),
        ({"bulletin_id": 987654}, "bulletin 987654 does not exist"),
        ({"targets": {}}, "at least one target"),
        ({"targets": {"unit_ids": [5555], "device_ids": ["ma"]}},
         "unknown target(s): unit 5555, device 'ma'"),
    ],
)
def test_schedule_refusals(center: CenterHandle, commune: dict[str, Any], tone_wav: Path,
                           change: dict[str, Any], fragment: str) -> None:
    bulletin = audio_bulletin(center.api, tone_wav)
    body = {"bulletin_id": bulletin["id"], "start_at": in_minutes(30),
            "targets": {"unit_ids": [commune["id"]]}, **change}
    r = center.api.post("/api/v1/schedules", json=body)
    assert r.status_code == 422, r.text
    assert fragment in r.json()["detail"]


def test_one_off_reaches_the_device_signed_and_retained(
    center: CenterHandle, speaker: DeviceView, commune: dict[str, Any], tone_wav: Path
) -> None:
    api = center.api
    bulletin = audio_bulletin(api, tone_wav, priority="emergency")
    start = (datetime.now(UTC) + timedelta(minutes=20)).replace(microsecond=0)
    schedule = ok(api.post("/api/v1/schedules", json={
        "bulletin_id": bulletin["id"], "start_at": start.isoformat(),
        "targets": {"unit_ids": [commune["id"]]},
    }))
    assert schedule["kind"] == "one_off" and schedule["revision"] == 1
    assert schedule["device_ids"] == [speaker.id]
    assert schedule["delivery"] == {"devices": 1, "changed": 1, "published": 1, "pending": 0,
                                    "pending_ids": []}
    assert [datetime.fromisoformat(i) for i in schedule["next_instants"]] == [start]

    manifest = speaker.manifest(version=2)  # v1 was the empty manifest at registration
    assert manifest.device_id == speaker.id
    (item,) = manifest.items
    assert item.item_id == f"s{schedule['id']}r1-{start:%Y%m%dT%H%M%SZ}"
    assert item.start_at == start and item.priority == "emergency"
    assert item.content.type == "audio"
    delivery = bulletin["delivery"]  # the Opus rendition of the upload
    assert item.content.url == f"{center.base_url}/api/v1/media/{delivery['sha256']}"
    assert (item.content.sha256, item.content.size) == (delivery["sha256"], delivery["size"])
    assert (item.content.mime, item.content.duration_ms) == ("audio/ogg", 1000)
    retained = [m for m in speaker.client.received_on(speaker.topic) if m.retain]
    assert retained, "the manifest is retained"

    shown = ok(api.get(f"/api/v1/devices/{speaker.id}/manifest"))
    assert shown["version"] == 2 and shown["published_at"]
    assert shown["envelope"].encode() == speaker.client.received_on(speaker.topic)[-1].payload

    plays = ok(api.get("/api/v1/plays", params={"device_id": speaker.id}))["items"]
    assert [(p["item_id"], p["status"]) for p in plays] == [(item.item_id, "scheduled")]


def test_recurring_edit_and_cancel(
    center: CenterHandle, speaker: DeviceView, commune: dict[str, Any], tone_wav: Path
) -> None:
    api = center.api
    bulletin = audio_bulletin(api, tone_wav)
    valid_from = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    schedule = ok(api.post("/api/v1/schedules", json={
        "bulletin_id": bulletin["id"], "rrule": "FREQ=DAILY;BYHOUR=6,17;BYMINUTE=0;BYSECOND=0",
        "valid_from": valid_from.isoformat(), "targets": {"device_ids": [speaker.id]},
    }))
    assert schedule["timezone"] == "Asia/Ho_Chi_Minh"
    instants = [datetime.fromisoformat(i) for i in schedule["next_instants"]]
    assert len(instants) == 10
    assert {(i.hour, i.minute) for i in instants} == {(23, 0), (10, 0)}
    v2 = speaker.manifest(version=2)
    assert len(v2.items) in (4, 5)  # 48 h of 06:00/17:00 local (+1 inside the grace window)
    assert all(i.item_id.startswith(f"s{schedule['id']}r1-") for i in v2.items)

    # Edit: only 06:00 local. New revision, new item ids, old ones cancelled.
    edited = ok(api.patch(f"/api/v1/schedules/{schedule['id']}",
                          json={"rrule": "FREQ=DAILY;BYHOUR=6;BYMINUTE=0;BYSECOND=0"}))
    assert edited["revision"] == 2 and edited["delivery"]["published"] == 1
    v3 = speaker.manifest(version=3)
    assert v3.items and all(i.item_id.startswith(f"s{schedule['id']}r2-") for i in v3.items)
    assert all(i.start_at.hour == 23 for i in v3.items)
    plays = ok(api.get("/api/v1/plays", params={"schedule_id": schedule["id"]}))["items"]
    by_status: dict[str, int] = {}
    for p in plays:
        by_status[p["status"]] = by_status.get(p["status"], 0) + 1
    assert by_status == {"cancelled": len(v2.items), "scheduled": len(v3.items)}

    # A change of targets republishes the device that lost the schedule, too.
    other = device(api, commune)
    moved = ok(api.patch(f"/api/v1/schedules/{schedule['id']}",
                         json={"targets": {"device_ids": [other["id"]]}}))
    assert moved["device_ids"] == [other["id"]]
    assert moved["delivery"]["devices"] == 2
    assert speaker.manifest(version=4).items == ()

    cancelled = ok(api.delete(f"/api/v1/schedules/{schedule['id']}"))
    assert cancelled["cancelled_at"] is not None and cancelled["next_instants"] == []
    other_manifest = ok(api.get(f"/api/v1/devices/{other['id']}/manifest"))
    assert other_manifest["manifest"]["items"] == []
    r = api.patch(f"/api/v1/schedules/{schedule['id']}", json={"timezone": "Asia/Bangkok"})
    assert r.status_code == 409 and "was cancelled" in r.json()["detail"]
    assert ok(api.delete(f"/api/v1/schedules/{schedule['id']}"))["cancelled_at"]  # idempotent

    actions = [(e["action"], e["detail"].get("revision"))
               for e in ok(api.get("/api/v1/audit", params={
                   "object_type": "schedule", "object_id": schedule["id"]}))["items"]]
    assert actions == [("cancel", 3), ("update", 3), ("update", 2), ("create", None)]


def test_group_target_and_text_bulletin(
    center: CenterHandle, speaker: DeviceView, commune: dict[str, Any]
) -> None:
    api = center.api
    group = ok(api.post("/api/v1/groups", json={"name": f"g-{speaker.id}",
                                                "device_ids": [speaker.id]}))
    bulletin = ok(api.post("/api/v1/bulletins", json={
        "title": "Họp dân", "kind": "text", "text": "Họp tổ dân phố lúc 19h."}))
    voice = text_voice(api, bulletin["id"])
    ok(api.post("/api/v1/schedules", json={
        "bulletin_id": bulletin["id"], "start_at": in_minutes(60),
        "targets": {"group_ids": [group["id"]]},
    }))
    (item,) = speaker.manifest(version=2).items  # a speaker plays the text's voice
    assert item.content.type == "audio" and item.content.sha256 == voice
    # Editing the text republishes the devices that play it: without the old voice at once,
    # with the new one once it is made.
    ok(api.patch(f"/api/v1/bulletins/{bulletin['id']}", json={"text": "Họp lúc 20h."}))
    assert speaker.manifest(version=3).items == ()
    (item,) = speaker.manifest(version=4).items
    assert item.content.type == "audio" and item.content.sha256 == text_voice(api, bulletin["id"])
    assert item.content.sha256 != voice



def test_listing_schedules(center: CenterHandle, commune: dict[str, Any], tone_wav: Path) -> None:
    bulletin = audio_bulletin(center.api, tone_wav)
    created = ok(center.api.post("/api/v1/schedules", json={
        "bulletin_id": bulletin["id"], "start_at": in_minutes(90),
        "targets": {"unit_ids": [commune["id"]]}}))
    listed = ok(center.api.get("/api/v1/schedules", params={"bulletin_id": bulletin["id"]}))
    assert [s["id"] for s in listed["items"]] == [created["id"]]
    assert listed["items"][0]["next_instants"] is None
    got = ok(center.api.get(f"/api/v1/schedules/{created['id']}"))
    assert got["targets"] == {"unit_ids": [commune["id"]], "group_ids": [], "device_ids": []}
    assert center.api.get("/api/v1/schedules/777777").status_code == 404


def _recurring(bulletin: dict[str, Any], rule: str, commune: dict[str, Any]) -> dict[str, Any]:
    valid_from = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    return {"bulletin_id": bulletin["id"], "rrule": rule, "valid_from": valid_from.isoformat(),
            "targets": {"unit_ids": [commune["id"]]}}


@pytest.mark.parametrize(
    ("seconds", "rule", "gap"),
    [
        (7, "FREQ=SECONDLY", "1 s apart"),
        (90, "FREQ=MINUTELY;INTERVAL=1", "60 s apart"),
        (7, "FREQ=DAILY;BYHOUR=6;BYMINUTE=0;BYSECOND=0,30", "30 s apart"),
    ],
)
def test_recurrence_closer_than_the_bulletin_or_a_minute_is_refused(
    center: CenterHandle, commune: dict[str, Any], tmp_path: Path, seconds: int, rule: str,
    gap: str,
) -> None:
    bulletin = audio_bulletin(center.api, make_tone(tmp_path / "clip.mp3", seconds, freq=523))
    before = ok(center.api.get("/api/v1/schedules", params={"bulletin_id": bulletin["id"]}))
    r = center.api.post("/api/v1/schedules", json=_recurring(bulletin, rule, commune))
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert f"rrule {rule!r} repeats too often: occurrences {gap}" in detail
    lasts = bulletin["delivery"]["duration_ms"] / 1000  # the encoded clip: about ``seconds``
    assert abs(lasts - seconds) < 0.5
    assert f"the bulletin lasts {round(lasts, 1):g} s" in detail
    assert "at least 60 s apart" in detail
    assert detail.startswith(f"lịch lặp quá dày: quy tắc {rule!r}")
    after = ok(center.api.get("/api/v1/schedules", params={"bulletin_id": bulletin["id"]}))
    assert after["count"] == before["count"] == 0


def test_hourly_rule_passes_and_cannot_be_edited_closer(
    center: CenterHandle, commune: dict[str, Any], tmp_path: Path
) -> None:
    bulletin = audio_bulletin(center.api, make_tone(tmp_path / "clip.mp3", 7, freq=587))
    created = ok(center.api.post("/api/v1/schedules", json=_recurring(
        bulletin, "FREQ=HOURLY;BYMINUTE=15;BYSECOND=0", commune)))
    first, second = (datetime.fromisoformat(i) for i in created["next_instants"][:2])
    assert second - first == timedelta(hours=1)
    r = center.api.patch(f"/api/v1/schedules/{created['id']}",
                         json={"rrule": "FREQ=MINUTELY;BYSECOND=0,20,40"})
    assert r.status_code == 422 and "occurrences 20 s apart" in r.json()["detail"]
    assert ok(center.api.get(f"/api/v1/schedules/{created['id']}"))["revision"] == 1
