"""The player: starts each item at its instant from the local cache, by priority.

One thread sleeps until the next deadline (the soonest start or lateness limit) instead of
polling. As Circular 39/2020 describes: an emergency item interrupts whatever non-emergency
item is playing (reported as interrupted); a priority item does not interrupt but goes ahead
of every waiting normal item; among due items of equal priority the manifest's ``order`` (the
commune's ranking) decides, then the instants.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from edge_agent.clock import Clock
from edge_agent.config import PlayerConfig
from edge_agent.errors import SinkError
from edge_agent.hardware import Hardware, PlayResult
from edge_agent.media_cache import MediaCache
from edge_agent.play_outcome import LiveRun, OutcomeKind, PlayOutcome
from edge_agent.store import LocalStore
from edge_agent.supervision import FaultSink, Heartbeats, supervise
from edge_agent.text_items import text_outcome, window_end
from protocol.base import Priority
from protocol.live import LiveContent
from protocol.manifest import AudioContent, PlayItem

log = logging.getLogger(__name__)
MAX_SLEEP_S = 30.0
WAKE_WAIT_S = 1.0


def ready_order(item: PlayItem) -> tuple[int, int, datetime, str]:
    """Sort key of the due items: higher priority first, then the commune's ``order``, then
    the earlier instant (the item id breaks ties)."""
    return (-item.priority.rank, item.order, item.start_at, item.item_id)


@dataclass(slots=True)
class _Play:
    item: PlayItem
    cancel: threading.Event = field(default_factory=threading.Event)
    reason: str = ""


class Player:
    def __init__(
        self,
        *,
        hardware: Hardware,
        cache: MediaCache,
        store: LocalStore,
        clock: Clock,
        config: PlayerConfig,
        report: Callable[[PlayOutcome], None],
        heartbeats: Heartbeats | None = None,
        on_fault: FaultSink | None = None,
        skip_before: datetime | None = None,
        live: LiveRun | None = None,
        shows_text: bool = False,
    ) -> None:
        self._hw = hardware
        self._shows_text = shows_text  # a kiosk: text items are shown (``text_items``)
        self._live = live
        self._heartbeats = heartbeats or Heartbeats()
        self._on_fault: FaultSink = on_fault or (lambda component, exc, recovery: None)
        # Scheduled items due before this instant are not played late: the store was created
        # then (first start, wiped or corrupt store), and no journal says whether they played.
        self._skip_before = skip_before
        self._cache = cache
        self._store = store
        self._clock = clock
        self._config = config
        self._report = report
        self._cond = threading.Condition()
        self._scheduled: dict[str, PlayItem] = {}
        self._adhoc: dict[str, PlayItem] = {}
        self._adhoc_until: dict[str, datetime] = {}
        self._done: set[str] = store.journal_items()
        self._current: _Play | None = None
        self._stopping = False
        self._play_thread: threading.Thread | None = None
        self._thread = threading.Thread(target=self._run, name="player", daemon=True)
        self._stop_event = threading.Event()

    # control ------------------------------------------------------------------
    def start(self) -> None:
        self._hw.volume.set_level(self._config.default_volume)
        self._thread.start()

    def stop(self) -> None:
        self._stop_event.set()
        with self._cond:
            self._stopping = True
            if self._current is not None:
                self._current.reason = "agent stopping"
                self._current.cancel.set()
            self._cond.notify_all()
        self._thread.join(timeout=5)
        if self._play_thread is not None:
            self._play_thread.join(timeout=5)

    def set_items(self, items: Iterable[PlayItem]) -> None:
        """Replace the scheduled items (from a newly accepted manifest)."""
        with self._cond:
            self._scheduled = {it.item_id: it for it in items}
            self._cond.notify_all()

    def play_now(self, item: PlayItem, until: datetime | None = None) -> None:
        """Play ``item`` as soon as it can; with ``until`` (a command's validity) it may
        start until that instant instead of within the lateness limit."""
        with self._cond:
            self._adhoc[item.item_id] = item
            if until is not None:
                self._adhoc_until[item.item_id] = until
            self._cond.notify_all()

    def stop_current(self, reason: str) -> bool:
        with self._cond:
            if self._current is None:
                return False
            self._current.reason = reason
            self._current.cancel.set()
            return True

    def wake(self) -> None:
        """Re-evaluate now (e.g. media became available, the clock was measured).

        Never blocks its caller for long: a player loop that holds its lock this long is
        wedged, and the caller (the health sampler, the downloader) must go on reporting."""
        if not self._cond.acquire(timeout=WAKE_WAIT_S):
            log.error("player did not release its lock within %.1f s; not woken", WAKE_WAIT_S)
            return
        try:
            self._cond.notify_all()
        finally:
            self._cond.release()

    def current_item(self) -> PlayItem | None:
        with self._cond:
            return self._current.item if self._current else None

    def next_need(self) -> dict[str, datetime]:
        """Each cached file still to be played, with the earliest instant it is needed."""
        with self._cond:
            items = [it for it in (*self._scheduled.values(), *self._adhoc.values())
                     if it.item_id not in self._done]
            if self._current is not None:
                items.append(self._current.item)
        need: dict[str, datetime] = {}
        for it in items:
            if isinstance(it.content, AudioContent):
                sha = it.content.sha256
                need[sha] = min(need.get(sha, it.start_at), it.start_at)
        return need

    def refusal(self, stale_after_s: float) -> str | None:
        """Why a play-now item could not be played now, or None if the player can take it."""
        if not self._thread.is_alive():
            return "the player is not running"
        age = self._heartbeats.age("player")
        if age is None or age > stale_after_s:
            return f"the player has not advanced for {age or 0:.0f} s"
        fault = getattr(self._hw.amplifier, "fault", None)
        if fault:
            return f"amplifier path failed: {fault}"
        return None

    # the loop ----------------------------------------------------------------
    def _run(self) -> None:
        supervise("player", self._loop, stopped=lambda: self._stopping,
                  wait=self._stop_event.wait, on_fault=self._on_fault)

    def _loop(self) -> None:
        with self._cond:
            while not self._stopping:
                self._heartbeats.beat("player")
                timeout = self._step(self._clock.now())
                self._cond.wait(self._clock.real_seconds(timeout))

    def _step(self, now: datetime) -> float:
        """Start, interrupt or fail what is due; return seconds until the next deadline."""
        items = {**self._scheduled, **self._adhoc}
        current = self._current
        orphaned = current is not None and current.item.item_id not in items
        if current is not None and orphaned and not current.cancel.is_set():
            current.reason = "cancelled by the center"
            current.cancel.set()
        lateness = timedelta(seconds=self._config.max_lateness_s)
        preroll = timedelta(seconds=self._config.preroll_s)
        due: list[PlayItem] = []
        imminent: list[PlayItem] = []
        deadlines: list[datetime] = []
        for item in items.values():
            if item.item_id in self._done:
                continue
            if (self._skip_before is not None and item.start_at < self._skip_before
                    and item.item_id in self._scheduled):
                self._done.add(item.item_id)
                continue
            until = window_end(item, self._adhoc_until.get(item.item_id, item.start_at + lateness))
            if item.start_at > now:
                deadlines.append(item.start_at)
                deadlines.append(item.start_at - preroll)
                if item.start_at - preroll <= now:
                    imminent.append(item)
            elif now > until:
                self._fail(item, self._miss_reason(item))
            else:
                due.append(item)
                deadlines.append(until)
        ready = sorted((it for it in due if self._ready(it)), key=ready_order)
        soon = sorted(
            (it for it in imminent if self._ready(it)),
            key=lambda it: (it.start_at, -it.priority.rank, it.order, it.item_id),
        )
        if ready and current is None:
            self._start(ready[0])
        elif soon and current is None:
            self._start(soon[0])  # pre-roll: its thread gets ready, then starts on the instant
        elif (
            ready
            and current is not None
            and ready[0].priority is Priority.EMERGENCY
            and current.item.priority is not Priority.EMERGENCY
            and not current.cancel.is_set()
        ):
            current.reason = f"interrupted by {ready[0].priority.value} item {ready[0].item_id}"
            current.cancel.set()
        for item in due:
            if isinstance(item.content, LiveContent) and self._live is None:
                self._fail(item, "this device has no live audio output")
            elif not isinstance(item.content, AudioContent | LiveContent):
                self._finish(text_outcome(item, now=now, shows_text=self._shows_text))
        playing = self._current.item.item_id if self._current is not None else None
        # a play-now item stays known while it plays, or the next wake-up would see it orphaned
        self._adhoc = {k: v for k, v in self._adhoc.items()
                       if k not in self._done or k == playing}
        self._adhoc_until = {k: v for k, v in self._adhoc_until.items() if k in self._adhoc}
        future = [d for d in deadlines if d > now]
        if not future:
            return MAX_SLEEP_S
        return max(0.0, min(MAX_SLEEP_S, (min(future) - now).total_seconds()))

    def _ready(self, item: PlayItem) -> bool:
        if isinstance(item.content, LiveContent):
            return self._live is not None
        return isinstance(item.content, AudioContent) and self._cache.has(item.content.sha256)

    def _miss_reason(self, item: PlayItem) -> str:
        if isinstance(item.content, LiveContent):
            return "missed: device was busy or down for the whole live window"
        if isinstance(item.content, AudioContent) and not self._cache.has(item.content.sha256):
            return "missed: media was not in the cache before the lateness limit"
        return "missed: device was busy or down past the lateness limit"

    def _fail(self, item: PlayItem, reason: str) -> None:
        self._finish(PlayOutcome(item, OutcomeKind.FAILED, reason=reason))

    def _finish(self, outcome: PlayOutcome) -> None:
        self._mark_done(outcome.item, outcome.kind)
        self._report(outcome)

    def _mark_done(self, item: PlayItem, outcome: OutcomeKind) -> None:
        self._done.add(item.item_id)
        self._journal(item.item_id, outcome)

    def _journal(self, item_id: str, outcome: OutcomeKind) -> None:
        """Write the play journal; a failing disk is reported, the play goes on (the item is
        done in memory, so it is not played twice while the agent runs)."""
        try:
            self._store.journal_add(item_id, outcome)
        except sqlite3.Error as exc:
            log.error("play journal write failed for %s: %s", item_id, exc)
            self._on_fault("store", exc, f"journal entry for {item_id} kept in memory only")

    def _start(self, item: PlayItem) -> None:
        play = _Play(item)
        self._current = play
        self._done.add(item.item_id)  # persisted by the play thread, off the timing path
        self._play_thread = threading.Thread(
            target=self._play, args=(play,), name=f"play-{item.item_id}", daemon=True
        )
        self._play_thread.start()

    def _play(self, play: _Play) -> None:
        item = play.item
        started: list[datetime] = []
        reporters: list[threading.Timer] = []

        live = isinstance(item.content, LiveContent)

        def report_started(at: datetime) -> None:
            if not live:  # a live window is rejoined after a restart: only its end is kept
                self._journal(item.item_id, OutcomeKind.STARTED)
            self._report(PlayOutcome(item, OutcomeKind.STARTED, started_at=at))

        def on_started(at: datetime) -> None:
            # The first moments after the instant belong to the audio: the durable writes and
            # the event follow a little later (on a shared CPU they would delay neighbours).
            started.append(at)
            timer = threading.Timer(self._config.report_delay_s, report_started, args=(at,))
            timer.daemon = True
            reporters.append(timer)
            timer.start()

        try:
            self._play_through(play, reporters, on_started, started)
        except Exception as exc:  # whatever failed, the speaker must not stay on or wedged
            log.exception("play of %s failed", item.item_id)
            self._on_fault("player", exc, f"play of {item.item_id} reported failed")
            self._report(PlayOutcome(item, OutcomeKind.FAILED,
                                     reason=f"player failed: {type(exc).__name__}: {exc}"))
            self._journal(item.item_id, OutcomeKind.FAILED)
        finally:
            with self._cond:
                if self._current is play:
                    self._current = None
                self._switch_amplifier_off()
                self._cond.notify_all()

    def _switch_amplifier_off(self) -> None:
        try:
            self._hw.amplifier.set_power(False)
        except Exception as exc:
            log.exception("switching the amplifier off failed")
            self._on_fault("amplifier", exc, "the next play tries again")

    def _play_through(self, play: _Play, reporters: list[threading.Timer],
                      on_started: Callable[[datetime], None], started: list[datetime]) -> None:
        item = play.item
        if isinstance(item.content, LiveContent):
            self._play_live(play, reporters, on_started)
            return
        assert isinstance(item.content, AudioContent)
        sha = item.content.sha256
        self._hw.amplifier.set_power(True)
        delay = (item.start_at - self._clock.now()).total_seconds()
        if delay > 0 and play.cancel.wait(self._clock.real_seconds(delay)):
            # Pre-empted before its instant: it has not played, so it goes back in the queue.
            with self._cond:
                self._done.discard(item.item_id)
            return
        outcome: PlayOutcome
        try:
            result: PlayResult = self._hw.sink.play(
                self._cache.path_for(sha), item=item, cancel=play.cancel, on_started=on_started
            )
        except SinkError as exc:
            outcome = PlayOutcome(item, OutcomeKind.FAILED, reason=f"audio output failed: {exc}")
        except Exception as exc:  # the player thread must survive a faulty backend
            log.exception("sink crashed on %s", item.item_id)
            outcome = PlayOutcome(item, OutcomeKind.FAILED,
                                  reason=f"audio output crashed: {exc!r}")
        else:
            kind = OutcomeKind.COMPLETED if result.completed else OutcomeKind.INTERRUPTED
            reason = "" if result.completed else (play.reason or "stopped")
            outcome = PlayOutcome(item, kind, result.started_at, result.ended_at, reason)
        for timer in reporters:
            timer.join()  # "started" is reported (and journaled) before the outcome
        if outcome.kind is OutcomeKind.FAILED and started:
            outcome = PlayOutcome(item, OutcomeKind.INTERRUPTED, started[0], self._clock.now(),
                                  outcome.reason)
        self._report(outcome)
        self._journal(item.item_id, outcome.kind)
        try:
            self._cache.touch(sha)
        except sqlite3.Error as exc:
            log.warning("cache index update failed for %s: %s", sha[:12], exc)

    def _play_live(self, play: _Play, reporters: list[threading.Timer],
                   on_started: Callable[[datetime], None]) -> None:
        """A live window: played until it closes; interrupted while it is still open (by an
        emergency), it goes back in the queue and resumes afterwards."""
        item = play.item
        assert self._live is not None and isinstance(item.content, LiveContent)
        self._hw.amplifier.set_power(True)
        outcome = self._live(item, play.cancel, on_started)
        for timer in reporters:
            timer.join()
        if outcome.kind is OutcomeKind.INTERRUPTED and not play.reason:
            outcome = dataclasses.replace(outcome, reason="stopped")
        elif outcome.kind is OutcomeKind.INTERRUPTED:
            outcome = dataclasses.replace(outcome, reason=play.reason)
        self._report(outcome)
        if outcome.kind is OutcomeKind.INTERRUPTED and self._clock.now() < item.content.ends_at \
                and not self._stopping and item.item_id in self._scheduled:
            with self._cond:
                self._done.discard(item.item_id)
        else:
            self._journal(item.item_id, outcome.kind)
