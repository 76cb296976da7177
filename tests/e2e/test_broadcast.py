"""End-to-end broadcast: API -> center -> MQTT -> agents -> sinks -> proof of play."""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import Stack
from tests.support.waiting import poll

pytestmark = pytest.mark.integration
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_one_off_bulletin_plays_on_every_targeted_speaker_and_no_other(stack: Stack) -> None:
    province = stack.unit("p", "province")
    commune_a, commune_b, commune_c = (stack.unit(c, "commune", province) for c in "abc")
    configs = (
        stack.devices(commune_a, "loa-a-1", "loa-a-2")
        + stack.devices(commune_b, "loa-b-1")
        + stack.devices(commune_c, "loa-c-1")
    )
    devices = stack.fleet(configs)
    bulletin = stack.audio_bulletin(1.0)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=6)
    schedule = stack.post(
        "/api/v1/schedules",
        {
            "bulletin_id": bulletin["id"],
            "start_at": start.isoformat(),
            "targets": {"unit_ids": [commune_a["id"], commune_b["id"]]},
        },
    )
    assert sorted(schedule["device_ids"]) == ["loa-a-1", "loa-a-2", "loa-b-1"]

    targeted = ["loa-a-1", "loa-a-2", "loa-b-1"]
    for device_id in targeted:
        assert devices[device_id].sink.wait_for(lambda r: len(r) == 1 and r[0].completed, 20)
    errors_ms = []
    for device_id in targeted:
        (record,) = devices[device_id].sink.records
        errors_ms.append((record.started_at - start.timestamp()) * 1000)
        assert abs(errors_ms[-1]) < 100, f"{device_id} started {errors_ms[-1]:.1f} ms off"
        assert record.file_sha256 == record.expected_sha256
    plays = poll(
        lambda: stack.plays(schedule_id=schedule["id"]),
        lambda ps: sorted(p["device_id"] for p in ps if p["status"] == "completed") == targeted,
        15,
        "completed play logs",
    )
    assert {p["device_id"] for p in plays} == set(targeted)
    # The untargeted speaker got nothing to play and played nothing.
    assert devices["loa-c-1"].sink.records == []
    c_manifest = devices["loa-c-1"].agent.manifest
    assert c_manifest is None or c_manifest.items == ()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "start_errors_ms.json").write_text(
        json.dumps(
            {
                "median_abs": statistics.median(abs(e) for e in errors_ms),
                "worst_abs": max(abs(e) for e in errors_ms),
                "all": errors_ms,
            },
            indent=2,
        )
    )


def test_recurring_daily_slots_reach_devices_and_edits_follow(stack: Stack) -> None:
    commune = stack.unit("x", "commune")
    devices = stack.fleet(stack.devices(commune, "loa-r-1"))
    agent = devices["loa-r-1"].agent
    bulletin = stack.audio_bulletin(1.0)
    now = datetime.now(UTC)
    schedule = stack.post(
        "/api/v1/schedules",
        {
            "bulletin_id": bulletin["id"],
            "rrule": "FREQ=DAILY;BYHOUR=6,17;BYMINUTE=0;BYSECOND=0",
            "valid_from": now.isoformat(),
            "valid_until": (now + timedelta(days=10)).isoformat(),
            "timezone": "Asia/Ho_Chi_Minh",
            "targets": {"unit_ids": [commune["id"]]},
        },
    )

    def held_instants() -> list[datetime]:
        with agent.manifest_changed:
            agent.manifest_changed.wait_for(
                lambda: agent.manifest is not None and agent.manifest.items, 10
            )
        assert agent.manifest is not None
        return [it.start_at for it in agent.manifest.items]

    instants = held_instants()
    assert instants, "no recurring instants in the manifest"
    assert {(t.hour, t.minute) for t in instants} <= {(23, 0), (10, 0)}  # 06:00 and 17:00 ICT
    local = [t.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")) for t in instants]
    assert {lt.hour for lt in local} == {6, 17} or len(local) == 1
    assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in instants)
    assert instants == sorted(instants) and all(t > now for t in instants)
    version = agent.manifest.version  # type: ignore[union-attr]

    r = stack.api.patch(
        f"/api/v1/schedules/{schedule['id']}",
        json={"rrule": "FREQ=DAILY;BYHOUR=7;BYMINUTE=30;BYSECOND=0"},
    )
    assert r.status_code == 200, r.text
    with agent.manifest_changed:
        assert agent.manifest_changed.wait_for(lambda: agent.manifest.version > version, 10)  # type: ignore[union-attr]
    assert {(t.hour, t.minute) for t in held_instants()} == {(0, 30)}  # 07:30 ICT
    version = agent.manifest.version  # type: ignore[union-attr]

    assert stack.api.delete(f"/api/v1/schedules/{schedule['id']}").status_code in (200, 204)
    with agent.manifest_changed:
        assert agent.manifest_changed.wait_for(lambda: agent.manifest.version > version, 10)  # type: ignore[union-attr]
    assert agent.manifest.items == ()  # type: ignore[union-attr]


