"""Live items in the player's queue: an emergency live session interrupts what plays, like an
emergency file. The live playback itself (fetch, verify, decode, sync) is exercised end to end
in tests/live; here the player's part: when it starts a live item and what it interrupts."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edge_agent.clock import SystemClock
from edge_agent.config import CacheConfig, PlayerConfig
from edge_agent.media_cache import MediaCache
from edge_agent.play_outcome import OutcomeKind, PlayOutcome
from edge_agent.player import Player
from edge_agent.store import LocalStore
from firmware_sim.hardware import sim_hardware
from protocol.base import Priority
from protocol.live import LiveContent
from protocol.manifest import AudioContent, PlayItem
from tests.support.waiting import poll


class _LiveOutput:
    """Stands in for the live chain: starts at once, plays until stopped or the window ends."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, item: PlayItem, cancel: threading.Event,
                 on_started: Callable[[datetime], None]) -> PlayOutcome:
        assert isinstance(item.content, LiveContent)
        self.calls.append(item.item_id)
        started = datetime.now(UTC)
        on_started(started)
        left = (item.content.ends_at - started).total_seconds()
        stopped = cancel.wait(max(0.0, left))
        kind = OutcomeKind.INTERRUPTED if stopped else OutcomeKind.COMPLETED
        return PlayOutcome(item, kind, started, datetime.now(UTC), heard_ms=500)


def test_an_emergency_live_session_interrupts_a_bulletin_that_plays(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "agent.db")
    cache = MediaCache(tmp_path / "cache", store, CacheConfig())
    data = b"a long bulletin"
    sha = hashlib.sha256(data).hexdigest()
    cache.path_for(sha).write_bytes(data)
    store.media_add(sha, len(data))
    hardware, sink = sim_hardware("loa-live")
    live = _LiveOutput()
    outcomes: list[PlayOutcome] = []
    player = Player(hardware=hardware, cache=cache, store=store, clock=SystemClock(),
                    config=PlayerConfig(report_delay_s=0.0), report=outcomes.append, live=live)
    player.start()
    try:
        now = datetime.now(UTC)
        bulletin = PlayItem(item_id="s1r1-x", bulletin_id=1, title="Bản tin", start_at=now,
                            content=AudioContent(sha256=sha, url="http://cc/m", size=len(data),
                                                 duration_ms=60_000))
        player.set_items([bulletin])
        poll(player.current_item, lambda current: current == bulletin, 10, "the bulletin plays")
        session = PlayItem(
            item_id="live-abc", bulletin_id=0, title="Trực tiếp", priority=Priority.EMERGENCY,
            start_at=now, content=LiveContent(
                stream_id="ab" * 16, url="http://cc/api/v1/live/" + "ab" * 16, token="t" * 32,
                ends_at=datetime.now(UTC) + timedelta(seconds=1)))
        player.play_now(session, until=session.content.ends_at)  # type: ignore[union-attr]
        assert sink.wait_for(lambda records: len(records) == 1, timeout=10)
        assert not sink.records[0].completed  # the bulletin was cut by the live session
        poll(lambda: [(o.item.item_id, o.kind) for o in outcomes],
             lambda got: ("live-abc", OutcomeKind.COMPLETED) in got, 10, "the session ends")
        assert live.calls == ["live-abc"]
        interrupted = [o for o in outcomes if o.kind is OutcomeKind.INTERRUPTED]
        assert [o.item.item_id for o in interrupted] == ["s1r1-x"]
        assert "emergency item live-abc" in interrupted[0].reason
    finally:
        player.stop()
        cache.close()
        store.close()
