"""Scenario 4: a corrupted agent store."""

from __future__ import annotations

import pytest

from tests.faults.rig import FaultRig
from tests.faults.scenario_agent import corrupt_store

pytestmark = pytest.mark.integration


def test_corrupt_store_is_moved_aside_and_the_agent_recovers(rig: FaultRig) -> None:
    row = corrupt_store(rig)
    assert row.tally.problems() == [], row.markdown()
    assert row.tally.plays_due == 2 and row.tally.plays_heard == 2
