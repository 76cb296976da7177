"""Content-addressed media cache: resumable download, verification, atomic rename, LRU.

A file is only ever visible under its final name after its SHA-256 was verified, so the
player can never open a partial or corrupt file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

import httpx

from edge_agent.config import CacheConfig
from edge_agent.errors import DownloadError
from edge_agent.resumable import FetchFailed, Transfer, fetch_verified
from edge_agent.store import LocalStore
from protocol.manifest import AudioContent

log = logging.getLogger(__name__)


class Remote(Protocol):
    """A content-addressed file to download: audio content, or a training bundle."""

    @property
    def sha256(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def size(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Fetched:
    sha256: str
    size: int
    resumed_from: int


class MediaCache:
    def __init__(self, root: Path, store: LocalStore, config: CacheConfig) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._store = store
        self._config = config
        self._http = httpx.Client(timeout=config.http_timeout_s, follow_redirects=True)

    def close(self) -> None:
        self._http.close()

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256

    def has(self, sha256: str) -> bool:
        return self._store.media_has(sha256) and self.path_for(sha256).exists()

    def size(self) -> int:
        return sum(size for _, size in self._store.media_by_age())

    def touch(self, sha256: str) -> None:
        self._store.media_touch(sha256)

    def fetch(self, content: Remote | AudioContent, cancel: threading.Event) -> Fetched:
        """Download (resuming a partial file), verify size and SHA-256, rename into place."""
        final = self.path_for(content.sha256)
        transfer = Transfer(self._config.chunk_bytes, self._config.rate_limit_bps, cancel)
        try:
            resumed_from = fetch_verified(self._http, content.url, final, size=content.size,
                                          sha256=content.sha256, transfer=transfer)
        except FetchFailed as exc:
            raise DownloadError(f"{content.sha256[:12]}: {exc}") from exc
        self._fsync_dir()
        self._store.media_add(content.sha256, content.size)
        return Fetched(content.sha256, content.size, resumed_from)

    def _fsync_dir(self) -> None:
        fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def evict(self, need: Mapping[str, datetime], *, max_bytes: int | None = None,
              needed_after: datetime | None = None) -> list[str]:
        """Remove files until the cache holds at most ``max_bytes`` (default: the cap).

        ``need`` maps each file still to be played to the first instant it is needed. Files
        no item needs go first, least recently used first. With ``needed_after`` (the disk is
        full and a file needed at that instant must fit), files needed later than it go too,
        the farthest need first. Returns the hashes removed.
        """
        cap = self._config.max_bytes if max_bytes is None else max_bytes
        entries = self._store.media_by_age()
        total = sum(size for _, size in entries)
        unneeded = [(sha, size) for sha, size in entries if sha not in need]
        needed = sorted(((sha, size) for sha, size in entries if sha in need
                         and needed_after is not None and need[sha] > needed_after),
                        key=lambda e: need[e[0]], reverse=True)
        evicted: list[str] = []
        for sha, size in [*unneeded, *needed]:
            if total <= cap:
                break
            self.path_for(sha).unlink(missing_ok=True)
            self._store.media_remove(sha)
            total -= size
            evicted.append(sha)
        if evicted:
            log.info("cache: evicted %d file(s) to stay under %d bytes", len(evicted), cap)
        return evicted

    def reindex(self) -> int:
        """Re-register verified files found in the cache directory but not in the index (after
        a fresh store replaced a corrupt one); a file whose content does not match its name is
        deleted. Returns how many files were registered."""
        known = self._store.media_all()
        found = 0
        for path in self.root.iterdir():
            name = path.name
            if len(name) != 64 or name in known or not path.is_file():
                continue
            digest = hashlib.sha256()
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            if digest.hexdigest() == name:
                self._store.media_add(name, path.stat().st_size)
                found += 1
            else:
                path.unlink(missing_ok=True)
        return found
