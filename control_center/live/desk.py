"""The live desk of one center process: the segmenters it runs, and the gate and watch every
process uses to serve segments to devices."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from control_center.core.live_tokens import token_matches
from control_center.errors import Forbidden, NotAuthenticated, NotFound
from control_center.live.segmenter import BITRATE, SEGMENT_S, Segmenter
from control_center.live.segments import Position, SegmentStore, StoredSegment
from control_center.models import Device, DeviceState, LiveState, LiveStream
from protocol.signing import Signer

log = logging.getLogger(__name__)

GRANT_TTL_S = 10.0
"""How long a device's admission to a stream is remembered (a revocation shows after this)."""
WATCH_INTERVAL_S = 0.02
GRANTS_KEPT = 50_000
"""Admissions remembered before the expired ones are dropped (a province's speakers)."""


@dataclass(frozen=True, slots=True)
class StreamFacts:
    """What serving a stream needs, cached briefly per process."""

    stream_id: str
    state: LiveState
    delay_ms: int
    secret: str


class _Watch:
    """The newest segment of one stream, polled once per process however many wait."""

    def __init__(self, store: SegmentStore, stream_id: str) -> None:
        self.store = store
        self.stream_id = stream_id
        self.latest: Position | None = None
        self.changed = asyncio.Event()
        self.waiters = 0
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while self.waiters > 0:
            if self.latest is None:
                latest = self.store.latest(self.stream_id)
            else:  # one file test: is the next segment of the newest run written?
                latest = self.store.after(self.stream_id, self.latest) or self.latest
            if latest != self.latest:
                self.latest = latest
                self.changed.set()
                self.changed = asyncio.Event()
                continue
            await asyncio.sleep(WATCH_INTERVAL_S)


