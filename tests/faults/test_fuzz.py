"""Scenario 9: 10,000 fuzzed MQTT payloads; nothing crashes, every message is accounted for."""

from __future__ import annotations

import pytest

from tests.faults.rig import FaultRig
from tests.faults.scenario_fuzz import fuzz_agent, fuzz_center

pytestmark = pytest.mark.integration


def test_agent_refuses_every_fuzzed_manifest_and_command(rig: FaultRig) -> None:
    row, report = fuzz_agent(rig, manifests=2500, commands=2500)
    assert report.total == 5000
    assert report.crashes == 0, report.crash_kinds
    assert report.unaccounted == 0, report.outcomes
    assert report.threads_lost == []
    assert row.tally.problems() == [], row.markdown()
    assert report.outcomes["refused_with_event"] >= 4000  # replays are about a quarter at most
    if report.refusals_counted is not None:  # the agent's own reasons, when it counts them
        manifest_replays = sum(n for k, n in report.sent.items()
                               if k.startswith("manifest:replay"))
        assert report.refusals_counted in (
            report.total, report.total - manifest_replays), report.outcomes


def test_center_counts_every_fuzzed_event_status_and_report(rig: FaultRig) -> None:
    row, report = fuzz_center(rig, events=2500, statuses=1250, telemetry=1250)
    assert report.total == 5000
    assert report.crashes == 0, report.crash_kinds
    assert report.unaccounted == 0, report.outcomes
    assert report.threads_lost == []
    refused = sum(v for k, v in report.outcomes.items() if "refused:" in k)
    assert refused >= 3000, report.outcomes  # most mutations are refused, each with a reason
