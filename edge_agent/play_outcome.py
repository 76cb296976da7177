"""What became of a play: the player's report to the agent, which makes protocol events of it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from protocol.manifest import PlayItem


class OutcomeKind(StrEnum):
    """What became of a play; the values are also written to the local play journal."""

    STARTED = "started"
    COMPLETED = "completed"
    INTERRUPTED = "interrupted"
    FAILED = "failed"
    SHOWN = "shown"  # a kiosk showed a text notice (``started_at``: when it first appeared)


@dataclass(frozen=True, slots=True)
class PlayOutcome:
    """What the player tells the agent; the agent turns it into protocol events."""

    item: PlayItem
    kind: OutcomeKind
    started_at: datetime | None = None
    ended_at: datetime | None = None
    reason: str = ""
    heard_ms: int | None = None  # live items: milliseconds of the source played


LiveRun = Callable[[PlayItem, threading.Event, Callable[[datetime], None]], PlayOutcome]
"""Plays a live item until its window ends or the event is set (``edge_agent.live.runner``)."""