class LiveDesk:
    def __init__(self, *, root: Path, signer: Signer, sessions: sessionmaker[Session],
                 clock: Callable[[], datetime], segment_s: float = SEGMENT_S,
                 bitrate: int = BITRATE) -> None:
        self.store = SegmentStore(root)
        self._root = root
        self._signer = signer
        self._sessions = sessions
        self._clock = clock
        self._segment_s = segment_s
        self._bitrate = bitrate
        self._lock = threading.Lock()
        self._running: dict[str, Segmenter] = {}
        self._facts: dict[str, tuple[float, StreamFacts]] = {}
        self._grants: dict[tuple[str, str], float] = {}
        self._watches: dict[str, _Watch] = {}

    # segmenters (run by the process that owns the stream) ------------------------------
    def start_run(self, stream_id: str, *, source_url: str | None,
                  segment_s: float | None = None) -> Segmenter:
        """Start a new run of ``stream_id`` (stopping one this process already runs);
        ``segment_s`` None: the desk's (0.5 s, for microphones)."""
        self.stop_run(stream_id)
        with self._lock:
            run = self.store.next_run(stream_id)
            seg = Segmenter(stream_id=stream_id, run=run, root=self._root, signer=self._signer,
                            source_url=source_url, segment_s=segment_s or self._segment_s,
                            bitrate=self._bitrate)
            seg.start()
            self._running[stream_id] = seg
        log.info("live %s: run %s started (%s)", stream_id, run, source_url or "fed")
        return seg

    def segmenter(self, stream_id: str) -> Segmenter | None:
        with self._lock:
            return self._running.get(stream_id)

    def running_ids(self) -> set[str]:
        with self._lock:
            return set(self._running)

    def stop_run(self, stream_id: str) -> None:
        with self._lock:
            seg = self._running.pop(stream_id, None)
        if seg is not None:
            seg.stop()
            log.info("live %s: run %s stopped (%d segments, %d bytes)", stream_id, seg.run,
                     seg.segments, seg.bytes_out)

    def stop_all(self) -> None:
        for stream_id in self.running_ids():
            self.stop_run(stream_id)

    # serving (any process) -------------------------------------------------------------
    def facts(self, stream_id: str) -> StreamFacts:
        now = time.monotonic()
        cached = self._facts.get(stream_id)
        if cached is not None and now - cached[0] < GRANT_TTL_S / 5:
            return cached[1]
        with self._sessions() as session:
            row = session.get(LiveStream, stream_id)
            if row is None:
                raise NotFound(f"no live stream {stream_id}")
            facts = StreamFacts(row.id, row.state, row.delay_ms, row.secret)
        self._facts[stream_id] = (now, facts)
        return facts

    def admitted(self, stream_id: str, *, device_id: str, token: str) -> StreamFacts | None:
        """``admit`` from what this process remembers, without the database (None: ask
        ``admit``); the usual case, twice a second per listening device."""
        now = time.monotonic()
        cached = self._facts.get(stream_id)
        if (cached is None or now - cached[0] >= GRANT_TTL_S / 5
                or now - self._grants.get((stream_id, device_id), -GRANT_TTL_S) >= GRANT_TTL_S
                or not token or not token_matches(cached[1].secret, device_id, token)):
            return None
        return cached[1]

    def admit(self, stream_id: str, *, device_id: str, token: str) -> StreamFacts:
        """The stream's facts if ``device_id`` holds a valid token and is an active device;
        raise NotAuthenticated or Forbidden otherwise."""
        if not device_id or not token:
            raise NotAuthenticated("a device pulls a live stream with its X-Device-Id and the "
                                   "token of its manifest item (Authorization: Bearer ...)")
        facts = self.facts(stream_id)
        if not token_matches(facts.secret, device_id, token):
            raise Forbidden("this token does not open this stream for this device")
        key = (stream_id, device_id)
        now = time.monotonic()
        if now - self._grants.get(key, -GRANT_TTL_S) >= GRANT_TTL_S:
            with self._sessions() as session:
                state = session.scalar(select(Device.state).where(Device.id == device_id))
            if state != DeviceState.ACTIVE:
                raise Forbidden(f"device {device_id} is not active")
            if len(self._grants) >= GRANTS_KEPT:  # ended sessions' devices: forget them
                self._grants = {k: t for k, t in self._grants.items() if now - t < GRANT_TTL_S}
            self._grants[key] = now
        return facts

    async def next_segment(self, stream_id: str, *, after: Position | None, delay_ms: int,
                           wait_s: float) -> StoredSegment | None:
        """The segment to send after ``after`` (None: the newest), waiting up to ``wait_s``
        for it; one too old to be played in time is skipped for the newest."""
        deadline = asyncio.get_running_loop().time() + wait_s
        watch = self._watch(stream_id)
        watch.waiters += 1
        try:
            if watch.task is None or watch.task.done():
                watch.task = asyncio.create_task(watch.run())
            while True:
                target = (self.store.latest(stream_id) if after is None
                          else self.store.after(stream_id, after))
                if target is not None:
                    stored = self.store.read(stream_id, target)
                    if stored is not None:
                        return self._fresh(stream_id, stored, delay_ms)
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    return None
                try:
                    await asyncio.wait_for(watch.changed.wait(), timeout=remaining)
                except TimeoutError:
                    return None
        finally:
            watch.waiters -= 1

    def _fresh(self, stream_id: str, stored: StoredSegment, delay_ms: int) -> StoredSegment:
        pdt = _pdt(stored.envelope)
        late = self._clock() - timedelta(milliseconds=delay_ms)
        if pdt is not None and pdt < late:
            newest = self.store.latest(stream_id)
            if newest is not None and newest != stored.position:
                fresher = self.store.read(stream_id, newest)
                if fresher is not None:
                    return fresher
        return stored

    def _watch(self, stream_id: str) -> _Watch:
        watch = self._watches.get(stream_id)
        if watch is None:
            watch = self._watches[stream_id] = _Watch(self.store, stream_id)
        return watch


def _pdt(envelope: bytes) -> datetime | None:
    try:
        body = json.loads(json.loads(envelope)["body"])
        return datetime.fromisoformat(body["pdt"])
    except (ValueError, KeyError, TypeError):
        return None
