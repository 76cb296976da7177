"""Scenario 5: the agent's clock jumps ±1 hour; a device boots with no real-time clock."""

from __future__ import annotations

import pytest

from tests.faults.rig import FaultRig
from tests.faults.scenario_clock import clock_jumps

pytestmark = pytest.mark.integration


def test_clock_jumps_and_no_rtc_still_play_on_the_center_instant(rig: FaultRig) -> None:
    row = clock_jumps(rig)
    assert row.tally.problems() == [], row.markdown()
    assert row.tally.plays_due == 6 and row.tally.plays_heard == 6
