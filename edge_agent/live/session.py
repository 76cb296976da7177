"""One live item played for its window: fetch, verify, decode, and play by the clock.

Every sample is played at the center-time instant its segment's ``EXT-X-PROGRAM-DATE-TIME``
gives plus the item's fixed delay, through the agent's measured clock: speakers that share a
stream play the same sample at the same instant, whenever each joined. When no segment comes
for ``gone_after_s`` the source is reported lost and the filler (or silence) plays until
segments come again; a dropped link is retried with backoff until the window ends.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from edge_agent.clock import Clock
from edge_agent.errors import SinkError
from edge_agent.hardware import PcmSink
from edge_agent.live.decoder import (
    BYTES_PER_SAMPLE,
    SAMPLE_RATE,
    Decoder,
    UndecodableSegment,
    decode_file,
)
from edge_agent.live.fetcher import LiveRefused, SegmentFetcher, StreamEnded
from protocol.events import LiveSourceState
from protocol.live import LiveContent, LiveSegment

log = logging.getLogger(__name__)

WAIT_S = 2.0
"""The longest one request waits for the next segment (segments come every half second while
the source plays; this bounds how long a stop waits for the request in flight)."""
LATE_S = 0.05
"""PCM due longer ago than this is dropped (the speakers stay in step; it is not played late)."""
BACKOFF_S = (0.5, 1.0, 2.0, 4.0)
FILLER_CHUNK_S = 0.1


@dataclass(frozen=True, slots=True)
class LiveResult:
    started_at: datetime | None
    ended_at: datetime
    completed: bool  # the window ended, or the center ended the stream
    heard_ms: int


class LivePlay:
    def __init__(self, *, content: LiveContent, fetcher: SegmentFetcher, sink: PcmSink,
                 clock: Clock, cancel: threading.Event,
                 on_started: Callable[[datetime], None],
                 on_source: Callable[[LiveSourceState, str], None],
                 filler: Path | None = None,
                 wait_s: float = WAIT_S) -> None:
        self._content = content
        self._fetcher = fetcher
        self._sink = sink
        self._clock = clock
        self._cancel = cancel
        self._on_started = on_started
        self._on_source = on_source
        self._filler = filler
        self._wait_s = wait_s
        self._delay = timedelta(milliseconds=content.delay_ms)
        self._write_lock = threading.Lock()
        self._started: datetime | None = None
        self._heard_samples = 0
        self._queue: queue.Queue[tuple[datetime, bytes] | None] = queue.Queue()
        self._filler_stop: threading.Event | None = None
        self._filler_thread: threading.Thread | None = None
        self.refused = 0
        self.output_errors = 0

    def run(self) -> LiveResult:
        decoders: dict[str, Decoder] = {}  # by run (its init segment's hash)
        position: tuple[int, int] | None = None
        last_heard = time.monotonic()
        lost = False
        failures = 0
        playout = threading.Thread(target=self._playout, name="live-playout", daemon=True)
        playout.start()
        try:
            while not self._cancel.is_set():
                left = (self._content.ends_at - self._clock.now()).total_seconds()
                if left <= 0:
                    break
                try:
                    segment = self._fetcher.next(position, min(self._wait_s, max(0.5, left)))
                    failures = 0
                except StreamEnded:
                    break
                except (httpx.HTTPError, LiveRefused) as exc:
                    if isinstance(exc, LiveRefused):
                        self.refused += 1
                    log.warning("live %s: %s", self._content.stream_id[:8], exc)
                    segment = None
                    self._cancel.wait(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
                    failures += 1
                if segment is None:
                    if not lost and time.monotonic() - last_heard >= self._content.gone_after_s:
                        lost = True
                        self._source(LiveSourceState.LOST, "no audio from the center for "
                                     f"{self._content.gone_after_s} s")
                        self._start_filler()
                    continue
                last_heard = time.monotonic()
                if lost:
                    lost = False
                    self._stop_filler()
                    self._source(LiveSourceState.BACK, "")
                d = segment.descriptor
                position = (d.run, d.seq)
                self._decode(decoders, d, segment.data)
        finally:
            self._queue.put(None)
            playout.join(timeout=self._delay.total_seconds() + 5)
            self._stop_filler()
            self._sink.close()
        return LiveResult(self._started, self._clock.now(), not self._cancel.is_set(),
                          self._heard_samples * 1000 // SAMPLE_RATE)

    def _source(self, state: LiveSourceState, reason: str) -> None:
        try:
            self._on_source(state, reason)
        except Exception:  # a report that fails must not stop the audio
            log.exception("live %s: source %s not reported", self._content.stream_id[:8],
                          state.value)

    def _decode(self, decoders: dict[str, Decoder], d: LiveSegment, data: bytes) -> None:
        """Decode a verified segment and queue its samples at their instant."""
        try:
            decoder = decoders.get(d.init_sha256)
            if decoder is None:
                decoders.clear()  # a new run: the old run's decoder is done
                decoder = decoders[d.init_sha256] = Decoder(self._fetcher.init(d.init_sha256))
            block = decoder.decode(data)
        except (httpx.HTTPError, LiveRefused, UndecodableSegment) as exc:
            log.warning("live %s: segment %s:%s not played: %s", self._content.stream_id[:8],
                        d.run, d.seq, exc)
            return
        if block is not None:
            at = d.pdt + self._delay + timedelta(seconds=block.offset / SAMPLE_RATE)
            self._queue.put((at, block.pcm))

    def _playout(self) -> None:
        """Hands the queued samples to the sink, each at its instant (until the sentinel)."""
        while (entry := self._queue.get()) is not None:
            try:
                if self._write(entry[1], entry[0]):
                    self._heard_samples += len(entry[1]) // BYTES_PER_SAMPLE
            except SinkError as exc:  # the next block opens the output again
                log.error("live %s: audio output failed: %s", self._content.stream_id[:8], exc)
                self.output_errors += 1

    def _write(self, pcm: bytes, at: datetime) -> bool:
        """Hand samples due at ``at`` to the sink; False when dropped (late or cancelled)."""
        if self._cancel.is_set():
            return False
        room = (self._content.ends_at - at).total_seconds()  # the window's end stops it
        if room <= 0:
            return False
        pcm = pcm[:int(room * SAMPLE_RATE) * BYTES_PER_SAMPLE]
        span = timedelta(seconds=len(pcm) / BYTES_PER_SAMPLE / SAMPLE_RATE)
        if at + span < self._clock.now() - timedelta(seconds=LATE_S):
            return False
        with self._write_lock:
            started = self._sink.write(pcm, at=at, cancel=self._cancel)
        if started is None:
            return False
        if self._started is None:
            self._started = started
            self._on_started(started)
        return True

    # filler ----------------------------------------------------------------------------
    def _start_filler(self) -> None:
        stop = threading.Event()
        self._filler_stop = stop
        if self._filler is None:
            return  # silence
        self._filler_thread = threading.Thread(target=self._play_filler, args=(stop,),
                                               name="live-filler", daemon=True)
        self._filler_thread.start()

    def _stop_filler(self) -> None:
        if self._filler_stop is not None:
            self._filler_stop.set()
        if self._filler_thread is not None:
            self._filler_thread.join(timeout=2)
        self._filler_stop = self._filler_thread = None

    def _play_filler(self, stop: threading.Event) -> None:
        assert self._filler is not None
        try:
            pcm = decode_file(self._filler)
        except UndecodableSegment as exc:
            log.error("live %s: filler not played: %s", self._content.stream_id[:8], exc)
            return
        step = int(FILLER_CHUNK_S * SAMPLE_RATE) * BYTES_PER_SAMPLE
        if not pcm:
            return
        at = self._clock.now() + timedelta(seconds=FILLER_CHUNK_S)
        offset = 0
        while not stop.is_set() and not self._cancel.is_set():
            chunk = pcm[offset:offset + step]
            offset = (offset + step) % len(pcm)
            with self._write_lock:
                if self._sink.write(chunk, at=at, cancel=stop) is None:
                    return
            at += timedelta(seconds=len(chunk) / BYTES_PER_SAMPLE / SAMPLE_RATE)
