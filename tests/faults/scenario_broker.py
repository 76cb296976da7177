"""Scenario 1: the broker restarts at a play instant, and restarts having lost its store.

Shared by ``tests/faults/test_broker_restart.py`` (short) and ``bench/faults.py`` (longer).
Each function drives a :class:`FaultRig`, waits on what must happen (raising AssertionError
with what did not) and returns the row of ``docs/reliability.md``.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from control_center.models import DeviceEventRecord
from protocol.topics import Channel, device_topic
from tests.faults.rig import FaultRig, Registered, wait_for_instant
from tests.faults.tally import ReliabilityRow
from tests.support.mqtt import MqttTestClient
from tests.support.waiting import wait_until

RESTART_TEST = ".venv/bin/python -m pytest -q tests/faults/test_broker_restart.py"


def broker_restart_at_play(rig: FaultRig, *, agents: int = 2, down_s: float = 4.0,
                           plays_while_down: int = 1) -> ReliabilityRow:
    """Agents hold a bulletin in cache; the broker stops 1 s before its instant and stays
    down ``down_s``; the plays happen from cache; every event made reaches the center."""
    unit = rig.unit()
    devices = [rig.device(unit) for _ in range(agents)]
    for device in devices:
        rig.spawn_agent(device)
    for device in devices:
        rig.wait_online(device.device_id)
    bulletin = rig.bulletin(seconds=1.0)
    spacing = max(2.0, (down_s - 1.5) / max(1, plays_while_down))
    first = datetime.now(UTC) + timedelta(seconds=6)
    instants = [first + timedelta(seconds=spacing * i) for i in range(plays_while_down)]
    ids = [d.device_id for d in devices]
    rig.schedule(bulletin, instants, ids)
    for device_id in ids:
        rig.wait_cached(device_id, bulletin["delivery"]["sha256"])
    rig.wait_stored(ids)

    wait_for_instant(first.timestamp() - 1.0)
    stopped_at = time.time()
    rig.broker.stop()
    rig.wait_heard(timeout=down_s + 10, before=stopped_at + down_s)
    heard_down = all(p.started_at < stopped_at + down_s for d in ids for p in rig.plays(d))
    wait_for_instant(stopped_at + down_s)
    rig.broker.start()
    fault_end = time.time()
    assert heard_down, "a play waited for the broker instead of playing from cache"
    rig.wait_stored(ids, timeout=30)
    for device_id in ids:
        rig.wait_online(device_id)
    tally = rig.tally(fault_end=fault_end)
    return ReliabilityRow(
        "1a. Broker restart at a play instant",
        f"{agents} agent processes; Mosquitto stopped 1 s before the instant, down "
        f"{down_s:.0f} s over {plays_while_down} instant(s), restarted with its store.",
        tally, f"{RESTART_TEST} -k at_play",
    )


def broker_restart_losing_store(rig: FaultRig, *, republish_timeout: float = 20.0
                                ) -> ReliabilityRow:
    """The broker restarts without ``mosquitto.db`` (retained manifests and sessions gone),
    while one agent's store is wiped too: the center republishes every manifest, the wiped
    agent gets its manifest again and plays the next instant."""
    unit = rig.unit()
    keeper, wiped = rig.device(unit), rig.device(unit)
    ids = [keeper.device_id, wiped.device_id]
    for device in (keeper, wiped):
        rig.spawn_agent(device)
    for device_id in ids:
        rig.wait_online(device_id)
    bulletin = rig.bulletin(seconds=1.0)
    before = datetime.now(UTC) + timedelta(seconds=5)
    after = before + timedelta(seconds=12)
    rig.schedule(bulletin, [before, after], ids)
    rig.wait_heard(timeout=20, before=before.timestamp() + 1)
    rig.wait_stored(ids)

    rig.processes[wiped.device_id].terminate()
    rig.broker.stop()
    (rig.broker.data_dir / "mosquitto.db").unlink()
    shutil.rmtree(rig.files(wiped.device_id).data_dir)
    rig.broker.start()
    fault_end = time.time()
    rig.processes[wiped.device_id].start()

    versions = {d: rig.center_manifest_version(d) for d in ids}
    retained = _retained_manifests(rig, ids, timeout=republish_timeout)
    missing = sorted(set(ids) - set(retained))
    assert not missing, (f"the center did not republish the manifests of {missing} after the "
                         f"broker lost its store (waited {republish_timeout:.0f} s)")
    wait_until(lambda: _accepted_after(rig, wiped, fault_end) == versions[wiped.device_id],
               republish_timeout, f"{wiped.device_id} to accept manifest v"
               f"{versions[wiped.device_id]} again")
    manifest_back_s = time.time() - fault_end
    assert after.timestamp() > time.time(), "the scenario ran past the next instant"
    rig.wait_heard(timeout=after.timestamp() - time.time() + 10)
    rig.wait_stored(ids, timeout=30)
    tally = rig.tally(fault_end=fault_end)
    return ReliabilityRow(
        "1b. Broker restart losing its store",
        "2 agent processes; Mosquitto stopped, mosquitto.db deleted, one agent's store wiped; "
        "the center republished every manifest and the wiped agent played the next instant.",
        tally, f"{RESTART_TEST} -k losing_store",
        note=f"The wiped agent held its manifest again {manifest_back_s:.1f} s after the "
             "broker restarted.",
    )


def _retained_manifests(rig: FaultRig, ids: list[str], timeout: float) -> dict[str, bytes]:
    """The manifest of each device as the center's broker user receives it: retained at
    subscription, or live when the center republishes it; until all are seen or timeout."""
    client = MqttTestClient(rig.broker.host, rig.broker.center_port, username="center",
                            password=rig.broker.center_password)
    client.connect()
    deadline = time.monotonic() + timeout
    found: dict[str, bytes] = {}
    try:
        for device_id in ids:
            client.subscribe(device_topic(device_id, Channel.MANIFEST))
        for device_id in ids:
            topic = device_topic(device_id, Channel.MANIFEST)
            try:
                message = client.wait_for_message(
                    topic, timeout=max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                continue
            found[device_id] = message.payload
    finally:
        client.close()
    return found


def _accepted_after(rig: FaultRig, device: Registered, since: float) -> int | None:
    """The highest manifest version the device reported accepting after ``since``."""
    with rig.center.center.sessions() as session:
        payloads = session.scalars(
            select(DeviceEventRecord.payload).where(
                DeviceEventRecord.device_id == device.device_id,
                DeviceEventRecord.type == "manifest_accepted",
                DeviceEventRecord.at >= datetime.fromtimestamp(since, UTC))).all()
    versions = [int(json.loads(p)["version"]) for p in payloads]
    return max(versions) if versions else None
