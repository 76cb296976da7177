"""Who may pull a live stream, and what a device accepts: tokens per device and stream, active
devices only, signed descriptors and hashes (a man-in-the-middle cannot inject audio), and
live items only from signed messages. One center, broker and running stream for the module."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from control_center.core.live_tokens import device_token, new_secret, new_stream_id
from control_center.models import LiveKind, LiveState, LiveStream
from edge_agent.agent import Agent
from edge_agent.config import AgentConfig, MqttConfig
from edge_agent.live.fetcher import LiveRefused, SegmentFetcher
from edge_agent.live.session import LivePlay
from firmware_sim.broker import MosquittoBroker
from firmware_sim.hardware import sim_hardware
from firmware_sim.live_sink import SimPcmSink
from protocol.base import Priority
from protocol.live import LiveContent, LiveSegment
from protocol.manifest import Command, PlayItem, PlayNow
from protocol.signing import Signer, Verifier, public_key_from_b64
from protocol.topics import Channel, device_topic
from tests.live.station import UpstreamStation
from tests.support.center import CenterHandle, running_center
from tests.support.mqtt import MqttClients
from tests.support.tree import add_device, add_unit
from tests.support.waiting import wait_until

PULLER, OTHER, REVOKED = "loa-s1", "loa-s2", "loa-s3"
PASSWORDS: dict[str, str] = {}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CenterHandle, str, str,
                                                                     MosquittoBroker]]:
    tmp = tmp_path_factory.mktemp("live-security")
    with MosquittoBroker(tmp / "broker") as broker, UpstreamStation() as station, \
            running_center(tmp / "center", mqtt_host=broker.host,
                           mqtt_port=broker.center_port,
                           mqtt_password=broker.center_password) as center:
        unit = add_unit(center.api, "XS", "commune")
        for device in (PULLER, OTHER, REVOKED):
            PASSWORDS[device] = add_device(center.api, device, unit, broker=broker)[
                "mqtt_password"]
        stream_id, secret = new_stream_id(), new_secret()
        with center.center.sessions() as session:
            session.add(LiveStream(
                id=stream_id, kind=LiveKind.RELAY, title="t", priority=Priority.NORMAL,
                state=LiveState.LIVE, secret=secret, source_url=station.url, created_by="test",
                delay_ms=1500, gone_after_s=10, runs=0, created_at=datetime.now(UTC)))
            session.commit()
        center.center.live.start_run(stream_id, source_url=station.url)
        assert center.api.post(f"/api/v1/devices/{REVOKED}/revoke",
                               json={"reason": "stolen"}).status_code < 300
        yield center, stream_id, secret, broker
        center.center.live.stop_all()


def _next(center: CenterHandle, stream_id: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{center.base_url}/api/v1/live/{stream_id}/next",
                     params={"wait_s": 5}, headers=headers, timeout=15)


def test_only_an_active_targeted_device_with_its_own_token_pulls(live: tuple) -> None:
    center, stream_id, secret, _ = live
    own = {"X-Device-Id": PULLER, "Authorization": f"Bearer {device_token(secret, PULLER)}"}
    ok = _next(center, stream_id, own)
    assert ok.status_code == 200, ok.text
    envelope = ok.headers["X-Live-Segment"].encode()
    verifier = Verifier([public_key_from_b64(center.public_key_b64)])
    descriptor = LiveSegment.model_validate_json(verifier.open(envelope))
    assert descriptor.stream_id == stream_id and len(ok.content) > 100
    refusals = {
        "no credentials": ({}, 401),
        "a guessed token": ({"X-Device-Id": PULLER, "Authorization": "Bearer " + "A" * 32}, 403),
        "another device's token": ({"X-Device-Id": OTHER, "Authorization":
                                    f"Bearer {device_token(secret, PULLER)}"}, 403),
        "a revoked device's own token": ({"X-Device-Id": REVOKED, "Authorization":
                                          f"Bearer {device_token(secret, REVOKED)}"}, 403),
        "a token of another stream": ({"X-Device-Id": PULLER, "Authorization":
                                       f"Bearer {device_token(new_secret(), PULLER)}"}, 403),
    }
    for what, (headers, status) in refusals.items():
        r = _next(center, stream_id, headers)
        assert r.status_code == status, (what, r.status_code, r.text)
        assert "X-Live-Segment" not in r.headers and not r.content.startswith(b"\x00\x00")
    init = httpx.get(f"{center.base_url}/api/v1/live/{stream_id}/init/{descriptor.init_sha256}",
                     timeout=10)
    assert init.status_code == 401


class _Tamper(httpx.BaseTransport):
    """A man in the middle of the device's link: forwards to the center, alters answers."""

    def __init__(self, how: str) -> None:
        self._inner = httpx.HTTPTransport()
        self._how = how
        self._forger = Signer(Ed25519PrivateKey.generate())

    def close(self) -> None:
        self._inner.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        body = response.read()
        response.close()
        headers = dict(response.headers)
        if "x-live-segment" in headers:
            if self._how == "audio":
                body = bytes(b ^ 0x5A for b in body[:200]) + body[200:]
            else:  # the attacker's own audio under a descriptor signed with its own key
                envelope = json.loads(headers["x-live-segment"])
                descriptor = LiveSegment.model_validate_json(envelope["body"])
                forged = descriptor.model_copy(update={
                    "sha256": hashlib.sha256(body[::-1]).hexdigest()})
                headers["x-live-segment"] = self._forger.seal(forged).decode()
                body = body[::-1]
        headers.pop("content-length", None)
        return httpx.Response(response.status_code, headers=headers, content=body)


