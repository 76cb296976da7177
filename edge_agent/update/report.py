"""``update`` events: one per stage of an update, sent through the agent's outbox."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from edge_agent.clock import Clock
from protocol.events import UpdateReport, UpdateStage


class UpdateReporter:
    """Builds and sends the ``UpdateReport`` events of one device and running version."""

    def __init__(self, *, device_id: str, running_version: str, clock: Clock,
                 emit: Callable[[UpdateReport], None]) -> None:
        self._device_id = device_id
        self.running_version = running_version
        self._clock = clock
        self._emit = emit

    def report(self, stage: UpdateStage, version: str, *, rollout_id: int | None,
               reason: str = "", duration_ms: int | None = None) -> UpdateReport:
        event = UpdateReport(
            event_id=uuid.uuid4().hex, device_id=self._device_id, at=self._clock.now(),
            version=version[:64], stage=stage, running_version=self.running_version[:64],
            rollout_id=rollout_id, reason=reason[:500],
            duration_ms=None if duration_ms is None else max(0, duration_ms))
        self._emit(event)
        return event


def elapsed_ms(since_monotonic: float, now_monotonic: float) -> int:
    return max(0, round((now_monotonic - since_monotonic) * 1000))
