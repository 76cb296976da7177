"""A real agent whose player loop is wedged while everything else runs: the device stays
online, its health reports keep coming, and the center raises ``player_stalled`` (not
``offline``); a play-now is refused with the reason; when the loop moves the alert resolves."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from control_center.models import Alert, AlertState, DeviceEventRecord
from protocol.base import Priority
from protocol.events import CommandOutcome
from protocol.manifest import AudioContent, Command, PlayItem, PlayNow
from protocol.topics import Channel, device_topic
from tests.faults.rig import FaultRig, open_rig
from tests.support.mqtt import MqttTestClient
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def stall_rig(tmp_path: Path, mosquitto_installed: None) -> Iterator[FaultRig]:
    with open_rig(tmp_path / "rig", monitor_interval_s=0.2, alert_player_stalled_s=3.0) as rig:
        yield rig


def _alerts(rig: FaultRig, device_id: str) -> list[tuple[str, str]]:
    with rig.center.center.sessions() as session:
        return [(a.kind, a.state) for a in session.query(Alert).filter(
            Alert.device_id == device_id)]


def test_a_wedged_player_is_told_apart_from_offline(stall_rig: FaultRig) -> None:
    rig = stall_rig
    device = rig.device(rig.unit())
    running = rig.agent_in_process(device, health={"interval_s": 0.3},
                                   player={"stall_after_s": 2.0})
    agent = running.agent
    rig.wait_online(device.device_id)
    bulletin = rig.bulletin(seconds=1.0)
    content = AudioContent(sha256=bulletin["delivery"]["sha256"],
                           url=rig.center.media_url(bulletin["delivery"]["sha256"]),
                           size=bulletin["delivery"]["size"], duration_ms=1000)
    with agent.player._cond:  # noqa: SLF001 - wedge the player loop as a deadlock would
        wait_until(lambda: ("player_stalled", AlertState.OPEN) in _alerts(rig, device.device_id),
                   15, "the player_stalled alert")
        assert not [k for k, _ in _alerts(rig, device.device_id) if k == "offline"]
        assert rig.online(device.device_id)
        assert "player" in agent.watchdog.stale()  # systemd would restart this agent
        command = Command(id=uuid.uuid4().hex, device_id=device.device_id,
                          issued_at=datetime.now(UTC),
                          expires_at=datetime.now(UTC) + timedelta(minutes=30),
                          action=PlayNow(item=PlayItem(
                              item_id="e-stall", bulletin_id=bulletin["id"], title="Khẩn",
                              priority=Priority.EMERGENCY, start_at=datetime.now(UTC),
                              content=content)))
        sender = MqttTestClient(rig.broker.host, rig.broker.center_port, username="center",
                                password=rig.broker.center_password)
        sender.connect()
        try:
            sender.publish(device_topic(device.device_id, Channel.CMD),
                           rig.center.center.signer.seal(command))
        finally:
            sender.close()
        wait_until(lambda: agent.refusals["cmd:player_unable"] == 1, 10,
                   "the play-now refused by the wedged player")
    wait_until(lambda: ("player_stalled", AlertState.RESOLVED) in _alerts(rig, device.device_id),
               15, "the alert resolved once the player moved")
    rig.wait_stored([device.device_id])
    acks = [e for e in rig.stored([device.device_id]) if e.type == "command_ack"]
    assert len(acks) == 1
    with rig.center.center.sessions() as session:
        payload = session.get(DeviceEventRecord, acks[0].event_id)
        assert payload is not None
        assert f'"outcome":"{CommandOutcome.REJECTED.value}"' in payload.payload
        assert "the player has not advanced" in payload.payload
