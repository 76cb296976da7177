"""The agent never goes silent without saying so: a failing relay, a play-now that cannot play
yet, emergencies judged by the center's clock."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_agent.clock import SystemClock
from edge_agent.hardware import Hardware
from firmware_sim.broker import MosquittoBroker
from firmware_sim.hardware import SimAmplifier, sim_hardware
from protocol.base import Priority
from protocol.events import AgentFault, CommandAck, CommandOutcome, MediaReady, PlayCompleted
from protocol.manifest import AudioContent, Command, PlayItem, PlayNow
from protocol.topics import Channel, device_topic
from tests.integration.agent_rig import DEVICE, Rig, agent_rig, item
from tests.support.audio import make_tone, sha256_of
from tests.support.mqtt import MqttClients
from tests.support.waiting import poll

pytestmark = pytest.mark.integration


class StuckRelay(SimAmplifier):
    """A relay whose GPIO write fails until it is repaired (simulated hardware)."""

    def __init__(self) -> None:
        super().__init__()
        self.broken = True

    def set_power(self, on: bool) -> None:
        if on and self.broken:
            raise OSError(5, "GPIO write failed")
        super().set_power(on)


def send_command(rig: Rig, action: PlayNow, *, expires_in: timedelta,
                 issued: datetime | None = None) -> str:
    now = issued or datetime.now(UTC)
    command = Command(id=uuid.uuid4().hex, device_id=DEVICE, issued_at=now,
                      expires_at=now + expires_in, action=action)
    rig.center.publish(device_topic(DEVICE, Channel.CMD), rig.signer.seal(command))
    return command.id


def emergency(content: AudioContent, name: str) -> PlayNow:
    return PlayNow(item=PlayItem(item_id=name, bulletin_id=9, title="Khẩn cấp",
                                 priority=Priority.EMERGENCY, start_at=datetime.now(UTC),
                                 content=content))


def ack_of(rig: Rig, command_id: str) -> CommandAck:
    found = rig.wait_event(lambda e: isinstance(e, CommandAck) and e.command_id == command_id,
                           timeout=15)
    assert isinstance(found, CommandAck)
    return found


@pytest.fixture
def relay_rig(tmp_path: Path, broker: MosquittoBroker,
              mqtt_clients: MqttClients) -> Iterator[tuple[Rig, StuckRelay]]:
    sim, _ = sim_hardware(DEVICE)
    relay = StuckRelay()
    for rig in agent_rig(tmp_path, broker, mqtt_clients,
                         hardware=Hardware(sink=sim.sink, amplifier=relay, volume=sim.volume)):
        yield rig, relay


def test_a_failing_relay_is_reported_refuses_play_now_and_the_player_goes_on(
    relay_rig: tuple[Rig, StuckRelay]
) -> None:
    rig, relay = relay_rig
    # the rig's sink is not the one in use: plays are read from the events
    start = datetime.now(UTC) + timedelta(seconds=1.5)
    first = item(rig, "short", start)
    rig.publish_manifest(1, (first,))
    failed = rig.wait_event(lambda e: getattr(e, "type", "") == "play_failed", timeout=15)
    assert "GPIO write failed" in failed.reason  # type: ignore[attr-defined]
    fault = rig.wait_event(lambda e: isinstance(e, AgentFault))
    assert isinstance(fault, AgentFault) and fault.component == "player"
    assert not relay.on  # never left on
    # the acknowledgement means "it will play": with the relay failing, a play-now is refused
    refused = ack_of(rig, send_command(rig, emergency(rig.media["alert"], "e-1"),
                                       expires_in=timedelta(minutes=30)))
    assert refused.outcome is CommandOutcome.REJECTED
    assert "amplifier path failed" in refused.reason
    relay.broken = False  # repaired: the player did not die with the failure
    second = item(rig, "short", datetime.now(UTC) + timedelta(seconds=1), n=2)
    rig.publish_manifest(2, (first, second))
    done = rig.wait_event(lambda e: isinstance(e, PlayCompleted), timeout=15)
    assert isinstance(done, PlayCompleted) and done.item_id == second.item_id
    poll(lambda: relay.on, lambda on: not on, 5, "the relay to switch off after the play")
    assert relay.switches == 2


def test_play_now_is_acknowledged_only_once_its_media_is_ready(rig: Rig) -> None:
    late = make_tone(rig.media_dir.parent / "late.wav", 1.0, 520)
    content = AudioContent(sha256=sha256_of(late), url=rig.media["short"].url.replace(
        "short.wav", "late.wav"), size=late.stat().st_size, duration_ms=1000, mime="audio/wav")
    command_id = send_command(rig, emergency(content, "e-late"), expires_in=timedelta(minutes=30))
    rig.wait_event(lambda e: getattr(e, "type", "") == "media_failed", timeout=15)  # 404
    assert not [e for e in rig.events() if isinstance(e, CommandAck)]
    shutil.copy(late, rig.media_dir / "late.wav")  # the file reaches the server
    ack = ack_of(rig, command_id)
    assert ack.outcome is CommandOutcome.ACCEPTED
    events = rig.events()
    ready_at = next(i for i, e in enumerate(events) if isinstance(e, MediaReady))
    ack_at = next(i for i, e in enumerate(events) if isinstance(e, CommandAck))
    assert ready_at < ack_at
    done = rig.wait_event(lambda e: isinstance(e, PlayCompleted), timeout=15)
    assert isinstance(done, PlayCompleted) and done.item_id == "e-late"


@pytest.fixture
def fast_clock_rig(tmp_path: Path, broker: MosquittoBroker,
                   mqtt_clients: MqttClients) -> Iterator[Rig]:
    """An agent whose clock runs an hour ahead, measuring it against the center's time."""
    yield from agent_rig(tmp_path, broker, mqtt_clients, clock=SystemClock(offset_s=3600),
                         time_probe_s=0.3)


def test_emergency_validity_is_judged_by_the_center_clock(fast_clock_rig: Rig) -> None:
    rig = fast_clock_rig
    agent = rig.agent
    poll(lambda: agent.clock.reference, lambda ref: ref is not None, 10, "a clock measurement")
    # valid for 30 minutes: by the device's raw clock (1 h ahead) it would have expired
    valid = ack_of(rig, send_command(rig, emergency(rig.media["alert"], "e-valid"),
                                     expires_in=timedelta(minutes=30)))
    assert valid.outcome is CommandOutcome.ACCEPTED
    done = rig.wait_event(lambda e: isinstance(e, PlayCompleted), timeout=15)
    assert isinstance(done, PlayCompleted) and done.item_id == "e-valid"
    assert abs((done.started_at - datetime.now(UTC)).total_seconds()) < 30  # center time
    # one that came back after its window: reported missed, never played
    issued = datetime.now(UTC) - timedelta(minutes=31)
    missed = ack_of(rig, send_command(rig, emergency(rig.media["alert"], "e-missed"),
                                      expires_in=timedelta(minutes=30), issued=issued))
    assert missed.outcome is CommandOutcome.EXPIRED
    assert missed.reason.startswith("missed:")
    assert agent.refusals["cmd:expired"] == 1
