"""Scenario 6: one agent cut off the network (its own namespace, the veth link down).

Shared by ``tests/faults/test_partition.py`` (a partition of ~25 s) and ``bench/faults.py``
(several minutes). The agent runs in the rig's namespace and reaches the broker and the center
only through the veth pair; taking the namespace's end down is a partition both ways.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tests.faults.rig import FaultRig, wait_for_instant
from tests.faults.tally import ReliabilityRow

PARTITION_TEST = ".venv/bin/python -m pytest -q tests/faults/test_partition.py"


def partition(rig: FaultRig, *, cut_s: float = 25.0, plays: int = 1) -> ReliabilityRow:
    """Cut the agent off for ``cut_s`` with ``plays`` instants inside the cut; it plays from
    cache, the center sees it go offline and come back, and every event made is stored."""
    assert rig.netns is not None, "the partition scenario needs a rig with partition=True"
    unit = rig.unit()
    device = rig.device(unit)
    rig.spawn_agent(device, netns=rig.netns)
    device_id = device.device_id
    rig.wait_online(device_id)
    bulletin = rig.bulletin(seconds=1.0)
    cut_at = datetime.now(UTC) + timedelta(seconds=6)
    spacing = cut_s / (plays + 1)
    instants = [cut_at + timedelta(seconds=spacing * (i + 1)) for i in range(plays)]
    rig.schedule(bulletin, instants, [device_id])
    rig.wait_cached(device_id, bulletin["delivery"]["sha256"])
    rig.wait_stored([device_id])

    wait_for_instant(cut_at.timestamp())
    cut_started = time.time()
    rig.netns.cut()
    # The broker drops the silent connection after 1.5 keepalives and publishes the will.
    rig.wait_online(device_id, online=False, timeout=cut_s)
    rig.wait_heard(timeout=cut_s + 10, before=cut_started + cut_s)
    wait_for_instant(cut_started + cut_s)
    assert not rig.online(device_id), "the center saw the partitioned agent online"
    rig.netns.restore()
    fault_end = time.time()
    rig.wait_online(device_id, timeout=30)
    rig.wait_stored([device_id], timeout=30)
    heard_during = [p for p in rig.plays(device_id) if cut_started <= p.started_at < fault_end]
    assert len(heard_during) == plays, f"{len(heard_during)} of {plays} plays during the cut"
    tally = rig.tally(fault_end=fault_end)
    return ReliabilityRow(
        "6. Network partition",
        f"1 agent process in its own network namespace; veth link down {cut_s:.0f} s over "
        f"{plays} instant(s); the center saw it offline, then back.",
        tally, PARTITION_TEST,
    )
