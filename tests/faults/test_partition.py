"""Scenario 6: a partitioned agent plays from cache and loses nothing it made."""

from __future__ import annotations

import pytest

from tests.faults.rig import FaultRig
from tests.faults.scenario_partition import partition

pytestmark = pytest.mark.integration


def test_partitioned_agent_plays_from_cache_and_every_event_arrives(netns_rig: FaultRig) -> None:
    row = partition(netns_rig, cut_s=12.0, plays=1)
    tally = row.tally
    assert tally.problems() == [], row.markdown()
    assert tally.plays_due == tally.plays_heard == 1
    assert tally.stored_by_type.get("play_completed") == 1
    assert tally.converge_s is not None and tally.converge_s < 20
