"""Fetches the media the manifest needs, most urgent first, with backoff on failure."""

from __future__ import annotations

import errno
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable

from edge_agent.config import CacheConfig
from edge_agent.errors import DownloadError
from edge_agent.media_cache import Fetched, MediaCache
from edge_agent.supervision import FaultSink, Heartbeats, supervise
from protocol.live import LiveContent
from protocol.manifest import AudioContent, PlayItem

log = logging.getLogger(__name__)
FETCH_MARGIN_S = 20.0  # media due within this is fetched at once


def media_of(item: PlayItem) -> AudioContent | None:
    """The file an item needs in the cache: its audio, or a live item's filler."""
    if isinstance(item.content, AudioContent):
        return item.content
    if isinstance(item.content, LiveContent) and item.content.filler is not None:
        f = item.content.filler
        return AudioContent(sha256=f.sha256, url=f.url, size=f.size, duration_ms=f.duration_ms)
    return None


class Downloader:
    def __init__(
        self,
        *,
        cache: MediaCache,
        config: CacheConfig,
        on_ready: Callable[[Fetched], None],
        on_failed: Callable[[AudioContent, str], None],
        heartbeats: Heartbeats | None = None,
        on_fault: FaultSink | None = None,
        make_room: Callable[[AudioContent], None] | None = None,
    ) -> None:
        self._make_room = make_room
        self._heartbeats = heartbeats or Heartbeats()
        self._on_fault: FaultSink = on_fault or (lambda component, exc, recovery: None)
        self._cache = cache
        self._config = config
        self._on_ready = on_ready
        self._on_failed = on_failed
        self._cond = threading.Condition()
        self._wanted: list[AudioContent] = []
        self._not_before: dict[str, float] = {}
        self._random = random.Random()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="downloader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def want(self, items: Iterable[PlayItem]) -> None:
        """Set what must be cached: emergencies first, then by start instant.

        Media not needed soon is fetched after a random delay (at most `fetch_jitter_s`, and
        at most a quarter of the time left before a safety margin), so a province-wide
        schedule does not make thousands of devices hit the center in the same second.
        """
        ordered = sorted(items, key=lambda it: (-it.priority.rank, it.start_at))
        wanted: dict[str, AudioContent] = {}
        not_before: dict[str, float] = {}
        now = time.time()
        for item in ordered:
            media = media_of(item)
            if media is not None and media.sha256 not in wanted:
                wanted[media.sha256] = media
                slack = item.start_at.timestamp() - now - FETCH_MARGIN_S
                jitter = min(self._config.fetch_jitter_s, max(0.0, slack / 4))
                not_before[media.sha256] = now + self._random.uniform(0, jitter)
        with self._cond:
            self._wanted = list(wanted.values())
            self._not_before = not_before
            self._cond.notify_all()

    def add(self, item: PlayItem) -> None:
        """Fetch one more item's media ahead of the rest (a play-now command)."""
        media = media_of(item)
        if media is not None:
            with self._cond:
                self._wanted.insert(0, media)
                self._not_before.pop(media.sha256, None)
                self._cond.notify_all()

    def _next(self) -> tuple[AudioContent | None, float]:
        """The next content to fetch now, or None and how long to wait."""
        now = time.time()
        wait = 30.0
        with self._cond:
            for content in self._wanted:
                if self._cache.has(content.sha256):
                    continue
                at = self._not_before.get(content.sha256, 0.0)
                if at <= now:
                    return content, 0.0
                wait = min(wait, at - now)
            return None, wait

    def _run(self) -> None:
        supervise("downloader", self._loop, stopped=self._stop.is_set, wait=self._stop.wait,
                  on_fault=self._on_fault)

    def _loop(self) -> None:
        delay = self._config.retry_min_s
        while not self._stop.is_set():
            self._heartbeats.beat("downloader")
            content, wait = self._next()
            if content is None:
                with self._cond:
                    self._cond.wait(wait)
                continue
            try:
                fetched = self._cache.fetch(content, self._stop)
            except DownloadError as exc:
                if self._stop.is_set():
                    return
                log.warning("%s; retrying in %.0f s", exc, delay)
                self._on_failed(content, str(exc))
                self._stop.wait(delay)
                delay = min(delay * 2, self._config.retry_max_s)
                continue
            except OSError as exc:
                log.error("cache write failed for %s: %s", content.sha256[:12], exc)
                if exc.errno == errno.ENOSPC and self._make_room is not None:
                    self._make_room(content)
                self._on_failed(content, f"cache write failed: {exc}")
                self._stop.wait(delay)
                delay = min(delay * 2, self._config.retry_max_s)
                continue
            delay = self._config.retry_min_s
            self._on_ready(fetched)
