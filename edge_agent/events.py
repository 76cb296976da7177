"""Builds protocol events for one device, each with a fresh unique id."""

from __future__ import annotations

import uuid
from typing import Any

from edge_agent.clock import Clock
from edge_agent.play_outcome import OutcomeKind, PlayOutcome
from protocol import events as ev
from protocol.manifest import PlayItem


class EventFactory:
    def __init__(self, device_id: str, clock: Clock) -> None:
        self._device_id = device_id
        self._clock = clock

    def _base(self) -> dict[str, Any]:
        return {"event_id": uuid.uuid4().hex, "device_id": self._device_id, "at": self._clock.now()}

    def manifest_accepted(self, version: int) -> ev.ManifestAccepted:
        return ev.ManifestAccepted(**self._base(), version=version)

    def rejected(self, channel: str, reason: str, version: int | None = None) -> ev.MessageRejected:
        return ev.MessageRejected(**self._base(), channel=channel, reason=_text(reason, 500),
                                  version=version)

    def media_ready(self, sha256: str, size: int, resumed_from: int) -> ev.MediaReady:
        return ev.MediaReady(**self._base(), sha256=sha256, size=size, resumed_from=resumed_from)

    def media_failed(self, sha256: str, reason: str) -> ev.MediaFailed:
        return ev.MediaFailed(**self._base(), sha256=sha256, reason=_text(reason, 500))

    def command_ack(
        self, command_id: str, outcome: ev.CommandOutcome, reason: str = ""
    ) -> ev.CommandAck:
        return ev.CommandAck(**self._base(), command_id=command_id, outcome=outcome,
                             reason=_text(reason, 500))

    def live_source(self, item: PlayItem, state: ev.LiveSourceState,
                    reason: str) -> ev.LiveSource:
        stream_id = getattr(item.content, "stream_id", "")
        return ev.LiveSource(**self._base(), item_id=item.item_id, stream_id=stream_id,
                             state=state, reason=_text(reason, 500))

    def fault(self, component: str, error: str, count: int, recovery: str) -> ev.AgentFault:
        return ev.AgentFault(**self._base(), component=_text(component, 40),
                             error=_text(error, 500), count=max(1, count),
                             recovery=_text(recovery, 200))

    def play(self, outcome: PlayOutcome) -> ev.PlayEvent:
        item: PlayItem = outcome.item
        common = {
            **self._base(),
            "item_id": item.item_id,
            "bulletin_id": item.bulletin_id,
            "priority": item.priority,
            "scheduled_at": item.start_at,
        }
        if outcome.kind is OutcomeKind.STARTED:
            return ev.PlayStarted(**common, started_at=outcome.started_at)
        if outcome.kind is OutcomeKind.COMPLETED:
            return ev.PlayCompleted(**common, started_at=outcome.started_at,
                                    ended_at=outcome.ended_at, heard_ms=outcome.heard_ms)
        if outcome.kind is OutcomeKind.INTERRUPTED:
            return ev.PlayInterrupted(**common, started_at=outcome.started_at,
                                      ended_at=outcome.ended_at, reason=_text(outcome.reason, 500),
                                      heard_ms=outcome.heard_ms)
        if outcome.kind is OutcomeKind.SHOWN:
            return ev.PlayShown(**common, shown_at=outcome.started_at)
        return ev.PlayFailed(**common, reason=_text(outcome.reason, 500))


def _text(value: str, limit: int) -> str:
    """A reason for the center: at most ``limit`` characters, a NUL (which a refused payload
    may carry into an error message) shown as U+FFFD, since the center refuses NUL text."""
    return value.replace("\x00", "\ufffd")[:limit]
