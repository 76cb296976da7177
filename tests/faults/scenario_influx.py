"""Scenario 8: influxd down for a while; every health sample taken meanwhile lands once.

The test suite's version is ``tests/telemetry/test_influx_outage.py`` (in-process agents,
seconds of outage). This longer version, run by ``bench/faults.py``, uses agent processes
and their ledgers: every sample id an agent put in its outbox must be in InfluxDB once.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from firmware_sim.influx import InfluxServer
from tests.faults.rig import FaultRig, open_rig, wait_for_instant
from tests.faults.tally import ReliabilityRow, Tally
from tests.support.waiting import poll

INFLUX_DB = "telemetry"
INFLUX_TEST = ".venv/bin/python -m pytest -q tests/telemetry/test_influx_outage.py"


@contextlib.contextmanager
def influx_rig(tmp: Path) -> Iterator[tuple[FaultRig, InfluxServer]]:
    """A fault rig whose center writes telemetry to a real influxd."""
    with InfluxServer(tmp / "influx") as influx, open_rig(
            tmp / "rig", influx_url=influx.url, influx_db=INFLUX_DB) as rig:
        yield rig, influx


def _sample_ids(influx: InfluxServer) -> Counter[str]:
    result: dict[str, Any] = influx.query("SELECT sample_id FROM health", INFLUX_DB)
    found: Counter[str] = Counter()
    for statement in result.get("results", []):
        for series in statement.get("series", []):
            column = series["columns"].index("sample_id")
            found.update(values[column] for values in series["values"])
    return found


def influx_down(rig: FaultRig, influx: InfluxServer, *, agents: int = 3, down_s: float = 20.0,
                interval_s: float = 0.5) -> ReliabilityRow:
    """Agents sample every ``interval_s``; influxd is stopped for ``down_s`` and started again;
    every sample made up to a moment after the restart is in InfluxDB exactly once."""
    unit = rig.unit()
    devices = [rig.device(unit) for _ in range(agents)]
    for device in devices:
        rig.spawn_agent(device, health={"interval_s": interval_s})
    ids = [d.device_id for d in devices]
    poll(lambda: _sample_ids(influx), lambda found: len(found) >= 3 * agents, 30,
         "samples in InfluxDB before the outage", describe=lambda f: f"{len(f)} samples")
    influx.stop()
    stopped = time.time()
    wait_for_instant(stopped + down_s)
    influx.start()
    fault_end = time.time()
    cutoff = fault_end + 2 * interval_s  # samples made up to here are counted

    def made() -> set[str]:
        return {sid for e in rig.made(ids) if e.channel == "telemetry" and e.made_at <= cutoff
                for sid in e.sample_ids}

    wait_for_instant(cutoff)
    wanted = made()
    found = poll(lambda: _sample_ids(influx), lambda f: wanted <= set(f), 60 + down_s / 10,
                 "every sample made to be in InfluxDB", describe=lambda f: (
                     f"{len(wanted - set(f))} of {len(wanted)} missing"))
    converge_s = time.time() - fault_end
    during = sum(1 for e in rig.made(ids) if e.channel == "telemetry"
                 and stopped <= e.made_at <= fault_end for _ in e.sample_ids)
    tally = Tally(
        events_made=len(wanted), telemetry_made=len(wanted),
        events_stored=sum(1 for s in wanted if s in found),
        missing=tuple(sorted(wanted - set(found))), unledgered=0,
        duplicate_plays=0, redeliveries=sum(n - 1 for s, n in found.items() if s in wanted),
        plays_due=0, plays_heard=0, plays_late=0, converge_s=converge_s)
    return ReliabilityRow(
        "8. InfluxDB down",
        f"{agents} agent processes sampling every {interval_s} s; influxd stopped {down_s:.0f} s "
        f"({during} samples taken meanwhile, spilled by the center) and restarted; counted: "
        "health samples (made = in an outbox, stored = in InfluxDB).",
        tally, INFLUX_TEST)
