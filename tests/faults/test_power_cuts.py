"""Scenario 2: kill -9 of an agent mid-play and mid-write. Mid-download is held by
``tests/integration/test_agent_process.py`` (resume, and a corrupted partial file) in the suite,
and by ``bench/faults.py`` (``killed_mid_download``) for the figures."""

from __future__ import annotations

import pytest

from tests.faults.rig import FaultRig
from tests.faults.scenario_agent import killed_mid_play, killed_mid_write

pytestmark = pytest.mark.integration


def test_killed_mid_play_is_not_replayed_and_the_next_plays(rig: FaultRig) -> None:
    row = killed_mid_play(rig)
    tally = row.tally
    assert not tally.missing and tally.duplicate_plays == 0, row.markdown()
    # both heard on time: the cut one by its play_started, the second at the sink
    assert tally.plays_due == 2 and tally.plays_heard == 2 and tally.plays_late == 0


def test_killed_mid_write_loses_nothing_and_never_corrupts(rig: FaultRig) -> None:
    row = killed_mid_write(rig, kills=3)
    assert row.tally.problems() == [], row.markdown()
    assert row.tally.telemetry_made >= 60
