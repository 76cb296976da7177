"""The player's queue: priority first, then the commune's ``order``, then the instant.

The ordering test runs the real player thread with a real local store and media cache and the
simulated sink (plays shortened by ``time_scale``); it waits on the sink's records, never sleeps.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_agent.clock import SystemClock
from edge_agent.config import CacheConfig, PlayerConfig
from edge_agent.media_cache import MediaCache
from edge_agent.play_outcome import PlayOutcome
from edge_agent.player import Player, ready_order
from edge_agent.store import LocalStore
from firmware_sim.hardware import SimAudioSink, sim_hardware
from protocol.base import Priority
from protocol.codec import decode_manifest, encode
from protocol.manifest import AudioContent, Manifest, PlayItem
from tests.support.waiting import poll

T0 = datetime(2026, 9, 2, 0, 0, tzinfo=UTC)


def _item(name: str, priority: Priority, start: datetime, content: AudioContent,
          order: int = 0) -> PlayItem:
    return PlayItem(item_id=name, bulletin_id=1, title=f"Bản tin {name}", priority=priority,
                    start_at=start, content=content, order=order)


def _content(sha: str = "ab" * 32) -> AudioContent:
    return AudioContent(sha256=sha, url=f"http://cc/api/v1/media/{sha}", size=4,
                        duration_ms=1000)


def test_order_ranks_between_priority_and_instant() -> None:
    c = _content()
    late_first = _item("p-order1", Priority.PRIORITY, T0 + timedelta(seconds=5), c, order=1)
    early_second = _item("p-order2", Priority.PRIORITY, T0, c, order=2)
    normal = _item("n-order0", Priority.NORMAL, T0 - timedelta(seconds=5), c)
    emergency = _item("e", Priority.EMERGENCY, T0 + timedelta(seconds=9), c, order=9)
    unranked_a = _item("p-a", Priority.PRIORITY, T0 + timedelta(seconds=1), c)
    unranked_b = _item("p-b", Priority.PRIORITY, T0 + timedelta(seconds=2), c)
    got = sorted([normal, early_second, late_first, unranked_b, emergency, unranked_a],
                 key=ready_order)
    # unranked items (order 0) keep the old rule among themselves: the earlier instant first
    assert [i.item_id for i in got] == ["e", "p-a", "p-b", "p-order1", "p-order2", "n-order0"]


def test_order_is_left_out_of_the_json_when_zero() -> None:
    c = _content()
    plain = _item("s1r1-x", Priority.NORMAL, T0, c)
    ranked = _item("s2r1-x", Priority.PRIORITY, T0, c, order=3)
    manifest = Manifest(device_id="loa-01", version=1, issued_at=T0, items=(plain, ranked))
    body = json.loads(encode(manifest))
    assert "order" not in body["items"][0]  # what an agent without the field already accepts
    assert body["items"][1]["order"] == 3
    assert decode_manifest(encode(manifest)) == manifest
    with pytest.raises(ValueError, match="less than or equal to 10000"):
        _item("x", Priority.PRIORITY, T0, c, order=10_001)


@pytest.fixture
def player_rig(tmp_path: Path) -> Iterator[tuple[Player, SimAudioSink, dict[str, AudioContent],
                                              list[PlayOutcome]]]:
    store = LocalStore(tmp_path / "agent.db")
    cache = MediaCache(tmp_path / "cache", store, CacheConfig())
    contents: dict[str, AudioContent] = {}
    for name in ("a", "b", "c"):
        data = f"clip {name}".encode()
        sha = hashlib.sha256(data).hexdigest()
        cache.path_for(sha).write_bytes(data)
        store.media_add(sha, len(data))
        contents[name] = AudioContent(sha256=sha, url=f"http://cc/api/v1/media/{sha}",
                                      size=len(data), duration_ms=1000)
    hardware, sink = sim_hardware("loa-order", time_scale=0.05)
    outcomes: list[PlayOutcome] = []
    player = Player(hardware=hardware, cache=cache, store=store, clock=SystemClock(),
                    config=PlayerConfig(report_delay_s=0.0), report=outcomes.append)
    player.start()
    try:
        yield player, sink, contents, outcomes
    finally:
        player.stop()
        cache.close()
        store.close()


def test_the_communes_order_decides_among_due_priority_items(
    player_rig: tuple[Player, SimAudioSink, dict[str, AudioContent], list[PlayOutcome]],
) -> None:
    player, sink, contents, _ = player_rig
    due = datetime.now(UTC) - timedelta(seconds=2)  # all due at once: a clash
    player.set_items([
        _item("normal", Priority.NORMAL, due - timedelta(seconds=1), contents["a"]),
        _item("second", Priority.PRIORITY, due - timedelta(seconds=1), contents["b"], order=2),
        _item("first", Priority.PRIORITY, due, contents["c"], order=1),
    ])
    assert sink.wait_for(lambda records: len(records) == 3, timeout=10), sink.records
    assert [r.item_id for r in sink.records] == ["first", "second", "normal"]
    assert all(r.completed for r in sink.records)


def test_a_play_now_item_survives_the_players_next_wake_up(
    player_rig: tuple[Player, SimAudioSink, dict[str, AudioContent], list[PlayOutcome]],
) -> None:
    """A play-now (emergency) item is no longer pending once started, but it is still playing:
    a manifest update or timer wake-up during the play must not cancel it as orphaned."""
    player, sink, contents, outcomes = player_rig
    long_clip = AudioContent(sha256=contents["a"].sha256, url=contents["a"].url,
                             size=contents["a"].size, duration_ms=40_000)  # 2 s at scale 0.05
    player.play_now(_item("khan-cap", Priority.EMERGENCY, datetime.now(UTC), long_clip))
    # wait until the player reported the start, then give it a manifest update mid-play
    poll(lambda: [o.kind for o in outcomes], lambda kinds: "started" in kinds, 10, "the start")
    assert player.current_item() is not None and not sink.records
    player.set_items([])
    player.wake()
    assert sink.wait_for(lambda records: len(records) == 1, timeout=10)
    assert sink.records[0].completed, [o.reason for o in outcomes]
    assert [o.kind for o in outcomes] == ["started", "completed"], outcomes
