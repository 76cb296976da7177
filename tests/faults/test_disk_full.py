"""Scenario 3: the agent's disk fills up, then space comes back."""

from __future__ import annotations

import pytest

from tests.faults.rig import FaultRig
from tests.faults.scenario_agent import disk_full

pytestmark = pytest.mark.integration


def test_disk_full_plays_from_cache_and_loses_nothing(rig: FaultRig) -> None:
    row = disk_full(rig)
    assert row.tally.problems() == [], row.markdown()
    assert row.tally.plays_due == 4
