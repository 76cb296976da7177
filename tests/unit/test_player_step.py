"""``Player._step`` driven by a fake clock: priority, pre-roll, lateness and interruption.

No thread runs and nothing sleeps. The player module's ``threading`` is swapped for one whose
``Thread`` only records what the player started (the test runs the play when it chooses, on
its own thread) and whose ``Timer`` fires at once; ``Event`` and ``Condition`` stay real. The
local store and media cache are the real ones in ``tmp_path``; the audio output is a fake that
records what started and stopped and can run a hook while an item "plays", so a test can call
``_step`` again in the middle of a play.
"""

from __future__ import annotations

import hashlib
import threading
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import edge_agent.player as player_module
from edge_agent.config import CacheConfig, PlayerConfig
from edge_agent.hardware import Hardware, PlayResult
from edge_agent.media_cache import MediaCache
from edge_agent.play_outcome import PlayOutcome
from edge_agent.player import MAX_SLEEP_S, Player
from edge_agent.store import LocalStore
from edge_agent.text_items import SPEAKER_TEXT
from protocol.base import Priority
from protocol.manifest import AudioContent, PlayItem, TextContent

T0 = datetime(2026, 9, 2, 6, 0, tzinfo=UTC)
LATENESS_S = 20.0
PREROLL_S = 2.0
CONFIG = PlayerConfig(max_lateness_s=LATENESS_S, preroll_s=PREROLL_S, report_delay_s=0.0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def real_seconds(self, span_s: float) -> float:
        return span_s


@dataclass(slots=True)
class DeferredThread:
    """Stands in for a player thread: ``start`` only queues it; the test runs it."""

    target: Callable[..., object]
    args: tuple[object, ...] = ()
    name: str = ""
    daemon: bool | None = None
    queue: list[DeferredThread] | None = None

    def start(self) -> None:
        assert self.queue is not None
        self.queue.append(self)

    def join(self, timeout: float | None = None) -> None:
        pass


class ImmediateTimer:
    """Stands in for ``threading.Timer``: the "started" report is sent when the timer starts."""

    def __init__(self, interval: float, function: Callable[..., object],
                 args: tuple[object, ...] = ()) -> None:
        self.interval, self.function, self.args = interval, function, args
        self.daemon = False

    def start(self) -> None:
        self.function(*self.args)

    def join(self, timeout: float | None = None) -> None:
        pass


@dataclass(slots=True)
class FakeOutput:
    """Sink, amplifier and volume in one: records ``start``/``stop`` and relay switches."""

    clock: FakeClock
    events: list[tuple[str, str, datetime]] = field(default_factory=list)
    power: list[bool] = field(default_factory=list)
    levels: list[int] = field(default_factory=list)
    while_playing: dict[str, Callable[[], None]] = field(default_factory=dict)

    def play(self, path: Path, *, item: PlayItem, cancel: threading.Event,
             on_started: Callable[[datetime], None]) -> PlayResult:
        assert path.exists(), "the player opens the file from the cache"
        started_at = self.clock.now()
        self.events.append(("start", item.item_id, started_at))
        on_started(started_at)
        hook = self.while_playing.pop(item.item_id, None)
        if hook is not None:
            hook()
        ended_at = self.clock.now()
        completed = not cancel.is_set()
        self.events.append(("stop" if completed else "cut", item.item_id, ended_at))
        return PlayResult(started_at=started_at, ended_at=ended_at, completed=completed)

    def set_power(self, on: bool) -> None:
        self.power.append(on)

    def set_level(self, level: int) -> None:
        self.levels.append(level)

    def started(self) -> list[str]:
        return [item_id for kind, item_id, _ in self.events if kind == "start"]


@dataclass(slots=True)
class Rig:
    player: Player
    clock: FakeClock
    output: FakeOutput
    store: LocalStore
    cache: MediaCache
    outcomes: list[PlayOutcome]
    threads: list[DeferredThread]

    def content(self, name: str, *, cached: bool = True) -> AudioContent:
        data = f"clip {name}".encode()
        sha = hashlib.sha256(data).hexdigest()
        if cached:
            self.cache.path_for(sha).write_bytes(data)
            self.store.media_add(sha, len(data))
        return AudioContent(sha256=sha, url=f"http://cc/api/v1/media/{sha}", size=len(data),
                            duration_ms=30_000)

    def item(self, name: str, priority: Priority, start: datetime, *, cached: bool = True,
             order: int = 0) -> PlayItem:
        return PlayItem(item_id=name, bulletin_id=1, title=f"Bản tin {name}", priority=priority,
                        start_at=start, content=self.content(name, cached=cached), order=order)

    def step(self, now: datetime) -> float:
        self.clock.current = now
        return self.player._step(now)

    def run_play(self) -> None:
        """Run the one play thread the player started, to its end, on this thread."""
        assert len(self.threads) == 1, [t.name for t in self.threads]
        thread = self.threads.pop()
        thread.target(*thread.args)

    def current_id(self) -> str | None:
        current = self.player.current_item()
        return current.item_id if current is not None else None

    def kinds(self, item_id: str) -> list[str]:
        return [o.kind for o in self.outcomes if o.item.item_id == item_id]


@pytest.fixture
def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    threads: list[DeferredThread] = []

    def make_thread(*, target: Callable[..., object], args: tuple[object, ...] = (),
                    name: str = "", daemon: bool | None = None) -> DeferredThread:
        return DeferredThread(target, args, name, daemon, threads)

    fake_threading = types.SimpleNamespace(
        Thread=make_thread, Timer=ImmediateTimer,
        Event=threading.Event, Condition=threading.Condition,
    )
    monkeypatch.setattr(player_module, "threading", fake_threading)
    store = LocalStore(tmp_path / "agent.db")
    cache = MediaCache(tmp_path / "cache", store, CacheConfig())
    clock = FakeClock(T0)
    output = FakeOutput(clock)
    outcomes: list[PlayOutcome] = []
    player = Player(hardware=Hardware(sink=output, amplifier=output, volume=output),
                    cache=cache, store=store, clock=clock, config=CONFIG,
                    report=outcomes.append)
    try:
        yield Rig(player, clock, output, store, cache, outcomes, threads)
    finally:
        cache.close()
        store.close()


# priority ---------------------------------------------------------------------------------
def test_due_items_play_emergency_then_priority_then_normal_each_by_its_instant(
    rig: Rig,
) -> None:
    """One item starts per step; the next waits until the play ends (the play thread wakes
    the loop), then the highest due item goes: emergency, priority, normal, and among equal
    priorities the earlier instant."""
    rig.player.set_items([
        rig.item("n-early", Priority.NORMAL, at(-9)),
        rig.item("n-late", Priority.NORMAL, at(-1)),
        rig.item("p-late", Priority.PRIORITY, at(-2)),
        rig.item("p-early", Priority.PRIORITY, at(-5)),
        rig.item("e", Priority.EMERGENCY, at(0)),
    ])
    now = T0
    for _ in range(5):
        rig.step(now)
        assert rig.player.current_item() is not None
        rig.run_play()
        assert rig.player.current_item() is None
        now += timedelta(seconds=1)
    assert rig.output.started() == ["e", "p-early", "p-late", "n-early", "n-late"]
    assert [o.kind for o in rig.outcomes] == ["started", "completed"] * 5
    assert rig.store.journal_items() == {"e", "p-early", "p-late", "n-early", "n-late"}
    assert rig.step(now) == MAX_SLEEP_S  # nothing left, nothing started
    assert rig.threads == []


def test_a_priority_item_waits_for_the_normal_item_playing_then_goes_first(rig: Rig) -> None:
    normal = rig.item("n-playing", Priority.NORMAL, at(0))
    rig.player.set_items([normal])
    rig.step(at(0))
    assert rig.player.current_item() == normal
    rig.player.set_items([
        normal,
        rig.item("n-waiting", Priority.NORMAL, at(1)),
        rig.item("p", Priority.PRIORITY, at(3)),
    ])
    # both are due while the normal item plays: nothing is interrupted; the step sleeps until
    # the soonest lateness limit (the play's end wakes it earlier)
    assert rig.step(at(3)) == pytest.approx(LATENESS_S + 1 - 3)
    assert rig.player.current_item() == normal
    rig.run_play()
    rig.step(at(4))
    rig.run_play()
    rig.step(at(5))
    rig.run_play()
    assert rig.output.started() == ["n-playing", "p", "n-waiting"]
    assert all(o.kind in ("started", "completed") for o in rig.outcomes)


# pre-roll and the next deadline ----------------------------------------------------------
def test_an_item_is_started_at_its_preroll_and_plays_on_its_instant(rig: Rig) -> None:
    """The step sleeps to the pre-roll instant, starts the play thread there (which waits
    for the instant itself), then sleeps until the instant."""
    item = rig.item("n", Priority.NORMAL, at(10))
    rig.player.set_items([item])
    assert rig.step(at(0)) == pytest.approx(10 - PREROLL_S)
    assert rig.step(at(7.5)) == pytest.approx(0.5)
    assert rig.threads == [] and rig.player.current_item() is None
    assert rig.step(at(10 - PREROLL_S)) == pytest.approx(PREROLL_S)
    assert rig.player.current_item() == item
    assert rig.output.events == [] and rig.outcomes == []  # prepared, not yet heard
    rig.clock.current = at(10)  # the play thread's wait for the instant has passed
    rig.run_play()
    assert rig.output.events[0] == ("start", "n", at(10))
    assert [(o.kind, o.started_at) for o in rig.outcomes] == [("started", at(10)),
                                                               ("completed", at(10))]
    assert rig.output.power == [True, False]


def test_sleep_is_capped_and_never_negative(rig: Rig) -> None:
    rig.player.set_items([rig.item("far", Priority.NORMAL, at(3600))])
    assert rig.step(at(0)) == MAX_SLEEP_S
    # a due item whose media is missing: woken at its lateness limit, unless media arrives
    rig.player.set_items([rig.item("uncached", Priority.NORMAL, at(0), cached=False)])
    assert rig.step(at(5)) == pytest.approx(LATENESS_S - 5)
    assert rig.threads == [] and rig.outcomes == []


def test_the_soonest_imminent_item_is_prepared_first_whatever_its_priority(rig: Rig) -> None:
    rig.player.set_items([
        rig.item("n-sooner", Priority.NORMAL, at(10)),
        rig.item("e-later", Priority.EMERGENCY, at(11)),
    ])
    assert rig.step(at(9)) == pytest.approx(1.0)
    assert rig.current_id() == "n-sooner"


# lateness -----------------------------------------------------------------------------
def test_an_item_past_the_lateness_limit_is_reported_missed_and_not_played(rig: Rig) -> None:
    rig.player.set_items([
        rig.item("busy", Priority.NORMAL, at(0)),
        rig.item("uncached", Priority.PRIORITY, at(0), cached=False),
    ])
    rig.step(at(LATENESS_S + 0.001))
    assert rig.threads == [] and rig.output.events == []
    reasons = {o.item.item_id: (o.kind, o.reason) for o in rig.outcomes}
    assert reasons == {
        "busy": ("failed", "missed: device was busy or down past the lateness limit"),
        "uncached": ("failed", "missed: media was not in the cache before the lateness limit"),
    }
    assert rig.store.journal_items() == {"busy", "uncached"}
    rig.step(at(LATENESS_S + 1))
    assert len(rig.outcomes) == 2  # reported once


def test_an_item_exactly_at_the_lateness_limit_still_plays(rig: Rig) -> None:
    rig.player.set_items([rig.item("n", Priority.NORMAL, at(0))])
    rig.step(at(LATENESS_S))
    rig.run_play()
    assert rig.output.started() == ["n"]
    assert rig.kinds("n") == ["started", "completed"]


def test_an_item_kept_waiting_by_a_long_play_is_missed_at_its_limit(rig: Rig) -> None:
    rig.player.set_items([
        rig.item("long", Priority.NORMAL, at(0)),
        rig.item("waiting", Priority.NORMAL, at(1)),
    ])
    rig.step(at(0))
    assert rig.step(at(1)) == pytest.approx(LATENESS_S)  # woken at the waiting item's limit
    rig.step(at(1 + LATENESS_S + 0.5))
    assert rig.kinds("waiting") == ["failed"]
    assert rig.outcomes[-1].reason == "missed: device was busy or down past the lateness limit"
    rig.run_play()
    assert rig.output.started() == ["long"]


def test_a_text_item_on_a_loudspeaker_fails_saying_why(rig: Rig) -> None:
    text = PlayItem(item_id="t", bulletin_id=2, title="Thông báo", start_at=at(0),
                    content=TextContent(text="Lịch cắt điện"))
    rig.player.set_items([text])
    rig.step(at(1))
    assert [(o.kind, o.reason) for o in rig.outcomes] == [("failed", SPEAKER_TEXT)]
    assert "voice" in SPEAKER_TEXT and rig.threads == []


def test_a_kiosk_shows_a_text_item_once_in_its_window(rig: Rig) -> None:
    kiosk = Player(hardware=Hardware(sink=rig.output, amplifier=rig.output, volume=rig.output),
                   cache=rig.cache, store=rig.store, clock=rig.clock, config=CONFIG,
                   report=rig.outcomes.append, shows_text=True)
    notice = PlayItem(item_id="n", bulletin_id=2, title="Thông báo", start_at=at(10),
                      content=TextContent(text="Lịch cắt điện", ends_at=at(4000)))
    late = PlayItem(item_id="late", bulletin_id=3, title="Cũ", start_at=at(0),
                    content=TextContent(text="Đã qua", ends_at=at(5)))
    kiosk.set_items([notice, late])
    assert kiosk._step(at(9)) <= 1.0 + 1e-6  # wakes at the notice's instant
    assert [(o.item.item_id, o.kind) for o in rig.outcomes] == [("late", "failed")]  # window
    # over unseen: missed; the notice is not shown before it is due
    kiosk._step(at(3000))  # still inside its window (past the lateness limit): shown now
    assert [(o.item.item_id, o.kind, o.started_at) for o in rig.outcomes] == [
        ("late", "failed", None), ("n", "shown", at(3000))]
    kiosk._step(at(3500))
    kiosk.set_items([notice, late])  # the same manifest again: not shown twice
    kiosk._step(at(3600))
    assert len(rig.outcomes) == 2 and rig.threads == []
    assert rig.store.journal_items() >= {"n", "late"}


# interruption -------------------------------------------------------------------------
def test_an_emergency_interrupts_a_playing_normal_item_which_does_not_resume(
    rig: Rig, tmp_path: Path,
) -> None:
    """The emergency's step cancels the normal play (it does not start the emergency: one
    play at a time); the normal item is reported ``interrupted`` with the emergency named,
    never ``completed``. It does not resume: it stays done in memory and in the journal, so
    neither the next step nor a restarted agent plays it again, even inside its lateness
    limit."""
    normal = rig.item("n", Priority.NORMAL, at(0))
    emergency = rig.item("e", Priority.EMERGENCY, at(5))
    rig.player.set_items([normal, emergency])
    rig.step(at(0))
    assert rig.player.current_item() == normal
    sleeps: list[float] = []

    def emergency_arrives() -> None:
        sleeps.append(rig.step(at(5)))
        assert rig.player.current_item() == normal  # cancelled, still ending
        assert rig.threads == []  # the emergency waits for the sink to let go

    rig.output.while_playing["n"] = emergency_arrives
    rig.run_play()
    assert sleeps == [pytest.approx(LATENESS_S)]  # the emergency's own lateness limit
    assert rig.output.events == [("start", "n", at(0)), ("cut", "n", at(5))]
    interrupted = rig.outcomes[-1]
    assert (interrupted.kind, interrupted.reason) == ("interrupted",
                                                      "interrupted by emergency item e")
    assert (interrupted.started_at, interrupted.ended_at) == (at(0), at(5))
    assert rig.kinds("n") == ["started", "interrupted"]

    rig.step(at(5))
    rig.run_play()
    assert rig.kinds("e") == ["started", "completed"]
    assert rig.step(at(6)) == MAX_SLEEP_S  # the normal item, still due, is not played again
    assert rig.output.started() == ["n", "e"]

    restarted = Player(hardware=Hardware(sink=rig.output, amplifier=rig.output,
                                         volume=rig.output),
                       cache=rig.cache, store=rig.store, clock=rig.clock, config=CONFIG,
                       report=rig.outcomes.append)
    restarted.set_items([normal, emergency])
    restarted._step(at(7))
    assert rig.threads == [] and restarted.current_item() is None


def test_an_emergency_preempts_an_item_still_in_preroll_which_goes_back_in_the_queue(
    rig: Rig,
) -> None:
    """Cancelled before its instant, the pre-rolled item has not been heard: nothing is
    reported for it, and it plays after the emergency (it is still inside its limit)."""
    normal = rig.item("n", Priority.NORMAL, at(10))
    rig.player.set_items([normal])
    rig.step(at(8))  # the normal item's pre-roll
    assert rig.player.current_item() == normal
    rig.player.play_now(rig.item("e", Priority.EMERGENCY, at(9)))
    rig.step(at(9))  # the emergency is due: the pre-roll is cancelled
    rig.run_play()  # the play thread sees the cancel before the instant and gives up
    assert rig.output.events == [] and rig.outcomes == []
    assert rig.player.current_item() is None
    rig.step(at(9))
    rig.run_play()
    rig.step(at(12))
    rig.run_play()
    assert rig.output.started() == ["e", "n"]
    assert rig.kinds("n") == ["started", "completed"]


def test_neither_priority_nor_emergency_interrupts_an_emergency(rig: Rig) -> None:
    playing = rig.item("e1", Priority.EMERGENCY, at(0))
    rig.player.set_items([playing, rig.item("e2", Priority.EMERGENCY, at(1)),
                          rig.item("p", Priority.PRIORITY, at(1))])
    rig.step(at(0))

    def others_due() -> None:
        rig.step(at(2))

    rig.output.while_playing["e1"] = others_due
    rig.run_play()
    assert rig.kinds("e1") == ["started", "completed"]
    rig.step(at(3))
    assert rig.current_id() == "e2"


def test_a_normal_item_removed_by_the_center_is_cancelled_as_orphaned(rig: Rig) -> None:
    rig.player.set_items([rig.item("n", Priority.NORMAL, at(0))])
    rig.step(at(0))

    def center_withdraws() -> None:
        rig.player.set_items([])
        rig.step(at(3))

    rig.output.while_playing["n"] = center_withdraws
    rig.run_play()
    assert [(o.kind, o.reason) for o in rig.outcomes] == [
        ("started", ""), ("interrupted", "cancelled by the center")]