@pytest.mark.parametrize("how", ["audio", "descriptor"])
def test_a_man_in_the_middle_cannot_inject_audio(live: tuple, how: str) -> None:
    center, stream_id, secret, _ = live
    now = datetime.now(UTC)
    content = LiveContent(stream_id=stream_id, url=f"{center.base_url}/api/v1/live/{stream_id}",
                          token=device_token(secret, PULLER), ends_at=now + timedelta(seconds=4))
    verifier = Verifier([public_key_from_b64(center.public_key_b64)])
    sink = SimPcmSink(PULLER)
    with httpx.Client(transport=_Tamper(how)) as client:
        fetcher = SegmentFetcher(content=content, device_id=PULLER, verifier=verifier,
                                 client=client)
        with pytest.raises(LiveRefused):
            fetcher.next(None, 5)
        play = LivePlay(content=content, fetcher=fetcher, sink=sink,
                        clock=_SystemClock(), cancel=threading.Event(),
                        on_started=lambda at: None, on_source=lambda state, why: None)
        result = play.run()
    assert play.refused >= 1 and result.heard_ms == 0 and sink.samples() == []


def test_a_live_item_not_signed_by_the_center_is_refused(live: tuple, tmp_path: Path) -> None:
    center, stream_id, secret, broker = live
    hardware, _ = sim_hardware(OTHER)
    agent = Agent(AgentConfig(
        device_id=OTHER, data_dir=tmp_path / "agent",
        center_public_keys=(center.public_key_b64,),
        mqtt=MqttConfig(host=broker.host, port=broker.port, password=PASSWORDS[OTHER],
                        keepalive_s=5)), hardware)
    agent.start()
    try:
        assert agent.link.connected_event.wait(15)
        now = datetime.now(UTC)
        item = PlayItem(item_id="live-forged", bulletin_id=0, title="forged",
                        priority=Priority.EMERGENCY, start_at=now, content=LiveContent(
                            stream_id=stream_id, url=f"{center.base_url}/api/v1/live/{stream_id}",
                            token=device_token(secret, OTHER),
                            ends_at=now + timedelta(seconds=30)))
        forged = Signer(Ed25519PrivateKey.generate()).seal(Command(
            id="forged-1", device_id=OTHER, issued_at=now, expires_at=now + timedelta(minutes=1),
            action=PlayNow(item=item)))
        clients = MqttClients(broker.host, broker.port, center_port=broker.center_port,
                              center_password=broker.center_password)
        try:
            clients.center().publish(device_topic(OTHER, Channel.CMD), forged)
            wait_until(lambda: agent.refusals["cmd:SignatureInvalid"] >= 1, 10,
                       "the forged command refused")
        finally:
            clients.close_all()
        assert agent.player.current_item() is None
        live_sink = hardware.live
        assert isinstance(live_sink, SimPcmSink) and live_sink.samples() == []
    finally:
        agent.stop()


class _SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def real_seconds(self, span_s: float) -> float:
        return span_s
