"""Scenarios 5 and 7: clocks that jump or start wrong, and a week offline in under a minute.

Both run real agents in-process (their clock is injected) against the real broker and center.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from edge_agent.clock import AcceleratedClock, SystemClock
from edge_agent.config import config_from_dict
from tests.faults.agents import InProcessAgent
from tests.faults.rig import FaultRig, wait_for_instant
from tests.faults.tally import ReliabilityRow, count
from tests.support.waiting import wait_until

CLOCK_TEST = ".venv/bin/python -m pytest -q tests/faults/test_clocks.py"
WEEK_TEST = ".venv/bin/python -m pytest -q tests/faults/test_week_offline.py"
Y2000 = datetime(2000, 1, 1, tzinfo=UTC).timestamp()


def clock_jumps(rig: FaultRig, *, spacing_s: float = 4.0) -> ReliabilityRow:
    """One agent's clock steps an hour ahead, then an hour behind, between play instants; a
    second agent boots with no real-time clock (its clock reads 1 January 2000). Both measure
    the center's time; every play starts on the center's instant (stamped by the true time)."""
    unit = rig.unit()
    jumper_dev, no_rtc_dev = rig.device(unit), rig.device(unit)
    jumper_clock = SystemClock()
    jumper = rig.agent_in_process(jumper_dev, clock=jumper_clock)
    no_rtc = rig.agent_in_process(no_rtc_dev, clock=SystemClock(offset_s=Y2000 - time.time()))
    ids = [jumper_dev.device_id, no_rtc_dev.device_id]
    for device_id in ids:
        rig.wait_online(device_id)
    bulletin = rig.bulletin(seconds=1.0)
    first = datetime.now(UTC) + timedelta(seconds=4)
    instants = [first + timedelta(seconds=spacing_s * i) for i in range(3)]
    rig.schedule(bulletin, instants, ids)
    for device_id in ids:
        rig.wait_cached(device_id, bulletin["delivery"]["sha256"])
    rig.wait_heard(timeout=15, before=instants[0].timestamp() + 0.5)
    jumper_clock.offset_s = 3600.0  # stepped an hour ahead (a bad NTP server, a GPS glitch)
    wait_for_instant(instants[1].timestamp() - 1.0)
    rig.wait_heard(timeout=10, before=instants[1].timestamp() + 0.5)
    jumper_clock.offset_s = -3600.0  # and an hour behind
    rig.wait_heard(timeout=instants[2].timestamp() - time.time() + 10)
    fault_end = time.time()
    rig.wait_stored(ids)
    assert jumper.agent.clock.corrected and no_rtc.agent.clock.corrected
    return ReliabilityRow(
        "5. Clock jumps and no RTC", "In-process agent whose clock stepped +1 h, then −1 h, "
        "between three instants; a second agent booted with its clock at 2000-01-01. Both "
        "played by the center's time (measured against GET /api/v1/time, carried on the "
        "monotonic clock).", rig.tally(fault_end=fault_end), CLOCK_TEST)


def week_offline(rig: FaultRig, *, rate: float = 30_000.0, days: int = 7,
                 per_day: tuple[float, ...] = (0.0, 5.0, 11.0),
                 late_real_s: float = 0.003) -> ReliabilityRow:
    """An agent holding a week of schedules goes offline (the broker stops) while its clock
    runs ``rate`` times faster than real time; every item is played from cache at its
    instant; when the broker returns, every event of the week reaches the center.

    Needs a center whose manifest horizon covers the week (``horizon_hours``). A play is late
    when it starts more than ``late_real_s`` of real time after its instant."""
    device = rig.device(rig.unit())
    bulletin = rig.bulletin(seconds=1.0)
    start = datetime.now(UTC)
    instants = [start + timedelta(days=1 + d, hours=h)
                for d in range(days) for h in per_day]
    rig.schedule(bulletin, instants, [device.device_id])
    clock = AcceleratedClock(start, rate)
    files = rig.write_config(device, health={"time_url": None, "interval_s": 1.0})
    agent = InProcessAgent(files, config_from_dict(rig.configs[device.device_id]), clock=clock,
                           time_scale=1.0 / rate)
    agent.sink.clock = lambda: clock.now().timestamp()  # the device's own (offline) time
    rig.in_process[device.device_id] = agent
    agent.start()
    rig.wait_cached(device.device_id, bulletin["delivery"]["sha256"], timeout=10)
    wait_until(lambda: agent.agent.manifest is not None
               and len(agent.agent.manifest.items) == len(instants), 10,
               "the week's manifest on the agent")
    offline_at = clock.now()
    assert offline_at < instants[0], "the agent's fast clock reached the first instant online"
    rig.broker.stop()
    end = instants[-1] + timedelta(hours=1)
    wait_for_instant(time.time() + (end - clock.now()).total_seconds() / rate)
    rig.wait_heard(timeout=10)
    rig.broker.start()
    fault_end = time.time()
    rig.wait_stored(timeout=60)
    tolerance = late_real_s * rate  # real time, in the device's seconds
    tally = count(made=rig.made(), stored=rig.stored(),
                  plays={device.device_id: rig.plays(device.device_id)}, due=rig.dues,
                  redeliveries=rig.center.center.ingestor.snapshot()["duplicate"],
                  fault_end=fault_end, late_tolerance_s=tolerance)
    real_s = (end - offline_at).total_seconds() / rate
    return ReliabilityRow(
        "7. Seven days offline", f"Agent offline (broker stopped) for {days} days of its "
        f"clock, run {rate:,.0f}× faster than real time ({real_s:.0f} s real), "
        f"{len(instants)} items scheduled across the week.", tally, WEEK_TEST,
        note=f"Late means more than {tolerance:.0f} s of the device's time "
             f"({late_real_s * 1000:.0f} ms real).")
