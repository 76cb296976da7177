"""Fault benchmark: the fault suite's scenarios at longer durations, one table row each.

Each scenario runs against a fresh real Mosquitto, a real center and real agents (the fault
suite's rig, ``tests/faults/rig.py``) and prints its row of ``docs/reliability.md``: events
made / stored / duplicated, plays due / heard / late, time to converge. ``--quick`` uses the
test suite's durations. Needs root for the partition (network namespaces).

Usage: .venv/bin/python bench/faults.py [--scenario NAME ...] [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.faults.rig import open_rig  # noqa: E402
from tests.faults.scenario_agent import (  # noqa: E402
    corrupt_store,
    disk_full,
    killed_mid_download,
    killed_mid_play,
    killed_mid_write,
)
from tests.faults.scenario_broker import (  # noqa: E402
    broker_restart_at_play,
    broker_restart_losing_store,
)
from tests.faults.scenario_clock import clock_jumps, week_offline  # noqa: E402
from tests.faults.scenario_fuzz import fuzz_agent, fuzz_center  # noqa: E402
from tests.faults.scenario_influx import influx_down, influx_rig  # noqa: E402
from tests.faults.scenario_partition import partition  # noqa: E402
from tests.faults.tally import ReliabilityRow  # noqa: E402

Runner = Callable[[Path, bool], ReliabilityRow]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    run: Runner
    bench: str  # what the long run does, for --help


def _broker_restart(tmp: Path, quick: bool) -> ReliabilityRow:
    with open_rig(tmp) as rig:
        if quick:
            return broker_restart_at_play(rig)
        return broker_restart_at_play(rig, agents=4, down_s=60.0, plays_while_down=3)


def _broker_store_lost(tmp: Path, quick: bool) -> ReliabilityRow:
    with open_rig(tmp) as rig:
        return broker_restart_losing_store(rig)


def _in_rig(scenario: Callable[..., ReliabilityRow], **rig_options: Any
            ) -> Callable[[Path, bool], ReliabilityRow]:
    """A scenario that runs the same in the bench and the test, in a rig of its own."""
    def run(tmp: Path, quick: bool) -> ReliabilityRow:
        with open_rig(tmp, **rig_options) as rig:
            return scenario(rig)
    return run


def _killed_mid_write(tmp: Path, quick: bool) -> ReliabilityRow:
    with open_rig(tmp) as rig:
        return killed_mid_write(rig, kills=3 if quick else 20)


def _week_offline(tmp: Path, quick: bool) -> ReliabilityRow:
    with open_rig(tmp, horizon_hours=24 * 9) as rig:
        return week_offline(rig) if quick else week_offline(rig, rate=5_000.0)


def _clock_jumps(tmp: Path, quick: bool) -> ReliabilityRow:
    with open_rig(tmp) as rig:
        return clock_jumps(rig) if quick else clock_jumps(rig, spacing_s=10.0)


def _partition(tmp: Path, quick: bool) -> ReliabilityRow:
    with open_rig(tmp, partition=True) as rig:
        return partition(rig) if quick else partition(rig, cut_s=300.0, plays=4)


def _influx_down(tmp: Path, quick: bool) -> ReliabilityRow:
    with influx_rig(tmp) as (rig, influx):
        return influx_down(rig, influx) if quick else influx_down(rig, influx, down_s=600.0)


def _fuzz_agent(tmp: Path, quick: bool) -> ReliabilityRow:
    with open_rig(tmp) as rig:
        n = 2500 if quick else 10_000
        row, _ = fuzz_agent(rig, manifests=n, commands=n, settle_timeout=60 + n / 50)
        return row


def _fuzz_center(tmp: Path, quick: bool) -> ReliabilityRow:
    with open_rig(tmp) as rig:
        n = 2500 if quick else 10_000
        row, _ = fuzz_center(rig, events=n, statuses=n // 2, telemetry=n // 2,
                             settle_timeout=60 + n / 50)
        return row


SCENARIOS = {s.name: s for s in (
    Scenario("broker-restart", _broker_restart, "4 agents, broker down 60 s over 3 instants"),
    Scenario("broker-store-lost", _broker_store_lost, "same as the test"),
    Scenario("kill-mid-download", _in_rig(killed_mid_download), "same as the test"),
    Scenario("kill-mid-play", _in_rig(killed_mid_play), "same as the test"),
    Scenario("kill-mid-write", _killed_mid_write, "20 kills -9 while it writes"),
    Scenario("disk-full", _in_rig(disk_full), "same as the test"),
    Scenario("corrupt-store", _in_rig(corrupt_store), "same as the test"),
    Scenario("clock-jumps", _clock_jumps, "10 s between instants"),
    Scenario("week-offline", _week_offline, "clock at 5,000x (2 minutes real)"),
    Scenario("partition", _partition, "agent cut off 5 minutes over 4 instants"),
    Scenario("influx-down", _influx_down, "influxd down 10 minutes, 3 agents sampling"),
    Scenario("fuzz-agent", _fuzz_agent, "20,000 fuzzed manifests and commands"),
    Scenario("fuzz-center", _fuzz_center, "20,000 fuzzed events, status and telemetry"),
)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/faults.py", description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS),
                        help="run only this scenario (repeatable); default: all")
    parser.add_argument("--quick", action="store_true", help="the test suite's durations")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON to FILE")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s %(message)s")
    names = args.scenario or list(SCENARIOS)
    rows: list[dict[str, object]] = []
    print(ReliabilityRow.HEADER, flush=True)
    failed = 0
    for name in names:
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"faults-{name}-") as tmp:
            try:
                row = SCENARIOS[name].run(Path(tmp), args.quick)
            except Exception as exc:  # one scenario's failure is a row, not the end of the run
                failed += 1
                traceback.print_exc(file=sys.stderr)
                print(f"| {name} | FAILED: {str(exc).splitlines()[0][:300]} | | | | |",
                      flush=True)
                rows.append({"scenario": name, "error": str(exc)})
                continue
        row = replace(row, bench=f".venv/bin/python bench/faults.py --scenario {name}"
                                 + (" --quick" if args.quick else ""))
        failed += bool(row.problems())
        print(row.markdown(), flush=True)
        rows.append({**row.as_dict(), "name": name,
                     "seconds": round(time.monotonic() - started, 1), "quick": args.quick})
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=str), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
