"""Fixtures of the fault suite: a rig (broker, center, agents) private to one test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.rig import FaultRig, open_rig


@pytest.fixture
def rig(tmp_path: Path, mosquitto_installed: None) -> Iterator[FaultRig]:
    """Real Mosquitto and a real center on loopback; agents are started by the test."""
    with open_rig(tmp_path / "rig") as running:
        yield running


@pytest.fixture
def netns_rig(tmp_path: Path, mosquitto_installed: None) -> Iterator[FaultRig]:
    """As ``rig``, plus a network namespace (``rig.netns``) whose host-side address the broker
    and the center also listen on, for an agent that can be partitioned."""
    with open_rig(tmp_path / "rig", partition=True) as running:
        yield running
