"""A text bulletin end to end: spoken by the center, played on a speaker, shown on a kiosk."""

from __future__ import annotations

import array
import math
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from protocol.events import DeviceKind
from tests.e2e.conftest import Stack
from tests.support.tree import add_device
from tests.support.waiting import poll

pytestmark = pytest.mark.integration


def _rms_dbfs(encoded: bytes) -> float:
    """The level of a whole file, decoded by ffmpeg to 16-bit mono PCM."""
    pcm = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", "16000",
         "pipe:1"], input=encoded, capture_output=True, check=True).stdout
    samples = array.array("h", pcm)
    assert len(samples) > 16000 // 2, "under half a second of speech"
    mean = sum(s * s for s in samples) / len(samples)
    return 20 * math.log10(max(math.sqrt(mean), 1.0) / 32768)


def test_a_text_bulletin_is_spoken_on_speakers_and_shown_on_kiosks(stack: Stack) -> None:
    commune = stack.unit("t", "commune")
    (speaker,) = stack.devices(commune, "loa-t-1")
    created = add_device(stack.api, "kiosk-t-1", commune, kind="kiosk", broker=stack.broker)
    kiosk = replace(speaker, device_id="kiosk-t-1", kind=DeviceKind.KIOSK,
                    data_dir=stack.tmp / "agents" / "kiosk-t-1",
                    mqtt=replace(speaker.mqtt, password=created["mqtt_password"]))
    devices = stack.fleet([speaker, kiosk])
    bulletin = stack.post("/api/v1/bulletins", {
        "title": "Lịch cắt điện", "kind": "text", "shown_minutes": 30,
        "text": "Thông báo: sáng mai cắt điện từ bảy giờ đến mười một giờ để sửa đường dây."})
    assert bulletin["voice_sha256"] is None and bulletin["shown_minutes"] == 30
    made = poll(lambda: stack.api.get(f"/api/v1/bulletins/{bulletin['id']}").json(),
                lambda b: b["voice_sha256"] or b["voice_error"], 30, "the voice made")
    assert made["voice_error"] is None, made
    info = stack.api.get(f"/api/v1/media/{made['voice_sha256']}/info").json()
    assert info["state"] == "ready" and info["delivery"]["mime"].startswith("audio/ogg")
    voice = stack.api.get(f"/api/v1/media/{info['delivery']['sha256']}")
    assert voice.status_code == 200 and _rms_dbfs(voice.content) > -40.0  # speech, not silence

    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
    schedule = stack.post("/api/v1/schedules", {
        "bulletin_id": bulletin["id"], "start_at": start.isoformat(),
        "targets": {"unit_ids": [commune["id"]]}})
    item = poll(lambda: devices["kiosk-t-1"].agent.manifest,
                lambda m: m is not None and len(m.items) == 1, 15, "the kiosk's manifest").items[0]
    assert item.content.type == "text" and item.content.ends_at == start + timedelta(minutes=30)
    speaker_item = poll(lambda: devices["loa-t-1"].agent.manifest,
                        lambda m: m is not None and len(m.items) == 1, 15, "speaker").items[0]
    assert speaker_item.content.type == "audio"
    assert speaker_item.content.sha256 == info["delivery"]["sha256"]

    sink = devices["loa-t-1"].sink
    assert sink.wait_for(lambda r: len(r) == 1 and r[0].completed, 30)
    assert sink.records[0].file_sha256 == info["delivery"]["sha256"]
    plays = poll(lambda: stack.plays(schedule_id=schedule["id"]),
                 lambda ps: {p["status"] for p in ps} == {"completed", "shown"}, 15, "plays")
    shown = [p for p in plays if p["status"] == "shown"]
    assert [p["device_id"] for p in shown] == ["kiosk-t-1"]
    shown_at = datetime.fromisoformat(shown[0]["started_at"])
    assert start <= shown_at < start + timedelta(minutes=30)
    assert [p["device_id"] for p in stack.plays(status="shown")] == ["kiosk-t-1"]
    events = stack.api.get("/api/v1/events", params={"device_id": "kiosk-t-1"}).json()
    rows = events["items"] if isinstance(events, dict) else events
    assert [e["type"] for e in rows if e["type"].startswith("play_")] == ["play_shown"]

    report = stack.api.get("/api/v1/monitoring/reports/plays",
                           params={"unit_id": commune["id"]}).json()
    total = report["total"]
    assert (total["completed"], total["shown"], total["failed"]) == (1, 1, 0)
    csv = stack.api.get("/api/v1/monitoring/reports/plays",
                        params={"unit_id": commune["id"], "format": "csv"}).text
    assert csv.splitlines()[0].split(",")[4:9] == [
        "scheduled", "completed", "interrupted", "failed", "shown"]
