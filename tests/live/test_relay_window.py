"""A relay (tiếp sóng) end to end: real broker, center, segmenter (ffmpeg), upstream station
(ffmpeg serving MP3 over HTTP) and three agents with simulated live sinks.

One one-minute window holds the whole story: the three speakers join at its start in step,
an emergency file interrupts the relay which then resumes, the upstream is cut for longer
than the items' ``gone_after_s`` (lost, the filler looped, then back by itself), and every
speaker stops at the window's end; proof of play counts the seconds each heard.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import combinations

from firmware_sim.live_sink import SimPcmSink
from tests.e2e.conftest import Stack
from tests.live.station import UpstreamStation, played_between, tone_share
from tests.support.waiting import wait_until

DEVICES = ("loa-r1", "loa-r2", "loa-r3")
SKEW_S = 0.030
DELAY_S = 4.0  # a relay's (2 s segments)


def _at(base: datetime, seconds: float) -> float:
    return (base + timedelta(seconds=seconds)).timestamp()


def test_three_speakers_relay_a_window_in_step_through_an_emergency_and_a_cut(
        stack: Stack) -> None:
    commune = stack.unit("XR", "commune")
    devices = stack.fleet(stack.devices(commune, *DEVICES))
    sinks = {d: dev.agent._hw.live for d, dev in devices.items()}
    assert all(isinstance(s, SimPcmSink) for s in sinks.values())
    with UpstreamStation(freq=440) as station:
        siren = stack.audio_bulletin(3, priority="emergency", title="Báo động")  # 880 Hz
        relay = stack.post("/api/v1/bulletins", {
            "title": "Tiếp sóng VOV1", "priority": "normal", "kind": "relay",
            "source_url": station.url, "window_minutes": 1,
            "filler_sha256": siren["media_sha256"]})  # looped while the source is gone
        t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=6)
        end = t0 + timedelta(minutes=1)
        stack.post("/api/v1/schedules", {"bulletin_id": relay["id"], "start_at": t0.isoformat(),
                                         "targets": {"unit_ids": [commune["id"]]}})
        stack.post("/api/v1/schedules", {
            "bulletin_id": siren["id"], "start_at": (t0 + timedelta(seconds=18)).isoformat(),
            "targets": {"unit_ids": [commune["id"]]}})

        # the upstream is cut 30 s into the window for 14 s (gone_after_s is 10)
        wait_until(lambda: datetime.now(UTC) >= t0 + timedelta(seconds=30), 60, "the cut")
        station.stop()
        wait_until(lambda: datetime.now(UTC) >= t0 + timedelta(seconds=44), 30, "the cut ends")
        station.start()

        def relay_plays() -> list[dict[str, object]]:
            return [p for p in stack.plays(bulletin_id=relay["id"])
                    if p["status"] in ("completed", "interrupted", "failed")]
        wait_until(lambda: len({p["device_id"] for p in relay_plays()
                                if p["status"] == "completed"}) == 3,
                   45, "every speaker completed the relay window")

    blocks = {d: s.samples() for d, s in sinks.items()}  # type: ignore[union-attr]
    # joined at the window's start (the segmenter runs 3 s ahead), in step
    firsts = {d: b[0][0] for d, b in blocks.items()}
    for d, first in firsts.items():
        assert _at(t0, 0) <= first <= _at(t0, 2.0 + DELAY_S), (d, first - t0.timestamp())
    for a, b in combinations(DEVICES, 2):
        assert abs(firsts[a] - firsts[b]) <= SKEW_S, (a, b, firsts[a] - firsts[b])
    # what played is the station's tone, decoded
    for d, b in blocks.items():
        assert tone_share(b[0][1][: 48_000 * 2], 440) > 0.8, d
    siren_plays = {d: [r for r in dev.sink.records if r.bulletin_id == siren["id"]]
                   for d, dev in devices.items()}
    for d, b in blocks.items():
        (play,) = siren_plays[d]
        # silent during the emergency, back after it while the window is open
        assert played_between(b, play.started_at + 0.2, play.ended_at - 0.2) == 0, d
        assert played_between(b, play.ended_at, _at(t0, 30)) > 4, d
        # lost during the cut (the filler plays, looped), back after it, nothing after the end
        filler = [pcm for start, pcm in b if _at(t0, 38) <= start <= _at(t0, 48)]
        assert filler and tone_share(filler[0][: 48_000 * 2], 880) > 0.8, d
        assert played_between(b, _at(t0, 50), end.timestamp()) > 5, d
        last_end = max(start + len(pcm) / 96_000 for start, pcm in b)
        assert last_end <= end.timestamp() + 0.1, (d, last_end - end.timestamp())
    events = stack.api.get("/api/v1/events", params={"type": "live_source"}).json()["items"]
    for d in DEVICES:
        states = [e["payload"]["state"] for e in sorted(events, key=lambda e: e["at"])
                  if e["device_id"] == d]
        assert states[:2] == ["lost", "back"], (d, states)
    plays = {p["device_id"]: p for p in stack.plays(bulletin_id=relay["id"], status="completed")}
    for d in DEVICES:
        heard = plays[d]["heard_ms"]
        assert isinstance(heard, int) and 25_000 <= heard <= 58_000, (d, heard)
    # the emergency interrupted each relay once (reported), then the window resumed
    interrupted = [e for e in stack.api.get("/api/v1/events", params={
        "type": "play_interrupted"}).json()["items"] if e["payload"]["bulletin_id"] == relay["id"]]
    assert {e["device_id"] for e in interrupted} == set(DEVICES)
