"""Live from a commune office: a Pi's microphone is a live session's source.

A source agent whose simulated microphone speaks a Vietnamese espeak-ng clip (in real time)
and two speaker agents stand in one commune. A session created through the API with that
device as its source and started sends the source a signed ``live_capture``: its Ogg/Opus
chunks reach the center, and the speakers' live sinks play audio that correlates with the
clip; the source itself plays nothing (no feedback into its microphone). Stop completes the
speakers' plays, ends the capture (the center answers 409) and keeps a recording that
correlates too. A listener's token cannot upload, a source token opens no other session, and
a device that is not active cannot be a source.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from control_center.core.live_tokens import device_token
from control_center.live.source import source_token
from control_center.models import LiveStream
from edge_agent.agent import Agent
from firmware_sim.broker import MosquittoBroker, find_executable
from firmware_sim.hardware import sim_hardware
from firmware_sim.live_sink import SimPcmSink
from firmware_sim.microphone import WavMicrophone
from firmware_sim.sensors import SimSensors
from tests.center.helpers import ok
from tests.e2e.conftest import Stack
from tests.live.correlate import RATE, decode, loop_correlation, reversed_pcm, spoken_source
from tests.support.center import CenterHandle, running_center
from tests.support.tree import add_device, add_unit
from tests.support.waiting import poll, wait_until

pytestmark = pytest.mark.integration
SESSIONS = "/api/v1/live/sessions"
SOURCE, SPEAKERS = "loa-van-phong", ("loa-pi1", "loa-pi2")
MATCH = 0.6  # as the console test


@dataclass
class Rig:
    stack: Stack
    center: CenterHandle
    clip: Path
    source: Agent
    mic: WavMicrophone
    commune: dict[str, Any]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    find_executable("mosquitto")
    tmp = tmp_path_factory.mktemp("pi-source")
    clip = spoken_source(tmp / "loa.wav")
    looped = tmp / "loa-x3.wav"  # the microphone speaks the clip three times over
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                    "-stream_loop", "2", "-i", str(clip), "-c", "copy", str(looped)],
                   check=True, capture_output=True)
    with MosquittoBroker(tmp / "broker") as broker, running_center(
            tmp / "center", mqtt_host=broker.host, mqtt_port=broker.center_port,
            mqtt_password=broker.center_password) as center:
        stack = Stack(tmp, broker, center.api, center.public_key_b64)
        commune = add_unit(stack.api, "pi-xa", "commune", name="Xã Văn Phòng")
        stack.fleet(stack.devices(commune, *SPEAKERS))
        config = stack.devices(commune, SOURCE)[0]
        hardware, _ = sim_hardware(SOURCE)
        mic = WavMicrophone(RATE, realtime=True, trailing_silence_s=0.0)
        mic.say(looped)
        source = Agent(config, replace(hardware, microphone=mic), probe=SimSensors(SOURCE))
        source.start()
        try:
            assert source.link.connected_event.wait(15)
            yield Rig(stack, center, clip, source, mic, commune)
        finally:
            source.stop()
            for fleet in stack.fleets:
                fleet.stop()


def _sink(rig: Rig, device_id: str) -> SimPcmSink:
    for fleet in rig.stack.fleets:
        if device_id in fleet.devices:
            sink = fleet.devices[device_id].agent._hw.live
            assert isinstance(sink, SimPcmSink)
            return sink
    raise AssertionError(device_id)


def _upload(rig: Rig, stream_id: str, device_id: str, token: str) -> int:
    r = rig.stack.api.post(f"/api/v1/live/{stream_id}/source", params={"seq": 0},
                           content=b"OggS", headers={"X-Device-Id": device_id,
                                                     "Authorization": f"Bearer {token}",
                                                     "Content-Type": "application/octet-stream"})
    return r.status_code


def test_a_source_must_be_an_active_device_of_ones_subtree(rig: Rig) -> None:
    api = rig.stack.api
    add_device(api, "loa-nghi", rig.commune)
    ok(api.post("/api/v1/devices/loa-nghi/retire", json={"reason": "hỏng / broken"}), 200)
    body = {"title": "Họp khẩn", "target_unit_id": rig.commune["id"], "source": "device"}
    r = api.post(SESSIONS, json={**body, "source_device_id": "loa-nghi"})
    assert r.status_code == 422 and "active" in r.text, r.text
    assert api.post(SESSIONS, json={**body, "source_device_id": "loa-khong-co"}).status_code == 404
    assert api.post(SESSIONS, json=body).status_code == 422  # source=device needs the device
    r = api.post(SESSIONS, json={**body, "source": "console", "source_device_id": SOURCE})
    assert r.status_code == 422, r.text


def test_a_commune_office_speaks_from_its_pi(rig: Rig) -> None:
    api = rig.stack.api
    made = ok(api.post(SESSIONS, json={"title": "Thông báo từ văn phòng xã", "source": "device",
                                        "source_device_id": SOURCE,
                                        "target_unit_id": rig.commune["id"]}))
    assert (made["source"], made["source_device_id"]) == ("device", SOURCE)
    assert made["targeted"] == len(SPEAKERS)  # the source is in the commune but not told to play
    stream = made["id"]
    other = ok(api.post(SESSIONS, json={"title": "Buổi khác", "source": "device",
                                         "source_device_id": SOURCE,
                                         "target_unit_id": rig.commune["id"]}))
    with rig.center.center.read_sessions() as session:
        secret = session.get(LiveStream, stream).secret  # type: ignore[union-attr]
    assert _upload(rig, stream, SOURCE, source_token(secret, SOURCE)) == 409  # not live yet

    live = ok(api.post(f"{SESSIONS}/{stream}/start"), 200)
    assert (live["state"], live["targeted"]) == ("live", len(SPEAKERS))
    wait_until(lambda: rig.source.captures.current is not None, 10, "the source capturing")
    sinks = {d: _sink(rig, d) for d in SPEAKERS}

    refused = {  # nobody but the source, with its own source token for this stream, uploads
        "a listener's token": _upload(rig, stream, SPEAKERS[0],
                                      device_token(secret, SPEAKERS[0])),
        "the source's listener token": _upload(rig, stream, SOURCE, device_token(secret, SOURCE)),
        "the source token for another session": _upload(rig, other["id"], SOURCE,
                                                        source_token(secret, SOURCE)),
        "another device with the source token": _upload(rig, stream, SPEAKERS[1],
                                                        source_token(secret, SOURCE)),
    }
    assert refused == dict.fromkeys(refused, 403), refused
    r = httpx.post(f"{rig.center.base_url}/api/v1/live/{stream}/source", params={"seq": 0},
                   content=b"x", headers={"X-Device-Id": SOURCE})
    assert r.status_code == 401, r.text

    def heard_enough() -> bool:
        return all(sum(len(p) for _, p in s.samples()) >= RATE * 2 * 7 for s in sinks.values())
    wait_until(heard_enough, 30, "seven seconds of the office's microphone on every speaker")
    ended = ok(api.post(f"{SESSIONS}/{stream}/stop"), 200)
    assert ended["state"] == "ended"

    item = f"live-{stream}"
    plays = poll(lambda: [p for p in rig.stack.plays(status="completed") if p["item_id"] == item],
                 lambda ps: len(ps) == len(SPEAKERS), 20, "every speaker completed the item")
    assert {p["device_id"] for p in plays} == set(SPEAKERS)
    wait_until(lambda: rig.source.captures.current is None, 10, "the capture ended on 409")
    assert rig.source.faults["live_capture"] == 0
    source_sink = rig.source._hw.live
    assert isinstance(source_sink, SimPcmSink) and source_sink.samples() == []

    clip = decode(rig.clip)
    backwards = reversed_pcm(clip)
    for d, sink in sinks.items():
        played = max(sink.samples(), key=lambda b: len(b[1]))[1]
        score = loop_correlation(played, clip)
        other_score = loop_correlation(played, backwards)
        assert other_score < MATCH <= score, (d, other_score, score)
    sha = ok(api.get(f"{SESSIONS}/{stream}"), 200)["recording_sha256"]
    assert sha
    recording = rig.stack.tmp / "recording.ogg"
    recording.write_bytes(api.get(f"/api/v1/media/{sha}").content)
    assert loop_correlation(decode(recording), clip) >= MATCH
    audit = ok(api.get("/api/v1/audit", params={"object_type": "live_session",
                                               "object_id": stream}), 200)
    start = next(e for e in audit["items"] if e["action"] == "live_start")
    assert start["detail"]["source_device_id"] == SOURCE
    assert _upload(rig, stream, SOURCE, source_token(secret, SOURCE)) == 409  # over