def test_offline_speaker_plays_from_cache_and_every_event_arrives_once(stack: Stack) -> None:
    commune = stack.unit("o", "commune")
    devices = stack.fleet(stack.devices(commune, "loa-o-1"))
    device = devices["loa-o-1"]
    bulletin = stack.audio_bulletin(1.0)
    start = datetime.now(UTC) + timedelta(seconds=5)
    schedule = stack.post(
        "/api/v1/schedules",
        {
            "bulletin_id": bulletin["id"],
            "start_at": start.isoformat(),
            "targets": {"device_ids": ["loa-o-1"]},
        },
    )
    sha = bulletin["delivery"]["sha256"]
    poll(lambda: device.agent.cache.has(sha), bool, 10, "the media in the agent's cache")
    assert device.agent.outbox.wait_drained(10)

    stack.broker.stop()  # the 4G link is down at the scheduled instant
    assert device.sink.wait_for(lambda r: len(r) == 1, 20)
    record = device.sink.records[0]
    assert abs(record.started_at - start.timestamp()) < 0.1 and record.completed
    # started + completed are held locally while the link is down
    poll(device.agent.outbox.pending, lambda n: n >= 2, 10, "two events held in the outbox")
    stack.broker.start()

    assert device.agent.outbox.wait_drained(30)
    plays = poll(
        lambda: stack.plays(schedule_id=schedule["id"]),
        lambda ps: ps and ps[0]["status"] == "completed",
        30,
        "the completed play log",
    )
    assert plays[0]["device_id"] == "loa-o-1"
    events = stack.api.get("/api/v1/events", params={"device_id": "loa-o-1"}).json()
    events = events["items"] if isinstance(events, dict) else events
    ids = [e["event_id"] for e in events]
    assert len(ids) == len(set(ids))
    play_types = sorted(e["type"] for e in events if e["type"].startswith("play_"))
    assert play_types == ["play_completed", "play_started"]


def test_emergency_interrupts_a_normal_bulletin_and_the_center_logs_it(stack: Stack) -> None:
    commune = stack.unit("e", "commune")
    devices = stack.fleet(stack.devices(commune, "loa-e-1"))
    normal = stack.audio_bulletin(6.0, "normal", "Bản tin thường")
    emergency = stack.audio_bulletin(1.0, "emergency", "Cảnh báo bão khẩn cấp")
    t0 = datetime.now(UTC) + timedelta(seconds=5)
    s_normal = stack.post(
        "/api/v1/schedules",
        {
            "bulletin_id": normal["id"],
            "start_at": t0.isoformat(),
            "targets": {"device_ids": ["loa-e-1"]},
        },
    )
    s_emergency = stack.post(
        "/api/v1/schedules",
        {
            "bulletin_id": emergency["id"],
            "start_at": (t0 + timedelta(seconds=2)).isoformat(),
            "targets": {"device_ids": ["loa-e-1"]},
        },
    )
    sink = devices["loa-e-1"].sink
    assert sink.wait_for(lambda r: len(r) == 2, 20)
    assert [(r.priority, r.completed) for r in sink.records] == [
        ("normal", False),
        ("emergency", True),
    ]
    poll(
        lambda: stack.plays(device_id="loa-e-1"),
        lambda ps: (
            {(p["schedule_id"], p["status"]) for p in ps}
            == {(s_normal["id"], "interrupted"), (s_emergency["id"], "completed")}
        ),
        15,
        "interrupted + completed play logs",
    )
