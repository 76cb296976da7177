"""The player's way into live audio: one ``LivePlay`` per live item, turned into an outcome."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

import httpx

from edge_agent.clock import Clock
from edge_agent.hardware import PcmSink
from edge_agent.live.fetcher import SegmentFetcher
from edge_agent.live.session import LivePlay
from edge_agent.media_cache import MediaCache
from edge_agent.play_outcome import OutcomeKind, PlayOutcome
from protocol.events import LiveSourceState
from protocol.live import LiveContent
from protocol.manifest import PlayItem
from protocol.signing import Verifier

SourceReport = Callable[[PlayItem, LiveSourceState, str], None]


class LiveRunner:
    """Plays live items for the player (``Player(live=runner)``)."""

    def __init__(self, *, device_id: str, verifier: Verifier, sink: PcmSink, clock: Clock,
                 cache: MediaCache, on_source: SourceReport) -> None:
        self._device_id = device_id
        self._verifier = verifier
        self._sink = sink
        self._clock = clock
        self._cache = cache
        self._on_source = on_source
        self.bytes_in = 0
        self.refused = 0

    def __call__(self, item: PlayItem, cancel: threading.Event,
                 on_started: Callable[[datetime], None]) -> PlayOutcome:
        content = item.content
        assert isinstance(content, LiveContent)
        filler = None
        if content.filler is not None and self._cache.has(content.filler.sha256):
            filler = self._cache.path_for(content.filler.sha256)
        with httpx.Client() as client:
            fetcher = SegmentFetcher(content=content, device_id=self._device_id,
                                     verifier=self._verifier, client=client)
            play = LivePlay(content=content, fetcher=fetcher, sink=self._sink, clock=self._clock,
                            cancel=cancel, on_started=on_started, filler=filler,
                            on_source=lambda state, why: self._on_source(item, state, why))
            result = play.run()
        self.bytes_in += fetcher.bytes_in
        self.refused += play.refused
        if result.started_at is None and result.completed:
            reason = "no live audio came during the window"
            if play.refused:
                reason += f" ({play.refused} segments or answers refused)"
            return PlayOutcome(item, OutcomeKind.FAILED, reason=reason)
        started = result.started_at or result.ended_at
        kind = OutcomeKind.COMPLETED if result.completed else OutcomeKind.INTERRUPTED
        return PlayOutcome(item, kind, started, result.ended_at, heard_ms=result.heard_ms)
