"""Scenario 7: seven days offline, the agent's clock accelerated through its injectable clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.rig import FaultRig, open_rig
from tests.faults.scenario_clock import week_offline

pytestmark = pytest.mark.integration


@pytest.fixture
def week_rig(tmp_path: Path, mosquitto_installed: None) -> Iterator[FaultRig]:
    """A rig whose center builds manifests nine days ahead."""
    with open_rig(tmp_path / "rig", horizon_hours=24 * 9) as running:
        yield running


def test_a_week_offline_plays_every_item_from_cache_and_loses_nothing(
    week_rig: FaultRig,
) -> None:
    # 25 ms of real time (500 s of the device's at 20,000x): the bench's 3 ms is below one
    # wake-up delay of a busy machine (a 4 ms scheduler tick, the 5 ms GIL switch interval),
    # and the suite runs on several workers sharing 2 cores: plays were seen up to 7.7 ms late
    # (most under 1 ms) and once beyond 15 ms in a full parallel run. The agent's own limit
    # (max_lateness_s, 900 s) is 45 ms real here, so a play counted on time is never one the
    # agent would have given up.
    row = week_offline(week_rig, rate=20_000.0, late_real_s=0.025)
    assert row.tally.problems() == [], row.markdown()
    assert row.tally.plays_due == 21 and row.tally.plays_heard == 21
