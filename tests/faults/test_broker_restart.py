"""Scenario 1: broker restarts; agents play from cache and nothing they made is lost."""

from __future__ import annotations

import pytest

from tests.faults.rig import FaultRig
from tests.faults.scenario_broker import broker_restart_at_play, broker_restart_losing_store

pytestmark = pytest.mark.integration


def test_broker_restart_at_play_instant_loses_nothing(rig: FaultRig) -> None:
    row = broker_restart_at_play(rig, agents=2, down_s=4.0)
    tally = row.tally
    assert tally.problems() == [], row.markdown()
    assert tally.plays_due == 2 and tally.events_made >= 8  # accepted, ready, started, completed
    assert tally.converge_s is not None and tally.converge_s < 15


def test_broker_restart_losing_store_republishes_every_manifest(rig: FaultRig) -> None:
    row = broker_restart_losing_store(rig)
    tally = row.tally
    assert tally.problems() == [], row.markdown()
    assert tally.plays_due == 4 and tally.plays_heard == 4
