"""Horizon expansion over time, with the center's clock under the test's control."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.broker import MosquittoBroker
from tests.center.helpers import audio_bulletin, device, ok, unit
from tests.support.center import CenterHandle, running_center

pytestmark = pytest.mark.integration

T0 = datetime(2026, 9, 2, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội


class ManualClock:
    def __init__(self, now: datetime) -> None:
        self._now = now
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def timed_center(tmp_path: Path, broker: MosquittoBroker,
                 clock: ManualClock) -> Iterator[CenterHandle]:
    with running_center(tmp_path / "center", mqtt_host=broker.host, mqtt_port=broker.center_port,
                        mqtt_password=broker.center_password, clock=clock, horizon_hours=8,
                        refresh_seconds=3600) as handle:
        yield handle


def _manifest(center: CenterHandle, device_id: str) -> dict[str, Any]:
    return ok(center.api.get(f"/api/v1/devices/{device_id}/manifest"))


def test_recurring_items_roll_with_the_horizon(
    timed_center: CenterHandle, clock: ManualClock, tone_wav: Path
) -> None:
    api, sync = timed_center.api, timed_center.center.manifests.sync
    speaker = device(api, unit(api))["id"]
    bulletin = audio_bulletin(api, tone_wav)
    schedule = ok(api.post("/api/v1/schedules", json={
        "bulletin_id": bulletin["id"], "rrule": "FREQ=DAILY;BYHOUR=6,17;BYMINUTE=0;BYSECOND=0",
        "valid_from": (T0 - timedelta(days=1)).isoformat(),
        "targets": {"device_ids": [speaker]}}))
    sid = schedule["id"]
    m = _manifest(timed_center, speaker)
    assert m["version"] == 2
    assert [i["item_id"] for i in m["manifest"]["items"]] == [f"s{sid}r1-20260902T100000Z"]

    assert sync().changed == ()  # same content, same version
    assert _manifest(timed_center, speaker)["version"] == 2

    clock.advance(timedelta(hours=8))  # 11:00 UTC: 10:00 is gone, 23:00 not yet in 8 h
    assert sync().changed == (speaker,)
    m = _manifest(timed_center, speaker)
    assert (m["version"], m["manifest"]["items"]) == (3, [])

    clock.advance(timedelta(hours=10))  # 21:00 UTC: 23:00 UTC (06:00 local) is within 8 h
    sync()
    m = _manifest(timed_center, speaker)
    assert m["version"] == 4
    assert [i["item_id"] for i in m["manifest"]["items"]] == [f"s{sid}r1-20260902T230000Z"]

    plays = ok(api.get("/api/v1/plays", params={"schedule_id": sid}))["items"]
    # An item that aged out unreported stays "scheduled" (no proof of play), not "cancelled".
    assert [(p["item_id"][-16:], p["status"]) for p in plays] == [
        ("20260902T100000Z", "scheduled"), ("20260902T230000Z", "scheduled")]


def test_one_off_in_the_past_uses_the_center_clock(timed_center: CenterHandle,
                                                   tone_wav: Path) -> None:
    api = timed_center.api
    commune = unit(api)
    bulletin = audio_bulletin(api, tone_wav)
    body = {"bulletin_id": bulletin["id"], "targets": {"unit_ids": [commune["id"]]}}
    r = api.post("/api/v1/schedules", json={**body, "start_at": "2026-09-02T02:59:00Z"})
    assert r.status_code == 422 and "start_at is in the past" in r.json()["detail"]
    ok(api.post("/api/v1/schedules", json={**body, "start_at": "2026-09-02T03:01:00Z"}))


def test_refresher_runs_periodically(tmp_path: Path, broker: MosquittoBroker) -> None:
    with running_center(tmp_path / "c", mqtt_host=broker.host, mqtt_port=broker.center_port,
                        mqtt_password=broker.center_password, refresh_seconds=0.1) as handle:
        assert handle.center.refresher.wait_for_runs(4, timeout=10)
