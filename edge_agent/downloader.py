"""Fetches the media the manifest needs, most urgent first, with backoff on failure."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from edge_agent.config import CacheConfig
from edge_agent.errors import DownloadError
from edge_agent.media_cache import Fetched, MediaCache
from protocol.manifest import AudioContent, PlayItem

log = logging.getLogger(__name__)


class Downloader:
    def __init__(
        self,
        *,
        cache: MediaCache,
        config: CacheConfig,
        on_ready: Callable[[Fetched], None],
        on_failed: Callable[[AudioContent, str], None],
    ) -> None:
        self._cache = cache
        self._config = config
        self._on_ready = on_ready
        self._on_failed = on_failed
        self._cond = threading.Condition()
        self._wanted: list[AudioContent] = []
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
        """Set what must be cached: emergencies first, then by start instant."""
        ordered = sorted(items, key=lambda it: (-it.priority.rank, it.start_at))
        wanted: dict[str, AudioContent] = {}
        for item in ordered:
            if isinstance(item.content, AudioContent):
                wanted.setdefault(item.content.sha256, item.content)
        with self._cond:
            self._wanted = list(wanted.values())
            self._cond.notify_all()

    def add(self, item: PlayItem) -> None:
        """Fetch one more item's media ahead of the rest (a play-now command)."""
        if isinstance(item.content, AudioContent):
            with self._cond:
                self._wanted.insert(0, item.content)
                self._cond.notify_all()

    def _next(self) -> AudioContent | None:
        with self._cond:
            for content in self._wanted:
                if not self._cache.has(content.sha256):
                    return content
            return None

    def _run(self) -> None:
        delay = self._config.retry_min_s
        while not self._stop.is_set():
            content = self._next()
            if content is None:
                with self._cond:
                    self._cond.wait(30)
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
                self._on_failed(content, f"cache write failed: {exc}")
                self._stop.wait(delay)
                delay = min(delay * 2, self._config.retry_max_s)
                continue
            delay = self._config.retry_min_s
            self._on_ready(fetched)
